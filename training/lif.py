"""Leaky integrate-and-fire neurons in discrete time (docs/semantics.md, "The discrete-time model").

Owns the pure step functions :func:`lif_step` and :func:`li_step` (the readout's leaky
integrator) and the thin modules that loop them over time. Nothing here knows about
delays: a layer receives its synaptic input already summed per step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from sim import discrete as _discrete
from training.surrogate import SEQUENCE_SURROGATES, SURROGATES, spike_fn

__all__ = [
    "RESET_MODES",
    "LIFParams",
    "LIFState",
    "beta_from_tau",
    "drive_per_step",
    "integrate",
    "fire_and_reset",
    "lateral_input",
    "lif_step",
    "li_step",
    "run_lif",
    "run_lif_steps",
    "run_li",
]

RESET_MODES = ("zero", "subtract")


# The discretisation rules are sim.discrete's, called here and by the grid engine alike:
# beta_from_tau(tau_s, dt_s) is numpy's exp(-dt / tau) in float64, and drive_per_step(beta,
# drive_hz, tau_s) = (1 - beta) * b * tau evaluated left to right, on torch tensors here.
beta_from_tau = _discrete.beta_from_tau
drive_per_step = _discrete.drive_term


class LIFState(NamedTuple):
    """Membrane potential ``v``, shape (batch, neurons)."""

    v: torch.Tensor


@dataclass(frozen=True)
class LIFParams:
    """Per-layer parameters of a LIF population, already on the dt grid.

    Attributes
    ----------
    beta : (n,) tensor
        ``exp(-dt / tau_mem_s)``.
    drive : (n,) tensor
        ``(1 - beta) * b * tau_mem_s`` from :func:`drive_per_step` (dimensionless, per step).
    threshold : (n,) tensor or None
        Firing threshold; ``None`` makes the population a non-spiking leaky integrator.
    reset : {"zero", "subtract"}
    omega : (g, g) tensor or None, ``g`` dividing ``n``
        Lateral matrix of one group of ``g`` contiguous neurons (neurons
        ``[q g, (q + 1) g)`` form group ``q``; ``g = n`` is one group spanning the layer):
        a spike of member ``i`` lowers member ``j`` of the same group by ``omega[j, i]``.
        A convolutional layer has one group per frequency position, all with the same
        matrix (docs/semantics.md, "Lateral connections").
    surrogate, slope
        Surrogate gradient (see :mod:`training.surrogate`).
    detach_reset : bool
        Stop the gradient through the reset and lateral terms (common practice; the
        forward pass is unaffected).
    """

    beta: torch.Tensor
    drive: torch.Tensor
    threshold: torch.Tensor | None
    reset: str = "subtract"
    omega: torch.Tensor | None = None
    surrogate: str = "fast_sigmoid"
    slope: float = 5.0
    detach_reset: bool = True

    def __post_init__(self):
        if self.reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {self.reset!r}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {sorted(SURROGATES)}, got {self.surrogate!r}")
        if not self.slope > 0:
            raise ValueError(f"slope must be > 0, got {self.slope!r}")
        if self.surrogate in SEQUENCE_SURROGATES and not self.detach_reset:
            raise ValueError(f"surrogate {self.surrogate!r} needs detach_reset=True (it is differentiated by "
                             "run_lif's fused backward pass only)")
        n = self.beta.shape[-1]
        if self.omega is not None:
            sh = tuple(self.omega.shape)
            if len(sh) != 2 or sh[0] != sh[1] or sh[0] < 1 or n % sh[0]:
                raise ValueError(f"omega must be a square (g, g) matrix with g dividing the layer size {n}, got shape {sh}")


def integrate(state: LIFState, params: LIFParams, inputs: torch.Tensor) -> torch.Tensor:
    """``V[n] = beta * V[n-1] + (1 - beta) * b * tau + I[n]`` (before threshold and reset).

    The evaluation order ``(beta * V + drive) + I`` is the float64 parity contract.
    """
    return params.beta * state.v + params.drive + inputs


def fire_and_reset(u: torch.Tensor, s: torch.Tensor, params: LIFParams) -> torch.Tensor:
    """``reset(V, s) - Omega s`` for potentials ``u`` that produced spikes ``s``."""
    if params.reset == "zero":
        v = u * (1 - s)
    else:
        v = u - params.threshold * s
    if params.omega is not None:
        v = v - lateral_input(s, params.omega)
    return v


def lateral_input(s: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """``Omega s`` per group: ``out[..., (q, j)] = sum_i omega[j, i] s[..., (q, i)]`` for
    contiguous groups of ``g = omega.shape[0]`` neurons (one group when ``g == n``)."""
    g = omega.shape[0]
    n = s.shape[-1]
    if g == n:
        return s @ omega.T
    return (s.reshape(*s.shape[:-1], n // g, g) @ omega.T).reshape(s.shape)


def lif_step(state: LIFState, params: LIFParams, inputs: torch.Tensor) -> tuple[LIFState, torch.Tensor]:
    """One step of the discrete-time LIF model, step-granular lateral inhibition.

    ::

        V[n] = beta * V[n-1] + (1 - beta) * b * tau + I[n]
        s[n] = V[n] >= threshold
        V[n] <- reset(V[n], s[n]) - Omega s[n]

    with ``reset(V, s) = V * (1 - s)`` (zero) or ``V - threshold * s`` (subtract).
    All neurons at or above threshold fire together; the lateral effect of this step's
    spikes is applied after all decisions and nobody is re-checked until the next step.

    Parameters
    ----------
    state : LIFState with v of shape (batch, n)
    params : LIFParams
    inputs : (batch, n) tensor
        ``I[n]``, the summed synaptic input arriving at this step (already delayed).

    Returns
    -------
    (LIFState, spikes) with spikes of shape (batch, n), values 0/1.
    """
    if params.threshold is None:
        raise ValueError("lif_step needs a threshold; use li_step for a leaky integrator")
    u = integrate(state, params, inputs)
    s = spike_fn(u - params.threshold, params.surrogate, params.slope)
    v = fire_and_reset(u, s.detach() if params.detach_reset else s, params)
    return LIFState(v), s


def li_step(state: LIFState, params: LIFParams, inputs: torch.Tensor) -> tuple[LIFState, torch.Tensor]:
    """One step of the non-spiking leaky integrator (the readout).

    ``V[n] = beta * V[n-1] + (1 - beta) * b * tau + I[n]``; returns ``(state, V[n])``.
    """
    v = params.beta * state.v + params.drive + inputs
    return LIFState(v), v


def run_lif(params: LIFParams, currents: torch.Tensor, v0: torch.Tensor | None = None):
    """Loop :func:`lif_step` over time.

    When gradients are needed and ``params.detach_reset`` holds, the loop runs inside
    :class:`_LIFSequence`, whose forward pass calls the very same :func:`integrate` and
    :func:`fire_and_reset` and whose backward pass is the hand-written backpropagation
    through time of those equations (several times faster than recording every step
    in autograd; ``tests/training/test_lif.py`` checks it against autograd).

    Parameters
    ----------
    currents : (batch, steps, n) tensor
    v0 : (batch, n) tensor, optional (zeros)

    Returns
    -------
    spikes : (batch, steps, n)
    v : (batch, steps, n) potentials after reset and lateral effect
    """
    b, _, n = currents.shape
    v0 = currents.new_zeros(b, n) if v0 is None else v0
    needs_grad = torch.is_grad_enabled() and (
        currents.requires_grad or params.drive.requires_grad or (params.omega is not None and params.omega.requires_grad))
    if needs_grad and params.surrogate in SEQUENCE_SURROGATES and params.threshold is None:
        raise ValueError(f"surrogate {params.surrogate!r} needs a threshold")
    if needs_grad and params.detach_reset and params.threshold is not None:
        omega = params.omega if params.omega is not None else currents.new_zeros(0)
        return _LIFSequence.apply(currents, params.drive, omega, v0, params)
    return run_lif_steps(params, currents, v0)


def run_lif_steps(params: LIFParams, currents: torch.Tensor, v0: torch.Tensor | None = None):
    """Plain loop of :func:`lif_step` (every step recorded by autograd)."""
    b, _, n = currents.shape
    state = LIFState(currents.new_zeros(b, n) if v0 is None else v0)
    spikes, vs = [], []
    for i_n in currents.unbind(1):
        state, s = lif_step(state, params, i_n)
        spikes.append(s)
        vs.append(state.v)
    return torch.stack(spikes, 1), torch.stack(vs, 1)


class _LIFSequence(torch.autograd.Function):
    """Whole-sequence LIF with manual BPTT (reset and lateral terms detached).

    Backward recursion, with ``u[n]`` the potential before reset::

        dL/du[n] = dL/ds[n] * sg'(u[n] - thr) + dL/dv[n] * dv[n]/du[n]
        dv[n]/du[n] = 1 (subtract) or 1 - s[n] (zero)
        dL/dv[n-1] += beta * dL/du[n];   dL/dI[n] = dL/du[n];   dL/ddrive = sum dL/du
        dL/dOmega[j, i] = -sum_{b,n,q} dL/dv[n]_(q,j) s[n]_(q,i)     (q: group)

    With ``surrogate="leaky_approx"`` (Lee et al. 2020) ``sg'`` is
    :func:`training.surrogate.leaky_approx_derivative`, computed from the whole window's
    spikes, and the leak is already inside it: the error goes back through time with
    ``dL/dv[n-1] += dL/du[n]`` (the integrate-and-fire view of the paper) instead of
    ``beta * dL/du[n]``.
    """

    @staticmethod
    def forward(ctx, currents, drive, omega, v0, params):
        p = params if params.drive is drive else _replace(params, drive=drive)
        with torch.no_grad():
            state = LIFState(v0)
            us, ss, vs = [], [], []
            for i_n in currents.unbind(1):
                u = integrate(state, p, i_n)
                s = (u - p.threshold >= 0).to(u.dtype)  # spike_fn's forward, without its graph
                state = LIFState(fire_and_reset(u, s, p))
                us.append(u)
                ss.append(s)
                vs.append(state.v)
            u_all, s_all, v_all = torch.stack(us, 1), torch.stack(ss, 1), torch.stack(vs, 1)
        ctx.params = p
        ctx.save_for_backward(u_all, s_all)
        return s_all, v_all

    @staticmethod
    def backward(ctx, grad_s, grad_v):
        from training.surrogate import surrogate_derivative

        u_all, s_all = ctx.saved_tensors
        p = ctx.params
        leaky = p.surrogate == "leaky_approx"
        if leaky:
            from training.surrogate import leaky_approx_derivative
            sg = leaky_approx_derivative(s_all, p.beta, p.threshold)
        else:
            sg = surrogate_derivative(u_all - p.threshold, p.surrogate, p.slope)
        gs = grad_s * sg if grad_s is not None else torch.zeros_like(u_all)
        dvdu = (1 - s_all) if p.reset == "zero" else None
        steps = u_all.shape[1]
        g_next = torch.zeros_like(u_all[:, 0])
        g_u = torch.empty_like(u_all)
        need_omega = p.omega is not None and ctx.needs_input_grad[2]
        g_v_all = torch.empty_like(u_all) if need_omega else None
        for n in range(steps - 1, -1, -1):
            gv = g_next if grad_v is None else g_next + grad_v[:, n]
            if need_omega:
                g_v_all[:, n] = gv
            gu = gs[:, n] + (gv if dvdu is None else gv * dvdu[:, n])
            g_u[:, n] = gu
            g_next = gu if leaky else p.beta * gu
        g_drive = g_u.sum((0, 1)) if ctx.needs_input_grad[1] else None
        if need_omega:
            g = p.omega.shape[0]
            gv4 = g_v_all.reshape(*g_v_all.shape[:2], -1, g)
            g_omega = -torch.einsum("btqj,btqi->ji", gv4, s_all.reshape(gv4.shape))
        else:
            g_omega = None
        return g_u, g_drive, g_omega, None, None


def _replace(params: LIFParams, **kw) -> LIFParams:
    import dataclasses
    return dataclasses.replace(params, **kw)


def run_li(params: LIFParams, currents: torch.Tensor, v0: torch.Tensor | None = None) -> torch.Tensor:
    """Loop :func:`li_step` over time; returns potentials (batch, steps, n)."""
    b, _, n = currents.shape
    state = LIFState(currents.new_zeros(b, n) if v0 is None else v0)
    vs = []
    for i_n in currents.unbind(1):
        state, v = li_step(state, params, i_n)
        vs.append(v)
    return torch.stack(vs, 1)
