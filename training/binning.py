"""Spike datasets onto the dt grid: ``SpikeDataset`` -> dense (samples, steps, channels).

Binning rule (shared with the grid engine): a spike at time ``t`` (seconds, relative to
``start_s``) lands in step ``n = floor(t / dt + STEP_EPS)``; spikes with ``n`` outside
``[0, n_steps)`` are dropped (crop) and short samples are zero-padded. Several spikes of
one channel in one step add up (the value is a count, not clipped to 1).
"""
from __future__ import annotations

import numpy as np

from sim.discrete import STEP_EPS, time_to_step  # the binning rule, shared with the grid engine

__all__ = ["STEP_EPS", "time_to_step", "bin_spikes", "bin_dataset"]


def bin_spikes(times_s, units, n_units: int, dt_s: float, n_steps: int, start_s: float = 0.0,
               out: np.ndarray | None = None) -> np.ndarray:
    """One sample's spikes as counts, shape (n_steps, n_units).

    Parameters
    ----------
    times_s : (k,) float64 seconds
    units : (k,) int64 channel indices in ``[0, n_units)``
    start_s : float
        Time that maps to the start of step 0 (crop offset).
    out : optional (n_steps, n_units) array to fill (zeroed first).
    """
    units = np.asarray(units, dtype=np.int64)
    if units.size and (units.min() < 0 or units.max() >= n_units):
        bad = units[(units < 0) | (units >= n_units)][0]
        raise ValueError(f"bin_spikes: channel {bad} out of range for {n_units} input channels")
    steps = time_to_step(np.asarray(times_s, dtype=np.float64) - start_s, dt_s)
    keep = (steps >= 0) & (steps < n_steps)
    if out is None:
        out = np.zeros((n_steps, n_units), dtype=np.float32)
    else:
        out[...] = 0
    np.add.at(out, (steps[keep], units[keep]), 1)
    return out


def bin_dataset(ds, dt_s: float, n_steps: int, start_s: float = 0.0, dtype=np.uint8) -> np.ndarray:
    """All samples of a ``SpikeDataset`` as an array (n_samples, n_steps, n_units).

    Counts are stored as ``dtype`` (uint8 by default, saturating at 255 with a
    ``ValueError`` rather than wrapping) to keep whole datasets in memory.
    """
    n = len(ds)
    out = np.zeros((n, n_steps, ds.n_units), dtype=np.float32)
    for i in range(n):
        bin_spikes(ds.times_s[i], ds.units[i], ds.n_units, dt_s, n_steps, start_s, out=out[i])
    if np.issubdtype(dtype, np.integer):
        mx = np.iinfo(dtype).max
        if out.size and out.max() > mx:
            raise ValueError(f"bin_dataset: a bin holds {int(out.max())} spikes, more than {dtype.__name__} holds; "
                             f"use a smaller dt_s or dtype=np.float32")
    return out.astype(dtype)
