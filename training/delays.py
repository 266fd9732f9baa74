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

__all__ = ["DELAY_MODES", "DelayProjection", "ConvDelayProjection", "conv_out_positions", "round_half_up", "gaussian_delay_kernel", "rounded_delay_kernel"]

DELAY_MODES = ("none", "fixed", "learned")
CONV_LAYOUTS = ("position_major", "channel_major")


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` as int64: the delay rounding rule of docs/semantics.md."""
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
    min_delay_steps : int
        Smallest delay (default 0); positions start uniform in ``[min, max]`` and are kept
        there. A network meant for Brian2 or NEST needs delays of at least one step.

    Attributes
    ----------
    weight : (n_out, n_in) Parameter
    pos : (n_out, n_in) Parameter, continuous delay positions in steps, kept in
        ``[min_delay_steps, max_delay_steps]`` by :meth:`clamp_positions`.
    sigma : float
        Current kernel width in steps (set by the training schedule).
    rounded : bool
        Use one-hot kernels at ``round_half_up(pos)`` (evaluation and export).
    """

    def __init__(self, n_in: int, n_out: int, max_delay_steps: int = 0, mode: str = "learned",
                 generator: torch.Generator | None = None, weight_scale: float = 1.0,
                 dtype: torch.dtype = torch.float32, min_delay_steps: int = 0):
        super().__init__()
        if mode not in DELAY_MODES:
            raise ValueError(f"delay mode must be one of {DELAY_MODES}, got {mode!r}")
        if int(max_delay_steps) != max_delay_steps or max_delay_steps < 0:
            raise ValueError(f"max_delay_steps must be an integer >= 0, got {max_delay_steps!r}")
        if mode == "none":
            max_delay_steps = 0
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.max_delay_steps = int(max_delay_steps)
        self.min_delay_steps = _check_min_delay(min_delay_steps, self.max_delay_steps, mode)
        self.mode = mode
        bound = weight_scale / math.sqrt(n_in)
        w = (torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
        self.weight = nn.Parameter(w.to(dtype))
        if mode == "learned":
            lo = self.min_delay_steps
            p = lo + torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * (self.max_delay_steps - lo)
        elif mode == "fixed":
            p = torch.randint(self.min_delay_steps, self.max_delay_steps + 1, (n_out, n_in),
                              generator=generator).to(torch.float64)
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
        return round_half_up(self.pos.detach()).clamp_(self.min_delay_steps, self.max_delay_steps)

    @torch.no_grad()
    def clamp_positions(self) -> None:
        self.pos.clamp_(float(self.min_delay_steps), float(self.max_delay_steps))

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


def _check_min_delay(min_delay_steps, max_delay_steps: int, mode: str) -> int:
    """``min_delay_steps`` validated: an integer in ``[0, max_delay_steps]``, and 0 when
    ``mode == "none"`` (no delays at all)."""
    if isinstance(min_delay_steps, bool) or int(min_delay_steps) != min_delay_steps or min_delay_steps < 0:
        raise ValueError(f"min_delay_steps must be an integer >= 0, got {min_delay_steps!r}")
    if mode == "none" and min_delay_steps:
        raise ValueError(f"min_delay_steps={min_delay_steps} needs delays, but the delay mode is 'none'")
    if min_delay_steps > max_delay_steps:
        raise ValueError(f"min_delay_steps={min_delay_steps} exceeds max_delay_steps={max_delay_steps}")
    return int(min_delay_steps)


def conv_out_positions(in_positions: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> int:
    """Output positions of a 'valid' 1-D convolution: ``floor((P - d (K - 1) - 1) / s) + 1``
    (0 or less when the dilated kernel is wider than the input)."""
    return (int(in_positions) - int(dilation) * (int(kernel_size) - 1) - 1) // int(stride) + 1


class ConvDelayProjection(nn.Module):
    """1-D convolution over frequency positions with a learned delay per kernel element.

    The presynaptic population is laid out as ``in_positions`` frequency positions of
    ``in_channels`` channels each (neuron ``q * in_channels + i``; the input layer is one
    channel per frequency band), the postsynaptic one as ``out_positions`` positions of
    ``out_channels`` channels (neuron ``p * out_channels + o``), so that the channels of one
    position are contiguous. Output position ``p`` sees input positions
    ``p * stride + k * dilation`` for ``k = 0..kernel_size-1`` ('valid' convolution, no
    padding). Weight and delay are shared over positions, as in a convolution::

        I[b, n, (p, o)] = sum_{i, k, t} w[o, i, k] g_{o,i,k}(t) x[b, n - t, (p s + k d, i)]

    with ``g`` the delay kernel of :class:`DelayProjection` (Gaussian of width ``sigma``
    around the position ``pos[o, i, k]`` while training, one-hot at
    ``round_half_up(pos)`` for evaluation and export). A convolution over time with a
    learnable tap per synapse is what simulates conduction delays (DCLS); here the time
    axis keeps that role and the frequency axis carries the shared kernel.

    The input may instead be laid out channel-major, neuron ``i * in_positions + q``
    (``in_layout="channel_major"``): the audio front end's send-on-delta channels are all
    UP events by band, then all DOWN events by band, i.e. 2 channels of ``n_bands``
    positions in that layout.

    Parameters
    ----------
    in_positions, in_channels, out_channels, kernel_size : int >= 1
    stride, dilation : int >= 1
    in_layout : {"position_major", "channel_major"}
    max_delay_steps, mode, generator, weight_scale, dtype
        As :class:`DelayProjection`; weights start uniform in
        ``weight_scale * [-1, 1] / sqrt(in_channels * kernel_size)`` (the fan-in).

    Attributes
    ----------
    weight, pos : (out_channels, in_channels, kernel_size) Parameters
    n_in, n_out : int
        ``in_positions * in_channels`` and ``out_positions * out_channels``.
    """

    def __init__(self, in_positions: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, max_delay_steps: int = 0, mode: str = "learned",
                 generator: torch.Generator | None = None, weight_scale: float = 1.0,
                 dtype: torch.dtype = torch.float32, in_layout: str = "position_major", min_delay_steps: int = 0):
        super().__init__()
        if mode not in DELAY_MODES:
            raise ValueError(f"delay mode must be one of {DELAY_MODES}, got {mode!r}")
        if in_layout not in CONV_LAYOUTS:
            raise ValueError(f"conv projection: in_layout must be one of {CONV_LAYOUTS}, got {in_layout!r}")
        self.in_layout = in_layout
        for name, v in (("in_positions", in_positions), ("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"conv projection: {name} must be an integer >= 1, got {v!r}")
        if int(max_delay_steps) != max_delay_steps or max_delay_steps < 0:
            raise ValueError(f"max_delay_steps must be an integer >= 0, got {max_delay_steps!r}")
        self.in_positions, self.in_channels = int(in_positions), int(in_channels)
        self.out_channels, self.kernel_size = int(out_channels), int(kernel_size)
        self.stride, self.dilation = int(stride), int(dilation)
        self.out_positions = conv_out_positions(in_positions, kernel_size, stride, dilation)
        if self.out_positions < 1:
            raise ValueError(f"conv projection: a kernel of {kernel_size} taps with dilation {dilation} spans "
                             f"{dilation * (kernel_size - 1) + 1} positions, more than the {in_positions} input positions")
        if mode == "none":
            max_delay_steps = 0
        self.n_in = self.in_positions * self.in_channels
        self.n_out = self.out_positions * self.out_channels
        self.max_delay_steps = int(max_delay_steps)
        self.min_delay_steps = _check_min_delay(min_delay_steps, self.max_delay_steps, mode)
        self.mode = mode
        shape = (self.out_channels, self.in_channels, self.kernel_size)
        bound = weight_scale / math.sqrt(self.in_channels * self.kernel_size)
        w = (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
        self.weight = nn.Parameter(w.to(dtype))
        if mode == "learned":
            lo = self.min_delay_steps
            p = lo + torch.rand(shape, generator=generator, dtype=torch.float64) * (self.max_delay_steps - lo)
        elif mode == "fixed":
            p = torch.randint(self.min_delay_steps, self.max_delay_steps + 1, shape,
                              generator=generator).to(torch.float64)
        else:
            p = torch.zeros(shape, dtype=torch.float64)
        self.pos = nn.Parameter(p.to(dtype), requires_grad=(mode == "learned"))
        self.sigma = float(self.max_delay_steps) / 2.0 if mode == "learned" else 0.0
        self.rounded = mode != "learned"

    n_taps = DelayProjection.n_taps
    kernel = DelayProjection.kernel
    delay_steps = DelayProjection.delay_steps
    clamp_positions = DelayProjection.clamp_positions

    def geometry(self) -> dict:
        """The integers that, with the kernel, define the projection (see ``sim.Conv1D``)."""
        return {"in_positions": self.in_positions, "in_channels": self.in_channels,
                "out_positions": self.out_positions, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "dilation": self.dilation,
                "in_layout": self.in_layout}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, steps, n_in) -> (batch, steps, n_out) delayed synaptic input."""
        return self.forward_channels_first(x).transpose(1, 2)

    def forward_channels_first(self, x: torch.Tensor) -> torch.Tensor:
        """As :meth:`forward` but returns (batch, n_out, steps)."""
        b, steps, _ = x.shape
        k = self.kernel()  # (C_out, C_in, K, taps), tap index = delay in steps
        # One conv2d over (time, position): time taps flipped and the input left-padded by
        # D, so that tap j of the flipped kernel sees x[n + j - D], i.e. delay D - j.
        w2 = k.flip(-1).permute(0, 1, 3, 2)  # (C_out, C_in, taps, K)
        if self.in_layout == "position_major":
            xt = x.reshape(b, steps, self.in_positions, self.in_channels).permute(0, 3, 1, 2)  # (b, C_in, T, P_in)
        else:
            xt = x.reshape(b, steps, self.in_channels, self.in_positions).permute(0, 2, 1, 3)
        xt = F.pad(xt, (0, 0, self.max_delay_steps, 0))
        y = F.conv2d(xt, w2, stride=(1, self.stride), dilation=(1, self.dilation))  # (b, C_out, T, P_out)
        return y.permute(0, 3, 1, 2).reshape(b, self.n_out, steps)
