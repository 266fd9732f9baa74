"""NIR in and out (bridge.nir): axon -> NIR -> axon round trip, snnTorch -> NIR -> axon
agreement with snnTorch's own forward pass, and one-line errors on bad input."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from bridge import conventions as C  # noqa: E402
from bridge.cli import main  # noqa: E402
from bridge.nir import NIRError, export_nir, from_nir, import_nir, to_nir  # noqa: E402
from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer  # noqa: E402
from sim.engines.exact import ExactSimulator  # noqa: E402
from sim.engines.grid import GridSimulator  # noqa: E402
from sim.model.io import load_network, save_network  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _rich_network(dt=1e-3) -> Network:
    """Every feature the exporter writes: per-synapse delays (branches, incl. two synapses
    between one pair), axonal and dendritic delays, zero and subtract resets, drive,
    a dense and a grouped lateral matrix, a recurrent projection, a readout, metadata."""
    rng = np.random.default_rng(3)
    n_in, n0, n1, n2 = 6, 5, 4, 3
    layers = [LIFLayer("h0", n0, rng.uniform(0.01, 0.03, n0), threshold=1.0, reset="zero",
                       drive=rng.uniform(0, 5, n0)),
              LIFLayer("h1", n1, 0.02, threshold=0.8, reset="subtract")]
    readout = ReadoutLayer("out", n2, 0.05, drive=0.5)
    # input -> h0: arbitrary per-synapse delays on the grid, plus a second synapse for one pair
    w = rng.normal(0.3, 0.2, (n0, n_in))
    steps = rng.integers(0, 5, (n0, n_in))
    pre, post = np.indices((n_in, n0))[0].T.reshape(-1), np.indices((n_in, n0))[1].T.reshape(-1)
    pre = np.r_[np.tile(np.arange(n_in), n0), 2]
    post = np.r_[np.repeat(np.arange(n0), n_in), 1]
    ws = np.r_[w.reshape(-1), 0.7]
    st = np.r_[steps.reshape(-1), 7]
    p0 = Projection.sparse("input", "h0", pre, post, ws, st * dt, delay_steps=st, dt_s=dt)
    # h0 -> h1: axonal (per source) delays, continuous values, no steps recorded
    d_pre = rng.uniform(0.0, 0.01, n0)
    p1 = Projection.dense("h0", "h1", rng.normal(0.5, 0.3, (n1, n0)), np.tile(d_pre, (n1, 1)))
    # h1 -> out: dendritic (per target) delays
    d_post = rng.uniform(0.0, 0.01, n2)
    p2 = Projection.dense("h1", "out", rng.normal(0, 0.5, (n2, n1)), np.tile(d_post[:, None], (1, n1)))
    # h1 -> h1: recurrent with one delay
    p3 = Projection.dense("h1", "h1", rng.normal(0, 0.1, (n1, n1)), 2 * dt)
    om0 = rng.uniform(0, 0.2, (n0, n0))
    lat1 = Lateral("h1", np.array([[0, 2], [1, 3]]), rng.uniform(0, 0.2, (2, 2, 2)))
    from sim.model.task import Task

    return Network(n_in, layers, [p0, p1, p2, p3], [Lateral.dense("h0", om0), lat1], readout,
                   metadata={"provenance": {"note": "made by hand"}},
                   task=Task(dt, n_steps=100, decision_rule="max", class_names=("a", "b", "c")))


def test_round_trip_in_memory_and_file(tmp_path):
    net = _rich_network()
    g = to_nir(net)
    kinds = {type(n).__name__ for n in g.nodes.values()}
    assert {"LIF", "LI", "Linear", "Delay", "Input", "Output"} <= kinds
    # the lateral matrix is a Linear loop with weight -Omega
    lat = g.nodes["h0__lateral"].weight
    np.testing.assert_array_equal(lat, -net.lateral("h0").omega[0])
    assert ("h0", "h0__lateral") in g.edges and ("h0__lateral", "h0") in g.edges
    # axonal delays: Delay before the Linear; dendritic: after
    assert ("h0", "h0__h1_delay") in g.edges and ("h0__h1_delay", "h0__h1") in g.edges
    assert ("h1__out", "h1__out_delay") in g.edges
    back = from_nir(g)
    assert back == net
    assert back.task == net.task and back.task.decision_rule == "max"
    export_nir(net, tmp_path / "net.nir")
    back2 = import_nir(tmp_path / "net.nir")
    assert back2 == net
    assert back2.projection("input", "h0").delay_steps is not None


def test_round_trip_reference_network_branches(tmp_path):
    """Per-synapse delays of the benchmark network's first layers as parallel branches."""
    from sim.model.examples import build_reference_network

    full = build_reference_network(seed=0, dt_s=0.01)   # delays 0..25 steps: 26 branches per projection
    g = to_nir(full)
    n_branches = sum(1 for k, v in g.nodes.items() if k.startswith("input__hidden0__b") and isinstance(v, nir.Linear))
    assert n_branches == np.unique(full.projection("input", "hidden0").delay_s).size
    assert from_nir(g) == full


