"""Collect a delay ablation (no delays / fixed random delays / learned delays, several seeds).

Reads ``<runs>/<mode>_s<seed>/results.json`` (written by ``axon train CONFIG --out
<runs>/<mode>_s<seed> --set model.delays=<mode> --set train.seed=<seed>``). With
``--evaluate FILE ...`` each run is also exported (``model.h5``, if missing) and evaluated
on those files with the training forward pass (``axon evaluate ... --engines torch``,
into ``<run>/evaluate``, skipped when its ``evaluate.json`` exists), and the table gets one
accuracy column per file (its condition name). Writes ``delay_ablation.json`` and
``delay_ablation.md`` to ``--out`` and prints the Markdown.

    python -m benchmarks.delay_ablation_table --runs runs/kw_ablation --out runs/kw_ablation \\
        --evaluate data/keywords_robust/synth_test.h5 data/keywords_robust/synth_test_family*.h5
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bridge.runfiles import write_json, write_text

MODES = ("none", "fixed", "learned")


def collect(runs: Path) -> list[dict]:
    rows = []
    for d in sorted(runs.glob("*_s*")):
        res = d / "results.json"
        if not d.is_dir() or not res.exists():
            continue
        mode, seed = d.name.rsplit("_s", 1)
        if mode not in MODES or not seed.isdigit():
            continue
        r = json.loads(res.read_text())
        rows.append({"run": d.name, "dir": str(d), "mode": mode, "seed": int(seed),
                     "test_accuracy": r["accuracy"]["test"], "mean_hidden_rate_hz": r["mean_hidden_rate_hz"]["test"],
                     "n_parameters": r["n_parameters"], "train_time_s": r["train_time_s"],
                     "epochs": r["config"]["train"]["epochs"], "test_data": r["config"]["data"]["test"]})
    return rows


def evaluate(row: dict, files: list[str]) -> dict:
    """Per condition of ``axon evaluate`` on ``files``: accuracy and mean hidden rate."""
    d = Path(row["dir"])
    out = d / "evaluate"
    if not (out / "evaluate.json").exists():
        py = [sys.executable, "-m", "bridge.cli"]
        if not (d / "model.h5").exists():
            subprocess.run(py + ["export", str(d / "best.pt"), "--out", str(d / "model.h5")], check=True,
                           stdout=subprocess.DEVNULL)
        subprocess.run(py + ["evaluate", str(d / "model.h5"), *files, "--engines", "torch", "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
    e = json.loads((out / "evaluate.json").read_text())
    return {name: {"accuracy": c["engines"]["torch"]["accuracy"],
                   "mean_hidden_rate_hz": c["engines"]["torch"].get("mean_hidden_rate_hz")}
            for name, c in e["conditions"].items()}


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    conds = sorted({c for r in rows for c in r.get("conditions", {})}, key=_condition_order)
    for mode in MODES:
        rr = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["seed"])
        if not rr:
            continue
        cols = {"training test split": [100 * r["test_accuracy"] for r in rr]}
        for c in conds:
            if all(c in r.get("conditions", {}) for r in rr):
                cols[c] = [100 * r["conditions"][c]["accuracy"] for r in rr]
        out.append({"mode": mode, "seeds": [r["seed"] for r in rr], "n_parameters": rr[0]["n_parameters"],
                    "accuracy": {c: {"per_seed": v, "mean": float(np.mean(v)),
                                     "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None}
                                 for c, v in cols.items()},
                    "rate_per_seed": [r["mean_hidden_rate_hz"] for r in rr],
                    "train_time_s": [r["train_time_s"] for r in rr], "epochs": rr[0]["epochs"]})
    return out


def _condition_order(name: str):
    return (name != "test", name != "test_family", name)


def write_md(summary: list[dict], path: Path, command: str) -> str:
    conds = list(summary[0]["accuracy"]) if summary else []
    lines = ["# Delay ablation", "", f"`{command}`", "",
             "Accuracy (%) per seed, **mean ± sd**; `training test split` is the test file of the training "
             "config, the other columns the files given to `--evaluate` (training forward pass, float64, "
             "rounded delays).", "",
             "| delays | trained parameters | " + " | ".join(conds) + " | mean hidden rate (Hz) | training time per run (s) |",
             "|---|---|" + "---|" * len(conds) + "---|---|"]
    for s in summary:
        cells = []
        for c in conds:
            a = s["accuracy"].get(c)
            if a is None:
                cells.append("—")
                continue
            sd = f" ± {a['sd']:.1f}" if a["sd"] is not None else ""
            cells.append(" / ".join(f"{v:.1f}" for v in a["per_seed"]) + f" (**{a['mean']:.1f}{sd}**)")
        lines.append(f"| `{s['mode']}` | {s['n_parameters']} | " + " | ".join(cells) + " | " +
                     " / ".join(f"{r:.1f}" for r in s["rate_per_seed"]) + " | " +
                     " / ".join(f"{t:.0f}" for t in s["train_time_s"]) + " |")
    text = "\n".join(lines) + "\n"
    write_text(path, text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, help="directory of <mode>_s<seed> training runs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--evaluate", nargs="*", default=[], help="data files to evaluate every run on")
    args = ap.parse_args(argv)
    rows = collect(Path(args.runs))
    if not rows:
        print(f"delay_ablation_table: no <mode>_s<seed> runs with results.json in {args.runs}", file=sys.stderr)
        return 2
    if args.evaluate:
        for i, r in enumerate(rows, 1):
            print(f"[{i}/{len(rows)}] evaluating {r['run']}", file=sys.stderr, flush=True)
            r["conditions"] = evaluate(r, args.evaluate)
    summary = summarize(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "delay_ablation.json", {"runs": rows, "summary": summary})
    command = "python -m benchmarks.delay_ablation_table " + " ".join(argv if argv is not None else sys.argv[1:])
    print(write_md(summary, out / "delay_ablation.md", command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
