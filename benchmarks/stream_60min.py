"""The 60-minute must-show: synthetic spoken digits with silence and noise, streamed end to end.

    .venv/bin/python -m benchmarks.stream_60min --minutes 60 --out runs/stream60

1. builds (once, cached) a WAV of concatenated espeak-ng digits (training/data/synth.py)
   with random pauses, level jitter and background noise, plus ``onsets.csv`` with the
   known word onsets and classes; written block by block, never held in memory;
2. takes a model file (``--model``; default: a randomly initialised network whose input
   matches the front end, written to the output folder) and runs ``axon stream`` on it
   (in-process, same code path);
3. matches detections to the known onsets (a detection is a hit when its onset lies
   within ``--tolerance`` seconds of a word's onset, one-to-one, greedy in time) and
   reports precision, recall, class accuracy of the hits, real-time factor and peak RSS.

Prints one JSON object and writes ``must_show.json`` / ``must_show.md`` in ``--out``.
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from bridge.runfiles import write_json, write_text


# --------------------------------------------------------------------------- a network to develop against


def random_audio_network(frontend_config=None, hidden=(128, 128), n_classes: int = 20, seed: int = 0,
                         lateral: bool = True, max_delay_s: float = 0.05, class_names=None):
    """A randomly initialised network whose input matches the front end (for development).

    ``n_inputs = frontend.n_channels`` -> LIF layers ``hidden`` (tau 20 ms, threshold 1,
    subtract reset, weights scaled so that speech drives a few tens of Hz) -> leaky
    readout of ``n_classes`` (tau 50 ms). Delays uniform in ``[0, max_delay_s]``. With
    ``lateral``, each hidden layer gets ``Omega = W W^T`` scaled down (send-on-delta form,
    positive diagonal so cascades settle). ``metadata`` carries the front end, ``dt_s``
    and the class names, as a trained model's would.
    """
    from sim import Lateral, LIFLayer, Network, Projection, ReadoutLayer
    from sim.audio.frontend import FrontEndConfig

    fe = frontend_config or FrontEndConfig()
    rng = np.random.default_rng(seed)
    layers, projs, lats = [], [], []
    prev, n_prev = "input", fe.n_channels
    gain = 3.0
    for k, n in enumerate(hidden):
        name = f"h{k}"
        layers.append(LIFLayer(name, n, 0.02, threshold=1.0, reset="subtract"))
        w = rng.normal(0.15, 1.0, size=(n, n_prev)) * (gain if k == 0 else 1.0) / np.sqrt(n_prev)
        d = rng.uniform(0.0, max_delay_s, size=w.shape)
        projs.append(Projection.dense(prev, name, w, d))
        if lateral:
            om = 0.1 * (w @ w.T) / np.mean(np.diag(w @ w.T))
            lats.append(Lateral.dense(name, om))
        prev, n_prev = name, n
    w = rng.normal(0.0, 1.0, size=(n_classes, n_prev)) / np.sqrt(n_prev)
    projs.append(Projection.dense(prev, "out", w, rng.uniform(0.0, max_delay_s, size=w.shape)))
    names = list(class_names) if class_names is not None else _class_names(n_classes)
    meta = {"frontend": fe.to_dict(), "dt_s": 0.01, "class_names": names,
            "note": f"randomly initialised (seed {seed}) for development; not trained"}
    return Network(fe.n_channels, layers, projs, lats, ReadoutLayer("out", n_classes, 0.05), metadata=meta)


def _class_names(n):
    try:
        from training.data.synth import CLASS_NAMES
        if len(CLASS_NAMES) == n:
            return list(CLASS_NAMES)
    except Exception:  # training not importable: plain numbers
        pass
    return [str(i) for i in range(n)]


# --------------------------------------------------------------------------- the synthetic stream


def build_stream(path: Path, minutes: float, seed: int = 0, **kw):
    """The synthetic stream (:func:`training.data.speech.write_speech_stream`)."""
    from training.data.speech import write_speech_stream
    return write_speech_stream(path, minutes, seed=seed, **kw)


# --------------------------------------------------------------------------- scoring


def match_detections(det_onsets, det_classes, true_onsets, true_classes, tolerance_s: float = 0.25) -> dict:
    """One-to-one matching of detections to known onsets within ``tolerance_s``.

    Greedy in order of time difference (smallest first); each detection and each known
    onset is used at most once. Returns counts, precision, recall, F1, the class accuracy
    among hits, and the onset errors of the hits (mean, median, 95th percentile).
    """
    det = np.asarray(det_onsets, float)
    tru = np.asarray(true_onsets, float)
    pairs = []
    for i, t in enumerate(det):
        lo = np.searchsorted(tru, t - tolerance_s, side="left")
        hi = np.searchsorted(tru, t + tolerance_s, side="right")
        for j in range(lo, hi):
            pairs.append((abs(tru[j] - t), i, j))
    pairs.sort()
    used_d, used_t, hits = set(), set(), []
    for dt, i, j in pairs:
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
        hits.append((i, j, det[i] - tru[j]))
    tp = len(hits)
    prec = tp / len(det) if len(det) else 0.0
    rec = tp / len(tru) if len(tru) else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    correct = sum(1 for i, j, _ in hits if int(det_classes[i]) == int(true_classes[j]))
    err = np.array([e for _, _, e in hits])
    return {"tolerance_s": tolerance_s, "n_detections": int(len(det)), "n_words": int(len(tru)), "hits": tp,
            "precision": prec, "recall": rec, "f1": f1,
            "class_accuracy_of_hits": correct / tp if tp else 0.0,
            "recall_with_correct_class": correct / len(tru) if len(tru) else 0.0,
            "onset_error_s": {"mean": float(err.mean()) if tp else None,
                              "median": float(np.median(err)) if tp else None,
                              "p95_abs": float(np.percentile(np.abs(err), 95)) if tp else None}}


def read_csv_columns(path, cols):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [np.array([float(r[c]) for r in rows]) for c in cols]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", default="runs/stream60")
    ap.add_argument("--audio", default=None, help="use this WAV (with AUDIO.onsets.csv) instead of building one")
    ap.add_argument("--model", default=None, help="model file (default: random network written to OUT)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tolerance", type=float, default=0.25, help="onset matching tolerance, s")
    ap.add_argument("--block", type=float, default=1.0, help="audio block, s")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    from bridge.streamfiles import stream_to_folder
    from sim.audio.stream import StreamConfig
    from sim.model.io import load_network, save_network

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.audio:
        audio = Path(args.audio)
        onsets = audio.with_suffix(".onsets.csv")
    else:
        audio = out / f"synth_{args.minutes:g}min_seed{args.seed}.wav"
        onsets = audio.with_suffix(".onsets.csv")
        if not (audio.exists() and onsets.exists()):
            t = time.time()
            build_stream(audio, args.minutes, seed=args.seed, progress=not args.quiet)
            if not args.quiet:
                print(f"built {audio} in {time.time() - t:.1f} s", file=sys.stderr)
    if args.build_only:
        return 0
    if args.model:
        model_path = Path(args.model)
    else:
        model_path = out / "random_model.h5"
        save_network(model_path, random_audio_network(seed=args.seed))
    net = load_network(model_path)
    run_dir = out / "stream"
    rss0 = peak_rss_mib()

    def progress(done, total, wall):
        if not args.quiet:
            print(f"\r{done:8.1f} / {total:.1f} s audio, RTF {wall / max(done, 1e-9):.4f}", end="", file=sys.stderr)

    t = time.time()
    summary = stream_to_folder(net, audio, run_dir, StreamConfig(block_s=args.block), progress=progress)
    wall = time.time() - t
    if not args.quiet:
        print(file=sys.stderr)
    d_on, d_cls = read_csv_columns(run_dir / "detections.csv", ["onset_s", "class"])
    t_on, t_cls = read_csv_columns(onsets, ["onset_s", "class"])
    scores = match_detections(d_on, d_cls, t_on, t_cls, args.tolerance)
    result = {
        "audio": str(audio), "audio_s": summary["audio_processed_s"], "model": str(model_path),
        "model_note": net.metadata.get("note", "trained model"),
        "wall_s_stream": summary["wall_s"], "wall_s_total": wall,
        "real_time_factor": summary["real_time_factor"],
        "peak_rss_mib": peak_rss_mib(), "peak_rss_mib_before_stream": rss0,
        "detection": scores,
        "layer_rate_hz": {k: v["mean_hz"] for k, v in summary["metrics"]["rates"].items()},
        "energy_per_audio_second_j": summary["energy_per_audio_second_j"],
        "command": " ".join(["python -m benchmarks.stream_60min"] + (argv if argv is not None else sys.argv[1:])),
    }
    write_json(out / "must_show.json", result)
    md = [f"# 60-minute stream: {result['audio_s'] / 60:.1f} min of synthetic digits", "",
          f"- model: `{model_path}` ({result['model_note']})",
          f"- real-time factor: {result['real_time_factor']:.4f} (wall {result['wall_s_stream']:.0f} s)",
          f"- peak RSS: {result['peak_rss_mib']:.0f} MiB",
          f"- detection (onset within {args.tolerance} s): precision {scores['precision']:.3f}, "
          f"recall {scores['recall']:.3f}, F1 {scores['f1']:.3f} ({scores['hits']} hits, "
          f"{scores['n_detections']} detections, {scores['n_words']} words)",
          f"- class accuracy among hits: {scores['class_accuracy_of_hits']:.3f} (chance 0.05)",
          f"- command: `{result['command']}`", ""]
    write_text(out / "must_show.md", "\n".join(md))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
