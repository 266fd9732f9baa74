"""sim.audio (stream, detector, source, resample, classify) and the axon stream/classify/report commands.

Block-size independence (spikes, detections, time series), bounded buffers, WAV/FLAC at
several rates with stereo mixdown, truncated/corrupt files (clear error after the partial
output is written), the streaming resampler against scipy's resample_poly, and the
detection rule on hand-made frame sequences.
"""
import csv
import json

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings, strategies as st

from sim import Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.audio.classify import classify_audio
from sim.audio.detector import Detector, DetectorConfig
from sim.audio.frontend import FrontEndConfig
from sim.audio.resample import StreamResampler, resample
from sim.audio.source import AudioReadError
from sim.audio.stream import StreamConfig, StreamRunner, stream_file
from sim.model.task import Task, frontend_config_of

from bridge.streamfiles import StreamFolder, stream_to_folder

FS = 16000
FE = FrontEndConfig(sample_rate_hz=FS, n_bands=8, f_min_hz=200.0, f_max_hz=4000.0)
# 16 channels and tone bursts give far fewer events than 64 channels and speech: lower thresholds
DET = DetectorConfig(on_rate_hz=120.0, off_rate_hz=50.0, hangover_s=0.15, min_duration_s=0.1,
                     on_factor=0.0, off_factor=0.0, warmup_s=0.2)


def small_network(seed=0, lateral=True):
    """16 front-end channels -> 12 LIF (lateral) -> 10 LIF -> readout of 3, with front-end metadata."""
    rng = np.random.default_rng(seed)
    n_in = FE.n_channels
    w0 = rng.normal(0.3, 0.6, size=(12, n_in))
    w1 = rng.normal(0.2, 0.6, size=(10, 12))
    w2 = rng.normal(0.0, 1.0, size=(3, 10))
    lats = [Lateral.dense("h0", 0.05 * (w0 @ w0.T) / np.mean(np.diag(w0 @ w0.T)))] if lateral else []
    return Network(
        n_in, [LIFLayer("h0", 12, 0.02, reset="subtract"), LIFLayer("h1", 10, 0.02, reset="subtract")],
        [Projection.dense("input", "h0", w0, rng.uniform(0, 0.03, w0.shape)),
         Projection.dense("h0", "h1", w1, rng.uniform(0, 0.03, w1.shape)),
         Projection.dense("h1", "out", w2, rng.uniform(0, 0.03, w2.shape))],
        lats, ReadoutLayer("out", 3, 0.05),
        task=Task(dt_s=0.01, class_names=("low", "mid", "high"), frontend=FE))  # as axon export records it


