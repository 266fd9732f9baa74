"""The error contract of axon (issue 16): one AxonError base, one line and exit 2 from `axon`,
"interrupted" and exit 130 on Ctrl-C after the partial results are saved."""
import json

import numpy as np
import pytest
import soundfile as sf

import bridge.cli as cli
from sim.errors import (AudioError, AxonError, InputError, PeerUnavailableError, SimulationError, fmt_value,
                        is_interrupt)


def test_hierarchy():
    from bridge.peers import PeerUnavailable
    from sim.engines.exact import CascadeError
    from sim.audio.source import AudioReadError

    assert issubclass(InputError, ValueError) and issubclass(InputError, AxonError)
    assert issubclass(AudioError, InputError)
    assert issubclass(AudioReadError, AudioError)
    assert issubclass(CascadeError, SimulationError) and issubclass(CascadeError, AxonError)
    assert issubclass(CascadeError, RuntimeError)  # old callers catching RuntimeError still work
    assert issubclass(PeerUnavailable, PeerUnavailableError) and issubclass(PeerUnavailable, AxonError)
    assert issubclass(cli.CommandError, AxonError)


def test_fmt_value_drops_numpy_wrappers():
    assert fmt_value(np.float64("nan")) == "nan"
    assert fmt_value(np.int64(3)) == "3"
    assert fmt_value("a") == "'a'"


def test_is_interrupt_sees_through_numba_systemerror():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as k:
            raise SystemError("CPUDispatcher(<function run>) returned a result with an exception set") from k
    except SystemError as e:
        assert is_interrupt(e)
    assert not is_interrupt(SystemError("other"))
    assert not is_interrupt(ValueError("x"))


def _fake_command(monkeypatch, exc):
    def run(args):
        raise exc
    monkeypatch.setattr(cli, "_command_modules", lambda: iter([("boom", type("M", (), {
        "HELP": "raises", "add_arguments": staticmethod(lambda p: None), "run": staticmethod(run)}))]))


@pytest.mark.parametrize("exc", [InputError("bad --x 3"), SimulationError("cascade in h0 at 0.1 s"),
                                 PeerUnavailableError("NEST missing"), ValueError("plain\nvalue error"),
                                 FileNotFoundError(2, "No such file or directory", "m.h5"),
                                 PermissionError(13, "Permission denied", "/x")])
def test_reported_errors_are_one_line_exit_2(monkeypatch, capsys, exc):
    _fake_command(monkeypatch, exc)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("axon boom: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_oserror_line_names_the_file(monkeypatch, capsys):
    _fake_command(monkeypatch, FileNotFoundError(2, "No such file or directory", "m.h5"))
    cli.main(["boom"])
    assert "m.h5" in capsys.readouterr().err


@pytest.mark.parametrize("wrapped", [False, True])
def test_interrupt_prints_interrupted_exit_130(monkeypatch, capsys, wrapped):
    if wrapped:
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as k:
                raise SystemError("CPUDispatcher(<function x>) returned a result with an exception set") from k
        except SystemError as e:
            exc = e
    else:
        exc = KeyboardInterrupt()
    _fake_command(monkeypatch, exc)
    assert cli.main(["boom"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "axon boom: interrupted"


def test_bugs_keep_their_traceback(monkeypatch):
    _fake_command(monkeypatch, ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        cli.main(["boom"])


def test_ctrl_c_during_stream_says_interrupted(tmp_path, monkeypatch, capsys):
    """Regression: the summary's error read "SystemError: CPUDispatcher(...)" and axon printed a traceback."""
    from sim.model.io import save_network
    from sim.audio.stream import StreamRunner
    from tests.sim.test_stream import FS, small_network, tone_bursts

    save_network(tmp_path / "m.h5", small_network())
    sf.write(tmp_path / "a.wav", tone_bursts(3.0), FS)
    real_feed = StreamRunner.feed
    calls = []

    def feed(self, x):
        calls.append(1)
        if len(calls) == 2:  # as Numba delivers a Ctrl-C raised inside compiled code
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as k:
                raise SystemError("CPUDispatcher(<function _run>) returned a result with an exception set") from k
        return real_feed(self, x)

    monkeypatch.setattr(StreamRunner, "feed", feed)
    out = tmp_path / "run"
    assert cli.main(["stream", str(tmp_path / "m.h5"), str(tmp_path / "a.wav"), "--out", str(out), "--quiet",
                     "--frame", "0.01"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "SystemError" not in err
    assert err.strip().endswith("axon stream: interrupted")
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "incomplete" and s["error"] == "interrupted"
    assert s["audio_processed_s"] == pytest.approx(1.0)  # the first block is kept
    assert (out / "report.md").exists()


def test_ctrl_c_before_the_stream_started_claims_no_partial_results(tmp_path, monkeypatch, capsys):
    """Ctrl-C while the model loads: "interrupted", exit 130, and no "partial results written" line."""
    import sim.audio.stream
    from sim.model.io import save_network
    from tests.sim.test_stream import FS, small_network, tone_bursts

    save_network(tmp_path / "m.h5", small_network())
    sf.write(tmp_path / "a.wav", tone_bursts(1.0), FS)

    def stream_file(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.audio.stream, "stream_file", stream_file)
    assert cli.main(["stream", str(tmp_path / "m.h5"), str(tmp_path / "a.wav"), "--out", str(tmp_path / "run"),
                     "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "axon stream: interrupted"
