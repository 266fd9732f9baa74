"""A small seeded spike-pattern task for tests and smoke runs (``data.kind = "toy"``).

Each class is a fixed random spatio-temporal pattern of spikes; a sample is its class
pattern with time jitter, dropped spikes and background noise. Classes differ only in the
timing of spikes across channels, so delays help.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["make_toy_dataset"]


@dataclass
class _SpikeDataset:
    """Same fields as ``training.data.shd.SpikeDataset`` (used when that module is absent)."""

    times_s: list
    units: list
    labels: np.ndarray
    speakers: np.ndarray
    n_units: int
    class_names: list

    def __len__(self):
        return int(self.labels.shape[0])

    def subset(self, idx):
        idx = np.asarray(idx, dtype=np.int64)
        return _SpikeDataset([self.times_s[i] for i in idx], [self.units[i] for i in idx], self.labels[idx],
                             self.speakers[idx], self.n_units, self.class_names)


def _dataset_class():
    try:
        from training.data.shd import SpikeDataset
        return SpikeDataset
    except Exception:  # the data package is optional here
        return _SpikeDataset


def make_toy_dataset(n_samples: int, n_units: int = 16, n_classes: int = 3, duration_s: float = 0.5,
                     rng: np.random.Generator | None = None, pattern_seed: int = 1234,
                     spikes_per_unit: int = 2, jitter_s: float = 0.005, noise_hz: float = 2.0):
    """Build an in-memory SpikeDataset of ``n_samples`` samples, labels cycling over classes.

    ``pattern_seed`` fixes the class templates (so train/valid/test made with different
    ``rng`` share the task); ``rng`` draws the per-sample variation.
    """
    if rng is None:
        rng = np.random.default_rng(0)
    prng = np.random.default_rng(pattern_seed)
    templates = [prng.uniform(0.05, duration_s * 0.8, size=(n_units, spikes_per_unit)) for _ in range(n_classes)]
    times, units = [], []
    labels = np.arange(n_samples, dtype=np.int64) % n_classes
    for y in labels:
        t = templates[y] + rng.normal(0, jitter_s, size=templates[y].shape)
        u = np.repeat(np.arange(n_units), spikes_per_unit)
        t = t.reshape(-1)
        keep = rng.random(t.size) > 0.1
        t, u = t[keep], u[keep]
        n_noise = rng.poisson(noise_hz * duration_s * n_units)
        t = np.concatenate([t, rng.uniform(0, duration_s, n_noise)])
        u = np.concatenate([u, rng.integers(0, n_units, n_noise)])
        t = np.clip(t, 0, duration_s - 1e-6)
        order = np.argsort(t, kind="stable")
        times.append(t[order].astype(np.float64))
        units.append(u[order].astype(np.int64))
    cls = _dataset_class()
    return cls(times_s=times, units=units, labels=labels, speakers=np.zeros(n_samples, np.int64),
               n_units=n_units, class_names=[f"class{c}" for c in range(n_classes)])
