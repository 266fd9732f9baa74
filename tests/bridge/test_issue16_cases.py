"""Each case of issue 16 ("what a new user tripped over"), as the user met it: the command,
its exit status, its one-line message, and what it leaves on disk."""
import json
import os
import sys

import h5py
import numpy as np
import pytest
import soundfile as sf

from bridge.cli import main
from sim.model.io import load_network, save_events, save_network
from tests.sim.test_stream import FS, small_network, tone_bursts


@pytest.fixture(scope="module")
def stream_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cases")
    save_network(d / "m.h5", small_network())
    sf.write(d / "t.wav", tone_bursts(3.0), FS)
    sf.write(d / "empty.wav", np.zeros(0), FS)
    raw = (d / "t.wav").read_bytes()
    (d / "trunc.wav").write_bytes(raw[: len(raw) // 2])  # header declares more frames than follow
    return d


def _err(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ----------------------------------------------------------------- tracebacks -> one line

def test_stream_empty_wav(stream_files, tmp_path, capsys):
    """Was: TypeError after writing a summary.json saying "complete"."""
    out = tmp_path / "run"
    assert main(["stream", str(stream_files / "m.h5"), str(stream_files / "empty.wav"), "--out", str(out),
                 "--quiet"]) == 2
    assert "no audio samples" in _err(capsys)
    assert not (out / "summary.json").exists()


def test_classify_empty_and_truncated_wav(stream_files, tmp_path, capsys):
    """Was: class 0 predicted for an empty file, a truncated one classified without a word."""
    for name, message in (("empty.wav", "no audio samples"), ("trunc.wav", "truncated")):
        out = tmp_path / f"{name}.csv"
        assert main(["classify", str(stream_files / "m.h5"), str(stream_files / name), "--out", str(out),
                     "--quiet"]) == 2
        assert message in _err(capsys)
        assert not out.exists()


@pytest.mark.parametrize("frame", ["0", "-1", "nan"])
def test_classify_bad_frame(stream_files, tmp_path, capsys, frame):
    """Was: ZeroDivisionError (0) and a message about sample_times_s (-1)."""
    assert main(["classify", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out",
                 str(tmp_path / "p.csv"), "--frame", frame, "--quiet"]) == 2
    err = _err(capsys)
    assert "--frame" in err and "sample_times_s" not in err


def test_report_on_foreign_and_truncated_folders(stream_files, tmp_path, capsys):
    """Was: KeyError 'status' (a simulate folder, an unexpected summary.json), BadZipFile."""
    from tests.reference.random_networks import random_events, random_network

    rng = np.random.default_rng(3)
    net = random_network(rng, readout=True)
    save_network(tmp_path / "r.h5", net)
    save_events(tmp_path / "e.h5", random_events(rng, net.n_inputs, 0.05), n_channels=net.n_inputs)
    assert main(["simulate", str(tmp_path / "r.h5"), "--events", str(tmp_path / "e.h5"), "--out",
                 str(tmp_path / "sim"), "--quiet", "--duration", "0.05"]) == 0
    assert main(["report", str(tmp_path / "sim")]) == 2
    assert "not a summary written by `axon stream`" in _err(capsys)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "summary.json").write_text('["a list"]')
    assert main(["report", str(tmp_path / "odd")]) == 2
    _err(capsys)
    run = tmp_path / "run"
    assert main(["stream", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out", str(run), "--quiet",
                 "--no-report", "--frame", "0.01"]) == 0
    raw = (run / "raster.npz").read_bytes()
    (run / "raster.npz").write_bytes(raw[: len(raw) // 2])
    assert main(["report", str(run)]) == 2
    assert "raster.npz: cannot be read" in _err(capsys)
    assert not (run / "report.md").exists()


def test_report_warns_when_timeseries_is_missing(stream_files, tmp_path, capsys):
    """Was: two of four figures dropped without a word."""
    run = tmp_path / "run"
    assert main(["stream", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out", str(run), "--quiet",
                 "--no-report", "--frame", "0.01"]) == 0
    (run / "timeseries.csv").unlink()
    assert main(["report", str(run)]) == 0
    err = _err(capsys)
    assert "warning: timeseries.csv is missing: population_rate.png and energy_per_second.png" in err
    assert "Not drawn: timeseries.csv is missing" in (run / "report.md").read_text()


TOY = ('[data]\nkind = "toy"\ndt_s = 0.01\nn_steps = 20\ntoy_units = 8\ntoy_classes = 2\ntoy_samples = 12\n'
       '[model]\nhidden = [6]\nmax_delay_steps = 2\n[train]\nepochs = 2\nbatch_size = 6\nseed = 1\nnum_threads = 1\n')


def test_train_resume_with_corrupt_last_pt(tmp_path, capsys):
    """Was: UnpicklingError traceback."""
    pytest.importorskip("torch")
    (tmp_path / "c.toml").write_text(TOY)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"\x80\x04garbage")
    assert main(["train", str(tmp_path / "c.toml"), "--out", str(tmp_path / "run"), "--resume", "--quiet"]) == 2
    assert "last.pt: not a readable training checkpoint" in _err(capsys)


def test_train_log_has_one_line_per_epoch(tmp_path, capsys):
    """Was: ~356 KB of carriage-return progress updates in a non-terminal log."""
    pytest.importorskip("torch")
    (tmp_path / "c.toml").write_text(TOY)
    assert not sys.stderr.isatty()
    assert main(["train", str(tmp_path / "c.toml"), "--out", str(tmp_path / "run")]) == 0
    cap = capsys.readouterr()
    assert "\r" not in cap.err and "\r" not in cap.out
    assert [ln.split(":")[0] for ln in cap.out.splitlines() if ln.startswith("epoch ")] == ["epoch 1", "epoch 2"]


# ----------------------------------------------------------------- accepted silently -> rejected

def test_simulate_rejects_an_unsorted_shd_sample(tmp_path, capsys):
    """Was: re-sorted silently (data info, evaluate and train reject the same sample)."""
    from tests.reference.random_networks import random_network

    net = random_network(np.random.default_rng(4), readout=True)
    save_network(tmp_path / "r.h5", net)
    with h5py.File(tmp_path / "shd.h5", "w") as f:
        vt = h5py.vlen_dtype(np.float64)
        vu = h5py.vlen_dtype(np.int64)
        f.create_dataset("spikes/times", shape=(1,), dtype=vt)[0] = np.array([0.02, 0.01])
        f.create_dataset("spikes/units", shape=(1,), dtype=vu)[0] = np.array([0, 1])
        f.create_dataset("labels", data=np.array([0]))
    assert main(["simulate", str(tmp_path / "r.h5"), "--events", str(tmp_path / "shd.h5"), "--sample", "0",
                 "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "not sorted" in _err(capsys)
    assert not (tmp_path / "o" / "summary.json").exists()


def test_complex_weights_are_rejected(tmp_path, capsys):
    """Was: accepted, imaginary part dropped."""
    from sim import LIFLayer, Network, Projection

    with pytest.raises(ValueError, match="complex"):
        Projection.dense("input", "h", np.ones((2, 2)) * (1 + 1j))
    net = Network(2, [LIFLayer("h", 2, 0.02)], [Projection.dense("input", "h", np.ones((2, 2)))])
    save_network(tmp_path / "m.h5", net)
    with h5py.File(tmp_path / "m.h5", "a") as f:
        w = f["projections/0000/weight"][()]
        del f["projections/0000/weight"]
        f["projections/0000"].create_dataset("weight", data=w * (1 + 2j))
    with pytest.raises(ValueError, match="projections/0000/weight' must hold real numbers"):
        load_network(tmp_path / "m.h5")


# ----------------------------------------------------------------- missing -> there

def test_stream_reports_peak_memory(stream_files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["stream", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out", str(out),
                 "--no-report", "--frame", "0.01"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["peak_memory_mb"] > 10
    assert "peak memory" in capsys.readouterr().out
    assert "peak memory" in (out / "summary.md").read_text()


# ----------------------------------------------------------------- unclear messages

def test_non_integer_n_inputs_names_the_attribute(tmp_path):
    """Was: "invalid literal for int()" with no file or field named."""
    save_network(tmp_path / "m.h5", small_network())
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f.attrs["n_inputs"] = "sixteen"
    with pytest.raises(ValueError, match=r"m.h5: attribute 'n_inputs' of '/' must be an integer, got 'sixteen'"):
        load_network(tmp_path / "m.h5")


def test_export_into_unwritable_folder(tmp_path, capsys):
    """Was: the temporary file "may be truncated"."""
    pytest.importorskip("torch")
    from tests.sim.test_task import write_checkpoint

    ck = write_checkpoint(tmp_path)
    (tmp_path / "a_file").write_text("x")
    targets = [tmp_path / "a_file" / "m.h5"]  # a folder that cannot exist
    if os.geteuid() != 0:  # root writes into read-only folders
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        targets.append(tmp_path / "ro" / "m.h5")
    try:
        for target in targets:
            assert main(["export", str(ck), "--out", str(target)]) == 2
            err = _err(capsys)
            assert f"{target}: cannot write here" in err and "truncated" not in err and ".tmp" not in err
    finally:
        if (tmp_path / "ro").exists():
            (tmp_path / "ro").chmod(0o700)


@pytest.mark.parametrize("opts, option", [(["--block", "-1"], "--block"), (["--bin", "0"], "--bin"),
                                          (["--frame", "0.0123"], "--frame"), (["--window", "0"], "--window"),
                                          (["--raster-duration", "nan"], "--raster-duration")])
def test_stream_option_errors_name_the_option(stream_files, tmp_path, capsys, opts, option):
    """Was: StreamConfig.block_s instead of --block."""
    assert main(["stream", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out", str(tmp_path / "o"),
                 "--quiet"] + opts) == 2
    err = _err(capsys)
    assert option in err and "StreamConfig" not in err and "DetectorConfig" not in err


def test_messages_show_no_numpy_reprs(tmp_path, capsys):
    net = small_network()
    save_network(tmp_path / "m.h5", net)
    with h5py.File(tmp_path / "m.h5", "a") as f:
        tau = f["layers/h0/tau_mem_s"][()]
        tau[0] = np.nan
        del f["layers/h0/tau_mem_s"]
        f["layers/h0"].create_dataset("tau_mem_s", data=tau)
    assert main(["stream", str(tmp_path / "m.h5"), str(tmp_path / "m.h5"), "--quiet"]) == 2
    err = _err(capsys)
    assert "nan" in err and "np.float64" not in err


def test_run_with_an_output_folder_holding_a_space(tmp_path, capsys):
    """Was: `axon run scn.toml --out "out dir"` split the folder at the space."""
    (tmp_path / "s.toml").write_text('name = "t"\nout = "x"\n[[step]]\ntitle = "net"\n'
                                     'run = "example --out {out}/net --duration 0.1"\ncreates = "{out}/net/model.h5"\n')
    out = tmp_path / "out dir"
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(out)]) == 0
    assert (out / "net" / "model.h5").exists()
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(out), "--list"]) == 0
    assert f"'{out}/net'" in capsys.readouterr().out  # quoted as a shell needs it


# ----------------------------------------------------------------- wrong results

def test_checkpoint_is_found_from_another_folder(tmp_path, monkeypatch):
    """Was: the model recorded a path relative to where `axon export` ran."""
    pytest.importorskip("torch")
    from bridge.export import checkpoint_of
    from tests.sim.test_task import write_checkpoint

    (tmp_path / "proj" / "runs").mkdir(parents=True)
    write_checkpoint(tmp_path / "proj" / "runs")
    monkeypatch.chdir(tmp_path / "proj")
    assert main(["export", "runs/best.pt", "--out", "model.h5", "--quiet"]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    net = load_network(tmp_path / "proj" / "model.h5")
    assert checkpoint_of(net, tmp_path / "proj" / "model.h5") == str(tmp_path / "proj" / "runs" / "best.pt")
    # the project folder moved as a whole: found relative to the model file
    os.rename(tmp_path / "proj", tmp_path / "moved")
    net = load_network(tmp_path / "moved" / "model.h5")
    assert checkpoint_of(net, tmp_path / "moved" / "model.h5") == str(tmp_path / "moved" / "runs" / "best.pt")


# ----------------------------------------------------------------- stale texts

def test_help_texts(capsys):
    from bridge.cli import build_parser

    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "command").choices
    helps = {(c, a.dest): a.help for c in ("classify", "validate", "simulate") for a in sub[c]._actions}
    assert helps[("classify", "quiet")] and helps[("validate", "brian2_device")] and helps[("validate", "quiet")]
    assert "x number of layers" in helps[("simulate", "duration")]
    import tomllib
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    assert tomllib.loads((root / "scenarios" / "crossval.toml").read_text())["minutes"] <= 2
    from bridge.commands.data import _plural
    assert _plural(1, "speaker") == "1 speaker" and _plural(2, "speaker") == "2 speakers"


def test_classify_frame_longer_than_the_warm_up(stream_files, tmp_path, capsys):
    """A --frame longer than the 0.1 s of silence that makes the compiled code warm is valid
    (it failed in the warm-up with "no readout sample")."""
    out = tmp_path / "p.csv"
    assert main(["classify", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out", str(out),
                 "--quiet", "--frame", "0.2"]) == 0
    _err(capsys)
    assert out.exists()


def test_classify_frame_far_below_the_hop_is_refused(stream_files, tmp_path, capsys):
    assert main(["classify", str(stream_files / "m.h5"), str(stream_files / "t.wav"), "--out",
                 str(tmp_path / "p.csv"), "--quiet", "--frame", "1e-300"]) == 2
    err = _err(capsys)
    assert "--frame" in err and "readout samples" in err and "Maximum allowed size" not in err


def test_model_file_attributes_of_the_wrong_type_are_named(tmp_path):
    save_network(tmp_path / "m.h5", small_network())
    for key, value, message in (("format_version", "two", "attribute 'format_version' of '/' must be an integer"),
                                ("task", "null", None)):
        raw = (tmp_path / "m.h5").read_bytes()
        (tmp_path / "t.h5").write_bytes(raw)
        with h5py.File(tmp_path / "t.h5", "a") as f:
            f.attrs[key] = value
        if message:
            with pytest.raises(ValueError, match=message):
                load_network(tmp_path / "t.h5")
        else:  # format 2 said "no task": none is guessed from the free-form metadata
            assert load_network(tmp_path / "t.h5").task is None
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f["layers/h0"].attrs["threshold"] = "high"
    with pytest.raises(ValueError, match="attribute 'threshold' of 'layers/h0' must be a number, got 'high'"):
        load_network(tmp_path / "m.h5")
