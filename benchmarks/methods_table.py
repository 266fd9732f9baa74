"""The issue-14 table: training methods x tasks from finished runs (results.json) and their
``axon evaluate`` outputs (evaluate.json): accuracy mean +- sd over seeds, training wall
time, time to a target validation accuracy, mean hidden rate, grid/exact accuracy and
synaptic operations per inference. Writes JSON and Markdown.

    python -m benchmarks.methods_table --runs runs/methods --out runs/methods/table
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bridge.runfiles import write_results

# validation accuracies for "time to target" (fixed before the runs were looked at: 0.80
# on the synthetic digits; 0.90 on the 8x8 digits), and a second, higher one
# (synth_counts, the synthetic digits' time-averaged channel counts: the audio targets);
# the 35 keywords (keywords_robust, 5-epoch budget) and their channel counts: 0.10 and 0.20
# (chance 0.029), set after the first 5-epoch BPTT run had reached 0.137
TARGETS = {"synth_quick": (0.80, 0.90), "digits8x8": (0.90, 0.95), "synth_counts": (0.80, 0.90),
           "keywords_robust": (0.10, 0.20), "keywords_counts": (0.10, 0.20)}


def _task(cfg: dict) -> str:
    p = cfg["data"]["train"] or ""
    for task in ("digits8x8", "synth_counts", "synth_quick"):
        if task in p:
            return task
    return Path(p).parent.name


def _label(cfg: dict) -> str:
    t, m = cfg["train"], cfg["model"]
    lab = t.get("method", "bptt")
    if lab == "ann_pretrain":
        lab += f" ({t['ann_epochs']} ANN + {t['epochs']} SNN epochs)"
    else:
        lab += f" ({t['epochs']} epochs)"
    if m["surrogate"] == "leaky_approx":
        lab += ", leaky_approx"
    if t.get("spide_feedback_norm", "none") != "none":
        lab += f", feedback {t['spide_feedback_norm']} norm <= {t['spide_feedback_max']:g}"
    return lab


def _sops_per_inference(ev: dict, model_path: Path, data_path: str, engine: str) -> float | None:
    """Synaptic operations (events delivered to a synapse) per sample: every input event
    and every spike times its fan-out, rates from ``engine``'s evaluation."""
    from sim.model.io import load_network
    from training.data.shd import load_shd

    net = load_network(model_path)
    task = net.task
    dur = task.n_steps * task.dt_s
    ds = load_shd(data_path, n_units=net.n_inputs)
    n = ev["engines"][engine]["n_samples"]
    n_in = np.mean([np.sum((ds.times_s[i] >= task.start_s) & (ds.times_s[i] < task.start_s + dur)) for i in range(n)])
    sizes = {l.name: l.size for l in net.layers}
    sizes["input"] = net.n_inputs
    fan = {}
    for p in net.projections:
        fan[p.pre] = fan.get(p.pre, 0.0) + len(p.weight) / sizes[p.pre]
    sops = n_in * fan.get("input", 0.0)
    for name, r in ev["engines"][engine]["layer_rate_hz"].items():
        sops += r * sizes[name] * dur * fan.get(name, 0.0)
    return float(sops)


