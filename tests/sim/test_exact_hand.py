"""Hand-computed cases for the exact engine; each derivation is in the test's comment."""
import math

import numpy as np
import pytest

from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.engines.exact import CascadeError, ExactSimulator

TAU = 0.02


def _one(weight=1.0, delay=0.0, tau=TAU, **layer):
    return Network(1, [LIFLayer("h", 1, tau, **layer)], [Projection.dense("input", "h", [[weight]], delay)])


def test_readout_decays_from_v0_in_closed_form():
    # V(t) = V0 exp(-t / tau) for a leaky integrator without input or drive.
    net = Network(1, [LIFLayer("h", 1, TAU)], [], readout=ReadoutLayer("out", 2, [0.01, 0.05]))
    sim = ExactSimulator(net, v_init=[0.0, 0.8, -0.3])
    t = np.array([0.0, 0.001, 0.02, 0.1])
    chunk = sim.run(0.2, sample_times_s=t)
    expected = np.stack([0.8 * np.exp(-t / 0.01), -0.3 * np.exp(-t / 0.05)], axis=1)
    np.testing.assert_allclose(chunk.readout, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("t_in, fires", [(0.006, True), (0.007, False)])
def test_lif_decays_from_v0_between_events(t_in, fires):
    # V0 = 0.7 decays; an input of 0.5 at t makes it fire iff 0.7 exp(-t/tau) + 0.5 >= 1,
    # i.e. t <= tau ln(0.7/0.5) = 20 ms * 0.33647 = 6.729 ms.
    sim = ExactSimulator(_one(weight=0.5), v_init=[0.7])
    chunk = sim.run(0.05, events=Events([t_in], [0]))
    assert (chunk.spike_times_s.size == 1) == fires
    if fires:
        assert chunk.spike_times_s[0] == t_in


def test_one_synapse_per_delay_lands_exactly_at_emission_plus_delay():
    # Delay table: a spike emitted at 2 ms arrives at 2 ms + d, d never rounded, and the
    # time reported is the sum on paper (0.002 + 0.00325 is 0.00525 s, although the float
    # sum is 0.0052499999999999995: times are whole picoseconds, sim/engines/ticks.py).
    delays = np.array([0.0, 0.0015, 0.00325, 0.01, 0.123456789])
    n = delays.size
    net = Network(1, [LIFLayer("h", n, TAU)],
                  [Projection.sparse("input", "h", np.zeros(n, int), np.arange(n), np.full(n, 1.0), delays)])
    chunk = ExactSimulator(net).run(0.2, events=Events([0.002], [0]))
    got = dict(zip(chunk.spike_neurons.tolist(), chunk.spike_times_s.tolist()))
    assert got == {0: 0.002, 1: 0.0035, 2: 0.00525, 3: 0.012, 4: 0.125456789}


def test_two_simultaneous_inputs_reach_threshold_only_together():
    # 0.6 + 0.6 = 1.2 >= 1 at the same instant: one spike. Either alone (or 1 us apart with
    # 0.55 each: 0.55 e^(-50us/tau) + 0.55 = 1.0986 ... still fires) -- so use a gap long
    # enough to decay below: 0.6 exp(-10 ms / 20 ms) + 0.6 = 0.9639 < 1.
    net = Network(2, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[0.6, 0.6]], 0.0)])
    together = ExactSimulator(net).run(0.1, events=Events([0.01, 0.01], [0, 1]))
    np.testing.assert_array_equal(together.spike_times_s, [0.01])
    apart = ExactSimulator(net).run(0.1, events=Events([0.01, 0.02], [0, 1]))
    assert apart.spike_times_s.size == 0
    alone = ExactSimulator(net).run(0.1, events=Events([0.01], [1]))
    assert alone.spike_times_s.size == 0


@pytest.mark.parametrize("w", [[1.2, -0.5], [-0.5, 1.2]])
def test_simultaneous_arrivals_are_summed_before_the_threshold_check(w):
    # 1.2 alone would fire; 1.2 - 0.5 = 0.7 does not, whichever channel comes first.
    net = Network(2, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [w], 0.0)])
    chunk = ExactSimulator(net).run(0.1, events=Events([0.01, 0.01], [0, 1]))
    assert chunk.spike_times_s.size == 0


