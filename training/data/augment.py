"""Audio augmentation before the front end: noise of several colours, babble, synthetic
rooms, band-limiting/EQ, gain and vocal-tract (resampling) changes.

Every function takes an explicit ``numpy.random.Generator`` and returns the audio plus a
JSON-ready record of what it did, so a dataset can list every transformation of every
utterance. Nothing here downloads anything or imports torch.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from sim.errors import reject_unknown_fields

__all__ = [
    "NOISE_KINDS",
    "EQ_KINDS",
    "AugmentConfig",
    "colored_noise",
    "hum_noise",
    "modulated_noise",
    "burst_noise",
    "speech_shaped_noise",
    "UtteranceBank",
    "babble",
    "room_impulse_response",
    "apply_room",
    "apply_eq",
    "mix_at_snr",
    "tract_scale",
    "augment",
]

NOISE_KINDS = ("white", "pink", "brown", "blue", "babble", "hum", "modulated", "bursts", "speech_shaped")
"""Additive noises: coloured Gaussian noise (spectral slope 0, -3, -6, +3 dB/octave),
babble (a sum of other espeak-ng utterances), hum (a mains-like harmonic series over
low-passed noise), modulated (pink noise with a 2-8 Hz on/off envelope), bursts (white,
brown or blue noise switched on and off in random 30-400 ms segments) and speech_shaped
(stationary noise with the long-term spectrum of the babble material)."""

MAX_BABBLE_SENTENCES = 32
"""How many training babble sentences exist (``training.data.synth``'s list)."""

EQ_KINDS = ("telephone", "muffled", "tilt", "bright")
"""Band-limiting/EQ: telephone (300-3400 Hz band-pass), muffled (low-pass 0.8-2.5 kHz),
tilt (a first-order shelf, -9..+9 dB above 1 kHz), bright (high-pass 150-500 Hz)."""


@dataclass(frozen=True)
class AugmentConfig:
    """What augmentation draws from (each utterance draws independently from its own seed).

    Parameters
    ----------
    p_clean : float
        Probability that an utterance is left clean (only gain and tract scale apply).
    noise_kinds : tuple of str
        Noises to draw from (:data:`NOISE_KINDS`), uniformly.
    snr_db : (float, float)
        SNR range, dB re the word's RMS, uniform.
    p_reverb : float
        Probability of a synthetic room.
    rt60_s : (float, float)
        Reverberation time range of the rooms, s, uniform.
    p_eq : float
        Probability of an EQ (:data:`EQ_KINDS`, uniformly).
    gain_db : (float, float)
        Extra gain range, dB, uniform (applied last, to speech and noise together).
    tract_scale : (float, float)
        Resampling factor range (a factor ``a`` plays the word ``a`` times faster, raising
        pitch and formants together, like a shorter vocal tract), uniform; (1, 1) = off.
    babble_talkers : (int, int)
        Number of talkers summed into one babble, uniform over the closed range.
    babble_sentences, babble_voices : int
        Size of the training babble material: the first ``babble_sentences`` training
        sentences (no vocabulary word in any), each said by ``babble_voices`` training
        voices. The defaults (4 x 4) are the material of the first robust datasets.
    """

    p_clean: float = 0.2
    noise_kinds: tuple[str, ...] = ("white", "pink", "brown", "babble")
    snr_db: tuple[float, float] = (0.0, 30.0)
    p_reverb: float = 0.3
    rt60_s: tuple[float, float] = (0.15, 0.8)
    p_eq: float = 0.3
    gain_db: tuple[float, float] = (-15.0, 10.0)
    tract_scale: tuple[float, float] = (0.9, 1.1)
    babble_talkers: tuple[int, int] = (3, 7)
    babble_sentences: int = 4
    babble_voices: int = 4

    def __post_init__(self):
        o = "AugmentConfig"
        for name in ("p_clean", "p_reverb", "p_eq"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{o}.{name} must be a probability in [0, 1], got {v!r}")
            object.__setattr__(self, name, float(v))
        kinds = tuple(self.noise_kinds)
        bad = [k for k in kinds if k not in NOISE_KINDS]
        if not kinds or bad:
            raise ValueError(f"{o}.noise_kinds must be a non-empty subset of {NOISE_KINDS}, got {kinds!r}")
        object.__setattr__(self, "noise_kinds", kinds)
        for name, lo, hi in (("snr_db", -20.0, 100.0), ("rt60_s", 0.05, 5.0), ("gain_db", -60.0, 30.0),
                             ("tract_scale", 0.5, 2.0)):
            r = tuple(getattr(self, name))
            if len(r) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in r) \
                    or not lo <= r[0] <= r[1] <= hi:
                raise ValueError(f"{o}.{name} must be a pair low <= high within [{lo}, {hi}], got {r!r}")
            object.__setattr__(self, name, (float(r[0]), float(r[1])))
        r = tuple(self.babble_talkers)
        if len(r) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in r) \
                or not 1 <= r[0] <= r[1] <= 20:
            raise ValueError(f"{o}.babble_talkers must be a pair of integers 1 <= low <= high <= 20, got {r!r}")
        object.__setattr__(self, "babble_talkers", r)
        for name, hi in (("babble_sentences", MAX_BABBLE_SENTENCES), ("babble_voices", 64)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                raise ValueError(f"{o}.{name} must be an integer in [1, {hi}], got {v!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "AugmentConfig":
        reject_unknown_fields(cls, d)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def colored_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectral slope white 0, pink -3, brown -6, blue +3 dB/octave
    (shaped in the frequency domain), unit RMS, (n,) float64."""
    slopes = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0}  # exponent of f in power
    if kind not in slopes:
        raise ValueError(f"colored_noise: kind must be one of {sorted(slopes)}, got {kind!r}")
    x = rng.standard_normal(n)
    if kind != "white" and n > 1:
        spec = np.fft.rfft(x)
        f = np.arange(spec.shape[0], dtype=np.float64)
        f[0] = f[1] if f.shape[0] > 1 else 1.0
        spec *= f ** (slopes[kind] / 2.0)
        x = np.fft.irfft(spec, n)
    r = _rms(x)
    return x / r if r > 0 else x


def hum_noise(n: int, rng: np.random.Generator, fs: float) -> np.ndarray:
    """Machine hum: harmonics 1..12 of a 45-130 Hz fundamental with random phases and a
    1/h spectrum, plus low-passed (brown) noise at -10 dB; unit RMS."""
    t = np.arange(n) / fs
    f0 = rng.uniform(45.0, 130.0)
    x = np.zeros(n)
    for h in range(1, 13):
        if h * f0 < fs / 2:
            x += np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi)) / h
    x = x / max(_rms(x), 1e-12) + 10 ** (-10 / 20) * colored_noise("brown", n, rng)
    return x / _rms(x)


def modulated_noise(n: int, rng: np.random.Generator, fs: float) -> np.ndarray:
    """Fluctuating noise: pink noise under a raised-sine envelope of 2-8 Hz with a random
    depth of 60-100 %; unit RMS."""
    t = np.arange(n) / fs
    rate = rng.uniform(2.0, 8.0)
    depth = rng.uniform(0.6, 1.0)
    env = 1.0 - depth * 0.5 * (1.0 + np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    x = colored_noise("pink", n, rng) * env
    return x / max(_rms(x), 1e-12)


def burst_noise(n: int, rng: np.random.Generator, fs: float) -> np.ndarray:
    """Intermittent noise: white, brown or blue noise in segments of 30-400 ms, each on
    (level 0 to -12 dB) or off (-40 dB) with probability 1/2, joined by 5 ms raised-cosine
    ramps; unit RMS. Non-stationary like the held-out modulated noise, but with random
    segment lengths and levels instead of a periodic envelope, and other colours."""
    colour = ("white", "brown", "blue")[int(rng.integers(3))]
    x = colored_noise(colour, n, rng)
    env = np.empty(n)
    i = 0
    while i < n:
        m = int(rng.uniform(0.03, 0.4) * fs)
        level = 10 ** (-float(rng.uniform(0.0, 12.0)) / 20) if rng.random() < 0.5 else 0.01
        env[i:i + m] = level
        i += m
    ramp = max(1, int(0.005 * fs))
    if n > ramp:
        kernel = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(ramp) + 0.5) / ramp)
        env = np.convolve(env, kernel / kernel.sum(), mode="same")
    x = x * env
    return x / max(_rms(x), 1e-12)


def _mean_psd(bank) -> np.ndarray:
    from scipy.signal import welch

    return np.mean([welch(u, nperseg=min(512, u.shape[0]))[1] for u in bank if u.shape[0] >= 64], axis=0)


class UtteranceBank(tuple):
    """Utterances that babble and speech-shaped noise are made of (a tuple of arrays), with
    their mean spectrum computed once, on first use, instead of once per noise drawn."""

    @cached_property
    def mean_psd(self) -> np.ndarray:
        return _mean_psd(self)


def speech_shaped_noise(n: int, rng: np.random.Generator, bank: Sequence[np.ndarray]) -> np.ndarray:
    """Stationary Gaussian noise whose power spectrum is the mean spectrum of the
    utterances in ``bank`` (Welch, 512-sample segments); unit RMS."""
    if not bank:
        raise ValueError("speech_shaped_noise: the utterance bank is empty")
    psd = bank.mean_psd if isinstance(bank, UtteranceBank) else _mean_psd(bank)
    spec = np.fft.rfft(rng.standard_normal(n))
    grid = np.linspace(0.0, 1.0, spec.shape[0])
    spec *= np.sqrt(np.interp(grid, np.linspace(0.0, 1.0, psd.shape[0]), psd))
    x = np.fft.irfft(spec, n)
    return x / max(_rms(x), 1e-12)


def babble(n: int, rng: np.random.Generator, bank: Sequence[np.ndarray], talkers: tuple[int, int] = (3, 7)) -> np.ndarray:
    """Sum of ``talkers`` random excerpts of the utterances in ``bank`` (each at unit RMS,
    random start, looped to length), unit RMS."""
    if not bank:
        raise ValueError("babble: the utterance bank is empty")
    k = int(rng.integers(talkers[0], talkers[1] + 1))
    x = np.zeros(n)
    for _ in range(k):
        u = bank[int(rng.integers(len(bank)))]
        u = u / max(_rms(u), 1e-12)
        start = int(rng.integers(u.shape[0]))
        idx = (start + np.arange(n)) % u.shape[0]
        x += u[idx]
    return x / max(_rms(x), 1e-12)


def room_impulse_response(rng: np.random.Generator, fs: float, rt60_s: float) -> tuple[np.ndarray, dict]:
    """A synthetic room: a direct path, 4-10 early reflections in the first 5-30 ms and an
    exponentially decaying noise tail (60 dB down after ``rt60_s``) that starts at
    2-10 ms, whose high frequencies decay faster (a one-pole low-pass closing with time).
    Direct-to-reverberant ratio -3..+12 dB. Returns the response (peak 1) and its record."""
    n = int(round(min(rt60_s, 1.5) * fs))
    t = np.arange(n) / fs
    h = np.zeros(n)
    h[0] = 1.0
    n_early = int(rng.integers(4, 11))
    for _ in range(n_early):
        d = int(rng.uniform(0.005, 0.03) * fs)
        if d < n:
            h[d] += rng.uniform(-0.7, 0.7)
    onset = int(rng.uniform(0.002, 0.01) * fs)
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)
    tail[:onset] = 0.0
    # High frequencies die sooner: low-pass whose coefficient grows along the tail.
    a = np.clip(0.1 + 0.8 * t / max(rt60_s, 1e-3), 0.0, 0.95)
    y = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = a[i] * acc + (1 - a[i]) * tail[i]
        y[i] = acc
    drr_db = float(rng.uniform(-3.0, 12.0))
    e_direct = float(np.sum(h * h))
    e_tail = float(np.sum(y * y))
    if e_tail > 0:
        y *= math.sqrt(e_direct / e_tail * 10 ** (-drr_db / 10))
    h = h + y
    h /= np.max(np.abs(h))
    return h, {"rt60_s": round(float(rt60_s), 4), "drr_db": round(drr_db, 2), "n_early": n_early}


def apply_room(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Convolve with a room response, keep the length of ``x`` plus the tail (up to the
    response length), rescaled to the RMS of ``x``."""
    from scipy.signal import fftconvolve

    y = fftconvolve(x, h)
    r = _rms(y)
    return y * (_rms(x) / r) if r > 0 else y


def apply_eq(x: np.ndarray, kind: str, rng: np.random.Generator, fs: float) -> tuple[np.ndarray, dict]:
    """One EQ of :data:`EQ_KINDS`, rescaled to the input's RMS. Returns audio and record."""
    from scipy.signal import butter, sosfilt

    if kind == "telephone":
        lo, hi = float(rng.uniform(250, 400)), float(rng.uniform(3000, 3600))
        y = sosfilt(butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos"), x)
        rec = {"eq": kind, "low_hz": round(lo, 1), "high_hz": round(hi, 1)}
    elif kind == "muffled":
        fc = float(rng.uniform(800, 2500))
        y = sosfilt(butter(2, fc, btype="lowpass", fs=fs, output="sos"), x)
        rec = {"eq": kind, "cutoff_hz": round(fc, 1)}
    elif kind == "bright":
        fc = float(rng.uniform(150, 500))
        y = sosfilt(butter(2, fc, btype="highpass", fs=fs, output="sos"), x)
        rec = {"eq": kind, "cutoff_hz": round(fc, 1)}
    elif kind == "tilt":
        g_db = float(rng.uniform(-9, 9))
        hp = sosfilt(butter(1, 1000.0, btype="highpass", fs=fs, output="sos"), x)
        lp = x - hp
        y = lp + hp * 10 ** (g_db / 20)
        rec = {"eq": kind, "gain_above_1khz_db": round(g_db, 2)}
    else:
        raise ValueError(f"apply_eq: kind must be one of {EQ_KINDS}, got {kind!r}")
    r = _rms(y)
    return (y * (_rms(x) / r) if r > 0 else y), rec


def mix_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float, speech_rms: float) -> np.ndarray:
    """``x + noise`` with the noise (unit RMS) scaled to ``speech_rms / 10**(snr_db/20)``."""
    return x + noise[:x.shape[0]] * (speech_rms * 10 ** (-snr_db / 20))


def tract_scale(word: np.ndarray, factor: float) -> np.ndarray:
    """Play ``word`` ``factor`` times faster by resampling (pitch, formants and duration
    all scale): vocal-tract-length-like perturbation."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    if factor == 1.0:
        return word.copy()
    fr = Fraction(factor).limit_denominator(200)
    return resample_poly(word, fr.denominator, fr.numerator)


def make_noise(kind: str, n: int, rng: np.random.Generator, fs: float, bank: Sequence[np.ndarray] | None,
               talkers: tuple[int, int] = (3, 7)) -> np.ndarray:
    """Unit-RMS noise of one of :data:`NOISE_KINDS` (babble and speech_shaped need ``bank``;
    ``talkers`` is babble's range of summed talkers)."""
    if kind in ("white", "pink", "brown", "blue"):
        return colored_noise(kind, n, rng)
    if kind == "hum":
        return hum_noise(n, rng, fs)
    if kind == "modulated":
        return modulated_noise(n, rng, fs)
    if kind == "babble":
        return babble(n, rng, bank or [], talkers)
    if kind == "bursts":
        return burst_noise(n, rng, fs)
    if kind == "speech_shaped":
        return speech_shaped_noise(n, rng, bank or [])
    raise ValueError(f"make_noise: kind must be one of {NOISE_KINDS}, got {kind!r}")


def augment(word: np.ndarray, lead: int, tail: int, rng: np.random.Generator, config: AugmentConfig,
            fs: float, bank: Sequence[np.ndarray] | None = None, twin: bool = False):
    """Augment one word (already at its target RMS) and pad it.

    Order: tract scale -> pad (``lead`` zeros before, ``tail`` after) -> EQ -> room ->
    additive noise over the whole padded utterance at an SNR re the word's RMS -> gain.
    Returns the audio (float64) and the record of every draw; with ``twin``, also the
    utterance's clean twin: the same tract scale, padding and gain, without EQ, room or
    noise (what the same talker would give in a quiet, dry room at that level). Asking for
    the twin draws nothing more: the augmented audio is the same with or without it.
    """
    rec: dict = {}
    speech_rms = _rms(word)
    lo, hi = config.tract_scale
    a = float(rng.uniform(lo, hi)) if hi > lo else lo
    if a != 1.0:
        word = tract_scale(word, a)
        rec["tract_scale"] = round(a, 4)
    x = np.concatenate([np.zeros(lead), word, np.zeros(tail)])
    dry = x
    clean = rng.random() < config.p_clean
    if not clean:
        if rng.random() < config.p_eq:
            x, r = apply_eq(x, EQ_KINDS[int(rng.integers(len(EQ_KINDS)))], rng, fs)
            rec.update(r)
        if rng.random() < config.p_reverb:
            rt = float(rng.uniform(*config.rt60_s))
            h, r = room_impulse_response(rng, fs, rt)
            x = apply_room(x, h)[:x.shape[0]]
            rec["room"] = r
        kind = config.noise_kinds[int(rng.integers(len(config.noise_kinds)))]
        snr = float(rng.uniform(*config.snr_db))
        x = mix_at_snr(x, make_noise(kind, x.shape[0], rng, fs, bank, config.babble_talkers), snr, speech_rms)
        rec["noise"] = kind
        rec["snr_db"] = round(snr, 2)
    g = float(rng.uniform(*config.gain_db))
    x = x * 10 ** (g / 20)
    rec["gain_db"] = round(g, 2)
    # Keep within full scale as a real recording would (clip, recorded when it happens).
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 1.0:
        x = np.clip(x, -1.0, 1.0)
        rec["clipped_peak"] = round(peak, 3)
    if not twin:
        return x, rec
    return x, rec, np.clip(dry * 10 ** (g / 20), -1.0, 1.0)
