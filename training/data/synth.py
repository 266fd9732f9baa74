"""Synthetic spoken words: espeak-ng voices -> augmentation -> audio front end -> SHD files.

Two vocabularies. ``digits``: twenty classes as in SHD, English "zero".."nine" (labels
0-9) and German "null".."neun" (labels 10-19). ``gsc35``: the 35 English keywords of
Google Speech Commands v2 (:data:`GSC35_WORDS`). A *speaker* is a fixed espeak-ng voice
variant, pitch, speed and English base voice; every speaker says every word
``repetitions`` times, each with a small random jitter of speed, pitch, level and onset,
optionally augmented (:mod:`training.data.augment`: noise, babble, rooms, EQ, gain,
vocal-tract scale). Splits are by speaker, never by utterance; with held-out *voice
families* a further split ``test_family`` has speakers whose English base voice and
voice variant never occur in the other splits. Test splits can also be written under
evaluation conditions (held-out noises at given SNRs, held-out rooms). Everything is
drawn from generators seeded by ``SynthConfig.seed``: the same seed gives byte-identical
arrays, whatever the number of worker processes.

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
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

import numpy as np

from sim.errors import reject_unknown_fields
from sim.audio.frontend import FrontEnd, FrontEndConfig, normalize_rms
from sim.audio.resample import resample
from training.data.augment import NOISE_KINDS, AugmentConfig, UtteranceBank, apply_room, augment, make_noise, \
    mix_at_snr, room_impulse_response
from training.data.shd import SHD_CLASS_NAMES, SpikeDataset, write_shd

__all__ = [
    "WORDS",
    "CLASS_NAMES",
    "GSC35_WORDS",
    "VOCABULARIES",
    "ENGLISH_VOICES",
    "HELDOUT_ENGLISH",
    "HELDOUT_VARIANTS",
    "vocabulary_words",
    "robust_recipe",
    "LEVEL_CONDITIONS",
    "DEFAULT_VARIANTS",
    "SYNTH_SIZES",
    "VoiceParams",
    "Speaker",
    "SynthConfig",
    "synthesize_word",
    "make_speakers",
    "generate",
    "selected_splits",
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

GSC35_WORDS: tuple[str, ...] = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual",
    "wow", "yes", "zero",
)
"""The 35 words of Google Speech Commands v2, in its alphabetical label order."""

VOCABULARIES = ("digits", "gsc35")

ENGLISH_VOICES: tuple[str, ...] = (
    "en", "en-us", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc", "en-gb-scotland", "en-029",
)
"""espeak-ng's own English base voices (the mbrola ones are another synthesiser: not used)."""

HELDOUT_ENGLISH: tuple[str, ...] = ("en-gb-scotland", "en-029")
"""English base voices of the held-out voice families of :func:`robust_recipe`."""

HELDOUT_VARIANTS: tuple[str, ...] = (
    "m7", "f4", "klatt3", "Andy", "Gene", "Mario", "belinda", "grandpa", "linda", "quincy", "travis", "steph2",
)
"""Voice variants of the held-out voice families of :func:`robust_recipe` (12 of the 70)."""

