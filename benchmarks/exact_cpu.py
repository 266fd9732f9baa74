"""CPU seconds of one exact-engine run on a variant of the reference network: the number to
compare between two checkouts of the engine.

    python -m benchmarks.exact_cpu [--variant continuous_ff] [--duration 2] [--repeat 6]

Builds the variant as ``axon bench`` does (``bridge.bench.build_inputs``), runs it once to
compile (or load the compiled code) and then ``--repeat`` more times in fresh simulators,
and prints the smallest CPU time (``time.process_time``) with the run's synaptic events
and spikes, which must be the same in both checkouts. docs/exact-engine.md compares
commits by running this in two checkouts one after the other, alternating, each under
``chrt -f 10`` (a core of its own).
"""
from __future__ import annotations

import argparse
import json
import time


def measure(variant: str, duration_s: float, repeat: int, seed: int = 0) -> dict:
    from bridge.bench import build_inputs
    from sim.engines.exact import ExactSimulator

    net, ev = build_inputs(variant, seed, 1e-4, duration_s)
    times = []
    for r in range(repeat + 1):
        sim = ExactSimulator(net)
        c0 = time.process_time()
        sim.run(duration_s, events=ev)
        if r:
            times.append(time.process_time() - c0)
    tot = sim.counts().totals()
    return {"variant": variant, "duration_s": duration_s, "repeat": repeat, "best_cpu_s": min(times),
            "cpu_s": times, "synaptic_events": tot["synaptic_events"], "lateral_updates": tot["lateral_updates"],
            "spikes": tot["spikes"]}


def main(argv=None) -> int:
    from bridge.bench import VARIANTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="continuous_ff", choices=sorted(VARIANTS))
    ap.add_argument("--duration", type=float, default=2.0, help="seconds of input (default 2)")
    ap.add_argument("--repeat", type=int, default=6, help="timed runs after the first (default 6)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.duration <= 0 or args.repeat < 1:
        ap.error("--duration must be > 0 and --repeat >= 1")
    r = measure(args.variant, args.duration, args.repeat, args.seed)
    print(json.dumps(r))
    print(f"{r['variant']}: best {r['best_cpu_s']:.3f} s CPU of {r['repeat']} runs, "
          f"{r['synaptic_events']:,} synaptic events, {r['spikes']:,} spikes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
