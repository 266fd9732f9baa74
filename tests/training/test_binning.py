"""Spikes onto the dt grid."""
import numpy as np
import pytest

from training.binning import bin_dataset, bin_spikes, time_to_step
from training.toy import make_toy_dataset


def test_time_to_step_puts_grid_times_in_their_own_step():
    dt = 0.001
    n = np.arange(0, 5000)
    # n * dt / dt can round to just below n (e.g. 0.007/0.001 = 6.999999999999999)
    assert np.any(np.floor((n * dt) / dt) != n)
    np.testing.assert_array_equal(time_to_step(n * dt, dt), n)
    np.testing.assert_array_equal(time_to_step([0.0, 0.0099, 0.01, 0.0199], 0.01), [0, 0, 1, 1])


def test_bin_spikes_counts_crops_and_pads():
    t = np.array([0.001, 0.002, 0.015, 0.05, 0.5])
    u = np.array([1, 1, 0, 2, 2])
    x = bin_spikes(t, u, 3, 0.01, 6)
    assert x.shape == (6, 3)
    assert x[0, 1] == 2  # two spikes of channel 1 in step 0 add up
    assert x[1, 0] == 1 and x[5, 2] == 1
    assert x.sum() == 4  # t = 0.5 s is past the 6-step window and is dropped
    x = bin_spikes(t, u, 3, 0.01, 6, start_s=0.01)
    assert x[0, 0] == 1 and x.sum() == 2  # spikes before start_s are dropped
    with pytest.raises(ValueError, match="channel 3 out of range"):
        bin_spikes([0.0], [3], 3, 0.01, 6)


def test_bin_dataset_shape_and_total():
    ds = make_toy_dataset(5, n_units=4, n_classes=2, duration_s=0.2)
    x = bin_dataset(ds, 0.01, 20)
    assert x.shape == (5, 20, 4) and x.dtype == np.uint8
    assert x.reshape(5, -1).sum(1).tolist() == [len(t) for t in ds.times_s]
