"""The exact engine's clock: int64 picosecond ticks (sim/engines/ticks.py) and the queue built on it.

Arrivals simultaneous on paper over different paths must be one instant (summed before
the threshold check, docs/semantics.md) for any times and delays written with at most 12
decimals, hours or months into a run; a float becomes the tick it stands for, with its
own precision in mind; chunk boundaries and sample times follow the same rule.
"""
import math
import resource
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim import Events, LIFLayer, Network, Projection, ReadoutLayer
from sim.engines.exact import CascadeError, ExactSimulator, simulate
from sim.engines.ticks import FLOOR, NEAREST, seconds_to_tick, seconds_to_ticks, ticks_to_s
from tests.reference.event_loop import reference_run, ticks as ref_ticks

TAU = 0.02


def _two_paths(d1=0.001, d2=0.002, d3=0.003):
    # input -> h0 (1.2, d1) -> h1 (1.2, d2), and input -> h1 directly (-0.5, d3): with
    # d3 = d1 + d2 both reach h1 at once; summed, V = 0.7 < 1: no spike of h1.
    return Network(1, [LIFLayer("h0", 1, TAU), LIFLayer("h1", 1, TAU)],
                   [Projection.sparse("input", "h0", [0], [0], [1.2], [d1]),
                    Projection.sparse("h0", "h1", [0], [0], [1.2], [d2]),
                    Projection.sparse("input", "h1", [0], [0], [-0.5], [d3])])


# ---------------------------------------------------------------------- float -> ticks
@pytest.mark.parametrize("x, want", [
    (0.0, 0), (0.1, 10 ** 11), (0.0135, 13_500_000_000), (1e-12, 1), (0.032600000500679016, 32_600_000_501),
    (3 * 3600 + 0.001, 10_800_001_000_000_000),           # 3 h: float ulp 1.8 ps, the ms tick is chosen
    (10 * 3600 + 0.0005, 36_000_000_500_000_000),          # 10 h: ulp 7.3 ps
    (100 * 86400 + 0.001, 8_640_000_001_000_000_000),      # 100 days: ulp 1.9 ns
])
def test_a_float_becomes_the_tick_written_on_paper(x, want):
    assert seconds_to_tick(x) == want == ref_ticks(x)


def test_a_float_between_ticks_is_rounded_or_floored():
    # nextafter(0.1, 0) stands for no whole picosecond: events take the nearest tick, sample
    # times the one below (a sample "just before 0.1 s" stays before the arrivals at 0.1 s).
    x = float(np.nextafter(0.1, 0.0))
    assert seconds_to_tick(x, NEAREST) == 10 ** 11 and seconds_to_tick(x, FLOOR) == 10 ** 11 - 1
    assert seconds_to_tick(0.1, FLOOR) == 10 ** 11


@settings(max_examples=300, deadline=None)
@given(whole=st.integers(0, 8_000_000), frac=st.integers(0, 10 ** 12 - 1), digits=st.integers(0, 12),
       jitter=st.integers(-2, 2))
def test_ticks_agree_with_exact_rational_arithmetic(whole, frac, digits, jitter):
    # Times with a limited number of decimals, and floats a few ulps away from them: the
    # compiled conversion equals the reference's Fraction-based one in both modes.
    frac = frac // 10 ** (12 - digits) * 10 ** (12 - digits)
    x = float(f"{whole}.{frac:012d}")
    for _ in range(abs(jitter)):
        x = float(np.nextafter(x, np.inf if jitter > 0 else 0.0))
    assert seconds_to_tick(x, NEAREST) == ref_ticks(x)
    assert seconds_to_tick(x, FLOOR) == ref_ticks(x, floor=True)
    # Python's repr is the shortest decimal that rounds to x: where it has at most 12
    # decimals it is the paper value, and the tick is it (a float of 8192.000000000001 s
    # cannot hold that picosecond: its repr, and tick, are ...002).
    paper = Decimal(repr(x)) * 10 ** 12
    if paper == paper.to_integral_value():
        assert seconds_to_tick(x) == int(paper)
        if jitter == 0 and whole < 4096:
            assert int(paper) == whole * 10 ** 12 + frac
        assert ticks_to_s(np.array([int(paper)]))[0] == x   # reported back as the same float


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, 9_000_000 * 10 ** 12))
def test_ticks_are_reported_as_the_nearest_float(k):
    # Reported times are correctly rounded: ticks_to_s(k) is the float nearest to k ps
    # (Python's Fraction -> float is correctly rounded); e.g. 4505430000000 ps is the
    # float 4.50543, not 4.0 + 0.50543 = 4.5054300000000005.
    from fractions import Fraction
    assert ticks_to_s(np.array([k]))[0] == float(Fraction(k, 10 ** 12))


