"""Every `axon` subcommand on a set of broken inputs (issue 16's error contract).

For each case: exit status 2, no traceback, the last line of stderr is
``axon <command>: error: ...``, and nothing left in the output location that claims to be
complete (no ``summary.json`` with status "complete", no result file of a single-file
command). README.md states how many cases this tries (``len(CASES)``; a test keeps the
two in step).
"""
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from bridge.cli import build_parser, main
from sim import Events
from sim.model.io import save_events, save_network
from tests.sim.test_stream import FS, small_network, tone_bursts

TOY = ('[data]\nkind = "toy"\ndt_s = 0.01\nn_steps = 20\ntoy_units = 8\ntoy_classes = 2\ntoy_samples = 12\n'
       '[model]\nhidden = [6]\nmax_delay_steps = 2\n[train]\nepochs = 1\nbatch_size = 6\nseed = 1\nnum_threads = 1\n')


def _tamper(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)


def _replace(f, name, data):
    del f[name]
    f.create_dataset(name, data=data)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """Valid files (model m.h5, events e.h5, sound t.wav, SHD data shd.h5, config c.toml,
    checkpoint best.pt, scenario s.toml) and broken ones, in one folder."""
    d = tmp_path_factory.mktemp("broken")
    net = small_network()
    save_network(d / "m.h5", net)
    n_in = net.n_inputs
    save_events(d / "e.h5", Events([0.01, 0.02], [0, 1]), n_channels=n_in)
    sf.write(d / "t.wav", tone_bursts(1.5), FS)
    raw = (d / "m.h5").read_bytes()
    (d / "trunc_model.h5").write_bytes(raw[: len(raw) // 2])
    (d / "empty.h5").write_bytes(b"")
    (d / "garbage.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    (d / "text.txt").write_text("not a model, not audio\n")
    (d / "a_dir").mkdir()
    (d / "empty_dir").mkdir()
    for name, fn in {
        "complex_model.h5": lambda f: _replace(f, "projections/0000/weight", f["projections/0000/weight"][()] * 1j),
        "str_inputs_model.h5": lambda f: f.attrs.__setitem__("n_inputs", "sixteen"),
        "nan_tau_model.h5": lambda f: _replace(f, "layers/h0/tau_mem_s", np.full(12, np.nan)),
        "neg_tau_model.h5": lambda f: _replace(f, "layers/h0/tau_mem_s", np.full(12, -0.01)),
        "bad_task_model.h5": lambda f: f.attrs.__setitem__("task", json.dumps({"dt_s": 0})),
        "bad_json_model.h5": lambda f: f.attrs.__setitem__("metadata", "{oops"),
        "future_model.h5": lambda f: f.attrs.__setitem__("format_version", 99),
        "no_layers_model.h5": lambda f: f.__delitem__("layers"),
        "bad_index_model.h5": lambda f: _replace(f, "projections/0000/pre_idx",
                                                  f["projections/0000/pre_idx"][()] + 1000),
    }.items():
        (d / name).write_bytes(raw)
        _tamper(d / name, fn)
    nofe = small_network()
    nofe.task = None
    nofe.metadata.clear()
    save_network(d / "no_task_model.h5", nofe)
    for name, (t, c) in {"unsorted_ev.h5": ([0.02, 0.01], [0, 1]), "negative_ev.h5": ([-0.01, 0.02], [0, 1]),
                         "wide_ev.h5": ([0.01, 0.02], [0, n_in + 5]), "nan_ev.h5": ([0.01, np.nan], [0, 1])}.items():
        save_events(d / name, Events([0.01, 0.02], [0, 1]))
        _tamper(d / name, lambda f, t=t, c=c: (_replace(f, "events/times_s", np.array(t, float)),
                                              _replace(f, "events/channels", np.array(c)),
                                              _replace(f, "events/values", np.ones(2))))
    with h5py.File(d / "shd.h5", "w") as f:  # SHD layout: sample 0 sorted, sample 1 not
        ts = f.create_dataset("spikes/times", shape=(2,), dtype=h5py.vlen_dtype(np.float64))
        us = f.create_dataset("spikes/units", shape=(2,), dtype=h5py.vlen_dtype(np.int64))
        ts[0], us[0] = np.array([0.01, 0.02]), np.array([0, 1])
        ts[1], us[1] = np.array([0.02, 0.01]), np.array([0, 1])
        f.create_dataset("labels", data=np.array([0, 1]))
    sf.write(d / "empty.wav", np.zeros(0), FS)
    wav = (d / "t.wav").read_bytes()
    (d / "trunc.wav").write_bytes(wav[: len(wav) // 2])
    (d / "words" / "low").mkdir(parents=True)
    (d / "words" / "low" / "e.wav").write_bytes((d / "empty.wav").read_bytes())
    (d / "c.toml").write_text(TOY)
    (d / "garbage.toml").write_text("[data\nkind = ")
    (d / "unknown.toml").write_text(TOY.replace("[model]", "[model]\nwings = 2"))
    (d / "negative.toml").write_text(TOY.replace("epochs = 1", "epochs = -1"))
    (d / "resume" ).mkdir()
    (d / "resume" / "last.pt").write_bytes(b"\x80\x04garbage")
    (d / "best.pt").write_bytes(b"PK\x03\x04truncated zip")
    (d / "s_garbage.toml").write_text("name = ")
    (d / "s_unknown.toml").write_text('name = "x"\nout = "o"\ncolour = 1\n[[step]]\nrun = "example --out {out}"\n')
    (d / "s_nosteps.toml").write_text('name = "x"\nout = "o"\n')
    (d / "s_failing.toml").write_text('name = "x"\nout = "o"\n[[step]]\nrun = "example --out {out} --duration -1"\n')
    (d / "raster_dir").mkdir()
    return d


# (id, argv with {d} = the folder above and {o} = a fresh output location of the case)
CASES = [
    # simulate
    *[(f"simulate-model-{m}", ["simulate", "{d}/" + m, "--events", "{d}/e.h5", "--out", "{o}"])
      for m in ("missing.h5", "empty.h5", "garbage.h5", "trunc_model.h5", "e.h5", "complex_model.h5",
                "str_inputs_model.h5", "nan_tau_model.h5", "neg_tau_model.h5", "bad_task_model.h5",
                "bad_json_model.h5", "future_model.h5", "no_layers_model.h5", "bad_index_model.h5", "a_dir",
                "text.txt")],
    *[(f"simulate-events-{e}", ["simulate", "{d}/m.h5", "--events", "{d}/" + e, "--out", "{o}"])
      for e in ("missing.h5", "garbage.h5", "m.h5", "unsorted_ev.h5", "negative_ev.h5", "wide_ev.h5", "nan_ev.h5")],
    ("simulate-shd-no-sample", ["simulate", "{d}/m.h5", "--events", "{d}/shd.h5", "--out", "{o}"]),
    ("simulate-shd-sample-range", ["simulate", "{d}/m.h5", "--events", "{d}/shd.h5", "--sample", "7", "--out", "{o}"]),
    ("simulate-shd-unsorted", ["simulate", "{d}/m.h5", "--events", "{d}/shd.h5", "--sample", "1", "--out", "{o}"]),
    ("simulate-sample-axon-events", ["simulate", "{d}/m.h5", "--events", "{d}/e.h5", "--sample", "0", "--out", "{o}"]),
    *[(f"simulate-{opt}-{v}", ["simulate", "{d}/m.h5", "--events", "{d}/e.h5", "--out", "{o}", opt, v])
      for opt, v in (("--duration", "-1"), ("--duration", "nan"), ("--duration", "0"), ("--duration", "inf"),
                     ("--chunk", "0"), ("--readout-interval", "0"), ("--readout-interval", "nan"))],
    # stream
    *[(f"stream-model-{m}", ["stream", "{d}/" + m, "{d}/t.wav", "--out", "{o}", "--quiet"])
      for m in ("missing.h5", "garbage.h5", "trunc_model.h5", "complex_model.h5", "no_task_model.h5", "e.h5")],
    *[(f"stream-audio-{a}", ["stream", "{d}/m.h5", "{d}/" + a, "--out", "{o}", "--quiet"])
      for a in ("missing.wav", "empty.wav", "text.txt", "a_dir", "trunc.wav")],
    *[(f"stream-{opt}-{v}", ["stream", "{d}/m.h5", "{d}/t.wav", "--out", "{o}", "--quiet", opt, v])
      for opt, v in (("--block", "0"), ("--frame", "0"), ("--frame", "-1"), ("--frame", "0.0123"), ("--bin", "-1"),
                     ("--bin", "0.015"), ("--costs", "plutonium"), ("--on-rate", "-1"), ("--window", "0"),
                     ("--max-audio", "0"), ("--raster-start", "-1"), ("--min-score", "nan"))],
    # classify
    *[(f"classify-model-{m}", ["classify", "{d}/" + m, "{d}/t.wav", "--out", "{o}.csv", "--quiet"])
      for m in ("missing.h5", "garbage.h5", "complex_model.h5", "no_task_model.h5")],
    *[(f"classify-input-{a}", ["classify", "{d}/m.h5", "{d}/" + a, "--out", "{o}.csv", "--quiet"])
      for a in ("missing.wav", "empty.wav", "text.txt", "trunc.wav", "empty_dir", "words")],
    *[(f"classify-{opt}-{v}", ["classify", "{d}/m.h5", "{d}/t.wav", "--out", "{o}.csv", "--quiet", opt, v])
      for opt, v in (("--frame", "0"), ("--frame", "-1"), ("--frame", "nan"), ("--frame", "5"),
                     ("--scores", "{o}.txt"))],
    # report
    ("report-missing", ["report", "{d}/nowhere"]),
    ("report-no-summary", ["report", "{d}/empty_dir"]),
    ("report-file", ["report", "{d}/text.txt"]),
    # train
    ("train-missing-config", ["train", "{d}/missing.toml", "--out", "{o}"]),
    ("train-garbage-config", ["train", "{d}/garbage.toml", "--out", "{o}"]),
    ("train-unknown-field", ["train", "{d}/unknown.toml", "--out", "{o}"]),
    ("train-negative-epochs", ["train", "{d}/negative.toml", "--out", "{o}"]),
    ("train-bad-set", ["train", "{d}/c.toml", "--out", "{o}", "--set", "nonsense"]),
    ("train-set-unknown", ["train", "{d}/c.toml", "--out", "{o}", "--set", "model.wings=2"]),
    ("train-resume-nothing", ["train", "{d}/c.toml", "--out", "{o}", "--resume"]),
    ("train-resume-corrupt", ["train", "{d}/c.toml", "--out", "{d}/resume", "--resume"]),
    ("train-exists-no-resume", ["train", "{d}/c.toml", "--out", "{d}/resume"]),
    # export
    ("export-missing", ["export", "{d}/missing.pt", "--out", "{o}.h5"]),
    ("export-dir", ["export", "{d}/a_dir", "--out", "{o}.h5"]),
    ("export-corrupt", ["export", "{d}/best.pt", "--out", "{o}.h5"]),
    ("export-text", ["export", "{d}/text.txt", "--out", "{o}.h5"]),
    # evaluate
    ("evaluate-model-missing", ["evaluate", "{d}/missing.h5", "{d}/shd.h5", "--out", "{o}"]),
    ("evaluate-model-garbage", ["evaluate", "{d}/garbage.h5", "{d}/shd.h5", "--out", "{o}"]),
    ("evaluate-no-task", ["evaluate", "{d}/no_task_model.h5", "{d}/shd.h5", "--out", "{o}"]),
    ("evaluate-data-missing", ["evaluate", "{d}/m.h5", "{d}/missing.h5", "--out", "{o}"]),
    ("evaluate-data-garbage", ["evaluate", "{d}/m.h5", "{d}/garbage.h5", "--out", "{o}"]),
    ("evaluate-data-unsorted", ["evaluate", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}"]),
    ("evaluate-engines", ["evaluate", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}", "--engines", "warp"]),
    ("evaluate-max-samples", ["evaluate", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}", "--max-samples", "0"]),
    ("evaluate-torch-no-checkpoint", ["evaluate", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}", "--engines", "torch"]),
    # validate
    ("validate-model-missing", ["validate", "{d}/missing.h5", "--events", "{d}/e.h5", "--out", "{o}"]),
    ("validate-model-complex", ["validate", "{d}/complex_model.h5", "--events", "{d}/e.h5", "--out", "{o}"]),
    ("validate-events-unsorted", ["validate", "{d}/m.h5", "--events", "{d}/unsorted_ev.h5", "--out", "{o}"]),
    ("validate-against", ["validate", "{d}/m.h5", "--events", "{d}/e.h5", "--out", "{o}", "--against", "pyNN"]),
    ("validate-dt-zero", ["validate", "{d}/m.h5", "--events", "{d}/e.h5", "--out", "{o}", "--dt", "0"]),
    ("validate-dt-negative", ["validate", "{d}/m.h5", "--events", "{d}/e.h5", "--out", "{o}", "--dt", "-1"]),
    ("validate-no-dt", ["validate", "{d}/no_task_model.h5", "--events", "{d}/e.h5", "--out", "{o}"]),
    ("validate-duration", ["validate", "{d}/m.h5", "--events", "{d}/e.h5", "--out", "{o}", "--duration", "-1"]),
    # example
    *[(f"example-{opt}-{v}", ["example", "--out", "{o}", opt, v])
      for opt, v in (("--duration", "0"), ("--duration", "-1"), ("--duration", "nan"), ("--rate", "-1"),
                     ("--dt", "0"), ("--min-delay-steps", "2"))],
    ("example-out-is-file", ["example", "--out", "{d}/text.txt/x"]),
    # data
    ("data-none", ["data"]),
    ("data-info-missing", ["data", "info", "{d}/missing.h5"]),
    ("data-info-garbage", ["data", "info", "{d}/garbage.h5"]),
    ("data-info-model", ["data", "info", "{d}/m.h5"]),
    ("data-info-unsorted", ["data", "info", "{d}/shd.h5"]),
    ("data-synth-size", ["data", "synth", "--out", "{o}", "--size", "huge"]),
    ("data-synth-workers", ["data", "synth", "--out", "{o}", "--workers", "0"]),
    ("data-synth-seed", ["data", "synth", "--out", "{o}", "--seed", "-1"]),
    ("data-gsc-missing", ["data", "gsc", "{d}/nowhere", "--out", "{o}"]),
    ("data-gsc-empty", ["data", "gsc", "{d}/empty_dir", "--out", "{o}"]),
    ("data-speech-minutes", ["data", "speech", "--out", "{o}.wav", "--minutes", "0"]),
    ("data-speech-not-wav", ["data", "speech", "--out", "{o}.txt"]),
    ("data-speech-voices", ["data", "speech", "--out", "{o}.wav", "--voices", "0"]),
    # run
    ("run-missing", ["run", "{d}/missing.toml"]),
    ("run-garbage", ["run", "{d}/s_garbage.toml"]),
    ("run-unknown-field", ["run", "{d}/s_unknown.toml"]),
    ("run-no-steps", ["run", "{d}/s_nosteps.toml"]),
    ("run-failing-step", ["run", "{d}/s_failing.toml", "--out", "{o}"]),
    # nir
    ("nir-none", ["nir"]),
    ("nir-import-text", ["nir", "import", "{d}/text.txt", "--out", "{o}.h5"]),
    ("nir-import-model", ["nir", "import", "{d}/m.h5", "--out", "{o}.h5"]),
    ("nir-import-missing", ["nir", "import", "{d}/missing.nir", "--out", "{o}.h5"]),
    ("nir-export-missing", ["nir", "export", "{d}/missing.h5", "--out", "{o}.nir"]),
    ("nir-export-no-dt", ["nir", "export", "{d}/no_task_model.h5", "--out", "{o}.nir"]),
    # sweep
    ("sweep-no-set", ["sweep", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}"]),
    ("sweep-bad-param", ["sweep", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}", "--set", "h0.weight=1"]),
    ("sweep-bad-value", ["sweep", "{d}/m.h5", "{d}/shd.h5", "--out", "{o}", "--set", "h0.threshold=-1"]),
    ("sweep-no-task", ["sweep", "{d}/no_task_model.h5", "{d}/shd.h5", "--out", "{o}", "--set", "h0.threshold=1"]),
    # --workers / --dask
    ("classify-workers-zero", ["classify", "{d}/m.h5", "{d}/t.wav", "--out", "{o}.csv", "--workers", "0"]),
    ("stream-workers-and-dask", ["stream", "{d}/m.h5", "{d}/t.wav", "--out", "{o}", "--workers", "2",
                                 "--dask", "tcp://127.0.0.1:9"]),
    # bench
    ("bench-duration", ["bench", "--out", "{o}", "--duration", "-1"]),
    ("bench-engines", ["bench", "--out", "{o}", "--engines", "warp"]),
    ("bench-dt", ["bench", "--out", "{o}", "--dt", "0"]),
]


def test_every_subcommand_is_covered():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(sub) == {argv[0] for _, argv in CASES}


def test_readme_states_the_number_of_cases():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    m = re.search(r"(\d+) broken inputs", readme)
    assert m and int(m.group(1)) == len(CASES), "README.md must say how many broken inputs the test tries"


def _claims_complete(o: Path) -> list[str]:
    bad = []
    for p in [o, Path(f"{o}.csv"), Path(f"{o}.h5"), Path(f"{o}.txt"), Path(f"{o}.wav")]:
        if p.is_file():
            bad.append(str(p))
        elif p.is_dir():
            for s in p.rglob("summary.json"):
                try:
                    status = json.loads(s.read_text()).get("status")
                except (ValueError, AttributeError):
                    status = None
                if status in (None, "complete"):
                    bad.append(f"{s} (status {status!r})")
            for name in ("model.h5", "events.h5", "spikes.h5", "predictions.csv", "best.pt", "results.json",
                         "evaluate.json", "validate.json", "bench.json"):
                bad += [str(q) for q in p.rglob(name)]
    return bad


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_broken_input(case, d, tmp_path, capsys):
    name, argv = case
    o = tmp_path / "out"
    args = [a.replace("{d}", str(d)).replace("{o}", str(o)) for a in argv]
    rc = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert rc == 2, f"exit {rc}; stderr: {err}"
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last.startswith(f"axon {args[0]}: error: "), err
    assert "np.float64(" not in err and "np.int64(" not in err, err
    assert not _claims_complete(o), _claims_complete(o)
