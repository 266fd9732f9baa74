"""The network in NEST (in-process), built from the same arrays as axon's engines: on the grid
with ``iaf_psc_delta`` (compared with ``sim.engines.grid``) or with precise spike times with
``iaf_psc_delta_ps`` (compared with ``sim.engines.exact``).

The rules (docs/semantics.md, agreement table; the offsets and unit conversions themselves live in
the NEST block of ``bridge.conventions``, pinned by tests/bridge/test_peer_nest.py):

``iaf_psc_delta`` (grid, resolution ``dt``):

* an input binned into axon step ``n`` (``floor(t / dt + 1e-9)``, summed per step and
  channel as the grid engine does) is a spike of its channel's ``spike_generator`` at stamp
  ``n + NEST_INPUT_SHIFT_STEPS - 1``; the generator is connected straight to the neurons with
  a delay of ``k + 1`` steps, a synapse between neurons with ``k`` steps (``k >= 1``:
  ``nest_delay_steps``); a spike NEST stamps ``s`` is reported at ``(s - SHIFT) * dt``;
* each neuron has ``E_L = V_reset = V_m = 0``, ``V_th = threshold``, ``t_ref = 0``,
  ``V_min = -inf``; ``tau_m`` from ``nest_tau_ms`` and ``(I_e, C_m)`` from ``nest_drive_pA``,
  chosen so that NEST's decay factor and per-step drive are axon's bit for bit; the drive is
  switched on after NEST's first update step (the extra step the shift adds before axon's
  step 0). NEST's update ``V <- P30 I_e + P33 V + (summed input)``, spike if ``V >= V_th``,
  ``V <- V_reset``, is then the grid engine's step except for the order in which one step's
  inputs are summed;
* graded input values (anything but one event of value 1 per step and channel) are the
  generator's ``spike_weights`` (NEST multiplies them with the synapse weight, as the grid
  engine multiplies the summed value with it).

``iaf_psc_delta_ps`` (precise times): generators with ``precise_times=True`` at the event
times themselves, delays ``delay_s`` in ms (multiples of ``dt``, at least one ``dt``), spike
times ``stamp * h - offset``; ``tau_m = tau * 1000``. NEST sums inputs that arrive at exactly
the same time before the ``V >= V_th`` check, as docs/semantics.md asks. The model has a refractory
period of at least one resolution step ``h`` during which input is discarded (NEST 3.10 does
not let ``refractory_input`` be set for it), which axon's neuron does not have: NEST runs on
the resolution ``ps_resolution_s`` (default 1 us, NEST's time quantum) so that this window is
tiny, and the run equals the exact engine's exactly when no input reaches a neuron within
``h`` after its own spike (:func:`ps_refractory_conflicts` lists the cases). Drive is refused:
NEST clamps the potential at ``V_reset`` during the refractory step instead of integrating it.

Both: ``reset="subtract"`` is refused (NEST resets to a fixed ``V_reset``); lateral groups
only as ``lateral="delayed"``: ``-omega`` synapses with a delay of one step ``dt`` (NEST cannot
deliver within the step of the spike, so the grid engine's step-granular lateral has no twin);
the readout layer is not simulated (spikes only). A network NEST cannot express raises
``ValueError`` naming the layer or projection before NEST is imported.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from bridge.conventions import (NEST_INPUT_SHIFT_STEPS, NEST_PS_RESOLUTION_S, STEP_EPS, beta_from_tau,
                                drive_per_step, n_steps_for, nest_delay_steps, nest_drive_pA, nest_tau_ms,
                                network_on_grid, seconds_to_steps, steps_to_seconds, time_to_step)
from bridge.peers.common import PeerRun, PeerUnavailable, spike_trains_from_global, synaptic_events_from_spikes
from sim.engines.grid import sum_per_step_channel

__all__ = ["run_nest", "ps_refractory_conflicts", "MODELS", "LATERAL_MODES"]

MODELS = ("iaf_psc_delta", "iaf_psc_delta_ps")
LATERAL_MODES = ("step", "delayed")


def _import_nest():
    os.environ.setdefault("PYNEST_QUIET", "1")      # no banner on import
    try:
        import nest
    except Exception as exc:  # ImportError, or a broken install
        raise PeerUnavailable(f"NEST cannot be imported here ({type(exc).__name__}: {exc})") from exc
    return nest


# ---------------------------------------------------------------------- plan (numpy only)
def _check_ps_delays(p, dt: float) -> np.ndarray:
    """Delays of projection ``p`` in whole steps of ``dt`` (on the grid, >= 1) for the ps model."""
    what = f"projection {p.pre}->{p.post}"
    if not p.n_synapses:
        return np.zeros(0, np.int64)
    k = seconds_to_steps(p.delay_s, dt)
    err = np.abs(p.delay_s / dt - k)
    i = int(np.argmax(err))
    if err[i] > 1e-6:
        raise ValueError(f"{what}: delay_s[{i}] = {p.delay_s[i]!r} is not a multiple of dt_s={dt!r}; NEST rounds "
                         "delays to its resolution, so iaf_psc_delta_ps is compared on on-grid delays only")
    if k.min() < 1:
        i = int(np.argmin(k))
        raise ValueError(f"{what}: synapse {i} has delay_s={p.delay_s[i]!r} < dt_s={dt!r}; NEST's minimum delay is "
                         "one step, so a zero delay has no NEST twin")
    return k


def _plan(network, events, duration_s: float, dt_s: float, model: str, lateral: str, ps_resolution_s) -> dict:
    """Everything NEST needs as flat arrays; raises ``ValueError`` for what NEST cannot express."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if lateral not in LATERAL_MODES:
        raise ValueError(f"lateral must be one of {LATERAL_MODES}, got {lateral!r}")
    dt = float(dt_s)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt_s must be a finite number > 0, got {dt_s!r}")
    duration = float(duration_s)
    n_steps = n_steps_for(duration, dt)
    if n_steps < 1:
        raise ValueError(f"duration_s={duration_s!r} is shorter than one step of dt_s={dt!r}")
    events.check_channels(network.n_inputs)
    precise = model == "iaf_psc_delta_ps"
    for lay in network.layers:
        if lay.reset != "zero":
            raise ValueError(f"layer {lay.name!r}: reset={lay.reset!r}; NEST's {model} resets to a fixed V_reset, "
                             "so only reset='zero' has a NEST twin")
        if precise and np.any(lay.drive != 0):
            raise ValueError(f"layer {lay.name!r}: drive != 0; iaf_psc_delta_ps clamps V at V_reset for its "
                             "refractory step instead of integrating the drive, which axon's neuron does not do")
    if network.laterals and lateral == "step":
        raise ValueError(f"layer {network.laterals[0].layer!r}: step-granular lateral connections have no NEST twin "
                         "(NEST delivers a spike one step after it at the earliest); use lateral='delayed'")
    plan = {"model": model, "dt_s": dt, "n_steps": n_steps, "duration_s": duration, "lateral": lateral,
            "readout": None if network.readout is None else network.readout.name}
    if precise:
        res = NEST_PS_RESOLUTION_S if ps_resolution_s is None else float(ps_resolution_s)
        if not (math.isfinite(res) and 0 < res <= dt):
            raise ValueError(f"ps_resolution_s must lie in (0, dt_s={dt!r}], got {ps_resolution_s!r}")
        ratio = dt / res
        if abs(ratio - round(ratio)) > 1e-9 * ratio:
            raise ValueError(f"dt_s={dt!r} is not a whole multiple of ps_resolution_s={res!r} (delays must lie on "
                             "NEST's grid)")
        plan["h_ms"] = res * 1000.0
        plan["steps_per_dt"] = int(round(ratio))
        plan["sim_steps"] = int(np.ceil(duration / res - STEP_EPS))
    else:
        plan["h_ms"] = dt * 1000.0
        plan["steps_per_dt"] = 1
    grid_net = network if precise else network_on_grid(network, dt)
    layers, index = [], {}
    for k, lay in enumerate(grid_net.layers):
        index[lay.name] = k
        entry = {"name": lay.name, "size": lay.size, "threshold": lay.threshold}
        if precise:
            entry.update(tau_ms=np.asarray(lay.tau_mem_s) * 1000.0, c_m=np.ones(lay.size), i_e=np.zeros(lay.size))
        else:
            i_e, c_m = nest_drive_pA(lay.drive, lay.tau_mem_s, dt)
            tau_ms = np.asarray(nest_tau_ms(lay.tau_mem_s, dt), np.float64)
            p33 = np.array([math.exp(-plan["h_ms"] / x) for x in tau_ms])
            p30 = 1.0 / c_m * (1.0 - p33) * tau_ms
            entry.update(tau_ms=tau_ms, c_m=c_m, i_e=i_e,
                         decay_exact=int(np.sum(p33 == beta_from_tau(lay.tau_mem_s, dt))),
                         drive_exact=int(np.sum(p30 * i_e == drive_per_step(lay.drive, lay.tau_mem_s, dt))))
        layers.append(entry)
    plan["layers"] = layers
    projections = []
    for p in grid_net.projections:
        if p.post not in index or p.n_synapses == 0:        # the readout is not simulated
            continue
        what = f"projection {p.pre}->{p.post}"
        if precise:
            nest_steps = _check_ps_delays(p, dt) * plan["steps_per_dt"]
        else:
            nest_steps = nest_delay_steps(p.delay_steps, from_input=p.pre == "input", what=what)
        projections.append({"pre": p.pre, "pre_layer": -1 if p.pre == "input" else index[p.pre],
                            "post_layer": index[p.post], "pre_idx": np.asarray(p.pre_idx, np.int64),
                            "post_idx": np.asarray(p.post_idx, np.int64), "weight": np.asarray(p.weight, np.float64),
                            "delay_steps": np.asarray(nest_steps, np.int64)})
    plan["projections"] = projections
    laterals = []
    for lat in grid_net.laterals:
        g = lat.members.shape[1]
        # members[gi, i] -> members[gi, j] carries -omega[gi, j, i], one step dt later.
        laterals.append({"layer": index[lat.layer],
                         "pre_idx": np.repeat(lat.members, g, axis=1).reshape(-1).astype(np.int64),
                         "post_idx": np.tile(lat.members, (1, g)).reshape(-1).astype(np.int64),
                         "weight": -np.transpose(lat.omega, (0, 2, 1)).reshape(-1).astype(np.float64),
                         "delay_steps": plan["steps_per_dt"]})
    plan["laterals"] = laterals
    # Input events.
    if precise:
        keep = events.times_s < duration
        t, c, v = events.times_s[keep], events.channels[keep], events.values[keep]
        if t.size and t[0] <= 0.0:
            raise ValueError(f"events: an event at t={t[0]!r} s; NEST's spike_generator refuses spikes at t <= 0 "
                             "and iaf_psc_delta_ps runs without a time shift")
        plan["input_ms"] = t * 1000.0
    else:
        s = time_to_step(events.times_s, dt)
        keep = s < n_steps
        s, c, v = sum_per_step_channel(s[keep], events.channels[keep], events.values[keep])
        plan["input_ms"] = (s + (NEST_INPUT_SHIFT_STEPS - 1)).astype(np.float64) * plan["h_ms"]
    plan["input_channels"] = np.asarray(c, np.int64)
    plan["input_values"] = np.asarray(v, np.float64)
    plan["graded"] = bool(np.any(plan["input_values"] != 1.0))
    plan["n_inputs"] = network.n_inputs
    return plan


