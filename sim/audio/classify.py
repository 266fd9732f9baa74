"""One isolated utterance through a network: the model's decision rule on the exact engine.

``axon classify`` and ``axon evaluate`` on sound files use :func:`classify_audio`. Never
imports torch.
"""
from __future__ import annotations

import math

import numpy as np

from sim.audio.frontend import FrontEnd, FrontEndConfig
from sim.audio.resample import resample
from sim.errors import AudioError, InputError, fmt_value
from sim.model.network import Network
from sim.model.task import class_scores, decision_rule_of, frontend_config_of, training_step_of

__all__ = ["classify_audio", "MAX_READOUT_SAMPLES"]


#: Readout samples one classify_audio call may take (a frame far below the front end's hop
#: samples the same potentials over and over, and would not fit in memory for long files).
MAX_READOUT_SAMPLES = 10_000_000


def classify_audio(network: Network, samples, sample_rate_hz: float, frontend: FrontEndConfig | None = None,
                   frame_s: float | None = None, min_duration_s: float | None = None) -> dict:
    """Classify one isolated utterance: the model's decision rule on the exact engine.

    The front end and the engine run from silence over the whole recording, padded with
    silence to ``min_duration_s`` (default: the training sample length
    ``network.task.window_s``, else 1 s) so that late, delayed spikes still reach the
    readout; the readout is sampled at the end of every frame (``frame_s``, default the
    training step ``network.task.dt_s``), and the class is the argmax of
    :func:`sim.model.task.class_scores` under ``network.task.decision_rule``.

    Returns ``{"class", "label", "score", "scores", "class_names", "decision_rule",
    "duration_s", "simulated_s", "n_input_events", "spikes"}``; ``scores`` holds every
    class's score. Raises :class:`~sim.errors.InputError` for empty audio or a bad frame.
    """
    from sim.engines.exact import ExactSimulator

    fe_cfg = frontend if frontend is not None else frontend_config_of(network)
    if network.readout is None:
        raise InputError("the network has no readout layer, nothing to classify with")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.shape[0] == 0:
        raise AudioError("the recording holds no samples (empty audio): nothing to classify")
    if not np.all(np.isfinite(x)):
        raise AudioError("the recording holds non-finite samples (nan or inf)")
    if float(sample_rate_hz) != fe_cfg.sample_rate_hz:
        x = resample(x, sample_rate_hz, fe_cfg.sample_rate_hz)
    frame = frame_s if frame_s is not None else training_step_of(network)
    if isinstance(frame, bool) or not isinstance(frame, (int, float, np.integer, np.floating)) \
            or not math.isfinite(frame) or frame <= 0:
        raise InputError(f"frame_s (readout sampling period) must be a finite number > 0 s, got {fmt_value(frame)}")
    rule = decision_rule_of(network)
    if min_duration_s is None:
        w = network.task.window_s if network.task is not None else None
        min_duration_s = float(w) if w else 1.0
    audio_dur = x.shape[0] / fe_cfg.sample_rate_hz
    n_pad = int(round(min_duration_s * fe_cfg.sample_rate_hz)) - x.shape[0]
    if n_pad > 0:
        x = np.concatenate([x, np.zeros(n_pad)])
    ev = FrontEnd(fe_cfg).process(x)
    dur = x.shape[0] / fe_cfg.sample_rate_hz
    n = int(math.floor(min(dur / frame + 1e-9, 1e12)))
    if n > MAX_READOUT_SAMPLES:
        raise InputError(f"frame_s={frame:g} s gives {n:,} readout samples over the {dur:g} s simulated, more than "
                         f"{MAX_READOUT_SAMPLES:,}; use a frame of at least {dur / MAX_READOUT_SAMPLES:.3g} s")
    if n < 1:
        raise InputError(f"frame_s={frame:g} s is longer than the {dur:g} s simulated: no readout sample")
    sim = ExactSimulator(network, record_spikes=False)
    ts = np.arange(1, n + 1) * frame
    until = sim.until_including(max(dur, ts[-1]))
    chunk = sim.run(until, events=ev, sample_times_s=ts)
    p = class_scores(chunk.readout, rule)
    names = network.class_names
    k = int(np.argmax(p))
    return {"class": k, "label": names[k], "score": float(p[k]), "scores": [float(v) for v in p],
            "probs": [float(v) for v in p], "class_names": names, "decision_rule": rule,
            "duration_s": audio_dur, "simulated_s": dur,
            "n_input_events": len(ev), "spikes": int(chunk.spike_times_s.shape[0])}
