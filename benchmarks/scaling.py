"""How the cost of the exact and grid engines grows with the network and with the input rate.

    python -m benchmarks.scaling --out runs/scaling                       # default points, 2 s input
    python -m benchmarks.scaling --scales 1 4 --rates 1 --duration 0.5 --out /tmp/scaling   # quick

The network at scale ``s`` is ``s`` copies' worth of the docs/benchmarks.md reference network
with the same fan-in per neuron: ``700 s`` input channels -> ``256 s`` LIF -> ``256 s`` LIF
-> ``20 s`` readout; each hidden-0 neuron draws 700 sources from the inputs, each hidden-1
and readout neuron 256 from the layer below (sparse, without repetition); lateral groups of
256 neurons (block diagonal, ``Omega = g W W^T`` over each group's input weights, as in
:mod:`sim.model.examples`); continuous delays 0-250 ms. Scale 1 has the reference network's
synapse count (249,856 feed-forward + 131,072 lateral); synapses, neurons and input events
all grow by ``s``, so the synaptic events per second of input grow by ``s`` too. The input
rate factor ``r`` multiplies the 10 Hz per channel. At ``s > 1`` each group's lateral
matrix is built over sparse, mostly disjoint input rows, so it inhibits less and the
neurons fire more than at ``s = 1``: throughput is per synaptic event, whatever the count.

Engines: ``exact`` on the continuous delays; ``grid`` on the same network with delays
rounded to ``--dt`` (``bridge.conventions.network_on_grid``). Every point runs in its own
subprocess (so peak RSS is that point's), one thread. Reported per point: neurons,
synapses, synaptic events (counted as ``axon bench`` counts them), build seconds (network construction, flattening, compiled-code
load), run seconds, events/s, real-time factor, RSS after the build and peak RSS.
Writes ``scaling.json``, ``scaling.md`` and ``scaling.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_IN, N_HID, N_OUT, GROUP = 700, 256, 20, 256


def build(scale: int, seed: int = 0, dt_s: float | None = None):
    """The scaled network (see the module docstring)."""
    from sim import Lateral, LIFLayer, Network, Projection, ReadoutLayer
    from sim.model.examples import MAX_DELAY_S, READOUT_TAU_S, TAU_S

    rng = np.random.default_rng(seed)
    n_in, n_hid, n_out = N_IN * scale, N_HID * scale, N_OUT * scale
    layers = [LIFLayer("hidden0", n_hid, TAU_S), LIFLayer("hidden1", n_hid, TAU_S)]
    projections, laterals = [], []

    def sparse(pre, post, n_pre, n_post, fan_in, mu, sd):
        # fan_in distinct sources per target: a random permutation prefix per target.
        pre_idx = (np.stack([rng.choice(n_pre, size=fan_in, replace=False) for _ in range(n_post)])
                   if n_pre != fan_in else np.tile(np.arange(n_pre), (n_post, 1)))
        post_idx = np.repeat(np.arange(n_post), fan_in)
        w = rng.normal(mu, sd, size=(n_post, fan_in))
        d = rng.uniform(0.0, MAX_DELAY_S, size=w.size)
        if dt_s is not None:
            steps = np.floor(d / dt_s + 0.5).astype(np.int64)
            return Projection.sparse(pre, post, pre_idx.reshape(-1), post_idx, w.reshape(-1), steps * dt_s,
                                     delay_steps=steps, dt_s=dt_s), pre_idx, w
        return Projection.sparse(pre, post, pre_idx.reshape(-1), post_idx, w.reshape(-1), d), pre_idx, w

    pre, n_pre, fan = "input", n_in, N_IN
    for layer, (mu, sd) in zip(layers, ((0.010, 0.05), (0.030, 0.12))):
        p, pre_idx, w = sparse(pre, layer.name, n_pre, n_hid, fan, mu, sd)
        projections.append(p)
        # Omega = g W W^T over each group's input weights (dense weight rows per group).
        members = np.arange(n_hid).reshape(-1, GROUP)
        omegas = []
        for g in members:
            dense = np.zeros((GROUP, n_pre))
            np.put_along_axis(dense, pre_idx[g], w[g], axis=1)
            gram = dense @ dense.T
            omegas.append(0.5 * gram / np.mean(np.diag(gram)))
        laterals.append(Lateral(layer.name, members, np.stack(omegas)))
        pre, n_pre, fan = layer.name, n_hid, N_HID
    p, _, _ = sparse(pre, "readout", n_pre, n_out, fan, 0.0, 0.1)
    projections.append(p)
    return Network(n_in, layers, projections, laterals, ReadoutLayer("readout", n_out, READOUT_TAU_S),
                   metadata={"benchmark": f"reference network x{scale}", "seed": seed})


def synaptic_events(net, counts) -> int:
    """Every input event and spike times its fan-out, lateral spikes times their group size:
    the count ``axon bench`` uses for every engine (an engine's own counter may count a spike's
    weights when they are sent, or when they arrive, which differs by the spikes in flight)."""
    total = 0
    for p in net.projections:
        deg = np.bincount(p.pre_idx, minlength=net.size_of(p.pre))
        src = counts.input_events if p.pre == "input" else counts.spikes[p.pre]
        total += int(np.dot(src.astype(np.int64), deg))
    for lat in net.laterals:
        total += int(counts.spikes[lat.layer][lat.members].sum()) * int(lat.members.shape[1])
    return total


def child(engine: str, scale: int, rate_factor: float, duration_s: float, dt_s: float, seed: int) -> dict:
    """One point, in this (fresh) process."""
    from sim.model.examples import poisson_events

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t0 = time.perf_counter()
    net = build(scale, seed)
    ev = poisson_events(net.n_inputs, 10.0 * rate_factor, duration_s, seed + 1)
    if engine == "exact":
        from sim.engines.exact import ExactSimulator

        sim = ExactSimulator(net, record_spikes=False)
    else:
        from bridge.conventions import network_on_grid
        from sim.engines.grid import GridSimulator

        sim = GridSimulator(network_on_grid(net, dt_s), dt_s, record_spikes=False, record_readout=False)
    sim.run(0.0)   # compiled code: loaded (or compiled) here, counted in the build time
    build_s = time.perf_counter() - t0
    rss_built = rss()
    t1 = time.perf_counter()
    sim.run(duration_s, events=ev)
    run_s = time.perf_counter() - t1
    counts = sim.counts()
    tot = counts.totals()
    syn = synaptic_events(net, counts)
    n_lat = sum(int(lat.omega.size) for lat in net.laterals)
    return {"engine": engine, "scale": scale, "rate_factor": rate_factor, "input_rate_hz": 10.0 * rate_factor,
            "duration_s": duration_s, "dt_s": dt_s if engine == "grid" else None,
            "neurons": net.n_neurons, "synapses": net.n_synapses, "lateral_entries": n_lat,
            "input_events": tot["input_events"], "spikes": tot["spikes"],
            "synaptic_events": syn, "engine_counted_synaptic_events": tot["synaptic_events"],
            "lateral_updates": tot["lateral_updates"],
            "build_s": build_s, "run_s": run_s, "events_per_s": syn / run_s,
            "real_time_factor": run_s / duration_s, "rss_after_build_mib": rss_built, "peak_rss_mib": rss()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="+", default=["exact", "grid"], choices=["exact", "grid"])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16, 32],
                    help="network scale factors (default 1 4 16 32: 32 has 17,024 neurons and 12.2 M synapses)")
    ap.add_argument("--rates", type=float, nargs="+", default=[1, 4], help="input rate factors at scale 1")
    ap.add_argument("--duration", type=float, default=2.0, help="seconds of input per point (default 2)")
    ap.add_argument("--dt", type=float, default=1e-4, help="grid engine step (default 0.1 ms)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/scaling")
    ap.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)   # ENGINE SCALE RATE
    args = ap.parse_args(argv)
    if args.child:
        e, s, r = args.child
        print(json.dumps(child(e, int(s), float(r), args.duration, args.dt, args.seed)))
        return 0
    points = [(s, 1.0) for s in args.scales] + [(1, r) for r in args.rates if r != 1.0 or 1 not in args.scales]
    points = list(dict.fromkeys(points))
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    for s, r in points:
        for e in args.engines:
            print(f"scaling: {e} x{s} network, input x{r:g} ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, "-m", "benchmarks.scaling", "--child", e, str(s), repr(r), "--duration",
                   repr(args.duration), "--dt", repr(args.dt), "--seed", str(args.seed)]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
                row = {"engine": e, "scale": s, "rate_factor": r, "error": err}
                print(f"    error: {err}", file=sys.stderr)
            else:
                row = json.loads(p.stdout.strip().splitlines()[-1])
                print(f"    {row['synapses']:,} synapses, {row['neurons']:,} neurons: "
                      f"{row['events_per_s'] / 1e6:.2f} M events/s, peak RSS {row['peak_rss_mib']:.0f} MiB",
                      file=sys.stderr, flush=True)
            print(json.dumps(row), flush=True)
            rows.append(row)
    _write(Path(args.out), rows, args, argv)
    return 0


def _write(out: Path, rows, args, argv) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ref = {(r["engine"]): r for r in rows if "error" not in r and r["scale"] == 1 and r["rate_factor"] == 1.0}
    lines = ["| engine | scale | input rate (Hz) | neurons | synapses | synaptic events | build (s) | run (s) "
             "| events/s | vs x1 | real-time factor | RSS after build (MiB) | peak RSS (MiB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['engine']} | x{r['scale']} | x{r['rate_factor']:g} | error: {r['error']} "
                         "| | | | | | | | | |")
            continue
        base = ref.get(r["engine"])
        rel = f"{r['events_per_s'] / base['events_per_s']:.2f}" if base else ""
        lines.append(f"| {r['engine']} | x{r['scale']} | {r['input_rate_hz']:g} | {r['neurons']:,} "
                     f"| {r['synapses'] + r['lateral_entries']:,} | {r['synaptic_events']:,} | {r['build_s']:.1f} "
                     f"| {r['run_s']:.2f} | {r['events_per_s'] / 1e6:.2f} M | {rel} | {r['real_time_factor']:.3f} "
                     f"| {r['rss_after_build_mib']:.0f} | {r['peak_rss_mib']:.0f} |")
    cmd = "python -m benchmarks.scaling " + " ".join(sys.argv[1:] if argv is None else argv)
    from bridge.bench import machine_description
    from bridge.runfiles import write_json, write_text

    machine = machine_description()
    machine["command"] = cmd.strip()
    write_json(out / "scaling.json", {"machine": machine, "duration_s": args.duration, "dt_s": args.dt,
                                      "rows": rows})
    write_text(out / "scaling.md",
        f"# How cost grows\n\n`{cmd.strip()}`\n\n{args.duration:g} s of Poisson input per point, one thread, "
        f"each point in its own process; synapses include lateral entries; {machine['cpu_model']}, "
        f"{machine['date_utc']}.\n\n" + "\n".join(lines)
        + "\n\n![scaling](scaling.png)\n\n*Throughput (synaptic events per second of run time) and peak RSS "
          "against the number of synapses (network scale, left) and against the input rate (scale 1, right).*\n")
    print("\n".join(lines))
    _plot(out / "scaling.png", [r for r in rows if "error" not in r])


def _plot(path, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for e, color in (("exact", "tab:blue"), ("grid", "tab:cyan")):
        net = sorted([r for r in rows if r["engine"] == e and r["rate_factor"] == 1.0], key=lambda r: r["scale"])
        rate = sorted([r for r in rows if r["engine"] == e and r["scale"] == 1], key=lambda r: r["rate_factor"])
        for col, pts, x, xl in ((0, net, lambda r: r["synapses"] + r["lateral_entries"], "synapses (incl. lateral)"),
                                (1, rate, lambda r: r["input_rate_hz"], "input rate per channel (Hz)")):
            if not pts:
                continue
            xs = [x(r) for r in pts]
            axes[0, col].plot(xs, [r["events_per_s"] / 1e6 for r in pts], "o-", color=color, label=f"axon {e}")
            axes[1, col].plot(xs, [r["peak_rss_mib"] for r in pts], "o-", color=color, label=f"axon {e}")
            for row in (0, 1):
                axes[row, col].set_xscale("log")
                axes[row, col].set_xlabel(xl)
    axes[0, 0].set_ylabel("synaptic events/s (millions)")
    axes[1, 0].set_ylabel("peak RSS (MiB)")
    axes[0, 0].set_title("throughput vs network size")
    axes[0, 1].set_title("throughput vs input rate (scale 1)")
    axes[1, 0].set_title("peak memory vs network size")
    axes[1, 1].set_title("peak memory vs input rate (scale 1)")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    fig.suptitle("How the cost of axon's engines grows (one thread)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