# Babble: sentences without any word of either vocabulary.
_BABBLE_TEXT = {
    "train": ("the weather in the garden was pleasant all through the summer",
              "please pass me the bread and the butter from the kitchen table",
              "many people walked slowly along the river after their lunch",
              "a small boat sailed quietly past the old lighthouse at dawn",
              # More training material (AugmentConfig.babble_sentences > 4); no word of
              # either vocabulary nor a near homophone (to, for, on, ate, write, know, dry).
              "my grandmother kept a little shop near the railway bridge",
              "the teacher asked the pupils about the history of the castle",
              "heavy rain fell all night and the streets were flooded by morning",
              "we visited a museum with paintings from several centuries",
              "the farmer sold apples and pears at the village market",
              "his brother plays the violin in a small orchestra",
              "the children built a sandcastle beside the quiet harbour",
              "a gentle breeze moved the curtains in the open window",
              "the doctor said the patient should rest and drink water",
              "they painted the fence white in the spring",
              "the library has thousands of books about plants and insects",
              "the old clock in the hall chimed loudly at midnight",
              "she wrote a long letter describing her journey across the mountains",
              "the kettle whistled while we waited in the kitchen",
              "a flock of geese flew over the frozen lake",
              "the engineer explained how the machine was assembled",
              "fresh snow covered the hills and the roofs of the cottages",
              "we shared a pizza with cheese and mushrooms at the party",
              "the actor missed his lines during the last scene",
              "the students listened carefully while the professor spoke",
              "the garden gate creaked as the wind grew stronger",
              "my neighbour repairs bicycles in the shed behind his cottage",
              "the baker makes bread and pastries early each morning",
              "a yellow taxi waited outside the hotel entrance",
              "the museum guard was reading a newspaper in the corner",
              "we heard thunder in the distance and saw the lightning",
              "the soup was rather salty but the salad was delicious",
              "the captain checked the map and changed the course of the ship"),
    "eval": ("the library closes early because the roof needs repair",
             "children were painting bright pictures of animals and flowers",
             "the train station was crowded with travellers and their luggage",
             "she bought fresh vegetables at the market near the church"),
}


def vocabulary_words(vocabulary: str) -> list[tuple[str, str]]:
    """(text, language) of each class, in label order."""
    if vocabulary == "digits":
        return [(w, "en") for w in WORDS["en"]] + [(w, "de") for w in WORDS["de"]]
    if vocabulary == "gsc35":
        return [(w, "en") for w in GSC35_WORDS]
    raise ValueError(f"vocabulary must be one of {VOCABULARIES}, got {vocabulary!r}")


