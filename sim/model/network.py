"""The network description: input channels, LIF layers, projections, lateral groups, readout.

Everything is validated here, once, in Python. Compiled engines receive flat arrays built
by :meth:`Network.compile` and never see an out-of-range index or a non-finite value.
Units are SI: seconds for time constants and delays, 1/s for drive.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from sim.errors import fmt_value
from sim.model.task import Task, task_from_metadata

__all__ = ["LIFLayer", "ReadoutLayer", "Projection", "Conv1D", "Lateral", "Network", "INPUT", "network_digest"]

INPUT = "input"
RESET_MODES = ("zero", "subtract")


def _per_neuron(layer: str, field_name: str, value, size: int) -> np.ndarray:
    """Broadcast a scalar or (size,) array to a float64 (size,) array, checking finiteness."""
    a = _real(f"layer {layer!r}: {field_name}", value)
    if a.ndim == 0:
        a = np.full(size, float(a))
    if a.shape != (size,):
        raise ValueError(f"layer {layer!r}: {field_name} must be a scalar or shape ({size},), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        i = int(np.nonzero(~np.isfinite(a))[0][0])
        raise ValueError(f"layer {layer!r}: {field_name}[{i}] must be finite, got {fmt_value(a[i])}")
    a = a.copy()
    a.setflags(write=False)
    return a


def _real(what: str, value) -> np.ndarray:
    """``value`` as float64, refusing complex numbers (numpy would drop the imaginary part)."""
    a = np.asarray(value)
    if np.iscomplexobj(a):
        raise ValueError(f"{what} must be real numbers, got complex values (dtype {a.dtype})")
    try:
        return a.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers, got dtype {a.dtype}") from None


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{kind} name must be a non-empty string of letters, digits, '_' or '-', got {name!r}")
    if name == INPUT:
        raise ValueError(f"{kind} name {INPUT!r} is reserved for the input channels")


@dataclass(frozen=True)
class LIFLayer:
    """A layer of leaky integrate-and-fire neurons (docs/semantics.md, "Neuron").

    Parameters
    ----------
    name : str
        Unique layer name.
    size : int
        Number of neurons (>= 1).
    tau_mem_s : float or (size,) array
        Membrane time constant in seconds, > 0.
    threshold : float
        Firing threshold (finite, > 0).
    reset : {"zero", "subtract"}
        What a spike does to the potential: ``V <- 0`` or ``V <- V - threshold``.
    drive : float or (size,) array
        Constant drive ``b`` in 1/s; the potential relaxes towards ``b * tau``.
    """

    name: str
    size: int
    tau_mem_s: Any
    threshold: float = 1.0
    reset: str = "zero"
    drive: Any = 0.0

    def __post_init__(self):
        _check_name("layer", self.name)
        if not isinstance(self.size, (int, np.integer)) or isinstance(self.size, bool) or self.size < 1:
            raise ValueError(f"layer {self.name!r}: size must be an integer >= 1, got {self.size!r}")
        object.__setattr__(self, "size", int(self.size))
        tau = _per_neuron(self.name, "tau_mem_s", self.tau_mem_s, self.size)
        if np.any(tau <= 0):
            i = int(np.nonzero(tau <= 0)[0][0])
            raise ValueError(f"layer {self.name!r}: tau_mem_s must be > 0, neuron {i} has {fmt_value(tau[i])}")
        object.__setattr__(self, "tau_mem_s", tau)
        object.__setattr__(self, "drive", _per_neuron(self.name, "drive", self.drive, self.size))
        thr = self.threshold
        if not isinstance(thr, (int, float, np.floating, np.integer)) or not np.isfinite(thr) or thr <= 0:
            raise ValueError(f"layer {self.name!r}: threshold must be a finite number > 0, got {thr!r}")
        object.__setattr__(self, "threshold", float(thr))
        if self.reset not in RESET_MODES:
            raise ValueError(f"layer {self.name!r}: reset must be one of {RESET_MODES}, got {self.reset!r}")

    @property
    def spiking(self) -> bool:
        return True


@dataclass(frozen=True)
class ReadoutLayer:
    """A non-spiking leaky integrator whose potential is the network's output.

    Same equation as :class:`LIFLayer` with no threshold.
    """

    name: str
    size: int
    tau_mem_s: Any
    drive: Any = 0.0

    def __post_init__(self):
        _check_name("readout", self.name)
        if not isinstance(self.size, (int, np.integer)) or isinstance(self.size, bool) or self.size < 1:
            raise ValueError(f"readout {self.name!r}: size must be an integer >= 1, got {self.size!r}")
        object.__setattr__(self, "size", int(self.size))
        tau = _per_neuron(self.name, "tau_mem_s", self.tau_mem_s, self.size)
        if np.any(tau <= 0):
            i = int(np.nonzero(tau <= 0)[0][0])
            raise ValueError(f"readout {self.name!r}: tau_mem_s must be > 0, neuron {i} has {fmt_value(tau[i])}")
        object.__setattr__(self, "tau_mem_s", tau)
        object.__setattr__(self, "drive", _per_neuron(self.name, "drive", self.drive, self.size))

    @property
    def spiking(self) -> bool:
        return False


def _int_ge1(label: str, name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{label}: {name} must be an integer >= 1, got {v!r}")
    return int(v)


@dataclass(frozen=True)
class Conv1D:
    """A 1-D convolution over positions (frequency), kept compact: kernel + geometry.

    Neuron layout: the pre population is ``in_positions`` positions of ``in_channels``
    channels, neuron ``q * in_channels + i``; the post population ``out_positions``
    positions of ``out_channels`` channels, neuron ``p * out_channels + o`` (the channels of
    one position are contiguous: they are that position's lateral group). Output position
    ``p`` reads input positions ``p * stride + k * dilation``, ``k = 0..kernel_size-1``
    ('valid' convolution, no padding), so

        out_positions = (in_positions - dilation * (kernel_size - 1) - 1) // stride + 1

    and synapse ``(q, i) -> (p, o)`` with ``q = p * stride + k * dilation`` has weight
    ``kernel[o, i, k]`` and delay ``delay_s[o, i, k]`` (shared by all positions).
    With ``in_layout="channel_major"`` the pre neuron of ``(q, i)`` is ``i * in_positions + q``
    instead (the front end's send-on-delta inputs: all UP channels by band, then all DOWN).

    Parameters
    ----------
    in_positions, in_channels : int >= 1
    kernel : (out_channels, in_channels, kernel_size) float array
    delay_s : scalar or array of the kernel's shape, seconds >= 0
    stride, dilation : int >= 1
    delay_steps : array of the kernel's shape, int >= 0, optional
        Whole-step delays of a discrete-time model (with ``Projection.dt_s``).
    in_layout : {"position_major", "channel_major"}
    """

    in_positions: int
    in_channels: int
    kernel: np.ndarray
    delay_s: Any = 0.0
    stride: int = 1
    dilation: int = 1
    delay_steps: np.ndarray | None = None
    in_layout: str = "position_major"

    def __post_init__(self):
        label = "conv1d"
        if self.in_layout not in ("position_major", "channel_major"):
            raise ValueError(f"{label}: in_layout must be 'position_major' or 'channel_major', got {self.in_layout!r}")
        for name in ("in_positions", "in_channels", "stride", "dilation"):
            object.__setattr__(self, name, _int_ge1(label, name, getattr(self, name)))
        k = _real("Conv1D: kernel", self.kernel).copy()
        if k.ndim != 3 or min(k.shape) < 1:
            raise ValueError(f"{label}: kernel must be 3-D (out_channels, in_channels, kernel_size), got shape {k.shape}")
        if k.shape[1] != self.in_channels:
            raise ValueError(f"{label}: kernel has {k.shape[1]} input channels, in_channels is {self.in_channels}")
        if not np.all(np.isfinite(k)):
            raise ValueError(f"{label}: kernel must be finite")
        d = _real("Conv1D: delay_s", self.delay_s).copy()
        if d.ndim == 0:
            d = np.full(k.shape, float(d))
        if d.shape != k.shape:
            raise ValueError(f"{label}: delay_s must be a scalar or shape {k.shape} like the kernel, got {d.shape}")
        if not np.all(np.isfinite(d)) or np.any(d < 0):
            raise ValueError(f"{label}: delay_s must be finite and >= 0")
        steps = None
        if self.delay_steps is not None:
            steps = np.array(self.delay_steps)
            if steps.shape != k.shape or (steps.size and not np.issubdtype(steps.dtype, np.integer)):
                raise ValueError(f"{label}: delay_steps must be integers of shape {k.shape}, got {steps.shape} "
                                 f"{steps.dtype}")
            if steps.min() < 0:
                raise ValueError(f"{label}: delay_steps must be >= 0, got {steps.min()}")
            steps = steps.astype(np.int64)
        if self.out_positions < 1:
            raise ValueError(f"{label}: a kernel of {self.kernel_size} taps with dilation {self.dilation} spans "
                             f"{self.dilation * (self.kernel_size - 1) + 1} positions, more than the "
                             f"{self.in_positions} input positions")
        for a in (k, d) + ((steps,) if steps is not None else ()):
            a.setflags(write=False)
        object.__setattr__(self, "kernel", k)
        object.__setattr__(self, "delay_s", d)
        object.__setattr__(self, "delay_steps", steps)

    @property
    def out_channels(self) -> int:
        return int(self.kernel.shape[0])

    @property
    def kernel_size(self) -> int:
        return int(self.kernel.shape[2])

    @property
    def out_positions(self) -> int:
        return (self.in_positions - self.dilation * (self.kernel_size - 1) - 1) // self.stride + 1

    @property
    def n_pre(self) -> int:
        return self.in_positions * self.in_channels

    @property
    def n_post(self) -> int:
        return self.out_positions * self.out_channels

    def geometry(self) -> dict:
        """The integers of the convolution (JSON-ready)."""
        return {"in_positions": self.in_positions, "in_channels": self.in_channels,
                "out_positions": self.out_positions, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "dilation": self.dilation,
                "in_layout": self.in_layout}

    def expand(self):
        """Every synapse as parallel arrays ``(pre, post, weight, delay_s, delay_steps)``
        (``delay_steps`` None when not recorded), one per (position, kernel element)."""
        c_out, c_in, K = self.kernel.shape
        p, o, i, k = np.meshgrid(np.arange(self.out_positions), np.arange(c_out), np.arange(c_in), np.arange(K),
                                 indexing="ij")
        q = p * self.stride + k * self.dilation
        pre = q * c_in + i if self.in_layout == "position_major" else i * self.in_positions + q
        post = p * c_out + o
        steps = None if self.delay_steps is None else self.delay_steps[o, i, k].reshape(-1)
        return (pre.reshape(-1), post.reshape(-1), self.kernel[o, i, k].reshape(-1), self.delay_s[o, i, k].reshape(-1),
                steps)


def _in_canonical_order(pre: np.ndarray, delay: np.ndarray, post: np.ndarray) -> bool:
    """True when (pre, delay, post) is non-decreasing lexicographically."""
    if pre.shape[0] < 2:
        return True
    dp, dd, dq = np.diff(pre), np.diff(delay), np.diff(post)
    return bool(np.all((dp > 0) | ((dp == 0) & ((dd > 0) | ((dd == 0) & (dq >= 0))))))


@dataclass(frozen=True)
class Projection:
    """Synapses from one population (``"input"`` or a layer) to a layer or the readout.

    Stored sparse: one entry per synapse, ``(pre, post, weight, delay_s)``. Build with
    :meth:`dense` or :meth:`sparse`. A spike of ``pre`` emitted at ``t`` adds ``value * weight``
    to ``post`` at ``t + delay_s`` (docs/semantics.md, "Synapses and delays").

    Two synapses with the same ``(pre, post, delay_s)`` are duplicates: rejected by default,
    or summed into one with ``duplicates="sum"``. Synapses between the same pair with
    different delays are distinct and both kept.

    ``delay_steps`` and ``dt_s`` optionally record the whole-step delays a discrete-time
    model used (training); the exact engine always uses ``delay_s``.

    A convolutional projection (:meth:`conv`) keeps its kernel and geometry in ``conv``
    (what the model file stores) and its expansion in the sparse arrays (what the engines
    run); the two always agree, since the arrays are made from ``conv``.
    """

    pre: str
    post: str
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weight: np.ndarray
    delay_s: np.ndarray
    delay_steps: np.ndarray | None = None
    dt_s: float | None = None
    conv: Conv1D | None = None

    @classmethod
    def conv1d(cls, pre: str, post: str, conv: Conv1D, *, dt_s=None) -> "Projection":
        """Synapses of a 1-D convolution over positions (see :class:`Conv1D` for the layout),
        expanded into the sparse arrays, with ``conv`` kept for the model file."""
        if not isinstance(conv, Conv1D):
            raise ValueError(f"projection {pre}->{post}: conv must be a sim.Conv1D, got {type(conv).__name__}")
        pre_a, post_a, w, d, steps = conv.expand()
        p = cls.sparse(pre, post, pre_a, post_a, w, d, delay_steps=steps, dt_s=dt_s)
        object.__setattr__(p, "conv", conv)
        return p

    @classmethod
    def dense(cls, pre: str, post: str, weight, delay_s=0.0, *, delay_steps=None, dt_s=None) -> "Projection":
        """All-to-all synapses from a ``(n_post, n_pre)`` weight matrix (the layout of
        ``torch.nn.Linear.weight``); ``delay_s`` is a scalar or the same shape."""
        w = _real(f"projection {pre}->{post}: weight", weight)
        if w.ndim != 2:
            raise ValueError(f"projection {pre}->{post}: dense weight must be 2-D (n_post, n_pre), got shape {w.shape}")
        d = _real(f"projection {pre}->{post}: delay_s", delay_s)
        if d.ndim == 0:
            d = np.full(w.shape, float(d))
        if d.shape != w.shape:
            raise ValueError(
                f"projection {pre}->{post}: delay_s must be a scalar or shape {w.shape} like weight, got {d.shape}"
            )
        post_idx, pre_idx = np.indices(w.shape)
        steps = None
        if delay_steps is not None:
            steps = np.asarray(delay_steps)
            if steps.shape != w.shape:
                raise ValueError(f"projection {pre}->{post}: delay_steps must have shape {w.shape}, got {steps.shape}")
            steps = steps.reshape(-1)
        return cls.sparse(pre, post, pre_idx.reshape(-1), post_idx.reshape(-1), w.reshape(-1), d.reshape(-1),
                          delay_steps=steps, dt_s=dt_s)

    @classmethod
    def sparse(cls, pre: str, post: str, pre_idx, post_idx, weight, delay_s, *, duplicates: str = "reject",
               delay_steps=None, dt_s=None) -> "Projection":
        """Synapses from parallel arrays. ``duplicates`` is ``"reject"`` or ``"sum"``."""
        name = f"projection {pre}->{post}"
        if duplicates not in ("reject", "sum"):
            raise ValueError(f"{name}: duplicates must be 'reject' or 'sum', got {duplicates!r}")
        arrays = {}
        for fname, val, dtype in (("pre_idx", pre_idx, np.int64), ("post_idx", post_idx, np.int64),
                                  ("weight", weight, np.float64), ("delay_s", delay_s, np.float64)):
            a = np.asarray(val)
            if a.ndim != 1:
                raise ValueError(f"{name}: {fname} must be 1-D, got shape {a.shape}")
            if fname.endswith("_idx") and a.size and not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"{name}: {fname} must be integers, got dtype {a.dtype}")
            arrays[fname] = a.astype(dtype) if fname.endswith("_idx") else _real(f"{name}: {fname}", a)
        n = arrays["pre_idx"].shape[0]
        for fname, a in arrays.items():
            if a.shape[0] != n:
                raise ValueError(f"{name}: {fname} has {a.shape[0]} entries, pre_idx has {n}")
        for fname in ("weight", "delay_s"):
            a = arrays[fname]
            if not np.all(np.isfinite(a)):
                i = int(np.nonzero(~np.isfinite(a))[0][0])
                raise ValueError(f"{name}: {fname}[{i}] must be finite, got {fmt_value(a[i])}")
        d = arrays["delay_s"]
        if np.any(d < 0):
            i = int(np.nonzero(d < 0)[0][0])
            raise ValueError(f"{name}: delay_s must be >= 0, synapse {i} has {fmt_value(d[i])}")
        for fname in ("pre_idx", "post_idx"):
            a = arrays[fname]
            if a.size and a.min() < 0:
                i = int(np.argmin(a))
                raise ValueError(f"{name}: {fname} must be >= 0, synapse {i} has {a[i]}")
        steps = None
        if delay_steps is not None:
            steps = np.asarray(delay_steps)
            if steps.shape != (n,) or (steps.size and not np.issubdtype(steps.dtype, np.integer)):
                raise ValueError(f"{name}: delay_steps must be {n} integers, got shape {steps.shape} dtype {steps.dtype}")
            if steps.size and steps.min() < 0:
                raise ValueError(f"{name}: delay_steps must be >= 0, got {steps.min()}")
            steps = steps.astype(np.int64)
            if dt_s is None:
                raise ValueError(f"{name}: delay_steps given without dt_s")
        if dt_s is not None and (not np.isfinite(dt_s) or dt_s <= 0):
            raise ValueError(f"{name}: dt_s must be a finite number > 0, got {dt_s!r}")
        # Canonical order: by pre, then delay, then post (the order the exact engine delivers in).
        # Arrays already in that order (a model file read back) skip the sort: a few vector
        # compares instead of a 3-key lexsort (~1 s for a few million synapses).
        if _in_canonical_order(arrays["pre_idx"], d, arrays["post_idx"]):
            pre_a, post_a, w, d = (arrays["pre_idx"].copy(), arrays["post_idx"].copy(),
                                   arrays["weight"].copy(), d.copy())
            steps = steps.copy() if steps is not None else None
        else:
            order = np.lexsort((arrays["post_idx"], d, arrays["pre_idx"]))
            pre_a, post_a, w, d = (arrays["pre_idx"][order], arrays["post_idx"][order],
                                   arrays["weight"][order], d[order])
            steps = steps[order] if steps is not None else None
        if n > 1:
            dup = (np.diff(pre_a) == 0) & (np.diff(post_a) == 0) & (np.diff(d) == 0)
            if np.any(dup):
                if duplicates == "reject":
                    i = int(np.nonzero(dup)[0][0])
                    raise ValueError(
                        f"{name}: duplicate synapse pre={pre_a[i]} post={post_a[i]} delay_s={fmt_value(d[i])}; "
                        "pass duplicates='sum' to add their weights into one synapse"
                    )
                else:  # "sum"
                    keep = np.ones(n, dtype=bool)
                    keep[1:] = ~dup
                    starts = np.nonzero(keep)[0]
                    w = np.add.reduceat(w, starts)
                    pre_a, post_a, d = pre_a[starts], post_a[starts], d[starts]
                    steps = steps[starts] if steps is not None else None
        for a in (pre_a, post_a, w, d) + ((steps,) if steps is not None else ()):
            a.setflags(write=False)
        return cls(pre, post, pre_a, post_a, w, d, steps, None if dt_s is None else float(dt_s))

    @property
    def n_synapses(self) -> int:
        return int(self.pre_idx.shape[0])


@dataclass(frozen=True)
class Lateral:
    """Lateral (send-on-delta) connections of one layer, over groups of neurons.

    Parameters
    ----------
    layer : str
        The layer the groups belong to.
    members : (n_groups, group_size) int array
        Neuron indices of each group; groups are disjoint.
    omega : (n_groups, group_size, group_size) float array
        ``omega[g, j, i]``: when member ``i`` of group ``g`` fires, member ``j`` gets
        ``V_j <- V_j - omega[g, j, i]`` at the same instant (diagonal included).
    """

    layer: str
    members: np.ndarray
    omega: np.ndarray

    @classmethod
    def dense(cls, layer: str, omega) -> "Lateral":
        """One group spanning the whole layer, ``omega`` of shape ``(n, n)``."""
        om = _real(f"lateral {layer!r}: omega", omega)
        if om.ndim != 2 or om.shape[0] != om.shape[1]:
            raise ValueError(f"lateral {layer!r}: omega must be a square (n, n) matrix, got shape {om.shape}")
        return cls(layer, np.arange(om.shape[0])[None, :], om[None])

    @classmethod
    def per_position(cls, layer: str, omega, n_positions: int) -> "Lateral":
        """One group per position of a convolutional layer: the ``g`` channels of position
        ``p`` are neurons ``p * g .. p * g + g - 1`` (the :class:`Conv1D` layout), and every
        group has the same ``omega`` of shape ``(g, g)``."""
        om = _real(f"lateral {layer!r}: omega", omega)
        if om.ndim != 2 or om.shape[0] != om.shape[1]:
            raise ValueError(f"lateral {layer!r}: omega must be a square (g, g) matrix, got shape {om.shape}")
        n_positions = _int_ge1(f"lateral {layer!r}", "n_positions", n_positions)
        g = om.shape[0]
        members = np.arange(n_positions * g).reshape(n_positions, g)
        return cls(layer, members, np.broadcast_to(om, (n_positions, g, g)))

    def __post_init__(self):
        m = np.asarray(self.members)
        om = _real(f"lateral {self.layer!r}: omega", self.omega)
        if m.ndim != 2 or m.shape[1] < 1:
            raise ValueError(f"lateral {self.layer!r}: members must be 2-D (n_groups, group_size), got shape {m.shape}")
        if m.size and not np.issubdtype(m.dtype, np.integer):
            raise ValueError(f"lateral {self.layer!r}: members must be integers, got dtype {m.dtype}")
        g = m.shape[1]
        if om.shape != (m.shape[0], g, g):
            raise ValueError(
                f"lateral {self.layer!r}: omega must have shape {(m.shape[0], g, g)} for members of shape {m.shape}, "
                f"got {om.shape}"
            )
        if not np.all(np.isfinite(om)):
            idx = tuple(int(x[0]) for x in np.nonzero(~np.isfinite(om)))
            raise ValueError(f"lateral {self.layer!r}: omega{list(idx)} must be finite, got {fmt_value(om[idx])}")
        m = m.astype(np.int64)
        if m.min() < 0:
            raise ValueError(f"lateral {self.layer!r}: members must be >= 0, got {m.min()}")
        flat = m.reshape(-1)
        if np.unique(flat).size != flat.size:
            vals, counts = np.unique(flat, return_counts=True)
            raise ValueError(f"lateral {self.layer!r}: neuron {vals[counts > 1][0]} belongs to more than one group "
                             "(groups must be disjoint)")
        m.setflags(write=False)
        om = om.copy()
        om.setflags(write=False)
        object.__setattr__(self, "members", m)
        object.__setattr__(self, "omega", om)


class Network:
    """A validated spiking network: input channels -> LIF layers -> optional readout.

    Parameters
    ----------
    n_inputs : int
        Number of input channels (events carry a channel in ``[0, n_inputs)``).
    layers : sequence of LIFLayer
        Spiking layers. Their order is the order in which simultaneous arrivals are
        processed at one instant (feed-forward order for zero delays).
    projections : sequence of Projection
        At most one projection per ``(pre, post)`` pair; ``pre`` is ``"input"`` or a layer,
        ``post`` a layer or the readout.
    laterals : sequence of Lateral
        At most one per layer.
    readout : ReadoutLayer, optional
    metadata : dict, optional
        Free-form JSON-serialisable provenance (training config, data set, accuracies).
    task : sim.model.task.Task, optional
        How the network is used (dt, sample window, decision rule, class names, front
        end). Default: read from a format-1 ``metadata`` (:func:`sim.model.task.task_from_metadata`),
        else None.
    """

    def __init__(self, n_inputs: int, layers: Iterable[LIFLayer], projections: Iterable[Projection] = (),
                 laterals: Iterable[Lateral] = (), readout: ReadoutLayer | None = None,
                 metadata: dict | None = None, task=None):
        if not isinstance(n_inputs, (int, np.integer)) or isinstance(n_inputs, bool) or n_inputs < 0:
            raise ValueError(f"network: n_inputs must be an integer >= 0, got {fmt_value(n_inputs)}")
        self.n_inputs = int(n_inputs)
        self.layers: list[LIFLayer] = list(layers)
        for l in self.layers:
            if not isinstance(l, LIFLayer):
                raise ValueError(f"network: layers must be LIFLayer objects, got {type(l).__name__}")
        if readout is not None and not isinstance(readout, ReadoutLayer):
            raise ValueError(f"network: readout must be a ReadoutLayer, got {type(readout).__name__}")
        self.readout = readout
        names = [l.name for l in self.all_layers]
        seen = set()
        for n in names:
            if n in seen:
                raise ValueError(f"network: layer name {n!r} is used twice")
            seen.add(n)
        self.projections: list[Projection] = list(projections)
        pairs = set()
        for p in self.projections:
            if not isinstance(p, Projection):
                raise ValueError(f"network: projections must be Projection objects, got {type(p).__name__}")
            label = f"projection {p.pre}->{p.post}"
            if p.pre != INPUT and p.pre not in seen:
                raise ValueError(f"{label}: unknown pre {p.pre!r} (known: {[INPUT] + names})")
            if readout is not None and p.pre == readout.name:
                raise ValueError(f"{label}: the readout does not spike and cannot be a pre population")
            if p.post not in seen:
                raise ValueError(f"{label}: unknown post {p.post!r} (known: {names})")
            if (p.pre, p.post) in pairs:
                raise ValueError(f"{label}: a second projection between the same populations; merge them into one")
            pairs.add((p.pre, p.post))
            n_pre = self.size_of(p.pre)
            n_post = self.size_of(p.post)
            if p.conv is not None and (p.conv.n_pre != n_pre or p.conv.n_post != n_post):
                raise ValueError(f"{label}: the convolution maps {p.conv.in_positions} x {p.conv.in_channels} = "
                                 f"{p.conv.n_pre} pre neurons to {p.conv.out_positions} x {p.conv.out_channels} = "
                                 f"{p.conv.n_post} post neurons, but {p.pre!r} has {n_pre} and {p.post!r} {n_post}")
            if p.n_synapses:
                if p.pre_idx.max() >= n_pre:
                    i = int(np.argmax(p.pre_idx))
                    raise ValueError(f"{label}: pre_idx {p.pre_idx[i]} out of range for {p.pre!r} of size {n_pre}")
                if p.post_idx.max() >= n_post:
                    i = int(np.argmax(p.post_idx))
                    raise ValueError(f"{label}: post_idx {p.post_idx[i]} out of range for {p.post!r} of size {n_post}")
        self.laterals: list[Lateral] = list(laterals)
        lat_layers = set()
        for lat in self.laterals:
            if not isinstance(lat, Lateral):
                raise ValueError(f"network: laterals must be Lateral objects, got {type(lat).__name__}")
            if lat.layer not in [l.name for l in self.layers]:
                raise ValueError(f"lateral {lat.layer!r}: not a spiking layer of this network (layers: "
                                 f"{[l.name for l in self.layers]})")
            if lat.layer in lat_layers:
                raise ValueError(f"lateral {lat.layer!r}: a layer can carry only one Lateral (put all groups in it)")
            lat_layers.add(lat.layer)
            size = self.size_of(lat.layer)
            if lat.members.max() >= size:
                raise ValueError(f"lateral {lat.layer!r}: member index {lat.members.max()} out of range for a layer "
                                 f"of size {size}")
        self.metadata = dict(metadata or {})
        if task is None:
            task = task_from_metadata(self.metadata)
        elif not isinstance(task, Task):
            raise ValueError(f"network: task must be a sim.model.task.Task, got {type(task).__name__}")
        if task is not None:
            task.check_network(self.n_inputs, self.readout.size if self.readout is not None else 0)
        self.task = task

    @property
    def class_names(self) -> list[str]:
        """One name per readout neuron: the task's, else ``"0"``, ``"1"``, ..."""
        n = self.readout.size if self.readout is not None else 0
        if self.task is not None and self.task.class_names is not None:
            return list(self.task.class_names)
        return [str(i) for i in range(n)]

    # -- queries -----------------------------------------------------------------------
    @property
    def all_layers(self) -> list:
        return self.layers + ([self.readout] if self.readout is not None else [])

    def layer(self, name: str):
        for l in self.all_layers:
            if l.name == name:
                return l
        raise KeyError(f"no layer named {name!r}")

    def size_of(self, name: str) -> int:
        if name == INPUT:
            return self.n_inputs
        return self.layer(name).size

    def projection(self, pre: str, post: str) -> Projection:
        for p in self.projections:
            if p.pre == pre and p.post == post:
                return p
        raise KeyError(f"no projection {pre}->{post}")

    def lateral(self, layer: str) -> Lateral | None:
        for lat in self.laterals:
            if lat.layer == layer:
                return lat
        return None

    @property
    def n_neurons(self) -> int:
        return sum(l.size for l in self.all_layers)

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections)

    def offsets(self) -> dict[str, int]:
        """Global index of each layer's first neuron (layers in order, readout last)."""
        out, o = {}, 0
        for l in self.all_layers:
            out[l.name] = o
            o += l.size
        return out

    def __repr__(self) -> str:
        parts = [f"{l.name}[{l.size}]" for l in self.all_layers]
        return (f"Network(n_inputs={self.n_inputs}, layers={' -> '.join(parts)}, "
                f"synapses={self.n_synapses}, laterals={[l.layer for l in self.laterals]})")

    def __eq__(self, other) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return network_digest(self) == network_digest(other)


def network_digest(network: Network) -> str:
    """A SHA-256 over everything that defines the network's dynamics and its metadata.

    Two networks with equal digests simulate identically; used by ``Network.__eq__``.
    """
    h = hashlib.sha256()

    def add(x):
        if isinstance(x, np.ndarray):
            h.update(str(x.dtype).encode() + str(x.shape).encode())
            h.update(np.ascontiguousarray(x).tobytes())
        else:
            h.update(repr(x).encode())
        h.update(b"|")

    add(network.n_inputs)
    for l in network.all_layers:
        add(l.name), add(l.spiking), add(l.size), add(l.tau_mem_s), add(l.drive)
        if l.spiking:
            add(l.threshold), add(l.reset)
    for p in network.projections:
        add(p.pre), add(p.post), add(p.pre_idx), add(p.post_idx), add(p.weight), add(p.delay_s)
        add(p.delay_steps if p.delay_steps is not None else None), add(p.dt_s)
        if p.conv is not None:  # the storage form is part of the identity: a round trip keeps it
            add(json.dumps(p.conv.geometry(), sort_keys=True))
    for lat in network.laterals:
        add(lat.layer), add(lat.members), add(lat.omega)
    add(json.dumps(network.metadata, sort_keys=True, default=str))
    add(json.dumps(network.task.to_dict() if network.task is not None else None, sort_keys=True))
    return h.hexdigest()