def test_drive_only_neuron_fires_at_the_closed_form_period():
    # b tau = 60 * 0.02 = 1.2 > threshold 1, zero reset: from V=0 the neuron reaches 1 after
    # T = tau ln((0 - 1.2) / (1 - 1.2)) = 0.02 ln 6 = 35.835 ms, then again every T.
    net = Network(0, [LIFLayer("h", 1, TAU, threshold=1.0, reset="zero", drive=60.0)])
    chunk = ExactSimulator(net).run(1.0)
    period = TAU * math.log(6.0)
    n = int(1.0 // period)
    assert chunk.spike_times_s.size == n == 27
    # Each crossing is the first whole picosecond at or after the closed-form instant, so
    # the k-th spike is late by at most k ps.
    k = np.arange(1, n + 1)
    err = chunk.spike_times_s - period * k
    assert np.all(err >= -1e-15) and np.all(err <= k * 1e-12 + 1e-15)


def test_drive_below_threshold_never_fires_and_relaxes_to_b_tau():
    # b tau = 0.9 < 1: V(t) = 0.9 (1 - e^(-t/tau)) never reaches threshold.
    net = Network(1, [LIFLayer("h", 1, TAU, drive=45.0)], [Projection.dense("input", "h", [[0.05]], 0.0)])
    sim = ExactSimulator(net)
    assert sim.run(1.0).spike_times_s.size == 0
    # One input of 0.05 on top of 0.9 (1 - e^-5) = 0.89394 is not enough; 0.2 would be.
    assert sim.run(1.1, events=Events([1.05], [0])).spike_times_s.size == 0


def test_three_neuron_lateral_group_fires_in_greedy_order():
    # V = [1.3, 1.5, 1.1] arrive together (threshold 1, zero reset). omega[j, i] is what
    # j loses when i fires. Largest V - thr first:
    #   n1 (0.5) fires: V1 = 0 - 1.0,  V0 = 1.3 - 0.4 = 0.9,  V2 = 1.1 - 0.05 = 1.05
    #   n2 (0.05) fires: V2 = 0 - 1.0, V0 = 0.9 + 0.2 = 1.1,  V1 = -1.0 - 0.05
    #   n0 (0.1) fires:  V0 = 0 - 1.0, V1 -= 0.6, V2 -= 0.2 -> all below: done.
    # Lowest-index-first would fire only n0 (its column pushes n1, n2 to 0.9).
    omega = np.array([[1.0, 0.4, -0.2],
                      [0.6, 1.0, 0.05],
                      [0.2, 0.05, 1.0]])
    net = Network(3, [LIFLayer("h", 3, TAU)], [Projection.dense("input", "h", np.diag([1.3, 1.5, 1.1]), 0.0)],
                  [Lateral.dense("h", omega)])
    sim = ExactSimulator(net)
    chunk = sim.run(0.1, events=Events([0.01] * 3, [0, 1, 2]))
    assert chunk.spike_neurons.tolist() == [1, 2, 0]
    assert chunk.spike_times_s.tolist() == [0.01] * 3
    # Each of the 3 spikes updates all 3 members.
    assert sim.counts().lateral_updates["h"].tolist() == [3, 3, 3]


def test_lateral_ties_fire_the_lowest_index_first():
    omega = np.array([[1.0, 0.5], [0.5, 1.0]])
    net = Network(2, [LIFLayer("h", 2, TAU)], [Projection.dense("input", "h", np.diag([1.2, 1.2]), 0.0)],
                  [Lateral.dense("h", omega)])
    chunk = ExactSimulator(net).run(0.1, events=Events([0.01, 0.01], [0, 1]))
    # n0 fires (tie broken by index); n1 drops to 0.7.
    assert chunk.spike_neurons.tolist() == [0]


def test_cascade_that_never_settles_raises_naming_layer_and_time():
    # Mutual excitation stronger than the reset: every spike re-excites the other neuron.
    omega = np.array([[0.0, -2.0], [-2.0, 0.0]])
    net = Network(1, [LIFLayer("hid", 2, TAU, reset="subtract")],
                  [Projection.dense("input", "hid", [[1.5], [0.0]], 0.0)], [Lateral.dense("hid", omega)])
    sim = ExactSimulator(net, max_cascade=50)
    with pytest.raises(CascadeError, match=r"layer 'hid' at t=0\.03"):
        sim.run(0.1, events=Events([0.03], [0]))
    with pytest.raises(RuntimeError, match="stopped with an error"):
        sim.run(0.2)


def test_zero_delay_loop_raises():
    # A -> A with zero delay and weight above threshold would spike forever at one instant.
    net = Network(1, [LIFLayer("a", 1, TAU, reset="subtract")],
                  [Projection.dense("input", "a", [[1.0]], 0.0), Projection.dense("a", "a", [[1.0]], 0.0)])
    with pytest.raises(CascadeError, match="layer 'a'"):
        ExactSimulator(net, max_cascade=100).run(0.1, events=Events([0.01], [0]))


def test_readout_sample_at_t_includes_arrivals_at_t():
    net = Network(1, [], [Projection.dense("input", "out", [[0.25]], 0.003)], readout=ReadoutLayer("out", 1, 0.05))
    chunk = ExactSimulator(net).run(0.1, events=Events([0.001], [0]), sample_times_s=[0.004 - 1e-9, 0.004, 0.014])
    # Arrival at 4 ms: before it 0, at it 0.25, 10 ms later 0.25 e^(-10/50).
    np.testing.assert_allclose(chunk.readout[:, 0], [0.0, 0.25, 0.25 * math.exp(-0.2)], rtol=1e-14)


def test_counts_on_a_hand_case():
    # 2 inputs -> 3 neurons dense (6 synapses) -> readout 1. Events: 3 on channel 0, 1 on channel 1.
    net = Network(2, [LIFLayer("h", 3, TAU)],
                  [Projection.dense("input", "h", np.full((3, 2), 0.1), 0.001),
                   Projection.dense("h", "out", np.ones((1, 3)), 0.0)], readout=ReadoutLayer("out", 1, TAU))
    sim = ExactSimulator(net)
    sim.run(0.1, events=Events([0.01, 0.02, 0.02, 0.03], [0, 0, 1, 0]))
    c = sim.counts()
    assert c.input_events.tolist() == [3, 1]
    assert c.synaptic_events["h"].tolist() == [4, 4, 4]
    # Three arrival instants (10, 20, 30 ms + 1 ms): one state update per neuron each.
    assert c.state_updates["h"].tolist() == [3, 3, 3]
    assert c.spikes["h"].tolist() == [0, 0, 0]
    res = sim.result()
    assert res.layer_rates_hz() == {"h": 0.0}
    assert res.summary()["counts"]["synaptic_events"] == 12


def test_subtract_reset_fires_until_below_threshold_at_the_same_instant():
    # Regression: V = 2.5 with subtract reset used to fire once and keep V = 1.5 >= thr
    # until the next input, which then "fired" it even when inhibitory. A neuron fires
    # while V >= thr: 2.5 -> 1.5 -> 0.5, two spikes at t = 0; the inhibitory input at
    # 5 ms (V = 0.5 e^-0.005 - 0.01 < 1) fires nothing.
    net = Network(2, [LIFLayer("h", 1, 1.0, reset="subtract")], [Projection.dense("input", "h", [[2.5, -0.01]], 0.0)])
    sim = ExactSimulator(net, v_init=[0.0])
    chunk = sim.run(0.1, events=Events([0.0, 0.005], [0, 1]), sample_times_s=[])
    assert chunk.spike_times_s.tolist() == [0.0, 0.0]
    assert sim.state.V[0] == pytest.approx(0.5 * math.exp(-0.005) - 0.01, rel=1e-12)


def test_endless_burst_is_bounded():
    # Subtract reset with a zero-delay self-connection of weight > thr never drops below.
    net = Network(1, [LIFLayer("a", 1, TAU, reset="subtract")],
                  [Projection.dense("input", "a", [[5.0]], 0.0)])
    with pytest.raises(CascadeError, match="layer 'a'"):
        ExactSimulator(net, max_cascade=3).run(0.1, events=Events([0.01], [0]))


@pytest.mark.parametrize("extra_delay", [0.0, 0.5, 100.0])   # near heap, wheel, overflow heap
def test_simultaneous_arrivals_are_added_in_emission_order(extra_delay):
    # Three inputs reach one neuron at the same instant over different delays: channel 2
    # emitted first (t = 0), then channel 0 (0.1 ms), then channel 1 (0.2 ms). Added in
    # emission order, 1e16 - 1e16 + 1 = 1 >= 0.5: a spike. (In channel order, -1e16 + 1 +
    # 1e16 = 0, since 1 is lost against 1e16: no spike.) extra_delay puts the meeting in
    # the current bucket's heap, on the wheel, or beyond the wheel's 70 s reach.
    d = extra_delay
    w = np.array([[-1e16, 1.0, 1e16]])                       # (post, pre)
    delays = np.array([[d + 0.0002, d + 0.0001, d + 0.0003]])
    net = Network(3, [LIFLayer("h", 1, 1000.0, threshold=0.5)], [Projection.dense("input", "h", w, delays)])
    ev = Events([0.0, 0.0001, 0.0002], [2, 0, 1])
    chunk = ExactSimulator(net).run(d + 0.001, events=ev)
    assert chunk.spike_times_s.tolist() == [d + 0.0003]


def test_near_heap_renumbering_keeps_the_order():
    from sim.engines import _exact_kernels as K

    rng = np.random.default_rng(0)
    n, seq_bits = 300, 9
    keys = np.sort(rng.choice(1 << 20, n, replace=False)).astype(np.int64) << seq_bits | rng.integers(0, 1 << seq_bits, n)
    hk, hp, hv = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int32), np.zeros(n + 1)
    size = 0
    for i in rng.permutation(n):
        size = K._near_push(hk, hp, hv, size, keys[i], i, float(i))
    assert K._near_renumber(hk, hp, hv, size, seq_bits) == n
    assert np.all(np.diff(hk[:n]) > 0)                               # sorted, so still a heap
    assert hp[:n].tolist() == list(range(n)) and hv[:n].tolist() == list(range(n))
    assert (hk[:n] & ((1 << seq_bits) - 1)).tolist() == list(range(n))
    assert (hk[:n] >> seq_bits).tolist() == (keys >> seq_bits).tolist()
