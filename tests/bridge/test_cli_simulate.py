"""`axon simulate` end to end: files written, numbers equal to a direct run, clear errors."""
import json

import h5py
import numpy as np
import pytest

from bridge.cli import main
from sim.exact import ExactSimulator
from sim.io import save_events, save_network
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
