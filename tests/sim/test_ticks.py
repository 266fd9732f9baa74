"""The exact engine's time representation: (n, r) on a time base Q, t = n * Q + r.

Arrivals simultaneous on paper over different paths of on-grid delays must be one instant
(summed before the threshold check, docs/semantics.md), however the float sums round; given
times within 1e-9 steps of a step are that step; chunk boundaries agree with that rule.
"""
import math

import numpy as np
import pytest

from sim import Events, LIFLayer, Network, Projection, ReadoutLayer
from sim._exact_kernels import split_time
from sim.compiled import compile_network, default_time_base
from sim.exact import ExactSimulator, simulate
from tests.reference.event_loop import reference_run, split

TAU = 0.02


def _two_paths(d1=0.001, d2=0.002, d3=0.003, **proj):
    # input -> h0 (1.2, d1) -> h1 (1.2, d2), and input -> h1 directly (-0.5, d3): with
    # d3 = d1 + d2 both reach h1 at once; summed, V = 0.7 < 1: no spike of h1.
    return Network(1, [LIFLayer("h0", 1, TAU), LIFLayer("h1", 1, TAU)],
                   [Projection.sparse("input", "h0", [0], [0], [1.2], [d1], **proj),
                    Projection.sparse("h0", "h1", [0], [0], [1.2], [d2], **proj),
                    Projection.sparse("input", "h1", [0], [0], [-0.5], [d3], **proj)])


# ---------------------------------------------------------------------- path independence
@pytest.mark.parametrize("t_in", [0.0105, 0.0137, 0.089, 0.003, 3 * 0.001, 1234.5678901, 3599.9995])
def test_paper_simultaneous_arrivals_over_two_paths_are_summed(t_in):
    # In float64 (0.0105 + 0.001) + 0.002 != 0.0105 + 0.003 (1.7e-18 s apart); as keys on the
    # 1 ms time base both are (n_in + 3, r_in): one instant, also an hour into a stream.
    net = _two_paths()
    res = simulate(net, Events([t_in], [0]), t_in + 0.05)
    assert len(res.spikes["h0"]) == 1 and len(res.spikes["h1"]) == 0


def test_float_sums_do_split_these_arrivals():
    # The premise of the test above: these paper-equal float sums differ.
    assert (0.0105 + 0.001) + 0.002 != 0.0105 + 0.003
    assert 9 * 0.001 + 1 * 0.001 != 10 * 0.001  # n*dt + k*dt vs (n+k)*dt


def test_grid_input_plus_grid_delay_is_the_grid_step():
    # Input at 9 ms, delay 1 ms: the arrival is the key (10, 0), reported as 10 * 0.001
    # (the grid engine's float for step 10), not 9 * 0.001 + 0.001.
    net = Network(1, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[1.5]], 0.001)])
    assert simulate(net, Events([9 * 0.001], [0]), 0.05).spikes["h"].times_s.tolist() == [10 * 0.001]


def test_without_a_common_time_base_float_sums_are_what_you_get():
    # On the 1 s time base the delays are offsets (m = 0): (r + d1) + d2 and r + d3 are float
    # sums again and may split. The default picks 1 ms here; passing 1 s shows the old way.
    net = _two_paths()
    res = simulate(net, Events([0.0105], [0]), 0.05, time_base_s=1.0)
    assert len(res.spikes["h1"]) == 1  # fires on the first arrival alone


def test_spike_times_are_n_q_plus_r():
    net = _two_paths(d3=0.0)
    res = simulate(net, Events([0.0105], [0]), 0.05)
    n, r = split_time(0.0105, 1e-3, True)
    assert (n, r) == (10.0, 0.0105 - 10 * 1e-3)
    assert res.spikes["h0"].times_s.tolist() == [(n + 1) * 1e-3 + r]
    # an input on a whole step is that step: the spike is exactly the float (n + 1) * Q
    res = simulate(net, Events([0.089], [0]), 0.2)
    assert res.spikes["h0"].times_s.tolist() == [90 * 1e-3]


# ---------------------------------------------------------------------- splitting
@pytest.mark.parametrize("x, q, want", [
    (0.003, 1e-3, (3.0, 0.0)),                   # 0.003 / 0.001 = 2.9999999999999996
    (3 * 0.001, 1e-3, (3.0, 0.0)),
    (0.003 + 0.5e-12, 1e-3, (3.0, 0.0)),         # within 1e-9 steps: that step
    (0.003 - 0.5e-12, 1e-3, (3.0, 0.0)),
    (0.0, 1e-3, (0.0, 0.0)),
    (2.5, 1.0, (2.0, 0.5)),
    (7 * 2.0 ** -10, 2.0 ** -10, (7.0, 0.0)),
])
def test_split_time_snaps_to_whole_steps(x, q, want):
    assert split_time(x, q, True) == want
    assert split(x, q) == want  # the reference's own implementation


@pytest.mark.parametrize("seed", range(5))
def test_split_time_is_exact_off_grid(seed):
    rng = np.random.default_rng(seed)
    for q in (1e-3, 1e-4, 2.0 ** -10, 1.0, 0.0037):
        for x in rng.uniform(0, 5000, 200).tolist() + rng.uniform(0, 0.01, 200).tolist():
            n, r = split_time(x, q, False)
            assert n == math.floor(n) and 0.0 <= r < q
            assert n * q + r == x  # r = x - n*q is exact: the float round-trips
            assert (n, r) == split(x, q, snap=False)
            if abs(x / q - round(x / q)) > 1e-9:
                assert split_time(x, q, True) == (n, r)


