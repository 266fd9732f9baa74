"""Cross-validation of one network on one input: axon's engines against the training
forward pass, Brian2 and NEST (docs/semantics.md, "What must agree, and how closely").

Every peer is compared with the axon engine docs/semantics.md pairs it with, under that row's
condition, and the verdict says whether identity was *expected* (the condition holds) and
whether it was *found*:

=========================  =============  ==============================================
peer                       reference      identity expected when
=========================  =============  ==============================================
``torch`` (float64)        grid engine    always (same dt)
``brian2``                 grid engine    always (an inexpressible network is an error)
``nest`` (iaf_psc_delta)   grid engine    always (an inexpressible network is an error)
``nest`` (..._delta_ps)    exact engine   input events off or on grid, delays on the
                                          grid, no lateral, no drive; times within 1e-9 s
``exact``                  grid engine    inputs and delays on the grid, no lateral, no
                                          drive (up to near-threshold ties)
=========================  =============  ==============================================

A peer that fails (not installed, network it cannot express) is reported with its error
and the others still run; nothing computed is lost.
"""
from __future__ import annotations

import math
import time
import traceback
from pathlib import Path

import numpy as np

from bridge.conventions import check_on_grid, n_steps_for, steps_to_seconds

__all__ = ["PEERS", "validate", "default_duration_s"]

PEERS = ("torch", "brian2", "nest", "exact")

#: Two grid runs agree on a spike when it falls in the same step; times are compared with
#: this fraction of a step as tolerance (they are n * dt on both sides, up to rounding).
GRID_TIME_TOL_STEPS = 1e-6
#: docs/semantics.md: exact engine vs NEST iaf_psc_delta_ps, times within 1e-9 s.
PRECISE_TIME_TOL_S = 1e-9


def default_duration_s(network, events, dt_s: float) -> float:
    """Last event + longest delay per layer + 5 membrane time constants, in whole steps."""
    from bridge.commands.simulate import default_duration

    return float(steps_to_seconds(math.ceil(default_duration(network, events) / dt_s), dt_s))


def _exact_result(network, events, duration_s):
    from sim.engines.exact import simulate

    return simulate(network, events, duration_s)


def _grid_result(network, events, duration_s, dt_s):
    from bridge.conventions import network_on_grid
    from sim.engines.grid import simulate_grid

    return simulate_grid(network_on_grid(network, dt_s), events, duration_s, dt_s)


def memory_needed_bytes(network, n_steps: int, against) -> float:
    """What the step-indexed arrays of one validation take: the grid engine's per-step input
    index and readout record (``(2 + n_readout) x 8`` bytes a step); the training forward
    pass (``torch``) holds inputs and every layer's state per step in float64."""
    n_ro = network.readout.size if network.readout is not None else 0
    per_step = 8.0 * (2 + n_ro)
    if "torch" in against:
        per_step += 8.0 * 2 * (network.n_inputs + network.n_neurons)
    return float(n_steps) * per_step


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(network, n_steps: int, dt_s: float, against) -> None:
    """Reject up front a duration whose per-step arrays cannot fit in memory, with the size."""
    need = memory_needed_bytes(network, n_steps, against)
    avail = _available_bytes()
    if avail is not None and need > avail:
        raise ValueError(f"--duration {n_steps * dt_s:g} s is {n_steps:.3g} steps of {dt_s:g} s: the engines would "
                         f"need about {need / 2**30:,.0f} GiB of memory, {avail / 2**30:.1f} GiB are available; "
                         "use a shorter --duration")


def _on_grid(x, dt_s: float) -> bool:
    try:
        check_on_grid(x, dt_s)
    except ValueError:
        return False
    return True


def _conditions(network, events, dt_s: float) -> dict:
    delays = [p.delay_s for p in network.projections]
    return {
        "inputs_on_grid": _on_grid(events.times_s, dt_s),
        "delays_on_grid": all(_on_grid(d, dt_s) for d in delays),
        "lateral": bool(network.laterals),
        "drive": any(bool(np.any(np.asarray(l.drive) != 0)) for l in network.layers),
    }


