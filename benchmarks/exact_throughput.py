"""Throughput of the exact engine on the docs/benchmarks.md reference network.

    python -m benchmarks.exact_throughput [--duration 10] [--seed 0] [--no-lateral]

Prints one JSON object per configuration and a table: synaptic events, wall seconds,
events per second, real-time factor, peak RSS. JIT compilation is timed separately on a
tiny network first and never counted in the run time.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from benchmarks.reference_network import build_reference_network, poisson_events
from sim import LIFLayer, Network, Projection
from sim.engines.exact import ExactSimulator


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def compile_seconds() -> float:
    t0 = time.perf_counter()
    tiny = Network(1, [LIFLayer("h", 1, 0.01)], [Projection.dense("input", "h", np.ones((1, 1)), 0.001)])
    from sim import Events
    ExactSimulator(tiny).run(0.01, events=Events([0.0], [0]))
    return time.perf_counter() - t0


def measure(duration_s: float, seed: int, lateral: bool) -> dict:
    net = build_reference_network(seed, lateral=lateral)
    ev = poisson_events(net.n_inputs, 10.0, duration_s, seed + 1)
    sim = ExactSimulator(net, max_cascade=100_000, record_spikes=False)
    t0 = time.perf_counter()
    sim.run(duration_s, events=ev)
    wall = time.perf_counter() - t0
    tot = sim.counts().totals()
    rates = {k: float(v.sum()) / (duration_s * net.size_of(k)) for k, v in sim.counts().spikes.items()}
    return {
        "engine": "axon exact", "lateral": lateral, "duration_s": duration_s, "synapses": net.n_synapses,
        "input_events": tot["input_events"], "synaptic_events": tot["synaptic_events"],
        "lateral_updates": tot["lateral_updates"], "spikes": tot["spikes"], "layer_rate_hz": rates,
        "wall_s": wall, "synaptic_events_per_s": tot["synaptic_events"] / wall,
        "real_time_factor": wall / duration_s, "peak_rss_mb": peak_rss_mb(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of input (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-lateral", action="store_true", help="only the feed-forward variant")
    args = ap.parse_args(argv)
    jit = compile_seconds()
    print(json.dumps({"engine": "axon exact", "jit_compile_or_cache_load_s": jit}))
    rows = []
    for lateral in ([False] if args.no_lateral else [True, False]):
        r = measure(args.duration, args.seed, lateral)
        print(json.dumps(r))
        rows.append(r)
    print(f"\n{'engine':<12} {'lateral':<8} {'syn events':>12} {'wall s':>8} {'events/s':>12} {'RTF':>7} {'RSS MB':>8}")
    for r in rows:
        print(f"{r['engine']:<12} {str(r['lateral']):<8} {r['synaptic_events']:>12,d} {r['wall_s']:>8.2f} "
              f"{r['synaptic_events_per_s'] / 1e6:>10.2f} M {r['real_time_factor']:>7.3f} {r['peak_rss_mb']:>8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
