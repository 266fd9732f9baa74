"""Synthetic spoken digits: espeak-ng voices -> audio front end -> SHD-format files.

Twenty classes as in SHD: English "zero".."nine" (labels 0-9) and German
"null".."neun" (labels 10-19). A *speaker* is a fixed espeak-ng voice variant, pitch,
speed and English accent; every speaker says all twenty words, ``repetitions`` times,
each with a small random jitter of speed, pitch, level and onset, optionally with
white noise at a given SNR. Splits are by speaker, never by utterance. Everything
is drawn from one ``numpy.random.Generator`` seeded by ``SynthConfig.seed``: the same
seed gives byte-identical arrays, whatever the number of worker processes.

Needs the ``espeak-ng`` program on ``PATH``; does not import torch.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache

import numpy as np

from sim.frontend import FrontEnd, FrontEndConfig, normalize_rms, resample
from training.data.shd import SHD_CLASS_NAMES, SpikeDataset, write_shd

__all__ = [
    "WORDS",
    "CLASS_NAMES",
    "DEFAULT_VARIANTS",
    "SYNTH_SIZES",
    "VoiceParams",
    "Speaker",
    "SynthConfig",
    "synthesize_word",
    "make_speakers",
    "generate",
    "write_synth",
    "available_variants",
    "audio_to_spikes",
]

WORDS: dict[str, list[str]] = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"],
}
"""Text given to espeak-ng for each language, in digit order."""

CLASS_NAMES: list[str] = list(SHD_CLASS_NAMES)
"""Class names (SHD's: German umlaut spelled "fuenf"); label = 10 * (lang == "de") + digit."""

# Speech-like espeak-ng variants (voices/!v); robots, whisper and effects left out.
DEFAULT_VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4",
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis", "Diogo", "Gene", "Henrique",
    "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen",
    "adam", "anika", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb",
    "david", "ed", "edward", "grandma", "grandpa", "gustave", "iven", "john", "linda",
    "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy",
    "rob", "robert", "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac",
)

SYNTH_SIZES: dict[str, dict] = {
    "tiny": dict(n_speakers=3, repetitions=1),        # 60 utterances, for tests
    "small": dict(n_speakers=12, repetitions=1),      # 240 utterances
    "quick": dict(n_speakers=40, repetitions=1),      # 800 utterances
    "default": dict(n_speakers=120, repetitions=2),   # 4800 utterances
    "large": dict(n_speakers=400, repetitions=2),     # 16000 utterances
}
"""Named sizes for :meth:`SynthConfig.preset` and ``axon data synth --size``."""


