"""Training methods other than plain BPTT (issue 14): config validation of train.method and
its options, and the ANN-to-SNN mapping of ann_pretrain."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from training.config import ModelConfig, config_from_dict
from training.model import SNN, ann_leak_compensation, map_ann_to_snn


@pytest.mark.parametrize("raw, keys", [
    ({"train": {"method": "adjoint"}}, ["train.method"]),
    ({"train": {"method": "ann_pretrain"}}, ["train.method", "train.ann_epochs"]),
    ({"train": {"method": "ann_pretrain", "ann_epochs": 2}, "model": {"reset": "zero"}},
     ["train.method", "model.reset"]),
    ({"train": {"method": "ann_pretrain", "ann_epochs": 2}, "model": {"lateral": True}},
     ["train.method", "model.lateral"]),
    ({"train": {"method": "bptt", "ann_epochs": 3}}, ["train.ann_epochs", "train.method"]),
    ({"train": {"ann_lr": 0.01}}, ["train.ann_lr", "train.method"]),
    ({"train": {"method": "spide"}}, ["train.method"]),
    ({"model": {"surrogate": "leaky"}}, ["model.surrogate"]),
])
def test_bad_method_combinations_name_the_keys(raw, keys):
    raw = {"data": {"kind": "toy"}, **raw}
    with pytest.raises(ValueError) as e:
        config_from_dict(raw)
    for k in keys:
        assert k in str(e.value)


def test_good_method_configs():
    c = config_from_dict({"data": {"kind": "toy"}, "train": {"method": "ann_pretrain", "ann_epochs": 2},
                          "model": {"surrogate": "leaky_approx"}})
    assert c.train.method == "ann_pretrain" and c.train.ann_lr is None
    assert config_from_dict({"data": {"kind": "toy"}}).train.method == "bptt"


def test_ann_to_snn_mapping_preserves_a_layers_rate_on_constant_input():
    # One dense layer of 19 neurons, no delays, no batch norm, tau = 20 ms at dt = 10 ms
    # (beta = exp(-0.5), the quick config's leak: the strongest leak we train with).
    # Neuron k gets a constant input current z_k = 0.05..0.95 (threshold units) from one
    # input channel held at 1 per step. The ANN twin's activation is z_k; after
    # map_ann_to_snn the SNN's rate over 2000 steps must match it. Tolerance: the leaky
    # neuron's rate is a staircase in z (mode locking), which one constant drive can only
    # match on average: mean |rate - z| <= 0.06 spikes/step, worst neuron <= 0.16. Without
    # the mapping's drive the leak silences every neuron below z = 1 - beta = 0.39 and the
    # mean error is above 0.2.
    cfg = ModelConfig(hidden=[19], delays="none", batch_norm=False, dtype="float64", tau_mem_s=0.02,
                      reset="subtract")
    m = SNN(1, 2, cfg, 0.01, torch.Generator().manual_seed(0)).eval()
    z = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    with torch.no_grad():
        m.projections[0].weight.copy_(z.reshape(19, 1))
    x = torch.ones(1, 2000, 1, dtype=torch.float64)
    with torch.no_grad():
        ann = m(x, mode="ann")["spikes"][0][0].mean(0)
        unmapped = m(x)["spikes"][0][0].mean(0)
        added = map_ann_to_snn(m)
        snn = m(x)["spikes"][0][0].mean(0)
    torch.testing.assert_close(ann, z, rtol=0, atol=1e-15)  # twin: exactly the input
    err = (snn - ann).abs()
    assert float(err.mean()) <= 0.06 and float(err.max()) <= 0.16
    assert float((unmapped - ann).abs().mean()) > 0.2
    beta = math.exp(-0.5)
    d = added["hidden0"]["drive_per_step"]
    assert 0 < d < (1 - beta)  # replaces the leak of a potential between 0 and threshold
    assert added["hidden0"]["drive_hz"] == pytest.approx(d / ((1 - beta) * 0.02), rel=1e-12)


def test_leak_compensation_vanishes_without_leak_and_is_exact_for_a_weak_leak():
    assert ann_leak_compensation(1.0) == 0.0
    # tau = 500 ms at dt = 10 ms: the rate matches z within 0.005 everywhere on the grid.
    beta = math.exp(-0.02)
    d = ann_leak_compensation(beta)
    z = np.linspace(0.05, 0.95, 19)
    v = np.zeros_like(z)
    n = np.zeros_like(z)
    for _ in range(2000):
        u = beta * v + d + z
        s = u >= 1.0
        v = u - s
        n += s
    assert np.abs(n / 2000 - z).max() <= 0.005
    with pytest.raises(ValueError, match="beta"):
        ann_leak_compensation(0.0)


def _raw(**train):
    return {
        "data": {"kind": "toy", "dt_s": 0.01, "n_steps": 30, "toy_units": 8, "toy_classes": 3, "toy_samples": 24},
        "model": {"hidden": [16], "max_delay_steps": 4},
        "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "seed": 3, "num_threads": 1, **train},
    }


def test_ann_pretrain_runs_maps_and_resumes(tmp_path):
    from training.train import load_checkpoint, train

    cfg = config_from_dict(_raw(method="ann_pretrain", ann_epochs=2))
    res = train(cfg, tmp_path / "a", progress=False)
    info = res["ann_pretrain"]
    assert res["method"] == "ann_pretrain" and [h["epoch"] for h in info["history"]] == [1, 2]
    assert info["added_drive"]["hidden0"]["drive_hz"] > 0 and 0 <= info["mapped_valid_accuracy"] <= 1
    assert [h["epoch"] for h in res["history"]] == [1, 2]
    assert all(h["elapsed_s"] >= info["ann_time_s"] for h in res["history"])
    # resuming the SNN phase does not rerun the ANN phase, and keeps its record
    part = train(cfg, tmp_path / "b", progress=False, stop_after_epochs=1)
    assert part["stopped"]
    resumed = train(cfg, tmp_path / "b", resume=True, progress=False)
    assert resumed["ann_pretrain"]["history"] == load_checkpoint(tmp_path / "b" / "last.pt")["ann_pretrain"]["history"]
    a = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_leaky_approx_trains(tmp_path):
    from training.train import train

    raw = _raw()
    raw["model"]["surrogate"] = "leaky_approx"
    res = train(config_from_dict(raw), tmp_path / "l", progress=False)
    assert res["config"]["model"]["surrogate"] == "leaky_approx"
    assert np.isfinite(res["history"][-1]["train_loss"])


# ----------------------------------------------------------------------------- SPIDE
def _spide_raw(**model):
    return {
        "data": {"kind": "toy", "dt_s": 0.001, "n_steps": 40, "toy_units": 6, "toy_classes": 3, "toy_samples": 24},
        "model": {"hidden": [7], "tau_mem_s": 1000.0, "tau_readout_s": 1000.0, "delays": "none", "max_delay_steps": 0,
                  "batch_norm": False, "dropout": 0.0, "recurrent": True, "dtype": "float64", **model},
        "train": {"method": "spide", "epochs": 2, "batch_size": 8, "lr": 0.01, "seed": 2, "num_threads": 1,
                  "spide_steps_back": 50},
    }


@pytest.mark.parametrize("model, keys", [
    ({"batch_norm": True}, ["train.method", "model.batch_norm"]),
    ({"recurrent": False}, ["train.method", "model.recurrent"]),
    ({"hidden": [7, 5]}, ["train.method", "model.hidden"]),
    ({"delays": "learned"}, ["train.method", "model.delays"]),
])
def test_spide_needs_one_plain_feedback_layer(model, keys):
    with pytest.raises(ValueError) as e:
        config_from_dict(_spide_raw(**model))
    for k in keys:
        assert k in str(e.value)
    raw = _spide_raw()
    raw["train"]["method"] = "bptt"
    del raw["train"]["spide_steps_back"]
    with pytest.raises(ValueError, match="model.recurrent.*train.method"):
        config_from_dict(raw)


def test_spiking_adjoint_solves_the_implicit_linear_system():
    # lam = g + W^T (mask * lam) / thr, solved exactly, against the ternary neurons' average
    # over 2000 steps: the average is exact up to one spike, |error| <= v / steps (+ the
    # residual potential, also below v / steps).
    from training.spide import spiking_adjoint

    g = torch.Generator().manual_seed(1)
    n = 6
    w = (torch.rand(n, n, generator=g, dtype=torch.float64) - 0.5) * 0.6
    grad = (torch.rand(3, n, generator=g, dtype=torch.float64) - 0.5) * 0.2
    mask = (torch.rand(3, n, generator=g, dtype=torch.float64) > 0.3).double()
    thr = torch.full((n,), 1.5, dtype=torch.float64)
    exact = torch.stack([torch.linalg.solve(torch.eye(n, dtype=torch.float64) - (w.T * (mask[b] / thr)), grad[b])
                         for b in range(3)])
    v = 2 * float(exact.abs().max())
    lam = spiking_adjoint(grad, w, mask, thr, 2000, v)
    assert float((lam - exact).abs().max()) <= 2 * v / 2000
    assert float(exact.abs().max()) > 20 * v / 2000  # the check is not vacuous


def test_spide_equilibrium_rates_torch_grid_and_exact_agree(tmp_path):
    # A small feedback network (6 inputs, 7 IF neurons with one-step feedback, tau 1000 s),
    # rate-coded input over 40 steps of 1 ms, all on the grid: the float64 torch forward,
    # the grid engine and the exact engine must give the same spike counts per neuron, and
    # the torch rates must satisfy the equilibrium a = clip((W a + F x_bar) / thr, 0, 1)
    # within the O(1/T) error of a 40-step average (|a - rhs| <= 2.5 / 40 here: the initial
    # transient and the residual potential are each below one spike).
    from bridge.export import network_from_export
    from sim.engines.exact import ExactSimulator
    from sim.engines.grid import GridSimulator
    from training.data.shd import SpikeDataset
    from training.data.sklearn_digits import rate_code
    from training.binning import bin_dataset

    cfg = config_from_dict(_spide_raw())
    m = SNN(6, 3, cfg.model, 0.001, torch.Generator().manual_seed(3)).eval()
    with torch.no_grad():
        m.projections[0].weight.mul_(3.0)  # drive most neurons into 0 < a < 1
    p = np.array([0.9, 0.2, 0.55, 0.75, 0.35, 1.0])
    t, u = rate_code(p, 40, 0.001)
    ds = SpikeDataset([t], [u], [0], [-1], 6, ["a", "b", "c"])
    x = torch.from_numpy(bin_dataset(ds, 0.001, 40, 0.0)).double()
    with torch.no_grad():
        s = m(x)["spikes"][0][0]
    counts = s.sum(0).numpy()
    a = counts / 40
    assert 0 < np.sum((a > 0) & (a < 1))
    m.set_task(40, 0.0, "mean_softmax")
    net = network_from_export(m.export_dict())
    assert [(pr.pre, pr.post) for pr in net.projections][-1] == ("hidden0", "hidden0")
    grid = GridSimulator(net, 0.001, record_spikes=False)
    grid.run_steps(40, events=ds.events(0))
    exact = ExactSimulator(net, record_spikes=False)
    exact.run(0.040, events=ds.events(0))
    assert np.array_equal(grid.counts().spikes["hidden0"], counts)
    assert np.array_equal(exact.counts().spikes["hidden0"], counts)
    w = m.recurrent.weight.detach().numpy()
    f = m.projections[0].weight.detach().numpy()
    rhs = np.clip((w @ a + f @ x[0].numpy().mean(0)) / 1.0, 0, 1)
    assert np.abs(a - rhs).max() <= 2.5 / 40


def test_spide_trains_and_exports(tmp_path):
    from bridge.export import export_checkpoint
    from training.train import train

    raw = _spide_raw()
    raw["data"].update(dt_s=0.01, n_steps=30)  # the toy task's patterns need a 0.3 s window
    res = train(config_from_dict(raw), tmp_path / "s", progress=False)
    assert res["method"] == "spide" and np.isfinite(res["history"][-1]["train_loss"])
    net = export_checkpoint(tmp_path / "s" / "best.pt", tmp_path / "s.h5")
    assert any(p.pre == p.post == "hidden0" for p in net.projections)


@pytest.mark.parametrize("train, keys", [
    ({"method": "bptt", "spide_steps_back": 100, "spide_feedback_norm": "spectral", "spide_feedback_max": 0.9},
     ["train.spide_feedback_norm", "train.method"]),
    ({"spide_feedback_norm": "spectral", "spide_feedback_max": 0.0},
     ["train.spide_feedback_norm", "train.spide_feedback_max"]),
    ({"spide_feedback_norm": "none", "spide_feedback_max": 0.9},
     ["train.spide_feedback_norm", "train.spide_feedback_max"]),
    ({"spide_feedback_norm": "l1", "spide_feedback_max": 0.9}, ["train.spide_feedback_norm"]),
    ({"spide_feedback_norm": "spectral", "spide_feedback_max": -1.0}, ["train.spide_feedback_max"]),
])
def test_spide_feedback_restriction_keys_are_validated(train, keys):
    raw = _spide_raw()
    raw["train"].update(train)
    if raw["train"]["method"] == "bptt":
        raw["model"]["recurrent"] = False
    with pytest.raises(ValueError) as e:
        config_from_dict(raw)
    for k in keys:
        assert k in str(e.value)
    ok = _spide_raw()
    ok["train"].update(spide_feedback_norm="frobenius", spide_feedback_max=2.0)
    assert config_from_dict(ok).train.spide_feedback_norm == "frobenius"


@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
def test_restrict_feedback_projects_onto_the_norm_ball(norm):
    from training.spide import feedback_norm, restrict_feedback

    cfg = config_from_dict(_spide_raw(threshold=1.5))
    m = SNN(6, 3, cfg.model, 0.001, torch.Generator().manual_seed(3))
    with torch.no_grad():
        m.recurrent.weight.fill_(0.5)  # ||W||_2 = 3.5, ||W||_F = 3.5
    before = restrict_feedback(m, norm, 0.8)
    assert before == pytest.approx(3.5)
    assert feedback_norm(m.recurrent.weight, norm) == pytest.approx(0.8 * 1.5)
    w = m.recurrent.weight.detach().clone()
    restrict_feedback(m, norm, 0.8)  # inside the ball: unchanged
    assert torch.equal(w, m.recurrent.weight)
    with pytest.raises(ValueError, match="max_rel"):
        restrict_feedback(m, norm, 0.0)


def test_spide_feedback_restriction_holds_after_every_update(tmp_path):
    from training.spide import feedback_norm
    from training.train import train

    raw = _spide_raw()
    raw["data"].update(dt_s=0.01, n_steps=30)
    raw["train"].update(lr=0.05, epochs=3)
    free = train(config_from_dict(raw), tmp_path / "free", progress=False)
    free_norms = [h["feedback_norm_spectral"] for h in free["history"]]
    bound = 0.5 * min(free_norms)  # well inside what unrestricted training reaches
    raw["train"].update(spide_feedback_norm="spectral", spide_feedback_max=bound)
    res = train(config_from_dict(raw), tmp_path / "r", progress=False)
    for h in res["history"]:
        assert h["feedback_norm_spectral"] <= bound * (1 + 1e-9)
    ck = torch.load(tmp_path / "r" / "best.pt", map_location="cpu", weights_only=False)
    w = ck["model"]["recurrent.weight"]
    assert feedback_norm(w, "spectral") <= bound * (1 + 1e-9)
    assert feedback_norm(w, "spectral") >= 0.99 * bound  # training pushes against the bound: it acted


def test_restricted_feedback_cannot_burst_in_the_exact_engine():
    # Strong positive feedback (W = 0.5 everywhere, ||W||_2 = 3.5 thresholds): in the exact
    # engine a neuron fires again at once while its subtract reset leaves V >= threshold,
    # so the spikes fed back one step later multiply by about 3.5 per step until the
    # cascade limit stops the run. Projected onto ||W||_2 <= c = 0.5 thresholds, the rates
    # settle at the fixed point of the unclipped map (the exact engine has no one-spike-per-
    # step ceiling), a = (I - W / thr)^-1 F x_bar / thr, and a 40-step average misses it by
    # the transient from rest (2-norm <= ||a|| / (1 - c) / T) plus the residual potential
    # (below one spike per neuron, sqrt(n) / T).
    from bridge.export import network_from_export
    from sim.engines.exact import CascadeError, ExactSimulator
    from training.data.shd import SpikeDataset
    from training.data.sklearn_digits import rate_code
    from training.spide import restrict_feedback

    cfg = config_from_dict(_spide_raw())
    m = SNN(6, 3, cfg.model, 0.001, torch.Generator().manual_seed(3)).eval()
    with torch.no_grad():
        m.projections[0].weight.abs_()
        m.recurrent.weight.fill_(0.5)
    m.set_task(40, 0.0, "mean_softmax")
    p = np.array([0.9, 0.2, 0.55, 0.75, 0.35, 1.0])
    t, u = rate_code(p, 40, 0.001)
    events = SpikeDataset([t], [u], [0], [-1], 6, ["a", "b", "c"]).events(0)
    with pytest.raises(CascadeError):
        ExactSimulator(network_from_export(m.export_dict()), record_spikes=False, max_cascade=10_000).run(
            0.040, events=events)
    c = 0.5
    restrict_feedback(m, "spectral", c)
    exact = ExactSimulator(network_from_export(m.export_dict()), record_spikes=False, max_cascade=10_000)
    exact.run(0.040, events=events)
    rates = exact.counts().spikes["hidden0"] / 40
    w = m.recurrent.weight.detach().numpy()
    f = m.projections[0].weight.detach().numpy()
    a = np.linalg.solve(np.eye(7) - w, f @ p)  # threshold 1
    assert a.min() > 1  # above the grid's ceiling: the exact engine's extra spikes are in play
    assert np.linalg.norm(rates - a) <= (np.linalg.norm(a) / (1 - c) + np.sqrt(7)) / 40


def test_spiking_adjoint_counts_its_spikes():
    # W = 0: each ternary neuron integrates its constant g and fires floor(steps |g| / v)
    # spikes of sign(g) (hand count: |g| = 0.25 v over 100 steps -> 25, 0.0625 v -> 6, 0 -> 0;
    # binary fractions, so the sums are exact).
    # Only neurons with mask = 1 deliver theirs to the feedback synapses.
    from training.spide import spiking_adjoint

    g = torch.tensor([[0.25, -0.25, 0.0625, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[1.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    counts = {}
    lam = spiking_adjoint(g, torch.zeros(4, 4, dtype=torch.float64), mask, torch.ones(4, dtype=torch.float64), 100,
                          1.0, counts)
    assert counts == {"spikes": 25 + 25 + 6, "delivered": 25 + 6}
    assert torch.equal(lam, torch.tensor([[0.25, -0.25, 0.06, 0.0]], dtype=torch.float64))


def test_spide_energy_counts_follow_the_code_paths():
    # The dense multiply-accumulates FlopCounterMode sees in one SPIDE step and one BPTT step
    # equal the shapes' count (batch b, T steps, n_in -> n -> n_out, S backward steps):
    # SPIDE: input projection b T n_in n, feedback b T n n, readout 4 b T n n_out (the model's
    # forward, again on the straight-through spikes, the gradient to its input and to its
    # weights), adjoint S b n n, updates b n (n + n_in);
    # BPTT without feedback: 2 b T n_in n (forward, weight gradient; the data needs no
    # gradient) + 3 b T n n_out; with feedback add 3 b T n n.
    from benchmarks.spide_energy import bptt_step_macs, spide_step_counts

    cfg = config_from_dict(_spide_raw())
    b, steps, n_in, n, n_out, s_back = 5, 40, 6, 7, 3, 50
    m = SNN(n_in, n_out, cfg.model, 0.001, torch.Generator().manual_seed(3))
    with torch.no_grad():
        m.projections[0].weight.mul_(3.0)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(b, steps, n_in, generator=gen) < 0.5).double()
    y = torch.tensor([0, 1, 2, 0, 1])
    c = spide_step_counts(m, x, y, cfg)
    assert c["torch_dense_macs"] == (b * steps * n_in * n + b * steps * n * n + 4 * b * steps * n * n_out
                                     + s_back * b * n * n + b * n * (n + n_in))
    with torch.no_grad():
        assert c["forward_sops"] == float(x.sum()) * n + float(m(x)["spikes"][0].sum()) * (n + n_out)
    assert 0 < c["backward_sops"] and c["backward_sops"] % n == 0 and c["backward_sops"] <= c["backward_spikes"] * n
    assert c["readout_grad_macs"] == 2 * b * steps * n * n_out
    ff = SNN(n_in, n_out, dataclasses.replace(cfg.model, recurrent=False), 0.001, torch.Generator().manual_seed(3))
    assert bptt_step_macs(ff, x, y, "mean_softmax", gen) == 2 * b * steps * n_in * n + 3 * b * steps * n * n_out
    assert bptt_step_macs(m, x, y, "mean_softmax", gen) == (2 * b * steps * n_in * n + 3 * b * steps * n * n_out
                                                            + (3 * steps - 1) * b * n * n)
