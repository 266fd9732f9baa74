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


def _twin_setup(tmp_path):
    """A toy task in SHD form, with 'noisy' inputs (events dropped, others added) and their
    clean twins."""
    from training.data.shd import SpikeDataset
    from training.toy import make_toy_dataset

    clean = make_toy_dataset(48, 8, 3, 0.3, np.random.default_rng(1), pattern_seed=5)
    rng = np.random.default_rng(2)
    times, units = [], []
    for t, u in zip(clean.times_s, clean.units):
        keep = rng.random(t.shape[0]) > 0.3
        extra_t, extra_u = rng.uniform(0, 0.3, 6), rng.integers(0, 8, 6)
        tt, uu = np.concatenate([t[keep], extra_t]), np.concatenate([u[keep], extra_u])
        o = np.argsort(tt, kind="stable")
        times.append(tt[o])
        units.append(uu[o])
    noisy = SpikeDataset(times, units, clean.labels, clean.speakers, 8, clean.class_names)
    raw = {"data": {"kind": "shd", "train": "unused", "valid": "unused", "test": "unused",
                    "train_twin": "unused", "dt_s": 0.01, "n_steps": 30},
           "model": {"hidden": [16], "max_delay_steps": 4, "dropout": 0.1},
           "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "seed": 3, "num_threads": 1,
                     "consistency": 1.0}}
    return raw, noisy, clean


@pytest.mark.parametrize("target", ["output", "hidden"])
def test_consistency_training_records_the_term_and_needs_the_twins(tmp_path, target):
    from training.config import config_from_dict as cfd

    raw, noisy, clean = _twin_setup(tmp_path)
    raw["train"]["consistency_target"] = target
    res = train(cfd(raw), tmp_path / target, datasets=(noisy, noisy, noisy), twin=clean, progress=False)
    cons = [h["train_consistency"] for h in res["history"]]
    assert len(cons) == 2 and all(c > 0 for c in cons)
    with pytest.raises(ValueError, match="not its clean twins"):
        train(cfd(raw), tmp_path / "bad", datasets=(noisy, noisy, noisy), twin=clean.subset(np.arange(40)),
              progress=False)
    with pytest.raises(ValueError, match="needs data.train_twin"):
        cfd({**raw, "data": {k: v for k, v in raw["data"].items() if k != "train_twin"}})
    with pytest.raises(ValueError, match="read only for train.consistency"):
        cfd({**raw, "train": {**raw["train"], "consistency": 0.0}})


def test_consistency_is_zero_for_the_same_response_and_the_clean_pass_changes_nothing():
    from training.config import config_from_dict as cfd
    from training.train import _clean_pass, build_model, consistency_loss

    raw = {"data": {"kind": "toy", "n_steps": 30}, "model": {"hidden": [16, 16], "max_delay_steps": 4,
                                                             "dropout": 0.5}, "train": {}}
    model = build_model(cfd(raw), 8, 3)
    model.train()
    x = (torch.rand(6, 30, 8, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = _clean_pass(model, x), _clean_pass(model, x)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # no dropout: the same input gives the same response; no gradient
    assert torch.equal(a["out"], b["out"]) and not a["out"].requires_grad
    for target in ("output", "hidden"):
        assert float(consistency_loss(a, b, target)) == pytest.approx(0.0, abs=1e-12)
    r = model(x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) > 0.5),
              generator=torch.Generator().manual_seed(2))
    for target in ("output", "hidden"):
        d = consistency_loss(r, a, target)
        assert float(d.detach()) > 0 and d.requires_grad
    assert float(consistency_loss(r, a, "hidden").detach()) <= 1.0