def _check_int(owner: str, name: str, v, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{owner}.{name} must be an integer, got {v!r}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{owner}.{name} must be in [{lo}, {hi}], got {v!r}")
    return v


def _check_float(owner: str, name: str, v, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise ValueError(f"{owner}.{name} must be a finite number, got {v!r}")
    v = float(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{owner}.{name} must be in [{lo}, {hi}], got {v!r}")
    return v


@dataclass(frozen=True)
class VoiceParams:
    """One espeak-ng voice setting.

    Parameters
    ----------
    variant : str
        espeak-ng voice variant (a file in ``espeak-ng-data/voices/!v``), e.g. "m3".
    pitch : int
        espeak-ng ``-p``, 0..99 (50 = the variant's normal pitch).
    speed_wpm : int
        espeak-ng ``-s``, words per minute, 80..450.
    english : str
        Base voice used for English words: "en" (British) or "en-us".
    """

    variant: str = "m3"
    pitch: int = 50
    speed_wpm: int = 160
    english: str = "en"

    def __post_init__(self):
        if not isinstance(self.variant, str) or not self.variant or any(c.isspace() for c in self.variant):
            raise ValueError(f"VoiceParams.variant must be a non-empty name without spaces, got {self.variant!r}")
        object.__setattr__(self, "pitch", _check_int("VoiceParams", "pitch", self.pitch, 0, 99))
        object.__setattr__(self, "speed_wpm", _check_int("VoiceParams", "speed_wpm", self.speed_wpm, 80, 450))
        if self.english not in ("en", "en-us"):
            raise ValueError(f"VoiceParams.english must be 'en' or 'en-us', got {self.english!r}")


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: a global id, its voice and its split ("train"/"valid"/"test")."""

    id: int
    voice: VoiceParams
    split: str


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic digit dataset (with the espeak-ng version).

    Parameters
    ----------
    seed : int
        Seed of the one ``numpy.random.Generator`` everything is drawn from.
    n_speakers : int
        Number of speakers (each says all 20 words ``repetitions`` times).
    repetitions : int
        Utterances per speaker and word.
    valid_fraction, test_fraction : float
        Fractions of *speakers* in the validation and test splits (each split gets at
        least one speaker when its fraction is > 0); the rest train.
    pitch_range : (int, int)
        Range of a speaker's espeak pitch (inclusive).
    speed_range_wpm : (int, int)
        Range of a speaker's speed, words per minute (inclusive).
    speed_jitter : float
        Per-utterance relative speed jitter, uniform in ``[-speed_jitter, speed_jitter]``.
    pitch_jitter : int
        Per-utterance pitch jitter, uniform integers in ``[-pitch_jitter, pitch_jitter]``.
    level_dbfs : float
        RMS level of each word (before padding), dB re full scale.
    level_jitter_db : float
        Per-utterance level jitter, uniform in ``[-level_jitter_db, level_jitter_db]`` dB.
    lead_silence_max_s : float
        Each word is preceded by silence of uniform random length in ``[0, max]``, s.
    tail_silence_s : float
        Silence after each word, s (lets the envelopes decay: the DOWN events).
    noise_snr_db : float or None
        White Gaussian noise at this SNR (re the word's RMS) over the whole
        utterance, or None for none.
    variants : tuple of str
        espeak-ng variants speakers are drawn from (cycled in a shuffled order so
        that they are used evenly).
    frontend : FrontEndConfig
        Audio front end that turns the 16 kHz audio into spikes.
    """

    seed: int = 0
    n_speakers: int = 120
    repetitions: int = 2
    valid_fraction: float = 0.15
    test_fraction: float = 0.15
    pitch_range: tuple[int, int] = (25, 75)
    speed_range_wpm: tuple[int, int] = (130, 200)
    speed_jitter: float = 0.06
    pitch_jitter: int = 4
    level_dbfs: float = -20.0
    level_jitter_db: float = 6.0
    lead_silence_max_s: float = 0.1
    tail_silence_s: float = 0.1
    noise_snr_db: float | None = None
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)

    def __post_init__(self):
        o = "SynthConfig"
        object.__setattr__(self, "seed", _check_int(o, "seed", self.seed, 0))
        object.__setattr__(self, "n_speakers", _check_int(o, "n_speakers", self.n_speakers, 1))
        object.__setattr__(self, "repetitions", _check_int(o, "repetitions", self.repetitions, 1))
        for name in ("valid_fraction", "test_fraction"):
            object.__setattr__(self, name, _check_float(o, name, getattr(self, name), 0.0, 0.9))
        for name, lo, hi in (("pitch_range", 0, 99), ("speed_range_wpm", 80, 450)):
            r = tuple(getattr(self, name))
            if len(r) != 2:
                raise ValueError(f"{o}.{name} must be a pair (low, high), got {r!r}")
            r = (_check_int(o, name, r[0], lo, hi), _check_int(o, name, r[1], lo, hi))
            if r[1] < r[0]:
                raise ValueError(f"{o}.{name} must have low <= high, got {r!r}")
            object.__setattr__(self, name, r)
        object.__setattr__(self, "speed_jitter", _check_float(o, "speed_jitter", self.speed_jitter, 0.0, 0.5))
        object.__setattr__(self, "pitch_jitter", _check_int(o, "pitch_jitter", self.pitch_jitter, 0, 50))
        object.__setattr__(self, "level_dbfs", _check_float(o, "level_dbfs", self.level_dbfs, -80.0, -3.0))
        object.__setattr__(self, "level_jitter_db", _check_float(o, "level_jitter_db", self.level_jitter_db, 0.0, 30.0))
        object.__setattr__(self, "lead_silence_max_s",
                           _check_float(o, "lead_silence_max_s", self.lead_silence_max_s, 0.0, 5.0))
        object.__setattr__(self, "tail_silence_s", _check_float(o, "tail_silence_s", self.tail_silence_s, 0.0, 5.0))
        if self.noise_snr_db is not None:
            object.__setattr__(self, "noise_snr_db",
                               _check_float(o, "noise_snr_db", self.noise_snr_db, -20.0, 100.0))
        variants = tuple(self.variants)
        if not variants:
            raise ValueError(f"{o}.variants must not be empty")
        for v in variants:
            VoiceParams(variant=v)  # name check
        if len(set(variants)) != len(variants):
            raise ValueError(f"{o}.variants has duplicates: {variants!r}")
        object.__setattr__(self, "variants", variants)
        if not isinstance(self.frontend, FrontEndConfig):
            raise ValueError(f"{o}.frontend must be a FrontEndConfig, got {type(self.frontend).__name__}")
        n_valid, n_test = self.split_sizes()[1:]
        if self.n_speakers - n_valid - n_test < 1:
            raise ValueError(
                f"{o}.n_speakers={self.n_speakers} leaves no training speaker with "
                f"valid_fraction={self.valid_fraction} and test_fraction={self.test_fraction}"
            )
        n_combos = len(variants) * (self.pitch_range[1] - self.pitch_range[0] + 1) * \
            (self.speed_range_wpm[1] - self.speed_range_wpm[0] + 1) * 2
        if n_combos < 2 * self.n_speakers:
            raise ValueError(f"{o}.n_speakers={self.n_speakers} is too many for the ranges of variant, "
                             f"pitch and speed ({n_combos} distinct voices)")

    @classmethod
    def preset(cls, size: str = "default", **overrides) -> "SynthConfig":
        """A config of a named size (:data:`SYNTH_SIZES`), with field overrides."""
        if size not in SYNTH_SIZES:
            raise ValueError(f"SynthConfig.preset: size must be one of {sorted(SYNTH_SIZES)}, got {size!r}")
        return cls(**{**SYNTH_SIZES[size], **overrides})

    def split_sizes(self) -> tuple[int, int, int]:
        """Number of (train, valid, test) speakers."""
        def part(frac):
            return 0 if frac == 0 else max(1, int(round(frac * self.n_speakers)))
        n_valid, n_test = part(self.valid_fraction), part(self.test_fraction)
        return self.n_speakers - n_valid - n_test, n_valid, n_test

    @property
    def n_utterances(self) -> int:
        return self.n_speakers * self.repetitions * len(CLASS_NAMES)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["frontend"] = self.frontend.to_dict()
        d["pitch_range"] = list(self.pitch_range)
        d["speed_range_wpm"] = list(self.speed_range_wpm)
        d["variants"] = list(self.variants)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SynthConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"SynthConfig.from_dict: unknown field(s) {unknown}")
        kw = dict(d)
        if "frontend" in kw:
            kw["frontend"] = FrontEndConfig.from_dict(kw["frontend"])
        for k in ("pitch_range", "speed_range_wpm", "variants"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


# --------------------------------------------------------------------------- espeak-ng


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng not found on PATH (Debian/Ubuntu: apt-get install espeak-ng)")
    return exe


@lru_cache(maxsize=1)
def available_variants() -> frozenset[str]:
    """Names of the voice variants the installed espeak-ng offers (``--voices=variant``)."""
    out = subprocess.run([_espeak(), "--voices=variant"], capture_output=True, check=True, text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        for tok in line.split():
            if tok.startswith("!v/"):
                names.add(tok[3:])
    return frozenset(names)


@lru_cache(maxsize=1)
def espeak_version() -> str:
    out = subprocess.run([_espeak(), "--version"], capture_output=True, check=True, text=True).stdout
    return out.strip()


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode espeak-ng's 16-bit mono WAV. ``--stdout`` writes placeholder chunk sizes
    (it cannot seek back), so the data chunk is taken to run to the end of the bytes."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("espeak-ng output is not a RIFF/WAVE stream")
    pos, rate, bits, channels = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", data[body:body + 8])
            bits = struct.unpack("<H", data[body + 14:body + 16])[0]
            if fmt != 1 or bits != 16 or channels != 1:
                raise ValueError(f"espeak-ng output: expected 16-bit mono PCM, got format {fmt}, "
                                 f"{bits} bits, {channels} channels")
        elif cid == b"data":
            if rate is None:
                raise ValueError("espeak-ng output: data chunk before fmt chunk")
            end = min(len(data), body + size)
            end -= (end - body) % 2
            return np.frombuffer(data[body:end], dtype="<i2").astype(np.float64) / 32768.0, rate
        pos = body + size + (size & 1)
    raise ValueError("espeak-ng output has no data chunk")


def _trim(x: np.ndarray, sample_rate: float, threshold_db: float = -45.0,
          margin_s: float = 0.02, fade_s: float = 0.005) -> np.ndarray:
    """Cut leading/trailing samples below ``threshold_db`` re the peak (keeping a
    margin) and fade both ends in/out with a raised cosine, so no click remains."""
    if x.size == 0:
        return x
    peak = np.max(np.abs(x))
    if peak == 0:
        return x[:0]
    loud = np.nonzero(np.abs(x) >= peak * 10.0 ** (threshold_db / 20.0))[0]
    margin = int(round(margin_s * sample_rate))
    y = x[max(0, loud[0] - margin):min(x.size, loud[-1] + 1 + margin)].copy()
    nf = min(int(round(fade_s * sample_rate)), y.size // 2)
    if nf > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(nf) + 0.5) / nf)
        y[:nf] *= ramp
        y[-nf:] *= ramp[::-1]
    return y


def synthesize_word(word: str, lang: str, voice_params: VoiceParams | dict | None = None,
                    sample_rate: float = 16000.0, trim: bool = True) -> np.ndarray:
    """Speak one word with espeak-ng.

    Parameters
    ----------
    word : str
        Text to speak (any word; UTF-8, e.g. "fünf").
    lang : {"en", "de"}
        Language; English uses ``voice_params.english`` ("en" or "en-us").
    voice_params : VoiceParams or dict, optional
        Variant, pitch, speed; defaults to ``VoiceParams()``.
    sample_rate : float
        Output rate, Hz (espeak-ng speaks at 22050 Hz; converted with
        :func:`sim.frontend.resample`).
    trim : bool
        Remove leading/trailing near-silence (below -45 dB re the peak, keeping
        20 ms) and fade the ends over 5 ms.

    Returns
    -------
    (n,) float32
        Mono audio, full scale 1.0, at espeak-ng's own level (not normalised).
        Deterministic: the same arguments give the same samples.
    """
    if lang not in WORDS:
        raise ValueError(f"synthesize_word: lang must be one of {sorted(WORDS)}, got {lang!r}")
    if voice_params is None:
        voice_params = VoiceParams()
    elif isinstance(voice_params, dict):
        voice_params = VoiceParams(**voice_params)
    if not isinstance(word, str) or not word.strip() or word.lstrip().startswith("-"):
        raise ValueError(f"synthesize_word: word must be non-empty text, got {word!r}")
    base = voice_params.english if lang == "en" else lang
    cmd = [_espeak(), "-v", f"{base}+{voice_params.variant}", "-p", str(voice_params.pitch),
           "-s", str(voice_params.speed_wpm), "--stdout", word]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ValueError(f"synthesize_word: espeak-ng failed ({' '.join(cmd)}): "
                         f"{proc.stderr.decode(errors='replace').strip()}")
    x, rate = _parse_wav(proc.stdout)
    if float(rate) != float(sample_rate):
        x = resample(x, rate, sample_rate)
    if trim:
        x = _trim(x, sample_rate)
    return x.astype(np.float32)


# --------------------------------------------------------------------------- planning


def make_speakers(config: SynthConfig) -> list[Speaker]:
    """Draw the speakers and their split from ``config.seed`` (deterministic).

    Returns ``config.n_speakers`` speakers with ids ``0..n-1`` and distinct voices.
    """
    rng = np.random.default_rng([config.seed, 0])
    variants = list(config.variants)
    order: list[str] = []
    voices: list[VoiceParams] = []
    seen = set()
    while len(voices) < config.n_speakers:
        if not order:
            order = [variants[i] for i in rng.permutation(len(variants))]
        variant = order.pop()
        while True:
            v = VoiceParams(
                variant=variant,
                pitch=int(rng.integers(config.pitch_range[0], config.pitch_range[1] + 1)),
                speed_wpm=int(rng.integers(config.speed_range_wpm[0], config.speed_range_wpm[1] + 1)),
                english="en" if rng.random() < 0.5 else "en-us",
            )
            if v not in seen:
                break
        seen.add(v)
        voices.append(v)
    n_train, n_valid, n_test = config.split_sizes()
    perm = rng.permutation(config.n_speakers)
    split_of = np.empty(config.n_speakers, dtype=object)
    split_of[perm[:n_train]] = "train"
    split_of[perm[n_train:n_train + n_valid]] = "valid"
    split_of[perm[n_train + n_valid:]] = "test"
    return [Speaker(i, voices[i], str(split_of[i])) for i in range(config.n_speakers)]


@dataclass(frozen=True)
class _Job:
    uid: int
    speaker: int
    label: int
    voice: VoiceParams
    level_dbfs: float
    lead_s: float


def _plan(config: SynthConfig, speakers: list[Speaker]) -> list[_Job]:
    rng = np.random.default_rng([config.seed, 1])
    jobs = []
    for sp in speakers:
        for _rep in range(config.repetitions):
            for label in range(len(CLASS_NAMES)):
                speed = int(round(sp.voice.speed_wpm * (1.0 + rng.uniform(-config.speed_jitter, config.speed_jitter))))
                pitch = sp.voice.pitch + int(rng.integers(-config.pitch_jitter, config.pitch_jitter + 1))
                voice = replace(sp.voice, pitch=int(np.clip(pitch, 0, 99)), speed_wpm=int(np.clip(speed, 80, 450)))
                jobs.append(_Job(
                    uid=len(jobs), speaker=sp.id, label=label, voice=voice,
                    level_dbfs=config.level_dbfs + float(rng.uniform(-config.level_jitter_db, config.level_jitter_db)),
                    lead_s=float(rng.uniform(0.0, config.lead_silence_max_s)),
                ))
    return jobs


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=4)
def _cached_frontend(config: FrontEndConfig) -> FrontEnd:
    return FrontEnd(config)


def audio_to_spikes(audio, config: FrontEndConfig) -> tuple[np.ndarray, np.ndarray]:
    """Encode one utterance from silence; returns (times_s float64, units int64).

    Reuses one :class:`FrontEnd` per config and process (filter design is cached),
    reset before each utterance.
    """
    fe = _cached_frontend(config)
    fe.reset()
    ev = fe.process(np.asarray(audio, dtype=np.float64))
    return ev.times_s, ev.channels


def _render(args) -> tuple[np.ndarray, np.ndarray, float]:
    job, config = args
    fs = config.frontend.sample_rate_hz
    lang = "en" if job.label < 10 else "de"
    word = synthesize_word(WORDS[lang][job.label % 10], lang, job.voice, fs).astype(np.float64)
    word = normalize_rms(word, job.level_dbfs)
    lead = int(round(job.lead_s * fs))
    tail = int(round(config.tail_silence_s * fs))
    x = np.concatenate([np.zeros(lead), word, np.zeros(tail)])
    if config.noise_snr_db is not None:
        # One generator per utterance: the result does not depend on which worker runs it.
        noise_rng = np.random.default_rng([config.seed, 2, job.uid])
        noise_rms = 10.0 ** ((job.level_dbfs - config.noise_snr_db) / 20.0)
        x = x + noise_rng.standard_normal(x.shape[0]) * noise_rms
    t, u = audio_to_spikes(x, config.frontend)
    return t, u, x.shape[0] / fs


def _check_variants(config: SynthConfig) -> None:
    missing = sorted(set(config.variants) - available_variants())
    if missing:
        raise ValueError(f"SynthConfig.variants: espeak-ng has no variant(s) {missing} "
                         f"(see `espeak-ng --voices=variant`)")


def _run_jobs(jobs: list[_Job], config: SynthConfig, workers: int, progress: bool):
    args = [(j, config) for j in jobs]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(args), unit="utt", desc="synth digits", smoothing=0.05)
    out = []
    try:
        if workers <= 1:
            for a in args:
                out.append(_render(a))
                if bar is not None:
                    bar.update()
        else:
            import multiprocessing as mp
            # "spawn": a clean interpreter per worker, safe even if the parent has
            # imported torch (fork after OpenMP initialisation can hang).
            with mp.get_context("spawn").Pool(workers) as pool:
                for r in pool.imap(_render, args, chunksize=16):
                    out.append(r)
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    return out


