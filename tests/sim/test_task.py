"""The typed task record (sim.model.task.Task) on Network: validation, model format 2 round trip,
format-1 files still read, the one numpy decision rule, and a trained model exported and
then used by `axon classify` and `axon stream` with its own class names, step and rule
(issue 16: class names were lost, the frame defaulted to 0.01 s, the rule was ignored)."""
import csv
import dataclasses
import json

import h5py
import numpy as np
import pytest
import soundfile as sf

from sim import LIFLayer, Network, Projection, ReadoutLayer
from sim.errors import InputError
from sim.audio.frontend import FrontEndConfig
from sim.model.io import load_network, save_network
from sim.model.task import Task, class_scores, task_from_metadata

FE = FrontEndConfig(sample_rate_hz=16000, n_bands=6, f_min_hz=200.0, f_max_hz=4000.0)


def _net(task=None, metadata=None):
    rng = np.random.default_rng(0)
    n_in = FE.n_channels
    return Network(n_in, [LIFLayer("h", 8, 0.02)],
                   [Projection.dense("input", "h", rng.normal(0.4, 0.5, (8, n_in)), 0.002),
                    Projection.dense("h", "out", rng.normal(0, 1, (3, 8)), 0.001)],
                   readout=ReadoutLayer("out", 3, 0.05), metadata=metadata, task=task)


@pytest.mark.parametrize("kw, message", [
    (dict(dt_s=0.0), "Task.dt_s must be > 0"),
    (dict(dt_s=float("nan")), "Task.dt_s must be a finite number"),
    (dict(dt_s=0.01, n_steps=0), "Task.n_steps must be >= 1"),
    (dict(dt_s=0.01, n_steps=2.5), "Task.n_steps must be an integer"),
    (dict(dt_s=0.01, start_s=-1.0), "Task.start_s must be >= 0"),
    (dict(dt_s=0.01, decision_rule="vote"), "Task.decision_rule must be one of"),
    (dict(dt_s=0.01, class_names=["a", "a"]), "distinct"),
    (dict(dt_s=0.01, class_names="abc"), "list of strings"),
    (dict(dt_s=0.01, delay_rounding="floor"), "Task.delay_rounding"),
    (dict(dt_s=0.01, frontend={"n_bands": -1}), "Task.frontend"),
])
def test_task_validates_itself(kw, message):
    with pytest.raises(InputError, match=message):
        Task(**kw)


