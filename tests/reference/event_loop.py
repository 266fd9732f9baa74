"""A slow, obviously-correct event loop for docs/semantics.md, written for reading, not speed.

No heap, no grouping of synapses, no compiled code: every synapse of every spike becomes
one pending arrival in a Python list, and each step takes the earliest (time, layer)
batch, sorts it, applies it, and checks thresholds. The fast engine (sim/exact.py) must
give identical spikes on any network.

The canonical order in which simultaneous arrivals at one layer are added is
(source, delay, post): input channels are sources 0..n_inputs-1, neuron i of the global
numbering (layers in order, readout last) is source n_inputs + i.

Times are pairs (n, r) meaning n * Q + r, with n whole time-base steps Q and 0 <= r < Q
(the engine's representation, written out plainly here): a delay d is split once into
(m, s), an arrival is (n + m, r + s) with one step carried when r + s >= Q, and "the same
time" means the same (n, r). A delay, input time or until within 1e-9 steps of a whole
number of steps is that whole number; sample times and drive crossings are split exactly.
"""
from __future__ import annotations

import math

import numpy as np

from sim.compiled import default_time_base
from sim.network import INPUT, Network

SNAP_STEPS = 1e-9


def split(x: float, q: float, snap: bool = True):
    """(n, r) with x = n*q + r, 0 <= r < q, r = x - n*q (exact); see the module docstring."""
    f = x / q
    if snap:
        m = math.floor(f + 0.5)
        if abs(f - m) <= SNAP_STEPS:
            return float(m), 0.0
    n = float(math.floor(f))
    r = x - n * q
    if r < 0.0:
        n -= 1.0
        r = x - n * q
    elif r >= q:
        n += 1.0
        r = x - n * q
    if r < 0.0:
        r = 0.0
    elif r >= q:
        n, r = n + 1.0, 0.0
    return n, r


