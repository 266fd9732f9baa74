"""Peak memory of `axon simulate` does not grow with simulated time: 1 minute vs 1 hour.

    python -m benchmarks.simulate_memory --durations 60 3600 --out runs/simulate_memory

The network is a smaller sibling of the docs/benchmarks.md reference network, so that an hour
of input runs in a few minutes: 100 input channels -> 64 LIF (lateral over the layer) ->
64 LIF (lateral) -> 20 readout, dense, continuous delays 0-250 ms (11,776 synapses plus
2 x 4,096 lateral entries), Poisson input at 10 Hz per channel (1,000 events/s), readout
sampled every 1 ms (the default). One events file holds the whole hour; every run reads the
same file and stops at its ``--duration``.

Each duration runs ``axon simulate`` in a fresh process under ``/usr/bin/time -v``
(falling back to ``getrusage`` of the child when that tool is missing) and reports its
maximum resident set size and wall time. Writes ``simulate_memory.json``, ``.md`` and a
bar chart ``.png``; the claim holds when the peaks differ by less than 10%.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_IN, N_HID, N_OUT = 100, 64, 20


def build(seed: int = 0):
    from sim import Lateral, LIFLayer, Network, Projection, ReadoutLayer
    from sim.model.examples import MAX_DELAY_S, READOUT_TAU_S, TAU_S

    rng = np.random.default_rng(seed)
    layers = [LIFLayer("hidden0", N_HID, TAU_S), LIFLayer("hidden1", N_HID, TAU_S)]
    projections, laterals = [], []
    pre, n_pre = "input", N_IN
    # Mean input near threshold (n_pre * rate * tau * mean weight ~ 1), as in sim.model.examples.
    for layer, (mu, sd) in zip(layers, ((0.05, 0.15), (0.10, 0.30))):
        w = rng.normal(mu, sd, size=(N_HID, n_pre))
        projections.append(Projection.dense(pre, layer.name, w, rng.uniform(0.0, MAX_DELAY_S, w.shape)))
        gram = w @ w.T
        laterals.append(Lateral.dense(layer.name, 0.5 * gram / np.mean(np.diag(gram))))
        pre, n_pre = layer.name, N_HID
    w = rng.normal(0.0, 0.1, size=(N_OUT, N_HID))
    projections.append(Projection.dense(pre, "readout", w, rng.uniform(0.0, MAX_DELAY_S, w.shape)))
    return Network(N_IN, layers, projections, laterals, ReadoutLayer("readout", N_OUT, READOUT_TAU_S),
                   metadata={"benchmark": "simulate_memory small network", "seed": seed})


def _max_rss_mib(stderr: str) -> float | None:
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(m.group(1)) / 1024 if m else None


def run_one(model: Path, events: Path, duration_s: float, out: Path) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "bridge.cli", "simulate", str(model), "--events", str(events), "--out", str(out),
           "--duration", repr(duration_s), "--quiet"]
    timer = shutil.which("time") if Path("/usr/bin/time").exists() else None
    timer = "/usr/bin/time" if Path("/usr/bin/time").exists() else timer
    full = ([timer, "-v"] if timer else []) + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t0 = time.perf_counter()
    p = subprocess.run(full, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"axon simulate --duration {duration_s:g} failed: "
                         f"{(p.stderr.strip().splitlines() or ['?'])[-1]}")
    rss = _max_rss_mib(p.stderr) if timer else None
    if rss is None:
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rss = rss if rss > before else float("nan")
    s = json.loads((out / "summary.json").read_text())
    size = (out / "spikes.h5").stat().st_size
    return {"duration_s": duration_s, "peak_rss_mib": rss, "measured_with": "/usr/bin/time -v" if timer else "getrusage",
            "process_wall_s": wall, "simulate_wall_s": s["wall_s"], "real_time_factor": s["real_time_factor"],
            "spikes": s["counts"]["spikes"], "synaptic_events": s["counts"]["synaptic_events"],
            "readout_samples": s["readout_samples_written"], "spikes_h5_mib": size / 2 ** 20,
            "status": s["status"], "command": " ".join(["/usr/bin/time -v"] if timer else []) + " " + " ".join(
                ["axon"] + cmd[3:])}


def main(argv=None) -> int:
    from sim.model.examples import poisson_events
    from sim.model.io import save_events, save_network

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--durations", type=float, nargs="+", default=[60.0, 3600.0], help="seconds (default 60 3600)")
    ap.add_argument("--out", default="runs/simulate_memory")
    ap.add_argument("--keep", action="store_true", help="keep the run folders (spikes.h5 is ~670 MB per simulated hour)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = build()
    longest = max(args.durations)
    ev = poisson_events(N_IN, 10.0, longest, seed=1)
    save_network(out / "model.h5", net)
    save_events(out / "events.h5", ev, n_channels=N_IN)
    print(f"{net}; {len(ev):,} input events over {longest:g} s", file=sys.stderr)
    rows = []
    for d in args.durations:
        r = run_one(out / "model.h5", out / "events.h5", d, out / f"run_{d:g}s")
        print(json.dumps(r), flush=True)
        rows.append(r)
        if not args.keep:
            shutil.rmtree(out / f"run_{d:g}s")
    base = rows[0]["peak_rss_mib"]
    lines = ["| simulated | peak RSS (MiB) | vs first | wall (s) | real-time factor | spikes | synaptic events "
             "| readout samples | spikes.h5 (MiB) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['duration_s']:g} s | {r['peak_rss_mib']:.1f} | {r['peak_rss_mib'] / base:.3f} "
                     f"| {r['simulate_wall_s']:.1f} | {r['real_time_factor']:.4f} | {r['spikes']:,} "
                     f"| {r['synaptic_events']:,} | {r['readout_samples']:,} | {r['spikes_h5_mib']:.1f} |")
    ratio = rows[-1]["peak_rss_mib"] / base
    verdict = f"peak RSS of the longest run / the first: {ratio:.3f} ({'within' if abs(ratio - 1) < 0.1 else 'NOT within'} 10%)"
    print("\n".join(lines) + "\n\n" + verdict)
    cmd = "python -m benchmarks.simulate_memory " + " ".join(sys.argv[1:] if argv is None else argv)
    from bridge.runfiles import write_json, write_text

    write_json(out / "simulate_memory.json", {"command": cmd.strip(), "network": str(net), "rows": rows,
                                              "ratio_longest_to_first": ratio})
    write_text(out / "simulate_memory.md",
        f"# axon simulate: peak memory vs simulated time\n\n`{cmd.strip()}`\n\n{net}; Poisson input 10 Hz per "
        f"channel; readout sampled every 1 ms; peak RSS by {rows[0]['measured_with']}.\n\n" + "\n".join(lines)
        + f"\n\n{verdict}\n\n![peak RSS](simulate_memory.png)\n\n*Peak resident memory of `axon simulate` per "
          "simulated duration (one process each).*\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.bar([f"{r['duration_s']:g} s" for r in rows], [r["peak_rss_mib"] for r in rows], color="tab:blue")
    ax.set_xlabel("simulated time")
    ax.set_ylabel("peak RSS (MiB)")
    ax.set_title("axon simulate: peak memory vs simulated time")
    fig.tight_layout()
    fig.savefig(out / "simulate_memory.png", dpi=120)
    plt.close(fig)
    return 0 if abs(ratio - 1) < 0.1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