# ---------------------------------------------------------------------- NEST network
def _set_quiet(nest) -> None:
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # older PyNEST
        nest.set_verbosity("M_ERROR")


def _build(nest, plan: dict):
    """NEST nodes and connections for ``plan`` in a fresh kernel. Returns (first ids, recorder)."""
    nest.ResetKernel()
    _set_quiet(nest)
    h = plan["h_ms"]
    try:
        nest.set(local_num_threads=1, resolution=h, print_time=False)
    except Exception as exc:   # NEST's KernelException, e.g. a step below one tic
        raise ValueError(f"NEST refuses a resolution of {h!r} ms: {exc}") from exc
    if nest.resolution != h:
        raise ValueError(f"NEST cannot use a resolution of {h!r} ms (it became {nest.resolution!r} ms): the step "
                         "must be a whole number of NEST's time quanta (tics)")
    precise = plan["model"] == "iaf_psc_delta_ps"
    first, pops = [], []
    for lay in plan["layers"]:
        params = {"E_L": 0.0, "V_reset": 0.0, "V_m": 0.0, "V_th": float(lay["threshold"]), "V_min": -math.inf,
                  "t_ref": h if precise else 0.0}
        pop = nest.Create(plan["model"], lay["size"], params)
        pop.set({"tau_m": lay["tau_ms"].tolist(), "C_m": lay["c_m"].tolist(), "I_e": [0.0] * lay["size"]})
        pops.append(pop)
        first.append(int(pop[0].global_id))
    gen_first = None
    if plan["projections"] and any(p["pre_layer"] < 0 for p in plan["projections"]):
        n_in = max(plan["n_inputs"], 1)
        gens = nest.Create("spike_generator", n_in, {"precise_times": precise})
        if plan["graded"] and "spike_weights" not in nest.GetDefaults("spike_generator"):
            raise ValueError("events: values other than 1 need spike_generator's spike_weights, which this NEST "
                             "does not have")
        ch = plan["input_channels"]
        order = np.argsort(ch, kind="stable")          # events stay time-sorted within a channel
        bounds = np.searchsorted(ch[order], np.arange(n_in + 1))
        specs = []
        for c in range(n_in):
            sel = order[bounds[c]:bounds[c + 1]]
            spec = {"spike_times": plan["input_ms"][sel].tolist()}
            if plan["graded"]:
                spec["spike_weights"] = plan["input_values"][sel].tolist()
            specs.append(spec)
        gens.set(specs)
        gen_first = int(gens[0].global_id)
    for p in plan["projections"]:
        pre0 = gen_first if p["pre_layer"] < 0 else first[p["pre_layer"]]
        nest.Connect(pre0 + p["pre_idx"], first[p["post_layer"]] + p["post_idx"], conn_spec="one_to_one",
                     syn_spec={"synapse_model": "static_synapse", "weight": p["weight"],
                               "delay": p["delay_steps"].astype(np.float64) * h})
    for lat in plan["laterals"]:
        f = first[lat["layer"]]
        nest.Connect(f + lat["pre_idx"], f + lat["post_idx"], conn_spec="one_to_one",
                     syn_spec={"synapse_model": "static_synapse", "weight": lat["weight"],
                               "delay": np.full(lat["weight"].size, lat["delay_steps"] * h)})
    rec = nest.Create("spike_recorder", {"time_in_steps": True})
    for pop in pops:
        nest.Connect(pop, rec)
    return first, pops, rec


