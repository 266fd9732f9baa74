"""benchmarks.dense_reference: the envelopes are those of the audio the spike files encode,
and the reference classifier learns what is in them."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from benchmarks.dense_reference import N_STEPS, _features, _normalise, train_and_evaluate


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_features_are_the_band_levels_of_the_rendered_audio_per_10_ms():
    from sim.audio.frontend import band_levels
    from training.data.synth import _plan, make_speakers, render_audio, robust_recipe

    cfg = robust_recipe("tiny", n_family_speakers=1, eval_conditions=("babble@10",))
    job = next(j for j in _plan(cfg, make_speakers(cfg)) if j.split == "test_family")
    feats = _features((job, cfg))
    audio = render_audio(job, cfg)
    assert len(feats) == len(audio) == 2
    for f, (x, _) in zip(feats, audio):
        lv = band_levels(x, cfg.frontend)
        n = lv.shape[0] // 10  # 1 ms frames -> 10 ms steps
        assert f.shape == (N_STEPS, cfg.frontend.n_bands)
        assert np.allclose(f[:n], lv[:n * 10].reshape(n, 10, -1).mean(1), atol=1e-3)
        assert np.isnan(f[n:]).all()  # steps past the audio are marked, then zeroed by _normalise
    assert not np.allclose(feats[0][:n], feats[1][:n])  # the babble version differs


def test_the_reference_learns_a_band_pattern_and_reports_every_data_set():
    import torch

    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 3, n)
        x = rng.normal(-60.0, 3.0, (n, N_STEPS, 8)).astype(np.float32)
        for i, c in enumerate(y):  # class c: band 2c is loud for 30 steps somewhere
            t = rng.integers(0, N_STEPS - 30)
            x[i, t:t + 30, 2 * c] += 25.0
        x[:, 90:] = np.nan  # audio shorter than the window
        return x, y.astype(np.int64)

    data = {"train": make(512), "valid": make(64), "test_family": make(64)}
    z = _normalise(torch.from_numpy(data["train"][0]))
    assert torch.isfinite(z).all() and float(z[:, 90:].abs().max()) == 0.0
    res = train_and_evaluate(data, epochs=8, seed=0, width=16, progress=False)
    assert set(res["accuracy"]) == {"train", "valid", "test_family"}
    assert res["accuracy"]["test_family"] > 0.9 and len(res["history"]) == 8
