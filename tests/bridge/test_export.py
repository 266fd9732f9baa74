"""Export: training forward (float64) == grid engine on the exported, saved and reloaded
model, spike for spike (random init and briefly trained; batch norm folded; lateral;
rounded learned delays), and clear errors for bad checkpoints."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bridge.export import export_checkpoint, network_from_export  # noqa: E402
from sim import Events  # noqa: E402
from sim.engines.grid import GridSimulator  # noqa: E402
from sim.model.io import load_network, save_network  # noqa: E402
from training.config import ModelConfig  # noqa: E402
from training.model import SNN  # noqa: E402

DT = 0.004
N_STEPS = 60
N_IN = 12


def _model(lateral: bool, batch_norm: bool = True, seed: int = 0, reset: str = "subtract", drive: bool = True,
           conv: bool = False, lateral_diagonal: str = "keep"):
    # conv: hidden0 convolves over the 12 inputs (kernel 3, stride 2, dilation 1 -> 5
    # positions of 4 channels = 20 neurons), hidden1 is dense.
    # conv == 2: the 12 inputs are 2 channel-major blocks of 6 bands (UP, DOWN), kernel 2 ->
    # 5 positions of 4 channels = 20 neurons.
    shape = (dict(hidden=[4, 8], conv_layers=1, conv_kernel=[3], conv_stride=[2], conv_dilation=[1]) if conv == 1
             else dict(hidden=[4, 8], conv_layers=1, conv_kernel=[2], conv_input_channels=2) if conv == 2
             else dict(hidden=[10, 8]))
    cfg = ModelConfig(**shape, tau_mem_s=[0.02, 0.03], tau_readout_s=0.025, reset=reset, delays="learned",
                      max_delay_steps=6, batch_norm=batch_norm, lateral=lateral, lateral_scale=0.3,
                      lateral_diagonal=lateral_diagonal,
                      learn_drive=drive, weight_scale=3.0, dtype="float64")
    g = torch.Generator().manual_seed(seed)
    m = SNN(N_IN, 4, cfg, DT, g, class_names=["a", "b", "c", "d"])
    m.set_task(N_STEPS, 0.0, "mean_softmax")
    with torch.no_grad():
        rng = np.random.default_rng(seed)
        for bn in m.norms:  # non-trivial running statistics and affine parameters to fold
            if isinstance(bn, torch.nn.BatchNorm1d):
                n = bn.num_features
                bn.running_mean.copy_(torch.from_numpy(rng.normal(0.2, 0.3, n)))
                bn.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, n)))
                bn.weight.copy_(torch.from_numpy(rng.uniform(0.8, 1.5, n)))
                bn.bias.copy_(torch.from_numpy(rng.normal(0.1, 0.2, n)))
        if drive:
            for p in m.drive_hz:
                p.copy_(torch.from_numpy(rng.normal(0.0, 5.0, p.shape[0])))
    m.eval()
    m.set_rounded(True)
    return m


def _inputs(seed: int, batch: int = 4):
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, N_STEPS, N_IN)) < 0.15).astype(np.float64)
    x += (rng.random(x.shape) < 0.02)  # a few counts of 2 in one step
    return x


def _events(x_b):
    steps, ch = np.nonzero(x_b)
    order = np.lexsort((ch, steps))
    return Events(steps[order] * DT, ch[order], x_b[steps[order], ch[order]])


def _assert_parity(model, x, tmp_path):
    """Forward pass vs grid engine on the exported -> saved -> loaded network."""
    with torch.no_grad():
        r = model(torch.from_numpy(x))
    path = tmp_path / "m.h5"
    save_network(path, network_from_export(model.export_dict()))
    net = load_network(path)
    sim = GridSimulator(net, DT)
    n_spikes = 0
    for b in range(x.shape[0]):
        sim.reset()
        c = sim.run_steps(N_STEPS, events=_events(x[b]))
        offs = net.offsets()
        for l, layer in enumerate(net.layers):
            s = r["spikes"][l][b].numpy()
            want = sorted(zip(*np.nonzero(s)))
            m = (c.spike_neurons >= offs[layer.name]) & (c.spike_neurons < offs[layer.name] + layer.size)
            got = sorted(zip(np.floor(c.spike_times_s[m] / DT + 0.5).astype(int).tolist(),
                             (c.spike_neurons[m] - offs[layer.name]).tolist()))
            assert [tuple(map(int, w)) for w in want] == got, f"sample {b} layer {layer.name}"
            n_spikes += len(got)
        np.testing.assert_allclose(c.readout, r["out"][b].numpy(), rtol=1e-12, atol=1e-12)
    return n_spikes


@pytest.mark.parametrize("lateral", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_random_init_forward_equals_grid(tmp_path, lateral, reset):
    m = _model(lateral, reset=reset, seed=1)
    n = _assert_parity(m, _inputs(2), tmp_path)
    assert n > 50  # not a silent network


@pytest.mark.parametrize("lateral", [False, True])
@pytest.mark.parametrize("conv", [1, 2])
def test_conv_random_init_forward_equals_grid(tmp_path, lateral, conv):
    m = _model(lateral, seed=4, conv=conv)
    assert m.layer_sizes == [20, 8]
    n = _assert_parity(m, _inputs(5), tmp_path)
    assert n > 50


@pytest.mark.parametrize("conv", [0, 1])
def test_lateral_replace_reset_forward_equals_grid_and_runs_exact(tmp_path, conv):
    """``lateral_diagonal = "replace_reset"`` (``Omega = scale W W^T - threshold I``) is only
    a different lateral matrix: exported as it is, the grid engine follows training spike
    for spike, and the exact engine runs it (the negative diagonal settles: reset + self
    term still lower a neuron that fires)."""
    from sim.engines.exact import ExactSimulator

    m = _model(True, seed=7, conv=conv, lateral_diagonal="replace_reset")
    x = _inputs(8)
    assert _assert_parity(m, x, tmp_path) > 50
    net = load_network(tmp_path / "m.h5")
    lat = net.lateral("hidden0")
    keep = _model(True, seed=7, conv=conv).lateral_matrix(0).detach().numpy()
    for om in lat.omega:  # the default's matrix minus threshold (1.0) on the diagonal
        np.testing.assert_allclose(om, keep - np.eye(keep.shape[0]), rtol=1e-12, atol=1e-14)
    sim = ExactSimulator(net)
    c = sim.run(N_STEPS * DT, events=_events(x[0]))
    assert c.spike_times_s.size > 0


def test_conv_export_is_compact_and_omega_is_w_wt(tmp_path):
    from sim.metrics import engine_memory

    m = _model(lateral=True, batch_norm=False, seed=6, conv=True)
    net = network_from_export(m.export_dict())
    p = net.projection("input", "hidden0")
    assert p.conv is not None and p.conv.kernel.shape == (4, 1, 3) and p.n_synapses == 5 * 4 * 3
    np.testing.assert_array_equal(p.conv.kernel, m.projections[0].weight.detach().numpy())
    lat = net.lateral("hidden0")
    assert lat.members.tolist() == [[4 * q + c for c in range(4)] for q in range(5)]  # the channels of each position
    k = p.conv.kernel.reshape(4, -1)
    for om in lat.omega:
        np.testing.assert_allclose(om, 0.3 * k @ k.T, rtol=1e-12, atol=0)
    assert net.lateral("hidden1").members.shape == (1, 8)
    mem = engine_memory(net, DT)
    assert mem["projections"][0]["kind"] == "conv1d" and mem["projections"][0]["stored_values"] == 4 * 3 * 3
    assert mem["exact_engine_bytes"] > 0 and mem["grid_engine_bytes"] > 0


def test_briefly_trained_forward_equals_grid(tmp_path):
    from training.binning import bin_dataset
    from training.losses import classification_loss
    from training.toy import make_toy_dataset

    m = _model(lateral=True, seed=3)
    m.train()
    m.set_rounded(False)
    m.set_sigma(1.0)
    ds = make_toy_dataset(24, n_units=N_IN, n_classes=4, duration_s=N_STEPS * DT, rng=np.random.default_rng(5))
    x = bin_dataset(ds, DT, N_STEPS, dtype=np.float32).astype(np.float64)
    y = torch.from_numpy(np.asarray(ds.labels))
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=0.02)
    for _ in range(4):
        loss = classification_loss(m(torch.from_numpy(x))["out"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.clamp_positions()
    m.eval()
    m.set_rounded(True)
    pos = m.projections[0].pos.detach().numpy()
    assert np.any(pos != np.round(pos))  # learned, off-grid positions: rounding is exercised
    n = _assert_parity(m, x[:6], tmp_path)
    assert n > 50


def test_export_carries_delays_in_seconds_and_steps(tmp_path):
    m = _model(lateral=True, seed=2)
    net = network_from_export(m.export_dict())
    p = net.projection("input", "hidden0")
    assert p.dt_s == DT
    pos = m.projections[0].pos.detach().numpy()
    # Canonical sparse order differs from the dense layout: compare as (post, pre) maps.
    got_s = dict(zip(zip(p.post_idx.tolist(), p.pre_idx.tolist()), p.delay_s.tolist()))
    got_k = dict(zip(zip(p.post_idx.tolist(), p.pre_idx.tolist()), p.delay_steps.tolist()))
    for (o, i), d in got_s.items():
        assert d == pos[o, i] * DT
        assert got_k[(o, i)] == int(np.floor(pos[o, i] + 0.5))
    t = net.task
    assert t.dt_s == DT and t.n_steps == N_STEPS and t.decision_rule == "mean_softmax"
    assert t.class_names == ("a", "b", "c", "d") and t.start_s == 0.0 and t.delay_rounding == "round_half_up"
    assert net.class_names == ["a", "b", "c", "d"]
    # the task is not repeated in the free-form metadata (one place to read it)
    assert "dt_s" not in net.metadata["training"] and "class_names" not in net.metadata["training"]
    assert [l.layer for l in net.laterals] == ["hidden0", "hidden1"]
    from bridge.evaluate import ReadoutProtocol
    proto = ReadoutProtocol.from_network(net)
    assert proto.n_steps == N_STEPS and proto.dt_s == DT


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="no such checkpoint"):
        export_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        export_checkpoint(bad)
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {}}, wrong)
    with pytest.raises(ValueError, match=r"lacks \['config', 'n_inputs', 'n_classes'\]"):
        export_checkpoint(wrong)
    with pytest.raises(ValueError, match="is a directory"):
        export_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="axon.training.export"):
        network_from_export({"format": "something"})


def test_cli_export(tmp_path):
    from bridge.cli import main
    from training.train import save_atomic

    m = _model(lateral=False, seed=4)
    ck = tmp_path / "best.pt"
    from dataclasses import asdict  # noqa: F401
    cfg = {"data": {"kind": "toy", "dt_s": DT, "n_steps": N_STEPS, "toy_units": N_IN},
           "model": {k: getattr(m.cfg, k) for k in m.cfg.__dataclass_fields__}, "train": {}}
    save_atomic({"model": m.state_dict(), "epoch": 1, "config": cfg, "n_inputs": N_IN, "n_classes": 4,
                 "class_names": ["a", "b", "c", "d"], "task": m.task}, ck)
    out = tmp_path / "m.h5"
    assert main(["export", str(ck), "--out", str(out), "--quiet"]) == 0
    net = load_network(out)
    assert net.metadata["provenance"]["epoch"] == 1
    assert "numpy" in net.metadata["provenance"]["package_versions"]
    assert main(["export", str(tmp_path / "nope.pt"), "--out", str(out)]) == 2
