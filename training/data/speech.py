"""A long recording of synthetic speech with known word onsets, for `axon stream`.

The twenty digit words of :mod:`training.data.synth` (English and German), spoken by a
few espeak-ng voices, separated by random pauses, over continuous background noise;
written block by block to a 16-bit WAV with a CSV of the true onsets and classes beside
it. Used by the demo scenario (`axon data speech`) and ``benchmarks/stream_60min.py``.
Needs ``espeak-ng``; does not import torch.
"""
from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["write_speech_stream"]


def write_speech_stream(path, minutes: float, seed: int = 0, sample_rate: int = 16000, n_voices: int = 12,
                        gap_s=(0.6, 2.0), snr_db=(15.0, 30.0), speech_dbfs=(-30.0, -20.0), progress: bool = True):
    """Write ``path`` (16-bit WAV) and ``path.with_suffix('.onsets.csv')``.

    Words: the 20 classes of training/data/synth.py (English and German digits), spoken by
    ``n_voices`` espeak-ng voices (a pool of ``20 * n_voices`` utterances synthesised once).
    Between words a pause uniform in ``gap_s``; each word at a level uniform in
    ``speech_dbfs`` (RMS); background white noise at a per-word SNR uniform in ``snr_db``
    relative to that word, continuous across the whole stream. Known onset = first sample
    of the word's (trimmed) audio. Returns ``(wav_path, onsets_path)``.
    """
    import soundfile as sf

    from sim.audio.frontend import normalize_rms
    from training.data.synth import CLASS_NAMES, DEFAULT_VARIANTS, WORDS, VoiceParams, synthesize_word

    path = Path(path)
    if not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a finite number > 0, got {minutes!r}")
    if not 1 <= int(n_voices) <= len(DEFAULT_VARIANTS):
        raise ValueError(f"n_voices must be in 1..{len(DEFAULT_VARIANTS)}, got {n_voices!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    variants = [DEFAULT_VARIANTS[i] for i in rng.choice(len(DEFAULT_VARIANTS), n_voices, replace=False)]
    voices = [VoiceParams(v, int(rng.integers(35, 66)), int(rng.integers(130, 200))) for v in variants]
    pool = {}
    t0 = time.time()
    for vi, vp in enumerate(voices):
        for lang in ("en", "de"):
            for d, word in enumerate(WORDS[lang]):
                label = d + (10 if lang == "de" else 0)
                pool[(vi, label)] = synthesize_word(word, lang, vp, sample_rate=sample_rate).astype(np.float64)
    if progress:
        print(f"synthesised {len(pool)} utterances in {time.time() - t0:.1f} s", file=sys.stderr)
    total = int(round(minutes * 60 * sample_rate))
    onsets_path = path.with_suffix(".onsets.csv")
    noise_rms = 10 ** ((speech_dbfs[0] - snr_db[1]) / 20)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=1, subtype="PCM_16") as f, \
            open(onsets_path, "w", newline="") as of:
        w = csv.writer(of)
        w.writerow(["onset_s", "end_s", "class", "label", "voice"])
        pos = 0
        while pos < total:
            gap = int(rng.uniform(*gap_s) * sample_rate)
            vi = int(rng.integers(n_voices))
            label = int(rng.integers(20))
            word = normalize_rms(pool[(vi, label)], rng.uniform(*speech_dbfs))
            snr = rng.uniform(*snr_db)
            word_rms = float(np.sqrt(np.mean(word ** 2)))
            noise_rms = word_rms * 10 ** (-snr / 20)
            n = min(gap + word.shape[0], total - pos)
            block = rng.standard_normal(n) * noise_rms
            onset = pos + gap
            if gap < n:
                block[gap:] += word[:n - gap]
                if gap + word.shape[0] <= n:
                    w.writerow([f"{onset / sample_rate:.6f}", f"{(onset + word.shape[0]) / sample_rate:.6f}",
                                label, CLASS_NAMES[label], variants[vi]])
            f.write(np.clip(block, -1, 1))
            pos += n
    return path, onsets_path