def test_out_of_range_times_are_rejected():
    for bad in (-1e-3, math.inf, math.nan, 1e7):
        with pytest.raises(ValueError, match="outside what the exact engine represents"):
            seconds_to_ticks([bad])


# ---------------------------------------------------------------------- path independence
@pytest.mark.parametrize("t_in", [0.0105, 0.0137, 0.089, 0.003, 1234.5678901, 3599.9995, 3 * 3600 + 0.0105,
                                  10 * 3600 + 0.0137])
@pytest.mark.parametrize("d", [(0.001, 0.002, 0.003), (0.0326, 0.0001, 0.0327),
                               (0.000123456789, 0.000987654321, 0.00111111111), (1e-9, 2e-9, 3e-9)])
def test_paper_simultaneous_arrivals_over_two_paths_are_summed(t_in, d):
    # In float64 (0.0105 + 0.001) + 0.002 != 0.0105 + 0.003; in ticks the two paths are one
    # instant, for ms, off-grid and ns delays, and hours into a stream.
    net = _two_paths(*d)
    res = simulate(net, Events([t_in], [0]), t_in + 0.05)
    assert len(res.spikes["h0"]) == 1 and len(res.spikes["h1"]) == 0


def test_float_sums_do_split_these_arrivals():
    # The premise of the test above: these paper-equal float sums differ.
    assert (0.0105 + 0.001) + 0.002 != 0.0105 + 0.003
    assert (0.12 + 0.0326) != (0.11 + 0.0426)


@pytest.mark.parametrize("t0, d0, t1, d1", [(0.1, 0.0326, 0.11, 0.0226), (0.12, 0.0326, 0.11, 0.0426),
                                             (0.1, 0.2, 0.11, 0.19)])
def test_inputs_with_delays_that_sum_on_paper_meet(t0, d0, t1, d1):
    # Input at 0.12 s over 32.6 ms and input at 0.11 s over 42.6 ms arrive together (their
    # float sums differ): 0.6 + 0.6 >= 1 fires only if they are summed at one instant.
    net = Network(2, [LIFLayer("h", 1, 1e-4)],
                  [Projection.sparse("input", "h", [0, 1], [0, 0], [0.6, 0.6], [d0, d1])])
    ev = Events(*zip(*sorted([(t0, 0), (t1, 1)])))
    res = simulate(net, ev, 0.5)
    assert res.spikes["h"].times_s.tolist() == [float(f"{t0 + d0:.4f}")]


def test_grid_input_plus_grid_delay_is_the_grid_time():
    net = Network(1, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[1.5]], 0.001)])
    assert simulate(net, Events([9 * 0.001], [0]), 0.05).spikes["h"].times_s.tolist() == [0.01]


@pytest.mark.parametrize("hours", [1, 3, 10])
def test_on_grid_inputs_hours_into_a_run_still_sum(hours):
    # Two inputs that sum below threshold on paper (0.6 + 0.3 at the same ms): no spike at
    # any of 300 pairs hours into a run (a float of 3 h cannot hold every ps, a tick can).
    t0 = hours * 3600.0
    rng = np.random.default_rng(hours)
    ms = np.sort(rng.choice(100_000, 300, replace=False))
    t_a = [float(f"{t0 + m * 0.001:.3f}") for m in ms]
    net = Network(2, [LIFLayer("h", 1, 1e-4)],
                  [Projection.sparse("input", "h", [0, 1], [0, 0], [0.6, 0.3], [0.002, 0.0015])])
    # channel 1 is sent 0.5 ms later with a 0.5 ms shorter delay: the same arrival on paper
    t_b = [float(f"{t + 0.0005:.4f}") for t in t_a]
    times = np.array(sorted(t_a + t_b))
    chans = np.array([0 if t in set(t_a) else 1 for t in times])
    sim = ExactSimulator(net)
    sim.run(t0, events=None)
    sim.run(t0 + 101.0, events=Events(times, chans))
    assert len(sim.result().spikes["h"]) == 0


# ---------------------------------------------------------------------- boundaries
def test_chunk_boundary_at_an_input_time_agrees_with_one_call():
    net = Network(2, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[1.2, -0.5]], 0.001)])
    one = simulate(net, Events([0.005, 0.005], [0, 1]), 0.05)
    assert len(one.spikes["h"]) == 0  # 1.2 - 0.5 summed at 6 ms
    sim = ExactSimulator(net)
    sim.run(0.005, events=Events([0.005], [0]))    # the input at 5 ms is not yet processed
    sim.run(0.05, events=Events([0.005], [1]))
    assert len(sim.result().spikes["h"]) == 0


