"""Hours of audio through a network: block-wise reading, front end, exact engine, detections.

Owns the streaming pipeline ``file -> blocks -> (mixdown, resampling) -> FrontEnd ->
ExactSimulator -> frames -> detector`` and the per-bin rates/operations/energy time
series. Every stage is stateful with bounded state, so memory does not grow with the
recording and the result does not depend on the block size.

Results leave the runner through a :class:`StreamSink` as they are computed: each
detection, each row of the time series, and at the end the summary with the raster
window and the per-neuron spike counts. The sink that writes the run folder of ``axon
stream`` (CSV, NPZ, JSON, Markdown) is ``bridge.streamfiles.StreamFolder``; the
simulator itself writes no files.

Never imports torch.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from sim.audio.detector import DETECTION_RULE, Detection, Detector, DetectorConfig
from sim.audio.frontend import FrontEnd, FrontEndConfig
from sim.audio.resample import StreamResampler
from sim.audio.source import AudioReadError, AudioSource
from sim.errors import AudioError, is_interrupt
from sim.model.network import Network
from sim.model.task import decision_rule_of, frame_scores, frontend_config_of, training_step_of

__all__ = ["StreamConfig", "StreamSink", "StreamRunner", "stream_file", "peak_memory_mb"]


@dataclass(frozen=True)
class StreamConfig:
    """Settings of one streaming run.

    Parameters
    ----------
    block_s : float
        Audio read per block, seconds of the file (the result does not depend on it).
    frame_s : float, optional
        Detector frame and readout sampling period; default the network's training step
        (``network.task.dt_s``). Must be a whole number of front-end hops.
    bin_s : float
        Bin of the rate/operation/energy time series, a whole number of frames.
    costs : str
        Energy cost table (:data:`sim.metrics.COST_TABLES`).
    raster_start_s, raster_duration_s : float
        Window whose spikes are kept for the raster plot.
    detector : DetectorConfig
    max_audio_s : float, optional
        Stop after this much audio.
    keep_spikes : bool
        Also write every spike (``spikes.npz``); memory grows with the stream. Off by default.
    """

    block_s: float = 1.0
    frame_s: float | None = None
    bin_s: float = 1.0
    costs: str = "cmos45"
    raster_start_s: float = 0.0
    raster_duration_s: float = 5.0
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    max_audio_s: float | None = None
    keep_spikes: bool = False

    def __post_init__(self):
        for name in ("block_s", "bin_s", "raster_duration_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"StreamConfig.{name} must be a finite number > 0, got {v!r}")
        if self.frame_s is not None and (not np.isfinite(self.frame_s) or self.frame_s <= 0):
            raise ValueError(f"StreamConfig.frame_s must be a finite number > 0, got {self.frame_s!r}")
        if not np.isfinite(self.raster_start_s) or self.raster_start_s < 0:
            raise ValueError(f"StreamConfig.raster_start_s must be >= 0, got {self.raster_start_s!r}")
        if self.max_audio_s is not None and (not np.isfinite(self.max_audio_s) or self.max_audio_s <= 0):
            raise ValueError(f"StreamConfig.max_audio_s must be > 0, got {self.max_audio_s!r}")
        if not isinstance(self.detector, DetectorConfig):
            raise ValueError("StreamConfig.detector must be a DetectorConfig")
        from sim.metrics import cost_table
        cost_table(self.costs)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["detector"] = self.detector.to_dict()
        return d


class StreamSink:
    """Where a stream's results go as the runner computes them; this base keeps nothing.

    :meth:`start` is called once by the runner's constructor, :meth:`detection` and
    :meth:`timeseries` as detections and bins complete (in stream order), :meth:`finish`
    once at the end, also after a failure (then ``summary["status"]`` is
    ``"incomplete"``). The run folder of ``axon stream`` is
    ``bridge.streamfiles.StreamFolder``.
    """

    def start(self, runner: "StreamRunner") -> None:
        """Before the first block: ``runner.timeseries_columns()``, ``runner.class_names``."""

    def detection(self, d: Detection) -> None:
        """One detection, in onset order."""

    def timeseries(self, row: dict) -> None:
        """One bin of the time series: ``{column: value}`` in ``runner.timeseries_columns()`` order."""

    def finish(self, runner: "StreamRunner", summary: dict) -> None:
        """After the last bin: the summary; ``runner.raster()``, ``runner.neuron_counts()`` and
        ``runner.kept_spikes()`` give the arrays."""


class StreamRunner:
    """Front end + exact engine + detector + time series, fed audio block by block.

    Parameters
    ----------
    network : Network
        With a readout (detections need one) and ``n_inputs`` equal to the front end's
        channels.
    frontend : FrontEndConfig
    config : StreamConfig
    sink : StreamSink, optional
        Receives detections, time-series rows and the summary as they are computed
        (None: nothing leaves the runner but :attr:`detections` and the summary).
    keep_detections : bool
        Also keep detections in :attr:`detections` (memory grows with their number).

    Feed audio at the front end's rate with :meth:`feed`; call :meth:`finish` at the end,
    also after a failure with ``error`` set: it hands the summary to the sink.
    """

    def __init__(self, network: Network, frontend: FrontEndConfig, config: StreamConfig | None = None,
                 sink: StreamSink | None = None, keep_detections: bool = True):
        from sim.engines.exact import ExactSimulator
        from sim.metrics import ActiveSlotCounter, cost_table

        self.network = network
        self.cfg = config or StreamConfig()
        if network.n_inputs != frontend.n_channels:
            raise ValueError(f"the network has {network.n_inputs} inputs but the front end makes "
                             f"{frontend.n_channels} channels")
        self.fe = FrontEnd(frontend)
        self.fs = frontend.sample_rate_hz
        if self.fs != round(self.fs):
            raise ValueError(f"front-end sample rate must be a whole number of Hz, got {self.fs!r}")
        frame_s = self.cfg.frame_s if self.cfg.frame_s is not None else training_step_of(network)
        self.frame_samples = int(round(frame_s * self.fs))
        if self.frame_samples < 1 or abs(self.frame_samples - frame_s * self.fs) > 1e-6 \
                or self.frame_samples % frontend.hop_samples:
            raise ValueError(f"frame_s={frame_s!r} must be a whole number of front-end hops "
                             f"({frontend.hop_samples} samples at {self.fs:g} Hz)")
        self.frame_s = self.frame_samples / self.fs
        self.bin_frames = int(round(self.cfg.bin_s / self.frame_s))
        if self.bin_frames < 1 or abs(self.bin_frames * self.frame_s - self.cfg.bin_s) > 1e-9:
            raise ValueError(f"bin_s={self.cfg.bin_s!r} must be a whole number of frames of {self.frame_s!r} s")
        self.bin_samples = self.bin_frames * self.frame_samples
        self.costs = cost_table(self.cfg.costs)
        self.sim = ExactSimulator(network, record_spikes=False, record_readout=False)
        self.slots = ActiveSlotCounter(network, self.frame_s)
        self._pending_readout: list[np.ndarray] = []
        self.class_names = network.class_names
        self.n_classes = len(self.class_names)
        self.rule = decision_rule_of(network)
        self.detector = Detector(self.cfg.detector, self.frame_s, max(self.n_classes, 1),
                                 self.class_names or ["-"], rule=self.rule)
        offs = network.offsets()
        self.layer_names = [l.name for l in network.layers]
        self.layer_bounds = [(offs[l.name], offs[l.name] + l.size) for l in network.layers]
        if sink is not None and not isinstance(sink, StreamSink):
            raise TypeError(f"sink must be a StreamSink, got {type(sink).__name__}")
        self.sink = sink if sink is not None else StreamSink()
        self.keep_detections = keep_detections
        self.detections: list[Detection] = []
        self.n_detections = 0
        self.class_histogram = np.zeros(max(self.n_classes, 1), np.int64)
        # frame and bin accumulators: counts of the frames/bin not yet complete
        self._next_frame = 0          # index of the next frame to hand to the detector
        self._frame_counts = np.zeros(0, np.int64)  # input events of frames _next_frame ...
        self._bin_index = 0
        self._bin_input = 0
        self._bin_spikes = np.zeros(len(self.layer_bounds), np.int64)
        self._prev_counts = None
        self._samples_done = 0
        self._raster_t: list[np.ndarray] = []
        self._raster_i: list[np.ndarray] = []
        self._all_t: list[np.ndarray] = []
        self._all_i: list[np.ndarray] = []
        self.wall_s = 0.0
        self.energy_total_j = 0.0
        self.max_bin_energy_j = 0.0
        self.finished = False
        self.sink.start(self)

    # -- bookkeeping ---------------------------------------------------------------------
    def timeseries_columns(self) -> list[str]:
        """The columns of a time-series row (:meth:`StreamSink.timeseries`)."""
        h = ["t_start_s", "t_end_s", "input_events"]
        h += [f"spikes_{n}" for n in self.layer_names]
        h += [f"rate_hz_{n}" for n in self.layer_names]
        h += ["synaptic_events", "lateral_updates", "state_updates", "energy_j", "dense_energy_j"]
        return h

    @property
    def audio_s(self) -> float:
        return self._samples_done / self.fs

    def buffer_sizes(self) -> dict:
        """Sizes of every internal buffer that lives across blocks (for the boundedness test)."""
        q = self.sim.queue_sizes()
        return {
            "engine_queue_pool": q["queue_pool_entries"],
            "engine_queue_used": q["queue_entries_used"],
            "engine_heap_rows": q["queue_heap_rows"],
            "engine_pending_events": q["pending_input_events"],
            "engine_record_buffer": q["record_buffer"],
            "engine_readout_chunks": q["kept_readout_chunks"],
            "engine_spike_chunks": q["kept_spike_chunks"],
            "frame_counts": int(self._frame_counts.shape[0]),
            "detector_floats": self.detector.state_size(),
            "raster_chunks": len(self._raster_t),
            "kept_spike_chunks": len(self._all_t),
        }

    # -- processing ----------------------------------------------------------------------
    def feed(self, samples) -> list[Detection]:
        """Process one block of mono audio at the front end's rate; returns new detections."""
        t0 = time.perf_counter()
        x = np.asarray(samples, dtype=np.float64)
        events = self.fe.process(x)
        new_done = self._samples_done + x.shape[0]
        if len(events):
            self.sim.add_events(events)
            # input events per frame, from the integer sample index of each event
            m = np.rint(events.times_s * self.fs).astype(np.int64)
            fr = m // self.frame_samples - self._next_frame
            n_need = (new_done - 1) // self.frame_samples + 1 - self._next_frame
            if n_need > self._frame_counts.shape[0]:
                self._frame_counts = np.concatenate(
                    [self._frame_counts, np.zeros(n_need - self._frame_counts.shape[0], np.int64)])
            self._frame_counts += np.bincount(fr, minlength=self._frame_counts.shape[0])[:self._frame_counts.shape[0]]
        out = []
        # run the engine up to each bin edge inside this block, then to the block's end
        while True:
            edge = (self._bin_index + 1) * self.bin_samples
            stop = min(edge, new_done)
            out += self._advance(stop)
            if stop == edge:
                self._close_bin()
            if stop == new_done:
                break
        self._samples_done = new_done
        self.wall_s += time.perf_counter() - t0
        return out

    def _advance(self, stop_sample: int) -> list[Detection]:
        """Run the engine to ``stop_sample / fs`` sampling the readout at frame ends."""
        until = stop_sample / self.fs
        if until <= self.sim.t_now:
            return []
        # readout samples at the end of every frame that completes before `until`
        k_first = self._next_frame + 1 + self._pending_frames()
        k_last = (stop_sample - 1) // self.frame_samples  # frame ends k*F/fs < until  <=> k*F < stop
        ks = np.arange(k_first, k_last + 2)
        sample_t = ks * self.frame_samples / self.fs
        # ... as the engine orders them: by picosecond tick (ExactSimulator.samples_before)
        sample_t = sample_t[self.sim.samples_before(sample_t, until)]
        if sample_t.size and sample_t[0] < self.sim.t_now:  # would misalign frames and readout
            raise RuntimeError(f"internal: readout sample {sample_t[0]!r} before t_now {self.sim.t_now!r}")
        chunk = self.sim.run(until, sample_times_s=sample_t if sample_t.size else None)
        self._spikes(chunk.spike_times_s, chunk.spike_neurons)
        if chunk.readout_times_s.size:
            self._pending_readout.append(chunk.readout)
        return self._frames_ready()

    def _pending_frames(self) -> int:
        return sum(r.shape[0] for r in self._pending_readout)

    def _frames_ready(self) -> list[Detection]:
        if not self._pending_readout:
            return []
        ro = np.concatenate(self._pending_readout) if len(self._pending_readout) > 1 else self._pending_readout[0]
        self._pending_readout = []
        n = ro.shape[0]
        counts = self._frame_counts[:n]
        if counts.shape[0] < n:
            counts = np.concatenate([counts, np.zeros(n - counts.shape[0], np.int64)])
        self._frame_counts = self._frame_counts[n:].copy()
        self._next_frame += n
        probs = frame_scores(ro, self.rule) if self.n_classes else np.zeros((n, 1))
        dets = self.detector.update(counts, probs)
        for d in dets:
            self._emit(d)
        return dets

    def _emit(self, d: Detection):
        self.n_detections += 1
        self.class_histogram[d.klass] += 1
        if self.keep_detections:
            self.detections.append(d)
        self.sink.detection(d)

    def _spikes(self, t: np.ndarray, i: np.ndarray):
        if t.size == 0:
            return
        self.slots.update(t, i)
        for k, (a, z) in enumerate(self.layer_bounds):
            self._bin_spikes[k] += int(np.count_nonzero((i >= a) & (i < z)))
        r0 = self.cfg.raster_start_s
        r1 = r0 + self.cfg.raster_duration_s
        if t[0] < r1 and t[-1] >= r0:
            m = (t >= r0) & (t < r1)
            if m.any():
                self._raster_t.append(t[m].copy())
                self._raster_i.append(i[m].copy())
        if self.cfg.keep_spikes:
            self._all_t.append(t.copy())
            self._all_i.append(i.copy())

    def _close_bin(self, partial_end_sample: int | None = None):
        """Hand one row of the time series to the sink (operations since the last row)."""
        from sim.metrics import counts_difference, energy_table
        c = self.sim.counts()
        d = counts_difference(c, self._prev_counts)
        self._prev_counts = c
        t_start = self._bin_index * self.bin_samples / self.fs
        end_sample = (self._bin_index + 1) * self.bin_samples if partial_end_sample is None else partial_end_sample
        t_end = end_sample / self.fs
        dur = t_end - t_start
        if dur <= 0:
            return
        e = energy_table(self.network, d, dur, self.costs)
        self.energy_total_j += e["total_j"]
        self.max_bin_energy_j = max(self.max_bin_energy_j, e["total_j"])
        sizes = [z - a for a, z in self.layer_bounds]
        values = [t_start, t_end, int(d.input_events.sum())]
        values += [int(s) for s in self._bin_spikes]
        values += [float(s / (n * dur)) for s, n in zip(self._bin_spikes, sizes)]
        values += [sum(int(v.sum()) for v in d.synaptic_events.values()),
                   sum(int(v.sum()) for v in d.lateral_updates.values()),
                   sum(int(v.sum()) for v in d.state_updates.values()),
                   float(e["total_j"]), float(e["dense_equivalent"]["energy_j"])]
        self.sink.timeseries(dict(zip(self.timeseries_columns(), values)))
        self._bin_spikes[:] = 0
        self._bin_index += 1

    # -- the end ---------------------------------------------------------------------------
    def finish(self, audio: dict | None = None, error: str | None = None) -> dict:
        """Flush the detector and the last partial bin, hand the summary to the sink; return it.

        With ``error`` set the run is marked incomplete (what was computed is still handed on).
        """
        if self.finished:
            raise RuntimeError("StreamRunner.finish was called twice")
        self.finished = True
        t0 = time.perf_counter()
        self.error = error
        # Frames that end at or after the end of the audio (the last, partial one) get
        # their readout sample at the end of the audio: every arrival up to then counts.
        n_left = -(-self._samples_done // self.frame_samples) - self._next_frame
        if n_left > 0 and self.network.readout is not None and not self.sim.failed:
            t_end = self.sim.t_now
            chunk = self.sim.run(self.sim.until_including(t_end), sample_times_s=[t_end])
            self._spikes(chunk.spike_times_s, chunk.spike_neurons)
            self._pending_readout.append(np.repeat(chunk.readout, n_left, axis=0))
            self._frames_ready()
        for d in self.detector.finish():
            self._emit(d)
        if self._samples_done > self._bin_index * self.bin_samples:
            self._close_bin(partial_end_sample=self._samples_done)
        self.wall_s += time.perf_counter() - t0
        summary = self._summary(audio, error)
        self.sink.finish(self, summary)
        return summary

    def raster(self) -> dict:
        """Spikes of the raster window (global neuron ids), the window and the layer bounds."""
        rt = np.concatenate(self._raster_t) if self._raster_t else np.zeros(0)
        ri = np.concatenate(self._raster_i) if self._raster_i else np.zeros(0, np.int64)
        return {"times_s": rt, "neurons": ri,
                "window_s": np.array([self.cfg.raster_start_s, self.cfg.raster_start_s + self.cfg.raster_duration_s]),
                "layer_names": np.array(self.layer_names), "layer_first": np.array([a for a, _ in self.layer_bounds]),
                "layer_size": np.array([z - a for a, z in self.layer_bounds])}

    def neuron_counts(self) -> dict:
        """Spike count of every neuron so far (``spikes_<layer>``) and the audio duration."""
        c = self.sim.counts()
        return {"duration_s": np.array(self.audio_s), **{f"spikes_{k}": v for k, v in c.spikes.items()}}

    def kept_spikes(self) -> dict | None:
        """Every spike (global ids) when ``StreamConfig.keep_spikes`` is set, else None."""
        if not self.cfg.keep_spikes:
            return None
        at = np.concatenate(self._all_t) if self._all_t else np.zeros(0)
        ai = np.concatenate(self._all_i) if self._all_i else np.zeros(0, np.int64)
        return {"times_s": at, "neurons": ai, "layer_names": np.array(self.layer_names),
                "layer_first": np.array([a for a, _ in self.layer_bounds])}

    def _summary(self, audio: dict | None, error: str | None) -> dict:
        from sim.metrics import summarize_counts
        dur = self.audio_s
        s = {
            "status": "incomplete" if error else "complete",
            "error": error,
            "audio": audio or {},
            "audio_processed_s": dur,
            "wall_s": self.wall_s,
            "real_time_factor": self.wall_s / dur if dur > 0 else None,
            "peak_memory_mb": peak_memory_mb(),
            "peak_memory_note": "peak resident set size of the whole process (Python, libraries, compiled code "
                                "included), from getrusage; the stream's own buffers are bounded",
            "frontend": self.fe.config.to_dict(),
            "stream": self.cfg.to_dict(),
            "frame_s": self.frame_s,
            "network": {"n_inputs": self.network.n_inputs, "layers": {l.name: l.size for l in self.network.all_layers},
                        "n_synapses": self.network.n_synapses},
            "class_names": self.class_names,
            "detection_rule": DETECTION_RULE,
            "decision_rule": self.rule,
            "n_detections": self.n_detections,
            "n_segments_dropped": self.detector.n_segments_dropped,
            "detections_per_class": {self.class_names[k] if self.class_names else str(k): int(v)
                                     for k, v in enumerate(self.class_histogram)},
            "layers": self.layer_names,
        }
        if dur > 0:
            s["metrics"] = summarize_counts(self.network, self.sim.counts(), dur, self.costs, self.frame_s,
                                            self.slots.counts())
            s["energy_per_audio_second_j"] = s["metrics"]["energy"]["total_j"] / dur
        return s


def peak_memory_mb() -> float | None:
    """Peak resident set size of this process so far, MB (None where ``resource`` is missing)."""
    try:
        import resource
        import sys
    except ImportError:  # pragma: no cover - not on Unix
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0), 1)


