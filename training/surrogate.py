"""Surrogate-gradient spike functions: Heaviside forward, smooth derivative backward.

The forward pass is exactly ``s = (x >= 0)`` with ``x = V - threshold`` (docs/semantics.md:
a neuron spikes when ``V >= threshold``), so a trained model's forward pass is the
discrete-time model of the simulator; only the backward pass is approximated.
"""
from __future__ import annotations

import math

import torch

__all__ = ["SURROGATES", "SEQUENCE_SURROGATES", "spike_fn", "surrogate_derivative", "leaky_approx_derivative"]


class _FastSigmoid(torch.autograd.Function):
    """``d s / d x = 1 / (slope * |x| + 1)^2`` (Zenke & Ganguli 2018, SuperSpike)."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * _FastSigmoid.derivative(x, ctx.slope), None

    @staticmethod
    def derivative(x, slope):
        return 1.0 / (slope * x.abs() + 1.0) ** 2


class _ArcTan(torch.autograd.Function):
    """``d s / d x = 1 / (1 + (pi/2 * slope * x)^2)`` (Fang et al. 2021), peak 1 at x=0."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * _ArcTan.derivative(x, ctx.slope), None

    @staticmethod
    def derivative(x, slope):
        return 1.0 / (1.0 + (0.5 * math.pi * slope * x) ** 2)


class _LeakyApproxStep(torch.autograd.Function):
    """Heaviside forward; the backward of ``leaky_approx`` needs the whole window's spikes
    (:func:`leaky_approx_derivative`), which one step does not have."""

    @staticmethod
    def forward(ctx, x, slope):
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        raise RuntimeError("surrogate 'leaky_approx' is a whole-window derivative: differentiate through "
                           "training.lif.run_lif (detach_reset=True), not through single lif_step calls")

    @staticmethod
    def derivative(x, slope):
        raise ValueError("surrogate 'leaky_approx' needs the spikes of the whole window: use "
                         "leaky_approx_derivative(s, beta, threshold)")


SURROGATES = {"fast_sigmoid": _FastSigmoid, "arctan": _ArcTan, "leaky_approx": _LeakyApproxStep}
#: Surrogates whose derivative at a step depends on the neuron's spikes over the whole
#: window; training.lif.run_lif computes them in its fused backward pass.
SEQUENCE_SURROGATES = ("leaky_approx",)


def leaky_approx_derivative(s: torch.Tensor, beta: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """The approximate spike derivative of Lee, Sarwar, Panda, Srinivasan & Roy (2020),
    "Enabling spike-based backpropagation for training deep neural network architectures",
    Front. Neurosci. 14:119, which accounts for the leak of a LIF neuron.

    The idea, in our terms: a non-leaky integrate-and-fire neuron that receives a total
    input ``net`` over the window emits ``a = net / threshold`` spikes, so ``da/dnet =
    1 / threshold``. A leaky neuron loses part of ``net`` to the leak; the paper writes
    ``a = (net - f_leak) / threshold`` and estimates how the leak loss grows with the
    output from the neuron's own spike train: with ``gamma = sum_n s[n]`` the spike count
    and ``LF = sum_n beta^(T-1-n) s[n]`` the spike train low-pass filtered with the
    membrane's decay per step ``beta`` (its value at the end of the window),

        d a / d net  ~  (1 / threshold) * (1 + ln(beta) * LF / gamma)

    (``ln(beta) = -dt / tau < 0``: the factor lies in ``[1 + ln(beta), 1]``; the more
    recent the spikes, the more input the leak has taken). The error reaches the potential
    only at the steps where the neuron fired, so

        d s[n] / d u[n]  =  s[n] * (1 / threshold) * (1 + ln(beta) * LF / gamma)

    and 0 for a neuron that never fired in the window (``gamma = 0``). The leak is
    accounted for here, so :func:`training.lif.run_lif` carries the error back through
    time as for an integrate-and-fire neuron (``dV[n]/dV[n-1] = 1`` instead of ``beta``).

    Parameters
    ----------
    s : (batch, steps, n) tensor of 0/1 spikes
    beta : (n,) tensor, ``exp(-dt / tau)``
    threshold : (n,) tensor

    Returns
    -------
    (batch, steps, n) tensor, same dtype as ``s``.
    """
    steps = s.shape[1]
    beta = beta.to(s.dtype)
    # beta^(T-1-n) for n = 0..T-1, per neuron: (steps, n)
    age = torch.arange(steps - 1, -1, -1, dtype=s.dtype, device=s.device).unsqueeze(-1)
    lf = (s * beta ** age).sum(1)  # (batch, n)
    gamma = s.sum(1)
    corr = torch.where(gamma > 0, 1.0 + torch.log(beta) * lf / gamma.clamp(min=1.0), torch.zeros_like(gamma))
    return s * (corr / threshold.to(s.dtype)).unsqueeze(1)


def spike_fn(x: torch.Tensor, surrogate: str = "fast_sigmoid", slope: float = 5.0) -> torch.Tensor:
    """Heaviside step ``(x >= 0)`` with a surrogate derivative.

    Parameters
    ----------
    x : tensor, any shape
        ``V - threshold`` (dimensionless).
    surrogate : {"fast_sigmoid", "arctan", "leaky_approx"}
        ``leaky_approx`` has no per-step derivative (see :func:`leaky_approx_derivative`):
        only :func:`training.lif.run_lif` can differentiate it.
    slope : float > 0
        Steepness of the surrogate; larger is closer to the true (zero/infinite) derivative.

    Returns
    -------
    tensor of the same shape and dtype as ``x``, values exactly 0 or 1.
    """
    try:
        fn = SURROGATES[surrogate]
    except KeyError:
        raise ValueError(f"surrogate must be one of {sorted(SURROGATES)}, got {surrogate!r}") from None
    if not slope > 0:
        raise ValueError(f"surrogate slope must be > 0, got {slope!r}")
    return fn.apply(x, float(slope))


def surrogate_derivative(x: torch.Tensor, surrogate: str, slope: float) -> torch.Tensor:
    """The surrogate ``d s / d x`` used by :func:`spike_fn`'s backward pass (not defined
    for the whole-window ``leaky_approx``)."""
    return SURROGATES[surrogate].derivative(x, float(slope))
