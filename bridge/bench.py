"""``axon bench``: axon's engines and their peers on the docs/benchmarks.md reference network,
measured side by side on the very same arrays, with the identities docs/semantics.md promises
checked on the spikes of the timed runs themselves.

The parent builds every network variant and its input once from the seed and writes them
to ``OUT/inputs/`` (model and events files); every engine then runs in its own fresh
subprocess (``python -m bridge.bench --child ...``), one thread, reading those files, so
that peak RSS is per engine and no simulator's state leaks into another. Synaptic events
are counted the same way for every engine from its own spikes
(:func:`bridge.peers.common.synaptic_events_from_spikes`).

Variants (``--variants``):

* ``continuous``: the docs/benchmarks.md network with continuous delays 0-250 ms and lateral
  groups, continuous-time Poisson input (as ``benchmarks/exact_throughput.py``): exact only;
* ``continuous_ff``: the same without lateral groups: exact only;
* ``full``: delays and input on the grid of ``--dt`` (>= 1 step), lateral groups, subtract
  reset: exact, grid, Brian2 runtime and ``cpp_standalone``;
* ``nest``: on the grid, no lateral, zero reset: every engine, NEST included.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["ENGINES", "VARIANTS", "PEER_PACKAGE", "run_bench", "machine_description", "identity_checks"]

ENGINES = ("exact", "grid", "brian2_runtime", "brian2_cpp", "nest", "nest_ps")
AXON_ENGINES = ("exact", "grid")
PEER_PACKAGE = {"brian2_runtime": "brian2", "brian2_cpp": "brian2", "nest": "nest", "nest_ps": "nest"}
ENGINE_LABEL = {"exact": "axon exact", "grid": "axon grid", "brian2_runtime": "Brian2 runtime (numpy)",
                "brian2_cpp": "Brian2 cpp_standalone", "nest": "NEST iaf_psc_delta",
                "nest_ps": "NEST iaf_psc_delta_ps"}
VARIANTS = {
    "continuous": {"engines": ("exact",), "grid": False, "lateral": True, "reset": "subtract",
                   "about": "continuous delays 0-250 ms, lateral groups, continuous-time input"},
    "continuous_ff": {"engines": ("exact",), "grid": False, "lateral": False, "reset": "subtract",
                      "about": "continuous delays 0-250 ms, no lateral, continuous-time input"},
    "full": {"engines": ("exact", "grid", "brian2_runtime", "brian2_cpp"), "grid": True, "lateral": True,
             "reset": "subtract", "about": "delays and input on the grid, lateral groups, subtract reset"},
    "nest": {"engines": ENGINES, "grid": True, "lateral": False, "reset": "zero",
             "about": "delays and input on the grid, no lateral, zero reset"},
}
#: Pairs docs/semantics.md calls identical, checked per variant: (reference, other, tolerance kind, note).
IDENTITIES = {
    "full": [("grid", "brian2_runtime", "grid", "identical spikes, step for step"),
             ("grid", "brian2_cpp", "grid", "identical spikes, step for step")],
    "nest": [("grid", "brian2_runtime", "grid", "identical spikes, step for step"),
             ("grid", "brian2_cpp", "grid", "identical spikes, step for step"),
             ("grid", "nest", "grid", "identical spikes, step for step"),
             ("grid", "exact", "grid", "inputs and delays on the grid, no lateral, no drive: identical "
                                       "except near-threshold ties (|V - threshold| < 1e-9)"),
             ("exact", "nest_ps", "precise", "reported, not expected: docs/semantics.md pairs these on off-grid "
                                             "input; here the input is on the grid")],
}
#: Pairs reported without an identity expected (their docs/semantics.md condition does not hold).
NOT_EXPECTED = {("nest", "exact", "nest_ps")}
#: Grid runs agree on a spike when it is in the same step (times n * dt on both sides).
GRID_TIME_TOL_STEPS = 1e-6
PRECISE_TIME_TOL_S = 1e-9
RATE_HZ = 10.0


def _available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _log(msg: str) -> None:
    print(f"axon bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------

def build_inputs(variant: str, seed: int, dt_s: float, duration_s: float):
    """The network and input events of ``variant`` (see the module docstring)."""
    from sim.model.examples import N_IN, build_reference_network, poisson_events

    spec = VARIANTS[variant]
    if spec["grid"]:
        net = build_reference_network(seed, dt_s=dt_s, lateral=spec["lateral"], reset=spec["reset"],
                                      min_delay_steps=1)
        ev = poisson_events(N_IN, RATE_HZ, duration_s, seed + 1, dt_s=dt_s)
    else:
        net = build_reference_network(seed, lateral=spec["lateral"], reset=spec["reset"])
        ev = poisson_events(N_IN, RATE_HZ, duration_s, seed + 1)
    return net, ev


def peer_available(package: str) -> str | None:
    """None when ``package`` (brian2, nest) can be found, else a one-line reason."""
    import importlib.util

    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed (pip install 'axon[peers]'); its rows are skipped"
    return None


def machine_description(argv: list[str] | None = None) -> dict:
    """CPU model, cores, RAM, versions (read from package metadata: nothing heavy imported),
    date (UTC) and command line."""
    import importlib.metadata as md

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass

    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None

    return {
        "cpu_model": cpu, "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": ram_gib, "os": platform.platform(), "python": platform.python_version(),
        "versions": {"numpy": version("numpy"), "numba": version("numba"), "brian2": version("brian2"),
                     "nest": version("nest-simulator")},
        "threads_per_engine": 1,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "axon bench " + " ".join(argv if argv is not None else sys.argv[1:]),
    }


# ---------------------------------------------------------------------------------------
# one engine (child process)
# ---------------------------------------------------------------------------------------

def _peak_rss_mib() -> tuple[float, float]:
    """Peak RSS of this process and of its largest waited-for descendant (MiB)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def run_engine(engine: str, network_path: str, events_path: str, dt_s: float, duration_s: float,
               spikes_path: str | None = None) -> dict:
    """Run one engine in this process on the files the parent wrote; return its figures and
    write its spikes (``<layer>/times_s``, ``<layer>/neurons`` in an ``.npz``)."""
    import numpy as np

    from bridge.peers.common import synaptic_events_from_spikes
    from sim.model.io import load_events, load_network

    net = load_network(network_path)
    ev = load_events(events_path)
    rss0 = _peak_rss_mib()[0]
    out = {"engine": engine, "n_input_events": len(ev)}
    if engine in AXON_ENGINES:
        import numba

        from bridge.conventions import network_on_grid
        from sim.engines.exact import ExactSimulator
        from sim.engines.grid import GridSimulator

        t0 = time.perf_counter()
        sim = (ExactSimulator(net) if engine == "exact"
               else GridSimulator(network_on_grid(net, dt_s), dt_s, record_readout=False))
        sim.run(min(0.05, duration_s))   # JIT compilation or cache load: reported as build time
        build = time.perf_counter() - t0
        sim.reset()
        t1 = time.perf_counter()
        c1 = time.process_time()
        sim.run(duration_s, events=ev)
        run = time.perf_counter() - t1
        # CPU time of the run as well: what Brian2 cpp_standalone reports as its run time
        # (std::clock() in its binary), so that the two compare on a loaded machine too.
        out["run_cpu_s"] = time.process_time() - c1
        spikes = sim.result().spikes
        out["version"] = f"axon {engine}, numba {numba.__version__}"
        if engine == "exact":
            out["tick_s"] = 1e-12
    elif engine.startswith("brian2"):
        from bridge.peers.brian2_backend import run_brian2

        pr = run_brian2(net, ev, duration_s, dt_s, device="runtime" if engine == "brian2_runtime" else "cpp_standalone")
        build, run, spikes = pr.build_s, pr.run_s, pr.spikes
        out["version"] = f"brian2 {pr.info.get('brian2_version')}"
        out["info"] = pr.info
    elif engine in ("nest", "nest_ps"):
        from bridge.peers.nest_backend import run_nest

        pr = run_nest(net, ev, duration_s, dt_s, model="iaf_psc_delta" if engine == "nest" else "iaf_psc_delta_ps")
        build, run, spikes = pr.build_s, pr.run_s, pr.spikes
        out["version"] = f"nest {pr.info.get('nest_version')}"
        out["info"] = pr.info
    else:
        raise ValueError(f"unknown engine {engine!r}")
    syn = synaptic_events_from_spikes(net, ev.channels, spikes)
    own, children = _peak_rss_mib()
    out.update({"synaptic_events": int(syn), "spikes": {k: len(v) for k, v in spikes.items()},
                "build_s": build, "run_s": run, "events_per_s": syn / run if run > 0 else None,
                "real_time_factor": run / duration_s, "peak_rss_mib": max(own, children),
                "peak_rss_self_mib": own, "peak_rss_children_mib": children, "rss_after_load_mib": rss0})
    if spikes_path:
        arrays = {}
        for k, v in spikes.items():
            arrays[f"{k}/times_s"] = v.times_s
            arrays[f"{k}/neurons"] = v.neurons
            arrays[f"{k}/size"] = np.array(v.size)
        np.savez(spikes_path, **arrays)
    return out


