"""The grid engine: fixed-step simulation of a :class:`Network` (docs/semantics.md, "The
discrete-time model") — the reference that ties training, Brian2 and NEST to the exact engine.

Delays are whole steps taken from ``Projection.delay_steps`` recorded for the same ``dt_s``
(a model exported from training carries them; ``bridge.conventions.network_on_grid``
records them for any other network: ``sim`` does not round seconds itself, so that the
rounding rule exists once). Input events are binned with the training rule
``n = floor(t / dt + 1e-9)`` and summed per (step, channel). Lateral groups act at step
granularity. The simulator is stateful and chunk-resumable like the exact engine and
returns the same result types, so callers can swap engines.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.engines import _grid_kernels as K
from sim.engines.compiled import compile_network, initial_potentials
from sim.discrete import STEP_EPS, beta_from_tau, check_dt, drive_term, same_dt, time_to_step
from sim.engines.exact import ChunkResult, spikes_of_chunks
from sim.model.events import Events
from sim.model.network import INPUT, Network
from sim.model.results import Counts, SimResult

__all__ = ["GridSimulator", "simulate_grid", "bin_step", "STEP_EPS"]

#: The binning rule and its tolerance are :mod:`sim.discrete`'s (shared with training).
bin_step = time_to_step


GridArrays = namedtuple("GridArrays", [
    "n_inputs", "n_spiking",       # int: input channels; spiking layers (readout after them)
    "beta", "dstep", "thr", "subtract",  # (n,) per neuron: exp(-dt/tau), (1-beta)*b*tau, threshold, reset
    "layer_start",                 # (L+1,) first global neuron of each layer
    "buf_off", "buf_len", "region",  # (L,) ring buffer offset, number of slots, slots x layer size
    "src_seg",                     # (sources+1,) segments of each source (input channels, then neurons)
    "seg_layer", "seg_start",      # per segment: target layer; first synapse (one past the last at the end)
    "syn_pos", "syn_w",            # per synapse: delay * target layer size + column; weight
    "syn_post",                    # per synapse: target neuron (for the counts)
    "lgroup_ptr", "lgroups",       # lateral groups of each layer
    "group_ptr", "group_members", "omega_ptr", "omega_flat",
])
# State that survives between run_steps calls: potentials, ring buffers, spikes per
# neuron, input events per channel; the last step's decisions (spiked), and scratch
# (each layer's current slot, the spiking members of one group).
GridState = namedtuple("GridState", ["V", "buf", "spike_count", "in_counts", "spiked", "now_pos", "lat_pos"])


def sum_per_step_channel(steps, channels, values):
    """Input events binned into steps, summed per (step, channel) and ordered by step then
    channel: what the step model receives (docs/semantics.md). Returns ``(steps, channels,
    values)``; the peers (Brian2, NEST) feed their generators from the same sums."""
    s, c, v = np.asarray(steps), np.asarray(channels), np.asarray(values)
    if not s.size:
        return s, c, v
    order = np.lexsort((c, s))
    s, c, v = s[order], c[order], v[order]
    new = np.ones(s.size, bool)
    new[1:] = (np.diff(s) != 0) | (np.diff(c) != 0)
    starts = np.nonzero(new)[0]
    return s[starts], c[starts], np.add.reduceat(v, starts)


def grid_arrays(network: Network, dt_s: float) -> GridArrays:
    """The flat arrays the grid engine runs ``network`` on at step ``dt_s`` (what a
    :class:`GridSimulator` holds besides its state; ``sim.metrics.engine_memory`` reports
    their size). Raises ``ValueError`` if a projection's delays are not recorded for ``dt_s``."""
    net = compile_network(network)
    layers = network.all_layers
    layer_index = {l.name: k for k, l in enumerate(layers)}
    offs = network.offsets()
    n = network.n_neurons
    tau = net.tau
    beta = beta_from_tau(tau, dt_s)         # the functions training calls: bit-identical factors
    drive = np.concatenate([l.drive for l in layers]) if n else np.zeros(0)
    dstep = drive_term(beta, drive, tau)
    layer_start = np.zeros(len(layers) + 1, np.int64)
    for k, l in enumerate(layers):
        layer_start[k + 1] = layer_start[k] + l.size
    max_k = np.zeros(len(layers), np.int64)
    srcs, posts, ws, ks = [], [], [], []
    for p in network.projections:
        label = f"projection {p.pre}->{p.post}"
        if p.delay_steps is not None and same_dt(p.dt_s, dt_s):
            steps = p.delay_steps
        elif p.n_synapses == 0 or not np.any(p.delay_s):
            steps = np.zeros(p.n_synapses, np.int64)   # all delays zero: 0 steps on any grid
        else:
            rec = ("no delay_steps recorded" if p.delay_steps is None
                   else f"delay_steps recorded for dt_s={p.dt_s!r}")
            raise ValueError(
                f"{label}: the grid engine needs delays in whole steps of dt_s={dt_s!r}, but this projection has "
                f"{rec}; convert its delay_s with bridge.conventions.network_on_grid(network, dt_s) "
                "(the single place that rounds seconds to steps)")
        post_L = layer_index[p.post]
        if p.pre != INPUT and p.n_synapses and np.any(steps == 0) and layer_index[p.pre] >= post_L:
            i = int(np.nonzero(steps == 0)[0][0])
            raise ValueError(
                f"{label}: synapse {i} (pre {p.pre_idx[i]} -> post {p.post_idx[i]}) has a delay of 0 steps onto the "
                f"same or an earlier layer; in the step model layer {p.pre!r} is integrated after {p.post!r}, so "
                "such a spike has no step to land in. Give recurrent and backward synapses a delay >= 1 step")
        src_base = 0 if p.pre == INPUT else network.n_inputs + offs[p.pre]
        srcs.append(p.pre_idx + src_base)
        posts.append(p.post_idx + offs[p.post])
        ws.append(np.asarray(p.weight))
        ks.append(np.asarray(steps, np.int64))
        if p.n_synapses:
            max_k[post_L] = max(max_k[post_L], int(steps.max()))
    n_src = network.n_inputs + n
    if srcs:
        src = np.concatenate(srcs)
        post = np.concatenate(posts)
        w = np.concatenate(ws)
        k = np.concatenate(ks)
    else:
        src, post, w, k = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    post_layer = np.asarray(net.layer_of, np.int64)[post] if post.size else np.zeros(0, np.int64)
    # Per source, one segment per target layer; inside it by delay, then target (cache-
    # friendly). The arrivals at one (step, neuron) are added in the same order as with a
    # plain (source, delay, target) order: only whole layers move.
    order = np.lexsort((post, k, post_layer, src))
    src, post, w, k, post_layer = src[order], post[order], w[order], k[order], post_layer[order]
    new_seg = np.ones(src.size, bool)
    new_seg[1:] = (src[1:] != src[:-1]) | (post_layer[1:] != post_layer[:-1])
    seg_first = np.nonzero(new_seg)[0]
    seg_start = np.append(seg_first, src.size)
    src_seg = np.searchsorted(src[seg_first], np.arange(n_src + 1), side="left")
    buf_len = max_k + 1
    sizes = np.diff(layer_start)
    buf_off = np.concatenate([[0], np.cumsum(buf_len * sizes)[:-1]]).astype(np.int64)
    syn_pos = k * sizes[post_layer] + (post - layer_start[post_layer]) if post.size else np.zeros(0, np.int64)
    # Lateral groups per layer.
    n_groups = net.group_ptr.shape[0] - 1
    group_layer = np.array([net.layer_of[net.group_members[net.group_ptr[gi]]] for gi in range(n_groups)], np.int64)
    lgroups = np.argsort(group_layer, kind="stable").astype(np.int64) if n_groups else np.zeros(0, np.int64)
    lgroup_ptr = np.zeros(len(layers) + 1, np.int64)
    if n_groups:
        np.add.at(lgroup_ptr, group_layer + 1, 1)
    lgroup_ptr = np.cumsum(lgroup_ptr)

    def c(a, dt):
        return np.ascontiguousarray(np.asarray(a, dtype=dt))

    u = np.uint64   # the kernel's indices are unsigned (sim.engines._grid_kernels)
    return GridArrays(
        n_inputs=int(network.n_inputs), n_spiking=len(network.layers),
        beta=c(beta, np.float64), dstep=c(dstep, np.float64), thr=c(net.thr, np.float64),
        subtract=c(net.subtract, np.bool_), layer_start=c(layer_start, np.int64),
        buf_off=c(buf_off, u), buf_len=c(buf_len, np.int64), region=c(buf_len * sizes, u),
        src_seg=c(src_seg, u), seg_layer=c(post_layer[seg_first], np.int64), seg_start=c(seg_start, u),
        syn_pos=c(syn_pos, u), syn_w=c(w, np.float64), syn_post=c(post, np.int64),
        lgroup_ptr=c(lgroup_ptr, np.int64), lgroups=c(lgroups, u), group_ptr=c(net.group_ptr, u),
        group_members=c(net.group_members, u), omega_ptr=c(net.omega_ptr, u),
        omega_flat=c(net.omega_flat, np.float64),
    )


