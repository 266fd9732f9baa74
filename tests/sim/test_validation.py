"""Every kind of bad input raises ValueError naming what is wrong, before any simulation."""
import numpy as np
import pytest

from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.engines.exact import ExactSimulator

NAN, INF = float("nan"), float("inf")


def H(**kw):
    args = dict(name="h", size=2, tau_mem_s=0.02)
    args.update(kw)
    return LIFLayer(**args)


def P(**kw):
    args = dict(pre="input", post="h", pre_idx=[0, 1], post_idx=[0, 1], weight=[1.0, 1.0], delay_s=[0.0, 0.001])
    args.update(kw)
    return Projection.sparse(**args)


LAYER_CASES = [
    (lambda: H(size=0), "size must be an integer >= 1"),
    (lambda: H(size=2.5), "size must be an integer"),
    (lambda: H(tau_mem_s=0.0), "tau_mem_s must be > 0"),
    (lambda: H(tau_mem_s=[0.02, -1.0]), "neuron 1"),
    (lambda: H(tau_mem_s=NAN), "tau_mem_s"),
    (lambda: H(tau_mem_s=[0.02, 0.02, 0.02]), "tau_mem_s"),
    (lambda: H(threshold=0.0), "threshold must be a finite number > 0"),
    (lambda: H(threshold=INF), "threshold"),
    (lambda: H(reset="bounce"), "reset must be one of"),
    (lambda: H(drive=[0.0, NAN]), "drive"),
    (lambda: H(name=""), "name"),
    (lambda: H(name="input"), "input"),
    (lambda: ReadoutLayer("out", 2, 0.0), "tau_mem_s must be > 0"),
    (lambda: ReadoutLayer("out", 0, 0.02), "size"),
]

PROJECTION_CASES = [
    (lambda: P(weight=[1.0, NAN]), r"weight\[1\] must be finite"),
    (lambda: P(weight=[1.0]), "weight has 1 entries"),
    (lambda: P(delay_s=[0.0, -0.001]), "delay_s must be >= 0"),
    (lambda: P(delay_s=[INF, 0.0]), r"delay_s\[0\] must be finite"),
    (lambda: P(pre_idx=[0.5, 1.0]), "pre_idx must be integers"),
    (lambda: P(post_idx=[-1, 0]), "post_idx must be >= 0"),
    (lambda: P(pre_idx=[0, 0], post_idx=[1, 1], delay_s=[0.001, 0.001]), "duplicate synapse pre=0 post=1"),
    (lambda: P(duplicates="average"), "duplicates must be"),
    (lambda: P(delay_steps=[1, 2]), "delay_steps given without dt_s"),
    (lambda: P(delay_steps=[1, 2], dt_s=-1.0), "dt_s must be"),
    (lambda: Projection.dense("input", "h", np.ones((2, 3)), np.zeros((3, 2))), "delay"),
    (lambda: Projection.dense("input", "h", np.ones(3)), "weight"),
    (lambda: Lateral.dense("h", np.ones((2, 3))), "square"),
    (lambda: Lateral("h", np.array([[0, 1]]), np.ones((1, 3, 3))), "omega must have shape"),
    (lambda: Lateral("h", np.array([[0, 1], [1, 2]]), np.ones((2, 2, 2))), "more than one group"),
    (lambda: Lateral("h", np.array([[0, -1]]), np.ones((1, 2, 2))), "members must be >= 0"),
    (lambda: Lateral.dense("h", [[1.0, NAN], [0.0, 1.0]]), "must be finite"),
]


def _net(layers=None, projections=None, laterals=(), readout=None, n_inputs=2):
    return Network(n_inputs, layers if layers is not None else [H()],
                   projections if projections is not None else [P()], laterals, readout)


NETWORK_CASES = [
    (lambda: _net(n_inputs=-1), "n_inputs must be an integer >= 0"),
    (lambda: _net(projections=[P(post_idx=[0, 2])]), "post_idx"),
    (lambda: _net(projections=[P(pre_idx=[0, 5])]), "pre_idx"),
    (lambda: _net(projections=[P(post="nowhere")]), "nowhere"),
    (lambda: _net(projections=[P(pre="ghost")]), "ghost"),
    (lambda: _net(projections=[P(post="input")]), "input"),
    (lambda: _net(projections=[P(), P(delay_s=[0.002, 0.003])]), "input->h"),
    (lambda: _net(layers=[H(), H()]), "'h'"),
    (lambda: _net(laterals=[Lateral.dense("h", np.eye(3))]), "lateral"),
    (lambda: _net(laterals=[Lateral.dense("zz", np.eye(2))]), "zz"),
    (lambda: _net(laterals=[Lateral.dense("h", np.eye(2)), Lateral.dense("h", np.eye(2))]), "lateral"),
    (lambda: _net(readout=ReadoutLayer("h", 1, 0.02)), "'h'"),
    (lambda: _net(projections=[P(), Projection.dense("out", "h", np.ones((2, 1)))],
                  readout=ReadoutLayer("out", 1, 0.02)), "out"),
]

