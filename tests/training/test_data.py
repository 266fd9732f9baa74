"""Datasets: synthetic digits (deterministic, speaker-disjoint), the SHD reader on files in
the real SHD layout and on broken files, Speech Commands folders, ``axon data``."""
from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from sim.audio.frontend import FrontEnd, FrontEndConfig, normalize_rms
from sim.audio.resample import resample
from training.data.shd import SHD_CLASS_NAMES, SpikeDataset, load_shd, write_shd

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


# ----------------------------------------------------------------------------- synthetic digits


@pytest.fixture(scope="module")
def tiny_synth():
    from training.data.synth import SynthConfig, generate

    cfg = SynthConfig.preset("tiny", seed=5)
    return cfg, generate(cfg, workers=1, progress=False)


def _same_dataset(a: SpikeDataset, b: SpikeDataset):
    assert len(a) == len(b)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.speakers, b.speakers)
    for i in range(len(a)):
        assert np.array_equal(a.times_s[i], b.times_s[i])
        assert np.array_equal(a.units[i], b.units[i])


@needs_espeak
def test_synth_tiny_is_speaker_disjoint_and_complete(tiny_synth):
    cfg, (sets, info) = tiny_synth
    assert set(sets) == {"train", "valid", "test"}
    speakers = {k: set(ds.speakers.tolist()) for k, ds in sets.items()}
    # tiny = 3 speakers, 15 % valid and test -> one speaker each, one for training.
    assert [len(speakers[k]) for k in ("train", "valid", "test")] == [1, 1, 1]
    assert not (speakers["train"] & speakers["valid"]) and not (speakers["train"] & speakers["test"])
    assert not (speakers["valid"] & speakers["test"])
    for ds in sets.values():
        # every speaker says all 20 words once (tiny: repetitions = 1)
        assert sorted(ds.labels.tolist()) == list(range(20))
        assert ds.class_names == SHD_CLASS_NAMES and ds.n_units == cfg.frontend.n_channels == 64
        ds.validate()
        assert ds.n_events().min() > 50  # every utterance became a real spike train
        assert ds.durations_s().max() < 2.0
    assert info["splits"]["test"]["n_speakers"] == 1 and info["n_utterances"] == 60


@needs_espeak
def test_synth_deterministic_from_seed(tiny_synth):
    from training.data.synth import SynthConfig, generate

    cfg, (sets, _) = tiny_synth
    again, _ = generate(SynthConfig.preset("tiny", seed=5), workers=1, progress=False)
    for k in sets:
        _same_dataset(sets[k], again[k])
    other, _ = generate(SynthConfig.preset("tiny", seed=6), workers=1, progress=False)
    assert any(not np.array_equal(a, b) or not np.array_equal(c, d)
               for a, b, c, d in zip(sets["train"].times_s, other["train"].times_s,
                                     sets["train"].units, other["train"].units))


@needs_espeak
def test_synth_speakers_and_splits_follow_the_seed():
    from training.data.synth import SynthConfig, make_speakers

    cfg = SynthConfig(n_speakers=40, seed=1)
    a, b = make_speakers(cfg), make_speakers(SynthConfig(n_speakers=40, seed=1))
    assert a == b
    assert len({s.voice for s in a}) == 40  # distinct voices
    counts = {k: sum(s.split == k for s in a) for k in ("train", "valid", "test")}
    assert counts == {"train": 28, "valid": 6, "test": 6}
    assert make_speakers(SynthConfig(n_speakers=40, seed=2)) != a


@needs_espeak
@pytest.mark.slow
def test_synth_workers_do_not_change_result_and_files_roundtrip(tmp_path, tiny_synth):
    from training.data.synth import write_synth

    cfg, (sets, _) = tiny_synth
    info = write_synth(tmp_path, cfg, workers=2, progress=False)
    for k in ("train", "valid", "test"):
        ds = load_shd(tmp_path / info["files"][k])
        _same_dataset(ds, sets[k])
        assert ds.attrs["split"] == k and ds.attrs["frontend"] == cfg.frontend.to_dict()
    js = json.loads((tmp_path / "dataset.json").read_text())
    assert js["seed"] == 5 and js["files"]["test"] == "synth_test.h5"