class GridSimulator:
    """Fixed-step simulator of a :class:`Network` on the grid ``t_n = n * dt_s``.

    Parameters
    ----------
    network : Network
        Projections must carry ``delay_steps`` recorded for this ``dt_s`` (or have all
        delays zero); see ``bridge.conventions.network_on_grid``.
    dt_s : float
        Step in seconds.
    record_spikes : bool
        Keep every spike for :meth:`result`.
    record_readout : bool
        Keep the readout potential ``V[n]`` of every step (``(steps, n_readout)`` float64;
        turn off for long streams and read each :class:`ChunkResult`).
    v_init : (n_neurons,) array, optional
        Initial potentials (global order: layers then readout).

    Notes
    -----
    Per step ``n``, layers in network order (docs/semantics.md)::

        V[n] = beta * V[n-1] + (1 - beta) * b * tau + sum_j w_j * s_j[n - k_j]
        s[n] = V[n] >= threshold
        V[n] <- reset(V[n], s[n]) - Omega s[n]

    with ``beta = exp(-dt / tau)``; an input event at ``t`` counts in step
    ``floor(t / dt + 1e-9)`` with its value (several on one channel in one step add up).
    A spike at step ``n`` is reported at ``n * dt_s``; the readout sample of step ``n`` is
    ``V[n]`` at time ``n * dt_s`` (every arrival of step ``n`` included).

    Counts: ``state_updates`` is neurons x steps; ``synaptic_events`` one per weight applied;
    ``lateral_updates`` one per (spike, group member).
    """

    def __init__(self, network: Network, dt_s: float, *, record_spikes: bool = True, record_readout: bool = True,
                 v_init=None):
        if not isinstance(network, Network):
            raise ValueError(f"GridSimulator needs a sim.Network, got {type(network).__name__}")
        dt = check_dt(dt_s)
        self.network = network
        self.dt_s = dt
        self.g = grid_arrays(network, dt)
        self.record_spikes = bool(record_spikes)
        self.record_readout = bool(record_readout)
        ro = network.readout
        self._ro_start = network.offsets()[ro.name] if ro is not None else 0
        self._n_ro = ro.size if ro is not None else 0
        self._rec_t = np.zeros(1024, np.int64)
        self._rec_i = np.zeros(1024, np.int64)
        self.reset(v_init)

    # -- state -------------------------------------------------------------------------
    def reset(self, v_init=None) -> None:
        """Back to step 0 with fresh state (potentials ``v_init`` or zeros, empty ring
        buffers, zero counts, nothing recorded), keeping the compiled network."""
        n = self.network.n_neurons
        V = initial_potentials(n, v_init)
        g = self.g
        largest_group = int(np.max(np.diff(g.group_ptr.astype(np.int64)))) if g.group_ptr.shape[0] > 1 else 0
        self.st = GridState(V=V, buf=np.zeros(int(g.region.sum())), spike_count=np.zeros(n, np.int64),
                            in_counts=np.zeros(self.network.n_inputs, np.int64), spiked=np.zeros(n, np.bool_),
                            now_pos=np.zeros(g.region.shape[0], np.uint64),
                            lat_pos=np.zeros(max(largest_group, 1), np.uint64))
        self.n_done = 0
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (step, channel, value)
        self._last_step = -1
        self._spike_chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._readout_chunks: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def V(self) -> np.ndarray:
        """Membrane potentials after the last simulated step (global neuron order)."""
        return self.st.V

    @property
    def t_now(self) -> float:
        """Start time of the next step to simulate (``n_done * dt_s``)."""
        return self.n_done * self.dt_s

    def steps_until(self, until_s: float) -> int:
        """Number of steps whose start lies before ``until_s``: the steps ``run(until_s)``
        completes (the binning rule applied to ``until_s``, so ``run(k * dt)`` runs ``k`` steps)."""
        u = float(until_s)
        if not np.isfinite(u) or u < 0:
            raise ValueError(f"until_s must be a finite number >= 0, got {until_s!r}")
        return int(np.ceil(u / self.dt_s - STEP_EPS))

    # -- input -------------------------------------------------------------------------
    def add_events(self, events: Events) -> None:
        """Queue input events; each must fall in a step not yet simulated, after earlier ones."""
        if not isinstance(events, Events):
            raise ValueError(f"events must be sim.Events, got {type(events).__name__}")
        if len(events) == 0:
            return
        events.check_channels(self.network.n_inputs)
        steps = bin_step(events.times_s, self.dt_s)
        first = int(steps[0])
        if first < self.n_done:
            raise ValueError(f"events: first event at t={events.times_s[0]!r} falls in step {first}, but steps up to "
                             f"{self.n_done - 1} are already simulated (t_now={self.t_now!r})")
        if first < self._last_step:
            raise ValueError(f"events: first event at t={events.times_s[0]!r} (step {first}) precedes queued events "
                             f"of step {self._last_step}; events must arrive in time order")
        self._pending.append((steps, events.channels, events.values))
        self._last_step = int(steps[-1])

    def _take(self, n_end: int):
        """Events of steps [n_done, n_end) as (ev_ptr, channels, summed values)."""
        n0 = self.n_done
        if self._pending:
            s = np.concatenate([p[0] for p in self._pending])
            c = np.concatenate([p[1] for p in self._pending])
            v = np.concatenate([p[2] for p in self._pending])
            cut = int(np.searchsorted(s, n_end, side="left"))
            self._pending = [(s[cut:], c[cut:], v[cut:])] if cut < s.size else []
            s, c, v = s[:cut], c[:cut], v[:cut]
        else:
            s, c, v = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        s, c, v = sum_per_step_channel(s, c, v)
        ptr = np.searchsorted(s, np.arange(n0, n_end + 1), side="left").astype(np.int64)
        return ptr, np.ascontiguousarray(c, dtype=np.int64), np.ascontiguousarray(v, dtype=np.float64)

    # -- running -----------------------------------------------------------------------
    def run(self, until_s: float, events: Events | None = None) -> ChunkResult:
        """Simulate every step that starts before ``until_s`` (see :meth:`steps_until`)."""
        n_end = self.steps_until(until_s)
        if n_end < self.n_done:
            raise ValueError(f"until_s={until_s!r} lies before t_now={self.t_now!r}")
        return self.run_steps(n_end - self.n_done, events=events)

    def run_steps(self, n_steps: int, events: Events | None = None) -> ChunkResult:
        """Simulate ``n_steps`` more steps. Returns spikes (times ``n * dt_s``, global neuron
        ids) and the readout ``V[n]`` of each step (when ``record_readout``)."""
        if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
            raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
        n_steps = int(n_steps)
        if events is not None:
            self.add_events(events)
        n0 = self.n_done
        n1 = n0 + n_steps
        ptr, ch, val = self._take(n1)
        # Without readout recording the kernel gets a (steps, 0) target: nothing is written.
        readout = np.zeros((n_steps, self._n_ro if self.record_readout else 0))
        n, rec_n = n0, 0
        while True:
            n, rec_n = K._run_steps(self.g, self.st, n0, n1, n, ptr, ch, val, self._rec_t, self._rec_i, rec_n,
                                    readout, self._ro_start)
            if n == n1:
                break
            # The record lacked room for one more step's spikes: grow it and go on from n.
            m = max(2 * self._rec_t.shape[0], rec_n + self.network.n_neurons + 1)
            for name in ("_rec_t", "_rec_i"):
                old = getattr(self, name)
                new = np.empty(m, old.dtype)
                new[:rec_n] = old[:rec_n]
                setattr(self, name, new)
        rec_t, rec_i = self._rec_t, self._rec_i
        self.n_done = n1
        t = rec_t[:rec_n] * self.dt_s
        chunk = ChunkResult(n0 * self.dt_s, n1 * self.dt_s, t, rec_i[:rec_n].copy(),
                            np.arange(n0, n1) * self.dt_s if self.record_readout and self._n_ro else np.zeros(0),
                            readout if self.record_readout else np.zeros((0, self._n_ro)))
        if self.record_spikes:
            self._spike_chunks.append((chunk.spike_times_s, chunk.spike_neurons))
        if self.record_readout and self._n_ro and n_steps:
            self._readout_chunks.append((chunk.readout_times_s, chunk.readout))
        return chunk

    # -- results -----------------------------------------------------------------------
    def counts(self) -> Counts:
        """Counts over ``[0, t_now)``. Spikes and input events are counted as the run goes;
        the rest follows from them: a neuron receives one synaptic event per synapse per
        transmission of its source (input event or spike), one state update per step, and
        one lateral update per spike of a member of each group it is in."""
        g, st = self.g, self.st
        n = self.network.n_neurons
        syn_in = np.zeros(n, np.int64)
        K._synaptic_events(g.src_seg, g.seg_start, g.syn_post, np.concatenate([st.in_counts, st.spike_count]), syn_in)
        lat_in = np.zeros(n, np.int64)
        for gi in range(g.group_ptr.shape[0] - 1):
            members = g.group_members[int(g.group_ptr[gi]):int(g.group_ptr[gi + 1])].astype(np.int64)
            lat_in[members] += int(st.spike_count[members].sum())
        updates = np.full(n, self.n_done, np.int64)
        offs = self.network.offsets()

        def per(a):
            return {l.name: a[offs[l.name]:offs[l.name] + l.size].copy() for l in self.network.all_layers}

        spikes = {k: v for k, v in per(st.spike_count).items() if self.network.layer(k).spiking}
        return Counts(st.in_counts.copy(), spikes, per(syn_in), per(lat_in), per(updates))

    def spike_steps(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per layer ``(steps, neurons)`` of every recorded spike (integers, no float time)."""
        res = self.result()
        return {k: (np.floor(v.times_s / self.dt_s + 0.5).astype(np.int64), v.neurons) for k, v in res.spikes.items()}

    def result(self) -> SimResult:
        """Spikes per layer, counts and readout over ``[0, t_now)``."""
        if not self.record_spikes:
            raise RuntimeError("record_spikes=False: use the ChunkResult returned by each run() call")
        if self._readout_chunks:
            rt = np.concatenate([c[0] for c in self._readout_chunks])
            rv = np.concatenate([c[1] for c in self._readout_chunks])
        else:
            rt, rv = np.zeros(0), np.zeros((0, self._n_ro))
        return SimResult(spikes=spikes_of_chunks(self.network, self._spike_chunks), counts=self.counts(), duration_s=self.t_now,
                         readout_times_s=rt, readout=rv)


def simulate_grid(network: Network, events: Events, duration_s: float, dt_s: float, **kwargs) -> SimResult:
    """One-call convenience: build a :class:`GridSimulator`, run to ``duration_s``, return the result."""
    sim = GridSimulator(network, dt_s, **kwargs)
    sim.run(duration_s, events=events)
    return sim.result()
