"""bridge.conventions: the rounding rules on the float cases that break naive code, and the
copies of the binning rule in training and sim agree with it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bridge import conventions as conv
from sim import LIFLayer, Network, Projection


def test_seconds_to_steps_round_half_up_despite_float_error():
    # In float64 0.3 / 0.1 = 2.9999999999999996, 0.043 / 0.001 = 42.99999999999999 and
    # 0.0215 / 0.001 = 21.499999999999996: naive floor / round give 2, 42 and 21.
    assert 0.3 / 0.1 < 3 and 0.043 / 0.001 < 43 and 0.0215 / 0.001 < 21.5
    assert conv.seconds_to_steps(0.3, 0.1) == 3
    assert conv.seconds_to_steps(0.043, 0.001) == 43
    assert conv.seconds_to_steps(0.0215, 0.001) == 22         # half rounds up
    assert conv.time_to_step(0.043, 0.001) == 43              # binning: the step that starts at 43 ms
    assert conv.time_to_step(0.0215, 0.001) == 21
    assert conv.seconds_to_steps(0.0015, 0.001) == 2
    assert conv.seconds_to_steps(0.0025, 0.001) == 3
    assert conv.seconds_to_steps(0.00149, 0.001) == 1
    assert conv.seconds_to_steps([0.0, 0.0005, 0.25], 0.001).tolist() == [0, 1, 250]
    assert conv.steps_to_seconds(np.array([0, 3]), 0.001).tolist() == [0.0, 0.003]


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, 100_000), dt=st.sampled_from([1e-4, 1e-3, 2e-3, 0.01, 2.0 ** -10, 0.0007]))
def test_steps_round_trip(k, dt):
    assert int(conv.seconds_to_steps(k * dt, dt)) == k
    assert int(conv.seconds_to_steps((k + 0.5) * dt, dt)) == k + 1
    assert int(conv.time_to_step(k * dt, dt)) == k


def test_binning_rule_copies_agree():
    from sim.engines.grid import STEP_EPS as sim_eps, bin_step
    from training.binning import STEP_EPS as tr_eps, time_to_step as tr_step

    assert sim_eps == tr_eps == conv.STEP_EPS
    t = np.concatenate([np.arange(2000) * 0.001, np.random.default_rng(0).uniform(0, 2, 5000)])
    assert np.array_equal(conv.time_to_step(t, 0.001), tr_step(t, 0.001))
    assert np.array_equal(conv.time_to_step(t, 0.001), bin_step(t, 0.001))


def test_round_half_up_matches_training_delays():
    torch = pytest.importorskip("torch")
    from training.delays import round_half_up

    pos = np.concatenate([np.arange(0, 20, 0.5), np.random.default_rng(1).uniform(0, 20, 1000)]).astype(np.float32)
    want = round_half_up(torch.from_numpy(pos)).numpy()
    assert np.array_equal(conv.seconds_to_steps(pos.astype(np.float64) * 0.001, 0.001), want)


def test_beta_tau_and_drive():
    from training.lif import beta_from_tau as tr_beta

    tau = np.array([0.005, 0.02, 0.1])
    b = conv.beta_from_tau(tau, 0.001)
    assert tr_beta is conv.beta_from_tau                 # one function, one argument order (tau, dt)
    assert np.array_equal(b, tr_beta(tau, 0.001))
    np.testing.assert_allclose(conv.tau_from_beta(b, 0.001), tau, rtol=1e-12)
    d = conv.drive_per_step(np.array([1.0, -2.0, 3.0]), tau, 0.001)
    np.testing.assert_array_equal(d, (1.0 - b) * np.array([1.0, -2.0, 3.0]) * tau)
    np.testing.assert_allclose(conv.drive_from_per_step(d, tau, 0.001), [1.0, -2.0, 3.0], rtol=1e-12)


def test_bad_values():
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="dt_s"):
            conv.seconds_to_steps(0.001, bad)
    with pytest.raises(ValueError, match=">= 0"):
        conv.seconds_to_steps(-0.001, 0.001)
    with pytest.raises(ValueError, match="finite"):
        conv.seconds_to_steps(float("nan"), 0.001)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        conv.tau_from_beta(1.0, 0.001)
    with pytest.raises(ValueError, match="> 0"):
        conv.beta_from_tau(0.0, 0.001)
    with pytest.raises(ValueError, match="not on the grid"):
        conv.check_on_grid([0.001, 0.0015], 0.001)


def test_network_on_grid_records_steps_and_keeps_seconds():
    from sim.engines.grid import GridSimulator

    net = Network(2, [LIFLayer("a", 1, 0.01)],
                  [Projection.dense("input", "a", [[1.0, 1.0]], [[0.0015, 0.003]])])
    with pytest.raises(ValueError, match="network_on_grid"):
        GridSimulator(net, 0.001)
    g = conv.network_on_grid(net, 0.001)
    p = g.projection("input", "a")
    assert p.delay_steps.tolist() == [2, 3] and p.dt_s == 0.001
    assert p.delay_s.tolist() == [0.0015, 0.003]
    GridSimulator(g, 0.001)
    with pytest.raises(ValueError, match="off the grid"):
        conv.network_on_grid(net, 0.001, max_error_steps=1e-6)
