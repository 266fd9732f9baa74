"""sim.audio.frontend: streaming == one call, frequency selectivity, silence, resampling, config errors."""
from __future__ import annotations

import numpy as np
import pytest

from sim.audio.frontend import FrontEnd, FrontEndConfig, encode_audio, normalize_rms
from sim.audio.resample import resample

FS = 16000.0


def _tone(f_hz, dur_s=0.3, level_dbfs=-20.0, fs=FS):
    t = np.arange(int(round(dur_s * fs))) / fs
    return normalize_rms(np.sin(2 * np.pi * f_hz * t), level_dbfs)


def _chirpy_noise(seed=0, dur_s=0.4):
    """Noise plus a gliding tone plus silence: exercises every band and both event kinds."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * FS)
    t = np.arange(n) / FS
    x = 0.05 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * (200 + 3000 * t) * t)
    x[n // 2: n // 2 + 800] = 0.0  # a gap: DOWN events, then UP again
    return x


def _same_events(a, b):
    assert np.array_equal(a.times_s, b.times_s)
    assert np.array_equal(a.channels, b.channels)
    assert np.array_equal(a.values, b.values)


def _concat(events):
    return (np.concatenate([e.times_s for e in events]), np.concatenate([e.channels for e in events]),
            np.concatenate([e.values for e in events]))


def _config(encoder, **kw):
    if encoder == "robust":
        return FrontEndConfig.robust(**kw)
    return FrontEndConfig(encoder=encoder, **kw)


@pytest.mark.parametrize("encoder", ["delta", "lif", "robust"])
def test_streaming_in_awkward_blocks_equals_one_call(encoder):
    # A high LIF gain so that the LIF encoder fires often enough to compare.
    cfg = _config(encoder, hop_samples=16, lif_gain=4.0)
    x = _chirpy_noise()
    whole = FrontEnd(cfg).process(x)
    assert len(whole) > 100  # the comparison is about something
    # Block sizes that never align with the hop (16): 1, 7, 15, 17, 1000, 3, the rest,
    # plus an empty block in the middle.
    cuts = np.cumsum([1, 7, 15, 17, 1000, 0, 3, 4093])
    fe = FrontEnd(cfg)
    parts = [fe.process(b) for b in np.split(x, cuts)]
    t, ch, v = _concat(parts)
    assert np.array_equal(t, whole.times_s)
    assert np.array_equal(ch, whole.channels)
    assert np.array_equal(v, whole.values)
    assert fe.sample_count == x.shape[0]


@pytest.mark.parametrize("encoder", ["delta", "robust"])
def test_streaming_one_sample_at_a_time_and_state_roundtrip(encoder):
    cfg = _config(encoder, n_bands=8, hop_samples=5)
    x = _chirpy_noise(seed=1, dur_s=0.05)
    whole = FrontEnd(cfg).process(x)
    fe = FrontEnd(cfg)
    half = x.shape[0] // 2
    first = [fe.process(x[i:i + 1]) for i in range(half)]
    # Carry the state over to a fresh object: the state object is all that persists.
    fe2 = FrontEnd(cfg)
    fe2.set_state(fe.state)
    second = [fe2.process(x[i:i + 1]) for i in range(half, x.shape[0])]
    t, ch, _ = _concat(first + second)
    assert np.array_equal(t, whole.times_s)
    assert np.array_equal(ch, whole.channels)


@pytest.mark.parametrize("f_hz", [300.0, 1000.0, 3000.0])
def test_tone_excites_the_nearest_frequency_channel(f_hz):
    cfg = FrontEndConfig(n_bands=16, encoder="delta", delta_db=1.0)
    ev = FrontEnd(cfg).process(_tone(f_hz))
    ups = ev.channels[ev.channels < cfg.n_bands]
    counts = np.bincount(ups, minlength=cfg.n_bands)
    nearest = int(np.argmin(np.abs(np.log(cfg.center_frequencies_hz() / f_hz))))
    assert int(np.argmax(counts)) == nearest
    # The band two places away (in the direction away from the tone) is well below.
    far = nearest + 2 if nearest + 2 < cfg.n_bands else nearest - 2
    assert counts[far] < counts[nearest] / 2


def test_tone_lif_encoder_fires_most_in_nearest_band():
    cfg = FrontEndConfig(n_bands=16, encoder="lif", lif_gain=2.0)
    ev = FrontEnd(cfg).process(_tone(1000.0))
    counts = np.bincount(ev.channels, minlength=cfg.n_bands)
    nearest = int(np.argmin(np.abs(cfg.center_frequencies_hz() - 1000.0)))
    assert int(np.argmax(counts)) == nearest
    assert ev.channels.max() < cfg.n_bands  # no DOWN channels with the LIF encoder


def test_delta_events_up_then_down_after_the_tone_stops():
    cfg = FrontEndConfig(n_bands=16)
    x = np.concatenate([_tone(1000.0, 0.2), np.zeros(int(0.2 * FS))])
    ev = FrontEnd(cfg).process(x)
    up = ev.channels < cfg.n_bands
    assert up.any() and (~up).any()
    # Every DOWN event of the strongest band comes after its last UP event (the envelope
    # rises during the tone and decays after it).
    b = int(np.argmax(np.bincount(ev.channels[up], minlength=cfg.n_bands)))
    t_up = ev.times_s[ev.channels == b]
    t_down = ev.times_s[ev.channels == cfg.down_channel(b)]
    assert t_down.size > 0 and t_down.min() > 0.2 - 0.02
    assert t_up.max() < 0.2 + 0.02


@pytest.mark.parametrize("encoder", ["delta", "lif", "robust"])
def test_silence_gives_no_events(encoder):
    fe = FrontEnd(_config(encoder))
    assert len(fe.process(np.zeros(int(FS)))) == 0
    assert len(fe.process(np.zeros(0))) == 0
    # Far below the -70 dB floor: still nothing.
    assert len(fe.process(1e-7 * np.sin(np.arange(8000) * 0.3))) == 0


def _speechlike(seed=0, dur_s=0.8):
    """Voiced-speech stand-in (no espeak-ng needed): harmonics of a gliding 70-150 Hz
    pitch under a moving formant, three syllables, a burst of noise, 0.1 s of silence
    each side, -20 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * FS)
    t = np.arange(n) / FS
    f0 = 110 + 40 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / FS
    formant = 500 + 1500 * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t))
    x = np.zeros(n)
    for h in range(1, 40):
        fh = h * f0
        gain = np.exp(-0.5 * ((fh - formant) / 300.0) ** 2) + 0.3 * np.exp(-0.5 * ((fh - 2500) / 400.0) ** 2)
        x += gain * np.sin(h * phase)
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 2
    x = x * syllables + 0.05 * rng.standard_normal(n) * (t > 0.5) * (t < 0.6)
    z = np.zeros(int(0.1 * FS))
    return np.concatenate([z, normalize_rms(x, -20.0), z])


