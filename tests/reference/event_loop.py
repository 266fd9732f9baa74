"""A slow, obviously-correct event loop for SEMANTICS.md, written for reading, not speed.

No heap, no grouping of synapses, no compiled code: every synapse of every spike becomes
one pending arrival in a Python list, and each step takes the earliest (time, layer)
batch, sorts it, applies it, and checks thresholds. The fast engine (sim/exact.py) must
give identical spikes on any network.

The canonical order in which simultaneous arrivals at one layer are added is
(source, delay, post): input channels are sources 0..n_inputs-1, neuron i of the global
numbering (layers in order, readout last) is source n_inputs + i.
"""
from __future__ import annotations

import math

import numpy as np

from sim.network import INPUT, Network


def reference_run(net: Network, times_s, channels, values, until_s: float, sample_times_s=(),
                  max_cascade: int = 100_000):
    """Simulate ``net`` on the events over ``[0, until_s)``.

    Returns ``(spikes, samples)``: ``spikes`` a list of ``(t, global_neuron)`` in emission
    order; ``samples`` a list of readout potential vectors, one per sample time.
    Raises ``RuntimeError`` if a cascade exceeds ``max_cascade``.
    """
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

    # Outgoing synapses of each source: list of (post_global, post_layer, weight, delay).
    out = {}
    for p in net.projections:
        base = 0 if p.pre == INPUT else net.n_inputs + offs[p.pre]
        for a, b, w, d in zip(p.pre_idx, p.post_idx, p.weight, p.delay_s):
            out.setdefault(base + int(a), []).append((offs[p.post] + int(b), layer_idx[p.post], float(w), float(d)))

    V = [0.0] * n
    t_last = [0.0] * n
    pred = [math.inf] * n
    pending = []  # (t, layer, src, delay, post, value) ; src = -1 for a drive wake-up of neuron `post`

    def crossing(i, t):
        if math.isfinite(thr[i]) and btau[i] > thr[i] and V[i] < thr[i]:
            return t + tau[i] * math.log((V[i] - btau[i]) / (thr[i] - btau[i]))
        return math.inf

    def advance(i, t):
        s = t - t_last[i]
        if s > 0.0:
            e = math.exp(-s / tau[i])
            V[i] = V[i] * e + btau[i] * (1.0 - e)
            t_last[i] = t
        if pred[i] <= t and V[i] < thr[i]:
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

    def send(src, t, value):
        for post, L, w, d in out.get(src, []):
            pending.append((t + d, L, src, d, post, value * w))

    for i in range(n):
        pred[i] = crossing(i, 0.0)
        if pred[i] < math.inf:
            pending.append((pred[i], layer_of[i], -1, 0.0, i, 0.0))
    for t, c, v in zip(times_s, channels, values):
        if t < until_s:
            send(int(c), float(t), float(v))

    spikes, samples = [], []
    sample_times = list(sample_times_s)
    while True:
        live = [e for e in pending if e[0] < until_s]
        if not live:
            break
        t, L = min((e[0], e[1]) for e in live)
        while sample_times and sample_times[0] < t:
            samples.append(readout_at(sample_times.pop(0)))
        batch = sorted((e for e in pending if e[0] == t and e[1] == L), key=lambda e: (e[2], e[3], e[4]))
        pending = [e for e in pending if not (e[0] == t and e[1] == L)]
        touched = []
        for (_, _, src, _, post, dv) in batch:
            if src < 0 and pred[post] != t:
                continue  # stale wake-up: the neuron was updated since it was predicted
            if post not in touched:
                # A neuron is brought to time t once per batch, before anything is added.
                touched.append(post)
                advance(post, t)
            V[post] += dv  # a wake-up adds 0.0

        def fire(i):
            spikes.append((t, i))
            V[i] = V[i] - thr[i] if subtract[i] else 0.0
            send(net.n_inputs + i, t, 1.0)

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
                        advance(j, t)
                    V[j] -= float(omega[group_of[j][4], col])
        for i in touched:
            pred[i] = crossing(i, t)
            if pred[i] < math.inf:
                pending.append((pred[i], layer_of[i], -1, 0.0, i, 0.0))
    while sample_times and sample_times[0] < until_s:
        samples.append(readout_at(sample_times.pop(0)))
    return spikes, samples
