"""Collect the s2net comparison (issue 13): dense vs conv, lateral off vs on, seeds.

Reads ``runs/s2net2/<arch>_lat<bool>_s<seed>/results.json`` (written by ``axon train
training/configs/s2net_<arch>.toml --set model.lateral=... --set train.seed=...``) and, when
present, ``.../evaluate/evaluate.json`` (``axon evaluate ... --engines torch,grid,exact``),
and writes ``s2net_table.json`` and ``s2net_table.md`` to ``--out``. Several ``--runs``
directories may be given (for instance the rate sweep's ``runs/s2net_rate_t3_r0.1``);
runs are grouped by network, lateral setting, training epochs, rate target and weight, and
``model.lateral_diagonal``, as read from each run's saved config.

Run: ``PYTHONPATH=. python benchmarks/s2net_table.py --runs runs/s2net2 --out runs/s2net2``
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bridge.runfiles import write_json, write_text


def collect(runs: Path | list[Path]) -> dict:
    rows = {}
    dirs = [runs] if isinstance(runs, Path) else runs
    for d in sorted(p for r in dirs for p in r.glob("*_lat*_s*")):
        res = d / "results.json"
        if not d.is_dir() or not res.exists():
            continue
        arch, lat, seed = d.name.split("_")
        r = json.loads(res.read_text())
        tc, mc = r["config"]["train"], r["config"]["model"]
        row = {"run": d.name, "dir": str(d), "arch": arch,
               "rate_target_hz": tc["rate_target_hz"], "rate_reg": tc["rate_reg"], "epochs": tc["epochs"],
               "lateral_diagonal": mc.get("lateral_diagonal", "keep"), "lateral": lat == "lattrue", "seed": int(seed[1:]),
               "test_accuracy": r["accuracy"]["test"], "valid_accuracy": r["accuracy"]["valid"],
               "mean_hidden_rate_hz": r["mean_hidden_rate_hz"]["test"], "rate_hz": r["rate_hz"]["test"],
               "n_parameters": r["n_parameters"], "train_time_s": r["train_time_s"], "engines": None}
        if row["lateral"] and (d / "best.pt").exists():
            row["omega"] = omega_stats(d / "best.pt")
        ev = d / "evaluate" / "evaluate.json"
        if ev.exists():
            e = json.loads(ev.read_text())
            row["engines"] = {k: {"accuracy": v["accuracy"], "layer_rate_hz": v["layer_rate_hz"],
                                  "wall_s": v["wall_s"], "n_samples": v["n_samples"]}
                              for k, v in e["engines"].items()}
            row["prediction_agreement"] = e["prediction_agreement"]
            egd = d / "evaluate" / "exact_grid_delays.json"
            if egd.exists():  # benchmarks/exact_grid_delays.py
                g = json.loads(egd.read_text())
                row["engines"]["exact_grid_delays"] = {"accuracy": g["accuracy"], "layer_rate_hz": g["layer_rate_hz"],
                                                       "wall_s": g["wall_s"], "n_samples": g["n_samples"]}
        rows[str(d)] = row
    return rows


def omega_stats(checkpoint: Path) -> list[dict]:
    """Per hidden layer of a lateral checkpoint: the median diagonal entry of ``Omega`` over
    the threshold (the self term a spike adds to its reset) and the mean off-diagonal entry
    over the threshold (how much one spike lowers each other member of its group)."""
    import torch

    from training.train import load_model

    m = load_model(checkpoint)
    out = []
    with torch.no_grad():
        for l in range(m.n_hidden_layers):
            om = m.lateral_matrix(l).double()
            g = om.shape[0]
            diag = torch.diagonal(om)
            out.append({"layer": l, "group_size": g, "diag_median": float(np.median(diag.numpy())) / m.cfg.threshold,
                        "offdiag_mean": float((om.sum() - diag.sum()) / (g * g - g)) / m.cfg.threshold})
    return out


def _setting(r: dict) -> tuple:
    return (r["epochs"], -r["rate_target_hz"], r["rate_reg"], r["lateral_diagonal"])


def summarize(rows: dict) -> list[dict]:
    out = []
    for arch in ("dense", "conv"):
        for setting in sorted({_setting(r) for r in rows.values()}):
          for lat in (False, True):
            rr = [r for r in rows.values() if r["arch"] == arch and r["lateral"] == lat and _setting(r) == setting]
            if not rr:
                continue
            acc = np.array([r["test_accuracy"] for r in rr]) * 100
            rate = np.array([r["mean_hidden_rate_hz"] for r in rr])
            out.append({"arch": arch, "lateral": lat, "epochs": setting[0], "rate_target_hz": -setting[1],
                        "rate_reg": setting[2], "lateral_diagonal": setting[3], "seeds": sorted(r["seed"] for r in rr),
                        "accuracy_per_seed": acc.tolist(), "accuracy_mean": float(acc.mean()),
                        "accuracy_sd": float(acc.std(ddof=1)) if acc.size > 1 else None,
                        "rate_per_seed": rate.tolist(), "rate_mean": float(rate.mean()),
                        "n_parameters": rr[0]["n_parameters"],
                        "train_time_s": [r["train_time_s"] for r in rr],
                        "omega": [r["omega"] for r in rr] if all(r.get("omega") for r in rr) else None})
    return out


def write_md(rows, summary, path: Path):
    lines = ["# s2net comparison: dense vs conv, lateral off vs on (noisy synthetic digits, 5 dB SNR)", "",
             "| network | lateral | epochs | rate target (Hz), weight | trained parameters | test accuracy per seed (%) | "
             "mean ± sd | mean hidden rate, test (Hz) | training time per run (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        sd = f" ± {s['accuracy_sd']:.1f}" if s["accuracy_sd"] is not None else ""
        rate = " / ".join(f"{r:.2f}" for r in s["rate_per_seed"])
        if len(s["rate_per_seed"]) > 1:
            rate += f" (mean {s['rate_mean']:.2f})"
        lat = ("on" + ("" if s["lateral_diagonal"] == "keep" else f" ({s['lateral_diagonal']})")) if s["lateral"] else "off"
        lines.append(f"| {s['arch']} | {lat} | {s['epochs']} | {s['rate_target_hz']:g}, {s['rate_reg']:g} | {s['n_parameters']} | "
                     f"{' / '.join(f'{a:.1f}' for a in s['accuracy_per_seed'])} (seeds {s['seeds']}) | "
                     f"**{s['accuracy_mean']:.1f}{sd}** | {rate} | "
                     f"{' / '.join(f'{t:.0f}' for t in s['train_time_s'])} |")
    om = [s for s in summary if s["omega"]]
    if om:
        lines += ["", "## Lateral matrices (`Omega` over the threshold, per hidden layer; range over seeds)", "",
                  "| network | lateral | epochs | rate target (Hz), weight | layer (group size) | median diagonal | "
                  "mean off-diagonal |", "|---|---|---|---|---|---|---|"]
        for s in om:
            lat = "on" if s["lateral_diagonal"] == "keep" else f"on ({s['lateral_diagonal']})"
            for l in range(len(s["omega"][0])):
                dg = [o[l]["diag_median"] for o in s["omega"]]
                od = [o[l]["offdiag_mean"] for o in s["omega"]]
                lines.append(f"| {s['arch']} | {lat} | {s['epochs']} | {s['rate_target_hz']:g}, {s['rate_reg']:g} | hidden{l} "
                             f"({s['omega'][0][l]['group_size']}) | {min(dg):.2f} to {max(dg):.2f} | "
                             f"{min(od):.3f} to {max(od):.3f} |")
    ev = [r for r in rows.values() if r["engines"]]
    if ev:
        lines += ["", "## The same networks in each engine (test set)", "",
                  "| run | engine | accuracy | hidden rates (Hz) | spikes per utterance | wall (s) |",
                  "|---|---|---|---|---|---|"]
        for r in ev:
            for k, v in r["engines"].items():
                rates = v["layer_rate_hz"]
                lines.append(f"| {r['run']} | {k} | {100 * v['accuracy']:.2f} % | "
                             f"{', '.join(f'{n} {x:.2f}' for n, x in rates.items())} | "
                             f"{r.get('spikes_per_utterance', {}).get(k, float('nan')):.0f} | {v['wall_s']:.1f} |")
            lines.append(f"| {r['run']} | agreement | " + ", ".join(
                f"{k} {100 * v:.1f} %" for k, v in r["prediction_agreement"].items()) + " | | | |")
    write_text(path, "\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description="collect the s2net comparison runs")
    ap.add_argument("--runs", nargs="+", default=["runs/s2net2"])
    ap.add_argument("--out", default="runs/s2net2")
    args = ap.parse_args(argv)
    rows = collect([Path(r) for r in args.runs])
    for r in rows.values():  # spikes per utterance = sum over layers of rate * neurons * window
        if r["engines"]:
            sizes = json.loads((Path(r["dir"]) / "results.json").read_text())
            hidden = sizes["config"]["model"]
            r["spikes_per_utterance"] = {}
            for k, v in r["engines"].items():
                r["spikes_per_utterance"][k] = float(sum(
                    rate * n for rate, n in zip(v["layer_rate_hz"].values(), _layer_sizes(hidden, sizes))) *
                    sizes["task"]["n_steps"] * sizes["config"]["data"]["dt_s"])
    summary = summarize(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "s2net_table.json", {"runs": rows, "summary": summary})
    write_md(rows, summary, out / "s2net_table.md")
    print((out / "s2net_table.md").read_text())


def _layer_sizes(model_cfg: dict, results: dict) -> list[int]:
    """Neurons per hidden layer from the config (conv: channels x positions)."""
    from training.config import config_from_dict
    from training.delays import conv_out_positions

    cfg = config_from_dict(results["config"]).model
    sizes, pos, size = [], results["n_inputs"] // cfg.conv_input_channels, results["n_inputs"]
    for l, h in enumerate(cfg.hidden):
        if cfg.is_conv(l):
            k, s, d = cfg.conv_for_layer(l)
            pos = conv_out_positions(pos, k, s, d)
            size = pos * h
        else:
            size = h
        sizes.append(size)
    return sizes


if __name__ == "__main__":
    main()
