"""Flat arrays an engine needs, built once from a validated :class:`sim.model.network.Network`.

Global numbering: neurons of all layers in order (readout last) are ``0..n-1``; event
sources are the input channels ``0..n_inputs-1`` followed by neuron ``i`` as source
``n_inputs + i``. Synapses are concatenated so that each (source, target layer) pair owns
one contiguous range, in the projection's (delay, post) order, and the ranges are ordered
by (target layer, source). A spike files its arrivals in the order of its ranges (target
layer, then projection), each range in synapse order: that is the order in which the
exact engine adds arrivals of one emission that meet at one neuron at one instant
(docs/semantics.md, simultaneous arrivals).

Delays are converted once to whole ticks of 1 ps (:mod:`sim.engines.ticks`), the exact engine's
clock: a delay written with at most 12 decimals is exact, so paper-simultaneous arrivals
over different paths land on the same tick and are summed (docs/semantics.md: simultaneous events).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.model.network import INPUT, Network
from sim.engines.ticks import MAX_TIME_S, NEAREST, seconds_to_ticks

NetArrays = namedtuple(
    "NetArrays",
    [
        "n_inputs",      # int
        "tau",           # (n,) f8 membrane time constant, s
        "ntau",          # (n,) f8 1 / (tau * 1e12): decay per tick, e = exp(-ticks * ntau)
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
        "omega_cols",    # f8, the same matrices column by column ([i, j]): one spike's effect on its group is contiguous
        "out_ptr",       # (n_inputs+n+1,) i8 into out_* arrays, per source
        "out_start",     # i8 first synapse of the range
        "out_end",       # i8 one past the last synapse
        "out_kind",      # i8 (2 * target layer + 1) << seq_bits: the key bits of the range's arrivals
        "syn_post",      # (S,) i4 global target neuron
        "syn_w",         # (S,) f8 weight
        "syn_dt",        # (S,) i8 delay in ticks of 1 ps (sim.engines.ticks)
        "layer_n_end",   # (L,) i8 one past the last global neuron of each layer
        "seq_bits",      # int: low key bits below the kind (63 - 30 - bits of the largest kind)
        "max_fanout",    # int: most synapses out of one source
        "max_delay_tick",  # int: longest delay, ticks
        "layer_crossing",  # (L,) bool: some neuron of the layer can reach threshold by drive alone
        "tick_grid",     # int: gcd of the delays in ticks when no neuron has drive crossings, else 0
    ],
)


def initial_potentials(n: int, v_init=None) -> np.ndarray:
    """The potentials an engine starts from: ``v_init`` (``n`` finite values) or zeros."""
    if v_init is None:
        return np.zeros(n)
    V = np.array(v_init, dtype=np.float64)
    if V.shape != (n,) or not np.all(np.isfinite(V)):
        raise ValueError(f"v_init must be {n} finite values, got shape {V.shape}")
    return V


def compile_network(net: Network) -> NetArrays:
    """Flatten ``net`` into :class:`NetArrays` (all indices already validated)."""
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
    gptr, gmem, optr, oflat, ocols = [0], [], [0], [], []
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
            ocols.append(lat.omega[g].T.reshape(-1))
            optr.append(optr[-1] + lat.omega[g].size)

    # Synapse ranges per (source, target layer).
    n_src = net.n_inputs + n
    ranges = [[] for _ in range(n_src)]  # per source: (layer, start, end)
    syn_post, syn_w, syn_d = [], [], []
    start = 0

    def src_base_of(p):
        return 0 if p.pre == INPUT else net.n_inputs + offsets[p.pre]

    for p in sorted(net.projections, key=lambda p: (layer_index[p.post], src_base_of(p))):
        src_base = src_base_of(p)
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
    if d_all.size and d_all.max() > MAX_TIME_S / 2:
        raise ValueError(f"a delay of {float(d_all.max())!r} s is longer than the exact engine represents "
                         f"({MAX_TIME_S / 2:g} s)")
    syn_dt = seconds_to_ticks(d_all, NEAREST)
    n_syn = d_all.shape[0]
    layer_n_end = np.array([offsets[l.name] + l.size for l in layers], np.int64)
    out_layer = i8(out_layer)
    # Exact-engine keys: tick offset in a 2**30-tick bucket, then the kind (2 * layer for
    # drive wake-ups, 2 * layer + 1 for arrivals), then seq_bits of filing counter (near
    # heap) or target neuron (wheel).
    seq_bits = 63 - 30 - max(int(2 * len(layers) - 1).bit_length(), 1)
    if seq_bits < 20:
        raise ValueError(f"the network has {len(layers)} layers; the exact engine orders at most 4096")
    if n >= 1 << seq_bits:
        raise ValueError(f"the network has {n} neurons; the exact engine handles at most "
                         f"{(1 << seq_bits) - 1} with {len(layers)} layers")
    out_kind = (2 * out_layer + 1) << seq_bits if out_layer.size else np.zeros(0, np.int64)
    # Without drive crossings spikes happen only at arrival ticks: with the inputs on the
    # delays' grid too, every arrival is on it (``sim.engines.exact`` picks the bucket
    # sort's digits by it).
    positive = syn_dt[syn_dt > 0]
    tick_grid = 0 if np.any(crossing) or positive.size == 0 else int(np.gcd.reduce(positive))
    fan = np.zeros(n_src, np.int64)
    for s in range(n_src):
        for e in range(out_ptr[s], out_ptr[s + 1]):
            fan[s] += out_end[e] - out_start[e]
    post_all = np.concatenate(syn_post) if syn_post else np.zeros(0)

    return NetArrays(
        n_inputs=int(net.n_inputs),
        tau=f8(tau), ntau=f8(1.0 / (tau * 1e12)), btau=f8(btau), thr=f8(thr),
        subtract=np.ascontiguousarray(subtract.astype(np.bool_)),
        crossing=np.ascontiguousarray(crossing.astype(np.bool_)), layer_of=i8(layer_of),
        group_of=i8(group_of), pos_in_group=i8(pos_in_group), group_ptr=i8(gptr), group_members=i8(gmem),
        omega_ptr=i8(optr), omega_flat=f8(np.concatenate(oflat) if oflat else np.zeros(0)),
        omega_cols=f8(np.concatenate(ocols) if ocols else np.zeros(0)),
        out_ptr=i8(out_ptr), out_start=i8(out_start), out_end=i8(out_end),
        out_kind=i8(out_kind),
        syn_post=np.ascontiguousarray(np.asarray(post_all, dtype=np.int32)),
        syn_w=f8(np.concatenate(syn_w) if syn_w else np.zeros(0)),
        syn_dt=np.ascontiguousarray(syn_dt),
        layer_n_end=i8(layer_n_end), seq_bits=int(seq_bits),
        max_fanout=int(fan.max()) if fan.size else 0,
        max_delay_tick=int(syn_dt.max()) if syn_dt.size else 0,
        layer_crossing=np.ascontiguousarray(np.array([bool(np.any(crossing[layer_of == k])) for k in range(len(layers))],
                                                     dtype=np.bool_)),
        tick_grid=tick_grid,
    )