def generate(config: SynthConfig, workers: int = 2, progress: bool = True) -> tuple[dict[str, SpikeDataset], dict]:
    """Synthesise the whole dataset in memory.

    Parameters
    ----------
    config : SynthConfig
    workers : int
        Worker processes (1 = in this process). Does not change the result.
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    datasets : dict
        ``{"train": SpikeDataset, "valid": ..., "test": ...}``; samples ordered by
        speaker id, repetition, label; ``n_units = config.frontend.n_channels``.
    info : dict
        JSON-ready description: config, speakers per split, counts, events and audio
        duration statistics, espeak-ng version, elapsed time.
    """
    workers = _check_int("generate", "workers", workers, 1, 64)
    _check_variants(config)
    t0 = time.perf_counter()
    speakers = make_speakers(config)
    jobs = _plan(config, speakers)
    results = _run_jobs(jobs, config, workers, progress)
    elapsed = time.perf_counter() - t0
    split_of = {sp.id: sp.split for sp in speakers}
    datasets, info_splits = {}, {}
    for split in ("train", "valid", "test"):
        idx = [i for i, j in enumerate(jobs) if split_of[j.speaker] == split]
        ds = SpikeDataset(
            times_s=[results[i][0] for i in idx],
            units=[results[i][1] for i in idx],
            labels=np.array([jobs[i].label for i in idx], dtype=np.int64),
            speakers=np.array([jobs[i].speaker for i in idx], dtype=np.int64),
            n_units=config.frontend.n_channels,
            class_names=list(CLASS_NAMES),
        )
        datasets[split] = ds
        n_ev = ds.n_events()
        audio_s = np.array([results[i][2] for i in idx])
        info_splits[split] = {
            "n_utterances": len(ds),
            "n_speakers": int(len(np.unique(ds.speakers))),
            "speakers": [
                {"id": sp.id, **asdict(sp.voice)} for sp in speakers if sp.split == split
            ],
            "events_per_utterance_mean": float(n_ev.mean()) if len(ds) else 0.0,
            "events_per_utterance_min": int(n_ev.min()) if len(ds) else 0,
            "events_per_utterance_max": int(n_ev.max()) if len(ds) else 0,
            "audio_duration_mean_s": float(audio_s.mean()) if len(ds) else 0.0,
            "class_counts": np.bincount(ds.labels, minlength=len(CLASS_NAMES)).tolist(),
        }
    info = {
        "kind": "axon synthetic spoken digits",
        "format_version": 1,
        "seed": config.seed,
        "config": config.to_dict(),
        "class_names": list(CLASS_NAMES),
        "n_units": config.frontend.n_channels,
        "espeak_ng": espeak_version(),
        "n_utterances": len(jobs),
        "splits": info_splits,
        "workers": workers,
        "elapsed_s": round(elapsed, 3),
    }
    return datasets, info


def write_synth(out_dir, config: SynthConfig, workers: int = 2, progress: bool = True) -> dict:
    """Generate the dataset and write it to ``out_dir``.

    Writes ``synth_train.h5``, ``synth_valid.h5``, ``synth_test.h5`` (SHD layout; root
    attributes ``frontend`` and ``synth_config`` as JSON, ``split``, ``seed``) and
    ``dataset.json`` (the ``info`` of :func:`generate`, plus the file names).

    Returns
    -------
    dict
        The ``dataset.json`` content.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    datasets, info = generate(config, workers=workers, progress=progress)
    files = {}
    for split, ds in datasets.items():
        name = f"synth_{split}.h5"
        write_shd(os.path.join(out_dir, name), ds, attrs={
            "kind": "axon synthetic spoken digits",
            "split": split,
            "seed": config.seed,
            "frontend": config.frontend.to_dict(),
            "synth_config": config.to_dict(),
        })
        files[split] = name
    info["files"] = files
    with open(os.path.join(out_dir, "dataset.json"), "w") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return info
