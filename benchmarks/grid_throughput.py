"""Throughput of the grid (fixed-step) engine on the docs/benchmarks.md reference network.

    python -m benchmarks.grid_throughput [--duration 10] [--seed 0] [--dt 0.001] [--no-lateral]

The network and the input are built with ``dt_s`` so that delays and input times lie on
the grid (the very arrays Brian2 and NEST ``iaf_psc_delta`` get). Prints one JSON object
per configuration and a table: synaptic events, wall seconds, events per second,
real-time factor, peak RSS, and the CPU seconds of the run with events per CPU second (the
same as wall on an idle machine; on a loaded one the wall clock also counts other
processes' turns). JIT compilation (or cache load) is timed separately on a tiny
network first and never counted in the run time. Call :func:`measure` from other scripts.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from benchmarks.reference_network import build_reference_network, poisson_events
from sim import Events, LIFLayer, Network, Projection
from sim.engines.grid import GridSimulator


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def compile_seconds(dt_s: float) -> float:
    t0 = time.perf_counter()
    tiny = Network(1, [LIFLayer("h", 1, 0.01)], [Projection.dense("input", "h", np.ones((1, 1)), dt_s,
                                                                  delay_steps=[[1]], dt_s=dt_s)])
    GridSimulator(tiny, dt_s).run(10 * dt_s, events=Events([0.0], [0]))
    return time.perf_counter() - t0


def measure(duration_s: float = 10.0, seed: int = 0, dt_s: float = 0.001, lateral: bool = True) -> dict:
    """Run the reference network for ``duration_s`` of 10 Hz Poisson input; return the figures."""
    net = build_reference_network(seed, dt_s=dt_s, lateral=lateral)
    ev = poisson_events(net.n_inputs, 10.0, duration_s, seed + 1, dt_s=dt_s)
    t0 = time.perf_counter()
    sim = GridSimulator(net, dt_s, record_spikes=False, record_readout=False)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = time.process_time()
    sim.run(duration_s, events=ev)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0   # equals wall on an idle machine; less when others hold the core
    tot = sim.counts().totals()
    rates = {k: float(v.sum()) / (duration_s * net.size_of(k)) for k, v in sim.counts().spikes.items()}
    return {
        "engine": "axon grid", "dt_s": dt_s, "lateral": lateral, "duration_s": duration_s,
        "synapses": net.n_synapses, "input_events": tot["input_events"], "synaptic_events": tot["synaptic_events"],
        "lateral_updates": tot["lateral_updates"], "state_updates": tot["state_updates"], "spikes": tot["spikes"],
        "layer_rate_hz": rates, "setup_s": setup, "wall_s": wall,
        "synaptic_events_per_s": tot["synaptic_events"] / wall, "real_time_factor": wall / duration_s,
        "cpu_s": cpu, "synaptic_events_per_cpu_s": tot["synaptic_events"] / cpu if cpu > 0 else float("nan"),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of input (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dt", type=float, default=0.001, help="step in seconds (default 0.001)")
    ap.add_argument("--no-lateral", action="store_true", help="only the feed-forward variant")
    args = ap.parse_args(argv)
    jit = compile_seconds(args.dt)
    print(json.dumps({"engine": "axon grid", "jit_compile_or_cache_load_s": jit}))
    rows = []
    for lateral in ([False] if args.no_lateral else [True, False]):
        r = measure(args.duration, args.seed, args.dt, lateral)
        print(json.dumps(r))
        rows.append(r)
    print(f"\n{'engine':<10} {'dt ms':>6} {'lateral':<8} {'syn events':>12} {'wall s':>8} {'events/s':>12} "
          f"{'RTF':>7} {'RSS MB':>8} {'CPU s':>7} {'events/CPU s':>13}")
    for r in rows:
        print(f"{r['engine']:<10} {r['dt_s'] * 1e3:>6.3g} {str(r['lateral']):<8} {r['synaptic_events']:>12,d} "
              f"{r['wall_s']:>8.2f} {r['synaptic_events_per_s'] / 1e6:>10.1f} M {r['real_time_factor']:>7.3f} "
              f"{r['peak_rss_mb']:>8.0f} {r['cpu_s']:>7.2f} {r['synaptic_events_per_cpu_s'] / 1e6:>11.1f} M")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
