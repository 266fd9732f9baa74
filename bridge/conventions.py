"""The Brian2/NEST offsets that make the peers comparable with axon's grid engine, and
networks put on a grid.

The discretisation rules themselves (seconds <-> steps, binning, ``beta`` <-> ``tau``,
drive per step, :data:`STEP_EPS`, the delay rounding) are owned by :mod:`sim.discrete`,
which training and the grid engine call too; they are re-exported here so the peers keep
one import. ``sim`` cannot import ``bridge``, so the grid engine takes delays in whole
steps and :func:`network_on_grid` is how a network with delays in seconds gets them.
"""
from __future__ import annotations

import math

import numpy as np

from sim.discrete import (ROUNDING, STEP_EPS, beta_from_tau, drive_from_per_step, drive_per_step, n_steps_for,
                          same_dt, seconds_to_steps, steps_to_seconds, tau_from_beta, time_to_step)
from sim.discrete import _finite
from sim.discrete import check_dt as _check_dt

__all__ = [
    "STEP_EPS", "ROUNDING", "seconds_to_steps", "steps_to_seconds", "time_to_step", "n_steps_for",
    "beta_from_tau", "tau_from_beta", "drive_per_step", "drive_from_per_step", "same_dt",
    "network_on_grid", "check_on_grid", "BRIAN2_SCHEDULE", "BRIAN2_DELAY_OFFSET_STEPS", "brian2_delay_steps",
    "NEST_INPUT_SHIFT_STEPS", "nest_delay_steps", "nest_tau_ms",
]


# ---------------------------------------------------------------------- networks on a grid
def network_on_grid(network, dt_s: float, *, max_error_steps: float | None = None):
    """A copy of ``network`` whose projections record whole-step delays for ``dt_s``.

    ``delay_s`` (the continuous value the exact engine uses) is kept unchanged;
    ``delay_steps = seconds_to_steps(delay_s, dt_s)`` and ``dt_s`` are recorded beside it, so
    ``sim.engines.grid.GridSimulator(result, dt_s)`` runs the rounded network. Projections that
    already record steps for this ``dt_s`` keep them (a trained network's own rounding is
    authoritative).

    Why a bridge-side constructor instead of rounding inside the grid engine: ``sim`` may
    not import ``bridge``, and the rounding rule must exist once. The grid engine therefore
    refuses delays in seconds and points here.

    Parameters
    ----------
    max_error_steps : float, optional
        Raise ``ValueError`` if some delay is further than this from its rounded step
        (e.g. ``1e-6`` to insist that the delays already lie on the grid).
    """
    from sim.model.network import Network, Projection

    dt = _check_dt(dt_s)
    projections = []
    for p in network.projections:
        if p.delay_steps is not None and same_dt(p.dt_s, dt):
            projections.append(p)
            continue
        steps = seconds_to_steps(p.delay_s, dt)
        if max_error_steps is not None and p.n_synapses:
            err = np.abs(p.delay_s / dt - steps)
            i = int(np.argmax(err))
            if err[i] > max_error_steps:
                raise ValueError(
                    f"projection {p.pre}->{p.post}: delay_s[{i}] = {p.delay_s[i]!r} is {err[i]:.3g} steps off the "
                    f"grid of dt_s={dt!r} (allowed {max_error_steps!r})")
        projections.append(Projection.sparse(p.pre, p.post, p.pre_idx, p.post_idx, p.weight, p.delay_s,
                                             delay_steps=steps, dt_s=dt))
    return Network(network.n_inputs, network.layers, projections, network.laterals, network.readout,
                   dict(network.metadata), task=network.task)


def check_on_grid(times_s, dt_s: float, what: str = "times_s", tol_steps: float = 1e-6) -> None:
    """Raise ``ValueError`` if some time is not a multiple of ``dt_s`` (within ``tol_steps``)."""
    dt = _check_dt(dt_s)
    t = np.asarray(times_s, dtype=np.float64)
    if not t.size:
        return
    err = np.abs(t / dt - np.round(t / dt))
    i = int(np.argmax(err))
    if err[i] > tol_steps:
        raise ValueError(f"{what}[{i}] = {t[i]!r} s is not on the grid of dt_s={dt!r} ({err[i]:.3g} steps off)")


