"""Training loop: checkpoints, resume, report files, the ``axon train`` command."""
import json

import numpy as np
import pytest
import torch

from training.config import config_from_dict
from training.train import load_checkpoint, load_model, sigma_at, train

RAW = {
    "data": {"kind": "toy", "dt_s": 0.01, "n_steps": 30, "toy_units": 8, "toy_classes": 3, "toy_samples": 24},
    "model": {"hidden": [16], "max_delay_steps": 4, "dropout": 0.1},
    "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "rate_reg": 0.1, "seed": 3, "num_threads": 1},
}


def test_resume_after_kill_equals_uninterrupted_run(tmp_path):
    cfg = config_from_dict(RAW)
    full = train(cfg, tmp_path / "full", progress=False)
    # "Killed" after one epoch: only last.pt of epoch 1 exists.
    part = train(cfg, tmp_path / "part", progress=False, stop_after_epochs=1)
    assert part == {"stopped": True, "epoch": 1}
    assert load_checkpoint(tmp_path / "part" / "last.pt")["epoch"] == 1
    assert not (tmp_path / "part" / "results.json").exists()
    with pytest.raises(ValueError, match="--resume"):
        train(cfg, tmp_path / "part", progress=False)
    resumed = train(cfg, tmp_path / "part", resume=True, progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "last.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert resumed["accuracy"] == full["accuracy"]
    # no temporary files left behind by the atomic writes
    assert not [p for p in (tmp_path / "part").iterdir() if ".tmp" in p.name]


def test_resume_refuses_changed_config(tmp_path):
    cfg = config_from_dict(RAW)
    train(cfg, tmp_path, progress=False, stop_after_epochs=1)
    raw = {k: dict(v) for k, v in RAW.items()}
    raw["train"]["lr"] = 0.02
    with pytest.raises(ValueError, match=r"train.lr: 0.01 -> 0.02"):
        train(config_from_dict(raw), tmp_path, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(cfg, tmp_path / "other", resume=True, progress=False)


def test_report_files_and_model_reload(tmp_path):
    res = train(config_from_dict(RAW), tmp_path, progress=False)
    for f in ("results.json", "report.md", "curves.png", "delays.png", "best.pt", "last.pt", "config.toml"):
        assert (tmp_path / f).stat().st_size > 0, f
    js = json.loads((tmp_path / "results.json").read_text())
    assert set(js["accuracy"]) == {"train", "valid", "test"}
    assert js["seeds"]["init"] == 3 and len(js["rate_hz"]["test"]) == 1
    assert js["delays"][0]["max_delay_steps"] == 4 and sum(js["delays"][0]["histogram"]) == 16 * 8
    assert "| test |" in (tmp_path / "report.md").read_text()
    m = load_model(tmp_path / "best.pt")
    assert all(p.rounded for p in m.delay_projections()) and not m.training
    e = m.export_dict()
    assert e["n_inputs"] == 8 and e["layers"][0]["size"] == 16
    assert 0.0 <= res["accuracy"]["test"] <= 1.0


def test_sigma_schedule():
    assert sigma_at(0.0, 10.0, 0.5, 0.5) == 10.0
    assert sigma_at(0.5, 10.0, 0.5, 0.5) == pytest.approx(0.5)
    assert sigma_at(1.0, 10.0, 0.5, 0.5) == pytest.approx(0.5)
    assert sigma_at(0.25, 10.0, 0.5, 0.5) == pytest.approx(np.sqrt(10 * 0.5))
    assert sigma_at(0.25, 10.0, 0.0, 0.5) == pytest.approx(5.0)


def test_axon_train_command(tmp_path, capsys):
    from bridge.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nkind = "toy"\nn_steps = 20\ntoy_samples = 12\n'
                   '[model]\nhidden = [8]\nmax_delay_steps = 3\n[train]\nepochs = 1\nnum_threads = 1\n')
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "results.json").exists()
    # --quiet drops the progress bars, not the one-line result
    assert capsys.readouterr().out.splitlines()[-1].startswith("test accuracy (rounded delays) ")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 2  # exists, no --resume
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet", "--resume"]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nhidden = [8]\nlayers = 2\n')
    assert main(["train", str(bad), "--out", str(tmp_path / "x")]) == 2