def _simulate(nest, plan: dict, pops) -> None:
    h = plan["h_ms"]
    if plan["model"] == "iaf_psc_delta_ps":
        nest.Simulate(plan["sim_steps"] * h)
        return
    # Axon step n is NEST stamp n + SHIFT: stamps 1 .. n_steps + SHIFT - 1. The stamps before
    # axon's step 0 run without drive so that V is 0 when step 0 begins.
    pre_steps = NEST_INPUT_SHIFT_STEPS - 1
    if any(np.any(lay["i_e"] != 0) for lay in plan["layers"]) and pre_steps > 0:
        nest.Simulate(pre_steps * h)
        for pop, lay in zip(pops, plan["layers"]):
            pop.set({"I_e": lay["i_e"].tolist()})
        nest.Simulate(plan["n_steps"] * h)
    else:
        for pop, lay in zip(pops, plan["layers"]):
            pop.set({"I_e": lay["i_e"].tolist()})
        nest.Simulate((plan["n_steps"] + pre_steps) * h)


def _spikes(network, plan: dict, first, rec) -> dict:
    ev = rec.get("events")
    senders = np.asarray(ev["senders"], np.int64)
    stamps = np.asarray(ev["times"], np.int64)
    offsets = np.asarray(ev.get("offsets", np.zeros(stamps.size)), np.float64)
    out = {}
    for k, lay in enumerate(plan["layers"]):
        m = (senders >= first[k]) & (senders < first[k] + lay["size"])
        neurons = senders[m] - first[k]
        if plan["model"] == "iaf_psc_delta_ps":
            t = (stamps[m] * plan["h_ms"] - offsets[m]) * 1e-3
            keep = t < plan["duration_s"]
            t, neurons = t[keep], neurons[keep]
        else:
            step = stamps[m] - NEST_INPUT_SHIFT_STEPS
            if step.size and (step.min() < 0 or step.max() >= plan["n_steps"]):
                raise RuntimeError(f"layer {lay['name']!r}: NEST spike stamps outside axon's steps "
                                   f"[{step.min()}, {step.max()}] (the time-shift convention is broken)")
            t = steps_to_seconds(step, plan["dt_s"])
        out[lay["name"]] = spike_trains_from_global(network, lay["name"], t, neurons)
    return out


