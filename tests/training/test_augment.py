"""Augmentation (deterministic from the seed, recorded), held-out voice families, evaluation
conditions and the synthetic keyword set (speaker-disjoint)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from training.data.augment import (NOISE_KINDS, AugmentConfig, apply_eq, augment, colored_noise, make_noise,
                                   room_impulse_response)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
FS = 16000.0


def _word(seed=0, n=6000):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    return 0.1 * np.sin(2 * np.pi * 220 * t) * np.hanning(n) + 0.01 * rng.standard_normal(n)


def _bank():
    return [_word(s, 9000) for s in range(3)]


def test_augment_is_deterministic_from_the_seed_and_recorded():
    cfg = AugmentConfig(p_clean=0.0, p_reverb=1.0, p_eq=1.0, noise_kinds=NOISE_KINDS)
    outs = []
    for seed in (3, 3, 4):
        x, rec = augment(_word(), 800, 1600, np.random.default_rng([seed, 1]), cfg, FS, _bank())
        outs.append((x, rec))
    (a, ra), (b, rb), (c, rc) = outs
    assert np.array_equal(a, b) and ra == rb
    assert not np.array_equal(a, c) or ra != rc
    # Everything drawn is in the record, JSON-ready.
    assert {"noise", "snr_db", "room", "eq", "gain_db", "tract_scale"} <= set(ra)
    json.dumps(ra)
    assert 0.0 <= ra["snr_db"] <= 30.0 and -15.0 <= ra["gain_db"] <= 10.0


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noises_have_unit_rms_and_follow_the_seed(kind):
    a = make_noise(kind, 8000, np.random.default_rng(1), FS, _bank())
    b = make_noise(kind, 8000, np.random.default_rng(1), FS, _bank())
    assert np.array_equal(a, b)
    assert np.sqrt(np.mean(a * a)) == pytest.approx(1.0, rel=1e-9)


def test_noise_colours_have_their_slopes():
    # Power per octave band: pink is flat per octave (-3 dB/oct per Hz), white rises 3 dB
    # per octave, brown falls 3 dB per octave. Compare the 500-1000 Hz and 2-4 kHz octaves.
    def octave_ratio_db(kind):
        x = colored_noise(kind, 1 << 16, np.random.default_rng(0))
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.shape[0], 1 / FS)
        lo = p[(f >= 500) & (f < 1000)].sum()
        hi = p[(f >= 2000) & (f < 4000)].sum()
        return 10 * np.log10(hi / lo)

    # Two octaves apart: white +6, pink 0, brown -6, blue +12 dB (within 1 dB).
    for kind, want in (("white", 6.0), ("pink", 0.0), ("brown", -6.0), ("blue", 12.0)):
        assert octave_ratio_db(kind) == pytest.approx(want, abs=1.0), kind


def test_room_response_decays_at_its_rt60():
    h, rec = room_impulse_response(np.random.default_rng(0), FS, 0.5)
    assert rec["rt60_s"] == 0.5 and h.shape[0] == 8000 and np.max(np.abs(h)) == 1.0
    # Energy in the last 100 ms is far below that of the first 100 ms (60 dB per RT60).
    e_first = np.sum(h[:1600] ** 2)
    e_last = np.sum(h[-1600:] ** 2)
    assert e_last < e_first * 1e-3


def test_telephone_eq_removes_low_and_high_frequencies():
    t = np.arange(16000) / FS
    x = np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 6000 * t)
    y, rec = apply_eq(x, "telephone", np.random.default_rng(0), FS)
    spec = np.abs(np.fft.rfft(y[4000:])) / 12000
    f = np.fft.rfftfreq(12000, 1 / FS)
    amp = {fr: spec[np.argmin(np.abs(f - fr))] for fr in (100, 1000, 6000)}
    assert amp[1000] > 10 * amp[100] and amp[1000] > 10 * amp[6000]
    assert rec["eq"] == "telephone"


def test_augment_config_errors_name_the_field():
    with pytest.raises(ValueError, match="p_reverb"):
        AugmentConfig(p_reverb=1.5)
    with pytest.raises(ValueError, match="noise_kinds"):
        AugmentConfig(noise_kinds=("pink", "purple"))
    with pytest.raises(ValueError, match="snr_db"):
        AugmentConfig(snr_db=(20.0, 10.0))
    assert AugmentConfig.from_dict(AugmentConfig().to_dict()) == AugmentConfig()


# ----------------------------------------------------------------------------- with espeak-ng


def _small_recipe(**kw):
    from training.data.synth import robust_recipe

    base = dict(n_speakers=3, repetitions=1, n_family_speakers=1, eval_conditions=("hum@10", "babble@0", "reverb"))
    base.update(kw)
    return robust_recipe("tiny", **base)


def test_family_speakers_never_share_base_voice_or_variant_with_the_others():
    from training.data.synth import HELDOUT_ENGLISH, HELDOUT_VARIANTS, make_speakers, robust_recipe

    cfg = robust_recipe("default", vocabulary="gsc35")
    speakers = make_speakers(cfg)
    fam = [s for s in speakers if s.split == "test_family"]
    rest = [s for s in speakers if s.split != "test_family"]
    assert len(fam) == cfg.n_family_speakers and len(rest) == cfg.n_speakers
    assert all(s.voice.english in HELDOUT_ENGLISH and s.voice.variant in HELDOUT_VARIANTS for s in fam)
    assert not any(s.voice.english in HELDOUT_ENGLISH or s.voice.variant in HELDOUT_VARIANTS for s in rest)
    # Adding family speakers changes nothing about the other speakers.
    assert make_speakers(robust_recipe("default", vocabulary="gsc35", n_family_speakers=0)) == rest


@needs_espeak
def test_keyword_set_is_speaker_disjoint_and_complete(tmp_path):
    from training.data.shd import load_shd
    from training.data.synth import GSC35_WORDS, write_synth

    cfg = _small_recipe(vocabulary="gsc35", eval_conditions=())
    info = write_synth(tmp_path, cfg, workers=1, progress=False)
    sets = {k: load_shd(tmp_path / f) for k, f in info["files"].items()}
    assert set(sets) == {"train", "valid", "test", "test_family"}
    spk = {k: set(np.unique(ds.speakers).tolist()) for k, ds in sets.items()}
    names = list(spk)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not spk[a] & spk[b], (a, b)
    for ds in sets.values():
        assert ds.class_names == list(GSC35_WORDS) and ds.n_units == cfg.frontend.n_channels
        # Every speaker says every keyword.
        for s in np.unique(ds.speakers):
            assert sorted(ds.labels[ds.speakers == s].tolist()) == list(range(35))
    assert info["vocabulary"] == "gsc35" and len(info["utterances"]) == 4 * 35


@needs_espeak
def test_robust_recipe_deterministic_from_the_seed_and_recorded(tmp_path):
    from training.data.synth import dataset_names, generate

    cfg = _small_recipe()
    (a, ia), (b, ib) = generate(cfg, workers=1, progress=False), generate(cfg, workers=1, progress=False)
    assert list(a) == dataset_names(cfg) == [
        "train", "valid", "test", "test_family", "test/hum@10", "test/babble@0", "test/reverb",
        "test_family/hum@10", "test_family/babble@0", "test_family/reverb"]
    for k in a:
        assert len(a[k]) == len(b[k])
        for i in range(len(a[k])):
            assert np.array_equal(a[k].times_s[i], b[k].times_s[i])
            assert np.array_equal(a[k].units[i], b[k].units[i])
    assert ia["transformations"] == ib["transformations"]
    # Every training utterance has its draws recorded; the conditions are recorded too.
    assert {r["uid"] for r in ia["transformations"]["train"]} == \
        {u["uid"] for u in ia["utterances"] if u["split"] == "train"}
    assert all(r["noise"] == "hum" and r["snr_db"] == 10.0 for r in ia["transformations"]["test/hum@10"])
    # A different seed gives different augmentation.
    from dataclasses import replace
    _, ic = generate(replace(cfg, seed=1), workers=1, progress=False)
    assert ic["transformations"]["train"] != ia["transformations"]["train"]


@pytest.mark.parametrize("argv,message", [
    (["--no-augment"], "--recipe robust"),
    (["--conditions", "hum@10"], "--recipe robust"),
    (["--recipe", "robust", "--conditions", "purr@10"], "purr@10"),
    (["--recipe", "robust", "--noise-snr-db", "5"], "--recipe plain"),
    (["--speakers", "0"], "--speakers"),
])
def test_axon_data_synth_recipe_errors(tmp_path, capsys, argv, message):
    from bridge.cli import main

    assert main(["data", "synth", "--out", str(tmp_path / "d"), "--size", "tiny", "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err
