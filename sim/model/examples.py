"""Example networks: the reference network of docs/benchmarks.md ("shd-like"), built from a seed.

700 input channels -> 256 LIF (lateral over the whole layer) -> 256 LIF (lateral) -> 20
readout, dense: 249 856 feed-forward synapses (delays spread over 0-250 ms) plus 2 x 65 536
lateral entries, 380 928 connections in all as docs/benchmarks.md counts them; and
Poisson input at 10 Hz per channel. Every engine and peer benchmarks these very arrays.

With ``dt_s`` given, delays and input times lie exactly on multiples of ``dt_s`` so that
grid engines (axon's, Brian2, NEST ``iaf_psc_delta``) run the same network.
"""
from __future__ import annotations

import numpy as np

from sim.model.events import Events
from sim.model.network import Lateral, LIFLayer, Network, Projection, ReadoutLayer

N_IN, N_HIDDEN, N_OUT = 700, 256, 20
MAX_DELAY_S = 0.25
TAU_S = 0.02
READOUT_TAU_S = 0.05


def _delays(rng, shape, dt_s, min_delay_steps=0):
    if dt_s is None:
        return rng.uniform(0.0, MAX_DELAY_S, size=shape), None
    steps = rng.integers(min_delay_steps, int(round(MAX_DELAY_S / dt_s)) + 1, size=shape)
    return steps * dt_s, steps


def build_reference_network(seed: int = 0, dt_s: float | None = None, lateral: bool = True, *,
                            reset: str = "subtract", min_delay_steps: int = 0) -> Network:
    """The docs/benchmarks.md network. Weights are scaled so that hidden neurons fire at a few
    to a few tens of hertz under 10 Hz input; the lateral matrices are ``Omega = g W W^T``
    over each layer's input weights (diagonal included), as in the trained model.

    ``reset`` and ``min_delay_steps`` (with ``dt_s``) make the variants peers can express:
    NEST's ``iaf_psc_delta`` only resets to a fixed potential, and neither NEST nor Brian2
    (with docs/semantics.md's schedule) has a twin of a zero-step delay between neurons."""
    rng = np.random.default_rng(seed)
    layers = [LIFLayer("hidden0", N_HIDDEN, TAU_S, threshold=1.0, reset=reset),
              LIFLayer("hidden1", N_HIDDEN, TAU_S, threshold=1.0, reset=reset)]
    projections, laterals = [], []
    pre, n_pre = "input", N_IN
    # Mean drive: (n_pre * rate * tau) * mean weight, chosen near threshold so that the
    # fluctuations make the neurons fire irregularly.
    for layer, (mu, sd) in zip(layers, ((0.010, 0.05), (0.030, 0.12))):
        w = rng.normal(mu, sd, size=(N_HIDDEN, n_pre))
        d, steps = _delays(rng, w.shape, dt_s, min_delay_steps)
        projections.append(Projection.dense(pre, layer.name, w, d, delay_steps=steps, dt_s=dt_s if steps is not None else None))
        if lateral:
            gram = w @ w.T
            omega = 0.5 * gram / np.mean(np.diag(gram))
            laterals.append(Lateral.dense(layer.name, omega))
        pre, n_pre = layer.name, N_HIDDEN
    w = rng.normal(0.0, 0.1, size=(N_OUT, N_HIDDEN))
    d, steps = _delays(rng, w.shape, dt_s, min_delay_steps)
    projections.append(Projection.dense(pre, "readout", w, d, delay_steps=steps, dt_s=dt_s if steps is not None else None))
    readout = ReadoutLayer("readout", N_OUT, READOUT_TAU_S)
    return Network(N_IN, layers, projections, laterals, readout,
                   metadata={"benchmark": "shd-like reference network", "seed": seed, "dt_s": dt_s,
                             "reset": reset, "min_delay_steps": min_delay_steps})


def poisson_events(n_channels: int = N_IN, rate_hz: float = 10.0, duration_s: float = 10.0, seed: int = 1,
                   dt_s: float | None = None) -> Events:
    """Independent Poisson spike trains, one per channel. With ``dt_s``, each step ``n >= 1``
    carries a spike with probability ``rate_hz * dt_s`` (a Bernoulli grid process) at ``n * dt_s``.

    No event is at ``t <= 0`` (NEST's ``spike_generator`` refuses those), so the very same
    input is valid for every engine and peer at every duration and seed."""
    rng = np.random.default_rng(seed)
    if dt_s is None:
        n = rng.poisson(rate_hz * duration_s * n_channels)
        t = rng.uniform(0.0, duration_s, size=n)
        zero = t <= 0.0
        while np.any(zero):   # probability 2**-53 per draw: the draws are otherwise unchanged
            t[zero] = rng.uniform(0.0, duration_s, size=int(zero.sum()))
            zero = t <= 0.0
        ch = rng.integers(0, n_channels, size=n)
    else:
        n_steps = int(round(duration_s / dt_s))
        p = rate_hz * dt_s
        if p > 1:
            raise ValueError(f"rate_hz * dt_s must be <= 1, got {p}")
        # Steps 1 .. n_steps - 1: step 0 is t = 0, which NEST's spike_generator refuses.
        n_free = max(n_steps - 1, 0)
        counts = rng.binomial(n_free, p, size=n_channels)
        ch = np.repeat(np.arange(n_channels), counts)
        steps = (np.concatenate([rng.choice(n_free, size=k, replace=False) + 1 for k in counts])
                 if counts.sum() else np.zeros(0, int))
        t = steps * dt_s
    order = np.lexsort((ch, t))
    return Events(t[order], ch[order])
