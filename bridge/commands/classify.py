"""``axon classify MODEL.h5 FILES_OR_FOLDER... --out predictions.csv``: isolated utterances."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

HELP = "classify isolated utterances (sound files or folders of them) with a model on the exact engine"

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5)")
    parser.add_argument("inputs", nargs="+", help="sound files and/or folders (searched recursively)")
    parser.add_argument("--out", default="predictions.csv", help="CSV to write (default predictions.csv); "
                        "a .json and .md summary and a .png histogram are written beside it")
    parser.add_argument("--frame", type=float, default=None, metavar="S",
                        help="readout sampling, s (default: the model's training step)")
    parser.add_argument("--scores", default=None, metavar="FILE",
                        help="also write every class's score per file: FILE.csv (one column per class) or FILE.json")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    from bridge.parallel import add_backend_arguments
    add_backend_arguments(parser)


def _collect(inputs) -> list[Path]:
    files = []
    for x in inputs:
        p = Path(x)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES and q.is_file())
            if not found:
                raise ValueError(f"{p}: folder holds no sound files ({', '.join(AUDIO_SUFFIXES)})")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files


def _read_audio(f: Path):
    """The whole file as mono float64 (AudioSource: truncation and corruption are errors)."""
    import numpy as np

    from sim.errors import AudioError
    from sim.audio.source import AudioSource

    src = AudioSource(f)
    try:
        blocks = list(src.blocks(1 << 16))
    finally:
        src.close()
    if not blocks or sum(b.shape[0] for b in blocks) == 0:
        raise AudioError(f"{f}: holds no audio samples (empty file): nothing to classify")
    return np.concatenate(blocks), src.sample_rate_hz, src.channels


def _check_scores_path(path):
    if path is not None and Path(path).suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"--scores {path}: name a .csv or .json file")


def _write_scores(path: Path, rows, names, rule: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps({"decision_rule": rule, "class_names": names,
                                    "files": [{"path": r["path"], "scores": r["_scores"]} for r in rows]}, indent=1))
        return
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path"] + [f"score_{c}" for c in names])
        for r in rows:
            w.writerow([r["path"]] + [f"{v:.9g}" for v in r["_scores"]])


def run(args) -> int:
    import numpy as np

    from sim.errors import InputError
    from sim.model.io import load_network
    from sim.model.task import decision_rule_of

    if not Path(args.model).exists():
        raise FileNotFoundError(f"{args.model}: no such model file")
    if args.frame is not None and not (np.isfinite(args.frame) and args.frame > 0):
        raise ValueError(f"--frame must be a finite number of seconds > 0, got {args.frame:g}")
    _check_scores_path(args.scores)
    net = load_network(args.model)
    names = net.class_names
    rule = decision_rule_of(net)
    files = _collect(args.inputs)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from bridge.batch import classify_file, warm_classify
    from bridge.parallel import ProgressLine, backend_from_args, run_jobs

    backend = backend_from_args(args)
    jobs = [str(f.resolve()) if backend.dask else str(f) for f in files]   # workers elsewhere need absolute paths
    ctx = {"network": net, "frame_s": args.frame, "names": names}
    t0 = time.perf_counter()
    timing = {}
    outcomes = run_jobs(classify_file, ctx, jobs, [str(f) for f in files], backend, warm=warm_classify,
                        progress=ProgressLine("files", args.quiet, "axon classify"), timing=timing)
    wall = time.perf_counter() - t0
    rows = []
    for f, o in zip(files, outcomes):
        if o.ok:
            rows.append(dict(o.value, path=str(f)))   # the path as the user gave it
    failed = [{"path": o.label, "error": o.error} for o in outcomes if not o.ok]
    if not rows:   # nothing to keep: no output files, just the error
        if len(failed) == 1:
            raise InputError(failed[0]["error"] if failed[0]["path"] in failed[0]["error"]
                             else f"{failed[0]['path']}: {failed[0]['error']}")
        raise InputError(f"all {len(failed)} files failed (first: {failed[0]['path']}: {failed[0]['error']})")
    labelled = sum(1 for r in rows if r["true_label"])
    correct = sum(1 for r in rows if r["true_label"] and r["true_label"] == r["label"])
    if args.scores:
        _write_scores(Path(args.scores), rows, names, rule)
    rows = [{k: v for k, v in r.items() if k != "_scores"} for r in rows]
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) if rows else ["path"])
        w.writeheader()
        w.writerows(rows)
    counts = {k: 0 for k in names}
    for r in rows:
        counts[r["label"]] += 1
    summary = {"model": str(args.model), "n_files": len(rows), "predictions": str(out),
               "decision_rule": rule,
               "decision": f"argmax over classes of the model's decision rule ({rule}) over the readout sampled "
                           "every frame; front end and exact engine from silence over the whole file",
               "class_names": names, "scores": str(args.scores) if args.scores else None,
               "predicted_per_class": counts, "n_labelled": labelled,
               "accuracy": correct / labelled if labelled else None,
               "mixed_down_files": sum(1 for r in rows if r["mixed_down"]),
               "backend": backend.describe(), "wall_s": round(wall, 3), "warm_s": round(timing["warm_s"], 3),
               "jobs_s": round(timing["jobs_s"], 3),
               "files_per_s": round(len(files) / timing["jobs_s"], 3) if timing["jobs_s"] > 0 else None,
               "cpu_s_per_file": round(sum(o.cpu_s for o in outcomes) / max(len(outcomes), 1), 4),
               "failed": failed}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    md = [f"# Predictions of `{args.model}`", "", f"- files: {len(rows)} (`{out}`)",
          f"- rule: {summary['decision']}",
          f"- multichannel files mixed down to mono by averaging: {summary['mixed_down_files']}",
          f"- run on {summary['backend']}: {wall:.1f} s wall: {timing['warm_s']:.1f} s making compiled code warm, "
          f"then {summary['files_per_s']} files/s"]
    if failed:
        md.append(f"- **{len(failed)} files failed**: " + "; ".join(f"`{x['path']}`: {x['error']}" for x in failed))
    if labelled:
        md.append(f"- accuracy on {labelled} files whose folder names a class: {summary['accuracy']:.3f}")
    md += ["", f"![class histogram]({out.with_suffix('.png').name})", "",
           "*Number of files predicted as each class.*", ""]
    out.with_suffix(".md").write_text("\n".join(md))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(names)), 3.5))
    ax.bar(np.arange(len(names)), [counts[k] for k in names], color="0.3")
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names, rotation=60, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("files")
    ax.set_title(f"Predicted classes of {len(rows)} files")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)
    print(f"{len(rows)} files classified -> {out}" + (f"; accuracy {summary['accuracy']:.3f} on {labelled} labelled"
                                                      if labelled else ""))
    if failed:
        raise InputError(f"{len(failed)} of {len(files)} files failed ({', '.join(x['path'] for x in failed[:3])}"
                         f"{', ...' if len(failed) > 3 else ''}); the others are in {out}, the failures in "
                         f"{out.with_suffix('.json')}")
    return 0


def classify_one(ctx: dict, path: str) -> dict:
    """One isolated utterance -> one CSV row (with ``_scores``): the job of :func:`run`."""
    from sim.audio.classify import classify_audio

    f = Path(path)
    x, sr, channels = _read_audio(f)
    try:
        r = classify_audio(ctx["network"], x, sr, frame_s=ctx.get("frame_s"))
    except ValueError as e:
        msg = str(e).replace("frame_s (readout sampling period)", "--frame").replace("frame_s=", "--frame ")
        raise ValueError(f"{f}: {msg}") from None
    names = ctx["names"]
    true = f.parent.name if f.parent.name in names else ""
    return {"path": str(f), "class": r["class"], "label": r["label"], "score": round(r["score"], 6),
            "true_label": true, "duration_s": round(r["duration_s"], 4), "sample_rate_hz": sr,
            "channels": channels, "mixed_down": channels > 1, "input_events": r["n_input_events"],
            "spikes": r["spikes"], "_scores": r["scores"]}