def stream_file(network: Network, audio_path, config: StreamConfig | None = None,
                frontend: FrontEndConfig | None = None, progress=None, sink: StreamSink | None = None) -> dict:
    """Run a sound file through ``network`` block by block; return the summary.

    Parameters
    ----------
    network : Network
    audio_path : path
        WAV, FLAC or anything libsndfile reads; any sample rate (converted block-wise to
        the front end's rate by :class:`StreamResampler`); multichannel is averaged.
    config : StreamConfig, optional
    frontend : FrontEndConfig, optional
        Default: the model's own (:func:`frontend_config_of`).
    progress : callable, optional
        Called after each block as ``progress(audio_s_done, audio_s_total, wall_s)``.
    sink : StreamSink, optional
        Receives the results as they are computed (``bridge.streamfiles.StreamFolder``
        writes the run folder of ``axon stream``).

    Raises
    ------
    AudioReadError
        The file is truncated or corrupt; the sink has received everything computed
        up to there (summary marked ``incomplete``).
    """
    config = config or StreamConfig()
    fe_cfg = frontend if frontend is not None else frontend_config_of(network)
    src = AudioSource(audio_path)
    if src.declared_frames == 0:
        src.close()
        raise AudioError(f"{src.path}: holds no audio samples (empty file): nothing to stream")
    try:
        runner = StreamRunner(network, fe_cfg, config, sink, keep_detections=False)
    except BaseException:
        src.close()
        raise
    rs = StreamResampler(src.sample_rate_hz, fe_cfg.sample_rate_hz)
    audio = src.describe()
    audio["resampled_to_hz"] = fe_cfg.sample_rate_hz
    audio["resampling"] = ("none" if rs.identity else
                           f"polyphase FIR x{rs.up}/{rs.down} (scipy resample_poly filter), block-wise")
    block_frames = max(1, int(round(config.block_s * src.sample_rate_hz)))
    limit = None if config.max_audio_s is None else int(round(config.max_audio_s * src.sample_rate_hz))
    total_s = src.duration_s if limit is None else min(src.duration_s, config.max_audio_s)
    read = 0
    t_start = time.perf_counter()

    def account():
        # real-time factor counts everything: reading, mixdown, resampling, front end, engine
        runner.wall_s = time.perf_counter() - t_start

    try:
        for x in src.blocks(block_frames):
            if limit is not None:
                x = x[:max(0, limit - read)]
            read += x.shape[0]
            y = rs.process(x)
            if y.size:
                runner.feed(y)
            account()
            if progress is not None:
                progress(read / src.sample_rate_hz, total_s, runner.wall_s)
            if limit is not None and read >= limit:
                break
        y = rs.flush()
        if y.size:
            runner.feed(y)
        account()
    except BaseException as e:  # truncated/corrupt file, engine error, Ctrl-C: keep what was computed
        interrupted = is_interrupt(e)
        if not runner.finished:
            account()
            msg = ("interrupted" if interrupted else str(e) if isinstance(e, AudioReadError)
                   else f"{type(e).__name__}: {e}")
            try:
                runner.finish(audio, error=msg or type(e).__name__)
            except BaseException:  # never hide the original error behind a secondary one
                pass
        if interrupted and not isinstance(e, KeyboardInterrupt):
            raise KeyboardInterrupt from None  # Numba wraps Ctrl-C in a SystemError: undo that
        raise
    finally:
        src.close()
    return runner.finish(audio)