def test_synth_config_errors_name_the_field():
    from training.data.synth import SynthConfig

    with pytest.raises(ValueError, match=r"SynthConfig.n_speakers must be in \[1, None\], got 0"):
        SynthConfig(n_speakers=0)
    with pytest.raises(ValueError, match=r"SynthConfig.valid_fraction.*got 1.5"):
        SynthConfig(valid_fraction=1.5)
    with pytest.raises(ValueError, match="leaves no training speaker"):
        SynthConfig(n_speakers=2)
    with pytest.raises(ValueError, match="size must be one of"):
        SynthConfig.preset("huge")


# ----------------------------------------------------------------------------- SHD files


def _write_real_shd_layout(path, times, units, labels, speakers):
    """A file laid out exactly as the published SHD files: float16 times, uint16 units,
    labels and speakers, byte-string keys, meta_info, no n_units attribute."""
    with h5py.File(path, "w") as f:
        sp = f.create_group("spikes")
        t = sp.create_dataset("times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
        u = sp.create_dataset("units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i] = np.asarray(ti, dtype=np.float16)
            u[i] = np.asarray(ui, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        ex = f.create_group("extra")
        ex.create_dataset("speaker", data=np.asarray(speakers, dtype=np.uint16))
        ex.create_dataset("keys", data=np.array([k.encode() for k in SHD_CLASS_NAMES]))
        mi = ex.create_group("meta_info")
        mi.create_dataset("gender", data=np.array([b"female", b"male"]))


def _small_sample_set(seed=0):
    rng = np.random.default_rng(seed)
    times, units = [], []
    for k in (5, 0, 40):
        # float16-representable times (SHD stores float16), sorted, in [0, 1) s
        t = np.sort(rng.uniform(0, 1, k)).astype(np.float16).astype(np.float64)
        times.append(t)
        units.append(rng.integers(0, 700, k))
    return times, units, [3, 19, 10], [7, 2, 7]


def test_shd_reader_on_the_published_layout(tmp_path):
    times, units, labels, speakers = _small_sample_set()
    p = tmp_path / "shd_like.h5"
    _write_real_shd_layout(p, times, units, labels, speakers)
    ds = load_shd(p)
    assert ds.n_units == 700  # SHD has no n_units attribute: the cochlea's 700 fibres
    assert ds.class_names == SHD_CLASS_NAMES
    assert ds.labels.tolist() == labels and ds.speakers.tolist() == speakers
    for i in range(3):
        assert ds.times_s[i].dtype == np.float64 and ds.units[i].dtype == np.int64
        np.testing.assert_array_equal(ds.times_s[i], times[i])  # float16 values exactly
        np.testing.assert_array_equal(ds.units[i], units[i])
    # ... and through write_shd -> load_shd unchanged
    q = tmp_path / "copy.h5"
    write_shd(q, ds, attrs={"note": "copy", "frontend": {"n_bands": 3}})
    back = load_shd(q)
    _same_dataset(ds, back)
    assert back.class_names == ds.class_names and back.n_units == 700
    assert back.attrs["note"] == "copy" and back.attrs["frontend"] == {"n_bands": 3}


def test_shd_subset_keeps_everything():
    times, units, labels, speakers = _small_sample_set()
    ds = SpikeDataset(times, units, labels, speakers, 700, SHD_CLASS_NAMES, {"kind": "x"})
    sub = ds.subset([2, 0])
    assert sub.labels.tolist() == [10, 3] and sub.speakers.tolist() == [7, 7] and sub.attrs == {"kind": "x"}
    np.testing.assert_array_equal(sub.times_s[1], times[0])


def _break(path, how):
    with h5py.File(path, "a") as f:
        if how == "missing_units":
            del f["spikes/units"]
        elif how == "missing_labels":
            del f["labels"]
        elif how == "short_labels":
            del f["labels"]
            f.create_dataset("labels", data=np.array([1, 2], dtype=np.uint16))
        elif how == "unit_out_of_range":
            f["spikes/units"][2] = np.full(40, 700, dtype=np.uint16)
        elif how == "mismatched_sample":
            f["spikes/units"][0] = np.zeros(4, dtype=np.uint16)
        elif how == "label_out_of_range":
            del f["labels"]
            f.create_dataset("labels", data=np.array([3, 19, 20], dtype=np.uint16))
        elif how == "unsorted":
            f["spikes/times"][2] = np.linspace(0.9, 0.1, 40).astype(np.float16)


@pytest.mark.parametrize("how,message", [
    ("missing_units", r"missing dataset 'spikes/units'"),
    ("missing_labels", r"missing dataset 'labels'"),
    ("short_labels", r"labels has 2 entries but spikes/times has 3"),
    ("unit_out_of_range", r"spikes/units of sample 2 has unit 700, outside \[0, n_units=700\)"),
    ("mismatched_sample", r"sample 0 has 5 spike times but 4 units"),
    ("label_out_of_range", r"labels\[2\] = 20 is outside \[0, 20\)"),
    ("unsorted", r"spikes/times of sample 2 is not sorted"),
])
def test_shd_reader_bad_files_name_file_and_field(tmp_path, how, message):
    p = tmp_path / "bad.h5"
    _write_real_shd_layout(p, *_small_sample_set())
    _break(p, how)
    with pytest.raises(ValueError, match=message) as exc:
        load_shd(p)
    assert "bad.h5" in str(exc.value)


def test_shd_reader_not_hdf5_and_missing(tmp_path):
    p = tmp_path / "text.h5"
    p.write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_shd(p)
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load_shd(tmp_path / "nope.h5")


def test_write_shd_refuses_invalid_dataset(tmp_path):
    ds = SpikeDataset([np.array([0.1, 0.2])], [np.array([0, 9])], [0], [0], 8, ["a"])
    with pytest.raises(ValueError, match=r"unit 9, outside \[0, n_units=8\)"):
        write_shd(tmp_path / "x.h5", ds)
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(ValueError, match="SpikeDataset.labels has 2 entries but times_s has 1"):
        SpikeDataset([np.array([0.1])], [np.array([0])], [0, 1], [0], 8, ["a"])


# ----------------------------------------------------------------------------- Speech Commands

GSC_WORDS = {"no": 500.0, "up": 1200.0, "yes": 2500.0}  # a tone per word


def _gsc_folder(root, fs=16000):
    """3 words x 3 speakers x 2 takes, one 22.05 kHz stereo file, background noise,
    validation/testing lists by speaker (as Speech Commands does)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    speakers = ["aa11", "bb22", "cc33"]
    for w, f0 in GSC_WORDS.items():
        (root / w).mkdir(parents=True)
        for s in speakers:
            for take in range(2):
                t = np.arange(int(0.3 * fs)) / fs
                x = 0.3 * np.sin(2 * np.pi * f0 * t) * np.hanning(t.size) + 1e-3 * rng.standard_normal(t.size)
                sf.write(root / w / f"{s}_nohash_{take}.wav", x, fs, subtype="PCM_16")
    t = np.arange(int(0.3 * 22050)) / 22050
    st = 0.3 * np.sin(2 * np.pi * 1200.0 * t) * np.hanning(t.size)
    sf.write(root / "up" / "dd44_nohash_0.wav", np.stack([st, st], 1), 22050, subtype="PCM_16")
    (root / "up" / "README.txt").write_text("not audio")
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "white_noise.wav", rng.standard_normal(fs) * 0.1, fs)
    (root / "validation_list.txt").write_text("".join(f"{w}/bb22_nohash_{k}.wav\n" for w in GSC_WORDS for k in (0, 1)))
    (root / "testing_list.txt").write_text("".join(f"{w}/cc33_nohash_{k}.wav\n" for w in GSC_WORDS for k in (0, 1))
                                           + "up/dd44_nohash_0.wav\n")
    return root


def test_gsc_lists_splits_and_ignores_background(tmp_path):
    from training.data.gsc import list_gsc

    root = _gsc_folder(tmp_path / "gsc")
    splits, names = list_gsc(root)
    assert names == ["no", "up", "yes"]  # _background_noise_ is not a class
    assert {it.speaker for it in splits["train"]} == {"aa11"}
    assert {it.speaker for it in splits["valid"]} == {"bb22"}
    assert {it.speaker for it in splits["test"]} == {"cc33", "dd44"}
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [6, 6, 7]
    assert all(not it.relpath.startswith("_") and it.relpath.endswith(".wav") for k in splits for it in splits[k])
    assert [it.label for it in splits["train"]] == [0, 0, 1, 1, 2, 2]
    # A subset of words, in the given label order; the lists' other words are skipped.
    splits, names = list_gsc(root, words=["yes", "no"])
    assert names == ["yes", "no"] and [it.label for it in splits["valid"]] == [1, 1, 0, 0]


def test_gsc_encoding_matches_the_front_end(tmp_path):
    import soundfile as sf

    from training.data.gsc import load_gsc_splits

    root = _gsc_folder(tmp_path / "gsc")
    fe_cfg = FrontEndConfig(n_bands=16)
    sets = load_gsc_splits(root, fe_cfg)
    tr = sets["train"]
    assert tr.n_units == 32 and tr.class_names == ["no", "up", "yes"] and len(tr) == 6
    # Speaker ids shared across splits: sorted hashes aa11, bb22, cc33, dd44 -> 0..3.
    assert set(tr.speakers.tolist()) == {0} and set(sets["valid"].speakers.tolist()) == {1}
    assert set(sets["test"].speakers.tolist()) == {2, 3}
    # Sample 0 is no/aa11_nohash_0.wav: the same events as the front end on the same audio.
    x, fs = sf.read(root / "no" / "aa11_nohash_0.wav", dtype="float64")
    ref = FrontEnd(fe_cfg).process(normalize_rms(x, -20.0))
    np.testing.assert_array_equal(tr.times_s[0], ref.times_s)
    np.testing.assert_array_equal(tr.units[0], ref.channels)
    # The tone words excite different bands: mean UP channel rises with the tone frequency.
    mean_up = [np.mean(np.concatenate([u[u < 16] for u, l in zip(tr.units, tr.labels) if l == c]))
               for c in range(3)]
    assert mean_up[0] < mean_up[1] < mean_up[2]
    # The 22.05 kHz stereo file was mixed down and resampled, not refused.
    te = sets["test"]
    i = int(np.nonzero(te.speakers == 3)[0][0])
    st, fs2 = sf.read(root / "up" / "dd44_nohash_0.wav", dtype="float64")
    ref2 = FrontEnd(fe_cfg).process(normalize_rms(resample(st.mean(1), fs2, 16000.0), -20.0))
    np.testing.assert_array_equal(te.times_s[i], ref2.times_s)


def test_gsc_max_per_class(tmp_path):
    from training.data.gsc import load_gsc

    root = _gsc_folder(tmp_path / "gsc")
    ds = load_gsc(root, "train", FrontEndConfig(n_bands=8), max_per_class=1)
    assert ds.labels.tolist() == [0, 1, 2]


@pytest.mark.parametrize("breakage,message", [
    ("no_root", "is not a folder"),
    ("no_valid_list", "missing split list 'validation_list.txt'"),
    ("list_names_missing_file", r"testing_list.txt: line 1 names 'no/zz99_nohash_0.wav', which does not exist"),
    ("both_lists", "in both validation_list.txt and testing_list.txt"),
    ("no_classes", "has no class folders"),
])
def test_gsc_errors(tmp_path, breakage, message):
    from training.data.gsc import list_gsc

    root = _gsc_folder(tmp_path / "gsc")
    if breakage == "no_root":
        root = tmp_path / "elsewhere"
    elif breakage == "no_valid_list":
        (root / "validation_list.txt").unlink()
    elif breakage == "list_names_missing_file":
        (root / "testing_list.txt").write_text("no/zz99_nohash_0.wav\n")
    elif breakage == "both_lists":
        (root / "testing_list.txt").write_text("no/bb22_nohash_0.wav\n")
    elif breakage == "no_classes":
        root = tmp_path / "empty"
        root.mkdir()
    with pytest.raises(ValueError, match=message):
        list_gsc(root)


def test_gsc_bad_arguments(tmp_path):
    from training.data.gsc import list_gsc, load_gsc

    root = _gsc_folder(tmp_path / "gsc")
    with pytest.raises(ValueError, match=r"words \['maybe'\] have no folder"):
        list_gsc(root, words=["yes", "maybe"])
    with pytest.raises(ValueError, match="split must be one of .* got 'training'"):
        load_gsc(root, "training")
    with pytest.raises(ValueError, match="max_per_class must be an integer >= 0, got -1"):
        load_gsc(root, "train", max_per_class=-1)
    (root / "no" / "aa11_nohash_0.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(ValueError, match="aa11_nohash_0.wav: not a readable audio file"):
        load_gsc(root, "train")


# ----------------------------------------------------------------------------- axon data


def test_axon_data_gsc_and_info(tmp_path, capsys):
    from bridge.cli import main

    root = _gsc_folder(tmp_path / "gsc")
    out = tmp_path / "enc"
    assert main(["data", "gsc", str(root), "--out", str(out), "--words", "no,yes", "--quiet"]) == 0
    tr = load_shd(out / "gsc_train.h5")
    assert tr.class_names == ["no", "yes"] and len(tr) == 4 and tr.n_units == 64
    assert FrontEndConfig.from_dict(tr.attrs["frontend"]) == FrontEndConfig()
    assert json.loads((out / "dataset.json").read_text())["splits"]["test"]["n_utterances"] == 4
    capsys.readouterr()
    assert main(["data", "info", str(out / "gsc_train.h5")]) == 0
    assert "4 samples, 64 channels, 2 classes" in capsys.readouterr().out
    # existing output is not overwritten without --force
    assert main(["data", "gsc", str(root), "--out", str(out), "--quiet"]) == 2
    assert "already exist" in capsys.readouterr().err
    assert main(["data", "gsc", str(root), "--out", str(out), "--quiet", "--force"]) == 0


@pytest.mark.parametrize("argv,message", [
    (["data"], "choose what to make: synth, gsc, info or speech"),
    (["data", "synth", "--size", "huge"], "--size must be one of"),
    (["data", "synth", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["data", "synth", "--workers", "0"], "--workers must be in 1..64, got 0"),
    (["data", "gsc", "NOWHERE", "--out", "x"], "'NOWHERE' is not a folder"),
    (["data", "gsc", ".", "--out", "x", "--max-per-class", "-2"], "--max-per-class must be >= 0, got -2"),
    (["data", "info", "NOWHERE.h5"], "NOWHERE.h5: no such SHD file"),
])
def test_axon_data_errors(tmp_path, capsys, monkeypatch, argv, message):
    from bridge.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("axon data: error:") and message in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "data").exists()


@needs_espeak
def test_axon_data_synth_refuses_to_overwrite(tmp_path, capsys):
    from bridge.cli import main

    (tmp_path / "synth_train.h5").write_text("")
    assert main(["data", "synth", "--out", str(tmp_path), "--size", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "synth_train.h5" in err and "--force" in err
    assert (tmp_path / "synth_train.h5").read_text() == ""


@needs_espeak
def test_axon_data_synth_tiny(tmp_path, capsys):
    from bridge.cli import main

    assert main(["data", "synth", "--out", str(tmp_path), "--size", "tiny", "--seed", "2", "--workers", "1",
                 "--quiet"]) == 0
    assert "60 utterances (tiny, seed 2)" in capsys.readouterr().out
    ds = load_shd(tmp_path / "synth_test.h5")
    assert len(ds) == 20 and ds.attrs["seed"] == 2


def test_channel_counts_are_rate_coded_relative_to_the_busiest_channel(tmp_path):
    # Sample 0: channel 0 fires 4 times, channel 2 twice, channel 1 never -> intensities
    # 1, 0, 0.5 -> 10 and 5 evenly spaced spikes over 10 steps. Sample 1 has no events.
    from training.data.channel_counts import channel_intensities, counts_dataset, write_counts
    from training.data.shd import SpikeDataset, load_shd, write_shd

    ds = SpikeDataset([np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]), np.array([])],
                      [np.array([0, 2, 0, 0, 2, 0]), np.array([], dtype=np.int64)], np.array([1, 0]),
                      np.array([3, 4]), 3, ["a", "b"])
    assert np.array_equal(channel_intensities(ds), [[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]])
    c = counts_dataset(ds, n_steps=10, dt_s=0.001)
    assert np.array_equal(np.bincount(c.units[0], minlength=3), [10, 0, 5])
    assert np.allclose(np.sort(c.times_s[0][c.units[0] == 2]), 0.001 * np.array([1, 3, 5, 7, 9]))
    assert len(c.units[1]) == 0 and list(c.labels) == [1, 0] and list(c.speakers) == [3, 4]
    for name in ("train", "valid", "test"):
        write_shd(tmp_path / f"synth_{name}.h5", ds)
    info = write_counts(tmp_path, tmp_path / "out", n_steps=10)
    assert info["n_samples"] == {"train": 2, "valid": 2, "test": 2}
    back = load_shd(tmp_path / "out" / "synth_test.h5")
    assert np.array_equal(np.bincount(back.units[0], minlength=3), [10, 0, 5])
    write_shd(tmp_path / "synth_test_family.h5", ds)
    info = write_counts(tmp_path, tmp_path / "out2", n_steps=10, splits=("test_family",))
    assert info["n_samples"] == {"test_family": 2} and (tmp_path / "out2" / "synth_test_family.h5").exists()
