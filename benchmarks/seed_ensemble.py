"""How much of a recipe's error is the variance of one training run: several checkpoints
(seeds of one recipe), each on its own and their averaged answer.

    python -m benchmarks.seed_ensemble --checkpoints runs/a/best.pt runs/b/best.pt runs/c/best.pt \\
        --data data/digits_robust_m4/synth_test_family.h5 data/digits_robust_m4/synth_test_family_babble_10db.h5 \\
        --out runs/seed_ensemble

For each data file (an SHD-format file of ``axon data``; its condition is named from its
attributes, as ``axon evaluate`` does), every checkpoint's class distribution (the mean over
time of the readout's softmax, the training forward pass with rounded delays: ``axon
evaluate --engines torch``) and the accuracy of each, of their mean, and of the ensemble:
the argmax of the mean distribution -- the answer ``train.distill`` teaches from the same
checkpoints. The ensemble is not one network of the recipe's size; the figure says how far
averaging seeds goes on that data. Checkpoints must share inputs, classes, time grid and
front end, and the files must be encoded by that front end (one line says what differs).
Writes ``seed_ensemble.json`` and ``seed_ensemble.md`` to ``--out`` and prints the Markdown.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bridge.runfiles import write_results


def run(checkpoints: list[str], files: list[str], num_threads: int = 1, progress=print) -> dict:
    import torch

    from bridge.commands.evaluate import condition_name
    from sim.audio.frontend import frontend_differences
    from training.binning import bin_dataset
    from training.data.shd import load_shd
    from training.train import class_distributions, load_model

    torch.set_num_threads(num_threads)
    if len(checkpoints) < 2:
        raise ValueError(f"--checkpoints: an ensemble needs two or more, got {len(checkpoints)}")
    if not Path(checkpoints[0]).is_file():
        raise FileNotFoundError(f"--checkpoints: {checkpoints[0]} does not exist")
    ref = load_model(checkpoints[0])
    sets = []  # every file binned first, so each checkpoint is loaded once for all of them
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"--data: {f} does not exist")
        ds = load_shd(f, n_units=ref.n_inputs)
        diff = frontend_differences((getattr(ds, "attrs", {}) or {}).get("frontend"), ref.task.get("frontend"),
                                    "checkpoints")
        if diff:
            raise ValueError(f"{f}: encoded with other front-end settings than the checkpoints': {diff}")
        x = bin_dataset(ds, ref.dt_s, ref.task["n_steps"], ref.task["start_s"], dtype=np.float32)
        sets.append((f, ds, x))
    dists = class_distributions(checkpoints, np.concatenate([x for _, _, x in sets]), ref, label="--checkpoints",
                                ref_name=checkpoints[0], data_name="the first checkpoint")
    rows, start = [], 0
    for f, ds, x in sets:
        labels = np.asarray(ds.labels)
        mine = [d[start:start + len(x)] for d in dists]
        start += len(x)
        singles = [float(np.mean(d.argmax(1) == labels)) for d in mine]
        ens = float(np.mean(np.mean(mine, axis=0).argmax(1) == labels))
        rows.append({"file": f, "condition": condition_name(Path(f), ds), "n_samples": int(labels.size),
                     "singles": singles, "mean_of_singles": float(np.mean(singles)),
                     "sd_of_singles": float(np.std(singles, ddof=1)), "ensemble": ens})
        progress(f"{rows[-1]['condition']}: singles {' / '.join(f'{100 * a:.1f}' for a in singles)} %, "
                 f"ensemble {100 * ens:.1f} %")
    return {"checkpoints": list(checkpoints), "rows": rows}


def markdown(res: dict) -> str:
    n = len(res["checkpoints"])
    lines = [f"Checkpoints ({n}): " + ", ".join(f"`{c}`" for c in res["checkpoints"]), "",
             "| condition | samples | each checkpoint (%) | mean ± sd (%) | ensemble (%) |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['condition']} | {r['n_samples']} | {' / '.join(f'{100 * a:.1f}' for a in r['singles'])} "
                     f"| {100 * r['mean_of_singles']:.1f} ± {100 * r['sd_of_singles']:.1f} | {100 * r['ensemble']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoints", nargs="+", required=True, help="training checkpoints (best.pt), two or more")
    ap.add_argument("--data", nargs="+", required=True, help="SHD-format data files (axon data)")
    ap.add_argument("--out", required=True, help="folder for seed_ensemble.json and seed_ensemble.md")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = ap.parse_args(argv)
    try:
        res = run(a.checkpoints, a.data, a.threads)
    except (ValueError, FileNotFoundError) as e:
        print(f"seed_ensemble: {e}", file=sys.stderr)
        return 2
    md = markdown(res)
    write_results(a.out, "seed_ensemble", res, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
