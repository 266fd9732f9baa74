"""``axon evaluate`` and ``axon validate`` on a briefly trained toy model.

The training forward pass (float64), the grid engine and the exact engine classify the
same SHD-format file; grid and torch must agree sample for sample (docs/semantics.md: identical
spikes on the same dt), and ``axon validate --against torch`` must find identical spikes.
"""
import json

import numpy as np
import pytest

from bridge.cli import main

RAW_CFG = ('[data]\nkind = "toy"\ndt_s = 0.01\nn_steps = 30\ntoy_units = 12\ntoy_classes = 3\ntoy_samples = 24\n'
           '[model]\nhidden = [16, 12]\nmax_delay_steps = 4\nreset = "subtract"\n'
           '[train]\nepochs = 2\nbatch_size = 8\nlr = 0.02\nseed = 1\nnum_threads = 1\n')


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from training.data.shd import write_shd
    from training.toy import make_toy_dataset

    d = tmp_path_factory.mktemp("trained")
    (d / "c.toml").write_text(RAW_CFG)
    assert main(["train", str(d / "c.toml"), "--out", str(d / "run"), "--quiet"]) == 0
    assert main(["export", str(d / "run" / "best.pt"), "--out", str(d / "model.h5")]) == 0
    ds = make_toy_dataset(9, n_units=12, n_classes=3, duration_s=0.3, rng=np.random.default_rng(5))
    write_shd(d / "data.h5", ds)
    return d


def test_evaluate_grid_equals_torch(trained, capsys):
    out = trained / "eval"
    assert main(["evaluate", str(trained / "model.h5"), str(trained / "data.h5"), "--engines", "exact,grid,torch",
                 "--out", str(out), "--quiet"]) == 0
    rep = json.loads((out / "evaluate.json").read_text())
    e = rep["engines"]
    assert e["grid"]["n_samples"] == e["torch"]["n_samples"] == 9
    assert e["grid"]["predictions"] == e["torch"]["predictions"]
    assert e["grid"]["layer_rate_hz"] == pytest.approx(e["torch"]["layer_rate_hz"], rel=1e-12)
    assert sum(e["grid"]["layer_rate_hz"].values()) > 0          # not a silent network
    # The mean hidden rate is over neurons (hidden 16 and 12), as training reports it.
    r = e["grid"]["layer_rate_hz"]
    assert e["grid"]["mean_hidden_rate_hz"] == pytest.approx((16 * r["hidden0"] + 12 * r["hidden1"]) / 28)
    assert f"{e['grid']['mean_hidden_rate_hz']:.2f}" in (out / "evaluate.md").read_text()
    assert rep["prediction_agreement"]["grid/torch"] == 1.0
    assert "grid engine" in (out / "evaluate.md").read_text()


def test_evaluate_per_condition_and_per_voice(trained, capsys):
    # Two conditions (the same samples written twice, with the split/condition attributes
    # of `axon data synth`) and a dataset.json naming each speaker's voice.
    from training.data.shd import load_shd, write_shd

    ds = load_shd(trained / "data.h5")
    d = trained / "cond"
    d.mkdir()
    ds.speakers = np.arange(len(ds)) % 2
    write_shd(d / "a.h5", ds, attrs={"split": "test_family", "condition": "clean"})
    write_shd(d / "b.h5", ds, attrs={"split": "test_family", "condition": "hum@10"})
    (d / "dataset.json").write_text(json.dumps({"splits": {"test_family": {"speakers": [
        {"id": 0, "variant": "m1", "english": "en-029"}, {"id": 1, "variant": "f2", "english": "en-029"}]}}}))
    out = trained / "eval_cond"
    assert main(["evaluate", str(trained / "model.h5"), str(d / "a.h5"), str(d / "b.h5"), "--engines", "grid",
                 "--out", str(out), "--quiet"]) == 0
    rep = json.loads((out / "evaluate.json").read_text())
    assert list(rep["conditions"]) == ["test_family", "test_family/hum@10"]
    g = rep["conditions"]["test_family"]["engines"]["grid"]
    assert rep["conditions"]["test_family/hum@10"]["engines"]["grid"]["predictions"] == g["predictions"]
    pv = g["per_voice"]
    assert set(pv["variant"]) == {"m1", "f2"} and set(pv["english"]) == {"en-029"}
    assert pv["variant"]["m1"]["n"] + pv["variant"]["f2"]["n"] == len(ds) == pv["english"]["en-029"]["n"]
    labels, pred = np.asarray(ds.labels), np.asarray(g["predictions"])
    assert pv["variant"]["m1"]["accuracy"] == pytest.approx(np.mean(pred[::2] == labels[::2]))
    md = (out / "evaluate.md").read_text()
    assert "test_family/hum@10" in md and "| m1 |" in md