EVENT_CASES = [
    (lambda: Events([0.2, 0.1], [0, 0]), "sorted"),
    (lambda: Events([-0.1, 0.1], [0, 0]), ">= 0"),
    (lambda: Events([NAN], [0]), "finite"),
    (lambda: Events([INF], [0]), "finite"),
    (lambda: Events([0.1], [0], [NAN]), "finite"),
    (lambda: Events([0.1], [0.5]), "integer"),
    (lambda: Events([0.1], [-1]), "channel"),
    (lambda: Events([0.1, 0.1], [1, 1]), "merge_duplicates"),
    (lambda: Events([0.1, 0.2], [1]), "length"),
]


@pytest.mark.parametrize("build, message", LAYER_CASES + PROJECTION_CASES + NETWORK_CASES + EVENT_CASES)
def test_bad_input_raises_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


RUN_CASES = [
    (lambda s: s.run(0.1, events=Events([0.01], [2])), "channel 2"),
    (lambda s: s.run(NAN), "until_s must be finite"),
    (lambda s: (s.run(0.1), s.run(0.05)), "until_s must be finite and >= t_now"),
    (lambda s: (s.run(0.1), s.run(0.2, events=Events([0.05], [0]))), "precedes the simulated time"),
    (lambda s: (s.add_events(Events([0.5], [0])), s.add_events(Events([0.2], [0]))), "precedes the last queued"),
    (lambda s: (s.add_events(Events([0.5], [0])), s.add_events(Events([0.5], [0]))), "two events at t=0.5"),
    (lambda s: s.run(0.1, sample_times_s=[0.2]), "sample_times_s"),
    (lambda s: s.run(0.1, sample_times_s=[0.05, 0.01]), "sample_times_s"),
    (lambda s: s.run(0.1, events=[(0.01, 0)]), "Events"),
]


@pytest.mark.parametrize("act, message", RUN_CASES)
def test_bad_run_input_raises_value_error(act, message):
    sim = ExactSimulator(_net())
    with pytest.raises(ValueError, match=message):
        act(sim)


@pytest.mark.parametrize("kw, message", [({"max_cascade": 0}, "max_cascade"),
                                         ({"readout_interval_s": -1.0}, "readout_interval_s"),
                                         ({"v_init": [0.0]}, "v_init"),
                                         ({"v_init": [0.0, NAN]}, "v_init")])
def test_bad_simulator_options_raise_value_error(kw, message):
    with pytest.raises(ValueError, match=message):
        ExactSimulator(_net(), **kw)


def test_validated_arrays_are_read_only():
    p = P()
    with pytest.raises(ValueError):
        p.weight[0] = 5.0


def test_duplicate_synapses_can_be_summed_and_multapses_with_other_delays_are_kept():
    p = P(pre_idx=[0, 0, 0], post_idx=[1, 1, 1], weight=[0.5, 0.25, 2.0], delay_s=[0.001, 0.001, 0.002],
          duplicates="sum")
    assert p.n_synapses == 2
    np.testing.assert_array_equal(p.weight, [0.75, 2.0])
    np.testing.assert_array_equal(p.delay_s, [0.001, 0.002])


def test_sparse_projection_same_from_any_order_and_fast_path_for_sorted_input():
    # Projection.sparse skips its sort when the arrays are already in canonical order (a model
    # file read back); the result must be the one the sort gives, and the caller's arrays stay
    # writable (the projection holds copies).
    import numpy as np

    from sim import Projection
    from sim.model.network import _in_canonical_order

    rng = np.random.default_rng(0)
    n = 500
    pre = rng.integers(0, 7, n)
    post = rng.integers(0, 9, n)
    d = rng.choice([0.0, 0.001, 0.002, 0.0035], n)
    key = np.unique(np.stack([pre, post, d]), axis=1)          # distinct synapses
    pre, post, d = key[0].astype(np.int64), key[1].astype(np.int64), key[2]
    w = rng.normal(size=pre.size)
    a = Projection.sparse("input", "h", pre, post, w, d)
    assert _in_canonical_order(a.pre_idx, a.delay_s, a.post_idx)
    assert not _in_canonical_order(pre[::-1], d[::-1], post[::-1])
    srt = [np.array(x) for x in (a.pre_idx, a.post_idx, a.weight, a.delay_s)]
    b = Projection.sparse("input", "h", *srt)
    for f in ("pre_idx", "post_idx", "weight", "delay_s"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert all(x.flags.writeable for x in srt)
