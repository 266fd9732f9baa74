"""Where the words are in a stream, and which class each is: the detector.

:class:`Detector` segments the stream on the front end's input event rate against a
tracked background and decides each segment's class from the readout with the model's
decision rule (:func:`sim.model.task.frame_scores`). Its state is a few scalars and two
vectors of ``n_classes``, so it is bounded and, fed frame by frame, independent of how
the stream was cut into blocks. Never imports torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from sim.errors import InputError
from sim.model.task import DECISION_RULES

__all__ = ["DetectorConfig", "Detection", "Detector", "DETECTION_RULE"]


@dataclass(frozen=True)
class DetectorConfig:
    """The detection rule (see :class:`Detector`). Times in seconds, rates in events/s.

    Parameters
    ----------
    on_rate_hz, on_factor : float
        A segment opens when the input event rate, averaged over the last ``smooth_s``,
        reaches ``max(on_rate_hz, on_factor * background)``.
    off_rate_hz, off_factor : float
        A frame counts as active while its own input event rate is at least
        ``max(off_rate_hz, off_factor * background)``; the onset is the start of the run
        of active frames that led to the opening, and the segment closes after
        ``hangover_s`` of frames below it.
    background_down_s, background_up_s : float
        Time constants of the background-rate tracker: it follows the smoothed rate down
        with ``background_down_s`` and up with the (longer) ``background_up_s``, so it
        sits at the noise floor between words and rises only slowly during them.
    warmup_s : float
        No segment opens during the first ``warmup_s`` (the encoder starts from the
        level floor, so any background noise first produces a burst of UP events); the
        background tracker follows the rate quickly during it.
    smooth_s, hangover_s : float
    min_duration_s : float
        Shorter segments are dropped.
    max_duration_s : float
        A segment is closed (and a new one may open) after this long.
    window_s : float
        The class is decided on the readout over ``[onset, onset + window_s)`` (the
        length of the training samples; truncated if the segment or the stream ends).
    min_score : float
        Detections whose score is below this are dropped.
    """

    on_rate_hz: float = 600.0
    off_rate_hz: float = 300.0
    on_factor: float = 3.0
    off_factor: float = 2.0
    background_down_s: float = 0.3
    background_up_s: float = 2.0
    warmup_s: float = 0.5
    smooth_s: float = 0.05
    hangover_s: float = 0.15
    min_duration_s: float = 0.15
    max_duration_s: float = 2.0
    window_s: float = 1.0
    min_score: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
                raise ValueError(f"DetectorConfig.{f.name} must be a finite number, got {v!r}")
            object.__setattr__(self, f.name, float(v))
            if v < 0:
                raise ValueError(f"DetectorConfig.{f.name} must be >= 0, got {v!r}")
        if self.off_rate_hz > self.on_rate_hz:
            raise ValueError(f"DetectorConfig.off_rate_hz={self.off_rate_hz!r} must be <= on_rate_hz={self.on_rate_hz!r}")
        if self.off_factor > self.on_factor:
            raise ValueError(f"DetectorConfig.off_factor={self.off_factor!r} must be <= on_factor={self.on_factor!r}")
        if self.background_down_s <= 0 or self.background_up_s <= 0:
            raise ValueError("DetectorConfig.background_down_s and background_up_s must be > 0")
        if self.window_s <= 0 or self.max_duration_s <= 0:
            raise ValueError("DetectorConfig.window_s and max_duration_s must be > 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Detection:
    """One detected segment. ``scores`` holds every class's score under the decision rule
    (``score`` is the largest, ``margin`` the largest minus the second largest)."""

    onset_s: float
    end_s: float
    klass: int
    label: str
    score: float
    margin: float
    scores: tuple = ()


class Detector:
    """Segment the stream on input activity, classify each segment from the readout.

    Rule, per frame ``k`` of ``frame_s`` (frame ``k`` covers ``[k, k+1) * frame_s``, its
    readout sample is taken at ``(k+1) * frame_s``):

    1. ``rate_k`` = input events in frame ``k`` / ``frame_s``; ``smooth_k`` = mean of
       ``rate`` over the last ``round(smooth_s / frame_s)`` frames; ``bg_k`` = background
       rate, ``bg += (smooth_k - bg) * (1 - exp(-frame_s / tau))`` with ``tau =
       background_down_s`` when ``smooth_k < bg``, else ``background_up_s`` (during the
       warm-up always ``background_down_s``). Thresholds: ``on = max(on_rate_hz,
       on_factor * bg)``, ``off = max(off_rate_hz, off_factor * bg)``, with ``bg`` of
       the previous frame.
    2. Idle (after the warm-up): if ``rate_k >= off`` and ``smooth_k >= on`` a segment
       opens; its onset is the first frame of the current run of frames with
       ``rate >= off``.
    3. Open: ``p_k = softmax(V_readout at (k+1) frame_s)`` is summed over the frames of
       ``[onset, onset + window_s)`` (from the onset on, also frames before the opening).
       The segment closes when ``rate`` has stayed below ``off`` for
       ``hangover_s`` (its end is the end of the last active frame), or after
       ``max_duration_s``.
    4. On closing, segments shorter than ``min_duration_s`` are dropped; otherwise the
       detection is ``(onset, end, class = argmax mean p, score = max mean p, margin =
       best minus second best)``, kept if ``score >= min_score``.

    The mean softmax over the window is the training decision rule ("mean_softmax",
    training/losses.py) applied to the segment. All state is a few scalars and two
    vectors of ``n_classes``, so the detector is bounded and, fed frame by frame in
    order, independent of how the stream was cut into blocks.
    """

    def __init__(self, config: DetectorConfig, frame_s: float, n_classes: int, class_names: list[str],
                 rule: str = "mean_softmax"):
        if rule not in DECISION_RULES:
            raise InputError(f"decision rule must be one of {DECISION_RULES}, got {rule!r}")
        self.rule = rule
        self.cfg = config
        self.frame_s = float(frame_s)
        self.n_classes = int(n_classes)
        self.class_names = list(class_names)
        self.smooth_n = max(1, int(round(config.smooth_s / frame_s)))
        self.hang_n = max(1, int(round(config.hangover_s / frame_s)))
        self.window_n = max(1, int(round(config.window_s / frame_s)))
        self.min_n = int(round(config.min_duration_s / frame_s))
        self.max_n = max(1, int(round(config.max_duration_s / frame_s)))
        self.warm_n = int(round(config.warmup_s / frame_s))
        self.a_down = -np.expm1(-frame_s / config.background_down_s)
        self.a_up = -np.expm1(-frame_s / config.background_up_s)
        self.background = 0.0
        self._ring = np.zeros(self.smooth_n)
        self._ring_sum = 0.0
        self._ring_pos = 0
        self._run_start = -1           # first frame of the current active run (-1: none)
        self._run_sum = np.zeros(self.n_classes)   # sum of p over the run, capped at window_n frames
        self._run_n = 0
        self._open = False
        self._onset = 0
        self._last_active = 0
        self._quiet = 0
        self.frames = 0
        self.n_segments_dropped = 0

    def state_size(self) -> int:
        """Number of floats the detector carries (constant)."""
        return self._ring.size + self._run_sum.size + 9

    def update(self, counts: np.ndarray, probs: np.ndarray) -> list[Detection]:
        """Feed consecutive frames: ``counts`` (n,) input events, ``probs`` (n, n_classes) the
        frames' contributions under the decision rule (:func:`sim.model.task.frame_scores`)."""
        out = []
        cfg = self.cfg
        for j in range(counts.shape[0]):
            k = self.frames
            self.frames += 1
            rate = counts[j] / self.frame_s
            old = self._ring[self._ring_pos]
            self._ring[self._ring_pos] = rate
            self._ring_pos = (self._ring_pos + 1) % self.smooth_n
            # Re-sum exactly once per turn of the ring so rounding never accumulates.
            self._ring_sum = float(self._ring.sum()) if self._ring_pos == 0 else self._ring_sum + rate - old
            smooth = self._ring_sum / self.smooth_n
            bg = self.background
            thr_on = max(cfg.on_rate_hz, cfg.on_factor * bg)
            thr_off = max(cfg.off_rate_hz, cfg.off_factor * bg)
            a = self.a_down if (smooth < bg or k < self.warm_n) else self.a_up
            self.background = bg + (smooth - bg) * a
            active = rate >= thr_off and k >= self.warm_n
            if not self._open and not active:
                self._run_start = -1
            elif active and self._run_start < 0:
                self._run_start = k
                self._run_sum[:] = -np.inf if self.rule == "max" else 0.0
                self._run_n = 0
            if self._run_start >= 0 and self._run_n < self.window_n:
                if self.rule == "max":
                    np.maximum(self._run_sum, probs[j], out=self._run_sum)
                else:
                    self._run_sum += probs[j]
                self._run_n += 1
            if self._open:
                if active:
                    self._last_active = k
                    self._quiet = 0
                else:
                    self._quiet += 1
                if self._quiet >= self.hang_n or k + 1 - self._onset >= self.max_n:
                    d = self._close()
                    if d is not None:
                        out.append(d)
            elif active and smooth >= thr_on:
                self._open = True
                self._onset = self._run_start
                self._last_active = k
                self._quiet = 0
        return out

    def _close(self) -> Detection | None:
        self._open = False
        onset, end = self._onset, self._last_active + 1
        p = self._run_sum.copy() if self.rule == "max" else self._run_sum / max(self._run_n, 1)
        self._run_start = -1
        self._run_n = 0
        self._quiet = 0
        if end - onset < self.min_n:
            self.n_segments_dropped += 1
            return None
        order = np.argsort(-p, kind="stable")
        best = int(order[0])
        score = float(p[best])
        margin = float(p[best] - p[order[1]]) if p.size > 1 else score
        if score < self.cfg.min_score:
            self.n_segments_dropped += 1
            return None
        return Detection(onset * self.frame_s, end * self.frame_s, best, self.class_names[best], score, margin,
                         tuple(float(x) for x in p))

    def finish(self) -> list[Detection]:
        """Close an open segment at the end of the stream."""
        if self._open:
            d = self._close()
            return [d] if d is not None else []
        return []


DETECTION_RULE = (
    "Input activity opens a segment: the front end's input event rate, averaged over the last smooth_s, "
    "reaches on = max(on_rate_hz, on_factor x background), where background tracks the noise floor "
    "(follows the rate down with background_down_s, up with the slower background_up_s); the onset is the "
    "start of the run of frames whose own rate is >= off = max(off_rate_hz, off_factor x background). "
    "The segment closes after hangover_s below off (or after max_duration_s); segments shorter "
    "than min_duration_s are dropped. The class is the argmax of the model's decision rule (decision_rule: "
    "mean_softmax = mean of softmax(V), per_step = mean of log_softmax(V), max = max of V) over the readout "
    "sampled at every frame of [onset, onset + window_s); score = that class's value (every class's value is in "
    "detections.csv), margin = best minus second best; detections with score < min_score are dropped."
)