def test_distillation_reads_the_teachers_once_and_records_the_term(tmp_path):
    from training.config import config_from_dict as cfd
    from training.train import build_model, distill_loss, teacher_targets

    raw, noisy, clean = _twin_setup(tmp_path)
    raw["data"].pop("train_twin")
    raw["train"].pop("consistency")
    fe = {"encoder": "robust", "noise_margin_db": 8.0}
    clean.attrs["frontend"], noisy.attrs["frontend"] = dict(fe), dict(fe)
    train(cfd(raw), tmp_path / "teacher", datasets=(clean, clean, clean), progress=False)
    t_path = str(tmp_path / "teacher" / "best.pt")
    raw_s = {**raw, "train": {**raw["train"], "epochs": 3, "seed": 4, "distill": 2.0, "teachers": [t_path, t_path]}}
    res = train(cfd(raw_s), tmp_path / "student", datasets=(noisy, noisy, noisy), progress=False)
    dist = [h["train_distill"] for h in res["history"]]
    assert len(dist) == 3 and all(d > 0 for d in dist) and dist[-1] < dist[0]
    assert res["teachers"]["checkpoints"] == [t_path, t_path] and 0 <= res["teachers"]["train_accuracy_of_their_mean"] <= 1

    # the targets are the teacher's own mean-softmax distribution (two copies: the same mean)
    from training.binning import bin_dataset
    from training.losses import class_scores
    x = bin_dataset(noisy, 0.01, 30, 0.0, dtype=np.float32)
    student = build_model(cfd(raw_s), 8, 3)
    student.set_task(30, 0.0, "mean_softmax", dict(fe))
    p = teacher_targets([t_path, t_path], x, student)
    teacher = load_model(t_path)
    with torch.no_grad():
        own = class_scores(teacher(torch.from_numpy(x).to(teacher.dtype))["out"], "mean_softmax").double().numpy()
    np.testing.assert_allclose(p, own, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    # KL is zero against one's own distribution and positive against another
    with torch.no_grad():
        out = teacher(torch.from_numpy(x).to(teacher.dtype))["out"]
    assert float(distill_loss(out, torch.from_numpy(own))) == pytest.approx(0.0, abs=1e-9)
    assert float(distill_loss(out, torch.full_like(torch.from_numpy(own), 1 / 3))) > 0

    # a teacher of other inputs is refused with the reason; distill and teachers go together
    other = build_model(cfd(raw_s), 10, 3)
    other.set_task(30, 0.0, "mean_softmax")
    with pytest.raises(ValueError, match=r"train.teachers: .*best.pt has \(inputs, classes, dt_s, n_steps, rule\) "
                                         r"\(8, 3, 0.01, 30, 'mean_softmax'\), the network being trained \(10, 3"):
        teacher_targets([t_path], np.zeros((2, 30, 10), np.float32), other)
    student.set_task(30, 0.0, "mean_softmax", {**fe, "noise_margin_db": 4.0})
    with pytest.raises(ValueError, match=r"best.pt was trained on another front end than data.train's: "
                                         r"noise_margin_db 8.0 \(data 4.0\)"):
        teacher_targets([t_path], x, student)
    with pytest.raises(FileNotFoundError, match="train.teachers: checkpoint 'nope.pt' does not exist"):
        teacher_targets(["nope.pt"], x, student)
    with pytest.raises(ValueError, match="train.distill > 0 and train.teachers .* go together"):
        cfd({**raw, "train": {**raw["train"], "distill": 1.0}})
    with pytest.raises(ValueError, match="train.distill > 0 and train.teachers .* go together"):
        cfd({**raw, "train": {**raw["train"], "teachers": [t_path]}})
    with pytest.raises(ValueError, match="train.distill applies to .* 'mean_softmax' only"):
        cfd({**raw_s, "train": {**raw_s["train"], "loss": "max"}})


    # benchmarks.seed_ensemble: each checkpoint's accuracy and that of their mean distribution
    from benchmarks import seed_ensemble
    from training.data.shd import write_shd
    write_shd(tmp_path / "n.h5", noisy, attrs={"frontend": fe})
    write_shd(tmp_path / "m4.h5", noisy, attrs={"frontend": {**fe, "noise_margin_db": 4.0}})
    s_path = str(tmp_path / "student" / "best.pt")
    assert seed_ensemble.main(["--checkpoints", t_path, s_path, "--data", str(tmp_path / "n.h5"),
                               "--out", str(tmp_path / "ens")]) == 0
    row = json.loads((tmp_path / "ens" / "seed_ensemble.json").read_text())["rows"][0]
    y = np.asarray(noisy.labels)
    student.set_task(30, 0.0, "mean_softmax", dict(fe))
    d_s = teacher_targets([s_path], x, student)
    assert row["singles"] == [pytest.approx(float(np.mean(own.argmax(1) == y))),
                              pytest.approx(float(np.mean(d_s.argmax(1) == y)))]
    assert row["ensemble"] == pytest.approx(float(np.mean((own + d_s).argmax(1) == y)))
    assert seed_ensemble.main(["--checkpoints", t_path, s_path, "--data", str(tmp_path / "m4.h5"),
                               "--out", str(tmp_path / "ens2")]) == 2


def test_weight_average_follows_its_formula_and_copies_what_is_not_trained():
    from training.train import WeightAverage, build_model

    cfg = config_from_dict({**RAW, "model": {**RAW["model"], "batch_norm": True}})
    model = build_model(cfg, 8, 3)
    p0 = {n: q.detach().clone() for n, q in model.named_parameters() if q.requires_grad}
    avg = WeightAverage(model, 0.5)
    expect = dict(p0)
    for t in range(3):
        with torch.no_grad():
            for q in model.parameters():
                if q.requires_grad:
                    q.add_(torch.randn_like(q))
            model.threshold_0.fill_(1.0 + t)  # not trained: copied, never averaged
        avg.update(model)
        d = min(0.5, (1 + t) / (10 + t))
        cur = dict(model.named_parameters())
        expect = {n: d * expect[n] + (1 - d) * cur[n].detach() for n in expect}
    mine = dict(avg.model.named_parameters())
    for n, v in expect.items():
        torch.testing.assert_close(mine[n], v, rtol=1e-6, atol=1e-6)
        assert not mine[n].requires_grad
    assert torch.equal(avg.model.threshold_0, model.threshold_0) and float(avg.model.threshold_0[0]) == 3.0
    # batch-norm running statistics are averaged too (they are not trained values)
    assert any(n.endswith("running_mean") for n in avg._averaged)
    assert avg.steps == 3


def test_ema_training_keeps_the_averaged_network_and_resumes_it(tmp_path):
    from training.train import evaluate, load_datasets, _bin

    raw = {**RAW, "model": {**RAW["model"], "batch_norm": True},
           "train": {**RAW["train"], "ema": 0.9, "select": "last"}}
    cfg = config_from_dict(raw)
    full = train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "part", progress=False, stop_after_epochs=1)
    resumed = train(cfg, tmp_path / "part", resume=True, progress=False)
    a, b = (load_checkpoint(tmp_path / d / "last.pt") for d in ("full", "part"))
    for k in a["ema"]["model"]:
        assert torch.equal(a["ema"]["model"][k], b["ema"]["model"][k]), k
    assert a["ema"]["steps"] == b["ema"]["steps"] == 2 * 3  # 24 samples in batches of 8, two epochs
    assert resumed["accuracy"] == full["accuracy"]
    assert all(0 <= h["valid_accuracy_trained"] <= 1 for h in full["history"])
    # what is kept and evaluated is the average, not the trained weights
    best = load_checkpoint(tmp_path / "full" / "best.pt")["model"]
    w = next(k for k in best if k.endswith("weight") and best[k].dim() == 2)
    assert not torch.equal(best[w], a["model"][w])
    # select = "last": best.pt is the average after the last step, the network evaluated
    for k in a["ema"]["model"]:
        assert torch.equal(best[k], a["ema"]["model"][k]), k
    assert load_checkpoint(tmp_path / "full" / "best.pt")["epoch"] == full["selected_epoch"] == 2
    m = load_model(tmp_path / "full" / "best.pt")
    x, y = _bin(load_datasets(cfg)[2], cfg)
    ev = evaluate(m, x, y, 8, "mean_softmax")
    assert (ev["accuracy"], ev["loss"]) == (full["accuracy"]["test"], full["loss"]["test"])
    m.load_state_dict(a["model"])
    assert evaluate(m, x, y, 8, "mean_softmax")["loss"] != full["loss"]["test"]