def test_cli_export_import_round_trip(tmp_path, capsys):
    net = _rich_network()
    save_network(tmp_path / "m.h5", net)
    assert main(["nir", "export", str(tmp_path / "m.h5"), "--out", str(tmp_path / "m.nir")]) == 0
    assert main(["nir", "import", str(tmp_path / "m.nir"), "--out", str(tmp_path / "m2.h5")]) == 0
    assert load_network(tmp_path / "m2.h5") == net


def test_too_many_branches_is_a_clear_error():
    n = 6
    p = Projection.dense("input", "h", np.ones((n, n)), np.arange(n * n).reshape(n, n) * 1e-3)
    net = Network(n, [LIFLayer("h", n, 0.02)], [p], metadata={"training": {"dt_s": 1e-3}})
    with pytest.raises(NIRError, match="36 distinct delays.*limit 10"):
        to_nir(net, max_branches=10)
    assert from_nir(to_nir(net)) == net


# ------------------------------------------------------------------ conventions
def test_nir_conventions_hand_computed():
    dt = 1e-4
    # snnTorch writes tau = dt / (1 - beta): euler gives beta back, exactly as a decay per step
    beta = np.array([0.9, 0.5])
    tau_nir = dt / (1 - beta)
    tau = C.nir_decay_to_tau(tau_nir, dt, "euler")
    np.testing.assert_allclose(C.beta_from_tau(tau, dt), beta, rtol=1e-14)
    # exp keeps tau; r = tau / dt makes a weight a jump of its own size
    np.testing.assert_array_equal(C.nir_decay_to_tau(tau_nir, dt, "exp"), tau_nir)
    np.testing.assert_allclose(C.nir_input_scale(tau_nir / dt, tau_nir, dt), 1.0, rtol=1e-15)
    # tau == dt under euler: no memory at all (beta exactly 0 on the grid)
    assert C.beta_from_tau(C.nir_decay_to_tau(dt, dt, "euler"), dt) == 0.0
    with pytest.raises(ValueError, match="shorter than dt"):
        C.nir_decay_to_tau(dt / 2, dt, "euler")
    assert C.nir_synaptic_current_is_instant(dt, dt, "euler")
    assert not C.nir_synaptic_current_is_instant(2 * dt, dt, "euler")


def test_threshold_node_after_linear_is_a_one_step_layer():
    """Input -> Linear -> Threshold: spikes exactly where the summed input of a step reaches 0.5."""
    w = np.array([[0.3, 0.3], [1.0, 0.0]])
    g = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "lin": nir.Linear(weight=w),
                            "thr": nir.Threshold(threshold=np.array([0.5, 0.5])), "out": nir.Output(np.array([2]))},
                     edges=[("in", "lin"), ("lin", "thr"), ("thr", "out")])
    net = from_nir(g, dt_s=1e-3)
    ev = Events([0.0, 0.001, 0.001, 0.003], [0, 0, 1, 1])   # step 0: 0.3|1.0 ; step 1: 0.6|1.0 ; step 3: 0.3|0
    sim = GridSimulator(net, 1e-3)
    sim.run_steps(5, ev)
    tr = sim.result().spikes["thr"]
    got = sorted(zip(np.round(tr.times_s / 1e-3).astype(int).tolist(), tr.neurons.tolist()))
    # neuron 0 sums 0.3 * (ch0 + ch1): step 1 -> 0.6 >= 0.5; nothing carries over to step 3
    assert got == [(0, 1), (1, 0), (1, 1), (3, 0)] or got == [(0, 1), (1, 0), (1, 1)]
    assert (3, 0) not in got    # 0.3 alone is below 0.5: the potential of step 1 did not carry over


# ------------------------------------------------------------------ snnTorch, a real client
def _snntorch():
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    return snn


def _run_snntorch(net, x, hook_layers):
    """snnTorch's own forward, step by step; returns the spikes of ``hook_layers`` (T, n)."""
    import torch
    from snntorch import utils as snnutils

    rec = {k: [] for k in hook_layers}
    hooks = [net[k].register_forward_hook(lambda m, i, o, k=k: rec[k].append(
        (o[0] if isinstance(o, tuple) else o).detach().numpy()[0].copy())) for k in hook_layers]
    snnutils.reset(net)
    with torch.no_grad():
        for n in range(x.shape[0]):
            net(torch.from_numpy(x[n:n + 1]))
    for h in hooks:
        h.remove()
    return {k: np.array(v) for k, v in rec.items()}


