"""scikit-learn's 8x8 handwritten digits (1,797 real images shipped with the package) as
SHD-format spike files: each pixel is an input channel, rate-coded by a regular spike train.

Command line: ``python -m training.data.sklearn_digits --out data/digits8x8``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training.data.shd import SpikeDataset, write_shd

__all__ = ["rate_code", "digits_datasets", "write_digits"]


def rate_code(intensity: np.ndarray, n_steps: int, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Regular spike trains: channel ``i`` with intensity ``p_i`` in [0, 1] fires at the start
    of step ``k`` (time ``k * dt_s``) whenever ``floor((k + 1) p_i) > floor(k p_i)``, i.e.
    ``floor(n_steps * p_i)`` spikes spread evenly over the window (``p = 1``: every step).

    Returns
    -------
    (times_s, units) sorted by time, then channel.
    """
    p = np.clip(np.asarray(intensity, np.float64).reshape(-1), 0.0, 1.0)
    k = np.arange(n_steps)[:, None]
    # 1e-9: a product like 3 * (1/3) that lands just below an integer still counts
    fire = np.floor((k + 1) * p + 1e-9) > np.floor(k * p + 1e-9)
    step, unit = np.nonzero(fire)
    return step * dt_s, unit.astype(np.int64)


def digits_datasets(n_steps: int = 30, dt_s: float = 0.001, seed: int = 0, n_valid: int = 300, n_test: int = 300):
    """(train, valid, test) :class:`SpikeDataset` of the 8x8 digits, split by a seeded
    permutation (the images carry no writer ids), intensities ``pixel / 16``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data / 16.0
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    parts = {"test": perm[:n_test], "valid": perm[n_test:n_test + n_valid], "train": perm[n_test + n_valid:]}
    out = {}
    for name, idx in parts.items():
        times, units = zip(*(rate_code(x[i], n_steps, dt_s) for i in idx))
        out[name] = SpikeDataset(list(times), list(units), y[idx], np.full(len(idx), -1), 64,
                                 [str(c) for c in range(10)])
    return out["train"], out["valid"], out["test"]


def write_digits(out_dir, n_steps: int = 30, dt_s: float = 0.001, seed: int = 0) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = {"source": "sklearn.datasets.load_digits", "coding": "regular rate code, pixel/16 spikes per step",
            "n_steps": n_steps, "dt_s": dt_s, "seed": seed, "kind": "digits8x8"}
    sizes = {}
    for name, ds in zip(("train", "valid", "test"), digits_datasets(n_steps, dt_s, seed)):
        write_shd(out / f"digits_{name}.h5", ds, attrs={"kind": "digits8x8", "seed": seed})
        sizes[name] = len(ds)
    info["n_samples"] = sizes
    (out / "dataset.json").write_text(json.dumps(info, indent=1))
    return info


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/digits8x8")
    ap.add_argument("--n-steps", type=int, default=30)
    ap.add_argument("--dt", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(write_digits(a.out, a.n_steps, a.dt, a.seed))
