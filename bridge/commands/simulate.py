"""``axon simulate MODEL.h5 --events EVENTS.h5 --out DIR``: run the exact engine."""
from __future__ import annotations

HELP = "simulate a model file on an events file with the exact event-driven engine"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, written by sim.io.save_network or axon export)")
    parser.add_argument("--events", required=True,
                        help="events file (axon.events HDF5) or an SHD-format data set file with --sample")
    parser.add_argument("--sample", type=int, default=None, help="sample index when --events is an SHD-format file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to simulate (default: last event + longest delay + 5 membrane time constants)")
    parser.add_argument("--chunk", type=float, default=1.0, help="seconds per chunk for progress (default 1)")
    parser.add_argument("--max-cascade", type=int, default=100_000, help="bound on one lateral cascade")
    parser.add_argument("--readout-interval", type=float, default=0.001,
                        help="readout sampling interval in s (default 1 ms)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def default_duration(network, events) -> float:
    last = float(events.times_s[-1]) if len(events) else 0.0
    max_delay = max((float(p.delay_s.max()) for p in network.projections if p.n_synapses), default=0.0)
    taus = [float(l.tau_mem_s.max()) for l in network.all_layers]
    return last + max_delay * max(1, len(network.layers)) + 5.0 * max(taus, default=0.0) + 1e-9


def run(args) -> int:
    import time

    import numpy as np
    from tqdm import tqdm

    from bridge.runfiles import write_run
    from sim.exact import ExactSimulator
    from sim.io import load_events, load_network

    net = load_network(args.model)
    ev = load_events(args.events, sample=args.sample)
    ev.check_channels(net.n_inputs)
    duration = args.duration if args.duration is not None else default_duration(net, ev)
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"--duration must be a finite number > 0, got {duration!r}")
    if args.chunk <= 0:
        raise ValueError(f"--chunk must be > 0, got {args.chunk!r}")
    sim = ExactSimulator(net, max_cascade=args.max_cascade, readout_interval_s=args.readout_interval)
    sim.add_events(ev)
    bounds = list(np.arange(args.chunk, duration, args.chunk)) + [duration]
    t0 = time.perf_counter()
    with tqdm(total=duration, unit="s", disable=args.quiet, desc="simulated",
              bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} s [{elapsed}<{remaining}{postfix}]") as bar:
        for b in bounds:
            sim.run(float(b))
            bar.update(float(b) - bar.n)
            bar.set_postfix_str(f"RTF {(time.perf_counter() - t0) / max(float(b), 1e-12):.3f}")
    wall = time.perf_counter() - t0
    res = sim.result()
    extra = {"engine": "exact", "model": str(args.model), "events": str(args.events), "wall_s": round(wall, 4),
             "real_time_factor": round(wall / duration, 6)}
    summary = write_run(args.out, res, network=net, title=f"axon simulate: {args.model}", extra=extra)
    if not args.quiet:
        rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in summary["layer_rate_hz"].items())
        print(f"{duration:g} s simulated in {wall:.2f} s; {summary['counts']['spikes']} spikes ({rates}); "
              f"results in {args.out}")
    return 0
