"""The compiled exact engine against the slow reference event loop on random networks."""
import numpy as np
import pytest

from sim.engines.exact import CascadeError, ExactSimulator
from tests.reference.event_loop import reference_run
from tests.reference.random_networks import random_events, random_network

DURATION = 0.1
MAX_CASCADE = 200


def _compare(seed: int):
    rng = np.random.default_rng(seed)
    net = random_network(rng)
    ev = random_events(rng, net.n_inputs, DURATION)
    sample_t = np.sort(rng.uniform(0, DURATION, size=5))
    try:
        ref_spikes, ref_samples = reference_run(net, ev.times_s, ev.channels, ev.values, DURATION, sample_t,
                                                max_cascade=MAX_CASCADE)
    except RuntimeError:
        with pytest.raises(CascadeError):
            ExactSimulator(net, max_cascade=MAX_CASCADE).run(
                DURATION, events=ev, sample_times_s=sample_t)
        return "cascade-error"
    sim = ExactSimulator(net, max_cascade=MAX_CASCADE)
    chunk = sim.run(DURATION, events=ev, sample_times_s=sample_t)
    got = list(zip(chunk.spike_times_s.tolist(), chunk.spike_neurons.tolist()))
    assert got == ref_spikes, f"seed {seed}: spikes differ"
    if net.readout is not None:
        np.testing.assert_array_equal(chunk.readout, np.array(ref_samples).reshape(chunk.readout.shape))
    return len(got)


def test_engine_equals_reference_on_250_random_networks():
    outcomes = [_compare(seed) for seed in range(250)]
    spiking = [o for o in outcomes if isinstance(o, int) and o > 0]
    # The generator must actually exercise the engines: most cases produce spikes.
    assert len(spiking) > 150, f"only {len(spiking)} of 250 random cases produced spikes"
    assert sum(spiking) > 2000


def test_random_cases_cover_ties_cascades_and_drive():
    """The differential test above is only as good as its cases: check they contain the
    situations docs/semantics.md singles out."""
    ties = cascades = drive_spikes = 0
    for seed in range(250):
        rng = np.random.default_rng(seed)
        net = random_network(rng)
        ev = random_events(rng, net.n_inputs, DURATION)
        sim = ExactSimulator(net, max_cascade=MAX_CASCADE)
        try:
            chunk = sim.run(DURATION, events=ev)
        except CascadeError:
            continue
        t = chunk.spike_times_s
        if t.size > 1 and np.any(np.diff(t) == 0):
            ties += 1
        c = sim.counts()
        if sum(v.sum() for v in c.lateral_updates.values()) > 0:
            cascades += 1
        if any(np.any(l.drive * l.tau_mem_s > l.threshold) for l in net.layers) and t.size:
            drive_spikes += 1
    assert ties > 30 and cascades > 30 and drive_spikes > 30, (ties, cascades, drive_spikes)


def _on_grid(net, step):
    """The same network with every delay rounded up to a whole number of ``step`` (>= 1)."""
    from sim import Network, Projection

    projs = [Projection.sparse(p.pre, p.post, p.pre_idx, p.post_idx, p.weight,
                               np.maximum(np.ceil(np.round(p.delay_s / step, 9)), 1) * step, duplicates="sum")
             for p in net.projections]
    return Network(net.n_inputs, net.layers, projs, net.laterals, net.readout)


def test_grid_aligned_runs_sort_by_tick_and_kind_with_the_same_spikes(monkeypatch):
    """Delays and inputs on a 2 ms grid, no drive: the bucket sort's digits carry the kind
    (``scal[S_GRID]``), which changes nothing but speed: the spikes equal the reference
    loop's and those of the same run with the ordinary digits."""
    from sim import Events
    from sim.engines import _exact_kernels as K

    n_grid = n_spikes = 0
    for seed in range(40):
        rng = np.random.default_rng(5000 + seed)
        net = _on_grid(random_network(rng, drive=False), 0.002)
        ev = random_events(rng, net.n_inputs, DURATION)
        t0 = np.round(ev.times_s / 0.002) * 0.002
        order = np.lexsort((ev.channels, t0))
        t, ch, v = t0[order], ev.channels[order], ev.values[order]
        keep = np.ones(t.size, bool)
        keep[1:] = (np.diff(t) != 0) | (np.diff(ch) != 0)
        ev = Events(t[keep], ch[keep], v[keep])
        try:
            ref, _ = reference_run(net, ev.times_s, ev.channels, ev.values, DURATION, max_cascade=MAX_CASCADE)
        except RuntimeError:
            continue
        sim = ExactSimulator(net, max_cascade=MAX_CASCADE)
        got = sim.run(DURATION, events=ev)
        n_grid += int(sim.queue.scal[K.S_GRID])
        spikes = list(zip(got.spike_times_s.tolist(), got.spike_neurons.tolist()))
        assert spikes == ref, f"seed {seed}"
        with monkeypatch.context() as m:
            m.setattr(K, "GRID_MIN_TICKS", 1 << 62)   # the ordinary digits
            plain = ExactSimulator(net, max_cascade=MAX_CASCADE)
            other = plain.run(DURATION, events=ev)
            assert plain.queue.scal[K.S_GRID] == 0
        assert list(zip(other.spike_times_s.tolist(), other.spike_neurons.tolist())) == spikes
        n_spikes += len(spikes)
    assert n_grid >= 30 and n_spikes > 300, (n_grid, n_spikes)


def test_grid_digits_stay_off_once_an_input_left_the_grid():
    """The grid-digit sort skips its ordering passes, so it may only run while every arrival
    still queued lies on the grid: one input off the grid in an earlier call switches it
    off for good. Chunked runs then equal one run and the reference loop."""
    from sim import Events
    from sim.engines import _exact_kernels as K

    checked = 0
    for seed in range(12):
        rng = np.random.default_rng(7000 + seed)
        net = _on_grid(random_network(rng, drive=False), 0.002)
        ev = random_events(rng, net.n_inputs, DURATION)
        t = np.round(ev.times_s / 0.002) * 0.002
        t[0] = 0.00130007   # the first input off any grid of 2**24 ticks or more, the rest on the 2 ms grid
        order = np.lexsort((ev.channels, t))
        t, ch, v = t[order], ev.channels[order], ev.values[order]
        keep = np.ones(t.size, bool)
        keep[1:] = (np.diff(t) != 0) | (np.diff(ch) != 0)
        t, ch, v = t[keep], ch[keep], v[keep]
        try:
            ref, _ = reference_run(net, t, ch, v, DURATION, max_cascade=MAX_CASCADE)
        except RuntimeError:
            continue
        sim = ExactSimulator(net, max_cascade=MAX_CASCADE)
        cut = 0.0015   # the off-grid input in the first call, the grid-aligned rest after it
        first = sim.run(cut, events=Events(t[t < cut], ch[t < cut], v[t < cut]))
        assert sim.queue.scal[K.S_GRID] == 0
        second = sim.run(DURATION, events=Events(t[t >= cut], ch[t >= cut], v[t >= cut]))
        assert sim.queue.scal[K.S_GRID] == 0, "an off-grid arrival may still be queued"
        got = list(zip(first.spike_times_s.tolist() + second.spike_times_s.tolist(),
                       first.spike_neurons.tolist() + second.spike_neurons.tolist()))
        assert got == ref, f"seed {seed}"
        checked += 1
    assert checked >= 8
