"""The delay ablation collector groups <mode>_s<seed> runs and reports mean and sd per mode."""
import json

import numpy as np
import pytest

from benchmarks import delay_ablation_table as dat


def _run(root, name, acc, rate=4.0, params=100, epochs=15):
    d = root / name
    d.mkdir()
    (d / "results.json").write_text(json.dumps({
        "accuracy": {"test": acc}, "mean_hidden_rate_hz": {"test": rate}, "n_parameters": params,
        "train_time_s": 12.0, "config": {"train": {"epochs": epochs}, "data": {"test": "t.h5"}}}))


def test_modes_seeds_mean_and_sd(tmp_path):
    for seed, acc in enumerate([0.5, 0.6, 0.7]):
        _run(tmp_path, f"fixed_s{seed}", acc)
    _run(tmp_path, "learned_s0", 0.8, params=200)
    _run(tmp_path, "other_s0", 0.1)                    # not a delay mode: ignored
    (tmp_path / "none_s0").mkdir()                    # no results.json yet: ignored
    summary = dat.summarize(dat.collect(tmp_path))
    assert [s["mode"] for s in summary] == ["fixed", "learned"]
    fixed = summary[0]["accuracy"]["training test split"]
    assert fixed["per_seed"] == pytest.approx([50, 60, 70])
    assert fixed["mean"] == pytest.approx(60) and fixed["sd"] == pytest.approx(np.std([50, 60, 70], ddof=1))
    assert summary[1]["accuracy"]["training test split"]["sd"] is None
    assert summary[1]["n_parameters"] == 200
    text = dat.write_md(summary, tmp_path / "t.md", "cmd")
    assert "| `fixed` | 100 | 50.0 / 60.0 / 70.0 (**60.0 ± 10.0**)" in text


def test_no_runs_is_a_one_line_error(tmp_path, capsys):
    assert dat.main(["--runs", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no <mode>_s<seed> runs" in capsys.readouterr().err