def test_task_is_frozen_and_checked_against_the_network():
    t = Task(0.01, 100, class_names=["a", "b", "c"], frontend=FE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.dt_s = 0.02
    assert t.window_s == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2 class names but the readout has 3"):
        _net(Task(0.01, class_names=["a", "b"]))
    with pytest.raises(ValueError, match="front end makes 10 channels"):
        _net(Task(0.01, frontend=FrontEndConfig(n_bands=5)))


def test_format_2_round_trip_and_format_1_still_read(tmp_path):
    t = Task(0.004, 50, 0.1, "per_step", ("zero", "one", "two"), frontend=FE)
    net = _net(t, metadata={"provenance": {"checkpoint": "/x/best.pt"}})
    save_network(tmp_path / "m.h5", net)
    with h5py.File(tmp_path / "m.h5") as f:
        assert int(f.attrs["format_version"]) == 2 and json.loads(f.attrs["task"])["decision_rule"] == "per_step"
    back = load_network(tmp_path / "m.h5")
    assert back.task == t and back == net and back.class_names == ["zero", "one", "two"]
    # A format-1 file as `axon export` wrote it: the task inside metadata['training'] and ['frontend']
    v1_meta = {"training": {"dt_s": 0.004, "n_steps": 50, "start_s": 0.1, "decision_rule": "per_step",
                            "class_names": ["zero", "one", "two"], "delay_rounding": "round_half_up"},
               "frontend": FE.to_dict()}
    save_network(tmp_path / "v1.h5", _net(None, metadata=v1_meta))
    with h5py.File(tmp_path / "v1.h5", "a") as f:
        f.attrs["format_version"] = 1
        del f.attrs["task"]
    old = load_network(tmp_path / "v1.h5")
    assert old.task == t
    assert old.class_names == ["zero", "one", "two"]  # regression: stream/classify read metadata['class_names']


def test_bad_task_in_a_file_names_the_attribute(tmp_path):
    save_network(tmp_path / "m.h5", _net(Task(0.01)))
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f.attrs["task"] = json.dumps({"dt_s": -1})
    with pytest.raises(InputError, match="m.h5: attribute 'task': Task.dt_s must be > 0"):
        load_network(tmp_path / "m.h5")


def test_task_from_metadata_lookup_order():
    assert task_from_metadata({}) is None
    t = task_from_metadata({"dt_s": 0.02, "window_s": 1.0, "class_names": ["x"], "training": {"dt_s": 0.01}})
    assert t.dt_s == 0.01 and t.n_steps == 100 and t.class_names == ("x",)


def test_class_scores_match_training_rule():
    torch = pytest.importorskip("torch")
    from training.losses import class_scores as torch_scores

    v = np.random.default_rng(3).normal(size=(7, 4))
    for rule in ("mean_softmax", "per_step", "max"):
        want = torch_scores(torch.from_numpy(v[None]), rule)[0].numpy()
        np.testing.assert_allclose(class_scores(v, rule), want, rtol=1e-12, atol=1e-12)
    with pytest.raises(InputError, match="readout must be"):
        class_scores(np.zeros((0, 3)))


# ----------------------------------------------------------------- export -> classify / stream

def write_checkpoint(d, names=("three", "seven", "nine"), rule="max"):
    """A random-init training checkpoint ``d/best.pt`` (front end FE, dt 8 ms, 100 steps)."""
    torch = pytest.importorskip("torch")
    from training.config import ModelConfig
    from training.model import SNN

    cfg = ModelConfig(hidden=[10], tau_mem_s=[0.02], tau_readout_s=0.03, delays="learned", max_delay_steps=4,
                      batch_norm=False, weight_scale=4.0, dtype="float64")
    names = list(names)
    m = SNN(FE.n_channels, len(names), cfg, 0.008, torch.Generator().manual_seed(0), class_names=names)
    ck = {"model": m.state_dict(), "config": _config_dict(cfg), "n_inputs": FE.n_channels,
          "n_classes": len(names), "class_names": names, "epoch": 0,
          "task": {"n_steps": 100, "start_s": 0.0, "decision_rule": rule, "frontend": FE.to_dict(),
                   "dataset": None}}
    torch.save(ck, d / "best.pt")
    return d / "best.pt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A (random-init) training model with a front end and word class names, exported to a file."""
    from bridge.export import export_checkpoint

    d = tmp_path_factory.mktemp("exported")
    names = ["three", "seven", "nine"]
    net = export_checkpoint(write_checkpoint(d, names), d / "model.h5")
    assert net.task.decision_rule == "max" and net.task.dt_s == 0.008
    rng = np.random.default_rng(1)
    for name in ("three", "nine"):
        (d / "words" / name).mkdir(parents=True)
        x = 0.2 * np.sin(2 * np.pi * 700 * np.arange(8000) / 16000) + 0.01 * rng.standard_normal(8000)
        sf.write(d / "words" / name / "a.wav", x, 16000)
    return d, names


def _config_dict(model_cfg):
    from training.config import Config, DataConfig, TrainConfig
    return Config(DataConfig.from_dict({"kind": "toy", "toy_units": 12, "toy_classes": 3, "dt_s": 0.008, "n_steps": 100}), model_cfg,
                  TrainConfig.from_dict({})).to_dict()


def test_export_then_classify_uses_names_step_and_rule(exported, tmp_path):
    from bridge.cli import main
    from sim.audio.classify import classify_audio

    d, names = exported
    net = load_network(d / "model.h5")
    x, fs = sf.read(d / "words" / "three" / "a.wav")
    r = classify_audio(net, x, fs)
    assert r["label"] in names and r["decision_rule"] == "max" and r["class_names"] == names
    # the rule is the recorded one (max of V), not mean softmax: scores are potentials, not probabilities
    r_ms = classify_audio(Network(net.n_inputs, net.layers, net.projections, net.laterals, net.readout,
                                  net.metadata, task=dataclasses.replace(net.task, decision_rule="mean_softmax")),
                          x, fs)
    assert abs(sum(r_ms["scores"]) - 1.0) < 1e-9 and r["scores"] != r_ms["scores"]
    # default frame = the training step (0.008 s) -> 100 readout samples over the 1 s window
    assert r == classify_audio(net, x, fs, frame_s=0.008)
    out = tmp_path / "pred.csv"
    assert main(["classify", str(d / "model.h5"), str(d / "words"), "--out", str(out), "--quiet",
                 "--scores", str(tmp_path / "scores.json")]) == 0
    rows = list(csv.DictReader(open(out)))
    assert {r["true_label"] for r in rows} == {"three", "nine"}  # folder names are class names, not numbers
    assert all(r["label"] in names for r in rows)
    sc = json.loads((tmp_path / "scores.json").read_text())
    assert sc["class_names"] == names and sc["decision_rule"] == "max"
    assert len(sc["files"]) == 2 and all(len(f["scores"]) == 3 for f in sc["files"])


def test_export_then_stream_uses_names_step_and_rule(exported, tmp_path):
    from bridge.cli import main

    d, names = exported
    x = np.concatenate([np.zeros(8000), 0.3 * np.sin(2 * np.pi * 700 * np.arange(12000) / 16000), np.zeros(16000)])
    sf.write(tmp_path / "s.wav", x, 16000)
    out = tmp_path / "run"
    assert main(["stream", str(d / "model.h5"), str(tmp_path / "s.wav"), "--out", str(out), "--quiet",
                 "--no-report"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["frame_s"] == pytest.approx(0.008)  # regression: was 0.01 whatever the model's step
    assert s["class_names"] == names and s["decision_rule"] == "max"
    header = next(csv.reader(open(out / "detections.csv")))
    assert header[-3:] == [f"score_{n}" for n in names]
