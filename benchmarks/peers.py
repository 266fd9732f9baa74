"""axon's engines next to Brian2 and NEST on the reference network, measured side by side.

Every engine runs the very same arrays (``sim.examples``: the BENCHMARKS.md network with
its delays on the grid of ``--dt``, Bernoulli input at 10 Hz per channel on the same grid),
each in its own fresh subprocess (so peak RSS is per engine and no simulator's state leaks
into another), one thread each. Printed per engine: one JSON object (synaptic events, wall
seconds for build/compile and run, events/s, real-time factor, peak RSS), then a table with
the ratio of every engine's throughput to every peer's.

    python -m benchmarks.peers                                   # all engines, 10 s, dt 0.1 ms
    python -m benchmarks.peers --engines exact,grid,nest --duration 2

Two network variants, because peers cannot express everything:

* ``full``: the reference network as BENCHMARKS.md defines it (256x256 lateral groups,
  subtract reset) for the engines that express it: axon exact (spike-granular lateral),
  axon grid and Brian2 (step-granular lateral);
* ``nest``: no lateral, zero reset (NEST ``iaf_psc_delta`` resets to a fixed potential and
  delivers nothing at the step it was sent) -- run by every engine.

Synaptic events are counted the same way for every engine from its own spikes (input
events and spikes times their fan-out, lateral spikes times their group size), so the
throughputs divide comparable numbers. Benchmarks are scripts, never timed tests.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ENGINES = ("exact", "grid", "brian2_runtime", "brian2_cpp", "nest", "nest_ps")
VARIANT_ENGINES = {"full": ("exact", "grid", "brian2_runtime", "brian2_cpp"), "nest": ENGINES}


def _network(variant: str, dt_s: float):
    from sim.examples import build_reference_network

    if variant == "full":
        return build_reference_network(seed=0, dt_s=dt_s, lateral=True, reset="subtract", min_delay_steps=1)
    return build_reference_network(seed=0, dt_s=dt_s, lateral=False, reset="zero", min_delay_steps=1)


def run_one(engine: str, variant: str, dt_s: float, duration_s: float) -> dict:
    """Run one engine in this process; return its figures."""
    from bridge.peers.common import synaptic_events_from_spikes
    from sim.examples import poisson_events

    net = _network(variant, dt_s)
    ev = poisson_events(net.n_inputs, 10.0, duration_s, seed=1, dt_s=dt_s)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"engine": engine, "variant": variant, "dt_s": dt_s, "duration_s": duration_s, "n_input_events": len(ev)}
    if engine in ("exact", "grid"):
        from bridge.conventions import network_on_grid
        from sim.exact import ExactSimulator
        from sim.grid import GridSimulator

        t0 = time.perf_counter()
        sim = ExactSimulator(net) if engine == "exact" else GridSimulator(network_on_grid(net, dt_s), dt_s)
        # JIT compilation, reported separately: a short warm-up run on the same network.
        sim.run(0.05, events=None)
        build = time.perf_counter() - t0
        sim.reset()
        t1 = time.perf_counter()
        sim.run(duration_s, events=ev)
        run = time.perf_counter() - t1
        spikes = sim.result().spikes
        import numba

        out["version"] = f"axon ({'exact event-driven' if engine == 'exact' else 'grid'}), numba {numba.__version__}"
    elif engine.startswith("brian2"):
        from bridge.peers.brian2_backend import run_brian2

        pr = run_brian2(net, ev, duration_s, dt_s, device="runtime" if engine == "brian2_runtime" else "cpp_standalone")
        build, run, spikes = pr.build_s, pr.run_s, pr.spikes
        out["version"] = pr.info
    else:
        from bridge.peers.nest_backend import run_nest

        pr = run_nest(net, ev, duration_s, dt_s, model="iaf_psc_delta" if engine == "nest" else "iaf_psc_delta_ps")
        build, run, spikes = pr.build_s, pr.run_s, pr.spikes
        out["version"] = pr.info
    syn = synaptic_events_from_spikes(net, ev.channels, spikes)
    out.update({"synaptic_events": syn, "spikes": {k: len(v) for k, v in spikes.items()}, "build_s": build,
                "run_s": run, "events_per_s": syn / run if run > 0 else float("nan"),
                "real_time_factor": run / duration_s,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_mib": rss0})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated from {','.join(ENGINES)}")
    ap.add_argument("--variants", default="full,nest", help="full,nest (see the module docstring)")
    ap.add_argument("--dt", type=float, default=1e-4, help="grid step in s (default 0.1 ms, as BENCHMARKS.md)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of input (default 10)")
    ap.add_argument("--out", default=None, help="write peers.json here")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)   # child mode: ENGINE:VARIANT
    args = ap.parse_args(argv)
    if args.one:
        engine, variant = args.one.split(":")
        print(json.dumps(run_one(engine, variant, args.dt, args.duration)))
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [e for e in engines if e not in ENGINES] + [v for v in variants if v not in VARIANT_ENGINES]
    if bad:
        raise SystemExit(f"unknown {bad}; engines {','.join(ENGINES)}, variants full,nest")
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    for variant in variants:
        for engine in [e for e in engines if e in VARIANT_ENGINES[variant]]:
            cmd = [sys.executable, "-m", "benchmarks.peers", "--one", f"{engine}:{variant}", "--dt", str(args.dt),
                   "--duration", str(args.duration)]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                err = (p.stderr.strip().splitlines() or ["failed"])[-1]
                print(json.dumps({"engine": engine, "variant": variant, "error": err}), flush=True)
                rows.append({"engine": engine, "variant": variant, "error": err})
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(json.dumps(r), flush=True)
            rows.append(r)
    lines = [f"reference network, {args.duration} s of 10 Hz input, dt {args.dt * 1e3:g} ms, one thread per engine", "",
             "| variant | engine | synaptic events | build/compile (s) | run (s) | events/s | real-time factor "
             "| peak RSS (MiB) | spikes |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['variant']} | {r['engine']} | error: {r['error']} | | | | | | |")
            continue
        lines.append(f"| {r['variant']} | {r['engine']} | {r['synaptic_events']:,} | {r['build_s']:.1f} | "
                     f"{r['run_s']:.2f} | {r['events_per_s'] / 1e6:.1f} M | {r['real_time_factor']:.3f} | "
                     f"{r['peak_rss_mib']:.0f} | {sum(r['spikes'].values())} |")
    ok = [r for r in rows if "error" not in r]
    for variant in variants:
        vs = [r for r in ok if r["variant"] == variant]
        for a in vs:
            if a["engine"] not in ("exact", "grid"):
                continue
            ratios = ", ".join(f"{b['engine']} x{a['events_per_s'] / b['events_per_s']:.1f}"
                               for b in vs if b["engine"] not in ("exact", "grid"))
            if ratios:
                lines.append(f"\n{variant}: axon {a['engine']} throughput relative to {ratios}")
    print("\n".join(lines))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        cmd = "python -m benchmarks.peers " + " ".join(argv if argv is not None else sys.argv[1:])
        with open(os.path.join(args.out, "peers.json"), "w") as f:
            json.dump({"command": cmd.strip(), "rows": rows}, f, indent=2)
        with open(os.path.join(args.out, "peers.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