def test_export_carries_what_the_simulator_needs_to_classify(tmp_path):
    """dt_s, n_steps, start_s, decision rule, class names and the data's front end leave
    training with the model (bridge/export builds the model file from them)."""
    from sim.audio.frontend import FrontEndConfig
    from training.train import load_datasets

    raw = {k: dict(v) for k, v in RAW.items()}
    raw["data"]["start_s"] = 0.02
    raw["train"]["loss"] = "per_step"
    cfg = config_from_dict(raw)
    sets = load_datasets(cfg)
    fe = FrontEndConfig(n_bands=4).to_dict()
    for ds in sets:
        ds.attrs = {"frontend": fe, "kind": "toy with a front end"}
    train(cfg, tmp_path, datasets=sets, progress=False)
    e = load_model(tmp_path / "best.pt").export_dict()
    assert e["dt_s"] == 0.01 and e["n_steps"] == 30 and e["start_s"] == 0.02
    assert e["readout_decision"] == "per_step" and e["frontend"] == fe
    assert e["class_names"] == ["class0", "class1", "class2"]
    tr = e["metadata"]["training"]
    assert tr == {"dt_s": 0.01, "n_steps": 30, "start_s": 0.02, "decision_rule": "per_step",
                  "delay_rounding": "round_half_up", "batch_norm_folded": True}
    assert e["metadata"]["frontend"] == fe and e["metadata"]["dataset"]["n_samples"]["train"] == 24
    assert e["metadata"]["dataset"]["source_kind"] == "toy with a front end"
    json.dumps(e["metadata"])  # JSON-ready, as a model file stores it
    # bridge.evaluate reads the same section
    from bridge.evaluate import ReadoutProtocol
    p = ReadoutProtocol.from_metadata(e["metadata"])
    assert (p.dt_s, p.n_steps, p.start_s, p.rule) == (0.01, 30, 0.02, "per_step")
    # splits encoded with different front ends are refused
    sets[2].attrs = {"frontend": FrontEndConfig(n_bands=5).to_dict()}
    with pytest.raises(ValueError, match="data.test: its front-end settings differ"):
        train(cfg, tmp_path / "other", datasets=sets, progress=False)


def test_set_task_errors():
    from training.config import ModelConfig
    from training.model import SNN

    m = SNN(4, 2, ModelConfig(hidden=[3], max_delay_steps=2), 0.01)
    e = m.export_dict()
    assert e["n_steps"] is None and e["readout_decision"] is None  # unknown until set
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1, got 0"):
        m.set_task(0, 0.0, "max")
    with pytest.raises(ValueError, match="start_s must be a finite number >= 0, got -1.0"):
        m.set_task(10, -1.0, "max")
    with pytest.raises(ValueError, match="decision_rule must be one of .* got 'vote'"):
        m.set_task(10, 0.0, "vote")
    m.set_task(10, 0.5, "max", frontend={"n_bands": 2})
    assert m.export_dict()["n_steps"] == 10 and m.export_dict()["frontend"] == {"n_bands": 2}


def test_missing_data_file_names_field_and_path(tmp_path):
    from training.train import load_datasets

    cfg = config_from_dict({"data": {"kind": "shd", "train": str(tmp_path / "d" / "synth_train.h5"),
                                     "valid": "v.h5", "test": "t.h5"}})
    with pytest.raises(ValueError, match=r"data.train: file '.*synth_train.h5' does not exist "
                                         r"\(make it with: axon data synth --out .*d\)"):
        load_datasets(cfg)