def load_spikes(path) -> dict:
    import numpy as np

    from sim.model.results import SpikeTrains

    with np.load(path) as z:
        names = sorted({k.split("/")[0] for k in z.files})
        return {n: SpikeTrains(z[f"{n}/times_s"], z[f"{n}/neurons"], int(z[f"{n}/size"])) for n in names}


def _child_main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m bridge.bench")
    ap.add_argument("engine")
    ap.add_argument("network")
    ap.add_argument("events")
    ap.add_argument("--dt", type=float, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--spikes", default=None)
    a = ap.parse_args(argv)
    try:
        r = run_engine(a.engine, a.network, a.events, a.dt, a.duration, a.spikes)
    except Exception as exc:  # one line back to the parent; the parent reports it in the table
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}))
        return 3
    print(json.dumps(r))
    return 0


# ---------------------------------------------------------------------------------------
# identities
# ---------------------------------------------------------------------------------------

def identity_checks(variant: str, spikes: dict, duration_s: float, dt_s: float) -> list[dict]:
    """The docs/semantics.md identities of ``variant`` between engines that ran, on their spikes."""
    from bridge.compare import compare_runs

    out = []
    for ref, other, kind, note in IDENTITIES.get(variant, []):
        if ref not in spikes or other not in spikes:
            continue
        a, b = spikes[ref], spikes[other]
        layers = [k for k in a if k in b]
        tol = GRID_TIME_TOL_STEPS * dt_s if kind == "grid" else PRECISE_TIME_TOL_S
        comp = compare_runs({k: a[k] for k in layers}, {k: b[k] for k in layers}, duration_s=duration_s,
                            labels=(ref, other), time_tol_s=tol)
        o = comp.overall
        out.append({"variant": variant, "a": ref, "b": other, "identical": bool(comp.identical),
                    "expected": (variant, ref, other) not in NOT_EXPECTED,
                    "time_tolerance_s": tol, "note": note, "spikes_a": int(o.spikes_a), "spikes_b": int(o.spikes_b),
                    "neurons_differing": int(o.neurons_differing), "unmatched_a": int(o.unmatched_a),
                    "unmatched_b": int(o.unmatched_b),
                    "first_divergence_s": None if o.first_divergence_s is None else float(o.first_divergence_s)})
    return out


