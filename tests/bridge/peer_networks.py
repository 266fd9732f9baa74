"""Small random networks and inputs shared by the Brian2 and NEST peer tests."""
import numpy as np

from sim import Lateral, LIFLayer, Network, Projection, merge_duplicates

DT = 1e-3
TAU = 0.02
N_IN, N0, N1 = 10, 12, 8


def random_network(seed, *, reset0="zero", reset1="zero", drive=True, recurrent, lateral):
    """2 layers (12 + 8 neurons), delays of 1..5 steps, input -> h0 -> h1 plus a skip
    projection input -> h1; optionally drive, recurrent projections (h1 -> h0, h0 -> h0)
    and lateral groups (3 groups of 4 in scrambled member order on h0, one dense group on h1)."""
    rng = np.random.default_rng(seed)
    layers = [LIFLayer("h0", N0, rng.uniform(0.01, 0.04, N0), threshold=1.0, reset=reset0,
                       drive=rng.uniform(0.0, 30.0, N0) if drive else 0.0),
              LIFLayer("h1", N1, TAU, threshold=0.8, reset=reset1,
                       drive=rng.uniform(-5.0, 20.0, N1) if drive else 0.0)]

    def proj(pre, post, n_pre, n_post, mu, sd, p=0.7):
        post_i, pre_i = np.nonzero(rng.random((n_post, n_pre)) < p)
        return Projection.sparse(pre, post, pre_i, post_i, rng.normal(mu, sd, post_i.size),
                                 rng.integers(1, 6, post_i.size) * DT)

    projections = [proj("input", "h0", N_IN, N0, 0.25, 0.2), proj("h0", "h1", N0, N1, 0.3, 0.3),
                   proj("input", "h1", N_IN, N1, 0.1, 0.2)]
    if recurrent:
        projections += [proj("h1", "h0", N1, N0, -0.05, 0.2, 0.5), proj("h0", "h0", N0, N0, 0.0, 0.2, 0.5)]
    laterals = []
    if lateral:
        laterals = [Lateral("h0", rng.permutation(N0).reshape(3, 4), rng.uniform(0.0, 0.3, (3, 4, 4))),
                    Lateral.dense("h1", 0.2 * np.abs(rng.normal(size=(N1, N1))))]
    return Network(N_IN, layers, projections, laterals)


def random_events(seed, duration_s=1.0, rate_hz=40.0, graded=False):
    """Poisson input off the grid; ``graded``: values in {1, -0.5, 2, 0.7}. Several events of
    one channel often share a step (summed there, by every step engine)."""
    rng = np.random.default_rng(seed + 1000)
    n = rng.poisson(rate_hz * duration_s * N_IN)
    t = np.sort(rng.uniform(0.0, duration_s, n))
    ch = rng.integers(0, N_IN, n)
    v = rng.choice([1.0, -0.5, 2.0, 0.7], n) if graded else None
    return merge_duplicates(t, ch, v)