def _binned(ev, n_channels, dur_s):
    """Event counts per (10 ms step, channel): what the trained network sees."""
    h = np.zeros((int(dur_s * 100) + 1, n_channels))
    np.add.at(h, (np.floor(ev.times_s * 100).astype(int), ev.channels), 1)
    return h


@pytest.mark.parametrize("level_dbfs", [-60.0, -40.0, -20.0])
@pytest.mark.parametrize("margin_db, per_channel", [(8.0, 0.5), (4.0, 1.5)])
def test_robust_noise_only_gives_few_events(level_dbfs, margin_db, per_channel):
    # Bound: `per_channel` events per channel per second once the noise floor has been
    # found (0.3 s: the floor falls from noise_init_db -30 dB at the 20 ms smoothing rate,
    # or climbs at 15 dB/s). Speech drives about 30 events per channel per second (the
    # speech-like signal below: ~1900 events in 1 s over 64 channels).
    # The recipe's 8 dB floor margin: 0.5, so at the 10 ms training grid a channel carries a
    # noise event in under 0.5 % of the steps, 60 times fewer than speech. Measured: about
    # 1 / 1 / 7 events/s in all (of 32 allowed).
    # digits.toml's 4 dB margin lets the noise's own fluctuation (a few dB) cross the first
    # step more often: 1.5 (under 1.5 % of the steps, 20 times fewer than speech). Measured:
    # about 31 / 36 / 57 events/s in all (of 96 allowed).
    # The plain delta encoder gives about 640 and 1180 events/s at -40 and -20 dBFS.
    dur_s, settle_s = 3.0, 0.3
    noise = np.random.default_rng(1).standard_normal(int(dur_s * FS)) * 10.0 ** (level_dbfs / 20.0)
    cfg = FrontEndConfig.robust(noise_margin_db=margin_db)
    ev = FrontEnd(cfg).process(noise)
    rate = np.count_nonzero(ev.times_s >= settle_s) / (dur_s - settle_s)
    assert rate < per_channel * cfg.n_channels
    if level_dbfs >= -40.0 and margin_db == 8.0:  # the plain encoder: over 10 times the recipe's bound
        plain = FrontEnd(FrontEndConfig()).process(noise)
        assert np.count_nonzero(plain.times_s >= settle_s) / (dur_s - settle_s) > 10 * per_channel * cfg.n_channels