# ---------------------------------------------------------------------------------------
# the whole benchmark (parent)
# ---------------------------------------------------------------------------------------

def _parse_list(text: str, allowed, what: str) -> list[str]:
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad:
        raise ValueError(f"{what}: unknown {', '.join(bad)}; choose from {','.join(allowed)}")
    return list(dict.fromkeys(items))


def plan_jobs(engines, variants, peers) -> tuple[list[tuple[str, str]], list[str]]:
    """(variant, engine) pairs to run and one-line notes on peers left out."""
    notes, skip = [], set()
    for pkg in sorted({PEER_PACKAGE[e] for e in engines if e in PEER_PACKAGE}):
        if pkg not in peers:
            skip.add(pkg)
            continue
        why = peer_available(pkg)
        if why:
            notes.append(why)
            skip.add(pkg)
    jobs = [(v, e) for v in variants for e in VARIANTS[v]["engines"]
            if e in engines and PEER_PACKAGE.get(e) not in skip]
    return jobs, notes


def _run_child(engine, variant, files, dt_s, duration_s, spikes_path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "bridge.bench", "--child", engine, str(files[0]), str(files[1]),
           "--dt", repr(dt_s), "--duration", repr(duration_s), "--spikes", str(spikes_path)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.startswith("{")]
    if lines:
        r = json.loads(lines[-1])
    else:
        err = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
        r = {"error": err}
    r.update({"engine": engine, "variant": variant, "process_wall_s": wall})
    return r