# ---------------------------------------------------------------------- peers (Brian2, NEST)
# The schedule, delay offsets and time shifts that make Brian2 and NEST runs comparable with
# the grid engine live below, each pinned by a one-synapse test in tests/bridge. (Section
# owned by the peers work; the grid engine's own convention, which they are measured
# against, is: an event binned into step n with a k-step delay changes the target's V[n + k],
# the potential is integrated (decay, drive, summed input) then compared with threshold,
# and a spike at step n is reported at time n * dt.)
#
# Brian2 (schedule reordered to start, groups, synapses, thresholds, resets, end):
# in time step m a synaptic pathway first pushes the spikes its source emitted at the
# previous step's thresholds (m - 1) into its queue, then delivers the queue slot of m.
# A spike recorded at step n with a Brian2 delay of d steps therefore reaches its target
# in the synapses slot of step n + 1 + d, i.e. changes V[n + 1 + d]; the grid engine's
# k-step delay changes V[n + k]. So d = k - 1, and a zero-step delay has no Brian2 twin.
# A SpikeGeneratorGroup emits in the thresholds slot like a neuron, so input projections
# follow the same rule. Spike times need no shift. Lateral effects at step granularity are
# a zero-delay pathway scheduled after the resets (it then delivers the spikes of the same
# step); a lateral effect one step later (``lateral="delayed"``) is a zero-delay pathway in
# the synapses slot.
BRIAN2_SCHEDULE = ["start", "groups", "synapses", "thresholds", "resets", "end"]
BRIAN2_DELAY_OFFSET_STEPS = 1


def brian2_delay_steps(grid_steps, what: str = "projection") -> np.ndarray:
    """Brian2 delay (in steps) that reproduces the grid engine's ``grid_steps`` delay."""
    k = np.asarray(grid_steps, dtype=np.int64)
    if k.size and k.min() < BRIAN2_DELAY_OFFSET_STEPS:
        i = int(np.argmin(k))
        raise ValueError(
            f"{what}: synapse {i} has a delay of {int(k.reshape(-1)[i])} steps; with Brian2's schedule reordered as "
            f"docs/semantics.md requires, a spike reaches its target one step after it is emitted at the earliest, so a "
            f"delay below {BRIAN2_DELAY_OFFSET_STEPS} step has no Brian2 twin")
    return k - BRIAN2_DELAY_OFFSET_STEPS


# NEST (``iaf_psc_delta`` on the grid): a spike stamped at step s (NEST stamps a spike with
# the end of the update step that produced it) sent with a delay of d >= 1 steps changes
# the target's potential at stamp s + d. Generators are connected straight to the neurons;
# an input binned into axon step n is given to its ``spike_generator`` at stamp
# n + NEST_INPUT_SHIFT_STEPS - 1 (NEST refuses spikes at t <= 0) and its synapses get
# d = k + 1, so it changes the potential at stamp n + k + NEST_INPUT_SHIFT_STEPS: NEST stamps
# are axon steps shifted by NEST_INPUT_SHIFT_STEPS. Between neurons d = k, so a zero-step
# delay has no NEST twin (NEST's minimum delay is one step). Pinned by
# tests/bridge/test_peer_nest.py (NEST 3.10: input at step 10, k = 1 -> recorder stamp 13,
# axon step 11; a second neuron one more k = 1 synapse on -> stamp 14).
#
# Because of the shift NEST runs one update step (stamp 1) before axon's step 0. A neuron's
# drive must stay off during it (``I_e = 0`` for the first step, then the drive), or NEST's
# potential would start the run at ``(1 - beta) b tau`` instead of 0.
#
# NEST updates ``V <- P30 * I_e + P33 * V + (summed input)`` with ``P33 = exp(-h / tau_m)``
# (the C library's exp) and ``P30 = 1 / C_m * (1 - P33) * tau_m`` evaluated left to right, no
# fused multiply-add (measured with a multimeter, NEST 3.10). axon's ``beta`` is numpy's exp, which on CPUs with AVX-512
# rounds differently from the C library in about 6 % of arguments, so matching the ratio
# ``-h / tau`` alone is not enough: :func:`nest_tau_ms` searches ``tau_m`` for the C library's
# exp to return axon's ``beta`` itself, and :func:`nest_drive_pA` picks ``I_e`` (and ``C_m``
# within a few ulps of NEST_C_M_PF) so that ``P30 * I_e`` is axon's per-step drive bit for bit. The sum
# of the inputs of one step is formed in NEST's delivery order, not axon's: the potentials
# can still differ in the last bits, which the tests check never flips a spike.
#
# NEST ``iaf_psc_delta_ps`` (precise times) needs no shift: generators with precise times,
# delays ``delay_s`` in ms, spike times ``stamp * h - offset``. Its refractory period is at
# least one resolution step, and input arriving during it is discarded (NEST 3.10 documents
# ``refractory_input`` for this model but does not let it be set), so it is axon's neuron
# only while no input reaches a neuron within one resolution step after its own spike; the
# backend therefore runs it on a resolution far below ``dt`` (NEST_PS_RESOLUTION_S).
NEST_INPUT_SHIFT_STEPS = 2
NEST_C_M_PF = 1.0
NEST_PS_RESOLUTION_S = 1e-6
__all__ += ["NEST_C_M_PF", "NEST_PS_RESOLUTION_S", "nest_drive_pA"]