@pytest.mark.parametrize("gain_db", [-6.0, 6.0])
def test_robust_level_change_changes_few_events(gain_db):
    # The encoded level is relative to the tracked floor and peak, both of which move
    # with the gain, so a gain change leaves it unchanged except where levels touch the
    # fixed -120 dB floor (the decays into silence). Measured: 3 % (-6 dB) and 1 %
    # (+6 dB) of the per-step counts change; the plain encoder changes 32 % and 38 %.
    x = _speechlike()
    dur_s = x.shape[0] / FS
    for cfg, bound, more in ((FrontEndConfig.robust(), 0.06, False), (FrontEndConfig(), 0.2, True)):
        ref = _binned(FrontEnd(cfg).process(x), cfg.n_channels, dur_s)
        got = _binned(FrontEnd(cfg).process(x * 10.0 ** (gain_db / 20.0)), cfg.n_channels, dur_s)
        changed = np.abs(got - ref).sum() / ref.sum()
        assert ref.sum() > 1000
        assert (changed > bound) if more else (changed < bound), (cfg.encoder, changed)


def test_robust_encoder_keeps_the_delta_channel_layout():
    cfg = FrontEndConfig.robust(n_bands=16)
    assert cfg.n_channels == 32 and cfg.down_channel(3) == 19
    ev = FrontEnd(cfg).process(_speechlike())
    up = ev.channels < cfg.n_bands
    assert up.any() and (~up).any()
    # Every band returns to its reference 0 after the tail silence: as many DOWN as UP.
    assert np.count_nonzero(up) == np.count_nonzero(~up)


def test_event_times_are_on_the_hop_grid_and_sorted():
    cfg = FrontEndConfig(hop_samples=32)
    ev = FrontEnd(cfg).process(_chirpy_noise())
    frames = ev.times_s * FS / cfg.hop_samples
    assert np.allclose(frames, np.round(frames), rtol=0, atol=1e-9)
    assert np.all(np.diff(ev.times_s) >= 0)
    assert np.all(ev.values == 1.0)
    assert ev.channels.min() >= 0 and ev.channels.max() < cfg.n_channels


def test_resample_sine_keeps_frequency_and_amplitude():
    f, fs_in, fs_out = 440.0, 22050.0, 16000.0
    n = int(fs_in)  # 1 s
    x = np.sin(2 * np.pi * f * np.arange(n) / fs_in)
    y = resample(x, fs_in, fs_out)
    assert y.shape == (int(np.ceil(n * fs_out / fs_in)),)
    # Away from the edges (the FIR's transients) the output is the same sine at 16 kHz:
    # 22050 -> 16000 is the exact ratio 320/441, so the phase is continuous.
    ref = np.sin(2 * np.pi * f * np.arange(y.shape[0]) / fs_out)
    mid = slice(500, -500)
    assert np.max(np.abs(y[mid] - ref[mid])) < 1e-3
    # Same rate: a copy, not the same array.
    z = resample(x, fs_in, fs_in)
    assert np.array_equal(z, x) and z is not x


