"""Brian2 against axon's grid engine: the same network, the same binned input, identical
spikes (docs/semantics.md, agreement table, "grid engine vs Brian2").

Brian2 integrates ``dv/dt = -v/tau + b`` with its ``exact`` method and adds synaptic inputs
to ``v`` one at a time, so its potentials differ from the grid engine's in the last bits
(about 1e-15 on these networks); the tests check that this never flips a spike. A
hand-computed single synapse pins the one-step delay offset between the two conventions.
"""
import json
import sys
import time

import numpy as np
import pytest

brian2 = pytest.importorskip("brian2")

from bridge.conventions import network_on_grid  # noqa: E402
from bridge.peers import PeerUnavailable  # noqa: E402
from bridge.peers.brian2_backend import run_brian2  # noqa: E402
from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer  # noqa: E402
from sim.engines.grid import simulate_grid  # noqa: E402

# Brian2 2.9 calls pyparsing's camelCase names, deprecated in pyparsing 3.3: hundreds of
# warnings per run that say nothing about axon.
pytestmark = [pytest.mark.peers, pytest.mark.filterwarnings("ignore:.*deprecated(,| -) use:DeprecationWarning")]

from tests.bridge.peer_networks import DT, N1, N_IN, TAU, random_events, random_network  # noqa: E402
BETA = np.exp(-DT / TAU)   # 0.951229...


def grid_run(net, events, duration_s, dt_s=DT):
    return simulate_grid(network_on_grid(net, dt_s), events, duration_s, dt_s)


def assert_same_spikes(grid_res, peer, layers, min_spikes=0):
    for name in layers:
        a, b = grid_res.spikes[name], peer.spikes[name]
        assert len(a) >= min_spikes, f"{name}: only {len(a)} spikes, the comparison would check little"
        assert np.array_equal(a.times_s, b.times_s) and np.array_equal(a.neurons, b.neurons), (
            f"{name}: grid {len(a)} spikes, Brian2 {len(b)}; first difference at "
            f"{_first_difference(a, b)}")


def _first_difference(a, b):
    n = min(len(a), len(b))
    bad = np.nonzero((a.times_s[:n] != b.times_s[:n]) | (a.neurons[:n] != b.neurons[:n]))[0]
    k = int(bad[0]) if bad.size else n
    return {"index": k, "grid": (a.times_s[k:k + 3].tolist(), a.neurons[k:k + 3].tolist()),
            "brian2": (b.times_s[k:k + 3].tolist(), b.neurons[k:k + 3].tolist())}


# ---------------------------------------------------------------------- hand-computed pins
@pytest.mark.parametrize("k", [1, 3])
def test_one_synapse_delay_pin(k):
    # One input spike at step n_in = 10 through weight 1.2 with a k-step delay: V stays 0
    # until step n_in + k, where V = 0 * beta + 1.2 >= 1, so the neuron fires at
    # (n_in + k) * dt in the grid engine; Brian2 (delay (k - 1) * dt, reordered schedule)
    # must fire at the same step.
    n_in = 10
    net = Network(1, [LIFLayer("a", 1, TAU, threshold=1.0)],
                  [Projection.sparse("input", "a", [0], [0], [1.2], [k * DT])])
    ev = Events([n_in * DT], [0])
    g = grid_run(net, ev, 0.05)
    r = run_brian2(net, ev, 0.05, DT)
    want = [(n_in + k) * DT]
    assert g.spikes["a"].times_s.tolist() == want
    assert r.spikes["a"].times_s.tolist() == want
    assert r.spikes["a"].neurons.tolist() == [0]
    assert r.info["device"] == "runtime" and r.info["target"] == "numpy"
    assert r.info["brian2_version"] == brian2.__version__


def test_zero_step_delay_has_no_brian2_twin():
    net = Network(1, [LIFLayer("a", 1, TAU)], [Projection.sparse("input", "a", [0], [0], [1.2], [0.0])])
    ev = Events([0.01], [0])
    assert grid_run(net, ev, 0.05).spikes["a"].times_s.tolist() == [0.01]   # the grid engine has it
    with pytest.raises(ValueError, match="Brian2"):
        run_brian2(net, ev, 0.05, DT)
    # A delay that rounds to zero steps on this grid is the same case.
    net2 = Network(1, [LIFLayer("a", 1, TAU)], [Projection.sparse("input", "a", [0], [0], [1.2], [0.0004])])
    with pytest.raises(ValueError, match="projection input->a.*Brian2"):
        run_brian2(net2, ev, 0.05, DT)


def _lateral_pin_network(w_late):
    # ch0 -> n0 (1.2), ch1 -> n1 (0.9), ch2 -> n1 (w_late), all with a 1-step delay;
    # omega = [[0.2, 0.5], [0.5, 0.2]] (omega[j, i] is subtracted from j when i fires).
    pre = [0, 1, 2]
    post = [0, 1, 1]
    net = Network(3, [LIFLayer("h", 2, TAU, threshold=1.0, reset="zero")],
                  [Projection.sparse("input", "h", pre, post, [1.2, 0.9, w_late], [DT] * 3)],
                  [Lateral.dense("h", [[0.2, 0.5], [0.5, 0.2]])])
    ev = Events([0.005, 0.005, 0.006], [0, 1, 2])     # steps 5, 5, 6 -> reach V[6], V[6], V[7]
    return net, ev


