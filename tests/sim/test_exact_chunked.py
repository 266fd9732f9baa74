"""Running [0, T] in any number of chunks gives exactly the result of one call."""
import numpy as np
from hypothesis import given, settings, strategies as st

from sim.engines.exact import CascadeError, ExactSimulator
from tests.reference.random_networks import random_events, random_network

T = 0.1


def _run_chunked(net, ev, cuts, samples):
    sim = ExactSimulator(net, max_cascade=200)
    times, neurons, readout = [], [], []
    bounds = [0.0] + cuts + [T]
    k = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        part = ev.window(a, b)
        s = samples[(samples >= a) & (samples < b)]
        c = sim.run(b, events=part if len(part) else None, sample_times_s=s)
        assert c.start_s == a and c.stop_s == b
        times.append(c.spike_times_s), neurons.append(c.spike_neurons), readout.append(c.readout)
        k += 1
    return np.concatenate(times), np.concatenate(neurons), np.concatenate(readout), sim


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 100_000),
       cuts=st.lists(st.floats(0.0, T, allow_nan=False, exclude_max=True), max_size=6),
       grid_cuts=st.lists(st.integers(0, 49), max_size=4))
def test_chunked_equals_unchunked(seed, cuts, grid_cuts):
    rng = np.random.default_rng(seed)
    net = random_network(rng)
    ev = random_events(rng, net.n_inputs, T)
    samples = np.sort(rng.uniform(0, T, size=4))
    # Cuts exactly on event times and on the 2 ms grid (where ties live) are the hard ones.
    all_cuts = sorted(set(cuts) | {g * 0.002 for g in grid_cuts} | set(ev.times_s[:2].tolist()))
    all_cuts = [c for c in all_cuts if 0.0 < c < T]
    try:
        whole = ExactSimulator(net, max_cascade=200)
        one = whole.run(T, events=ev, sample_times_s=samples)
    except CascadeError:
        return
    t, n, r, sim = _run_chunked(net, ev, all_cuts, samples)
    np.testing.assert_array_equal(t, one.spike_times_s)
    np.testing.assert_array_equal(n, one.spike_neurons)
    np.testing.assert_array_equal(r, one.readout)
    a, b = whole.counts(), sim.counts()
    np.testing.assert_array_equal(a.input_events, b.input_events)
    for name in ("spikes", "synaptic_events", "lateral_updates", "state_updates"):
        for layer in getattr(a, name):
            np.testing.assert_array_equal(getattr(a, name)[layer], getattr(b, name)[layer])


def test_events_may_be_queued_ahead_and_consumed_chunk_by_chunk():
    rng = np.random.default_rng(7)
    net = random_network(rng, drive=True)
    ev = random_events(rng, net.n_inputs, T)
    one = ExactSimulator(net).run(T, events=ev)
    sim = ExactSimulator(net)
    sim.add_events(ev)
    parts = [sim.run(t) for t in np.linspace(0.01, T, 10)]
    np.testing.assert_array_equal(np.concatenate([p.spike_times_s for p in parts]), one.spike_times_s)


def test_reset_gives_a_fresh_simulator():
    rng = np.random.default_rng(3)
    net = random_network(rng, drive=True, readout=True)
    ev = random_events(rng, net.n_inputs, T)
    fresh = ExactSimulator(net).run(T, events=ev, sample_times_s=[0.05])
    sim = ExactSimulator(net)
    sim.run(T, events=random_events(np.random.default_rng(99), net.n_inputs, T))
    sim.reset()
    again = sim.run(T, events=ev, sample_times_s=[0.05])
    np.testing.assert_array_equal(again.spike_times_s, fresh.spike_times_s)
    np.testing.assert_array_equal(again.readout, fresh.readout)
    assert sim.counts().input_events.sum() == len(ev)