def collect(runs: Path) -> list[dict]:
    rows = []
    for res_path in sorted(runs.glob("*_s[0-9]/results.json")):
        run = res_path.parent
        r = json.loads(res_path.read_text())
        cfg = r["config"]
        task = _task(cfg)
        hist = r["history"]
        targets = TARGETS.get(task, ())
        ann_hist = (r.get("ann_pretrain") or {}).get("history") or []
        reach = {}
        for tgt in targets:
            # epochs counted from the first training step, ANN epochs included
            hit = next(((len(ann_hist) + h["epoch"], h.get("elapsed_s")) for h in hist if h["valid_accuracy"] >= tgt),
                       (None, None))
            reach[str(tgt)] = {"epochs": hit[0], "time_s": hit[1]}
        row = {"run": run.name, "task": task, "method": _label(cfg), "seed": cfg["train"]["seed"],
               "test_accuracy": r["accuracy"]["test"], "valid_accuracy": r["accuracy"]["valid"],
               "train_time_s": r["train_time_s"], "to_target": reach, "best_valid_accuracy": max(h["valid_accuracy"] for h in hist),
               "mean_hidden_rate_hz": r["mean_hidden_rate_hz"]["test"],
               "mapped_valid_accuracy": (r.get("ann_pretrain") or {}).get("mapped_valid_accuracy")}
        ev_path = runs / "eval" / run.name / "evaluate.json"
        log = runs / f"eval_{run.name}.log"
        if log.exists() and "error:" in log.read_text():
            row["evaluate_error"] = log.read_text().strip().splitlines()[-1]
        if ev_path.exists():
            ev = json.loads(ev_path.read_text())
            for e in ("grid", "exact", "torch"):
                if e in ev["engines"]:
                    row[f"{e}_accuracy"] = ev["engines"][e]["accuracy"]
            row["sops_per_inference"] = _sops_per_inference(ev, Path(ev["model"]), ev["data"], "grid")
        rows.append(row)
    return rows


def _ms(v):
    n = len(v)
    v = [x for x in v if x is not None]
    if not v:
        return "–"
    some = f" ({len(v)} of {n} runs)" if len(v) < n else ""
    if len(v) == 1:
        return f"{v[0]:.3f}" + (some or " (1 seed)")
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}{some}"


def table(rows: list[dict]) -> tuple[list[dict], str]:
    groups = {}
    for r in rows:
        groups.setdefault((r["task"], r["method"]), []).append(r)
    out, lines = [], ["| task | method | seeds | test accuracy (training forward) | grid engine | exact engine | "
                      "train wall time (s) | epochs (s) to valid acc target 1 | epochs (s) to target 2 | "
                      "mean hidden rate (Hz) | synaptic ops / inference |",
                      "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (task, method), g in sorted(groups.items()):
        get = lambda k: [r.get(k) for r in g]  # noqa: E731
        tts = []
        for tgt in TARGETS.get(task, ()):
            hits = [r["to_target"][str(tgt)] for r in g if r["to_target"][str(tgt)]["epochs"] is not None]
            tts.append(f"{tgt:.2f}: {np.mean([h['epochs'] for h in hits]):.1f} ({np.mean([h['time_s'] for h in hits]):.0f} s), "
                       f"{len(hits)}/{len(g)} runs" if hits else f"{tgt:.2f}: not reached")
        tt = " | ".join(tts) if tts else "– | –"
        sops = [s for s in get("sops_per_inference") if s is not None]
        out.append({"task": task, "method": method, "seeds": sorted(get("seed")), "runs": get("run"),
                    "test_accuracy": get("test_accuracy"), "grid_accuracy": get("grid_accuracy"),
                    "exact_accuracy": get("exact_accuracy"), "train_time_s": get("train_time_s"),
                    "to_target": get("to_target"), "mean_hidden_rate_hz": get("mean_hidden_rate_hz"),
                    "sops_per_inference": get("sops_per_inference"),
                    "evaluate_errors": [r["evaluate_error"] for r in g if "evaluate_error" in r]})
        sops_txt = f"{np.mean(sops):.0f}" if sops else "–"
        lines.append(f"| {task} | {method} | {len(g)} | {_ms(get('test_accuracy'))} | {_ms(get('grid_accuracy'))} | "
                     f"{_ms(get('exact_accuracy'))} | {np.mean(get('train_time_s')):.0f} | {tt} | "
                     f"{np.mean(get('mean_hidden_rate_hz')):.1f} | {sops_txt} |")
    return out, "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs/methods")
    ap.add_argument("--out", default="runs/methods/table")
    a = ap.parse_args()
    rows = collect(Path(a.runs))
    summary, md = table(rows)
    write_results(a.out, "methods", {"rows": rows, "summary": summary, "targets": TARGETS}, md + "\n")
    print(md)
