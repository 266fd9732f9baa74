"""`axon simulate` end to end: files written, numbers equal to a direct run, clear errors."""
import json

import h5py
import numpy as np
import pytest

from bridge.cli import main
from sim.engines.exact import ExactSimulator
from sim.model.io import save_events, save_network
from tests.reference.random_networks import random_events, random_network


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(11)
    net = random_network(rng, readout=True)
    ev = random_events(rng, net.n_inputs, 0.1)
    save_network(tmp_path / "m.h5", net)
    save_events(tmp_path / "e.h5", ev, n_channels=net.n_inputs)
    return tmp_path, net, ev


def test_simulate_writes_spikes_counts_rates_and_raster(files):
    tmp, net, ev = files
    out = tmp / "run"
    assert main(["simulate", str(tmp / "m.h5"), "--events", str(tmp / "e.h5"), "--out", str(out),
                 "--duration", "0.1", "--chunk", "0.013", "--quiet"]) == 0
    for name in ("spikes.h5", "counts.json", "rates.json", "summary.json", "summary.md", "raster.png"):
        assert (out / name).stat().st_size > 0, name
    direct = ExactSimulator(net).run(0.1, events=ev)
    with h5py.File(out / "spikes.h5") as f:
        n = sum(f[l.name]["times_s"].shape[0] for l in net.layers)
        first = net.layers[0].name
        assert f[first]["neurons"][()].tolist() == [int(i) for i in direct.spike_neurons
                                                  if i < net.layers[0].size]
    assert n == direct.spike_times_s.size
    counts = json.loads((out / "counts.json").read_text())
    assert counts["totals"]["spikes"] == direct.spike_times_s.size
    assert counts["totals"]["input_events"] == len(ev)
    rates = json.loads((out / "rates.json").read_text())
    for l in net.layers:
        assert len(rates["neuron_rate_hz"][l.name]) == l.size
        assert rates["layer_rate_hz"][l.name] == pytest.approx(
            counts["totals"]["spikes_per_layer"][l.name] / (0.1 * l.size))


def test_simulate_errors_are_one_line_and_exit_2(files, capsys):
    tmp, net, ev = files
    assert main(["simulate", str(tmp / "missing.h5"), "--events", str(tmp / "e.h5"), "--out", str(tmp / "o")]) == 2
    assert "axon simulate: error:" in capsys.readouterr().err
    assert main(["simulate", str(tmp / "e.h5"), "--events", str(tmp / "e.h5"), "--out", str(tmp / "o")]) == 2
    assert "expected 'axon.model'" in capsys.readouterr().err
    save_events(tmp / "wide.h5", type(ev)([0.01], [net.n_inputs]))
    assert main(["simulate", str(tmp / "m.h5"), "--events", str(tmp / "wide.h5"), "--out", str(tmp / "o")]) == 2
    assert "channel" in capsys.readouterr().err
    assert main(["simulate", str(tmp / "m.h5"), "--events", str(tmp / "e.h5"), "--out", str(tmp / "o"),
                 "--duration", "-1"]) == 2
    assert "--duration" in capsys.readouterr().err


# ---------------------------------------------------------------- long runs, limits, failures
from sim import Events, Lateral, LIFLayer, Network, Projection, ReadoutLayer  # noqa: E402


def _small(tmp_path, n_ro=3, duration_s=0.5, rate_hz=20.0):
    """2 inputs -> 4 LIF -> n_ro readout, Poisson input: a run every chunk of which has spikes."""
    rng = np.random.default_rng(5)
    net = Network(2, [LIFLayer("h", 4, 0.02)],
                  [Projection.dense("input", "h", rng.uniform(0.3, 0.9, (4, 2)), rng.uniform(0, 0.01, (4, 2))),
                   Projection.dense("h", "r", rng.normal(0, 0.5, (n_ro, 4)), 0.002)],
                  readout=ReadoutLayer("r", n_ro, 0.05))
    n = rng.poisson(rate_hz * duration_s * 2)
    t = np.sort(rng.uniform(0.001, duration_s, n))
    ev = Events(t, rng.integers(0, 2, n))
    save_network(tmp_path / "small.h5", net)
    save_events(tmp_path / "small_ev.h5", ev, n_channels=2)
    return tmp_path / "small.h5", tmp_path / "small_ev.h5", net, ev


