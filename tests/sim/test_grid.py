"""The grid engine: hand cases of the discrete-time model, chunked == one call, exact
engine == grid engine on grid-aligned input, and clear errors for what it cannot run."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.engines.exact import ExactSimulator
from sim.engines.grid import GridSimulator, bin_step
from tests.reference.random_networks import random_events, random_network

DT = 0.001


def _one_synapse(delay_steps, w=1.5, reset="zero", dt=DT):
    return Network(1, [LIFLayer("a", 1, 0.01, reset=reset)],
                   [Projection.dense("input", "a", [[w]], delay_steps * dt, delay_steps=[[delay_steps]], dt_s=dt)])


# ---------------------------------------------------------------------- hand cases
@pytest.mark.parametrize("k", [0, 1, 3, 17])
@pytest.mark.parametrize("n", [0, 5])
def test_delay_of_k_steps_lands_on_step_n_plus_k(n, k):
    # A weight 1.5 > threshold 1 from an input binned into step n reaches V[n + k]: one spike there.
    g = GridSimulator(_one_synapse(k), DT)
    g.run(0.05, events=Events([n * DT], [0]))
    (steps, neurons), = g.spike_steps().values()
    assert steps.tolist() == [n + k] and neurons.tolist() == [0]


def test_binning_rule_and_values_summed_per_step_and_channel():
    # 0.003 / 0.001 = 2.9999999999999996 must bin to step 3 (training.binning's rule);
    # 0.0039 also lies in step 3. Two events of value 0.6 in one step sum to 1.2 >= 1.
    assert bin_step([0.003, 0.0039, 0.0029999], DT).tolist() == [3, 3, 2]
    g = GridSimulator(_one_synapse(0, w=1.0), DT)
    g.run(0.01, events=Events([0.003, 0.0035, 0.006], [0, 0, 0], [0.6, 0.6, 0.6]))
    (steps, _), = g.spike_steps().values()
    assert steps.tolist() == [3]


def test_decay_and_drive_follow_the_discrete_equation():
    # Readout: V[n] = beta V[n-1] + (1 - beta) b tau + I[n]. One event of weight 0.7 at step 2:
    # V[n] = b tau (1 - beta^(n+1)) + 0.7 beta^(n-2) for n >= 2.
    tau, b = 0.02, 3.0
    net = Network(1, [], [Projection.dense("input", "ro", [[0.7]], 0.0)], readout=ReadoutLayer("ro", 1, tau, drive=b))
    g = GridSimulator(net, DT)
    c = g.run(0.01, events=Events([0.002], [0]))
    beta = math.exp(-DT / tau)
    n = np.arange(10)
    want = b * tau * (1 - beta ** (n + 1)) + np.where(n >= 2, 0.7 * beta ** (n - 2.0), 0.0)
    np.testing.assert_allclose(c.readout[:, 0], want, rtol=1e-12)
    np.testing.assert_allclose(c.readout_times_s, n * DT, rtol=0, atol=1e-18)
    # The first step's drive term is exactly (1 - beta) * b * tau, evaluated left to right.
    assert c.readout[0, 0] == (1.0 - np.exp(-DT / tau)) * b * tau


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_resets(reset):
    # Input 1.25 at step 0: V[0] = 1.25 fires; zero -> 0, subtract -> 0.25; then V[1] = beta * that.
    net = Network(1, [LIFLayer("a", 1, 0.01, reset=reset)], [Projection.dense("input", "a", [[1.25]], 0.0)],
                  [], None)
    g = GridSimulator(net, DT)
    g.run_steps(2, events=Events([0.0], [0]))
    left = 0.0 if reset == "zero" else 0.25
    assert g.V[0] == pytest.approx(left * math.exp(-DT / 0.01), rel=1e-14, abs=0)


def test_lateral_acts_at_step_granularity():
    # Three neurons in one group; input gives V = (1.3, 1.1, 0.5) at step 0. Step granularity:
    # neurons 0 and 1 both fire (the spike-granular exact engine would fire 0 first, whose
    # lateral effect 0.4 would then keep neuron 1 below threshold). After the step, with
    # subtract reset: V_j = V_j - thr s_j - sum_i Omega[j, i] s_i.
    om = np.array([[1.0, 0.4, 0.2], [0.4, 1.0, 0.3], [0.2, 0.3, 1.0]])
    net = Network(3, [LIFLayer("a", 3, 0.01, reset="subtract")],
                  [Projection.dense("input", "a", np.diag([1.3, 1.1, 0.5]), 0.0)], [Lateral.dense("a", om)])
    g = GridSimulator(net, DT)
    c = g.run_steps(1, events=Events([0.0, 0.0, 0.0], [0, 1, 2]))
    assert sorted(c.spike_neurons.tolist()) == [0, 1]
    s = np.array([1.0, 1.0, 0.0])
    want = np.array([1.3, 1.1, 0.5]) - s - om @ s
    np.testing.assert_allclose(g.V, want, rtol=1e-15)
    assert g.counts().lateral_updates["a"].tolist() == [2, 2, 2]
    ex = ExactSimulator(net)
    ex.run(DT, events=Events([0.0, 0.0, 0.0], [0, 1, 2]))
    assert ex.result().spikes["a"].neurons.tolist() == [0]


def test_counts():
    # 2 inputs -> 3 neurons dense (6 synapses) -> readout 1. Two input events, 10 steps.
    net = Network(2, [LIFLayer("a", 3, 0.01)], [Projection.dense("input", "a", np.full((3, 2), 0.1), 0.0),
                                                Projection.dense("a", "ro", np.ones((1, 3)), 0.0)],
                  readout=ReadoutLayer("ro", 1, 0.01))
    g = GridSimulator(net, DT)
    g.run(0.01, events=Events([0.001, 0.004], [0, 1]))
    tot = g.counts().totals()
    assert tot["input_events"] == 2 and tot["synaptic_events"] == 6 and tot["spikes"] == 0
    assert tot["state_updates"] == 4 * 10


# ---------------------------------------------------------------------- chunking
def _snap(net: Network, dt: float, readout_drive: bool = True, reset: str | None = None) -> Network:
    """The same network with every delay moved onto the grid (recurrent ones >= 1 step)."""
    projs = []
    for p in net.projections:
        k = np.floor(p.delay_s / dt + 0.5).astype(np.int64)
        if p.pre == p.post:
            k = np.maximum(k, 1)
        projs.append(Projection.sparse(p.pre, p.post, p.pre_idx, p.post_idx, p.weight, k * dt,
                                       duplicates="sum", delay_steps=k, dt_s=dt))
    ro = net.readout
    if ro is not None and not readout_drive:
        ro = ReadoutLayer(ro.name, ro.size, ro.tau_mem_s)
    layers = net.layers
    if reset is not None:
        layers = [LIFLayer(l.name, l.size, l.tau_mem_s, l.threshold, reset, l.drive) for l in layers]
    return Network(net.n_inputs, layers, projs, net.laterals, ro)


def _on_grid(ev: Events, dt: float, n_steps: int) -> Events:
    from sim.model.events import merge_duplicates
    k = np.floor(ev.times_s / dt + 0.5).astype(np.int64)
    keep = k < n_steps
    return merge_duplicates(k[keep] * dt, ev.channels[keep], ev.values[keep])


N_STEPS = 100


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), cuts=st.lists(st.integers(0, N_STEPS), max_size=5),
       cut_s=st.lists(st.floats(0.0, N_STEPS * DT, allow_nan=False), max_size=3))
def test_chunked_equals_unchunked(seed, cuts, cut_s):
    rng = np.random.default_rng(seed)
    net = _snap(random_network(rng), DT)
    ev = _on_grid(random_events(rng, net.n_inputs, N_STEPS * DT), DT, N_STEPS)
    whole = GridSimulator(net, DT)
    one = whole.run(N_STEPS * DT, events=ev)
    part = GridSimulator(net, DT)
    part.add_events(ev)
    bounds = sorted({c * DT for c in cuts} | set(cut_s)) + [N_STEPS * DT]
    chunks = [part.run(b) for b in bounds if part.steps_until(b) >= part.n_done]
    t = np.concatenate([c.spike_times_s for c in chunks])
    i = np.concatenate([c.spike_neurons for c in chunks])
    assert np.array_equal(t, one.spike_times_s) and np.array_equal(i, one.spike_neurons)
    if net.readout is not None:
        assert np.array_equal(np.concatenate([c.readout for c in chunks]), one.readout)
    assert np.array_equal(part.V, whole.V)
    a, b = part.counts().totals(), whole.counts().totals()
    assert a == b
    # reset() gives a fresh run with the same result.
    whole.reset()
    again = whole.run(N_STEPS * DT, events=ev)
    assert np.array_equal(again.spike_neurons, one.spike_neurons)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_counts_per_neuron_follow_from_the_spikes_and_the_network(seed):
    # What the counters mean, computed here from the network's own projections and
    # lateral groups and the run's spikes: a neuron receives one synaptic event per
    # synapse each time its source transmits (an input event of a step, or a spike), one
    # lateral update per spike of a member of its group, one state update per step.
    rng = np.random.default_rng(seed)
    net = _snap(random_network(rng), DT)
    ev = _on_grid(random_events(rng, net.n_inputs, N_STEPS * DT), DT, N_STEPS)
    g = GridSimulator(net, DT)
    g.run(N_STEPS * DT / 3, events=ev)
    g.run(N_STEPS * DT)
    res, c = g.result(), g.counts()
    sent = {"input": np.zeros(net.n_inputs, np.int64)}
    np.add.at(sent["input"], np.unique(np.stack([bin_step(ev.times_s, DT), ev.channels]), axis=1)[1], 1)
    for l in net.layers:
        sent[l.name] = np.bincount(res.spikes[l.name].neurons, minlength=l.size)
        assert np.array_equal(c.spikes[l.name], sent[l.name])
    syn = {l.name: np.zeros(l.size, np.int64) for l in net.all_layers}
    for p in net.projections:
        np.add.at(syn[p.post], p.post_idx, sent[p.pre][p.pre_idx])
    lat = {l.name: np.zeros(l.size, np.int64) for l in net.all_layers}
    for lg in net.laterals:
        for members in lg.members:
            lat[lg.layer][members] += sent[lg.layer][members].sum()
    assert np.array_equal(c.input_events, sent["input"])
    for l in net.all_layers:
        assert np.array_equal(c.synaptic_events[l.name], syn[l.name]), l.name
        assert np.array_equal(c.lateral_updates[l.name], lat[l.name]), l.name
        assert np.array_equal(c.state_updates[l.name], np.full(l.size, N_STEPS)), l.name


# ---------------------------------------------------------------------- exact == grid
def _compare_exact_grid(seed: int, dt: float, reset: str | None = None):
    """Compare both engines on one random network; returns (n_spikes, cause) where cause is
    None (identical), "above" or "tie" (see below) for the first differing step."""
    rng = np.random.default_rng(seed)
    # No drive anywhere (the readout's too): the step model applies a drive over the step
    # that ends at t_n, so with drive V[n] is the exact potential at t_{n+1}, not at t_n.
    net = _snap(random_network(rng, lateral=False, drive=False), dt, readout_drive=False, reset=reset)
    ev = _on_grid(random_events(rng, net.n_inputs, N_STEPS * dt), dt, N_STEPS)
    g = GridSimulator(net, dt)
    g.add_events(ev)
    V_after, chunks = [], []
    for _ in range(N_STEPS):
        chunks.append(g.run_steps(1))
        V_after.append(g.V.copy())
    gt = np.concatenate([c.spike_times_s for c in chunks])
    gi = np.concatenate([c.spike_neurons for c in chunks])
    ex = ExactSimulator(net)
    # Sample the exact readout at the grid times (a sample at t includes the arrivals at t).
    xc = ex.run(N_STEPS * dt - dt / 2, events=ev, sample_times_s=np.arange(N_STEPS) * dt)
    gs = set(zip(np.floor(gt / dt + 0.5).astype(int).tolist(), gi.tolist()))
    xs = set(zip(np.floor(xc.spike_times_s / dt + 0.5).astype(int).tolist(), xc.spike_neurons.tolist()))
    diff = gs ^ xs
    if not diff:
        # Readout sampled at t_n (the exact engine's time base is dt, recorded on the
        # projections: an arrival n*dt + k*dt is the key (n + k, 0), the sample n*dt too).
        if net.readout is not None:
            np.testing.assert_allclose(np.concatenate([c.readout for c in chunks]), xc.readout, rtol=1e-9,
                                       atol=1e-12)
        return len(gs), None
    first = min(s for s, _ in diff)
    thr = np.concatenate([np.full(l.size, l.threshold) for l in net.layers] + ([np.full(net.readout.size, np.inf)]
                                                                                if net.readout else []))
    # "above": some neuron ended step first-1 or first at or above threshold after a subtract
    # reset (V was >= 2 thr). The step model fires it again at the next step; the exact engine
    # fires it again at the same instant (SEMANTICS: a neuron fires while V >= thr), which
    # also changes what a zero-delay downstream layer receives at that step.
    x_steps = np.floor(xc.spike_times_s / dt + 0.5).astype(int)
    pairs = list(zip(x_steps.tolist(), xc.spike_neurons.tolist()))
    burst = len(set(p for p in pairs if p[0] <= first)) < sum(1 for p in pairs if p[0] <= first)
    if burst or (first > 0 and np.any(V_after[first - 1] >= thr)) or np.any(V_after[first] >= thr):
        return len(gs), "above"
    # "tie": some potential within 1e-9 of threshold at the differing step.
    return len(gs), "tie" if np.any(np.abs(V_after[first] - thr) < 1e-9) else "unexplained"


@pytest.mark.parametrize("reset", ["zero", None])
@pytest.mark.parametrize("dt", [2.0 ** -10, DT])
def test_exact_equals_grid_on_grid_aligned_input(dt, reset):
    # The exact engine keeps times as (n, r) on the time base dt (recorded on the projections):
    # with on-grid delays every arrival is a whole number of steps, r = 0, for dt = 1 ms as
    # for dt = 2^-10 s, although in float64 n*dt + k*dt may differ from (n+k)*dt by one ulp
    # for 1 ms. So arrivals the grid sums in one step are one instant for the exact engine
    # too, and every difference must be explained.
    causes = {}
    total = 0
    for seed in range(60):
        n, cause = _compare_exact_grid(seed, dt, reset)
        total += n
        causes[cause] = causes.get(cause, 0) + 1
    print(f"dt={dt} reset={reset or 'random'}: {total} grid spikes on 60 networks; "
          f"first-difference causes {causes}")
    assert total > 300  # the comparison is not vacuous
    # Before the (n, r) time representation, dt = 1 ms gave ~15 of 60 "unexplained"
    # networks here: arrivals computed as float sums t_n + k*dt landing 1e-19 s from
    # t_{n+k}, so inputs the step model sums in one step were two instants.
    assert causes.get("unexplained", 0) == 0, causes
    if reset == "zero":   # V after a spike is 0: the "above" case cannot occur
        assert causes.get("above", 0) == 0 and causes.get("tie", 0) <= 2, causes
    else:
        assert causes.get(None, 0) >= 25, causes


def test_subtract_reset_above_twice_threshold_differs_by_design():
    # Input 2.5 at step 0 onto a subtract-reset neuron (tau 10 ms, dt 1 ms): grid V[0] = 2.5
    # fires, leaves 1.5; V[1] = 1.5 beta = 1.357 >= 1 fires again, leaves 0.357. The exact
    # engine fires while V >= thr: twice at t = 0 (2.5 -> 1.5 -> 0.5).
    net = Network(1, [LIFLayer("a", 1, 0.01, reset="subtract")], [Projection.dense("input", "a", [[2.5]], 0.0)])
    g = GridSimulator(net, DT)
    g.run_steps(5, events=Events([0.0], [0]))
    assert g.spike_steps()["a"][0].tolist() == [0, 1]
    ex = ExactSimulator(net)
    ex.run(0.005, events=Events([0.0], [0]))
    assert ex.result().spikes["a"].times_s.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------- errors
def test_delays_in_seconds_only_are_refused_with_a_pointer_to_conventions():
    net = Network(1, [LIFLayer("a", 1, 0.01)], [Projection.dense("input", "a", [[1.0]], 0.0025)])
    with pytest.raises(ValueError, match="network_on_grid"):
        GridSimulator(net, DT)
    with pytest.raises(ValueError, match="recorded for dt_s=0.001"):
        GridSimulator(_one_synapse(2), 0.002)


def test_zero_step_recurrent_synapse_is_refused():
    net = Network(0, [LIFLayer("a", 2, 0.01)],
                  [Projection.sparse("a", "a", [0], [1], [1.0], [0.0])])
    with pytest.raises(ValueError, match="delay of 0 steps onto the same or an earlier layer"):
        GridSimulator(net, DT)


def test_bad_inputs():
    g = GridSimulator(_one_synapse(1), DT)
    for bad in (0.0, -1e-3, float("nan"), "x"):
        with pytest.raises(ValueError, match="dt_s"):
            GridSimulator(_one_synapse(1), bad)
    with pytest.raises(ValueError, match="out of range"):
        g.run(0.01, events=Events([0.001], [3]))
    g.run(0.005)
    with pytest.raises(ValueError, match="already simulated"):
        g.run(0.01, events=Events([0.002], [0]))
    with pytest.raises(ValueError, match="before t_now"):
        g.run(0.001)
    with pytest.raises(ValueError, match="n_steps"):
        g.run_steps(-1)
    with pytest.raises(ValueError, match="sim.Network"):
        GridSimulator("net", DT)