def test_evaluate_errors(trained, capsys):
    m, d = str(trained / "model.h5"), str(trained / "data.h5")
    assert main(["evaluate", m, d, "--engines", "exact,spinnaker", "--out", str(trained / "x")]) == 2
    assert "spinnaker" in capsys.readouterr().err
    assert main(["evaluate", str(trained / "missing.h5"), d, "--out", str(trained / "x")]) == 2
    assert "no such" in capsys.readouterr().err


def test_evaluate_and_sweep_refuse_files_of_another_front_end(trained, capsys):
    # A model that records its front end (as exported from `axon data` files) is evaluated
    # only on files encoded by the same settings: a 4 dB floor margin model on 8 dB files
    # would report the accuracy of another encoding.
    import dataclasses

    from sim.audio.frontend import FrontEndConfig
    from sim.model.io import load_network, save_network
    from training.data.shd import load_shd, write_shd

    fe = FrontEndConfig.robust(n_bands=6, noise_margin_db=4.0)
    net = load_network(trained / "model.h5")
    net.task = dataclasses.replace(net.task, frontend=fe)
    d = trained / "fe"
    d.mkdir()
    save_network(d / "model.h5", net)
    ds = load_shd(trained / "data.h5")
    write_shd(d / "same.h5", ds, attrs={"frontend": fe.to_dict()})
    write_shd(d / "other.h5", ds, attrs={"frontend": dataclasses.replace(fe, noise_margin_db=8.0).to_dict()})
    ckpt = ["--checkpoint", str(trained / "run" / "best.pt")]
    assert main(["evaluate", str(d / "model.h5"), str(d / "same.h5"), "--engines", "grid", "--out",
                 str(d / "ok"), "--quiet"] + ckpt) == 0
    assert main(["evaluate", str(d / "model.h5"), str(d / "same.h5"), str(d / "other.h5"), "--engines", "grid",
                 "--out", str(d / "bad"), "--quiet"] + ckpt) == 2
    err = capsys.readouterr().err
    assert "other.h5" in err and "noise_margin_db 8.0 (model 4.0)" in err
    assert not (d / "bad").exists()  # refused before any engine ran
    # a sweep measures accuracy too: the same check
    assert main(["sweep", str(d / "model.h5"), str(d / "other.h5"), "--set", "hidden0.threshold=1.0",
                 "--out", str(d / "sweep"), "--quiet"]) == 2
    assert "noise_margin_db 8.0 (model 4.0)" in capsys.readouterr().err and not (d / "sweep").exists()
    # files without a recorded front end (made in memory, other tools) are not judged
    assert main(["evaluate", str(d / "model.h5"), str(trained / "data.h5"), "--engines", "grid", "--out",
                 str(d / "plain"), "--quiet"] + ckpt) == 0


@pytest.fixture(scope="module")
def dense(trained):
    """Dense input (12 channels at ~150 Hz for 0.3 s) so that every layer spikes: the toy
    samples alone leave this briefly trained net nearly silent."""
    from sim import Events
    from sim.model.io import save_events

    rng = np.random.default_rng(11)
    n = 540
    save_events(trained / "dense.h5", Events(np.sort(rng.uniform(0, 0.3, n)), rng.integers(0, 12, n)),
                n_channels=12)
    return trained / "dense.h5"