def test_streamed_spikes_and_samples_equal_one_direct_run(tmp_path):
    m, e, net, ev = _small(tmp_path, duration_s=3.0)
    out = tmp_path / "run"
    assert main(["simulate", str(m), "--events", str(e), "--out", str(out), "--duration", "3", "--chunk", "0.37",
                 "--readout-interval", "0.002", "--quiet"]) == 0
    direct = ExactSimulator(net, readout_interval_s=0.002)
    direct.run(3.0, events=ev)
    res = direct.result()
    with h5py.File(out / "spikes.h5") as f:
        assert f.attrs["status"] == "complete" and f.attrs["duration_s"] == 3.0
        assert np.array_equal(f["h"]["times_s"][()], res.spikes["h"].times_s)
        assert np.array_equal(f["h"]["neurons"][()], res.spikes["h"].neurons)
        assert np.array_equal(f["_readout"]["times_s"][()], res.readout_times_s)
        assert np.array_equal(f["_readout"]["potential"][()], res.readout)
    assert len(res.spikes["h"]) > 50
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "complete" and s["spikes_written"] == len(res.spikes["h"])
    assert s["readout_samples_written"] == res.readout_times_s.size == 1499
    assert not (out / "spikes.partial.h5").exists()


def _peak_traced(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_simulated_time(tmp_path):
    # Regression: samples and spikes were kept in memory (about 160 KB per simulated second
    # for 20 readout neurons at 1 ms); `--duration 1e5` reached 5.6 GB. numpy's allocations
    # are traced, so the peak of 200 s must be that of 20 s, not 10x (which kept samples give:
    # 200,000 samples x 20 x 8 bytes = 32 MB against 3.2 MB).
    m, e, net, ev = _small(tmp_path, n_ro=20, duration_s=1.0)
    peaks = {}
    for d in (20, 20, 200):   # the first run loads compiled code and imports: not compared
        args = ["simulate", str(m), "--events", str(e), "--out", str(tmp_path / f"r{d}"), "--duration", str(d),
                "--quiet"]
        peaks[d] = _peak_traced(lambda: main(args))
    assert peaks[200] - peaks[20] < 4e6, peaks
    with h5py.File(tmp_path / "r200" / "spikes.h5") as f:
        assert f["_readout"]["potential"].shape == (199_999, 20)


def _cascade_files(tmp_path):
    # A negative self-entry of the lateral matrix: each spike raises its own potential again,
    # so the cascade at the first input never settles.
    net = Network(1, [LIFLayer("h", 2, 0.02)], [Projection.dense("input", "h", np.full((2, 1), 1.5), 0.001)],
                  [Lateral.dense("h", np.array([[-2.0, 0.0], [0.0, -2.0]]))], readout=ReadoutLayer("r", 1, 0.05))
    save_network(tmp_path / "casc.h5", net)
    save_events(tmp_path / "casc_ev.h5", Events([0.01, 0.5], [0, 0]), n_channels=1)
    return tmp_path / "casc.h5", tmp_path / "casc_ev.h5"


def test_cascade_is_one_line_exit_2_and_nothing_claims_completeness(tmp_path, capsys):
    # Regression: a runaway lateral cascade gave a CascadeError traceback and exit 1.
    m, e = _cascade_files(tmp_path)
    out = tmp_path / "o"
    assert main(["simulate", str(m), "--events", str(e), "--out", str(out), "--max-cascade", "50",
                 "--duration", "1", "--chunk", "0.1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("axon simulate: error:") and "cascade" in err[0]
    assert not (out / "spikes.h5").exists()
    with h5py.File(out / "spikes.partial.h5") as f:
        assert f.attrs["status"].startswith("failed")
    s = json.loads((out / "summary.json").read_text())
    assert s["status"].startswith("failed") and "complete" not in s["status"]


def test_a_failed_run_replaces_an_earlier_complete_one(files, tmp_path):
    tmp, net, ev = files
    m, e = _cascade_files(tmp_path)
    out = tmp_path / "same"
    assert main(["simulate", str(tmp / "m.h5"), "--events", str(tmp / "e.h5"), "--out", str(out),
                 "--duration", "0.1", "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert main(["simulate", str(m), "--events", str(e), "--out", str(out), "--max-cascade", "50", "--quiet"]) == 2
    assert not (out / "spikes.h5").exists()
    assert json.loads((out / "summary.json").read_text())["status"].startswith("failed")


@pytest.mark.parametrize("case", ["duration", "event", "interval", "delay"])
def test_limits_that_cannot_fit_are_rejected_up_front(tmp_path, capsys, case):
    # Regression (issue 16): --duration 1e9, an event at 1e9 s, --readout-interval 1e-9
    # ended in a MemoryError traceback. Now: one line with the size needed, exit 2, no output.
    m, e, net, ev = _small(tmp_path, n_ro=20)
    args = ["simulate", str(m), "--events", str(e), "--out", str(tmp_path / "o"), "--quiet"]
    if case == "duration":
        args += ["--duration", "1e9"]
    elif case == "event":
        save_events(tmp_path / "late.h5", Events([0.01, 1e9], [0, 1]), n_channels=2)
        args[3] = str(tmp_path / "late.h5")
    elif case == "interval":
        args += ["--readout-interval", "1e-9", "--duration", "10"]
    else:   # a delay of 1e12 s: the default duration covers it
        far = Network(2, [LIFLayer("h", 1, 0.02)], [Projection.dense("input", "h", np.ones((1, 2)), 1e12),
                                                     Projection.dense("h", "r", np.ones((20, 1)), 0.001)],
                      readout=ReadoutLayer("r", 20, 0.05))
        save_network(tmp_path / "far.h5", far)
        args[1] = str(tmp_path / "far.h5")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("axon simulate: error:")
    assert "readout samples" in err[0] and "TiB in spikes.h5" in err[0] and "free" in err[0]
    assert not (tmp_path / "o").exists()


def test_validate_rejects_a_duration_that_cannot_fit(files, tmp_path, capsys):
    # Regression (issue 16): `axon validate --duration 1e9` said "Unable to allocate 745 GiB".
    tmp, net, ev = files
    assert main(["validate", str(tmp / "m.h5"), "--events", str(tmp / "e.h5"), "--against", "exact",
                 "--dt", "0.001", "--duration", "1e9", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1e+12 steps" in err[0] and "GiB of memory" in err[0]
    assert "Unable to allocate" not in err[0]


def test_second_run_loads_compiled_code_and_imports_no_peer(files, tmp_path):
    # Start-up: every compiled function the simulate path runs comes from the on-disk cache on
    # a second run (the first may compile), and torch/brian2/nest are never imported.
    import os
    import subprocess
    import sys

    tmp, net, ev = files
    code = ("import json, sys; from bridge.cli import main; "
            f"rc = main(['simulate', {str(tmp / 'm.h5')!r}, '--events', {str(tmp / 'e.h5')!r}, "
            f"'--out', {str(tmp_path / 'o')!r}, '--duration', '0.1', '--quiet']); "
            "print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'brian2', 'nest'))]))")
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert p.returncode == 0, p.stderr
        rc, heavy = json.loads(p.stdout.strip().splitlines()[-1])
        assert rc == 0 and heavy == []
    st = json.loads((tmp_path / "o" / "summary.json").read_text())["startup"]
    assert st["compiled_this_run"] is False and st["cache_misses"] == 0 and st["compiled_here"] == []
    assert st["cache_hits"] >= 3 and st["compiled_functions_used"] >= 3
    assert 0 < st["imports_s"] <= st["simulating_from_s"] <= st["first_chunk_done_s"]


def test_interrupted_run_says_so_and_leaves_no_complete_file(tmp_path, capsys, monkeypatch):
    import sim.engines.exact

    m, e, net, ev = _small(tmp_path, duration_s=3.0)
    real_run = sim.engines.exact.ExactSimulator.run

    def run(self, until_s, *a, **k):
        if until_s >= 2.0:
            raise KeyboardInterrupt
        return real_run(self, until_s, *a, **k)

    monkeypatch.setattr(sim.engines.exact.ExactSimulator, "run", run)
    out = tmp_path / "o"
    assert main(["simulate", str(m), "--events", str(e), "--out", str(out), "--duration", "3", "--quiet"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (out / "spikes.h5").exists()
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["simulated_s"] == 1.0
    with h5py.File(out / "spikes.partial.h5") as f:
        assert f.attrs["status"] == "interrupted" and f["_readout"]["times_s"].shape == (999,)
