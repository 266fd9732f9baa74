"""``axon simulate MODEL.h5 --events EVENTS.h5 --out DIR``: run the exact engine.

The run goes in chunks of simulated time; each chunk's spikes and readout samples are
appended to ``spikes.h5`` as it ends (:class:`bridge.runfiles.SpikeFile`), so memory does
not grow with simulated time. A run that fails or is interrupted leaves
``spikes.partial.h5`` and a ``summary.json`` whose ``status`` says so, never a ``spikes.h5``.
"""
from __future__ import annotations

import sys

HELP = "simulate a model file on an events file with the exact event-driven engine"

#: Readout samples per chunk at most (memory per chunk: this x readout size x 8 bytes).
MAX_SAMPLES_PER_CHUNK = 100_000
#: Spikes kept in memory for the raster plot (the first ones; all go to spikes.h5).
RASTER_SPIKES = 50_000


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, written by sim.model.io.save_network or axon export)")
    parser.add_argument("--events", required=True,
                        help="events file (axon.events HDF5) or an SHD-format data set file with --sample")
    parser.add_argument("--sample", type=int, default=None, help="sample index when --events is an SHD-format file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to simulate (default: last event + longest delay x number of layers "
                             "+ 5 membrane time constants)")
    parser.add_argument("--chunk", type=float, default=1.0,
                        help="seconds of simulated time per chunk: results go to disk after each (default 1)")
    parser.add_argument("--max-cascade", type=int, default=100_000, help="bound on one lateral cascade")
    parser.add_argument("--readout-interval", type=float, default=0.001,
                        help="readout sampling interval in s (default 1 ms)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def default_duration(network, events) -> float:
    """``events``: :class:`sim.model.events.Events` or :class:`sim.model.io.EventStream`."""
    last = (float(getattr(events, "last_time_s", None) if hasattr(events, "last_time_s") else events.times_s[-1])
            if len(events) else 0.0)
    max_delay = max((float(p.delay_s.max()) for p in network.projections if p.n_synapses), default=0.0)
    taus = [float(l.tau_mem_s.max()) for l in network.all_layers]
    return last + max_delay * max(1, len(network.layers)) + 5.0 * max(taus, default=0.0) + 1e-9


def _bytes(n: float) -> str:
    for unit, k in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{n:.0f} bytes"


def check_fits(network, duration_s: float, readout_interval_s: float, out_dir) -> None:
    """Reject, before anything runs, a run whose readout samples cannot fit on the disk of
    ``out_dir`` (they are written as the run goes: ``(1 + n_readout) x 8`` bytes a sample)."""
    import shutil
    from pathlib import Path

    n_ro = network.readout.size if network.readout is not None else 0
    if not n_ro:
        return
    n_samples = duration_s / readout_interval_s
    need = n_samples * (n_ro + 1) * 8
    where = Path(out_dir).resolve()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if need > free:
        raise ValueError(f"--duration {duration_s:g} s with --readout-interval {readout_interval_s:g} s is "
                         f"{n_samples:.3g} readout samples of {n_ro} values: {_bytes(need)} in spikes.h5, but "
                         f"{where} has {_bytes(free)} free; sample less often or simulate less")


def run(args) -> int:
    from bridge.startup import seconds_since_process_start
    from sim.model.io import load_network, open_event_stream

    t_imports = seconds_since_process_start()
    net = load_network(args.model)
    with open_event_stream(args.events, sample=args.sample) as ev:   # read a block at a time
        ev.validate(net.n_inputs)
        return _simulate(args, net, ev, t_imports)


def _simulate(args, net, ev, t_imports: float) -> int:
    import math
    import sys
    import time
    from pathlib import Path

    import numpy as np

    from bridge.runfiles import SpikeFile, write_json, write_summary
    from bridge.startup import compiled_cache_stats, seconds_since_process_start
    from sim.errors import is_interrupt
    from sim.engines.exact import CascadeError, ExactSimulator
    from sim.model.results import SpikeTrains

    duration = args.duration if args.duration is not None else default_duration(net, ev)
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"--duration must be a finite number > 0, got {duration!r}")
    if not math.isfinite(args.chunk) or args.chunk <= 0:
        raise ValueError(f"--chunk must be a finite number > 0, got {args.chunk!r}")
    ri = args.readout_interval
    if not math.isfinite(ri) or ri <= 0:
        raise ValueError(f"--readout-interval must be a finite number > 0, got {ri!r}")
    out = Path(args.out)
    check_fits(net, duration, ri, out)
    has_ro = net.readout is not None
    chunk = min(args.chunk, ri * MAX_SAMPLES_PER_CHUNK) if has_ro else args.chunk
    n_chunks = math.ceil(duration / chunk)
    t_loaded = seconds_since_process_start()

    t0 = time.perf_counter()
    sim = ExactSimulator(net, max_cascade=args.max_cascade, record_spikes=False, record_readout=False,
                         readout_interval_s=ri)
    sim.run(0.0)   # compiles (first run) or loads the compiled code of the kernel, simulates nothing
    t_build = time.perf_counter() - t0
    t_sim_start = seconds_since_process_start()
    cpu_sim_start = time.process_time()   # CPU seconds of this process: what load on the machine does not inflate
    out.mkdir(parents=True, exist_ok=True)
    base = {"engine": "exact", "model": str(args.model), "events": str(args.events), "duration_requested_s": duration,
            "readout_interval_s": ri}
    write_json(out / "summary.json", dict(base, status="running"))
    spk = SpikeFile(out / "spikes.h5", net)
    kept_t, kept_i, kept_until = [], [], 0.0
    n_kept = 0
    status, startup = "running", {}
    wall_start = time.perf_counter()
    bar = _progress(duration, args.quiet)
    try:
        for k in range(1, n_chunks + 1):
            b = duration if k == n_chunks else min(k * chunk, duration)
            c = sim.run(b, events=ev.before(b))
            # (the engine keeps no copy: record_readout=False; the samples go to disk here)
            spk.append(c.spike_times_s, c.spike_neurons, c.readout_times_s, c.readout)
            if n_kept < RASTER_SPIKES:
                kept_t.append(c.spike_times_s)
                kept_i.append(c.spike_neurons)
                n_kept += c.spike_times_s.size
                kept_until = b
            if k == 1:
                startup = _startup_report(t_imports, t_loaded, t_build, t_sim_start, cpu_sim_start,
                                          compiled_cache_stats())
                if not args.quiet:
                    bar.write(startup["message"])
            bar.update(b)
        status = "complete"
    except CascadeError as exc:
        status = f"failed: {exc}"
        from bridge.cli import CommandError

        raise CommandError(f"{exc} (partial results in {out}, status 'failed')") from None
    except (KeyboardInterrupt, SystemError) as exc:   # Ctrl-C in compiled code arrives as a SystemError
        if not is_interrupt(exc):
            raise
        status = "interrupted"
        bar.close()
        print(f"axon simulate: stopped at t={sim.t_now:g} s; partial results in {out} "
              "(spikes.partial.h5, summary.json status 'interrupted')", file=sys.stderr, flush=True)
        raise KeyboardInterrupt from None
    finally:
        bar.close()
        path = spk.close(sim.t_now, status if status != "running" else "failed")
        wall = time.perf_counter() - wall_start
        if status != "complete":
            write_json(out / "summary.json", dict(base, status=status if status != "running" else "failed",
                                                  simulated_s=sim.t_now, spikes_file=path.name,
                                                  wall_s=round(wall, 4), startup=startup))
    kt = np.concatenate(kept_t) if kept_t else np.zeros(0)
    ki = np.concatenate(kept_i) if kept_i else np.zeros(0, np.int64)
    offs = net.offsets()
    raster = {}
    for layer in net.layers:
        m = (ki >= offs[layer.name]) & (ki < offs[layer.name] + layer.size)
        raster[layer.name] = SpikeTrains(kt[m], ki[m] - offs[layer.name], layer.size)
    extra = dict(base, status="complete", wall_s=round(wall, 4), real_time_factor=round(wall / duration, 6),
                 spikes_file="spikes.h5", spikes_written=spk.n_spikes, readout_samples_written=spk.n_samples,
                 startup=startup)
    extra.pop("duration_requested_s")
    summary = write_summary(out, network=net, counts=sim.counts(), duration_s=duration,
                            title=f"axon simulate: {args.model}", extra=extra, raster_spikes=raster,
                            raster_window_s=(0.0, kept_until))
    if not args.quiet:
        rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in summary["layer_rate_hz"].items())
        print(f"{duration:g} s simulated in {wall:.2f} s; {summary['counts']['spikes']} spikes ({rates}); "
              f"results in {args.out}")
    return 0