def test_encode_audio_resamples_first():
    x = _tone(1000.0, 0.2, fs=22050.0)
    ev = encode_audio(x, FrontEndConfig(), sample_rate_hz=22050.0)
    ref = FrontEnd(FrontEndConfig()).process(resample(x, 22050.0, 16000.0))
    _same_events(ev, ref)


@pytest.mark.parametrize("field,value", [
    ("n_bands", 0), ("n_bands", 2.5), ("sample_rate_hz", -1.0), ("f_min_hz", 0.0),
    ("filter_order", 7), ("hop_samples", 0), ("floor_db", 3.0), ("encoder", "spikes"),
    ("delta_db", 0.0), ("envelope_tau_s", float("nan")), ("lif_gain", True),
    ("noise_smooth_s", 0.0), ("noise_margin_db", -1.0), ("noise_init_db", -80.0), ("agc_range_db", -3.0),
])
def test_bad_config_value_error_names_field_and_value(field, value):
    with pytest.raises(ValueError) as exc:
        FrontEndConfig(**{field: value})
    assert f"FrontEndConfig.{field}" in str(exc.value)
    assert repr(value) in str(exc.value) or str(value) in str(exc.value)


def test_bad_config_top_band_above_nyquist():
    with pytest.raises(ValueError, match="f_max_hz"):
        FrontEndConfig(sample_rate_hz=8000.0, f_max_hz=6500.0)
    with pytest.raises(ValueError, match="f_max_hz"):
        FrontEndConfig(f_min_hz=1000.0, f_max_hz=500.0)


def test_config_dict_roundtrip_and_unknown_key():
    cfg = FrontEndConfig(n_bands=8, encoder="lif")
    assert FrontEndConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="bogus"):
        FrontEndConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize("bad,msg", [
    (np.zeros((10, 2)), "1-D"), (np.zeros(10, dtype=np.int16), "floating"),
    (np.array([0.0, np.nan]), "sample 1"),
])
def test_bad_audio_is_refused(bad, msg):
    with pytest.raises(ValueError, match=msg):
        FrontEnd().process(bad)


def test_resample_bad_rates():
    with pytest.raises(ValueError, match="orig_rate_hz"):
        resample(np.zeros(10), 0.0, 16000.0)
    with pytest.raises(ValueError, match="target_rate_hz"):
        resample(np.zeros(10), 16000.0, float("inf"))


def test_band_levels_are_the_envelope_the_delta_encoder_steps_through():
    from sim.audio.frontend import band_levels

    cfg = FrontEndConfig(n_bands=16, encoder="delta", delta_db=3.0)
    x = _tone(1000.0)
    lv = band_levels(x, cfg)
    assert lv.shape == ((x.shape[0] - 1) // cfg.hop_samples + 1, 16)
    nearest = int(np.argmin(np.abs(np.log(cfg.center_frequencies_hz() / 1000.0))))
    assert int(np.argmax(lv[-1])) == nearest
    # a gain is a shift in dB wherever the level is well above the floor (which adds ~0.1 dB at 35 dB)
    lv6 = band_levels(x * 2.0, cfg)
    loud = lv[-1] > cfg.floor_db + 30
    assert loud.any() and np.allclose(lv6[-1][loud] - lv[-1][loud], 20 * np.log10(2.0), atol=0.15)
    # the delta encoder's UP events of a band = the 3 dB steps its level climbs from the floor
    ev = FrontEnd(cfg).process(x)
    ups = np.bincount(ev.channels[ev.channels < 16], minlength=16)
    peak = lv.max(0)
    assert np.all(np.abs(ups - np.floor((peak - cfg.floor_db) / 3.0)) <= 1)
