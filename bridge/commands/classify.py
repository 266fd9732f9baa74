"""``axon classify MODEL.h5 FILES_OR_FOLDER... --out predictions.csv``: isolated utterances."""
from __future__ import annotations

import csv
import json
import sys
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
    parser.add_argument("--quiet", action="store_true")


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


def run(args) -> int:
    import numpy as np
    import soundfile as sf

    from sim.io import load_network
    from sim.stream import class_names_of, classify_audio

    if not Path(args.model).exists():
        raise FileNotFoundError(f"{args.model}: no such model file")
    net = load_network(args.model)
    names = class_names_of(net)
    files = _collect(args.inputs)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, correct, labelled = [], 0, 0
    for n, f in enumerate(files):
        try:
            x, sr = sf.read(str(f), dtype="float64", always_2d=True)
        except Exception as e:
            raise ValueError(f"{f}: not a readable audio file ({e})") from None
        mix = x.shape[1] > 1
        r = classify_audio(net, x.mean(axis=1) if mix else x[:, 0], sr, frame_s=args.frame)
        true = f.parent.name if f.parent.name in names else ""
        if true:
            labelled += 1
            correct += int(true == r["label"])
        rows.append({"path": str(f), "class": r["class"], "label": r["label"], "score": round(r["score"], 6),
                     "true_label": true, "duration_s": round(r["duration_s"], 4), "sample_rate_hz": sr,
                     "channels": x.shape[1], "mixed_down": mix, "input_events": r["n_input_events"],
                     "spikes": r["spikes"]})
        if not args.quiet:
            print(f"\r{n + 1}/{len(files)} files", end="", file=sys.stderr, flush=True)
    if not args.quiet:
        print(file=sys.stderr)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) if rows else ["path"])
        w.writeheader()
        w.writerows(rows)
    counts = {k: 0 for k in names}
    for r in rows:
        counts[r["label"]] += 1
    summary = {"model": str(args.model), "n_files": len(rows), "predictions": str(out),
               "decision_rule": "argmax over classes of the mean over readout samples (every frame) of softmax(V), "
                                "front end and exact engine from silence over the whole file",
               "predicted_per_class": counts, "n_labelled": labelled,
               "accuracy": correct / labelled if labelled else None,
               "mixed_down_files": sum(1 for r in rows if r["mixed_down"])}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    md = [f"# Predictions of `{args.model}`", "", f"- files: {len(rows)} (`{out}`)",
          f"- rule: {summary['decision_rule']}",
          f"- multichannel files mixed down to mono by averaging: {summary['mixed_down_files']}"]
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
    return 0
