"""Seeded generators of small random networks and event streams for differential tests.

Delays and event times are drawn partly from a coarse grid so that exact ties (equal
arrival times, zero delays) are common, and partly from continuous distributions.
"""
from __future__ import annotations

import numpy as np

from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer


def _delays(rng: np.random.Generator, shape) -> np.ndarray:
    grid = rng.integers(0, 4, size=shape) * 0.002          # 0, 2, 4, 6 ms: ties and zeros
    cont = rng.uniform(0.0, 0.008, size=shape)
    return np.where(rng.random(shape) < 0.6, grid, cont)


def random_network(rng: np.random.Generator, *, lateral: bool | None = None, drive: bool | None = None,
                   readout: bool | None = None) -> Network:
    n_in = int(rng.integers(1, 6))
    n_layers = int(rng.integers(1, 4))
    lateral = rng.random() < 0.5 if lateral is None else lateral
    drive = rng.random() < 0.4 if drive is None else drive
    readout = rng.random() < 0.5 if readout is None else readout
    layers, projections, laterals = [], [], []
    prev, prev_size = "input", n_in
    for k in range(n_layers):
        size = int(rng.integers(1, 7))
        tau = rng.uniform(0.005, 0.05, size=size)
        thr = float(rng.choice([1.0, rng.uniform(0.5, 1.5)]))
        b = np.zeros(size)
        if drive:
            # Some neurons driven above threshold (b*tau > thr), some below, some negative.
            b = rng.choice([0.0, 1.0, -1.0], size=size) * rng.uniform(0.5, 2.0, size=size) * thr / tau
        name = f"l{k}"
        layers.append(LIFLayer(name, size, tau, threshold=thr, reset=str(rng.choice(["zero", "subtract"])), drive=b))
        w = rng.normal(0.5, 0.6, size=(size, prev_size)) * thr
        projections.append(Projection.dense(prev, name, w, _delays(rng, w.shape)))
        if k > 0 and rng.random() < 0.3:
            # Skip connection from the input.
            w2 = rng.normal(0.3, 0.5, size=(size, n_in)) * thr
            projections.append(Projection.dense("input", name, w2, _delays(rng, w2.shape)))
        if rng.random() < 0.25:
            # Recurrent synapses with strictly positive delay.
            m = rng.random((size, size)) < 0.5
            post, pre = np.nonzero(m)
            # Mostly inhibitory; the excitatory ones are small enough (each spike adds at most
            # 0.3 * thr over the whole layer) that activity cannot sustain itself and explode.
            w_rec = np.where(rng.random(pre.size) < 0.7, -np.abs(rng.normal(0.0, 0.5, size=pre.size)),
                             rng.uniform(0.0, 0.3 / size, size=pre.size)) * thr
            projections.append(Projection.sparse(name, name, pre, post, w_rec,
                                                 rng.uniform(0.001, 0.01, size=pre.size)))
        if lateral and size > 1:
            W = rng.normal(0, 0.7, size=(size, 3))
            om = W @ W.T * thr
            if rng.random() < 0.5:
                # Mutual excitation somewhere, so that cascades happen.
                i, j = rng.choice(size, 2, replace=False)
                om[i, j] = om[j, i] = -abs(om[i, j]) - 0.5 * thr
            if rng.random() < 0.5 and size >= 4:
                g = size // 2
                members = rng.permutation(size)[: 2 * g].reshape(2, g)
                laterals.append(Lateral(name, members, np.stack([om[np.ix_(m, m)] for m in members])))
            else:
                laterals.append(Lateral.dense(name, om))
        prev, prev_size = name, size
    ro = None
    if readout:
        n_out = int(rng.integers(1, 4))
        ro = ReadoutLayer("out", n_out, rng.uniform(0.01, 0.05, size=n_out), drive=rng.normal(0, 5.0, size=n_out))
        w = rng.normal(0, 0.5, size=(n_out, prev_size))
        projections.append(Projection.dense(prev, "out", w, _delays(rng, w.shape)))
    return Network(n_in, layers, projections, laterals, ro)


def random_events(rng: np.random.Generator, n_inputs: int, duration_s: float, *, signed: bool | None = None) -> Events:
    n = int(rng.integers(0, 40))
    grid = rng.integers(0, int(duration_s / 0.002), size=n) * 0.002
    cont = rng.uniform(0, duration_s, size=n)
    t = np.where(rng.random(n) < 0.5, grid, cont)
    ch = rng.integers(0, n_inputs, size=n)
    signed = rng.random() < 0.3 if signed is None else signed
    v = rng.choice([1.0, -1.0], size=n) * rng.uniform(0.5, 1.5, size=n) if signed else np.ones(n)
    # Drop exact (t, channel) duplicates: the stream format rejects them.
    order = np.lexsort((ch, t))
    t, ch, v = t[order], ch[order], v[order]
    keep = np.ones(n, dtype=bool)
    keep[1:] = (np.diff(t) != 0) | (np.diff(ch) != 0)
    return Events(t[keep], ch[keep], v[keep])