def nest_delay_steps(grid_steps, *, from_input: bool, what: str = "projection") -> np.ndarray:
    """NEST delay (in steps, >= 1) that reproduces the grid engine's ``grid_steps`` delay."""
    k = np.asarray(grid_steps, dtype=np.int64)
    if from_input:
        return k + 1
    if k.size and k.min() < 1:
        i = int(np.argmin(k))
        raise ValueError(
            f"{what}: synapse {i} has a delay of {int(k.reshape(-1)[i])} steps; NEST's minimum delay is one step "
            "(its resolution), so a zero-step delay between neurons has no NEST twin")
    return k


def _nudge(x: float, f, want: float, max_ulps: int) -> float | None:
    """Walk ``x`` by ulps towards ``f(x) == want`` (``f`` non-decreasing); None if it jumps over."""
    got = f(x)
    up = got < want
    for _ in range(max_ulps):
        if got == want:
            return x
        x = float(np.nextafter(x, np.inf if up else -np.inf))
        got = f(x)
        if (got < want) != up and got != want:
            return None
    return x if got == want else None


def nest_tau_ms(tau_s, dt_s: float) -> np.ndarray:
    """``tau_m`` in ms for NEST such that NEST's ``P33 = exp(-h / tau_m)`` (h = dt in ms, the
    C library's exp, which ``math.exp`` calls) equals axon's ``beta = np.exp(-dt / tau)`` bit
    for bit: ``tau * 1000``, first nudged by ulps until ``-h / tau_m == -dt / tau``, then until
    the exps agree (they differ for ~6 % of ratios where numpy uses its AVX-512 exp). If no
    nearby ``tau_m`` gives ``beta`` exactly, the ratio-matched value is kept."""
    tau = np.atleast_1d(np.asarray(tau_s, dtype=np.float64))
    dt = _check_dt(dt_s)
    h = dt * 1000.0
    # beta over the whole array, as the grid engine computes it, then one search per distinct tau
    beta_all = np.atleast_1d(beta_from_tau(tau, dt))
    tau, inverse = np.unique(tau, return_inverse=True)
    inverse = inverse.reshape(-1)
    beta = np.empty(tau.size)
    beta[inverse] = beta_all
    out = tau * 1000.0
    for i in range(out.size):
        want = -dt / tau[i]
        # -h / x increases with x
        x = _nudge(float(out[i]), lambda y: -h / y, want, 8)
        x = float(out[i]) if x is None else x
        y = _nudge(x, lambda y: math.exp(-h / y), float(beta[i]), 256)
        out[i] = x if y is None else y
    return out[inverse].reshape(np.shape(tau_s))