def validate(network, events, *, against, dt_s: float, duration_s: float | None = None, out_dir=None,
             checkpoint=None, brian2_device: str = "runtime", nest_model: str = "iaf_psc_delta",
             log=print) -> dict:
    """Run the reference engines and each peer in ``against``; compare; write ``out_dir``.

    Returns a JSON-ready dict: one entry per peer with the reference it was compared with,
    whether identity was expected, the comparison summary (``bridge.compare``), timings,
    or the error that stopped it.
    """
    from bridge.compare import compare_runs, write_comparison

    against = list(dict.fromkeys(against))
    bad = [a for a in against if a not in PEERS]
    if bad or not against:
        raise ValueError(f"--against: unknown {bad or against!r}; choose from {','.join(PEERS)}")
    if nest_model not in ("iaf_psc_delta", "iaf_psc_delta_ps"):
        raise ValueError(f"nest model must be iaf_psc_delta or iaf_psc_delta_ps, got {nest_model!r}")
    if not (math.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"dt must be a finite number > 0 s, got {dt_s!r}")
    if duration_s is None:
        duration_s = default_duration_s(network, events, dt_s)
    duration_s = float(steps_to_seconds(n_steps_for(duration_s, dt_s), dt_s))
    if duration_s <= 0:
        raise ValueError(f"duration must be at least one step of {dt_s} s")
    check_memory(network, n_steps_for(duration_s, dt_s), dt_s, against)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    cond = _conditions(network, events, dt_s)
    refs: dict[str, object] = {}

    def reference(name):
        if name not in refs:
            t0 = time.perf_counter()
            refs[name] = (_grid_result(network, events, duration_s, dt_s) if name == "grid"
                          else _exact_result(network, events, duration_s))
            log(f"  {name} engine: {sum(len(s) for s in refs[name].spikes.values())} spikes "
                f"({time.perf_counter() - t0:.1f} s)")
        return refs[name]

    report = {"dt_s": dt_s, "duration_s": duration_s, "n_events": len(events), "conditions": cond, "peers": {}}
    for peer in against:
        entry: dict = {}
        report["peers"][peer] = entry
        try:
            log(f"{peer}:")
            if peer == "exact":
                ref_name, expected = "grid", (cond["inputs_on_grid"] and cond["delays_on_grid"]
                                              and not cond["lateral"] and not cond["drive"])
                tol = GRID_TIME_TOL_STEPS * dt_s
                t0 = time.perf_counter()
                res = reference("exact")
                run = {"engine": "exact", "spikes": res.spikes, "wall_s": time.perf_counter() - t0}
                note = "docs/semantics.md: identical on grid-aligned input without lateral or drive, up to near-threshold ties"
            elif peer == "nest" and nest_model == "iaf_psc_delta_ps":
                ref_name = "exact"
                expected = cond["delays_on_grid"] and not cond["lateral"] and not cond["drive"]
                tol = PRECISE_TIME_TOL_S
                run = _run_peer(peer, network, events, duration_s, dt_s, checkpoint, brian2_device, nest_model)
                note = "docs/semantics.md: exact engine vs iaf_psc_delta_ps, on-grid delays, feed-forward: times within 1e-9 s"
            else:
                ref_name, expected, tol = "grid", True, GRID_TIME_TOL_STEPS * dt_s
                run = _run_peer(peer, network, events, duration_s, dt_s, checkpoint, brian2_device, nest_model)
                note = "docs/semantics.md: identical spikes, step for step"
            ref = reference(ref_name)
            label = run["engine"]
            comp = compare_runs(ref.spikes, run["spikes"], duration_s=duration_s, labels=(ref_name, label),
                                time_tol_s=tol)
            d = {"identical": bool(comp.identical), "overall": comp.overall.to_dict(include_arrays=False),
                 "layers": {k: v.to_dict(include_arrays=False) for k, v in comp.layers.items()}}
            identical = bool(comp.identical)
            entry.update({"engine": label, "reference": ref_name, "identity_expected": expected,
                          "identical": identical, "time_tolerance_s": tol, "note": note,
                          "timing": run.get("timing", {"wall_s": run.get("wall_s")}), "comparison": d})
            if out is not None:
                entry["files"] = [str(p) for p in write_comparison(comp, out / peer, ref.spikes, run["spikes"])]
            verdict = "identical" if identical else "NOT identical"
            log(f"  {label} vs {ref_name}: {verdict} ({'expected' if expected else 'not expected'} to be)")
        except Exception as exc:  # a failing peer must not lose the others' results
            entry.update({"error": f"{type(exc).__name__}: {exc}"})
            if not isinstance(exc, (ValueError, FileNotFoundError, ImportError)) and not _unavailable(exc):
                entry["traceback"] = traceback.format_exc()
            log(f"  error: {exc}")
        if out is not None:
            _write_report(out, report)
    return report


def _unavailable(exc) -> bool:
    from bridge.peers.common import PeerUnavailable

    return isinstance(exc, PeerUnavailable)


def _run_peer(peer, network, events, duration_s, dt_s, checkpoint, brian2_device, nest_model) -> dict:
    if peer == "torch":
        from bridge.peers.torch_backend import run_torch

        if not checkpoint:
            raise ValueError("torch needs the training checkpoint the model was exported from: pass --checkpoint "
                             "(the model file names none)")
        pr = run_torch(checkpoint, network, events, duration_s, dt_s)
    elif peer == "brian2":
        from bridge.peers.brian2_backend import run_brian2

        pr = run_brian2(network, events, duration_s, dt_s, device=brian2_device)
    else:
        from bridge.peers.nest_backend import run_nest

        pr = run_nest(network, events, duration_s, dt_s, model=nest_model)
    return {"engine": pr.engine, "spikes": pr.spikes, "timing": {"build_s": pr.build_s, "run_s": pr.run_s},
            "summary": pr.summary()}


def _write_report(out: Path, report: dict) -> None:
    from bridge.runfiles import write_json

    write_json(out / "validate.json", report)
    c = report["conditions"]
    lines = ["# axon validate", "",
             f"dt {report['dt_s']:g} s, {report['duration_s']:g} s simulated, {report['n_events']} input events; "
             f"inputs on grid: {c['inputs_on_grid']}, delays on grid: {c['delays_on_grid']}, "
             f"lateral: {c['lateral']}, drive: {c['drive']}.", "",
             "| peer | reference | identity expected | identical | spikes (ref / peer) | neurons differing "
             "| first divergence (s) | rate corr. | time (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for peer, e in report["peers"].items():
        if "error" in e:
            lines.append(f"| {peer} | | | error: {e['error']} | | | | | |")
            continue
        d = e["comparison"]["overall"]
        t = e["timing"]
        tsec = sum(v for v in t.values() if v is not None)
        lines.append(
            f"| {e['engine']} | {e['reference']} | {'yes' if e['identity_expected'] else 'no'} | "
            f"{'yes' if e['identical'] else '**no**'} | {d['spikes_a']} / {d['spikes_b']} | "
            f"{d['neurons_differing']} | {_fmt(d.get('first_divergence_s'))} | {_fmt(d.get('rate_corr'))} | "
            f"{tsec:.1f} |")
    lines += ["", "Per peer: `<peer>/comparison.md` (per layer), `comparison.json` and plots."]
    (out / "validate.md").write_text("\n".join(lines) + "\n")


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)