def test_samples_at_or_just_before_an_arrival():
    # A readout fed at 2 ms + 1 ms delay: a sample at 3 ms sees the arrival, one a float
    # below 3 ms does not (bridge.evaluate samples just before each step end this way).
    net = Network(1, [], [Projection.dense("input", "ro", [[1.0]], 0.001)], readout=ReadoutLayer("ro", 1, TAU))
    sim = ExactSimulator(net)
    c = sim.run(0.004, events=Events([0.002], [0]),
                sample_times_s=[float(np.nextafter(0.003, 0.0)), 0.003])
    assert c.readout[:, 0].tolist() == [0.0, 1.0]
    sim = ExactSimulator(net)
    u = sim.until_including(0.003)
    assert u > 0.003
    c = sim.run(u, events=Events([0.002], [0]), sample_times_s=[0.003])
    assert c.readout[:, 0].tolist() == [1.0]
    assert sim.samples_before([0.004 - 1e-16, 0.004], 0.004).tolist() == [True, False]


def test_a_rejected_run_changes_nothing():
    # Issue 11: run(events=ev, sample_times_s=<unsorted>) used to take the events off the
    # queue before raising; a retry then ran without them.
    net = Network(1, [LIFLayer("h", 1, TAU)], [Projection.dense("input", "h", [[1.5]], 0.001)])
    sim = ExactSimulator(net)
    ev = Events([0.01, 0.02], [0, 0])
    with pytest.raises(ValueError, match="sample_times_s"):
        sim.run(0.05, events=ev, sample_times_s=[0.03, 0.01])
    sim.run(0.05, events=ev)
    assert sim.counts().input_events.tolist() == [2] and len(sim.result().spikes["h"]) == 2


# ---------------------------------------------------------------------- the queue
def test_delays_beyond_the_wheel_and_long_silences():
    # Delays of 1 ms, 20 s and 1 h (the wheel spans about 2**16 buckets at most; longer
    # waits go to the overflow heap), inputs an hour apart (the wheel is jumped over).
    d = [0.001, 20.0, 3600.0]
    net = Network(1, [LIFLayer("h", 3, TAU)], [Projection.sparse("input", "h", [0, 0, 0], [0, 1, 2], [1.5] * 3, d)])
    ev = Events([0.5, 7200.25], [0, 0])
    sim = ExactSimulator(net)
    c = sim.run(11000.0, events=ev)
    got = sorted(zip(c.spike_times_s.tolist(), c.spike_neurons.tolist()))
    want = sorted((t + dd, i) for t in (0.5, 7200.25) for i, dd in enumerate(d) if t + dd < 11000.0)
    assert got == [(float(f"{t:.3f}"), i) for t, i in want]
    ref, _ = reference_run(net, ev.times_s, ev.channels, ev.values, 11000.0)
    assert got == sorted(ref)


def test_drive_crossing_far_in_the_future():
    # b tau just above threshold: the first crossing is ~0.4 s away, beyond the wheel of a
    # network whose longest delay is 1 ms; it must still happen, and agree with the reference.
    tau = 0.05
    b = 1.0001 / tau
    net = Network(1, [LIFLayer("h", 1, tau, drive=b)], [Projection.dense("input", "h", [[0.1]], 0.001)])
    c = ExactSimulator(net).run(3.0, events=Events([0.01], [0]))
    ref, _ = reference_run(net, [0.01], [0], [1.0], 3.0)
    assert list(zip(c.spike_times_s.tolist(), c.spike_neurons.tolist())) == ref and len(ref) >= 5


def test_reference_agrees_on_a_long_grid_run():
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
    chunk = ExactSimulator(net).run(2.0, events=ev)
    ref, _ = reference_run(net, ev.times_s, ev.channels, ev.values, 2.0)
    assert list(zip(chunk.spike_times_s.tolist(), chunk.spike_neurons.tolist())) == ref
    assert len(ref) > 100