def nest_drive_pA(drive_hz, tau_s, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """``(I_e in pA, C_m in pF)`` for NEST's ``iaf_psc_delta`` with a drive ``b`` in 1/s.

    NEST's resting level is ``I_e * tau_m / C_m`` (ms, pA, pF -> mV), axon's ``b * tau``, so
    ``I_e = b * C_m / 1000``. NEST's per-step drive term is ``P30 * I_e`` with
    ``P30 = 1 / C_m * (1 - P33) * tau_m`` evaluated left to right (measured, NEST 3.10), and
    ``tau_m`` from :func:`nest_tau_ms`. ``I_e`` is nudged by ulps until that product is
    :func:`drive_per_step` bit for bit; for ~1 % of neurons no ``I_e`` hits it with
    ``C_m = NEST_C_M_PF`` and ``C_m`` is moved by a few ulps too (a ``psc_delta`` weight is a
    jump in ``V`` and does not depend on ``C_m``). If nothing is found, ``b * C_m / 1000``.
    """
    dt = _check_dt(dt_s)
    tau, b = np.broadcast_arrays(np.asarray(tau_s, dtype=np.float64), np.asarray(drive_hz, dtype=np.float64))
    shape = tau.shape
    tau, b = tau.reshape(-1), b.reshape(-1)
    tau_ms = np.atleast_1d(nest_tau_ms(tau, dt))
    dstep = np.atleast_1d(drive_per_step(b, tau, dt))
    h = dt * 1000.0
    i_e = b * NEST_C_M_PF / 1000.0
    c_m = np.full(tau.shape, NEST_C_M_PF)
    for i in range(tau.size):
        if dstep[i] == 0.0:
            i_e[i] = 0.0
            continue
        p33 = math.exp(-h / tau_ms[i])
        c = NEST_C_M_PF
        for _ in range(64):
            p30 = 1.0 / c * (1.0 - p33) * tau_ms[i]       # NEST's expression, same order
            # p30 > 0, so p30 * x is non-decreasing in x
            x = _nudge(float(dstep[i] / p30), lambda y: p30 * y, float(dstep[i]), 16)
            if x is not None:
                i_e[i], c_m[i] = x, c
                break
            c = float(np.nextafter(c, np.inf))
    return i_e.reshape(shape), c_m.reshape(shape)


# ---------------------------------------------------------------------- NIR
# NIR (the Neuromorphic Intermediate Representation, ``nir`` 1.0) writes neurons as
# continuous-time ODEs, e.g. LIF ``tau dv/dt = (v_leak - v) + r I``, and leaves two things
# unsaid that decide what a file means: the step ``dt`` its spikes assume and how the
# exporter discretised the ODE. axon reads a NIR spike as a unit pulse lasting one step
# ``dt`` (area ``dt``; snnTorch's exporter writes ``r = tau / dt`` so that a weight is a jump
# of the same size), so a weight ``w`` into a neuron with ``(tau, r)`` is a jump of
# ``w * r * dt / tau`` in axon. The decay per step is one of two rules:
#
# * ``"exp"``: the exact solution of the ODE, ``beta = exp(-dt / tau)``: axon's own neuron,
#   ``tau_mem_s = tau`` unchanged. axon's exporter writes this rule.
# * ``"euler"``: forward Euler, ``beta = 1 - dt / tau``: how snnTorch's ``export_to_nir``
#   writes ``snn.Leaky`` (``tau = dt / (1 - beta)`` with its hard-coded ``dt = 1e-4``) and how
#   its ``import_from_nir`` reads it back. axon keeps the per-step ``beta`` and takes
#   ``tau_mem_s = -dt / ln(beta)``, so the grid engine at ``dt`` decays by exactly ``beta``.
#
# ``v_leak`` and a constant input current ``c`` (an ``Affine`` bias) set the resting level
# ``v_leak + r c`` under both rules, i.e. a drive ``b = (v_leak + r c) / tau_mem_s`` (1/s).
NIR_STEP_RULES = ("exp", "euler")
#: A decay per step below this is "gone within the step" (float32 exports of a zero decay
#: land within ~1e-7 of 0; a stateless Threshold node, a
#: CubaLIF synaptic current with ``alpha = 0``).
NIR_INSTANT_DECAY = 1e-6
#: ``tau_mem_s`` (in steps) axon gives a layer whose potential must not outlive a step:
#: ``exp(-1 / 1e-3) == 0.0`` in float64, so the grid engine's ``beta`` is exactly 0.
NIR_INSTANT_TAU_STEPS = 1e-3
__all__ += ["NIR_STEP_RULES", "nir_decay_to_tau", "nir_input_scale", "nir_drive_hz", "nir_lif_params",
            "nir_synaptic_current_is_instant"]


def _check_rule(step_rule: str) -> str:
    if step_rule not in NIR_STEP_RULES:
        raise ValueError(f"step rule must be one of {NIR_STEP_RULES}, got {step_rule!r}")
    return step_rule


def nir_decay_to_tau(tau_s, dt_s: float, step_rule: str) -> np.ndarray:
    """axon's ``tau_mem_s`` for a NIR time constant ``tau`` (seconds) read with ``step_rule``.

    ``"exp"``: ``tau`` itself. ``"euler"``: ``beta = 1 - dt / tau`` per step, kept exactly by
    ``tau_mem_s = -dt / ln(beta)``; ``tau == dt`` (``beta = 0``, no memory) becomes
    ``NIR_INSTANT_TAU_STEPS * dt``; ``tau < dt`` (``beta < 0``, an unstable Euler step) is an error.
    """
    dt = _check_dt(dt_s)
    _check_rule(step_rule)
    tau = np.asarray(tau_s, dtype=np.float64)
    _finite("tau", tau)
    if tau.size and tau.min() <= 0:
        raise ValueError(f"tau must be > 0, got {tau.min()!r}")
    if step_rule == "exp":
        return tau.copy()
    beta = 1.0 - dt / tau
    if beta.size and beta.min() < -NIR_INSTANT_DECAY:
        raise ValueError(f"tau = {tau.min()!r} s is shorter than dt = {dt!r} s: forward Euler gives beta = "
                         f"{beta.min()!r} < 0 per step (an oscillating, unstable neuron axon cannot run)")
    out = np.empty_like(beta)
    gone = beta <= NIR_INSTANT_DECAY
    out[gone] = NIR_INSTANT_TAU_STEPS * dt
    out[~gone] = -dt / np.log(beta[~gone])
    return out


def nir_input_scale(r, tau_s, dt_s: float) -> np.ndarray:
    """The jump in ``v`` per unit of weighted input spike: ``r * dt / tau`` (a spike is a
    pulse of area ``dt``, see above)."""
    dt = _check_dt(dt_s)
    return np.asarray(r, dtype=np.float64) * dt / np.asarray(tau_s, dtype=np.float64)


def nir_drive_hz(rest_level, tau_mem_s) -> np.ndarray:
    """axon's drive ``b`` (1/s) whose resting level ``b * tau_mem_s`` is ``rest_level``."""
    return np.asarray(rest_level, dtype=np.float64) / np.asarray(tau_mem_s, dtype=np.float64)


def nir_synaptic_current_is_instant(tau_syn_s, dt_s: float, step_rule: str) -> bool:
    """Whether a CubaLIF synaptic current decays to nothing within one step, so that the
    neuron is axon's jump-synapse LIF: ``alpha = 1 - dt / tau_syn`` (``"euler"``, i.e.
    ``tau_syn == dt``) or ``exp(-dt / tau_syn)`` (``"exp"``) below ``NIR_INSTANT_DECAY``."""
    dt = _check_dt(dt_s)
    tau = np.asarray(tau_syn_s, dtype=np.float64)
    _finite("tau_syn", tau)
    if tau.size and tau.min() <= 0:
        return False
    alpha = 1.0 - dt / tau if _check_rule(step_rule) == "euler" else np.exp(-dt / tau)
    return bool(np.all(np.abs(alpha) <= NIR_INSTANT_DECAY))


def nir_lif_params(tau_mem_s, drive_hz, dt_s: float) -> dict:
    """NIR parameters of an axon LIF/readout neuron (export, rule ``"exp"``): ``tau`` in
    seconds, ``r = tau / dt`` (a weight is a jump of the same size), ``v_leak = b * tau``."""
    dt = _check_dt(dt_s)
    tau = np.asarray(tau_mem_s, dtype=np.float64)
    return {"tau": tau.copy(), "r": tau / dt, "v_leak": np.asarray(drive_hz, dtype=np.float64) * tau}