def _startup_report(t_imports, t_loaded, t_build, t_sim_start, cpu_sim_start, stats) -> dict:
    from bridge.startup import seconds_since_process_start

    first = seconds_since_process_start()
    compiled = stats["cache_misses"] > 0
    how = (f"compiled in {t_build:.2f} s (first run: {stats['cache_misses']} functions compiled and cached for "
           "the next run)" if compiled else f"compiled code loaded in {t_build:.2f} s ({stats['cache_hits']} "
           "functions from the on-disk cache)")
    return {"imports_s": round(t_imports, 3), "files_loaded_s": round(t_loaded, 3),
            "simulator_built_s": round(t_build, 3), "simulating_from_s": round(t_sim_start, 3),
            "cpu_s_before_simulating": round(cpu_sim_start, 3),
            "first_chunk_done_s": round(first, 3), "compiled_this_run": compiled, **stats,
            "message": f"start-up: {how}; simulating {t_sim_start:.2f} s after process start "
                       f"({cpu_sim_start:.2f} s of CPU; first chunk done at {first:.2f} s)"}


class _NoBar:
    def update(self, b):
        pass

    def write(self, msg):
        pass

    def close(self):
        pass


class _Bar:
    def __init__(self, duration):
        import time

        from tqdm import tqdm

        self._t0 = time.perf_counter()
        self._bar = tqdm(total=duration, unit="s", desc="simulated", disable=not sys.stderr.isatty(),  # terminals only
                         bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} s [{elapsed}<{remaining}{postfix}]")

    def update(self, b):
        import time

        self._bar.update(float(b) - self._bar.n)
        self._bar.set_postfix_str(f"RTF {(time.perf_counter() - self._t0) / max(float(b), 1e-12):.3f}", refresh=False)

    def write(self, msg):
        if self._bar.disable:
            print(msg, file=sys.stderr, flush=True)
        else:
            self._bar.write(msg, file=sys.stderr)

    def close(self):
        self._bar.close()


def _progress(duration, quiet):
    return _NoBar() if quiet else _Bar(duration)