def test_lateral_step_pin():
    # w_late = 0.3. Step 6: V0 = 1.2 fires, V1 = 0.9 does not; reset V0 = 0, then the
    # lateral effect of this step: V0 = -0.2, V1 = 0.9 - 0.5 = 0.4. Step 7: V1 = 0.4 * beta
    # + 0.3 = 0.68 < 1: no spike (without the lateral it would be 0.9 * beta + 0.3 = 1.16).
    net, ev = _lateral_pin_network(0.3)
    assert 0.4 * BETA + 0.3 < 1 < 0.9 * BETA + 0.3
    g = grid_run(net, ev, 0.03)
    r = run_brian2(net, ev, 0.03, DT, lateral="step")
    for res in (g, r):
        assert res.spikes["h"].times_s.tolist() == [0.006]
        assert res.spikes["h"].neurons.tolist() == [0]


def test_lateral_step_vs_delayed_pin():
    # w_late = 0.634. Step mode: V1[7] = (0.9 - 0.5) * beta + 0.634 = 1.0145 >= 1, n1 fires
    # at step 7. Delayed mode (the lateral lands at step 7 after the decay):
    # V1[7] = 0.9 * beta + 0.634 - 0.5 = 0.9901 < 1, no spike. (The two differ by
    # omega * (1 - beta) = 0.024.)
    net, ev = _lateral_pin_network(0.634)
    assert 0.9 * BETA + 0.634 - 0.5 < 1 <= 0.4 * BETA + 0.634
    g = grid_run(net, ev, 0.03)
    step = run_brian2(net, ev, 0.03, DT, lateral="step")
    for res in (g, step):
        assert res.spikes["h"].times_s.tolist() == [0.006, 0.007]
        assert res.spikes["h"].neurons.tolist() == [0, 1]
    delayed = run_brian2(net, ev, 0.03, DT, lateral="delayed")
    assert delayed.spikes["h"].times_s.tolist() == [0.006]
    assert delayed.info["lateral"] == "delayed"


# ---------------------------------------------------------------------- random networks