def _axon_rasters(net, x, dt, engine):
    steps, ch = np.nonzero(x)
    ev = Events(steps * dt, ch, x[steps, ch].astype(np.float64))
    T = x.shape[0]
    if engine == "grid":
        sim = GridSimulator(net, dt)
        sim.run_steps(T, ev)
    else:
        sim = ExactSimulator(net)
        sim.run(T * dt, ev)
    res = sim.result()
    out = {}
    for l in net.layers:
        tr = res.spikes[l.name]
        R = np.zeros((T, l.size))
        R[np.round(tr.times_s / dt).astype(int), tr.neurons] = 1.0
        out[l.name] = R
    return out


def _export_snntorch(net, n_in, path):
    import torch
    from snntorch.export_nir import export_to_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = export_to_nir(net, torch.zeros(1, n_in), ignore_dims=[0])
    nir.write(path, g)


@pytest.mark.parametrize("reset,reset_delay", [("zero", True), ("zero", False), ("subtract", False)])
def test_snntorch_leaky_spike_for_spike(tmp_path, reset, reset_delay):
    """snn.Leaky layers exported by snnTorch, imported with dt = 1e-4 s and the Euler rule:
    the grid engine (and the exact engine, all arrivals on the grid) give snnTorch's spikes."""
    snn = _snntorch()
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_in, n_h, n_o, T, dt = 12, 10, 4, 300, 1e-4

    def leaky(n, out=False):
        return snn.Leaky(beta=torch.tensor(rng.uniform(0.6, 0.95, n), dtype=torch.float32), threshold=torch.ones(n),
                         init_hidden=True, reset_mechanism=reset, reset_delay=reset_delay, output=out)

    net = torch.nn.Sequential(torch.nn.Linear(n_in, n_h, bias=False), leaky(n_h), torch.nn.Linear(n_h, n_o),
                              leaky(n_o, True))
    with torch.no_grad():
        net[0].weight.mul_(1.2)
        net[2].weight.mul_(6.0)
        net[2].bias.mul_(0.2)
    _export_snntorch(net, n_in, tmp_path / "snn.nir")
    x = ((rng.random((T, n_in)) < 0.15) * rng.uniform(0.5, 1.5, (T, n_in))).astype(np.float32)
    ref = _run_snntorch(net, x, [1, 3])
    assert ref[1].sum() > 20 and ref[3].sum() > 2   # both layers are active
    if reset == "subtract":
        # the documented condition: no potential is still above threshold after its reset
        mem_after = []
        h = net[1].register_forward_hook(lambda m, i, o: mem_after.append(m.mem.detach().numpy().copy()))
        _run_snntorch(net, x, [])
        h.remove()
        assert np.max(mem_after) <= 1.0
    ax = import_nir(tmp_path / "snn.nir", dt_s=dt, step_rule="euler", reset=reset)
    names = [l.name for l in ax.layers]
    for engine in ("grid", "exact"):
        got = _axon_rasters(ax, x, dt, engine)
        for name, k in zip(names, (1, 3)):
            np.testing.assert_array_equal(got[name], ref[k], err_msg=f"{engine} engine, layer {name}")


def test_snntorch_rleaky_and_synaptic(tmp_path):
    """snn.RLeaky (recurrent weights act on the next step: a one-step recurrent projection)
    and snn.Synaptic with alpha = 0 (a current with no memory: axon's jump synapse)."""
    snn = _snntorch()
    import torch

    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    n_in, n_h, n_o, T, dt = 6, 5, 3, 300, 1e-4
    rl = snn.RLeaky(beta=torch.full((n_h,), 0.85), threshold=torch.ones(n_h), linear_features=n_h,
                    init_hidden=True, reset_mechanism="zero", reset_delay=False)
    syn = snn.Synaptic(alpha=torch.zeros(n_o), beta=torch.full((n_o,), 0.8), threshold=torch.ones(n_o),
                       init_hidden=True, reset_mechanism="zero", reset_delay=False, output=True)
    net = torch.nn.Sequential(torch.nn.Linear(n_in, n_h, bias=False), rl, torch.nn.Linear(n_h, n_o, bias=False), syn)
    with torch.no_grad():
        net[0].weight.mul_(1.5)
        rl.recurrent.weight.mul_(0.8)
        net[2].weight.mul_(3.0)
    _export_snntorch(net, n_in, tmp_path / "rec.nir")
    x = ((rng.random((T, n_in)) < 0.2) * 1.0).astype(np.float32)
    ref = _run_snntorch(net, x, [1, 3])
    assert ref[1].sum() > 20 and ref[3].sum() > 2
    ax = import_nir(tmp_path / "rec.nir", dt_s=dt, step_rule="euler")
    h, o = [l.name for l in ax.layers]
    assert ax.projection(h, h).delay_steps.tolist() == [1] * ax.projection(h, h).n_synapses
    got = _axon_rasters(ax, x, dt, "grid")
    np.testing.assert_array_equal(got[h], ref[1])
    np.testing.assert_array_equal(got[o], ref[3])