def tone_bursts(seconds=4.0, fs=FS, seed=1):
    """Tone bursts (300 / 1000 / 2500 Hz, 0.3-0.5 s) separated by pauses, over faint noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    x = rng.standard_normal(n) * 10 ** (-60 / 20)
    t = 0.3
    while t < seconds - 0.6:
        d = rng.uniform(0.3, 0.5)
        f = rng.choice([300.0, 1000.0, 2500.0])
        a, b = int(t * fs), int((t + d) * fs)
        tt = np.arange(b - a) / fs
        x[a:b] += 0.1 * np.sin(2 * np.pi * f * tt) * np.hanning(b - a)
        t += d + rng.uniform(0.4, 0.8)
    return x


def run_blocks(x, blocks, out_dir, net=None, **cfg):
    net = net or small_network()
    r = StreamRunner(net, FE, StreamConfig(keep_spikes=True, raster_duration_s=1.0, detector=DET, **cfg),
                     StreamFolder(out_dir))
    pos = 0
    for b in blocks:
        if pos >= x.size:
            break
        r.feed(x[pos:pos + b])
        pos += b
    if pos < x.size:
        r.feed(x[pos:])
    s = r.finish()
    return r, s


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def outputs(d):
    z = np.load(d / "spikes.npz")
    rz = np.load(d / "raster.npz")
    return {"det": read_rows(d / "detections.csv"), "ts": read_rows(d / "timeseries.csv"),
            "t": z["times_s"], "i": z["neurons"], "rt": rz["times_s"], "ri": rz["neurons"]}


def assert_same_outputs(a, b):
    assert a["det"] == b["det"]
    assert a["ts"] == b["ts"]
    np.testing.assert_array_equal(a["t"], b["t"])
    np.testing.assert_array_equal(a["i"], b["i"])
    np.testing.assert_array_equal(a["rt"], b["rt"])
    np.testing.assert_array_equal(a["ri"], b["ri"])


@pytest.fixture(scope="module")
def audio():
    return tone_bursts()


@pytest.fixture(scope="module")
def whole(audio, tmp_path_factory):
    d = tmp_path_factory.mktemp("whole")
    r, s = run_blocks(audio, [audio.size], d)
    return d, r, s


def test_whole_run_produces_spikes_and_detections(whole):
    d, r, s = whole
    o = outputs(d)
    assert o["t"].size > 100, "the test network must be active for the comparisons to mean something"
    assert len(o["det"]) - 1 >= 3, "the tone bursts must give detections"
    assert s["status"] == "complete" and s["n_detections"] == len(o["det"]) - 1
    # time series: 4 rows of 1 s, counts that add up to the engine's totals
    ts = o["ts"]
    assert len(ts) - 1 == 4
    h = ts[0]
    col = {k: j for j, k in enumerate(h)}
    total_syn = sum(int(row[col["synaptic_events"]]) for row in ts[1:])
    assert total_syn == s["metrics"]["operations"]["synaptic_events"]
    spk = sum(int(row[col["spikes_h0"]]) + int(row[col["spikes_h1"]]) for row in ts[1:])
    assert spk == o["t"].size == s["metrics"]["operations"]["spikes"]
    e = sum(float(row[col["energy_j"]]) for row in ts[1:])
    assert e == pytest.approx(s["metrics"]["energy"]["total_j"], rel=1e-5)
    # raster keeps only its window
    assert np.all((o["rt"] >= 0) & (o["rt"] < 1.0))
    np.testing.assert_array_equal(o["rt"], o["t"][o["t"] < 1.0])
    js = json.loads((d / "summary.json").read_text())
    assert js["detection_rule"].startswith("Input activity opens a segment")
    assert "PROXY" in js["metrics"]["energy"]["label"]


@pytest.mark.parametrize("blocks", [
    [1, 7, 160, 161, 999, 4096, 16001, 3, 16000],   # awkward, crossing frame and bin edges
    [16000] * 4,                                   # exactly on bin edges
    [160] * 400,                                   # exactly one frame each
])
def test_blocks_give_identical_spikes_detections_and_timeseries(audio, whole, tmp_path, blocks):
    r, _ = run_blocks(audio, blocks, tmp_path)
    assert_same_outputs(outputs(whole[0]), outputs(tmp_path))


@settings(max_examples=4, deadline=None)
@given(st.lists(st.integers(1, 9000), min_size=1, max_size=30))
def test_random_block_sizes_give_identical_results(audio, whole, tmp_path_factory, blocks):
    d = tmp_path_factory.mktemp("rand")
    run_blocks(audio, blocks, d)
    assert_same_outputs(outputs(whole[0]), outputs(d))


def test_internal_buffers_do_not_grow_with_stream_length(tmp_path):
    """Stationary audio (the same 2 s repeated): every buffer that lives across blocks
    reaches its size within the first 10 s and never exceeds it over 40 s."""
    piece = tone_bursts(2.0, seed=3)
    net = small_network()
    r = StreamRunner(net, FE, StreamConfig(raster_duration_s=1.0, detector=DET), None, keep_detections=False)
    block = 4000
    maxima = []
    for rep in range(20):
        for p in range(0, piece.size, block):
            r.feed(piece[p:p + block])
        maxima.append(r.buffer_sizes())
    early = {k: max(m[k] for m in maxima[:5]) for k in maxima[0]}
    late = {k: max(m[k] for m in maxima[5:]) for k in maxima[0]}
    for k in early:
        assert late[k] <= early[k], (k, early[k], late[k])
    assert late["frame_counts"] <= block // FE.hop_samples
    assert late["engine_readout_chunks"] == 0 and late["engine_spike_chunks"] == 0
    assert late["kept_spike_chunks"] == 0
    assert r.n_detections > 0 and not r.detections  # counted, not kept
    rs = StreamResampler(44100, 16000)
    sizes = []
    for k in range(50):
        rs.process(np.zeros(1234))
        sizes.append(rs.buffered)
    assert max(sizes[10:]) <= max(sizes[:10]) <= 1234 + (2 * rs.half_len) // rs.up + 2


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("orig,target", [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000),
                                         (16000, 16000)])
def test_stream_resampler_matches_resample_poly_and_is_block_independent(orig, target):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(0.3 * orig))
    ref = resample(x, orig, target)
    rs = StreamResampler(orig, target)
    y = np.concatenate([rs.process(x), rs.flush()])
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    rs2 = StreamResampler(orig, target)
    parts, pos = [], 0
    for b in [1, 2, 3, 500, 17, 1000, 4999]:
        parts.append(rs2.process(x[pos:pos + b]))
        pos += b
    parts.append(rs2.process(x[pos:]))
    parts.append(rs2.flush())
    np.testing.assert_array_equal(np.concatenate(parts), y)


def test_stream_resampler_rejects_bad_rates():
    with pytest.raises(ValueError, match="orig_rate_hz"):
        StreamResampler(0, 16000)
    with pytest.raises(ValueError, match="target_rate_hz"):
        StreamResampler(16000, float("nan"))


# --------------------------------------------------------------------------- files


def test_wav_and_flac_at_several_rates_and_stereo_mixdown(audio, tmp_path):
    net = small_network()
    x = audio[: 2 * FS]
    # write integers: libsndfile's WAV and FLAC writers round floats differently
    pcm = np.round(x * 32767).astype(np.int16)
    sf.write(tmp_path / "a.wav", pcm, FS, subtype="PCM_16")
    sf.write(tmp_path / "a.flac", pcm, FS, subtype="PCM_16")
    sw = stream_to_folder(net, tmp_path / "a.wav", tmp_path / "ow", StreamConfig(block_s=0.37, detector=DET))
    sfl = stream_to_folder(net, tmp_path / "a.flac", tmp_path / "of", StreamConfig(block_s=0.5, detector=DET))
    assert sw["metrics"]["operations"] == sfl["metrics"]["operations"]  # same PCM -> same everything
    assert read_rows(tmp_path / "ow" / "detections.csv") == read_rows(tmp_path / "of" / "detections.csv")
    assert sw["audio"]["mixdown"] == "mono" and sw["audio"]["resampling"] == "none"
    # stereo at 44.1 kHz: both channels mixed down by averaging, resampled block-wise
    x44 = resample(x, FS, 44100)
    st2 = np.stack([x44, 0.5 * x44], axis=1)
    sf.write(tmp_path / "s.wav", st2, 44100, subtype="FLOAT")
    s = stream_to_folder(net, tmp_path / "s.wav", tmp_path / "os", StreamConfig(block_s=0.25))
    assert "2 channels mixed down to mono by averaging" in s["audio"]["mixdown"]
    assert s["audio"]["resampled_to_hz"] == FS and "x160/441" in s["audio"]["resampling"]
    assert s["audio_processed_s"] == pytest.approx(2.0, abs=1e-3)
    assert "mixed down" in (tmp_path / "os" / "summary.md").read_text()
    assert s["metrics"]["operations"]["spikes"] > 0
    # the mixdown is the average: a stereo file equals the mono file of the averaged signal
    sf.write(tmp_path / "m.wav", 0.75 * x44, 44100, subtype="FLOAT")
    m = stream_to_folder(net, tmp_path / "m.wav", tmp_path / "om", StreamConfig(block_s=0.3))
    assert m["metrics"]["operations"] == s["metrics"]["operations"]
    for rate in (8000, 22050, 48000):
        sf.write(tmp_path / f"r{rate}.flac", resample(x, FS, rate), rate, subtype="PCM_24")
        r = stream_file(net, tmp_path / f"r{rate}.flac", StreamConfig())
        assert r["audio_processed_s"] == pytest.approx(2.0, abs=1e-3) and r["status"] == "complete"


def test_results_leave_the_runner_through_its_sink_and_the_simulator_writes_no_files(audio, tmp_path,
                                                                                     monkeypatch):
    """A sink sees what the run folder holds, row for row; without one nothing reaches the disk."""
    from sim.audio.stream import StreamSink

    class Recorder(StreamSink):
        def start(self, runner):
            self.columns, self.rows, self.dets, self.summary = runner.timeseries_columns(), [], [], None

        def detection(self, d):
            self.dets.append(d)

        def timeseries(self, row):
            assert list(row) == self.columns
            self.rows.append(row)

        def finish(self, runner, summary):
            self.summary = summary
            self.raster = runner.raster()

    sf.write(tmp_path / "a.wav", audio, FS)
    cfg = StreamConfig(block_s=0.4, bin_s=0.5, detector=DET)
    rec = Recorder()
    s = stream_file(small_network(), tmp_path / "a.wav", cfg, sink=rec)
    assert rec.summary is s and s["n_detections"] == len(rec.dets) > 0
    stream_to_folder(small_network(), tmp_path / "a.wav", tmp_path / "run", cfg)
    with open(tmp_path / "run" / "timeseries.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rec.rows) and len(rec.rows) == int(np.ceil(audio.size / FS / 0.5))
    for got, row in zip(table, rec.rows):
        for c in rec.columns:
            assert float(got[c]) == pytest.approx(row[c], rel=1e-5, abs=1e-6), c
    with open(tmp_path / "run" / "detections.csv", newline="") as f:
        assert [int(d["class"]) for d in csv.DictReader(f)] == [d.klass for d in rec.dets]
    with np.load(tmp_path / "run" / "raster.npz") as z:
        assert np.array_equal(z["times_s"], rec.raster["times_s"])
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    stream_file(small_network(), tmp_path / "a.wav", cfg)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    with pytest.raises(TypeError, match="StreamSink"):
        StreamRunner(small_network(), FE, cfg, tmp_path / "run")


def test_truncated_wav_ends_with_clear_error_after_partial_output(audio, tmp_path):
    net = small_network()
    sf.write(tmp_path / "a.wav", audio, FS, subtype="PCM_16")
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "out"
    with pytest.raises(AudioReadError, match="truncated") as ei:
        stream_to_folder(net, tmp_path / "t.wav", out, StreamConfig(block_s=0.5, detector=DET))
    assert "header declares" in str(ei.value)
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "incomplete" and "truncated" in s["error"]
    assert s["audio_processed_s"] == pytest.approx(0.6 * 4.0, abs=0.01)
    ts = read_rows(out / "timeseries.csv")
    assert len(ts) - 1 == 3  # bins [0,1), [1,2), partial [2,2.4)
    assert float(ts[-1][1]) == pytest.approx(s["audio_processed_s"], abs=1e-6)
    assert (out / "detections.csv").exists() and (out / "raster.npz").exists()
    assert "Stopped early" in (out / "summary.md").read_text()
    # what was written equals the same prefix processed without error
    ok = tmp_path / "ok"
    n = int(round(s["audio_processed_s"] * FS))
    pcm, _ = sf.read(tmp_path / "a.wav", dtype="float64")
    run_blocks(pcm[:n], [n], ok, net=net)
    assert read_rows(ok / "detections.csv") == read_rows(out / "detections.csv")


def test_corrupt_flac_ends_with_clear_error_after_partial_output(audio, tmp_path):
    net = small_network()
    sf.write(tmp_path / "a.flac", audio, FS, subtype="PCM_16")
    data = bytearray((tmp_path / "a.flac").read_bytes())
    mid = len(data) // 2
    for k in range(mid, mid + 3000):
        data[k] = (data[k] * 7 + 13) % 256
    (tmp_path / "c.flac").write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(AudioReadError, match="corrupt or truncated"):
        stream_to_folder(net, tmp_path / "c.flac", out, StreamConfig(block_s=0.25))
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "incomplete" and 0 < s["audio_processed_s"] < 4.0
    assert len(read_rows(out / "timeseries.csv")) >= 2


def test_not_audio_and_missing_file(tmp_path):
    net = small_network()
    (tmp_path / "x.wav").write_text("hello")
    with pytest.raises(ValueError, match="not a readable audio file"):
        stream_file(net, tmp_path / "x.wav")
    with pytest.raises(FileNotFoundError):
        stream_file(net, tmp_path / "missing.wav")


def test_model_without_frontend_or_with_wrong_inputs():
    import dataclasses
    net = small_network()
    net.task = dataclasses.replace(net.task, frontend=None)
    with pytest.raises(ValueError, match="front-end settings"):
        frontend_config_of(net)
    net.task = None
    with pytest.raises(ValueError, match="front-end settings"):
        frontend_config_of(net)
    with pytest.raises(ValueError, match="10 channels but the network has 16 inputs"):
        Network(16, [], task=Task(0.01, frontend=FrontEndConfig(n_bands=5)))


# --------------------------------------------------------------------------- detector


def test_detection_rule_on_hand_made_frames():
    cfg = DetectorConfig(on_rate_hz=1000, off_rate_hz=500, smooth_s=0.03, hangover_s=0.2, min_duration_s=0.15,
                         max_duration_s=2.0, window_s=1.0, on_factor=0.0, off_factor=0.0, warmup_s=0.0)
    det = Detector(cfg, 0.01, 3, ["a", "b", "c"])
    # events per 10 ms frame: 20 quiet, 2 frames at 6 (active, smooth still < 10), 28 frames at 20, 40 quiet,
    # then a 5-frame burst (too short), 40 quiet
    counts = np.array([0] * 20 + [6, 6] + [20] * 28 + [0] * 40 + [20] * 5 + [0] * 40)
    probs = np.tile([0.2, 0.5, 0.3], (counts.size, 1))
    out = det.update(counts, probs) + det.finish()
    assert len(out) == 1
    d = out[0]
    # onset = first frame of the active run (frame 20, rate 600 >= off), not the frame where smooth crossed on
    assert d.onset_s == pytest.approx(0.20) and d.end_s == pytest.approx(0.50)
    assert d.klass == 1 and d.label == "b"
    assert d.score == pytest.approx(0.5, rel=1e-12) and d.margin == pytest.approx(0.2, rel=1e-12)
    assert det.n_segments_dropped == 1
    # the same frames in any split give the same detections
    det2 = Detector(cfg, 0.01, 3, ["a", "b", "c"])
    out2 = []
    for a, b in [(0, 7), (7, 21), (21, 22), (22, 100), (100, counts.size)]:
        out2 += det2.update(counts[a:b], probs[a:b])
    assert out2 + det2.finish() == out


def test_detection_score_is_mean_softmax_over_window():
    cfg = DetectorConfig(on_rate_hz=1000, off_rate_hz=500, smooth_s=0.01, hangover_s=0.05, window_s=0.1,
                         min_duration_s=0.0, on_factor=0.0, off_factor=0.0, warmup_s=0.0)
    det = Detector(cfg, 0.01, 2, ["x", "y"])
    counts = np.array([20] * 30 + [0] * 10)
    probs = np.zeros((40, 2))
    probs[:, 0] = np.linspace(0.0, 1.0, 40)
    probs[:, 1] = 1 - probs[:, 0]
    (d,) = det.update(counts, probs)
    # window = frames 0..9: mean of p0 = mean(linspace[0:10])
    p0 = probs[:10, 0].mean()
    assert d.klass == 1 and d.score == pytest.approx(1 - p0, rel=1e-12)
    assert d.end_s == pytest.approx(0.30)


def test_background_tracker_raises_thresholds_over_noise():
    """Steady noise at 800 events/s, then a burst at 4000/s. With absolute thresholds only
    (100/50 Hz) the noise itself opens a segment right after the warm-up; with the
    background tracker (factors 3 and 2 -> on 2400, off 1600 Hz) only the burst does."""
    counts = np.array([8] * 200 + [40] * 30 + [8] * 100)
    probs = np.full((counts.size, 2), 0.5)
    base = dict(on_rate_hz=100, off_rate_hz=50, smooth_s=0.05, hangover_s=0.1, min_duration_s=0.1,
                max_duration_s=10.0, warmup_s=0.5)
    (d,) = Detector(DetectorConfig(**base, on_factor=3.0, off_factor=2.0), 0.01, 2, ["x", "y"]).update(counts, probs)
    assert d.onset_s == pytest.approx(2.0) and d.end_s == pytest.approx(2.3)
    plain = Detector(DetectorConfig(**base, on_factor=0.0, off_factor=0.0), 0.01, 2, ["x", "y"])
    out = plain.update(counts, probs) + plain.finish()
    assert out[0].onset_s == pytest.approx(0.5)  # the first frame after the warm-up


def test_detector_config_validation():
    with pytest.raises(ValueError, match="off_rate_hz"):
        DetectorConfig(on_rate_hz=100, off_rate_hz=200)
    with pytest.raises(ValueError, match="window_s"):
        DetectorConfig(window_s=0)
    with pytest.raises(ValueError, match="off_factor"):
        DetectorConfig(on_factor=1.0, off_factor=2.0)
    with pytest.raises(ValueError, match="smooth_s"):
        DetectorConfig(smooth_s=float("nan"))


def test_classify_audio_mean_softmax(audio):
    net = small_network()
    r = classify_audio(net, audio[: FS], FS)
    assert r["label"] in ("low", "mid", "high")
    assert sum(r["probs"]) == pytest.approx(1.0, rel=1e-12)
    assert r["score"] == max(r["probs"])
    r44 = classify_audio(net, resample(audio[:FS], FS, 44100), 44100)
    assert r44["duration_s"] == pytest.approx(1.0, abs=1e-3)


# --------------------------------------------------------------------------- command line


def test_cli_stream_classify_report_and_errors(audio, tmp_path, capsys):
    from bridge.cli import main
    from sim.model.io import save_network

    net = small_network()
    model = tmp_path / "m.h5"
    save_network(model, net)
    sf.write(tmp_path / "a.wav", audio, FS, subtype="PCM_16")
    out = tmp_path / "run"
    assert main(["stream", str(model), str(tmp_path / "a.wav"), "--out", str(out), "--quiet",
                 "--raster-duration", "2", "--on-rate", "120", "--off-rate", "50"]) == 0
    assert len(read_rows(out / "detections.csv")) > 1
    for f in ("summary.json", "summary.md", "report.md", "detections.csv", "timeseries.csv",
              "raster.png", "population_rate.png", "rate_histogram.png", "energy_per_second.png"):
        assert (out / f).exists(), f
    rep = (out / "report.md").read_text()
    assert "![raster.png](raster.png)" in rep and "Energy per second of audio" in rep
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.md").exists()

    capsys.readouterr()
    assert main(["stream", str(model), str(tmp_path / "nope.wav"), "--out", str(out)]) == 2
    assert "axon stream: error: " in capsys.readouterr().err
    (tmp_path / "bad.wav").write_text("not audio")
    assert main(["stream", str(model), str(tmp_path / "bad.wav"), "--out", str(tmp_path / "r2")]) == 2
    assert "axon stream: error: " in capsys.readouterr().err
    assert main(["stream", str(tmp_path / "nomodel.h5"), str(tmp_path / "a.wav")]) == 2
    assert "axon stream: error: " in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "axon report: error: " in capsys.readouterr().err
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(data[: len(data) // 2])
    assert main(["stream", str(model), str(tmp_path / "t.wav"), "--out", str(tmp_path / "rt"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "axon stream: error: " in err and "truncated" in err
    assert json.loads((tmp_path / "rt" / "summary.json").read_text())["status"] == "incomplete"
    assert (tmp_path / "rt" / "report.md").exists()

    folder = tmp_path / "utt" / "mid"
    folder.mkdir(parents=True)
    for k in range(3):
        sf.write(folder / f"u{k}.wav", audio[k * FS // 2:(k + 1) * FS // 2], FS)
    sf.write(tmp_path / "utt" / "stereo.flac", np.stack([audio[:FS], audio[:FS]], 1), 22050)
    pred = tmp_path / "p" / "predictions.csv"
    assert main(["classify", str(model), str(tmp_path / "utt"), "--out", str(pred), "--quiet"]) == 0
    rows = read_rows(pred)
    assert len(rows) == 5 and rows[0][:4] == ["path", "class", "label", "score"]
    js = json.loads(pred.with_suffix(".json").read_text())
    assert js["n_labelled"] == 3 and js["mixed_down_files"] == 1
    assert pred.with_suffix(".png").exists() and pred.with_suffix(".md").exists()
    assert main(["classify", str(model), str(tmp_path / "missing"), "--out", str(pred)]) == 2
    assert "axon classify: error: " in capsys.readouterr().err