# ---------------------------------------------------------------------- public
def run_nest(network, events, duration_s: float, dt_s: float, *, model: str = "iaf_psc_delta",
             lateral: str = "delayed", ps_resolution_s: float | None = None) -> PeerRun:
    """Run ``network`` on ``events`` in NEST (in this process, one thread).

    Parameters
    ----------
    network : sim.Network
        Spiking layers with ``reset="zero"``. For ``iaf_psc_delta`` delays are rounded to
        whole steps with ``bridge.conventions.network_on_grid`` (as for the grid engine); a
        zero-step delay between neurons has no twin. For ``iaf_psc_delta_ps`` every delay must
        be a multiple of ``dt_s``, at least ``dt_s``, and no layer may have drive.
    events : sim.Events
        ``iaf_psc_delta``: binned with ``floor(t / dt + 1e-9)`` and summed per (step,
        channel); events at or after ``n_steps * dt_s`` are dropped. ``iaf_psc_delta_ps``: the
        times themselves (must be > 0); events at or after ``duration_s`` are dropped.
    duration_s, dt_s : float, seconds
        ``iaf_psc_delta`` simulates ``round_half_up(duration_s / dt_s)`` steps of ``dt_s``;
        ``iaf_psc_delta_ps`` simulates ``[0, duration_s)`` and uses ``dt_s`` as the grid of the
        delays and of the delayed lateral.
    model : {"iaf_psc_delta", "iaf_psc_delta_ps"}
    lateral : {"delayed", "step"}
        ``"delayed"``: lateral groups become ``-omega`` synapses with a delay of one step
        ``dt_s`` (no twin in axon's engines). ``"step"`` raises ``ValueError`` for a network
        with lateral groups (NEST cannot deliver within the step of the spike).
    ps_resolution_s : float, optional
        NEST's resolution for ``iaf_psc_delta_ps`` (default ``NEST_PS_RESOLUTION_S`` = 1 us):
        also the model's refractory window (see the module docstring). Must divide ``dt_s``.

    Returns
    -------
    PeerRun
        Spikes per spiking layer on axon's time axis: ``n * dt_s`` for the grid model, the
        precise times for ``iaf_psc_delta_ps``. ``build_s`` is planning, import and network
        construction, ``run_s`` NEST's ``Simulate`` calls. ``info`` records the NEST version,
        model, resolution, and for the grid model how many neurons have NEST's decay factor
        and drive term bit-identical to axon's.

    Raises
    ------
    ValueError
        Unknown option; a network or input NEST cannot express (subtract reset, a zero-step
        delay, step-granular lateral, drive or off-grid delays or an event at t = 0 with
        ``iaf_psc_delta_ps``), named by layer or projection.
    PeerUnavailable
        NEST does not import.
    """
    t0 = time.perf_counter()
    plan = _plan(network, events, duration_s, dt_s, model, lateral, ps_resolution_s)
    nest = _import_nest()
    first, pops, rec = _build(nest, plan)
    t1 = time.perf_counter()
    _simulate(nest, plan, pops)
    t2 = time.perf_counter()
    spikes = _spikes(network, plan, first, rec)
    precise = model == "iaf_psc_delta_ps"
    info = {"nest_version": str(nest.__version__), "model": model, "lateral": lateral,
            "resolution_ms": plan["h_ms"], "graded_inputs": plan["graded"], "threads": 1,
            "readout": ("not simulated (spikes only)" if plan["readout"] else None)}
    if precise:
        info["refractory_ms"] = plan["h_ms"]
    else:
        info["input_shift_steps"] = NEST_INPUT_SHIFT_STEPS
        n = sum(lay["size"] for lay in plan["layers"])
        info["decay_bit_identical"] = f"{sum(lay['decay_exact'] for lay in plan['layers'])}/{n}"
        info["drive_bit_identical"] = f"{sum(lay['drive_exact'] for lay in plan['layers'])}/{n}"
    if plan["laterals"]:
        info["lateral_delay_s"] = plan["dt_s"]
    duration = plan["duration_s"] if precise else plan["n_steps"] * plan["dt_s"]
    return PeerRun(engine=f"nest ({model})", spikes=spikes, duration_s=duration, dt_s=plan["dt_s"],
                   build_s=(t1 - t0), run_s=(t2 - t1),
                   synaptic_events=synaptic_events_from_spikes(network, plan["input_channels"], spikes), info=info)


