"""Leaky integrate-and-fire neurons in discrete time (SEMANTICS.md, "The discrete-time model").

Owns the pure step functions :func:`lif_step` and :func:`li_step` (the readout's leaky
integrator) and the thin modules that loop them over time. Nothing here knows about
delays: a layer receives its synaptic input already summed per step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from training.surrogate import SURROGATES, spike_fn

__all__ = [
    "RESET_MODES",
    "LIFParams",
    "LIFState",
    "beta_from_tau",
    "drive_per_step",
    "lif_step",
    "li_step",
    "run_lif",
    "run_li",
]

RESET_MODES = ("zero", "subtract")


def beta_from_tau(dt_s: float, tau_s) -> np.ndarray:
    """``beta = exp(-dt / tau)`` in float64 numpy.

    Computed with numpy (not torch) so that the simulator's grid engine, which also uses
    ``np.exp(-dt_s / tau_s)``, obtains bit-identical decay factors.
    """
    tau = np.asarray(tau_s, dtype=np.float64)
    if not np.all(np.isfinite(tau)) or np.any(tau <= 0):
        raise ValueError(f"tau_mem_s must be finite and > 0, got {tau_s!r}")
    if not (np.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"dt_s must be finite and > 0, got {dt_s!r}")
    return np.exp(-float(dt_s) / tau)


def drive_per_step(beta: torch.Tensor, drive_hz: torch.Tensor, tau_s: torch.Tensor) -> torch.Tensor:
    """The constant per-step drive term ``(1 - beta) * b * tau``, evaluated left to right.

    This is the exact solution of ``dV/dt = -V/tau + b`` over one step, and the order of
    the three multiplications is part of the float64 parity contract with the grid engine.
    """
    return (1 - beta) * drive_hz * tau_s


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
    omega : (n, n) tensor or None
        Lateral matrix; a spike of neuron ``i`` lowers ``V_j`` by ``omega[j, i]``.
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
        n = self.beta.shape[-1]
        if self.omega is not None and tuple(self.omega.shape) != (n, n):
            raise ValueError(f"omega must have shape ({n}, {n}), got {tuple(self.omega.shape)}")


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
    # Evaluation order is the parity contract: (beta*V + drive) + I.
    v = params.beta * state.v + params.drive + inputs
    if params.threshold is None:
        raise ValueError("lif_step needs a threshold; use li_step for a leaky integrator")
    s = spike_fn(v - params.threshold, params.surrogate, params.slope)
    s_r = s.detach() if params.detach_reset else s
    if params.reset == "zero":
        v = v * (1 - s_r)
    else:
        v = v - params.threshold * s_r
    if params.omega is not None:
        # (s @ omega.T)[b, j] = sum_i omega[j, i] s[b, i]
        v = v - s_r @ params.omega.T
    return LIFState(v), s


def li_step(state: LIFState, params: LIFParams, inputs: torch.Tensor) -> tuple[LIFState, torch.Tensor]:
    """One step of the non-spiking leaky integrator (the readout).

    ``V[n] = beta * V[n-1] + (1 - beta) * b * tau + I[n]``; returns ``(state, V[n])``.
    """
    v = params.beta * state.v + params.drive + inputs
    return LIFState(v), v


def run_lif(params: LIFParams, currents: torch.Tensor, v0: torch.Tensor | None = None):
    """Loop :func:`lif_step` over time.

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
    state = LIFState(currents.new_zeros(b, n) if v0 is None else v0)
    spikes, vs = [], []
    for i_n in currents.unbind(1):
        state, s = lif_step(state, params, i_n)
        spikes.append(s)
        vs.append(state.v)
    return torch.stack(spikes, 1), torch.stack(vs, 1)


def run_li(params: LIFParams, currents: torch.Tensor, v0: torch.Tensor | None = None) -> torch.Tensor:
    """Loop :func:`li_step` over time; returns potentials (batch, steps, n)."""
    b, _, n = currents.shape
    state = LIFState(currents.new_zeros(b, n) if v0 is None else v0)
    vs = []
    for i_n in currents.unbind(1):
        state, v = li_step(state, params, i_n)
        vs.append(v)
    return torch.stack(vs, 1)
