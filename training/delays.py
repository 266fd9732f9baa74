"""Projections with a weight and a learnable delay on every synapse.

Delays are learned as in DCLS-Delays (Hammouamri, Khalfaoui-Hassani & Masquelier 2023,
"Learning Delays in Spiking Neural Networks using Dilated Convolutions with Learnable
Spacings", ICLR 2024): each synapse ``(o, i)`` owns a continuous position ``p`` (in steps)
and a temporal kernel over the taps ``t = 0..max_delay``::

    k[o, i, t] = w[o, i] * g(t - p[o, i]) / sum_t' g(t' - p[o, i]),  g(x) = exp(-x^2 / (2 sigma^2))

applied as a causal 1-D convolution over time. ``sigma`` shrinks on a schedule during
training; for evaluation and export the kernel becomes a one-hot tap at
``round_half_up(p)``. Convention: a delay of ``k`` steps means an input spike at step
``n`` reaches the target's ``V`` at step ``n + k``; ``k = 0`` is the same step.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DELAY_MODES", "DelayProjection", "round_half_up", "gaussian_delay_kernel", "rounded_delay_kernel"]

DELAY_MODES = ("none", "fixed", "learned")


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` as int64: the delay rounding rule of SEMANTICS.md."""
    return torch.floor(x + 0.5).to(torch.int64)


def gaussian_delay_kernel(weight: torch.Tensor, pos: torch.Tensor, sigma: float, n_taps: int) -> torch.Tensor:
    """Per-synapse delay kernels, shape (out, in, n_taps), tap index = delay in steps.

    ``sigma <= 0`` gives the rounded (one-hot) kernel.
    """
    if sigma <= 0:
        return rounded_delay_kernel(weight, pos, n_taps)
    taps = torch.arange(n_taps, dtype=pos.dtype, device=pos.device)
    # Normalised Gaussian as a softmax of its log: stable for tiny sigma, where every
    # exp() would underflow and g / sum(g) would be 0 / 0.
    g = torch.softmax(-0.5 * ((taps - pos.unsqueeze(-1)) / sigma) ** 2, dim=-1)
    return weight.unsqueeze(-1) * g


def rounded_delay_kernel(weight: torch.Tensor, pos: torch.Tensor, n_taps: int) -> torch.Tensor:
    """One-hot kernels ``k[o, i, t] = w[o, i] * [t == round_half_up(p[o, i])]``.

    Differentiable in ``weight`` only.
    """
    k = round_half_up(pos.detach()).clamp_(0, n_taps - 1)
    onehot = F.one_hot(k, n_taps).to(weight.dtype)
    return weight.unsqueeze(-1) * onehot


class DelayProjection(nn.Module):
    """Dense projection ``n_in -> n_out`` with per-synapse weights and delays.

    Parameters
    ----------
    n_in, n_out : int
    max_delay_steps : int >= 0
        Largest delay; the kernel has ``max_delay_steps + 1`` taps.
    mode : {"none", "fixed", "learned"}
        ``none``: every delay is 0 (a plain linear map per step). ``fixed``: random integer
        delays drawn once, not trained. ``learned``: continuous positions trained through
        the Gaussian kernel.
    generator : torch.Generator
        Source of the initial weights and positions.
    weight_scale : float
        Weights start uniform in ``weight_scale * [-1, 1] / sqrt(n_in)``.

    Attributes
    ----------
    weight : (n_out, n_in) Parameter
    pos : (n_out, n_in) Parameter, continuous delay positions in steps, kept in
        ``[0, max_delay_steps]`` by :meth:`clamp_positions`.
    sigma : float
        Current kernel width in steps (set by the training schedule).
    rounded : bool
        Use one-hot kernels at ``round_half_up(pos)`` (evaluation and export).
    """

    def __init__(self, n_in: int, n_out: int, max_delay_steps: int = 0, mode: str = "learned",
                 generator: torch.Generator | None = None, weight_scale: float = 1.0,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        if mode not in DELAY_MODES:
            raise ValueError(f"delay mode must be one of {DELAY_MODES}, got {mode!r}")
        if int(max_delay_steps) != max_delay_steps or max_delay_steps < 0:
            raise ValueError(f"max_delay_steps must be an integer >= 0, got {max_delay_steps!r}")
        if mode == "none":
            max_delay_steps = 0
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.max_delay_steps = int(max_delay_steps)
        self.mode = mode
        bound = weight_scale / math.sqrt(n_in)
        w = (torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
        self.weight = nn.Parameter(w.to(dtype))
        if mode == "learned":
            p = torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * self.max_delay_steps
        elif mode == "fixed":
            p = torch.randint(0, self.max_delay_steps + 1, (n_out, n_in), generator=generator).to(torch.float64)
        else:
            p = torch.zeros(n_out, n_in, dtype=torch.float64)
        self.pos = nn.Parameter(p.to(dtype), requires_grad=(mode == "learned"))
        self.sigma = float(self.max_delay_steps) / 2.0 if mode == "learned" else 0.0
        self.rounded = mode != "learned"

    @property
    def n_taps(self) -> int:
        return self.max_delay_steps + 1

    def kernel(self) -> torch.Tensor:
        """Current kernel (out, in, taps); one-hot when :attr:`rounded` or ``sigma == 0``."""
        if self.rounded or self.mode != "learned":
            return rounded_delay_kernel(self.weight, self.pos, self.n_taps)
        return gaussian_delay_kernel(self.weight, self.pos, self.sigma, self.n_taps)

    def delay_steps(self) -> torch.Tensor:
        """Rounded integer delays (out, in), int64."""
        return round_half_up(self.pos.detach()).clamp_(0, self.max_delay_steps)

    @torch.no_grad()
    def clamp_positions(self) -> None:
        self.pos.clamp_(0.0, float(self.max_delay_steps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Delayed synaptic input.

        Parameters
        ----------
        x : (batch, steps, n_in) presynaptic spikes (or binned input counts).

        Returns
        -------
        (batch, steps, n_out) with ``I[b, n, o] = sum_i sum_k k[o, i, k] x[b, n - k, i]``
        (``x`` is zero before step 0).
        """
        return self.forward_channels_first(x).transpose(1, 2)

    def forward_channels_first(self, x: torch.Tensor) -> torch.Tensor:
        """As :meth:`forward` but returns (batch, n_out, steps) (the layout of BatchNorm1d)."""
        if self.max_delay_steps == 0:
            return torch.einsum("oi,bti->bot", self.weight, x)
        k = self.kernel()
        # conv1d is a cross-correlation: after left padding by D, output n sees
        # x[n + j - D] at tap j, i.e. delay D - j; hence the flip.
        xt = F.pad(x.transpose(1, 2), (self.max_delay_steps, 0))
        return F.conv1d(xt, k.flip(-1))
