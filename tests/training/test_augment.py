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
    with pytest.raises(ValueError, match="babble_talkers"):
        AugmentConfig(babble_talkers=(4, 2))
    with pytest.raises(ValueError, match="babble_talkers"):
        AugmentConfig(babble_talkers=(0, 3))
    with pytest.raises(ValueError, match="babble_sentences"):
        AugmentConfig(babble_sentences=33)
    with pytest.raises(ValueError, match="babble_voices"):
        AugmentConfig(babble_voices=0)
    wide = AugmentConfig(babble_talkers=[1, 7], babble_sentences=32, babble_voices=6)
    assert wide.babble_talkers == (1, 7) and AugmentConfig.from_dict(wide.to_dict()) == wide
    # A dataset.json written before these fields existed reads as the material it was made with.
    old = {k: v for k, v in AugmentConfig().to_dict().items() if not k.startswith("babble_")}
    assert AugmentConfig.from_dict(old) == AugmentConfig()


def test_an_utterance_bank_makes_the_noise_its_list_makes():
    from training.data.augment import UtteranceBank

    bank = _bank()
    held = UtteranceBank(bank)
    for kind in ("speech_shaped", "babble"):
        a = make_noise(kind, 8000, np.random.default_rng(5), FS, bank)
        b = make_noise(kind, 8000, np.random.default_rng(5), FS, held)
        assert np.array_equal(a, b), kind
    assert held.mean_psd is held.mean_psd  # computed once per bank


def test_babble_sums_the_drawn_number_of_talkers():
    bank = [np.sin(np.arange(4000) * (0.01 + 0.003 * k)) for k in range(5)]
    one = make_noise("babble", 3000, np.random.default_rng(2), FS, bank, talkers=(1, 1))
    # One talker: a looped excerpt of one bank entry at unit RMS, drawn as babble() draws it.
    rng = np.random.default_rng(2)
    assert rng.integers(1, 2) == 1
    u = bank[int(rng.integers(len(bank)))]
    x = u[(int(rng.integers(u.shape[0])) + np.arange(3000)) % u.shape[0]]
    np.testing.assert_allclose(one, x / np.sqrt(np.mean(x * x)), rtol=1e-12, atol=1e-12)
    many = make_noise("babble", 3000, np.random.default_rng(2), FS, bank, talkers=(5, 5))
    assert not np.allclose(many, one)


def test_training_babble_says_no_vocabulary_word():
    from training.data.augment import MAX_BABBLE_SENTENCES
    from training.data.synth import _BABBLE_TEXT, GSC35_WORDS, WORDS

    near = {"to", "too", "for", "fore", "ate", "won", "write", "know", "dry", "fear", "free", "into", "onto"}
    banned = {w.lower() for w in GSC35_WORDS} | set(WORDS["en"]) | set(WORDS["de"]) | near
    assert len(_BABBLE_TEXT["train"]) == MAX_BABBLE_SENTENCES
    assert not set(_BABBLE_TEXT["train"]) & set(_BABBLE_TEXT["eval"])  # held-out sentences stay held out
    for text in _BABBLE_TEXT["train"] + _BABBLE_TEXT["eval"]:
        assert not set(text.split()) & banned, text


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


