"""Input masking during training: band and time masks, input dropout, reproducible from
the training seed, and the ``train.*mask*`` config keys."""
import numpy as np
import pytest
import torch

from training.config import config_from_dict
from training.masking import band_of_channel, mask_inputs
from training.train import load_checkpoint, train

N_BANDS = 8


def _batch(b=16, steps=40, channels=2 * N_BANDS):
    return torch.ones(b, steps, channels, dtype=torch.float64)


def test_band_of_channel_follows_the_front_end_layout():
    fe = {"n_bands": N_BANDS, "encoder": "robust"}
    assert band_of_channel(2 * N_BANDS, fe).tolist() == list(range(N_BANDS)) * 2
    # One channel per band (the LIF encoder), or no front end: each channel its own band.
    assert band_of_channel(N_BANDS, fe).tolist() == list(range(N_BANDS))
    assert band_of_channel(5, None).tolist() == list(range(5))


def test_band_masks_remove_whole_bands_on_up_and_down_channels():
    x = _batch()
    y = mask_inputs(x, torch.Generator().manual_seed(0), band_of_channel(2 * N_BANDS, {"n_bands": N_BANDS}),
                    band_masks=1, band_mask_width=3)
    zero = (y == 0).all(dim=1)                     # (batch, channels): channel silent all the time
    assert torch.equal((y == 0).any(dim=1), zero)  # a band mask covers every step
    assert torch.equal(zero[:, :N_BANDS], zero[:, N_BANDS:])  # UP and DOWN of a band together
    widths = zero[:, :N_BANDS].sum(1)
    assert widths.max() <= 3 and widths.max() >= 1
    for row in zero[:, :N_BANDS]:                  # one mask: the zeroed bands are adjacent
        idx = torch.nonzero(row).flatten()
        if idx.numel():
            assert idx.max() - idx.min() + 1 == idx.numel()


def test_time_masks_remove_runs_of_steps_on_every_channel():
    y = mask_inputs(_batch(), torch.Generator().manual_seed(1), np.arange(2 * N_BANDS), time_masks=1,
                    time_mask_steps=6)
    zero = (y == 0).all(dim=2)                     # (batch, steps)
    assert torch.equal((y == 0).any(dim=2), zero)
    widths = zero.sum(1)
    assert widths.max() <= 6 and widths.max() >= 1
    for row in zero:
        idx = torch.nonzero(row).flatten()
        if idx.numel():
            assert idx.max() - idx.min() + 1 == idx.numel()


def test_input_drop_removes_about_that_fraction():
    y = mask_inputs(_batch(64, 100), torch.Generator().manual_seed(2), np.arange(2 * N_BANDS), input_drop=0.2)
    assert float((y == 0).double().mean()) == pytest.approx(0.2, abs=0.01)


def test_masks_follow_the_generator_and_off_is_a_no_op():
    x = torch.rand(8, 30, 2 * N_BANDS, generator=torch.Generator().manual_seed(5))
    kw = dict(band_masks=2, band_mask_width=2, time_masks=2, time_mask_steps=5, input_drop=0.1)
    band_of = band_of_channel(2 * N_BANDS, {"n_bands": N_BANDS})
    a = mask_inputs(x, torch.Generator().manual_seed(3), band_of, **kw)
    b = mask_inputs(x, torch.Generator().manual_seed(3), band_of, **kw)
    c = mask_inputs(x, torch.Generator().manual_seed(4), band_of, **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.all((a == x) | (a == 0))
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    assert mask_inputs(x, g, band_of) is x and torch.equal(g.get_state(), state)


RAW = {
    "data": {"kind": "toy", "dt_s": 0.01, "n_steps": 30, "toy_units": 8, "toy_classes": 3, "toy_samples": 24},
    "model": {"hidden": [16], "max_delay_steps": 4},
    "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "seed": 3, "num_threads": 1},
}


def _with(**train_keys):
    raw = {k: dict(v) for k, v in RAW.items()}
    raw["train"].update(train_keys)
    return config_from_dict(raw)


def test_training_with_masks_is_reproducible_and_differs_from_without(tmp_path):
    masked = _with(band_masks=2, band_mask_width=2, time_masks=1, time_mask_steps=5, input_drop=0.1)
    train(masked, tmp_path / "a", progress=False)
    train(masked, tmp_path / "b", progress=False)
    train(_with(), tmp_path / "c", progress=False)
    a, b, c = (load_checkpoint(tmp_path / n / "last.pt")["model"] for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("key,value", [("band_masks", -1), ("time_mask_steps", 1.5), ("input_drop", 1.0)])
def test_mask_config_errors_name_the_key(key, value):
    with pytest.raises(ValueError, match=f"train.{key}"):
        _with(**{key: value})