def reference_run(net: Network, times_s, channels, values, until_s: float, sample_times_s=(),
                  max_cascade: int = 100_000, time_base_s: float | None = None):
    """Simulate ``net`` on the events over ``[0, until_s)`` (time base: the engine's default).

    Returns ``(spikes, samples)``: ``spikes`` a list of ``(t, global_neuron)`` in emission
    order; ``samples`` a list of readout potential vectors, one per sample time.
    Raises ``RuntimeError`` if a cascade exceeds ``max_cascade``.
    """
    Q = default_time_base(net) if time_base_s is None else float(time_base_s)
    layers = net.all_layers
    layer_idx = {l.name: k for k, l in enumerate(layers)}
    offs = net.offsets()
    n = net.n_neurons
    # Per-neuron parameters as Python floats.
    tau, btau, thr, subtract, layer_of = [], [], [], [], []
    for k, l in enumerate(layers):
        for i in range(l.size):
            tau.append(float(l.tau_mem_s[i]))
            btau.append(float(l.drive[i]) * float(l.tau_mem_s[i]))
            thr.append(l.threshold if l.spiking else math.inf)
            subtract.append(l.spiking and l.reset == "subtract")
            layer_of.append(k)
    group_of = [None] * n  # (members list, omega matrix, position)
    for lat in net.laterals:
        for g in range(lat.members.shape[0]):
            members = [offs[lat.layer] + int(m) for m in lat.members[g]]
            for pos, m in enumerate(members):
                group_of[m] = (g, lat.layer, members, lat.omega[g], pos)

    # Outgoing synapses of each source: list of (post_global, post_layer, weight, delay, (m, s)).
    out = {}
    for p in net.projections:
        base = 0 if p.pre == INPUT else net.n_inputs + offs[p.pre]
        for a, b, w, d in zip(p.pre_idx, p.post_idx, p.weight, p.delay_s):
            out.setdefault(base + int(a), []).append((offs[p.post] + int(b), layer_idx[p.post], float(w), float(d),
                                                      split(float(d), Q)))

    def arrival(key, delay_key):
        (n_, r_), (m, s) = key, delay_key
        r2 = r_ + s
        return (n_ + m + 1.0, r2 - Q) if r2 >= Q else (n_ + m, r2)

    def as_float(key):
        return key[0] * Q + key[1]

    V = [0.0] * n
    t_last = [0.0] * n
    pred = [None] * n  # key of the predicted drive crossing, or None
    pending = []  # ((n, r), layer, src, delay, post, value) ; src = -1 for a drive wake-up of neuron `post`

    def crossing(i, key):
        if math.isfinite(thr[i]) and btau[i] > thr[i] and V[i] < thr[i]:
            delta = max(tau[i] * math.log((V[i] - btau[i]) / (thr[i] - btau[i])), 0.0)
            k, r_ = split(key[1] + delta, Q, snap=False)
            return max((key[0] + k, r_), key)
        return None

    def advance(i, key):
        t = as_float(key)
        s = t - t_last[i]
        if s > 0.0:
            e = math.exp(-s / tau[i])
            V[i] = V[i] * e + btau[i] * (1.0 - e)
            t_last[i] = t
        if pred[i] is not None and pred[i] <= key and V[i] < thr[i]:
            V[i] = thr[i]

    def readout_at(t):
        ro = net.readout
        if ro is None:
            return []
        vals = []
        for i in range(offs[ro.name], offs[ro.name] + ro.size):
            s = t - t_last[i]
            if s <= 0.0:
                vals.append(V[i])
            else:
                e = math.exp(-s / tau[i])
                vals.append(V[i] * e + btau[i] * (1.0 - e))
        return vals

    def send(src, key, value):
        for post, L, w, d, dk in out.get(src, []):
            pending.append((arrival(key, dk), L, src, d, post, value * w))

    for i in range(n):
        pred[i] = crossing(i, (0.0, 0.0))
        if pred[i] is not None:
            pending.append((pred[i], layer_of[i], -1, 0.0, i, 0.0))
    until = split(float(until_s), Q)
    for t, c, v in zip(times_s, channels, values):
        if split(float(t), Q) < until:
            send(int(c), split(float(t), Q), float(v))

    spikes, samples = [], []
    sample_keys = [split(float(s), Q, snap=False) for s in sample_times_s]
    while True:
        live = [e for e in pending if e[0] < until]
        if not live:
            break
        key, L = min((e[0], e[1]) for e in live)
        t = as_float(key)
        while sample_keys and sample_keys[0] < key:
            samples.append(readout_at(as_float(sample_keys.pop(0))))
        batch = sorted((e for e in pending if e[0] == key and e[1] == L), key=lambda e: (e[2], e[3], e[4]))
        pending = [e for e in pending if not (e[0] == key and e[1] == L)]
        touched = []
        for (_, _, src, _, post, dv) in batch:
            if src < 0 and pred[post] != key:
                continue  # stale wake-up: the neuron was updated since it was predicted
            if post not in touched:
                # A neuron is brought to time t once per batch, before anything is added.
                touched.append(post)
                advance(post, key)
            V[post] += dv  # a wake-up adds 0.0

        def fire(i):
            spikes.append((t, i))
            V[i] = V[i] - thr[i] if subtract[i] else 0.0
            send(net.n_inputs + i, key, 1.0)

        done_groups = set()
        for i in sorted(touched):
            if group_of[i] is None:
                fired = 0
                while V[i] >= thr[i]:  # subtract reset from V >= 2 thr: several spikes now
                    fired += 1
                    if fired > max_cascade:
                        raise RuntimeError(f"burst in layer {layer_of[i]} at t={t}")
                    fire(i)
                continue
            g, lname, members, omega, _ = group_of[i]
            if (lname, g) in done_groups:
                continue
            done_groups.add((lname, g))
            fired = 0
            while True:
                cands = [(V[j] - thr[j], -j) for j in members if j in touched and V[j] >= thr[j]]
                if not cands:
                    break
                best = -max(cands)[1]
                fired += 1
                if fired > max_cascade:
                    raise RuntimeError(f"cascade in layer {lname} at t={t}")
                fire(best)
                col = group_of[best][4]
                for j in members:
                    if j not in touched:
                        touched.append(j)
                        advance(j, key)
                    V[j] -= float(omega[group_of[j][4], col])
        for i in touched:
            pred[i] = crossing(i, key)
            if pred[i] is not None:
                pending.append((pred[i], layer_of[i], -1, 0.0, i, 0.0))
    while sample_keys and sample_keys[0] < until:
        samples.append(readout_at(as_float(sample_keys.pop(0))))
    return spikes, samples