@pytest.mark.parametrize("resets", [("subtract", "zero"), ("zero", "subtract")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_networks_identical_spikes(seed, resets):
    net = random_network(seed, reset0=resets[0], reset1=resets[1], recurrent=True, lateral=True)
    ev = random_events(seed)
    g = grid_run(net, ev, 1.0)
    r = run_brian2(net, ev, 1.0, DT)
    assert_same_spikes(g, r, ["h0", "h1"], min_spikes=100)
    assert r.duration_s == 1.0 and r.dt_s == DT
    assert r.run_s > 0 and r.build_s > 0


@pytest.mark.parametrize("seed", [3, 4])
def test_random_networks_graded_inputs(seed):
    # Values other than 1 and several events of a channel in one step: Brian2 reads the
    # summed value of (emission step, channel) from a TimedArray at delivery.
    ev = random_events(seed, graded=True)
    steps = np.floor(ev.times_s / DT + 1e-9).astype(np.int64)
    assert np.unique(steps * N_IN + ev.channels).size < len(ev), "the case should have same-step events of a channel"
    net = random_network(seed, reset0="subtract", recurrent=True, lateral=True)
    g = grid_run(net, ev, 1.0)
    r = run_brian2(net, ev, 1.0, DT)
    assert r.info["graded_inputs"] is True
    assert_same_spikes(g, r, ["h0", "h1"], min_spikes=100)


def test_delayed_lateral_is_a_one_step_recurrent_projection():
    # lateral="delayed" subtracts omega one step after the spike, after the decay: the grid
    # engine computes the same with the lateral replaced by a 1-step projection h -> h of
    # weight -omega[j, i] from member i to member j.
    net = random_network(5, reset0="subtract", recurrent=False, lateral=True)
    projections = list(net.projections)
    for lat in net.laterals:
        g = lat.members.shape[1]
        pre = np.repeat(lat.members, g, axis=1).reshape(-1)
        post = np.tile(lat.members, (1, g)).reshape(-1)
        w = -np.transpose(lat.omega, (0, 2, 1)).reshape(-1)
        projections.append(Projection.sparse(lat.layer, lat.layer, pre, post, w, np.full(pre.size, DT)))
    as_projection = Network(net.n_inputs, net.layers, projections)
    ev = random_events(5)
    g = grid_run(as_projection, ev, 1.0)
    r = run_brian2(net, ev, 1.0, DT, lateral="delayed")
    assert_same_spikes(g, r, ["h0", "h1"], min_spikes=100)
    step = run_brian2(net, ev, 1.0, DT, lateral="step")
    assert not all(np.array_equal(step.spikes[n].times_s, r.spikes[n].times_s) for n in ("h0", "h1"))


# ---------------------------------------------------------------------- state, info, errors
def test_no_state_leaks_between_calls_and_readout_skipped():
    base = random_network(6, reset1="subtract", recurrent=True, lateral=True)
    net = Network(base.n_inputs, base.layers,
                  list(base.projections) + [Projection.dense("h1", "out", np.ones((2, N1)), DT)], base.laterals,
                  ReadoutLayer("out", 2, TAU))
    ev = random_events(6, duration_s=0.3)
    target_before = brian2.prefs["codegen.target"]
    a = run_brian2(net, ev, 0.3, DT)
    b = run_brian2(net, ev, 0.3, DT)
    assert brian2.prefs["codegen.target"] == target_before
    assert set(a.spikes) == {"h0", "h1"}
    assert a.info["readout"] == "not simulated (spikes only)"
    for name in ("h0", "h1"):
        assert len(a.spikes[name]) > 10
        assert np.array_equal(a.spikes[name].times_s, b.spikes[name].times_s)
        assert np.array_equal(a.spikes[name].neurons, b.spikes[name].neurons)
    assert a.synaptic_events == b.synaptic_events > 0
    summary = a.summary()
    json.dumps(summary)
    assert summary["engine"] == "brian2 (runtime, numpy)"


def test_bad_options_raise():
    net, ev = _lateral_pin_network(0.3)
    for kw in ({"device": "gpu"}, {"target": "weave"}, {"lateral": "spike"}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            run_brian2(net, ev, 0.03, DT, **kw)
    with pytest.raises(ValueError, match="out of range"):
        run_brian2(net, Events([0.001], [5]), 0.03, DT)
    with pytest.raises(ValueError, match="duration_s"):
        run_brian2(net, ev, 0.0302, DT)      # the grid engine would run 31 steps, round-half-up 30


def test_peer_unavailable_when_brian2_does_not_import(monkeypatch):
    net, ev = _lateral_pin_network(0.3)
    monkeypatch.setitem(sys.modules, "brian2", None)     # `import brian2` now raises ImportError
    with pytest.raises(PeerUnavailable, match="Brian2"):
        run_brian2(net, ev, 0.03, DT)
    with pytest.raises(PeerUnavailable, match="Brian2"):
        run_brian2(net, ev, 0.03, DT, device="cpp_standalone")


# ---------------------------------------------------------------------- slow
@pytest.mark.slow
def test_random_network_cython_target():
    net = random_network(7, reset0="subtract", recurrent=True, lateral=True)
    ev = random_events(7, graded=True)
    r = run_brian2(net, ev, 1.0, DT, target="cython")
    assert r.info["target"] == "cython"
    assert_same_spikes(grid_run(net, ev, 1.0), r, ["h0", "h1"], min_spikes=100)


@pytest.mark.slow
def test_cpp_standalone_random_network_graded(tmp_path):
    net = random_network(8, reset1="subtract", recurrent=True, lateral=True)
    ev = random_events(8, graded=True)
    r = run_brian2(net, ev, 1.0, DT, device="cpp_standalone", workdir=tmp_path)
    assert r.info["device"] == "cpp_standalone" and r.info["target"] == "cpp"
    assert r.info["compile_s"] > 0 and r.build_s >= r.info["compile_s"]
    assert (tmp_path / "brian2_cpp").is_dir()
    assert_same_spikes(grid_run(net, ev, 1.0), r, ["h0", "h1"], min_spikes=100)


@pytest.fixture(scope="module")
def reference():
    from sim.model.examples import build_reference_network

    return build_reference_network(seed=0, dt_s=DT, min_delay_steps=1)


@pytest.mark.slow
def test_reference_network_runtime_10s(reference):
    from sim.model.examples import poisson_events

    ev = poisson_events(dt_s=DT, duration_s=10.0)
    t0 = time.perf_counter()
    g = grid_run(reference, ev, 10.0)
    t_grid = time.perf_counter() - t0
    r = run_brian2(reference, ev, 10.0, DT)
    print(f"reference 10 s: grid {t_grid:.2f} s wall; Brian2 runtime numpy build {r.build_s:.2f} s, "
          f"run {r.run_s:.2f} s")
    assert_same_spikes(g, r, ["hidden0", "hidden1"], min_spikes=10_000)
    assert r.info["readout"] == "not simulated (spikes only)"


@pytest.mark.slow
def test_reference_network_cpp_standalone_2s(reference):
    from sim.model.examples import poisson_events

    ev = poisson_events(dt_s=DT, duration_s=2.0)
    g = grid_run(reference, ev, 2.0)
    r = run_brian2(reference, ev, 2.0, DT, device="cpp_standalone")
    print(f"reference 2 s: Brian2 cpp_standalone build {r.build_s:.2f} s (compile {r.info['compile_s']:.2f} s), "
          f"run {r.run_s:.3f} s")
    assert_same_spikes(g, r, ["hidden0", "hidden1"], min_spikes=2_000)
