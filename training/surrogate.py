"""Surrogate-gradient spike functions: Heaviside forward, smooth derivative backward.

The forward pass is exactly ``s = (x >= 0)`` with ``x = V - threshold`` (docs/semantics.md:
a neuron spikes when ``V >= threshold``), so a trained model's forward pass is the
discrete-time model of the simulator; only the backward pass is approximated.
"""
from __future__ import annotations

import math

import torch

__all__ = ["SURROGATES", "spike_fn", "surrogate_derivative"]


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


SURROGATES = {"fast_sigmoid": _FastSigmoid, "arctan": _ArcTan}


def spike_fn(x: torch.Tensor, surrogate: str = "fast_sigmoid", slope: float = 5.0) -> torch.Tensor:
    """Heaviside step ``(x >= 0)`` with a surrogate derivative.

    Parameters
    ----------
    x : tensor, any shape
        ``V - threshold`` (dimensionless).
    surrogate : {"fast_sigmoid", "arctan"}
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
    """The surrogate ``d s / d x`` used by :func:`spike_fn`'s backward pass."""
    return SURROGATES[surrogate].derivative(x, float(slope))