def _aggregate(runs: list[dict]) -> dict:
    """One row from ``--repeat`` runs: medians of the times, the first run's counts."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return dict(runs[0])
    row = dict(ok[0])
    for k in ("build_s", "run_s", "peak_rss_mib"):
        row[k] = statistics.median(r[k] for r in ok)
    row["run_s_all"] = [r["run_s"] for r in ok]
    row["build_s_all"] = [r["build_s"] for r in ok]
    if all("run_cpu_s" in r for r in ok):
        row["run_cpu_s"] = statistics.median(r["run_cpu_s"] for r in ok)
        row["run_cpu_s_all"] = [r["run_cpu_s"] for r in ok]
    row["repeats"] = len(ok)
    row["events_per_s"] = row["synaptic_events"] / row["run_s"] if row["run_s"] > 0 else None
    row["real_time_factor"] = row["run_s"] / row["duration_s"]
    if len(ok) < len(runs):
        row["failed_repeats"] = [r["error"] for r in runs if "error" in r]
    return row


def run_bench(*, out_dir, duration_s: float = 10.0, dt_s: float = 1e-4, engines=ENGINES, variants=tuple(VARIANTS),
              peers=("brian2", "nest"), repeat: int = 1, seed: int = 0, argv=None, log=_log) -> dict:
    """Build the inputs, run every (variant, engine) ``repeat`` times (interleaved), check the
    identities, write ``bench.json``, ``bench.md`` and ``bench.png`` in ``out_dir``."""
    import numpy as np

    from bridge.conventions import n_steps_for, steps_to_seconds
    from sim.model.io import save_events, save_network

    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"--duration must be a finite number > 0 s, got {duration_s!r}")
    if not (isinstance(dt_s, (int, float)) and math.isfinite(dt_s) and 0 < dt_s <= 0.01):
        raise ValueError(f"--dt must be a number in (0, 0.01] s, got {dt_s!r}")
    if RATE_HZ * dt_s > 1:
        raise ValueError(f"--dt {dt_s!r} s is too coarse for {RATE_HZ:g} Hz input")
    if int(repeat) != repeat or repeat < 1:
        raise ValueError(f"--repeat must be an integer >= 1, got {repeat!r}")
    # A whole number of steps, so that every engine simulates the same interval.
    duration_s = float(steps_to_seconds(n_steps_for(duration_s, dt_s), dt_s))
    if duration_s <= 0:
        raise ValueError(f"--duration must be at least one step of {dt_s!r} s")
    # The input is held in memory (24 bytes per event, a few copies while it is built).
    need = 4 * 24 * 700 * RATE_HZ * duration_s
    avail = _available_bytes()
    if avail is not None and need > avail:
        raise ValueError(f"--duration {duration_s:g} s: the benchmark input would need about {need / 2**30:.3g} GiB "
                         f"of memory, {avail / 2**30:.3g} GiB are available")
    out = Path(out_dir)
    inputs = out / "inputs"
    spikes_dir = out / "spikes"
    inputs.mkdir(parents=True, exist_ok=True)
    spikes_dir.mkdir(parents=True, exist_ok=True)
    jobs, notes = plan_jobs(engines, variants, peers)
    for n in notes:
        log(n)
    if not jobs:
        raise ValueError("nothing to run: no engine of --engines runs on --variants with the peers available")
    files = {}
    for v in dict.fromkeys(v for v, _ in jobs):
        t0 = time.perf_counter()
        net, ev = build_inputs(v, seed, dt_s, duration_s)
        files[v] = (inputs / f"{v}.model.h5", inputs / f"{v}.events.h5")
        save_network(files[v][0], net)
        save_events(files[v][1], ev, n_channels=net.n_inputs)
        n_lat = sum(int(lat.omega.size) for lat in net.laterals)
        log(f"{v}: {net.n_synapses:,} feed-forward synapses + {n_lat:,} lateral entries, {len(ev):,} input events ({time.perf_counter() - t0:.1f} s to build)")
    runs: dict[tuple[str, str], list[dict]] = {j: [] for j in jobs}
    total = len(jobs) * repeat
    k = 0
    for rep in range(repeat):   # interleaved, so that a noisy minute spreads over every engine
        for v, e in jobs:
            k += 1
            log(f"[{k}/{total}] {v}: {ENGINE_LABEL[e]}{f' (repeat {rep + 1})' if repeat > 1 else ''} ...")
            r = _run_child(e, v, files[v], dt_s, duration_s, spikes_dir / f"{v}.{e}.npz" if rep == 0 else "")
            r["duration_s"] = duration_s
            if "error" in r:
                log(f"    error: {r['error']}")
            else:
                log(f"    build {r['build_s']:.2f} s, run {r['run_s']:.2f} s, "
                    f"{r['events_per_s'] / 1e6:.2f} M synaptic events/s, peak RSS {r['peak_rss_mib']:.0f} MiB")
            runs[(v, e)].append(r)
    rows = [_aggregate(runs[j]) for j in jobs]
    _ratios(rows)
    checks = []
    for v in dict.fromkeys(v for v, _ in jobs):
        sp = {e: load_spikes(spikes_dir / f"{v}.{e}.npz") for (vv, e) in jobs
              if vv == v and (spikes_dir / f"{v}.{e}.npz").exists()
              and not any("error" in r for r in runs[(v, e)][:1])}
        checks += identity_checks(v, sp, duration_s, dt_s)
    report = {"machine": machine_description(argv), "duration_s": duration_s, "dt_s": dt_s, "seed": seed,
              "input_rate_hz": RATE_HZ, "repeat": repeat, "notes": notes,
              "variants": {v: VARIANTS[v]["about"] for v in dict.fromkeys(v for v, _ in jobs)},
              "rows": rows, "identities": checks}
    _write(out, report)
    return report


def _ratios(rows: list[dict]) -> None:
    """Per row: axon exact's and grid's throughput on the same variant divided by this row's."""
    by = {(r["variant"], r["engine"]): r for r in rows if "error" not in r and r.get("events_per_s")}
    for r in rows:
        if "error" in r or not r.get("events_per_s"):
            continue
        for ax in AXON_ENGINES:
            a = by.get((r["variant"], ax))
            r[f"{ax}_over_this"] = a["events_per_s"] / r["events_per_s"] if a and ax != r["engine"] else None