def test_a_runaway_zero_delay_loop_stops_before_memory_grows():
    # Issue 11: a zero-delay excitatory loop over a wide layer grew the queue and the spike
    # record to 1.5 GiB before max_cascade rounds were reached. max_cascade now also bounds
    # the spikes of one instant, so the error comes after at most that many spikes.
    n = 200
    net = Network(1, [LIFLayer("a", n, TAU), LIFLayer("b", n, TAU)],
                  [Projection.dense("input", "a", np.full((n, 1), 2.0), 0.0),
                   Projection.dense("a", "b", np.full((n, n), 2.0), 0.0),
                   Projection.dense("b", "a", np.full((n, n), 2.0), 0.0)])
    sim = ExactSimulator(net, max_cascade=100_000)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CascadeError, match="max_cascade=100000"):
        sim.run(0.01, events=Events([0.001], [0]))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert grown_mib < 200, grown_mib
    assert sim.queue_sizes()["record_buffer"] <= 4 * 100_000


@pytest.mark.parametrize("lateral", [False, True])
def test_wide_layers_with_many_simultaneous_arrivals_match_the_reference(lateral):
    # 80-neuron layers on a 1 ms grid: rounds touch dozens of neurons at once (the engine
    # then collects them from the layer's range instead of sorting) and buckets hold
    # hundreds of arrivals on one tick (sorted by radix passes); lateral groups cascade.
    from sim import Lateral
    rng = np.random.default_rng(11)
    n_in, n = 20, 80
    w0 = rng.uniform(0.0, 0.25, (n, n_in))
    w1 = rng.uniform(-0.1, 0.3, (n, n))
    lats = []
    if lateral:
        W = rng.normal(0, 0.3, (n, 4))
        lats = [Lateral.dense("a", W @ W.T), Lateral.dense("b", W @ W.T)]
    net = Network(n_in, [LIFLayer("a", n, TAU, reset="subtract"), LIFLayer("b", n, TAU)],
                  [Projection.dense("input", "a", w0, rng.integers(1, 4, w0.shape) * 0.001),
                   Projection.dense("a", "b", w1, rng.integers(1, 4, w1.shape) * 0.001)], lats)
    steps = rng.integers(0, 100, 500)
    chans = rng.integers(0, n_in, 500)
    pairs = sorted(set(zip(steps.tolist(), chans.tolist())))
    ev = Events(np.array([p[0] for p in pairs]) * 0.001, np.array([p[1] for p in pairs]))
    chunk = ExactSimulator(net).run(0.1, events=ev)
    ref, _ = reference_run(net, ev.times_s, ev.channels, ev.values, 0.1)
    assert list(zip(chunk.spike_times_s.tolist(), chunk.spike_neurons.tolist())) == ref
    assert len(ref) > 100


@pytest.mark.parametrize("seq_bits", [0, 10])
@pytest.mark.parametrize("cluster_width", [600, 5000, 1 << 20])
def test_same_instant_segment_leaves_only_short_local_disorder(cluster_width, seq_bits):
    """The bucket sort's second pass over a big same-instant segment (keys clustered below
    its split bits included) leaves every entry within 24 places of its sorted place, with
    its value beside it, so the insertion pass that follows is never quadratic. The key's
    low ``seq_bits`` (a wheel entry's target) take no part: entries equal above them keep
    their order."""
    from sim.engines import _exact_kernels as K
    from sim.engines.exact import _pairs

    rng = np.random.default_rng(cluster_width)
    cluster = rng.choice(cluster_width, size=600, replace=False) + (1 << 30)
    far = np.array([1, 2, 3, (1 << 40) + 5], np.int64)
    top = rng.permutation(np.concatenate([cluster, far, cluster[:50]]).astype(np.int64))
    n = top.size
    low = rng.integers(0, 1 << seq_bits, n) if seq_bits else np.zeros(n, np.int64)
    keys = (top << seq_bits) | low
    pairs = _pairs(n)   # entry i: key ck[2i], value cv[2i + 1]
    pairs["ck"][0::2] = keys
    pairs["cv"][1::2] = np.arange(n)   # value: the filing position
    hist = np.zeros(2 * (1 << K.SPLIT_BITS) + 4 + (1 << K.RADIX_BITS), np.int64)
    K._split_segment(pairs["ck"], pairs["cv"], pairs["tk"], pairs["tv"], hist, 0, 0, n, seq_bits)
    ck, cv = pairs["ck"][0::2], pairs["cv"][1::2]
    assert np.array_equal(keys[cv.astype(np.int64)], ck)   # each value still beside its key
    place = np.empty(n, np.int64)
    place[np.argsort(ck >> seq_bits, kind="stable")] = np.arange(n)
    assert np.max(np.abs(place - np.arange(n))) <= 24
    # stable above seq_bits: among equal tops, filing positions ascend
    for t in cluster[:50]:
        pos = cv[(ck >> seq_bits) == t]
        assert pos.size == 2
        assert np.all(np.diff(pos) > 0)