def test_burst_noise_switches_on_and_off():
    from training.data.augment import burst_noise

    x = burst_noise(32000, np.random.default_rng(4), FS)
    frames = np.sqrt(np.mean(x[: 32000 // 160 * 160].reshape(-1, 160) ** 2, axis=1))  # 10 ms frames
    # On segments (0 to -12 dB) and off segments (-40 dB) both occur: a range of over 25 dB.
    assert 20 * np.log10(np.percentile(frames, 95) / np.percentile(frames, 5)) > 25.0


def test_speech_shaped_noise_has_the_spectrum_of_the_bank():
    from scipy.signal import butter, sosfilt

    from training.data.augment import speech_shaped_noise

    low = sosfilt(butter(4, 1000.0, btype="lowpass", fs=FS, output="sos"), np.random.default_rng(0).standard_normal(32000))
    x = speech_shaped_noise(32000, np.random.default_rng(1), [low])
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.shape[0], 1 / FS)
    assert p[(f > 200) & (f < 800)].mean() > 100 * p[(f > 3000) & (f < 6000)].mean()
    with pytest.raises(ValueError, match="bank is empty"):
        speech_shaped_noise(100, np.random.default_rng(0), [])


def test_level_conditions_parse_and_name_their_files():
    from training.data.synth import condition_file_tag, robust_recipe

    assert condition_file_tag("gain@-6") == "gain_-6db" and condition_file_tag("floor@-60") == "floor_-60dbfs"
    assert condition_file_tag("bursts@10") == "bursts_10db"
    for bad in ("gain@-70", "floor@5", "gain", "floor@x"):
        with pytest.raises(ValueError, match="gain@<dB>"):
            robust_recipe("tiny", eval_conditions=(bad,))


@needs_espeak
def test_level_conditions_scale_the_speech_or_add_a_fixed_floor():
    from training.data.synth import _condition_audio, _plan, make_speakers

    cfg = _small_recipe(eval_conditions=("gain@-6", "floor@-60", "floor@-60"))
    job = next(j for j in _plan(cfg, make_speakers(cfg)) if j.split == "test")
    x = np.random.default_rng(0).standard_normal(8000) * 0.1
    y, rec = _condition_audio(x, 0.1, "gain@-6", job, 0, cfg)
    assert np.allclose(y, x * 10 ** (-6 / 20)) and rec == {"gain_db": -6.0}
    y, rec = _condition_audio(x, 0.1, "floor@-60", job, 1, cfg)
    noise = y - x  # white noise at -60 dBFS RMS, whatever the speech level
    assert 20 * np.log10(np.sqrt(np.mean(noise ** 2))) == pytest.approx(-60.0, abs=0.2)
    assert rec == {"noise": "white", "level_dbfs": -60.0}
    y2, _ = _condition_audio(x * 0.01, 0.001, "floor@-60", job, 1, cfg)
    assert np.allclose(y2 - x * 0.01, noise)
    # Clipped at full scale like a recording, and recorded.
    y, rec = _condition_audio(x, 0.1, "gain@30", job, 0, cfg)
    assert np.max(np.abs(y)) == 1.0 and rec["clipped_peak"] > 1.0


@needs_espeak
def test_a_split_rendered_alone_equals_the_same_split_of_the_whole_dataset(tmp_path):
    from training.data.synth import dataset_names, generate

    cfg = _small_recipe(eval_conditions=("gain@-20", "floor@-50"))
    whole, _ = generate(cfg, workers=1, progress=False)
    part, info = generate(cfg, workers=1, progress=False, splits=["test_family"])
    assert list(part) == dataset_names(cfg, ["test_family"]) == [
        "test_family", "test_family/gain@-20", "test_family/floor@-50"]
    for k in part:
        assert len(part[k]) == len(whole[k]) > 0
        for i in range(len(part[k])):
            assert np.array_equal(part[k].times_s[i], whole[k].times_s[i])
            assert np.array_equal(part[k].units[i], whole[k].units[i])
    assert info["rendered_splits"] == ["test_family"]
    assert {u["split"] for u in info["utterances"]} == {"test_family"}
    with pytest.raises(ValueError, match="splits must be"):
        generate(cfg, workers=1, progress=False, splits=["tset"])


@needs_espeak
def test_axon_data_synth_augment_and_splits_options(tmp_path, capsys):
    from bridge.cli import main

    out = tmp_path / "d"
    assert main(["data", "synth", "--recipe", "robust", "--out", str(out), "--size", "tiny", "--quiet",
                 "--family-speakers", "1", "--splits", "train", "--conditions", "none", "--workers", "1",
                 "--augment", "snr_db=[-5, 5]", "--augment", 'noise_kinds=["bursts", "speech_shaped"]',
                 "--frontend-set", "n_bands=8", "--frontend-set", "f_max_hz=5000.0"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "synth_train.h5"]
    info = json.loads((out / "dataset.json").read_text())
    fe = info["config"]["frontend"]
    assert (fe["n_bands"], fe["f_max_hz"], fe["encoder"], info["n_units"]) == (8, 5000.0, "robust", 16)
    assert info["config"]["augment"]["snr_db"] == [-5.0, 5.0]
    recs = [r for r in info["transformations"]["train"] if "noise" in r]
    assert recs and all(r["noise"] in ("bursts", "speech_shaped") and -5 <= r["snr_db"] <= 5 for r in recs)
    capsys.readouterr()


@pytest.mark.parametrize("argv,message", [
    (["--augment", "snr_db=[1, 2]"], "--recipe robust"),
    (["--recipe", "robust", "--augment", "snr=[1, 2]"], "unknown setting 'snr'"),
    (["--recipe", "robust", "--augment", "snr_db=[20, 2]"], "snr_db"),
    (["--recipe", "robust", "--augment", "p_eq"], "KEY=VALUE"),
    (["--frontend-set", "bands=8"], "unknown setting 'bands'"),
    (["--frontend-set", "n_bands=0"], "n_bands"),
    (["--frontend-set", "n_bands=eight"], "not TOML"),
    (["--recipe", "robust", "--splits", "train,tset"], "--splits"),
    (["--recipe", "robust", "--conditions", "gain@-99"], "gain@-99"),
])
def test_axon_data_synth_augment_and_splits_errors(tmp_path, capsys, argv, message):
    from bridge.cli import main

    assert main(["data", "synth", "--out", str(tmp_path / "d"), "--size", "tiny", "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err


@needs_espeak
def test_a_larger_babble_bank_starts_with_the_default_material():
    # Datasets made before the bank could grow keep their babble: the 4 x 4 default is the
    # start of any larger bank with four voices per sentence.
    from training.data.synth import DEFAULT_VARIANTS, _babble_bank

    args = (0, "train", DEFAULT_VARIANTS[:6], ("en", "en-us"), FS)
    small = _babble_bank(*args, 4, 4)
    large = _babble_bank(*args, 6, 4)
    assert len(small) == 16 and len(large) == 24
    assert all(np.array_equal(a, b) for a, b in zip(small, large[:16]))


def test_the_clean_twin_is_the_word_at_the_same_gain_and_draws_nothing_more():
    cfg = AugmentConfig(p_clean=0.0, p_reverb=1.0, p_eq=1.0, tract_scale=(1.0, 1.0), gain_db=(-6.0, 12.0),
                        noise_kinds=NOISE_KINDS)
    for seed in range(6):
        x, rec = augment(_word(), 800, 1600, np.random.default_rng([seed, 1]), cfg, FS, _bank())
        x2, rec2, dry = augment(_word(), 800, 1600, np.random.default_rng([seed, 1]), cfg, FS, _bank(), twin=True)
        assert np.array_equal(x, x2) and rec == rec2  # asking for the twin changes nothing
        want = np.concatenate([np.zeros(800), _word(), np.zeros(1600)]) * 10 ** (rec["gain_db"] / 20)
        # no EQ, room or noise; the same gain (the record keeps it to 0.01 dB)
        assert np.allclose(dry, np.clip(want, -1.0, 1.0), rtol=2e-3, atol=0.0)
        assert not np.allclose(dry, x)


@needs_espeak
def test_clean_twins_pair_with_the_training_file_which_stays_the_same(tmp_path, capsys):
    from bridge.cli import main
    from training.data.shd import load_shd
    from training.train import check_twin

    argv = ["data", "synth", "--recipe", "robust", "--size", "tiny", "--quiet", "--family-speakers", "1",
            "--splits", "train", "--conditions", "none", "--workers", "1", "--augment", "p_clean=0.0"]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    assert main([*argv, "--out", str(tmp_path / "twins"), "--clean-twins"]) == 0
    assert sorted(p.name for p in (tmp_path / "twins").iterdir()) == ["dataset.json", "synth_train.h5",
                                                                      "synth_train_twin.h5"]
    plain, noisy = load_shd(tmp_path / "plain" / "synth_train.h5"), load_shd(tmp_path / "twins" / "synth_train.h5")
    twin = load_shd(tmp_path / "twins" / "synth_train_twin.h5")
    for i in range(len(plain)):
        assert np.array_equal(plain.times_s[i], noisy.times_s[i]) and np.array_equal(plain.units[i], noisy.units[i])
    check_twin(twin, noisy)
    # every training utterance was noisy (p_clean 0); the twins differ from them
    assert sum(not np.array_equal(a, b) for a, b in zip(twin.times_s, noisy.times_s)) == len(twin)
    info = json.loads((tmp_path / "twins" / "dataset.json").read_text())
    assert info["config"]["clean_twins"] is True and info["files"]["train/twin"] == "synth_train_twin.h5"
    with pytest.raises(ValueError, match="sample 0 has label"):
        check_twin(twin.subset(np.arange(1, len(twin))), noisy.subset(np.arange(len(twin) - 1)))
    assert main(["data", "synth", "--out", str(tmp_path / "x"), "--size", "tiny", "--quiet", "--clean-twins"]) == 2
    assert "--clean-twins goes with --recipe robust" in capsys.readouterr().err