def test_snntorch_synaptic_with_memory_is_refused(tmp_path):
    snn = _snntorch()
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False),
                              snn.Synaptic(alpha=torch.full((2,), 0.5), beta=torch.full((2,), 0.8),
                                           threshold=torch.ones(2), init_hidden=True, output=True))
    _export_snntorch(net, 3, tmp_path / "syn.nir")
    with pytest.raises(NIRError, match=r"node '1' \(CubaLIF\): its synaptic current .* lasts beyond one step"):
        import_nir(tmp_path / "syn.nir", dt_s=1e-4, step_rule="euler")


# ------------------------------------------------------------------ bad input, via the CLI
def _lif(n):
    return nir.LIF(tau=np.full(n, 0.02), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.ones(n))


def _write_graph(path, nodes, edges):
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def _cli(*args):
    r = subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=REPO, capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO), "NUMBA_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return r.returncode, r.stderr


def _assert_one_line_error(rc, err, pattern):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if l.strip() and "Warning" not in l]
    assert len(lines) == 1, err
    import re
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_input_not_nir(tmp_path):
    (tmp_path / "a.nir").write_text("not a NIR file\n")
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "a.nir"), "--out", str(tmp_path / "m.h5")),
                           r"a\.nir: not a NIR file")
    save_network(tmp_path / "model.h5", _rich_network())
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "model.h5"), "--out", str(tmp_path / "m.h5")),
                           r"model\.h5: not a NIR file .*'/node'")


def test_bad_input_cycle_between_layers(tmp_path):
    nodes = {"in": nir.Input(np.array([2])), "w0": nir.Linear(weight=np.ones((3, 2))), "a": _lif(3),
             "w1": nir.Linear(weight=np.ones((3, 3))), "b": _lif(3), "w2": nir.Linear(weight=np.ones((3, 3))),
             "out": nir.Output(np.array([3]))}
    edges = [("in", "w0"), ("w0", "a"), ("a", "w1"), ("w1", "b"), ("b", "w2"), ("w2", "a"), ("b", "out")]
    _write_graph(tmp_path / "c.nir", nodes, edges)
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "c.nir"), "--out", str(tmp_path / "m.h5"),
                                 "--dt", "1e-3"), r"cycle (a -> b -> a|b -> a -> b) between different neuron nodes")


def test_bad_input_instantaneous_loop(tmp_path):
    nodes = {"in": nir.Input(np.array([2])), "w0": nir.Linear(weight=np.ones((2, 2))),
             "w1": nir.Linear(weight=np.ones((2, 2))), "a": _lif(2), "out": nir.Output(np.array([2]))}
    edges = [("in", "w0"), ("w0", "w1"), ("w1", "w0"), ("w1", "a"), ("a", "out")]
    _write_graph(tmp_path / "l.nir", nodes, edges)
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "l.nir"), "--out", str(tmp_path / "m.h5"),
                                 "--dt", "1e-3"), r"cycle w[01] -> w[01] -> w[01] passes through no neuron")


def test_bad_input_unknown_node_type(tmp_path):
    import h5py

    nodes = {"in": nir.Input(np.array([2])), "w0": nir.Linear(weight=np.ones((2, 2))), "a": _lif(2),
             "out": nir.Output(np.array([2]))}
    _write_graph(tmp_path / "u.nir", nodes, [("in", "w0"), ("w0", "a"), ("a", "out")])
    with h5py.File(tmp_path / "u.nir", "r+") as f:
        del f["node/nodes/a/type"]
        f["node/nodes/a"].create_dataset("type", data="FancyNeuron", dtype=h5py.string_dtype())
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "u.nir"), "--out", str(tmp_path / "m.h5"),
                                 "--dt", "1e-3"), r"node 'a' has type 'FancyNeuron', which is not a NIR node type")
    # a NIR node type axon knows but cannot run: named, with the reason
    nodes["a"] = nir.IF(r=np.ones(2), v_threshold=np.ones(2))
    _write_graph(tmp_path / "if.nir", nodes, [("in", "w0"), ("w0", "a"), ("a", "out")])
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "if.nir"), "--out", str(tmp_path / "m.h5"),
                                 "--dt", "1e-3"), r"node 'a' \(IF\): .*no leak")