# ---------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------

def _x(v) -> str:
    return "" if v is None else f"x{v:.2f}"


def table_lines(report: dict) -> list[str]:
    lines = ["| variant | engine | synaptic events | build/compile (s) | run (s) | events/s | real-time factor "
             "| peak RSS (MiB) | axon exact / this | axon grid / this |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        name = ENGINE_LABEL[r["engine"]]
        if "error" in r:
            lines.append(f"| {r['variant']} | {name} | error: {r['error']} | | | | | | | |")
            continue
        lines.append(f"| {r['variant']} | {name} | {r['synaptic_events']:,} | {r['build_s']:.2f} | {r['run_s']:.2f} "
                     f"| {r['events_per_s'] / 1e6:.2f} M | {r['real_time_factor']:.3f} | {r['peak_rss_mib']:.0f} "
                     f"| {_x(r.get('exact_over_this'))} | {_x(r.get('grid_over_this'))} |")
    return lines


def verdict_lines(report: dict) -> list[str]:
    out = []
    for c in report["identities"]:
        word = ("IDENTICAL" if c["identical"] else "NOT IDENTICAL") + ("" if c["expected"] else " (not expected)")
        if c["identical"] and c["spikes_a"] == 0:
            word += " (no spikes to compare: run longer)"
        extra = "" if c["identical"] else (f" ({c['neurons_differing']} neurons differ, {c['unmatched_a']} / "
                                           f"{c['unmatched_b']} unmatched spikes, first divergence at "
                                           f"{c['first_divergence_s']} s)")
        out.append(f"{c['variant']}: {ENGINE_LABEL[c['a']]} vs {ENGINE_LABEL[c['b']]}: {word}, "
                   f"{c['spikes_a']:,} / {c['spikes_b']:,} spikes{extra} [{c['note']}]")
    return out


def _write(out: Path, report: dict) -> None:
    from bridge.runfiles import write_json

    m = report["machine"]
    head = (f"Reference network (docs/benchmarks.md), {report['duration_s']:g} s of {report['input_rate_hz']:g} Hz input "
            f"per channel, dt {report['dt_s'] * 1e3:g} ms, seed {report['seed']}, one thread per engine, "
            f"each engine in its own process; median of {report['repeat']} run(s). "
            f"{m['cpu_model']}, {m['cpu_count']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + f"; {m['date_utc']}.")
    md = ["# axon bench", "", f"`{m['command']}`", "", head, "", *table_lines(report), "",
          "*Synaptic events: every input event and spike times its fan-out (lateral spikes times their group), "
          "counted from each engine's own spikes. Events/s = synaptic events / run seconds; build/compile "
          "(network construction, code generation, compilation or compiled-code cache load) is shown beside "
          "it, never in it. Peak RSS includes the interpreter and its imports (and Brian2's standalone "
          "worker). The last two columns: axon's throughput on the same variant divided by the row's.*", "",
          "## Identities (docs/semantics.md)", "", *[f"- {v}" for v in verdict_lines(report)], "",
          "## Variants", "", *[f"- `{k}`: {v}" for k, v in report["variants"].items()], ""]
    if report["notes"]:
        md += ["## Notes", "", *[f"- {n}" for n in report["notes"]], ""]
    md += ["![throughput](bench.png)", "",
           "*Synaptic events per second of run time, per engine and variant (log scale).*", ""]
    write_json(out / "bench.json", report)
    (out / "bench.md").write_text("\n".join(md))
    plot(out / "bench.png", report)


def plot(path, report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report["rows"] if "error" not in r and r.get("events_per_s")]
    labels = [f"{r['variant']}\n{ENGINE_LABEL[r['engine']]}" for r in rows]
    colors = {"exact": "tab:blue", "grid": "tab:cyan", "brian2_runtime": "tab:olive", "brian2_cpp": "tab:green",
              "nest": "tab:orange", "nest_ps": "tab:red"}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(rows) + 2), 5.4))
    vals = [r["events_per_s"] / 1e6 for r in rows]
    ax.bar(range(len(rows)), vals, color=[colors[r["engine"]] for r in rows])
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
    if vals and max(vals) > 0:
        ax.set_yscale("log")
    ax.set_ylabel("synaptic events/s of run time (M, log)")
    ax.set_xlabel("network variant and engine")
    ax.set_title(f"Throughput on the reference network, {report['duration_s']:g} s of input, "
                 f"dt {report['dt_s'] * 1e3:g} ms, one thread each")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        raise SystemExit(_child_main(sys.argv[2:]))
    raise SystemExit("usage: axon bench (this module's command line is for its own subprocesses)")
