"""A slow, obviously-correct event loop for docs/semantics.md, written for reading, not speed.

No queue structure, no grouping of synapses, no compiled code: every synapse of every
spike becomes one pending arrival in a Python list, and each step takes the earliest
(time, layer) batch, sorts it, applies it, and checks thresholds. The fast engine
(sim/engines/exact.py) must give identical spikes on any network.

Simultaneous arrivals at one layer are added in emission order: by emission time; at one
emission time the input events first (in the order given), then the spikes in the order
they fired; the arrivals of one emission in its synapse order (target layer, then
projection, then the projection's stored (delay, post) order). Input channels are sources
0..n_inputs-1, neuron i of the global numbering (layers in order, readout last) is source
n_inputs + i.

Times are whole picoseconds (Python ints). A float becomes ticks by exact rational
arithmetic (``fractions.Fraction``), independently of the engine's code: among the ticks
inside the interval of reals that round to the float, the one with the most trailing
decimal zeros; if there is none, the nearest tick (events, delays, until) or the one
below (sample times). An arrival is emission tick + delay ticks; "the same time" means
the same tick. The potential decays by ``exp(-ticks * (1 / (tau * 1e12)))``, with the
engine's exponential (``sim.engines.fexp.exp_decay``: glibc's ``exp`` algorithm evaluated
inline; on glibc with FMA the same double as ``math.exp``, tests/sim/test_fexp.py), so
that the comparison does not depend on which ``exp`` the platform's C library has.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from sim.engines.fexp import exp_decay
from sim.model.network import INPUT, Network

T = 10 ** 12  # ticks per second


def ticks(x: float, floor: bool = False) -> int:
    """Ticks of float seconds x (see the module docstring), by exact rational arithmetic."""
    x = float(x)
    ex = Fraction(x) * T
    lo = (Fraction(x) + Fraction(float(np.nextafter(x, -np.inf)))) / 2 * T if x > 0 else ex
    hi = (Fraction(x) + Fraction(float(np.nextafter(x, np.inf)))) / 2 * T
    p = T
    while p >= 1:
        c = round(ex / p) * p
        if lo <= c <= hi:
            return int(c)
        p //= 10
    if floor:
        return math.floor(ex)
    return math.floor(ex + Fraction(1, 2))


def seconds(k: int) -> float:
    """Float seconds of k ticks, correctly rounded."""
    return float(Fraction(k, T))


def reference_run(net: Network, times_s, channels, values, until_s: float, sample_times_s=(),
                  max_cascade: int = 100_000):
    """Simulate ``net`` on the events over ``[0, until_s)`` (time base: the engine's default).

    Returns ``(spikes, samples)``: ``spikes`` a list of ``(t, global_neuron)`` in emission
    order; ``samples`` a list of readout potential vectors, one per sample time.
    Raises ``RuntimeError`` if a cascade exceeds ``max_cascade`` (spikes of one cascade,
    one burst, or of one instant in all; or zero-delay rounds at one instant).
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

    # Outgoing synapses of each source, in its synapse order: list of
    # (post_global, post_layer, weight, delay ticks).
    out = {}
    for p in net.projections:
        base = 0 if p.pre == INPUT else net.n_inputs + offs[p.pre]
        for a, b, w, d in zip(p.pre_idx, p.post_idx, p.weight, p.delay_s):
            out.setdefault(base + int(a), []).append((offs[p.post] + int(b), layer_idx[p.post], float(w),
                                                      ticks(float(d))))
    for src in out:
        out[src].sort(key=lambda s: s[1])   # stable: by target layer, then projection and stored order
    ntau = [1.0 / (x * 1e12) for x in tau]
    NEVER = 2 ** 63 - 1

    V = [0.0] * n
    t_last = [0] * n
    pred = [None] * n  # tick of the predicted drive crossing, or None
    # (tick, layer, order, post, value): order is () for a drive wake-up of neuron `post`,
    # else (emission tick, 0 for an input / 1 for a spike, emission number, synapse position)
    pending = []
    n_sent = 0

    def crossing(i, k):
        if math.isfinite(thr[i]) and btau[i] > thr[i] and V[i] < thr[i]:
            delta = max(tau[i] * math.log((V[i] - btau[i]) / (thr[i] - btau[i])), 0.0)
            d = math.ceil(delta * 1e12)
            if d >= float(NEVER - k):
                return None
            return k + int(d)
        return None

    def decayed(i, k):
        s = k - t_last[i]
        if s <= 0:
            return V[i]
        e = exp_decay(-float(s) * ntau[i])
        return V[i] * e + btau[i] * (1.0 - e)

    def advance(i, k):
        if k > t_last[i]:
            V[i] = decayed(i, k)
            t_last[i] = k
        if pred[i] is not None and pred[i] <= k and V[i] < thr[i]:
            V[i] = thr[i]

    def readout_at(k):
        ro = net.readout
        if ro is None:
            return []
        return [decayed(i, k) for i in range(offs[ro.name], offs[ro.name] + ro.size)]

    def send(src, k, value, kind):
        nonlocal n_sent
        n_sent += 1
        for pos, (post, L, w, dk) in enumerate(out.get(src, [])):
            pending.append((k + dk, L, (k, kind, n_sent, pos), post, value * w))

    for i in range(n):
        pred[i] = crossing(i, 0)
        if pred[i] is not None:
            pending.append((pred[i], layer_of[i], (), i, 0.0))
    until = ticks(float(until_s))
    for t, c, v in zip(times_s, channels, values):
        if ticks(float(t)) < until:
            send(int(c), ticks(float(t)), float(v), 0)

    spikes, samples = [], []
    sample_keys = [ticks(float(s), floor=True) for s in sample_times_s]
    instant, rounds_now, spikes_now = None, 0, 0
    while True:
        live = [e for e in pending if e[0] < until]
        if not live:
            break
        key, L = min((e[0], e[1]) for e in live)
        t = seconds(key)
        while sample_keys and sample_keys[0] < key:
            samples.append(readout_at(sample_keys.pop(0)))
        if key == instant:
            rounds_now += 1
            if rounds_now > max_cascade:
                raise RuntimeError(f"zero-delay loop in layer {L} at t={t}")
        else:
            instant, rounds_now, spikes_now = key, 0, 0
        batch = sorted((e for e in pending if e[0] == key and e[1] == L), key=lambda e: e[2])
        pending = [e for e in pending if not (e[0] == key and e[1] == L)]
        touched = []
        for (_, _, order, post, dv) in batch:
            if not order and pred[post] != key:
                continue  # stale wake-up: the neuron was updated since it was predicted
            if post not in touched:
                # A neuron is brought to time t once per batch, before anything is added.
                touched.append(post)
                advance(post, key)
            V[post] += dv  # a wake-up adds 0.0

        def fire(i):
            nonlocal spikes_now
            spikes_now += 1
            if spikes_now > max_cascade:
                raise RuntimeError(f"more than max_cascade spikes at t={t}")
            spikes.append((t, i))
            V[i] = V[i] - thr[i] if subtract[i] else 0.0
            send(net.n_inputs + i, key, 1.0, 1)

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
                pending.append((pred[i], layer_of[i], (), i, 0.0))
    while sample_keys and sample_keys[0] < until:
        samples.append(readout_at(sample_keys.pop(0)))
    return spikes, samples