def test_resume_trains_past_the_schedule_as_a_longer_run_would(tmp_path):
    # A finished 2-epoch run (constant learning rate, weight average) resumed with epochs = 3
    # and the schedules kept at 2 epochs ends where a fresh 3-epoch run with
    # schedule_epochs = 2 ends: same trained weights, same average, same history.
    base = {**RAW, "model": {**RAW["model"], "batch_norm": True},
            "train": {**RAW["train"], "lr_schedule": "constant", "ema": 0.9}}
    train(config_from_dict(base), tmp_path / "part", progress=False)
    longer = {**base, "train": {**base["train"], "epochs": 3, "schedule_epochs": 2}}
    with pytest.raises(ValueError, match=r"train.schedule_epochs: 2 -> 3.*set train.schedule_epochs = 2"):
        train(config_from_dict({**base, "train": {**base["train"], "epochs": 3}}), tmp_path / "part",
              resume=True, progress=False)
    # select may change on resume: it only decides what best.pt keeps from then on
    resumed = train(config_from_dict({**longer, "train": {**longer["train"], "select": "last"}}), tmp_path / "part",
                    resume=True, progress=False)
    assert load_checkpoint(tmp_path / "part" / "best.pt")["epoch"] == resumed["selected_epoch"] == 3
    full = train(config_from_dict(longer), tmp_path / "full", progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    a, b = (load_checkpoint(tmp_path / d / "last.pt") for d in ("full", "part"))
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in a["ema"]["model"]:
        assert torch.equal(a["ema"]["model"][k], b["ema"]["model"][k]), k
    timeless = lambda hist: [{k: v for k, v in h.items() if not k.endswith("_s")} for h in hist]  # noqa: E731
    assert timeless(resumed["history"]) == timeless(full["history"])
    # the kernel width held its final value in the third epoch; a 3-epoch schedule would not have
    assert full["history"][1]["sigma"] == full["history"][2]["sigma"]
    # fewer epochs than were run cannot be resumed
    with pytest.raises(ValueError, match=r"train.epochs: 3 -> 1"):
        train(config_from_dict({**base, "train": {**base["train"], "epochs": 1, "schedule_epochs": 1}}),
              tmp_path / "part", resume=True, progress=False)


@pytest.mark.parametrize("train_keys, match", [
    ({"epochs": 2, "schedule_epochs": 3, "lr_schedule": "constant"}, r"schedule_epochs \(3\) must not exceed"),
    ({"epochs": 3, "schedule_epochs": 2}, r"learning rate 0"),
])
def test_schedule_epochs_rejects_impossible_lengths(train_keys, match):
    with pytest.raises(ValueError, match=match):
        config_from_dict({**RAW, "train": {**RAW["train"], **train_keys}})


@pytest.mark.parametrize("select, kept_epoch", [("best_valid", 1), ("last", 3)])
def test_best_pt_holds_the_selected_network(select, kept_epoch, tmp_path, monkeypatch):
    # Validation made to worsen every epoch: best_valid keeps epoch 1 in best.pt, last keeps epoch 3.
    import training.train as tt
    real, calls = tt.evaluate, []

    def worsening(model, x, y, *a, **k):
        r = dict(real(model, x, y, *a, **k))
        calls.append(1)
        r["accuracy"] = 1.0 - 0.01 * len(calls)
        return r

    monkeypatch.setattr(tt, "evaluate", worsening)
    cfg = config_from_dict({**RAW, "train": {**RAW["train"], "epochs": 3, "select": select}})
    res = train(cfg, tmp_path, progress=False)
    ck = load_checkpoint(tmp_path / "best.pt")
    assert ck["epoch"] == res["selected_epoch"] == kept_epoch
    last = load_checkpoint(tmp_path / "last.pt")["model"]
    same = all(torch.equal(ck["model"][k], last[k]) for k in last)
    assert same == (select == "last")
    # stopped after two epochs under the other rule and resumed under this one: the same choice
    other = "last" if select == "best_valid" else "best_valid"
    train(config_from_dict({**RAW, "train": {**RAW["train"], "epochs": 3, "select": other}}), tmp_path / "switch",
          progress=False, stop_after_epochs=2)
    res = train(cfg, tmp_path / "switch", resume=True, progress=False)
    assert load_checkpoint(tmp_path / "switch" / "best.pt")["epoch"] == res["selected_epoch"] == kept_epoch