def vocabulary_class_names(vocabulary: str) -> list[str]:
    return list(CLASS_NAMES) if vocabulary == "digits" else [w for w, _ in vocabulary_words(vocabulary)]

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
        Base voice used for English words, one of :data:`ENGLISH_VOICES` ("en" is British).
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
        if self.english not in ENGLISH_VOICES:
            raise ValueError(f"VoiceParams.english must be one of {ENGLISH_VOICES}, got {self.english!r}")


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
    vocabulary : {"digits", "gsc35"}
        The words (:func:`vocabulary_words`).
    english_voices : tuple of str
        English base voices the speakers of train/valid/test are drawn from.
    heldout_english, heldout_variants : tuple of str
        Held-out voice families: never used by train/valid/test speakers; the
        ``n_family_speakers`` speakers of split ``test_family`` use only these (English
        base from ``heldout_english``, or from ``english_voices`` if empty; variant from
        ``heldout_variants``, or from ``variants`` if empty).
    n_family_speakers : int
        Speakers of the ``test_family`` split (0: no such split).
    augment : AugmentConfig or None
        Augmentation of the train and valid utterances (None: none).
    clean_twins : bool
        With ``augment``: also write the clean twin of every training utterance (same
        talker, tract scale, timing and gain; no EQ, room or noise) to its own file,
        ``synth_train_twin.h5``, in the same order, for training that compares the
        network's response to the noisy utterance with its response to the clean one
        (``train.consistency``). The augmented files are the same with or without it.
    eval_conditions : tuple of str
        Extra versions of the test splits: ``"<noise>@<snr_db>"`` (noise of
        :data:`training.data.augment.NOISE_KINDS`; babble from held-out voices saying
        held-out sentences), ``"reverb"`` (rooms drawn from their own seed, RT60
        0.3-1.0 s) and the level conditions of :data:`LEVEL_CONDITIONS` (``"gain@-6"``,
        ``"floor@-60"``). Each is written to its own file.
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
    vocabulary: str = "digits"
    english_voices: tuple[str, ...] = ("en", "en-us")
    heldout_english: tuple[str, ...] = ()
    heldout_variants: tuple[str, ...] = ()
    n_family_speakers: int = 0
    augment: AugmentConfig | None = None
    eval_conditions: tuple[str, ...] = ()
    clean_twins: bool = False

    def __post_init__(self):
        o = "SynthConfig"
        if self.vocabulary not in VOCABULARIES:
            raise ValueError(f"{o}.vocabulary must be one of {VOCABULARIES}, got {self.vocabulary!r}")
        for name in ("english_voices", "heldout_english", "heldout_variants", "eval_conditions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("english_voices", "heldout_english"):
            bad = [v for v in getattr(self, name) if v not in ENGLISH_VOICES]
            if bad:
                raise ValueError(f"{o}.{name}: {bad} not among {ENGLISH_VOICES}")
        if not self.english_voices:
            raise ValueError(f"{o}.english_voices must not be empty")
        if set(self.english_voices) & set(self.heldout_english):
            raise ValueError(f"{o}: english_voices and heldout_english overlap: "
                             f"{sorted(set(self.english_voices) & set(self.heldout_english))}")
        if set(self.variants) & set(self.heldout_variants):
            raise ValueError(f"{o}: variants and heldout_variants overlap: "
                             f"{sorted(set(self.variants) & set(self.heldout_variants))}")
        object.__setattr__(self, "n_family_speakers",
                           _check_int(o, "n_family_speakers", self.n_family_speakers, 0, 10000))
        if self.augment is not None and not isinstance(self.augment, AugmentConfig):
            raise ValueError(f"{o}.augment must be an AugmentConfig or None, got {type(self.augment).__name__}")
        if not isinstance(self.clean_twins, bool):
            raise ValueError(f"{o}.clean_twins must be true or false, got {self.clean_twins!r}")
        if self.clean_twins and self.augment is None:
            raise ValueError(f"{o}.clean_twins needs augment (without augmentation every utterance is its own twin)")
        for c in self.eval_conditions:
            _parse_condition(c)
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
            (self.speed_range_wpm[1] - self.speed_range_wpm[0] + 1) * len(self.english_voices)
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
    def n_classes(self) -> int:
        return len(vocabulary_words(self.vocabulary))

    @property
    def n_utterances(self) -> int:
        return (self.n_speakers + self.n_family_speakers) * self.repetitions * self.n_classes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["frontend"] = self.frontend.to_dict()
        d["augment"] = None if self.augment is None else self.augment.to_dict()
        for k in ("pitch_range", "speed_range_wpm", "variants", "english_voices", "heldout_english",
                  "heldout_variants", "eval_conditions"):
            d[k] = list(getattr(self, k))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SynthConfig":
        reject_unknown_fields(cls, d)
        kw = dict(d)
        if "frontend" in kw:
            kw["frontend"] = FrontEndConfig.from_dict(kw["frontend"])
        if kw.get("augment") is not None:
            kw["augment"] = AugmentConfig.from_dict(kw["augment"])
        for k in ("pitch_range", "speed_range_wpm", "variants", "english_voices", "heldout_english",
                  "heldout_variants", "eval_conditions"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


LEVEL_CONDITIONS: dict[str, tuple[float, float]] = {"gain": (-60.0, 30.0), "floor": (-120.0, 0.0)}
"""Level conditions and the range of their value: ``gain@<dB>`` scales the whole utterance
(``gain@-6`` = half the amplitude); ``floor@<dBFS>`` adds white noise at that absolute RMS
level, whatever the speech level (a faint noise floor: ``floor@-60``)."""


def _parse_condition(c: str) -> tuple[str, float | None]:
    """``"hum@10"`` -> ("hum", 10.0); ``"gain@-6"`` -> ("gain", -6.0); ``"reverb"`` -> ("reverb", None)."""
    if c == "reverb":
        return "reverb", None
    kind, sep, snr = str(c).partition("@")
    try:
        value = float(snr)
    except ValueError:
        value = None
    if sep and value is not None and kind in LEVEL_CONDITIONS:
        lo, hi = LEVEL_CONDITIONS[kind]
        if lo <= value <= hi:
            return kind, value
    elif sep and kind in NOISE_KINDS and value is not None and -20.0 <= value <= 100.0:
        return kind, value
    raise ValueError(f"SynthConfig.eval_conditions: {c!r} is not 'reverb', '<noise>@<snr_db>' with noise in "
                     f"{NOISE_KINDS} and SNR in [-20, 100], 'gain@<dB>' in [-60, 30] or 'floor@<dBFS>' "
                     f"in [-120, 0]")


def condition_file_tag(c: str) -> str:
    """File-name form of a condition: "hum@10" -> "hum_10db", "gain@-6" -> "gain_-6db",
    "floor@-60" -> "floor_-60dbfs"."""
    kind, value = _parse_condition(c)
    if value is None:
        return kind
    return f"{kind}_{value:g}dbfs" if kind == "floor" else f"{kind}_{value:g}db"


DEFAULT_EVAL_CONDITIONS: tuple[str, ...] = (
    "hum@20", "hum@10", "hum@0", "modulated@20", "modulated@10", "modulated@0",
    "babble@20", "babble@10", "babble@0", "reverb",
)
"""Held-out noises (never in training's white/pink/brown/babble-of-training-voices) at 20,
10 and 0 dB SNR, the babble made of held-out voices and sentences, and held-out rooms."""


def robust_recipe(size: str = "default", frontend: "str | FrontEndConfig" = "robust", augmented: bool = True,
                  **overrides) -> "SynthConfig":
    """The data of issue 12: wider voices (six English base voices, pitch 10-90, speed
    110-240 wpm), held-out voice families (:data:`HELDOUT_ENGLISH` x :data:`HELDOUT_VARIANTS`,
    18 speakers in ``test_family``), augmentation (:class:`AugmentConfig` defaults) and the
    evaluation conditions :data:`DEFAULT_EVAL_CONDITIONS`. ``frontend`` "robust" or "delta"
    (or a whole :class:`FrontEndConfig`) and ``augmented`` select the front end and the
    augmentation; the speakers, words and evaluation audio do not depend on them."""
    if isinstance(frontend, FrontEndConfig):
        fe = frontend
    elif frontend not in ("robust", "delta"):
        raise ValueError(f"robust_recipe: frontend must be 'robust', 'delta' or a FrontEndConfig, got {frontend!r}")
    else:
        fe = FrontEndConfig.robust() if frontend == "robust" else FrontEndConfig()
    kw = dict(
        english_voices=tuple(v for v in ENGLISH_VOICES if v not in HELDOUT_ENGLISH),
        heldout_english=HELDOUT_ENGLISH,
        variants=tuple(v for v in DEFAULT_VARIANTS if v not in HELDOUT_VARIANTS),
        heldout_variants=HELDOUT_VARIANTS,
        n_family_speakers=18,
        pitch_range=(10, 90),
        speed_range_wpm=(110, 240),
        level_jitter_db=3.0,
        lead_silence_max_s=0.15,
        frontend=fe,
        augment=AugmentConfig() if augmented else None,
        eval_conditions=DEFAULT_EVAL_CONDITIONS,
    )
    kw.update(overrides)
    return SynthConfig.preset(size, **kw)


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
        :func:`sim.audio.resample.resample`).
    trim : bool
        Remove leading/trailing near-silence (below -45 dB re the peak, keeping
        20 ms) and fade the ends over 5 ms.

    Returns
    -------
    (n,) float32
        Mono audio, full scale 1.0, at espeak-ng's own level (not normalised).
        Deterministic: the same arguments give the same samples.
    """
    if lang not in ("en", "de"):
        raise ValueError(f"synthesize_word: lang must be 'en' or 'de', got {lang!r}")
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


def _draw_voices(rng, n: int, variants: list[str], english: tuple[str, ...], config: SynthConfig,
                 seen: set) -> list[VoiceParams]:
    order: list[str] = []
    voices: list[VoiceParams] = []
    while len(voices) < n:
        if not order:
            order = [variants[i] for i in rng.permutation(len(variants))]
        variant = order.pop()
        while True:
            v = VoiceParams(
                variant=variant,
                pitch=int(rng.integers(config.pitch_range[0], config.pitch_range[1] + 1)),
                speed_wpm=int(rng.integers(config.speed_range_wpm[0], config.speed_range_wpm[1] + 1)),
                # (With two voices this is the draw `rng.random() < 0.5` of format 1.)
                english=english[min(int(rng.random() * len(english)), len(english) - 1)],
            )
            if v not in seen:
                break
        seen.add(v)
        voices.append(v)
    return voices


def make_speakers(config: SynthConfig) -> list[Speaker]:
    """Draw the speakers and their split from ``config.seed`` (deterministic).

    Returns ``config.n_speakers`` speakers with ids ``0..n-1`` and distinct voices in the
    splits train/valid/test, then ``config.n_family_speakers`` speakers of split
    ``test_family`` (ids continue) from the held-out voice families, drawn from their own
    generator so that adding them changes nothing else.
    """
    rng = np.random.default_rng([config.seed, 0])
    seen: set = set()
    voices = _draw_voices(rng, config.n_speakers, list(config.variants), config.english_voices, config, seen)
    n_train, n_valid, n_test = config.split_sizes()
    perm = rng.permutation(config.n_speakers)
    split_of = np.empty(config.n_speakers, dtype=object)
    split_of[perm[:n_train]] = "train"
    split_of[perm[n_train:n_train + n_valid]] = "valid"
    split_of[perm[n_train + n_valid:]] = "test"
    speakers = [Speaker(i, voices[i], str(split_of[i])) for i in range(config.n_speakers)]
    if config.n_family_speakers:
        frng = np.random.default_rng([config.seed, 5])
        fvoices = _draw_voices(frng, config.n_family_speakers,
                               list(config.heldout_variants or config.variants),
                               config.heldout_english or config.english_voices, config, seen)
        speakers += [Speaker(config.n_speakers + i, v, "test_family") for i, v in enumerate(fvoices)]
    return speakers


@dataclass(frozen=True)
class _Job:
    uid: int
    speaker: int
    label: int
    voice: VoiceParams
    level_dbfs: float
    lead_s: float
    split: str = "train"


def _plan(config: SynthConfig, speakers: list[Speaker]) -> list[_Job]:
    rng = np.random.default_rng([config.seed, 1])
    jobs = []
    for sp in speakers:
        for _rep in range(config.repetitions):
            for label in range(config.n_classes):
                speed = int(round(sp.voice.speed_wpm * (1.0 + rng.uniform(-config.speed_jitter, config.speed_jitter))))
                pitch = sp.voice.pitch + int(rng.integers(-config.pitch_jitter, config.pitch_jitter + 1))
                voice = replace(sp.voice, pitch=int(np.clip(pitch, 0, 99)), speed_wpm=int(np.clip(speed, 80, 450)))
                jobs.append(_Job(
                    uid=len(jobs), speaker=sp.id, label=label, voice=voice,
                    level_dbfs=config.level_dbfs + float(rng.uniform(-config.level_jitter_db, config.level_jitter_db)),
                    lead_s=float(rng.uniform(0.0, config.lead_silence_max_s)), split=sp.split,
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


@lru_cache(maxsize=4)
def _babble_bank(seed: int, which: str, variants: tuple[str, ...], english: tuple[str, ...],
                 fs: float, n_sentences: int = 4, n_voices: int = 4) -> UtteranceBank:
    """Babble material: the first ``n_sentences`` sentences of ``_BABBLE_TEXT[which]``, each
    said by ``n_voices`` voices drawn (from ``seed``) among ``variants`` x ``english``. Cached
    per process. (Draws go sentence by sentence, so 4 x 4 is the same material whatever
    longer list the sentences come from.)"""
    rng = np.random.default_rng([seed, 7, 0 if which == "train" else 1])
    out = []
    for text in _BABBLE_TEXT[which][:n_sentences]:
        for _ in range(n_voices):
            v = VoiceParams(variant=variants[int(rng.integers(len(variants)))],
                            pitch=int(rng.integers(10, 91)), speed_wpm=int(rng.integers(130, 220)),
                            english=english[int(rng.integers(len(english)))])
            out.append(normalize_rms(synthesize_word(text, "en", v, fs).astype(np.float64), -20.0))
    return UtteranceBank(out)


def _train_bank(config: SynthConfig) -> UtteranceBank:
    a = config.augment or AugmentConfig()
    return _babble_bank(config.seed, "train", config.variants, config.english_voices,
                        config.frontend.sample_rate_hz, a.babble_sentences, a.babble_voices)


def _eval_bank(config: SynthConfig) -> UtteranceBank:
    return _babble_bank(config.seed, "eval", config.heldout_variants or config.variants,
                        config.heldout_english or config.english_voices, config.frontend.sample_rate_hz)


def _condition_audio(x: np.ndarray, word_rms: float, condition: str, job: _Job, index: int,
                     config: SynthConfig) -> tuple[np.ndarray, dict]:
    fs = config.frontend.sample_rate_hz
    rng = np.random.default_rng([config.seed, 4, index, job.uid])
    kind, snr = _parse_condition(condition)
    if kind == "reverb":
        h, rec = room_impulse_response(rng, fs, float(rng.uniform(0.3, 1.0)))
        return apply_room(x, h)[:x.shape[0]], {"room": rec}
    if kind == "gain":
        y, rec = x * 10.0 ** (snr / 20.0), {"gain_db": snr}
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 1.0:  # full scale, as a recording would clip
            y, rec["clipped_peak"] = np.clip(y, -1.0, 1.0), round(peak, 3)
        return y, rec
    if kind == "floor":
        return x + make_noise("white", x.shape[0], rng, fs, None) * 10.0 ** (snr / 20.0), \
            {"noise": "white", "level_dbfs": snr}
    noise = make_noise(kind, x.shape[0], rng, fs, _eval_bank(config) if kind in ("babble", "speech_shaped") else None)
    return mix_at_snr(x, noise, snr, word_rms), {"noise": kind, "snr_db": snr}


def render_audio(job: _Job, config: SynthConfig) -> list[tuple[np.ndarray, dict]]:
    """One job -> [(audio, record)]: the utterance as its split uses it (augmented for
    train and valid when ``config.augment`` is set), then its clean twin (train split with
    ``clean_twins``) or, for the test splits, one version per evaluation condition, from
    the same audio. Audio is float64 at ``config.frontend.sample_rate_hz``."""
    fs = config.frontend.sample_rate_hz
    text, lang = vocabulary_words(config.vocabulary)[job.label]
    word = synthesize_word(text, lang, job.voice, fs).astype(np.float64)
    word = normalize_rms(word, job.level_dbfs)
    lead = int(round(job.lead_s * fs))
    tail = int(round(config.tail_silence_s * fs))
    rec: dict = {}
    if config.augment is not None and job.split in ("train", "valid"):
        rng = np.random.default_rng([config.seed, 3, job.uid])
        if config.clean_twins and job.split == "train":
            x, rec, dry = augment(word, lead, tail, rng, config.augment, fs, _train_bank(config), twin=True)
            return [(x, rec), (dry, {})]
        x, rec = augment(word, lead, tail, rng, config.augment, fs, _train_bank(config))
        return [(x, rec)]
    x = np.concatenate([np.zeros(lead), word, np.zeros(tail)])
    if config.noise_snr_db is not None:
        # One generator per utterance: the result does not depend on which worker runs it.
        noise_rng = np.random.default_rng([config.seed, 2, job.uid])
        noise_rms = 10.0 ** ((job.level_dbfs - config.noise_snr_db) / 20.0)
        x = x + noise_rng.standard_normal(x.shape[0]) * noise_rms
        rec = {"noise": "white", "snr_db": config.noise_snr_db}
    out = [(x, rec)]
    if job.split in ("test", "test_family"):
        word_rms = 10.0 ** (job.level_dbfs / 20.0)
        for i, c in enumerate(config.eval_conditions):
            out.append(_condition_audio(x, word_rms, c, job, i, config))
    return out


def _render(args) -> list[tuple[np.ndarray, np.ndarray, float, dict]]:
    """One job -> [(times, units, audio seconds, record)] for every version of
    :func:`render_audio`."""
    job, config = args
    fs = config.frontend.sample_rate_hz
    out = []
    for x, rec in render_audio(job, config):
        t, u = audio_to_spikes(x, config.frontend)
        out.append((t, u, x.shape[0] / fs, rec))
    return out


def _check_variants(config: SynthConfig) -> None:
    missing = sorted((set(config.variants) | set(config.heldout_variants)) - available_variants())
    if missing:
        raise ValueError(f"SynthConfig.variants: espeak-ng has no variant(s) {missing} "
                         f"(see `espeak-ng --voices=variant`)")


def _run_jobs(jobs: list[_Job], config: SynthConfig, workers: int, progress: bool):
    args = [(j, config) for j in jobs]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(args), unit="utt", desc=f"synth {config.vocabulary}", smoothing=0.05)
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


SPLITS = ("train", "valid", "test", "test_family")
TWIN = "twin"
"""Data-set name suffix of the clean twins (``"train/twin"``, file ``synth_train_twin.h5``)."""


def selected_splits(config: SynthConfig, splits=None) -> tuple[str, ...]:
    """The splits of ``config`` (:data:`SPLITS`, ``test_family`` only with family speakers)
    that ``splits`` selects (None: all), in their order; ``ValueError`` for unknown ones."""
    have = [s for s in SPLITS if s != "test_family" or config.n_family_speakers]
    if splits is None:
        return tuple(have)
    splits = tuple(splits)
    bad = [s for s in splits if s not in have]
    if not splits or bad:
        raise ValueError(f"splits must be a non-empty subset of {have}, got {list(splits)}")
    return tuple(s for s in have if s in splits)


def dataset_names(config: SynthConfig, splits=None) -> list[str]:
    """Names of the data sets :func:`generate` returns: the splits (``test_family`` only
    with family speakers; only those of ``splits`` if given), then
    ``"<test split>/<condition>"`` for every evaluation condition."""
    splits = list(selected_splits(config, splits))
    tests = [s for s in splits if s.startswith("test")]
    twins = [f"train/{TWIN}"] if config.clean_twins and "train" in splits else []
    return splits + twins + [f"{s}/{c}" for s in tests for c in config.eval_conditions]


def version_index(name: str, config: SynthConfig) -> int:
    """Position, in a job's list of versions (:func:`render_audio`), of data set ``name``
    of :func:`dataset_names`: 0 the split itself, 1 its clean twin, 1 + i condition i."""
    cond = name.partition("/")[2]
    return 0 if not cond else 1 if cond == TWIN else 1 + config.eval_conditions.index(cond)


def generate(config: SynthConfig, workers: int = 2, progress: bool = True,
             splits=None) -> tuple[dict[str, SpikeDataset], dict]:
    """Synthesise the whole dataset in memory.

    Parameters
    ----------
    config : SynthConfig
    workers : int
        Worker processes (1 = in this process). Does not change the result.
    progress : bool
        Show a tqdm progress bar (on stderr).
    splits : sequence of str, optional
        Render only these splits (of :data:`SPLITS`). Speakers, plans and every draw are
        those of the whole dataset, so a split rendered alone is identical to the same
        split of a full run: e.g. new evaluation conditions for an existing dataset, or
        new training data beside its evaluation files.

    Returns
    -------
    datasets : dict
        ``{"train": SpikeDataset, "valid": ..., "test": ..., ["test_family": ...,]
        ["test/hum@10": ..., ...]}`` (:func:`dataset_names`); samples ordered by speaker id,
        repetition, label; ``n_units = config.frontend.n_channels``.
    info : dict
        JSON-ready description: config, speakers per split, counts, events and audio
        duration statistics, every augmentation and condition draw, espeak-ng version,
        elapsed time.
    """
    workers = _check_int("generate", "workers", workers, 1, 64)
    _check_variants(config)
    t0 = time.perf_counter()
    splits = selected_splits(config, splits)
    speakers = make_speakers(config)
    jobs = _plan(config, speakers)
    todo = [i for i, j in enumerate(jobs) if j.split in splits]
    results = dict(zip(todo, _run_jobs([jobs[i] for i in todo], config, workers, progress)))
    elapsed = time.perf_counter() - t0
    class_names = vocabulary_class_names(config.vocabulary)
    datasets, info_splits, records = {}, {}, {}
    for name in dataset_names(config, splits):
        split, _, cond = name.partition("/")
        version = version_index(name, config)
        idx = [i for i in todo if jobs[i].split == split]
        ds = SpikeDataset(
            times_s=[results[i][version][0] for i in idx],
            units=[results[i][version][1] for i in idx],
            labels=np.array([jobs[i].label for i in idx], dtype=np.int64),
            speakers=np.array([jobs[i].speaker for i in idx], dtype=np.int64),
            n_units=config.frontend.n_channels,
            class_names=list(class_names),
        )
        datasets[name] = ds
        n_ev = ds.n_events()
        audio_s = np.array([results[i][version][2] for i in idx])
        entry = {
            "n_utterances": len(ds),
            "n_speakers": int(len(np.unique(ds.speakers))),
            "events_per_utterance_mean": float(n_ev.mean()) if len(ds) else 0.0,
            "events_per_second_mean": float(n_ev.sum() / audio_s.sum()) if len(ds) else 0.0,
            "events_per_utterance_min": int(n_ev.min()) if len(ds) else 0,
            "events_per_utterance_max": int(n_ev.max()) if len(ds) else 0,
            "audio_duration_mean_s": float(audio_s.mean()) if len(ds) else 0.0,
            "class_counts": np.bincount(ds.labels, minlength=len(class_names)).tolist(),
        }
        if not cond:
            entry["speakers"] = [{"id": sp.id, **asdict(sp.voice)} for sp in speakers if sp.split == split]
        else:
            entry["condition"] = cond
        info_splits[name] = entry
        recs = [{"uid": jobs[i].uid, **results[i][version][3]} for i in idx if results[i][version][3]]
        if recs:
            records[name] = recs
    info = {
        "kind": f"axon synthetic spoken {'digits' if config.vocabulary == 'digits' else 'keywords'}",
        "format_version": 2,
        "seed": config.seed,
        "config": config.to_dict(),
        "vocabulary": config.vocabulary,
        "class_names": list(class_names),
        "n_units": config.frontend.n_channels,
        "espeak_ng": espeak_version(),
        "n_utterances": len(todo),
        "rendered_splits": list(splits),
        "splits": info_splits,
        "utterances": [{"uid": j.uid, "split": j.split, "speaker": j.speaker, "label": j.label,
                        **asdict(j.voice), "level_dbfs": round(j.level_dbfs, 3), "lead_s": round(j.lead_s, 4)}
                       for j in (jobs[i] for i in todo)],
        "transformations": records,
        "workers": workers,
        "elapsed_s": round(elapsed, 3),
    }
    return datasets, info


def file_name(name: str) -> str:
    """File of a data set of :func:`dataset_names`: "test" -> "synth_test.h5",
    "test_family/hum@10" -> "synth_test_family_hum_10db.h5"."""
    split, _, cond = name.partition("/")
    if cond == TWIN:
        return f"synth_{split}_{TWIN}.h5"
    return f"synth_{split}.h5" if not cond else f"synth_{split}_{condition_file_tag(cond)}.h5"


def write_synth(out_dir, config: SynthConfig, workers: int = 2, progress: bool = True, splits=None) -> dict:
    """Generate the dataset and write it to ``out_dir``.

    Writes one SHD-layout file per data set of :func:`dataset_names` (:func:`file_name`:
    ``synth_train.h5``, ``synth_valid.h5``, ``synth_test.h5``, ``synth_test_family.h5``,
    ``synth_test_family_hum_10db.h5``, ...; root attributes ``frontend`` and
    ``synth_config`` as JSON, ``split``, ``condition``, ``seed``) and ``dataset.json``
    (the ``info`` of :func:`generate`, plus ``files``: data set name -> file name).
    ``splits`` renders only those splits (see :func:`generate`).

    Returns
    -------
    dict
        The ``dataset.json`` content.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    datasets, info = generate(config, workers=workers, progress=progress, splits=splits)
    files = {}
    for name, ds in datasets.items():
        split, _, cond = name.partition("/")
        write_shd(os.path.join(out_dir, file_name(name)), ds, attrs={
            "kind": info["kind"],
            "split": split,
            "condition": cond or "clean",
            "seed": config.seed,
            "frontend": config.frontend.to_dict(),
            "synth_config": config.to_dict(),
        })
        files[name] = file_name(name)
    info["files"] = files
    with open(os.path.join(out_dir, "dataset.json"), "w") as f:
        json.dump(info, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return info