def test_validate_against_torch_and_exact(trained, dense, capsys):
    out = trained / "val"
    code = main(["validate", str(trained / "model.h5"), "--events", str(dense),
                 "--against", "torch,exact", "--out", str(out), "--quiet"])
    rep = json.loads((out / "validate.json").read_text())
    t = rep["peers"]["torch"]
    assert t["reference"] == "grid" and t["identity_expected"] and t["identical"], t
    assert all(v["spikes_a"] > 0 for v in t["comparison"]["layers"].values()), t["comparison"]["layers"]
    # exact vs grid: toy input times are off the grid, so identity is not expected (reported only)
    assert rep["peers"]["exact"]["identity_expected"] is False
    assert code == 0
    assert (out / "validate.md").exists() and (out / "torch" / "comparison.json").exists()


def test_validate_errors(trained, capsys):
    m = str(trained / "model.h5")
    assert main(["validate", m, "--events", str(trained / "data.h5"), "--sample", "0", "--against", "neuron",
                 "--out", str(trained / "x")]) == 2
    assert "neuron" in capsys.readouterr().err
    assert main(["validate", m, "--events", str(trained / "nope.h5"), "--out", str(trained / "x")]) == 2
    assert "nope.h5" in capsys.readouterr().err


def test_validate_bad_model_files(trained, tmp_path, capsys):
    ev = str(trained / "data.h5")
    assert main(["validate", str(tmp_path / "none.h5"), "--events", ev, "--sample", "0", "--out", str(tmp_path / "o")]) == 2
    assert "none.h5" in capsys.readouterr().err
    bad = tmp_path / "bad.h5"
    bad.write_text("not an HDF5 file")
    assert main(["validate", str(bad), "--events", ev, "--sample", "0", "--out", str(tmp_path / "o")]) == 2
    assert "bad.h5" in capsys.readouterr().err


@pytest.mark.peers
def test_validate_names_what_a_peer_cannot_express(trained, dense, capsys):
    # The toy model resets by subtraction: NEST has no twin. The error names it, exit 2, and
    # the torch result is still written.
    pytest.importorskip("nest")
    out = trained / "val_nest"
    code = main(["validate", str(trained / "model.h5"), "--events", str(dense),
                 "--against", "torch,nest", "--out", str(out), "--quiet"])
    assert code == 2
    assert "subtract" in capsys.readouterr().err
    rep = json.loads((out / "validate.json").read_text())
    assert rep["peers"]["torch"]["identical"] and "subtract" in rep["peers"]["nest"]["error"]


def test_conv_lateral_model_through_train_export_evaluate(tmp_path, capsys):
    # A conv layer (12 bands, kernel 3 -> 10 positions x 2 channels = 20 neurons) with
    # lateral groups per position, trained, exported and evaluated: grid == torch, rates
    # included. Regression: evaluate_torch divided a conv layer's spikes by its channels
    # per position (cfg.hidden) instead of its neurons, reporting 10x the grid's rate.
    from training.data.shd import write_shd
    from training.toy import make_toy_dataset

    cfg = RAW_CFG.replace("hidden = [16, 12]", "hidden = [2, 12]\nconv_layers = 1\nconv_kernel = [3]\n"
                                               "lateral = true\nlateral_scale = 0.5\nweight_scale = 4.0\nthreshold = 0.3")
    (tmp_path / "c.toml").write_text(cfg)
    assert main(["train", str(tmp_path / "c.toml"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["export", str(tmp_path / "run" / "best.pt"), "--out", str(tmp_path / "model.h5")]) == 0
    assert "conv kernel 18 values -> 60 synapses" in capsys.readouterr().out
    ds = make_toy_dataset(9, n_units=12, n_classes=3, duration_s=0.3, rng=np.random.default_rng(5))
    write_shd(tmp_path / "data.h5", ds)
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "model.h5"), str(tmp_path / "data.h5"), "--engines", "grid,torch",
                 "--out", str(out), "--quiet"]) == 0
    e = json.loads((out / "evaluate.json").read_text())["engines"]
    assert e["grid"]["predictions"] == e["torch"]["predictions"]
    assert e["grid"]["layer_rate_hz"] == pytest.approx(e["torch"]["layer_rate_hz"], rel=1e-12)
    assert e["grid"]["layer_rate_hz"]["hidden0"] > 0
