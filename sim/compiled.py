"""Flat arrays an engine needs, built once from a validated :class:`sim.network.Network`.

Global numbering: neurons of all layers in order (readout last) are ``0..n-1``; event
sources are the input channels ``0..n_inputs-1`` followed by neuron ``i`` as source
``n_inputs + i``. Synapses are concatenated so that each (source, target layer) pair owns
one contiguous range, sorted by (delay, post) — the order the exact engine delivers in —
and the ranges are ordered by (target layer, source), so that the synapse index alone
gives the exact engine's canonical order of simultaneous arrivals at a layer.

Time base: the exact engine keeps every time as a pair ``(n, r)``, ``t = n * Q + r`` with ``n``
a whole number of time-base steps ``Q`` and ``0 <= r < Q`` (see :func:`sim._exact_kernels.split_time`). Delays
are split the same way here, once: ``d = m * Q + s``. A delay (or an input time) within
``SNAP_STEPS = 1e-9`` steps of a whole number of time-base steps *is* that whole number
(``s = 0`` exactly), so paper-simultaneous arrivals over different paths of on-grid delays
get bit-identical ``(n, r)`` and are summed (SEMANTICS.md).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.network import INPUT, Network

# A time within this many time-base steps of a whole number of steps is that whole number.
SNAP_STEPS = 1e-9
# Time bases tried (largest first) when the network records no dt_s.
TIME_BASE_CANDIDATES_S = (1e-3, 1e-4, 1e-5, 1e-6)

NetArrays = namedtuple(
    "NetArrays",
    [
        "n_inputs",      # int
        "tau",           # (n,) f8 membrane time constant, s
        "btau",          # (n,) f8 drive * tau: the potential the neuron relaxes to
        "thr",           # (n,) f8 threshold (+inf for the readout)
        "subtract",      # (n,) bool reset by subtraction (else to zero)
        "crossing",      # (n,) bool drive alone can reach threshold (btau > thr)
        "layer_of",      # (n,) i8 layer index
        "group_of",      # (n,) i8 lateral group (-1: none)
        "pos_in_group",  # (n,) i8 position of the neuron in its group
        "group_ptr",     # (G+1,) i8 into group_members
        "group_members", # (M,) i8 global neuron ids
        "omega_ptr",     # (G+1,) i8 into omega_flat (row-major g x g, [j, i])
        "omega_flat",    # f8
        "out_ptr",       # (n_inputs+n+1,) i8 into out_* arrays, per source
        "out_layer",     # i8 target layer of each (source, layer) range
        "out_start",     # i8 first synapse of the range
        "out_end",       # i8 one past the last synapse
        "syn_post",      # (S,) i8 global target neuron
        "syn_w",         # (S,) f8 weight
        "syn_d",         # (S,) f8 delay, s
        "syn_m",         # (S,) f8 delay in whole time-base steps (d = m Q + s)
        "syn_s",         # (S,) f8 rest of the delay, 0 <= s < Q (exactly 0 for an on-grid delay)
        "syn_run_end",   # (S,) i8 one past the last synapse with k's (m, s) in k's (source, layer)
                         #   range; negated when that is the end of the range (no later delay)
        "syn_tab",       # (S, 5) f8 [post, weight, m, s, run_end] per synapse: what the exact engine
                         #   reads per delivery, in one place (one cache line instead of five)
        "layer_syn_start",  # (L+1,) i8 first synapse of each target layer's block
        "layer_n_end",   # (L,) i8 one past the last global neuron of each layer
        "time_base",     # float, Q in seconds
    ],
)


def _on_base(delays: np.ndarray, q: float) -> bool:
    f = delays / q
    return bool(np.all(np.abs(f - np.floor(f + 0.5)) <= SNAP_STEPS))


def default_time_base(net: Network) -> float:
    """The time base ``Q`` (s) the exact engine uses for ``net`` unless told otherwise.

    1. the ``dt_s`` recorded on the projections (``delay_steps``/``dt_s``, all the same), else
       ``net.metadata["dt_s"]`` if it is a number > 0;
    2. else the largest of 1 ms, 100 us, 10 us, 1 us of which every delay is a whole multiple
       (within ``SNAP_STEPS`` steps);
    3. else 1 s (``r`` is then the fraction of the second).
    """
    recorded = {float(p.dt_s) for p in net.projections if p.dt_s is not None}
    if len(recorded) == 1:
        return recorded.pop()
    md = net.metadata.get("dt_s") if isinstance(net.metadata, dict) else None
    if isinstance(md, (int, float, np.integer, np.floating)) and not isinstance(md, bool) \
            and np.isfinite(md) and md > 0:
        return float(md)
    delays = (np.concatenate([np.asarray(p.delay_s, dtype=np.float64) for p in net.projections])
              if net.projections else np.zeros(0))
    for q in TIME_BASE_CANDIDATES_S:
        if _on_base(delays, q):
            return q
    return 1.0


def check_time_base(q) -> float:
    if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) \
            or not np.isfinite(q) or q <= 0:
        raise ValueError(f"time_base_s must be a finite number > 0, got {q!r}")
    return float(q)


def compile_network(net: Network, time_base_s: float | None = None) -> NetArrays:
    """Flatten ``net`` into :class:`NetArrays` (all indices already validated).

    ``time_base_s``: the exact engine's time base ``Q`` (default :func:`default_time_base`);
    each delay is split once into ``m`` whole steps and a rest ``s`` (:func:`sim._exact_kernels.split_time`).
    """
    from sim._exact_kernels import split_times

    q = default_time_base(net) if time_base_s is None else check_time_base(time_base_s)
    layers = net.all_layers
    offsets = net.offsets()
    layer_index = {l.name: k for k, l in enumerate(layers)}
    n = net.n_neurons
    tau = np.concatenate([l.tau_mem_s for l in layers]) if n else np.zeros(0)
    drive = np.concatenate([l.drive for l in layers]) if n else np.zeros(0)
    btau = drive * tau
    thr = np.concatenate([np.full(l.size, l.threshold if l.spiking else np.inf) for l in layers]) if n else np.zeros(0)
    subtract = np.concatenate([np.full(l.size, l.spiking and l.reset == "subtract") for l in layers]) if n else np.zeros(0, bool)
    crossing = np.isfinite(thr) & (btau > thr)
    layer_of = np.concatenate([np.full(l.size, k, np.int64) for k, l in enumerate(layers)]) if n else np.zeros(0, np.int64)

    group_of = np.full(n, -1, np.int64)
    pos_in_group = np.full(n, -1, np.int64)
    gptr, gmem, optr, oflat = [0], [], [0], []
    for lat in net.laterals:
        base = offsets[lat.layer]
        for g in range(lat.members.shape[0]):
            gid = len(gptr) - 1
            members = lat.members[g] + base
            group_of[members] = gid
            pos_in_group[members] = np.arange(members.size)
            gmem.extend(members.tolist())
            gptr.append(len(gmem))
            oflat.append(lat.omega[g].reshape(-1))
            optr.append(optr[-1] + lat.omega[g].size)

    # Synapse ranges per (source, target layer).
    n_src = net.n_inputs + n
    ranges = [[] for _ in range(n_src)]  # per source: (layer, start, end)
    syn_post, syn_w, syn_d = [], [], []
    start = 0

    def src_base_of(p):
        return 0 if p.pre == INPUT else net.n_inputs + offsets[p.pre]

    layer_syn_start = np.zeros(len(layers) + 1, np.int64)
    for p in sorted(net.projections, key=lambda p: (layer_index[p.post], src_base_of(p))):
        src_base = src_base_of(p)
        layer_syn_start[layer_index[p.post] + 1] += p.n_synapses
        post_base = offsets[p.post]
        syn_post.append(p.post_idx + post_base)
        syn_w.append(np.asarray(p.weight))
        syn_d.append(np.asarray(p.delay_s))
        if p.n_synapses:
            # p is sorted by (pre, delay, post): find each pre's contiguous range.
            pres, first = np.unique(p.pre_idx, return_index=True)
            last = np.append(first[1:], p.n_synapses)
            for pre, a, b in zip(pres.tolist(), first.tolist(), last.tolist()):
                ranges[src_base + pre].append((layer_index[p.post], start + a, start + b))
        start += p.n_synapses
    out_ptr = np.zeros(n_src + 1, np.int64)
    out_layer, out_start, out_end = [], [], []
    for s in range(n_src):
        for (L, a, b) in sorted(ranges[s]):
            out_layer.append(L)
            out_start.append(a)
            out_end.append(b)
        out_ptr[s + 1] = len(out_layer)

    def i8(x):
        return np.ascontiguousarray(np.asarray(x, dtype=np.int64))

    def f8(x):
        return np.ascontiguousarray(np.asarray(x, dtype=np.float64))

    d_all = f8(np.concatenate(syn_d) if syn_d else np.zeros(0))
    syn_m, syn_s = split_times(d_all, q, True)
    # Runs of equal (m, s) inside each (source, layer) range: what one heap row delivers at once.
    n_syn = d_all.shape[0]
    brk = np.zeros(n_syn + 1, dtype=bool)
    brk[n_syn] = True
    brk[np.asarray(out_start, dtype=np.int64)] = True
    if n_syn > 1:
        brk[1:n_syn] |= (syn_m[1:] != syn_m[:-1]) | (syn_s[1:] != syn_s[:-1])
    idx = np.nonzero(brk)[0]
    run_end = idx[np.searchsorted(idx, np.arange(n_syn), side="right")] if n_syn else np.zeros(0, np.int64)
    range_end = np.zeros(n_syn, np.int64)
    for a, b in zip(out_start, out_end):
        range_end[a:b] = b
    run_end = np.where(run_end >= range_end, -run_end, run_end)
    layer_syn_start = np.cumsum(layer_syn_start)
    layer_n_end = np.array([offsets[l.name] + l.size for l in layers], np.int64)

    return NetArrays(
        n_inputs=int(net.n_inputs),
        tau=f8(tau), btau=f8(btau), thr=f8(thr), subtract=np.ascontiguousarray(subtract.astype(np.bool_)),
        crossing=np.ascontiguousarray(crossing.astype(np.bool_)), layer_of=i8(layer_of),
        group_of=i8(group_of), pos_in_group=i8(pos_in_group), group_ptr=i8(gptr), group_members=i8(gmem),
        omega_ptr=i8(optr), omega_flat=f8(np.concatenate(oflat) if oflat else np.zeros(0)),
        out_ptr=i8(out_ptr), out_layer=i8(out_layer), out_start=i8(out_start), out_end=i8(out_end),
        syn_post=i8(np.concatenate(syn_post) if syn_post else np.zeros(0)),
        syn_w=f8(np.concatenate(syn_w) if syn_w else np.zeros(0)),
        syn_d=d_all, syn_m=f8(syn_m), syn_s=f8(syn_s), syn_run_end=i8(run_end),
        syn_tab=f8(np.stack([np.concatenate(syn_post) if syn_post else np.zeros(0),
                             np.concatenate(syn_w) if syn_w else np.zeros(0), syn_m, syn_s, run_end], axis=1)
                   .reshape(n_syn, 5)),
        layer_syn_start=i8(layer_syn_start), layer_n_end=i8(layer_n_end), time_base=float(q),
    )
