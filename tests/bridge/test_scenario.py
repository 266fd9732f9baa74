"""`axon run SCENARIO.toml`: steps run in order, finished steps are skipped, failures stop and are recorded."""
import json
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]

SMALL = """
name = "small"
out = "{out_dir}"
[[step]]
title = "network"
run = "example --out {{out}} --duration 0.2 --no-lateral"
creates = "{{out}}/events.h5"
[[step]]
title = "simulate"
run = "simulate {{out}}/model.h5 --events {{out}}/events.h5 --out {{out}}/run --duration 0.2 --quiet"
creates = "{{out}}/run/summary.json"
"""


def test_scenario_runs_then_skips_finished_steps(tmp_path, capsys):
    sc = tmp_path / "s.toml"
    sc.write_text(SMALL.format(out_dir=tmp_path / "o"))
    assert main(["run", str(sc)]) == 0
    rec = json.loads((tmp_path / "o" / "scenario.json").read_text())
    assert [s["status"] for s in rec["steps"]] == ["ok", "ok"]
    assert (tmp_path / "o" / "run" / "raster.png").exists()
    # CPU time per step and in all (what a step costs, whatever else the machine runs)
    assert all(s["cpu_s"] > 0 for s in rec["steps"])
    assert sum(s["cpu_s"] for s in rec["steps"]) <= rec["cpu_s"] + 0.05
    assert "s of CPU" in (tmp_path / "o" / "index.md").read_text()
    assert main(["run", str(sc)]) == 0
    rec = json.loads((tmp_path / "o" / "scenario.json").read_text())
    assert [s["status"] for s in rec["steps"]] == ["skipped", "skipped"]


def test_failed_step_stops_the_scenario_and_is_recorded(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text(f"""name = "bad"\nout = "{tmp_path / 'o'}"
[[step]]\nrun = "simulate {{out}}/missing.h5 --events {{out}}/e.h5 --out {{out}}/r"
[[step]]\nrun = "example --out {{out}}"\n""")
    assert main(["run", str(sc)]) == 2
    rec = json.loads((tmp_path / "o" / "scenario.json").read_text())
    assert len(rec["steps"]) == 1 and rec["steps"][0]["status"] == "failed (exit 2)"


@pytest.mark.parametrize("text, message", [
    ("name = 'x'\nout = 'o'\n", "at least one"),
    ("name = 'x'\n[[step]]\nrun = 'example'\n", "'out' must be"),
    ("name = 'x'\nout = 'o'\n[[step]]\ntitle = 'no command'\n", "needs a 'run'"),
    ("name = 'x'\nout = 'o'\nsteps = 1\n", "unknown field"),
    ("name = 'x'\nout = 'o'\n[[step]]\nrun = 'example'\nwhen = 1\n", "unknown field"),
    ("name = [\n", "not valid TOML"),
])
def test_bad_scenario_files_are_named(tmp_path, text, message):
    p = tmp_path / "s.toml"
    p.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_scenario(p)


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scenario_is_valid(path):
    from bridge.cli import build_parser
    sc = load_scenario(path)
    assert sc.minutes is not None, f"{path.name}: say how long it takes ('minutes')"
    parser = build_parser()
    for step in sc.steps:
        import shlex
        parser.parse_args(shlex.split(sc.expand(step.run)))  # every step is a valid axon command line


def test_example_writes_the_variant_peers_can_express(tmp_path):
    # --reset zero --min-delay-steps 1 --no-lateral: the reference network NEST can run.
    from sim.model.io import load_events, load_network

    assert main(["example", "--out", str(tmp_path), "--duration", "0.5", "--dt", "1e-3", "--no-lateral",
                 "--reset", "zero", "--min-delay-steps", "1"]) == 0
    net = load_network(tmp_path / "model.h5")
    assert not net.laterals and all(l.reset == "zero" for l in net.layers)
    assert min(float(p.delay_s.min()) for p in net.projections) == pytest.approx(1e-3)
    ev = load_events(tmp_path / "events.h5")
    assert len(ev) > 0 and ev.times_s.max() < 0.5
    assert main(["example", "--out", str(tmp_path / "x"), "--min-delay-steps", "1"]) == 2   # needs --dt


def test_failed_step_output_is_kept_aside_and_the_step_reruns(tmp_path):
    # A step may write its `creates` file and still fail (axon validate writes its report,
    # then exits 1 when a pair that must be identical is not): the file must not mark the
    # step done. Here the file is left by an earlier run and the forced step fails.
    out = tmp_path / "o"
    out.mkdir()
    (out / "r.md").write_text("from a failed run")
    sc = tmp_path / "s.toml"
    sc.write_text(f"""name = "x"\nout = "{out}"
[[step]]\nrun = "simulate {{out}}/missing.h5 --events {{out}}/e.h5 --out {{out}}/r"\ncreates = "{{out}}/r.md"\n""")
    # creates exists, so the first run skips it; force it to run: it fails and sets the file aside
    assert main(["run", str(sc), "--force"]) == 2
    rec = json.loads((out / "scenario.json").read_text())
    assert rec["steps"][0]["status"] == "failed (exit 2)"
    assert not (out / "r.md").exists() and (out / "r.md.failed").read_text() == "from a failed run"
    assert main(["run", str(sc)]) == 2           # not skipped this time: it runs (and fails) again


def test_index_links_every_page_and_figure_of_every_step(tmp_path):
    """The scenario ends with one Markdown page linking what each step wrote (issue 16, the demo)."""
    sc = tmp_path / "s.toml"
    sc.write_text(SMALL.format(out_dir=tmp_path / "o"))
    assert main(["run", str(sc)]) == 0
    index = (tmp_path / "o" / "index.md").read_text()
    assert "## 2. simulate" in index
    for rel in ("run/raster.png", "run/summary.md"):
        assert (tmp_path / "o" / rel).exists() and f"]({rel})" in index, rel


def test_demo_shows_cross_validation_and_a_stream():
    sc = load_scenario(REPO / "scenarios" / "demo.toml")
    cmds = [s.run.split()[0] for s in sc.steps]
    assert "validate" in cmds and "stream" in cmds and "speech" in " ".join(s.run for s in sc.steps)
    v = next(s.run for s in sc.steps if s.run.startswith("validate"))
    assert "brian2" in v


def test_demo_trains_the_robust_quick_config_on_the_data_it_makes():
    """Issue 12: the demo and quick.toml use the robust setting, and quick.toml reads the
    files that the demo's data step writes."""
    from training.config import load_config

    sc = load_scenario(REPO / "scenarios" / "demo.toml")
    data_step = next(s for s in sc.steps if s.run.startswith("data synth"))
    assert "--recipe robust" in data_step.run and "--no-augment" not in data_step.run
    folder = data_step.run.split("--out ")[1].split()[0]
    train_step = next(s for s in sc.steps if s.run.startswith("train"))
    cfg, _ = load_config(REPO / train_step.run.split()[1])
    for path in (cfg.data.train, cfg.data.valid, cfg.data.test):
        assert str(path).startswith(folder + "/"), path
    assert cfg.data.test.endswith("synth_test_family.h5")   # tested on held-out voice families
    assert cfg.train.band_masks > 0 and cfg.train.time_masks > 0
    assert any(s.run.startswith("evaluate") and "_10db.h5" in s.run for s in sc.steps)