def ps_refractory_conflicts(network, events, spikes: dict, window_s: float = NEST_PS_RESOLUTION_S, *,
                            lateral_delay_s: float | None = None,
                            same_instant_s: float = 1e-12) -> list[tuple[str, int, float, float]]:
    """Where ``iaf_psc_delta_ps`` must differ from axon's neuron: inputs that reach a neuron
    in ``(t_spike + same_instant_s, t_spike + window_s]`` after one of its own spikes (NEST
    discards them). Arrivals within ``same_instant_s`` of the spike are its own instant (the
    arrival that caused it): they differ from it only because ``t + d`` summed here in float
    rounds differently from the exact engine's ``n * Q + r`` time keys.

    ``spikes`` are the spikes of a run to check (e.g. the exact engine's), per layer; arrivals
    are their times (and the input events') plus each synapse's ``delay_s``, and with
    ``lateral_delay_s`` also the lateral groups' effects. Returns ``(layer, neuron, t_spike,
    t_arrival)`` for every conflict, sorted by time; empty means a ps run can be identical.
    """
    layers = {lay.name: lay for lay in network.layers}
    arrivals: dict[str, list] = {name: [] for name in layers}

    def add(post_layer, src_t, src_i, pre_idx, post_idx, delay_s):
        if post_layer not in arrivals or not src_t.size or not pre_idx.size:
            return
        order = np.argsort(src_i, kind="stable")
        st, si = src_t[order], src_i[order]
        n_src = int(max(si.max(), pre_idx.max())) + 1
        starts = np.searchsorted(si, np.arange(n_src + 1))
        cnt = starts[1:] - starts[:-1]
        per = cnt[pre_idx]
        syn = np.repeat(np.arange(pre_idx.size), per)
        within = np.arange(syn.size) - np.repeat(np.cumsum(per) - per, per)
        src = starts[pre_idx[syn]] + within
        arrivals[post_layer].append((post_idx[syn], st[src] + delay_s[syn]))

    for p in network.projections:
        if p.pre == "input":
            add(p.post, events.times_s, events.channels, p.pre_idx, p.post_idx, p.delay_s)
        elif p.pre in spikes:
            add(p.post, spikes[p.pre].times_s, spikes[p.pre].neurons, p.pre_idx, p.post_idx, p.delay_s)
    if lateral_delay_s is not None:
        for lat in network.laterals:
            g = lat.members.shape[1]
            pre = np.repeat(lat.members, g, axis=1).reshape(-1)
            post = np.tile(lat.members, (1, g)).reshape(-1)
            s = spikes[lat.layer]
            add(lat.layer, s.times_s, s.neurons, pre, post, np.full(pre.size, float(lateral_delay_s)))
    out = []
    for name, parts in arrivals.items():
        if not parts or name not in spikes:
            continue
        a_i = np.concatenate([q[0] for q in parts])
        a_t = np.concatenate([q[1] for q in parts])
        sp = spikes[name]
        for n in np.unique(sp.neurons):
            at = np.sort(a_t[a_i == n])
            for ts in sp.times_s[sp.neurons == n]:
                lo = np.searchsorted(at, ts + same_instant_s, side="right")
                hi = np.searchsorted(at, ts + window_s, side="right")
                out.extend((name, int(n), float(ts), float(x)) for x in at[lo:hi])
    return sorted(out, key=lambda r: (r[2], r[0], r[1]))