def test_bad_input_missing_parameter(tmp_path):
    import h5py

    nodes = {"in": nir.Input(np.array([2])), "w0": nir.Linear(weight=np.ones((2, 2))), "a": _lif(2),
             "out": nir.Output(np.array([2]))}
    _write_graph(tmp_path / "p.nir", nodes, [("in", "w0"), ("w0", "a"), ("a", "out")])
    with h5py.File(tmp_path / "p.nir", "r+") as f:
        del f["node/nodes/a/tau"]
    _assert_one_line_error(*_cli("nir", "import", str(tmp_path / "p.nir"), "--out", str(tmp_path / "m.h5"),
                                 "--dt", "1e-3"), r"node 'a' \(LIF\) lacks parameter 'tau'")


def test_missing_dt_and_bad_reset_potential():
    g = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "w": nir.Linear(weight=np.ones((2, 2))),
                            "a": nir.LIF(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2),
                                         v_threshold=np.ones(2), v_reset=np.full(2, -0.5)),
                            "out": nir.Output(np.array([2]))},
                     edges=[("in", "w"), ("w", "a"), ("a", "out")])
    with pytest.raises(NIRError, match="does not record the time step"):
        from_nir(g)
    with pytest.raises(NIRError, match=r"node 'a' \(LIF\): v_reset = -0.5"):
        from_nir(g, dt_s=1e-3)


def test_round_trip_convolutional_layer(tmp_path):
    """A conv projection leaves as its expanded synapses (Linear/Delay branches, what other
    tools can read) and comes back in its kernel form (the model file's), identical."""
    from sim import Conv1D

    rng = np.random.default_rng(0)
    kern = rng.normal(size=(3, 2, 3))
    k = rng.integers(0, 4, size=kern.shape)
    conv = Conv1D(10, 2, kern, k * 1e-3, stride=2, delay_steps=k)
    net = Network(20, [LIFLayer("h", conv.n_post, 0.02, reset="subtract")],
                  [Projection.conv1d("input", "h", conv, dt_s=1e-3)],
                  [Lateral.per_position("h", rng.uniform(0, 0.1, (3, 3)), conv.out_positions)],
                  metadata={"training": {"dt_s": 1e-3}})
    export_nir(net, tmp_path / "conv.nir")
    back = import_nir(tmp_path / "conv.nir")
    assert back == net and back.projections[0].conv is not None


def test_learned_delays_travel_on_the_grid_and_come_back_exact():
    """Continuous (learned) delays need one branch per value; with more values than
    max_branches the exporter writes the training grid's whole-step delays (what the grid
    engine runs) and keeps the exact values in axon's metadata."""
    rng = np.random.default_rng(7)
    dt = 1e-3
    d = rng.uniform(0, 0.01, (4, 5))
    p = Projection.dense("input", "h", rng.normal(0.5, 0.2, (4, 5)), d,
                         delay_steps=C.seconds_to_steps(d, dt), dt_s=dt)
    net = Network(5, [LIFLayer("h", 4, 0.02, reset="subtract")], [p], metadata={"training": {"dt_s": dt}})
    with pytest.raises(NIRError, match="--delays grid"):
        to_nir(net, max_branches=12, delays="exact")
    g = to_nir(net, max_branches=12)                         # auto -> grid for this projection
    n_branches = sum(1 for k, v in g.nodes.items() if k.startswith("input__h__b") and isinstance(v, nir.Linear))
    assert n_branches == np.unique(p.delay_steps).size <= 11
    assert from_nir(g) == net                                # exact values restored
    g.metadata = {}                                          # a reader that knows nothing of axon
    other = from_nir(g, dt_s=dt, reset="subtract")
    q = other.projection("input", "h")
    np.testing.assert_array_equal(C.seconds_to_steps(q.delay_s, dt), q.delay_steps)
    order = np.lexsort((p.post_idx, p.delay_steps, p.pre_idx))
    np.testing.assert_array_equal(q.delay_steps, p.delay_steps[order])
    np.testing.assert_allclose(q.delay_s, p.delay_steps[order] * dt, rtol=1e-15)
    np.testing.assert_allclose(q.weight, p.weight[order], rtol=1e-15)
