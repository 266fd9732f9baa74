"""The network in Brian2 (runtime with numpy or Cython code, or C++ standalone), built from
the same arrays as axon's grid engine so that the two can be compared spike for spike.

The rules that make a Brian2 run equal to ``sim.engines.grid.simulate_grid`` (docs/semantics.md, "The
discrete-time model"; the offsets themselves live in ``bridge.conventions``):

* one clock of step ``dt``; the network schedule is ``BRIAN2_SCHEDULE`` (``start, groups,
  synapses, thresholds, resets, end``), so that in step ``n`` a neuron decays, receives the
  input of step ``n``, and only then is compared with its threshold;
* a grid delay of ``k >= 1`` steps is a Brian2 delay of ``k - 1`` steps
  (``brian2_delay_steps``; a zero-step delay has no twin and raises ``ValueError``);
* the membrane is ``dv/dt = -v/tau + b`` integrated with Brian2's ``exact`` method, threshold
  ``v >= thr``, reset ``v = 0`` or ``v -= thr`` — Brian2's own update, not a copy of axon's
  formula: it differs from the grid engine's ``beta * V + (1 - beta) * b * tau + I`` in the
  last bits (Brian2 also adds the synaptic inputs to ``v`` one at a time instead of summing
  them first; about 1e-15 on the test networks), and the tests check that this never flips
  a spike on the networks they run;
* lateral groups are a ``Synapses`` pathway ``v_post -= omega`` with zero delay, scheduled
  in the ``resets`` slot after the resets (``lateral="step"``: the grid engine's step
  granularity) or in the ``synapses`` slot (``lateral="delayed"``: one step later, after the
  decay — in the grid engine the same as a 1-step projection of weight ``-omega`` from the
  layer onto itself; it serves the dt-shrinking comparison with the exact engine);
* input events are binned with ``bridge.conventions.time_to_step`` and summed per
  ``(step, channel)`` as the grid engine does, and fed through a ``SpikeGeneratorGroup``
  (one spike per step and channel). Values other than 1 (graded or signed events, or several
  events of one channel binned into one step) reach the synapses through a 2-D ``TimedArray``
  ``value(t_emit, channel)`` read at delivery, ``v_post += w * value(t - lag, i)`` with
  ``lag = k * dt`` the synapse's grid delay; it holds ``n_steps x n_inputs`` floats and is
  only built when some value differs from 1 (at most ``GRADED_TABLE_MAX`` entries);
* the readout layer is not simulated (spikes only; ``info["readout"]`` says so).

Brian2 state never leaks between calls: the runtime device builds explicit ``Network``,
``Clock`` and group objects with explicit namespaces and restores the code-generation
preferences it sets; the C++ standalone device runs in a fresh Python process
(``python -m bridge.peers.brian2_backend PLAN.npz OUT.npz PROJECT_DIR``), because its device state
cannot be reset within a process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bridge.conventions import (BRIAN2_SCHEDULE, brian2_delay_steps, check_on_grid, n_steps_for, network_on_grid,
                                seconds_to_steps, steps_to_seconds, time_to_step)
from bridge.peers.common import PeerRun, PeerUnavailable, spike_trains_from_global, synaptic_events_from_spikes
from sim.engines.grid import sum_per_step_channel

__all__ = ["run_brian2", "DEVICES", "TARGETS", "LATERAL_MODES", "GRADED_TABLE_MAX"]

DEVICES = ("runtime", "cpp_standalone")
TARGETS = ("numpy", "cython")
LATERAL_MODES = ("step", "delayed")
#: Largest ``n_steps x n_inputs`` table of event values (float64: 400 MB) built for graded input.
GRADED_TABLE_MAX = 50_000_000


def _import_brian2():
    try:
        import brian2
    except Exception as exc:  # ImportError, or a broken install (e.g. an incompatible numpy)
        raise PeerUnavailable(f"Brian2 cannot be imported here ({type(exc).__name__}: {exc})") from exc
    return brian2


# ---------------------------------------------------------------------- plan (numpy only)
def _plan(network, events, duration_s: float, dt_s: float, lateral: str) -> tuple[dict, np.ndarray]:
    """Everything Brian2 needs, as flat arrays (an ``.npz`` for the standalone worker), and
    the channels of the (step, channel)-merged input events. Raises ``ValueError`` for a
    network Brian2 cannot run as the grid engine does, before Brian2 is imported."""
    if lateral not in LATERAL_MODES:
        raise ValueError(f"lateral must be one of {LATERAL_MODES}, got {lateral!r}")
    dt = float(dt_s)
    # The grid engine runs the steps that start before duration_s (a partial last step
    # counts); n_steps_for rounds half up. They agree on whole numbers of steps only.
    check_on_grid([duration_s], dt, "duration_s")
    n_steps = n_steps_for(duration_s, dt)
    if n_steps < 1:
        raise ValueError(f"duration_s={duration_s!r} is shorter than one step of dt_s={dt!r}")
    events.check_channels(network.n_inputs)
    grid_net = network_on_grid(network, dt)
    plan: dict = {}
    layers = []
    index = {}
    for k, lay in enumerate(grid_net.layers):
        index[lay.name] = k
        layers.append({"name": lay.name, "size": lay.size, "threshold": lay.threshold, "reset": lay.reset})
        plan[f"layer{k}_tau_s"] = np.asarray(lay.tau_mem_s, np.float64)
        plan[f"layer{k}_drive_hz"] = np.asarray(lay.drive, np.float64)
    projections = []
    for p in grid_net.projections:
        if p.post not in index or p.n_synapses == 0:    # the readout is not simulated
            continue
        what = f"projection {p.pre}->{p.post}"
        k_grid = np.asarray(p.delay_steps, np.int64)
        k_b2 = brian2_delay_steps(k_grid, what=what)     # raises for zero-step delays
        q = len(projections)
        projections.append({"pre": p.pre, "post": p.post, "pre_layer": -1 if p.pre == "input" else index[p.pre],
                            "post_layer": index[p.post]})
        plan[f"proj{q}_pre_idx"] = np.asarray(p.pre_idx, np.int64)
        plan[f"proj{q}_post_idx"] = np.asarray(p.post_idx, np.int64)
        plan[f"proj{q}_weight"] = np.asarray(p.weight, np.float64)
        plan[f"proj{q}_delay_s"] = steps_to_seconds(k_b2, dt)      # Brian2's delay
        plan[f"proj{q}_lag_s"] = steps_to_seconds(k_grid, dt)      # the grid delay (value look-up)
    laterals = []
    for lat in grid_net.laterals:
        g = lat.members.shape[1]
        # Synapse number i * g + j of group gi: members[gi, i] -> members[gi, j], carrying
        # omega[gi, j, i] (subtracted from member j when member i fires).
        pre = np.repeat(lat.members, g, axis=1).reshape(-1)
        post = np.tile(lat.members, (1, g)).reshape(-1)
        om = np.transpose(lat.omega, (0, 2, 1)).reshape(-1)
        q = len(laterals)
        laterals.append({"layer": lat.layer, "layer_index": index[lat.layer]})
        plan[f"lat{q}_pre_idx"] = pre.astype(np.int64)
        plan[f"lat{q}_post_idx"] = post.astype(np.int64)
        plan[f"lat{q}_omega"] = om.astype(np.float64)
    # Input events: binned and summed per (step, channel) exactly as sim.engines.grid does.
    steps = time_to_step(events.times_s, dt)
    keep = steps < n_steps
    s, c, v = sum_per_step_channel(steps[keep], events.channels[keep], events.values[keep])
    plan["input_steps"] = s.astype(np.int64)
    plan["input_channels"] = c.astype(np.int64)
    graded = bool(np.any(v != 1.0))
    if graded:
        if n_steps * network.n_inputs > GRADED_TABLE_MAX:
            raise ValueError(
                f"events: values other than 1 reach Brian2 through an n_steps x n_inputs table, here {n_steps} x "
                f"{network.n_inputs} entries (more than GRADED_TABLE_MAX={GRADED_TABLE_MAX}); run shorter chunks")
        table = np.zeros((n_steps, max(network.n_inputs, 1)))
        table[s, c] = v
        plan["input_values"] = table
    meta = {"dt_s": dt, "n_steps": n_steps, "n_inputs": network.n_inputs, "lateral": lateral, "graded": graded,
            "layers": layers, "projections": projections, "laterals": laterals,
            "readout": None if network.readout is None else network.readout.name}
    plan["meta"] = np.array(json.dumps(meta))
    return plan, c.astype(np.int64)


# ---------------------------------------------------------------------- Brian2 network
def _build(b2, plan: dict, meta: dict):
    """Brian2 objects for ``plan`` on one explicit clock. Returns ``(Network, monitors)``."""
    dt = meta["dt_s"] * b2.second
    clock = b2.Clock(dt=dt, name="axon_clock*")
    objs, groups, monitors = [], [], []
    eqs = b2.Equations("dv/dt = -v/tau + b : 1\ntau : second (constant)\nb : hertz (constant)")
    for k, lay in enumerate(meta["layers"]):
        reset = "v = 0" if lay["reset"] == "zero" else "v -= thr"
        g = b2.NeuronGroup(lay["size"], eqs, threshold="v >= thr", reset=reset, method="exact", clock=clock,
                           namespace={"thr": float(lay["threshold"])}, name=f"layer{k}")
        g.tau = plan[f"layer{k}_tau_s"] * b2.second
        g.b = plan[f"layer{k}_drive_hz"] * b2.hertz
        groups.append(g)
        mon = b2.SpikeMonitor(g, record=True, name=f"spikes{k}")
        objs += [g, mon]
        monitors.append(mon)
    gen = None
    if meta["projections"] and any(p["pre_layer"] < 0 for p in meta["projections"]):
        n_in = max(meta["n_inputs"], 1)
        gen = b2.SpikeGeneratorGroup(n_in, plan["input_channels"].astype(np.int64),
                                     steps_to_seconds(plan["input_steps"], meta["dt_s"]) * b2.second,
                                     clock=clock, name="inputs")
        objs.append(gen)
    values = None
    if meta["graded"]:
        values = b2.TimedArray(plan["input_values"], dt=dt, name="input_value")
    for q, p in enumerate(meta["projections"]):
        src = gen if p["pre_layer"] < 0 else groups[p["pre_layer"]]
        tgt = groups[p["post_layer"]]
        graded = values is not None and p["pre_layer"] < 0
        model = "w : 1 (constant)\nlag : second (constant)" if graded else "w : 1 (constant)"
        # The event value of step t_emit = t - lag (lag = the grid delay), channel i.
        on_pre = "v_post += w * input_value(t - lag, i)" if graded else "v_post += w"
        delay = plan[f"proj{q}_delay_s"]
        uniform = delay.size > 0 and np.all(delay == delay[0])
        s = b2.Synapses(src, tgt, model=model, on_pre=on_pre, clock=clock,
                        delay=(float(delay[0]) * b2.second) if uniform else None,
                        namespace={"input_value": values} if graded else {}, name=f"proj{q}")
        s.connect(i=plan[f"proj{q}_pre_idx"], j=plan[f"proj{q}_post_idx"])
        s.w = plan[f"proj{q}_weight"]
        if graded:
            s.lag = plan[f"proj{q}_lag_s"] * b2.second
        if not uniform and delay.size:
            s.delay = delay * b2.second
        objs.append(s)
    for q, lat in enumerate(meta["laterals"]):
        g = groups[lat["layer_index"]]
        s = b2.Synapses(g, g, model="omega : 1 (constant)", on_pre="v_post -= omega", clock=clock,
                        delay=0 * b2.second, namespace={}, name=f"lateral{q}")
        s.connect(i=plan[f"lat{q}_pre_idx"], j=plan[f"lat{q}_post_idx"])
        s.omega = plan[f"lat{q}_omega"]
        if meta["lateral"] == "step":
            # After the resets of the same step: the spikes of this step, after all decisions.
            s.pre.when, s.pre.order = "resets", 1
        # "delayed": the default synapses slot, i.e. the previous step's spikes.
        objs.append(s)
    net = b2.Network(*objs)
    net.schedule = list(BRIAN2_SCHEDULE)
    return net, monitors


def _spike_arrays(monitors, meta) -> dict:
    out = {}
    for k, mon in enumerate(monitors):
        # Brian2 records timestep * dt; back to the integer step (the grid engine reports n * dt).
        out[f"layer{k}_steps"] = seconds_to_steps(np.asarray(mon.t_[:], np.float64), meta["dt_s"])
        out[f"layer{k}_neurons"] = np.asarray(mon.i[:], np.int64)
    return out


def _simulate_runtime(plan: dict, target: str) -> dict:
    b2 = _import_brian2()
    from brian2.devices.device import RuntimeDevice, get_device

    if not isinstance(get_device(), RuntimeDevice):
        raise RuntimeError(f"the current Brian2 device is {type(get_device()).__name__}; the runtime backend needs "
                           "the runtime device (cpp_standalone runs in a subprocess and never sets it here)")
    meta = json.loads(str(plan["meta"]))
    saved = {"codegen.target": b2.prefs["codegen.target"]}
    t0 = time.perf_counter()
    try:
        b2.prefs["codegen.target"] = target
        net, monitors = _build(b2, plan, meta)
        net.run(float(steps_to_seconds(meta["n_steps"], meta["dt_s"])) * b2.second, namespace={})
        total = time.perf_counter() - t0
        loop = float(get_device()._last_run_time)   # the time-step loop only (Network.run)
    finally:
        for key, val in saved.items():
            b2.prefs[key] = val
    out = _spike_arrays(monitors, meta)
    out.update(build_s=total - loop, run_s=loop, brian2_version=b2.__version__)
    return out


def _simulate_standalone(plan: dict, project_dir: str) -> dict:
    """Build, compile and run in C++ standalone mode; call only in a fresh process."""
    t0 = time.perf_counter()
    b2 = _import_brian2()
    meta = json.loads(str(plan["meta"]))
    b2.prefs["devices.cpp_standalone.openmp_threads"] = 0      # single-threaded simulation
    b2.set_device("cpp_standalone", directory=project_dir, build_on_run=False)
    net, monitors = _build(b2, plan, meta)
    net.run(float(steps_to_seconds(meta["n_steps"], meta["dt_s"])) * b2.second, namespace={})
    device = b2.get_device()
    t1 = time.perf_counter()
    device.build(directory=project_dir, compile=True, run=False)
    t2 = time.perf_counter()
    device.run(directory=project_dir, with_output=False)
    t3 = time.perf_counter()
    out = _spike_arrays(monitors, meta)
    loop = float(device._last_run_time)     # measured inside the binary: the time-step loop only
    out.update(build_s=(t3 - t0) - loop, run_s=loop, compile_s=t2 - t1, codegen_s=t1 - t0,
               binary_wall_s=t3 - t2, brian2_version=b2.__version__)
    return out


def _run_worker(plan: dict, workdir: Path) -> dict:
    plan_path = workdir / "brian2_plan.npz"
    out_path = workdir / "brian2_result.npz"
    np.savez(plan_path, **plan)
    repo = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, "-m", "bridge.peers.brian2_backend", str(plan_path), str(out_path),
                           str(workdir / "brian2_cpp")], env=env, cwd=repo, capture_output=True, text=True)
    if proc.returncode == 3:
        raise PeerUnavailable(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "Brian2 unavailable")
    if proc.returncode != 0:
        raise RuntimeError(f"Brian2 cpp_standalone worker failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    with np.load(out_path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    for k in ("build_s", "run_s", "compile_s", "codegen_s", "binary_wall_s"):
        out[k] = float(out[k])
    out["brian2_version"] = str(out["brian2_version"])
    return out


# ---------------------------------------------------------------------- public
def run_brian2(network, events, duration_s: float, dt_s: float, *, device: str = "runtime", target: str = "numpy",
               lateral: str = "step", workdir=None) -> PeerRun:
    """Run ``network`` on ``events`` in Brian2 for ``duration_s`` on the grid of ``dt_s``.

    Parameters
    ----------
    network : sim.Network
        Delays in seconds are rounded to whole steps with
        ``bridge.conventions.network_on_grid`` (recorded ``delay_steps`` for the same
        ``dt_s`` are kept), exactly as for the grid engine. Every delay must be >= 1 step.
    events : sim.Events
        Binned with ``floor(t / dt + 1e-9)`` and summed per (step, channel); events at or
        after ``n_steps * dt`` are dropped.
    duration_s, dt_s : float, seconds
        ``duration_s`` must be a whole number ``n_steps`` of steps (``ValueError`` otherwise);
        steps ``0 .. n_steps - 1`` are simulated.
    device : {"runtime", "cpp_standalone"}
        ``cpp_standalone`` generates, compiles (counted in ``build_s``) and runs a C++
        program in a separate Python process; ``target`` is then irrelevant.
    target : {"numpy", "cython"}
        Brian2's code-generation target for the runtime device.
    lateral : {"step", "delayed"}
        Step-granular lateral effect (same step, after the resets: the grid engine's rule)
        or one step later.
    workdir : path, optional
        Where the standalone worker writes its plan, result and C++ project (kept; a second
        run in the same directory recompiles only what changed). Default: a temporary
        directory, removed afterwards.

    Returns
    -------
    PeerRun
        Spikes of every spiking layer at ``n * dt_s`` (the step of the spike, as the grid
        engine reports it); ``build_s`` is construction, code generation and compilation
        (for ``cpp_standalone`` also the worker process and file exchange), ``run_s`` the
        time-step loop as Brian2 measures it.

    Raises
    ------
    ValueError
        Unknown option, a zero-step delay (no Brian2 twin), an input channel out of range,
        a duration that is not a whole number of steps.
    PeerUnavailable
        Brian2 does not import.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    t0 = time.perf_counter()
    plan, in_channels = _plan(network, events, duration_s, dt_s, lateral)
    meta = json.loads(str(plan["meta"]))
    if device == "runtime":
        res = _simulate_runtime(plan, target)
    else:
        _import_brian2()   # fail early, in this process, when Brian2 is missing
        if workdir is not None:
            wd = Path(workdir)
            wd.mkdir(parents=True, exist_ok=True)
            res = _run_worker(plan, wd)
        else:
            with tempfile.TemporaryDirectory(prefix="axon_brian2_") as tmp:
                res = _run_worker(plan, Path(tmp))
    total = time.perf_counter() - t0
    dt = meta["dt_s"]
    spikes = {}
    for k, lay in enumerate(meta["layers"]):
        times_s = steps_to_seconds(res[f"layer{k}_steps"], dt)
        spikes[lay["name"]] = spike_trains_from_global(network, lay["name"], times_s, res[f"layer{k}_neurons"])
    run_s = float(res["run_s"])
    info = {"brian2_version": res["brian2_version"], "device": device,
            "target": "cpp" if device == "cpp_standalone" else target, "lateral": lateral,
            "schedule": list(BRIAN2_SCHEDULE), "method": "exact", "graded_inputs": meta["graded"],
            "readout": ("not simulated (spikes only)" if meta["readout"] else None)}
    if device == "cpp_standalone":
        info.update(compile_s=float(res["compile_s"]), codegen_s=float(res["codegen_s"]),
                    binary_wall_s=float(res["binary_wall_s"]), openmp_threads=0)
    return PeerRun(engine=f"brian2 ({device}, {info['target']})", spikes=spikes,
                   duration_s=float(steps_to_seconds(meta["n_steps"], dt)), dt_s=dt, build_s=total - run_s, run_s=run_s,
                   synaptic_events=synaptic_events_from_spikes(network, in_channels, spikes), info=info)


def _worker_main(argv: list[str]) -> int:
    """``python -m bridge.peers.brian2_backend PLAN.npz OUT.npz PROJECT_DIR``: run a plan in
    C++ standalone mode in this (fresh) process and write the spikes and timings."""
    plan_path, out_path, project_dir = argv
    with np.load(plan_path, allow_pickle=False) as z:
        plan = {k: z[k] for k in z.files}
    try:
        res = _simulate_standalone(plan, project_dir)
    except PeerUnavailable as exc:
        print(exc, file=sys.stderr)
        return 3
    np.savez(out_path, **{k: np.asarray(v) for k, v in res.items()})
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