def test_delays_are_split_once_at_compile_time():
    net = _two_paths(d1=0.001, d2=0.0025, d3=0.0035)
    arr = compile_network(net, 1e-3)
    assert arr.time_base == 1e-3
    got = sorted(zip(arr.syn_d.tolist(), arr.syn_m.tolist(), arr.syn_s.tolist()))
    assert got[0] == (0.001, 1.0, 0.0)
    assert got[1][1] == 2.0 and got[1][2] == pytest.approx(0.0005, abs=1e-18)
    assert got[2][1] == 3.0 and got[2][2] == pytest.approx(0.0005, abs=1e-18)


# ---------------------------------------------------------------------- choosing Q
def test_default_time_base():
    # 1. dt_s recorded on the projections (or in the metadata)
    net = _two_paths(d1=0.002, d2=0.004, d3=0.006, delay_steps=[1], dt_s=0.002)
    assert default_time_base(net) == 0.002
    net = Network(1, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[1.0]], 0.0025)],
                  metadata={"dt_s": 0.0005})
    assert default_time_base(net) == 0.0005
    # 2. the largest of 1 ms, 100 us, 10 us, 1 us of which every delay is a whole multiple
    assert default_time_base(_two_paths()) == 1e-3
    assert default_time_base(_two_paths(d1=0.0012, d2=0.0003, d3=0.0015)) == 1e-4
    assert default_time_base(_two_paths(d1=17e-6, d2=0.0, d3=17e-6)) == 1e-6
    assert default_time_base(Network(1, [LIFLayer("h", 1, TAU)])) == 1e-3
    # 3. else 1 s
    assert default_time_base(_two_paths(d1=0.00123456789)) == 1.0
    assert ExactSimulator(_two_paths()).time_base_s == 1e-3
    assert ExactSimulator(_two_paths(), time_base_s=0.5).time_base_s == 0.5


def test_dyadic_grid_is_exact_on_any_time_base():
    dt = 2.0 ** -10
    net = _two_paths(d1=dt, d2=2 * dt, d3=3 * dt)
    for q in (None, dt, 1.0):
        res = simulate(net, Events([5 * dt + dt / 7], [0]), 0.1, time_base_s=q)
        assert len(res.spikes["h1"]) == 0, q


# ---------------------------------------------------------------------- boundaries
def test_chunk_boundary_next_to_a_step_agrees_with_snapped_inputs():
    # until a hair after step 5 is step 5 (snapped like an input there), so an input given
    # afterwards at that float time joins the other arrivals at step 5 instead of landing
    # in the already simulated past; chunked == one call.
    net = Network(2, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[1.2, -0.5]], 0.001)])
    t = 0.005 + 1e-13
    one = simulate(net, Events([0.005, t], [0, 1]), 0.05)
    assert len(one.spikes["h"]) == 0  # 1.2 - 0.5 summed at 6 ms
    sim = ExactSimulator(net)
    sim.run(t, events=Events([0.005], [0]))
    sim.run(0.05, events=Events([t], [1]))
    assert len(sim.result().spikes["h"]) == 0


def test_samples_are_split_exactly_so_nextafter_means_just_before():
    # A readout fed at 2 ms + 1 ms delay: a sample at 3 ms sees the arrival, one a float
    # below 3 ms does not (bridge.evaluate samples just before each step end this way).
    net = Network(1, [], [Projection.dense("input", "ro", [[1.0]], 0.001)], readout=ReadoutLayer("ro", 1, TAU))
    sim = ExactSimulator(net)
    c = sim.run(0.004, events=Events([0.002], [0]),
                sample_times_s=[float(np.nextafter(0.003, 0.0)), 0.003])
    assert c.readout[:, 0].tolist() == [0.0, 1.0]
    # until_including(t) lets a run include the instant t and sample there
    sim = ExactSimulator(net)
    u = sim.until_including(0.003)
    assert u > 0.003
    c = sim.run(u, events=Events([0.002], [0]), sample_times_s=[0.003])
    assert c.readout[:, 0].tolist() == [1.0]
    # a sample a hair before a step-aligned until belongs to this chunk
    assert sim.samples_before([0.004 - 1e-16, 0.004], 0.004 + 1e-13).tolist() == [True, False]


def test_reference_agrees_on_a_long_grid_run():
    # Grid inputs and 1 ms delays, 2 s: the reference with the same keys gives the same spikes.
    rng = np.random.default_rng(5)
    n_in, n = 4, 6
    w0 = rng.uniform(0.2, 0.8, (n, n_in))
    w1 = rng.uniform(-0.5, 0.9, (n, n))
    net = Network(n_in, [LIFLayer("a", n, TAU), LIFLayer("b", n, TAU)],
                  [Projection.dense("input", "a", w0, rng.integers(1, 4, w0.shape) * 0.001),
                   Projection.dense("a", "b", w1, rng.integers(1, 4, w1.shape) * 0.001),
                   Projection.dense("input", "b", w0 * 0.5, rng.integers(2, 7, w0.shape) * 0.001)])
    steps = np.sort(rng.choice(2000, 600, replace=False))
    ev = Events(steps * 0.001, rng.integers(0, n_in, steps.size))
    ev = Events(*[np.asarray(a) for a in zip(*sorted(set(zip(ev.times_s.tolist(), ev.channels.tolist()))))])
    chunk = ExactSimulator(net).run(2.0, events=ev)
    ref, _ = reference_run(net, ev.times_s, ev.channels, ev.values, 2.0)
    assert list(zip(chunk.spike_times_s.tolist(), chunk.spike_neurons.tolist())) == ref
    assert len(ref) > 100
