"""bridge.parallel and the commands that use it: ``--workers N`` and ``--dask ADDRESS`` give
the serial run's results in the same order, a failed file is reported by name and the
others are kept; ``axon sweep``."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from bridge.batch import apply_settings, parse_settings
from bridge.cli import main
from bridge.parallel import Backend, run_jobs
from sim.errors import InputError
from sim.model.io import save_network
from tests.sim.test_stream import FS, small_network, tone_bursts


def _square(ctx, x):
    if x == 3:
        raise ValueError(f"job {x} is bad")
    return ctx["k"] * x * x


def test_run_jobs_order_and_failures():
    jobs = list(range(8))
    labels = [f"item{j}" for j in jobs]
    seen = []
    serial = run_jobs(_square, {"k": 2}, jobs, labels, Backend(1), progress=lambda o, d, n: seen.append(d))
    pooled = run_jobs(_square, {"k": 2}, jobs, labels, Backend(2))
    assert [o.index for o in pooled] == jobs
    assert [(o.value, o.error) for o in pooled] == [(o.value, o.error) for o in serial]
    assert serial[3].error == "job 3 is bad" and serial[3].label == "item3"
    assert [o.value for o in serial if o.ok] == [2 * j * j for j in jobs if j != 3]
    assert seen == list(range(1, 9))
    with pytest.raises(InputError, match="--workers"):
        Backend(0)
    with pytest.raises(InputError, match="exclude each other"):
        Backend(2, "tcp://127.0.0.1:1")


@pytest.fixture(scope="module")
def utterances(tmp_path_factory):
    d = tmp_path_factory.mktemp("utt")
    save_network(d / "m.h5", small_network())
    for i in range(6):
        cls = ["low", "mid", "high"][i % 3]
        (d / "utt" / cls).mkdir(parents=True, exist_ok=True)
        sf.write(d / "utt" / cls / f"u{i}.wav", tone_bursts(1.0, seed=10 + i), FS, subtype="PCM_16")
    return d


def _csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_classify_workers_identical_and_failed_file_named(utterances, capsys):
    d = utterances
    assert main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "serial.csv"), "--quiet"]) == 0
    assert main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "pool.csv"), "--quiet",
                 "--workers", "2"]) == 0
    serial, pool = _csv(d / "serial.csv"), _csv(d / "pool.csv")
    assert len(serial) == 6 and serial == pool
    # a broken file among good ones: named on stderr and in the JSON, the others kept, exit 2
    (d / "utt" / "mid" / "broken.wav").write_text("not audio")
    try:
        capsys.readouterr()
        rc = main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "bad.csv"), "--quiet",
                   "--workers", "2"])
        err = capsys.readouterr().err
    finally:
        (d / "utt" / "mid" / "broken.wav").unlink()
    assert rc == 2
    assert "broken.wav: " in err and "1 of 7 files failed" in err and "Traceback" not in err
    assert _csv(d / "bad.csv") == serial
    summary = json.loads((d / "bad.json").read_text())
    assert [f["path"] for f in summary["failed"]] == [str(d / "utt" / "mid" / "broken.wav")]


def test_stream_many_files_workers(utterances, tmp_path):
    d = utterances
    files = sorted(str(p) for p in (d / "utt").rglob("*.wav"))[:3]
    assert main(["stream", str(d / "m.h5"), *files, "--out", str(tmp_path / "s1"), "--quiet", "--no-report"]) == 0
    assert main(["stream", str(d / "m.h5"), *files, "--out", str(tmp_path / "s2"), "--quiet", "--no-report",
                 "--workers", "2"]) == 0
    a = json.loads((tmp_path / "s1" / "streams.json").read_text())
    b = json.loads((tmp_path / "s2" / "streams.json").read_text())
    assert [f["audio"] for f in a["files"]] == files == [f["audio"] for f in b["files"]]
    for f in a["files"]:
        name = f["out"].split("/")[-1]
        for fn in ("detections.csv", "timeseries.csv"):
            assert (tmp_path / "s1" / name / fn).read_text() == (tmp_path / "s2" / name / fn).read_text()


def test_dask_local_cluster_identical_to_serial(utterances):
    """Two worker processes on loopback; results gathered as they finish, same as serial."""
    distributed = pytest.importorskip("distributed")
    d = utterances
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster:
        assert len(cluster.workers) == 2
        assert main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "dask.csv"), "--quiet",
                     "--dask", cluster.scheduler_address]) == 0
        # a broken file on the cluster: named, the others kept
        (d / "utt" / "low" / "broken.wav").write_bytes(b"RIFF....WAVEfmt ")
        try:
            rc = main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "dask_bad.csv"), "--quiet",
                       "--dask", cluster.scheduler_address])
        finally:
            (d / "utt" / "low" / "broken.wav").unlink()
        assert rc == 2
        failed = json.loads((d / "dask_bad.json").read_text())["failed"]
        assert [f["path"] for f in failed] == [str(d / "utt" / "low" / "broken.wav")]
        assert len(_csv(d / "dask_bad.csv")) == 6
    if not (d / "serial.csv").exists():
        assert main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "serial.csv"), "--quiet"]) == 0
    assert _csv(d / "dask.csv") == _csv(d / "serial.csv")
    summary = json.loads((d / "dask.json").read_text())
    assert summary["backend"].startswith("dask scheduler tcp://127.0.0.1:")


def test_dask_unreachable_scheduler_is_one_line(utterances, capsys):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    d = utterances
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        rc = main(["classify", str(d / "m.h5"), str(d / "utt"), "--out", str(d / "x.csv"), "--quiet",
                   "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach the scheduler" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ evaluate and sweep
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from training.data.shd import write_shd
    from training.toy import make_toy_dataset

    from sim import LIFLayer, Network, Projection, ReadoutLayer
    from bridge.conventions import network_on_grid

    d = tmp_path_factory.mktemp("toy")
    rng = np.random.default_rng(2)
    net = Network(12, [LIFLayer("hidden0", 16, 0.02, reset="subtract")],
                  [Projection.dense("input", "hidden0", rng.normal(0.4, 0.3, (16, 12)), rng.uniform(0, 0.04, (16, 12))),
                   Projection.dense("hidden0", "out", rng.normal(0, 0.5, (3, 16)), 0.01)],
                  readout=ReadoutLayer("out", 3, 0.02),
                  metadata={"training": {"dt_s": 0.01, "n_steps": 30, "decision_rule": "mean_softmax"}})
    save_network(d / "model.h5", network_on_grid(net, 0.01))
    write_shd(d / "data.h5", make_toy_dataset(20, n_units=12, n_classes=3, duration_s=0.3,
                                               rng=np.random.default_rng(5)))
    return d


def test_evaluate_workers_identical(toy):
    for w in ("1", "2"):
        assert main(["evaluate", str(toy / "model.h5"), str(toy / "data.h5"), "--engines", "exact,grid",
                     "--out", str(toy / f"e{w}"), "--quiet", "--workers", w]) == 0
    a = json.loads((toy / "e1" / "evaluate.json").read_text())["engines"]
    b = json.loads((toy / "e2" / "evaluate.json").read_text())["engines"]
    for e in ("exact", "grid"):
        assert a[e]["predictions"] == b[e]["predictions"]
        assert a[e]["layer_rate_hz"] == b[e]["layer_rate_hz"]
        assert b[e]["backend"] == "2 local processes"


def test_sweep_settings_and_cli(toy, capsys):
    pts = parse_settings(["hidden0.threshold=0.8,1.2", "hidden0.reset=zero,subtract"])
    assert pts == [{"hidden0.threshold": 0.8, "hidden0.reset": "zero"},
                   {"hidden0.threshold": 0.8, "hidden0.reset": "subtract"},
                   {"hidden0.threshold": 1.2, "hidden0.reset": "zero"},
                   {"hidden0.threshold": 1.2, "hidden0.reset": "subtract"}]
    for bad, msg in (("threshold=1", "LAYER.PARAM"), ("hidden0.weight=1", "cannot be swept"),
                     ("hidden0.threshold=a", "not a valid threshold")):
        with pytest.raises(InputError, match=msg):
            parse_settings([bad])
    from sim.model.io import load_network
    net = load_network(toy / "model.h5")
    assert apply_settings(net, {"hidden0.threshold": 0.8}).layer("hidden0").threshold == 0.8
    with pytest.raises(InputError, match="must be a finite number > 0"):
        apply_settings(net, {"hidden0.threshold": -1.0})
    with pytest.raises(InputError, match="no layer 'nope'"):
        apply_settings(net, {"nope.threshold": 1.0})
    outs = {}
    for w in ("1", "2"):
        assert main(["sweep", str(toy / "model.h5"), str(toy / "data.h5"), "--set", "hidden0.threshold=0.8,1.0,1.2",
                     "--out", str(toy / f"sw{w}"), "--quiet", "--workers", w]) == 0
        outs[w] = json.loads((toy / f"sw{w}" / "sweep.json").read_text())["points"]
    assert outs["1"] == outs["2"]
    assert [p["settings"]["hidden0.threshold"] for p in outs["1"]] == [0.8, 1.0, 1.2]
    # the point at the model's own threshold is what evaluate says
    assert main(["evaluate", str(toy / "model.h5"), str(toy / "data.h5"), "--engines", "grid",
                 "--out", str(toy / "ev"), "--quiet"]) == 0
    ev = json.loads((toy / "ev" / "evaluate.json").read_text())["engines"]["grid"]
    assert outs["1"][1]["predictions"] == ev["predictions"]
    assert (toy / "sw1" / "sweep.png").exists()
    assert main(["sweep", str(toy / "model.h5"), str(toy / "data.h5"), "--set", "hidden0.threshold=-1",
                 "--out", str(toy / "bad"), "--quiet"]) == 2
