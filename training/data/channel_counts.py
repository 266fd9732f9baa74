"""Time-averaged audio features as a static input: each utterance of an SHD-format set becomes
its per-channel event counts, divided by the utterance's largest count, and rate-coded like
the 8x8 digits (:func:`training.data.sklearn_digits.rate_code`: intensity ``p`` gives
``floor(n_steps p)`` evenly spaced spikes). The order of events within the utterance is
gone; what is left is which channels were busy, as a fraction of the busiest (the
normalisation also removes the overall level).

Command line (the three splits of a ``axon data synth`` folder)::

    python -m training.data.channel_counts --src data/synth_quick --out data/synth_counts
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training.data.shd import SpikeDataset, load_shd, write_shd
from training.data.sklearn_digits import rate_code

__all__ = ["channel_intensities", "counts_dataset", "write_counts"]


def channel_intensities(ds: SpikeDataset) -> np.ndarray:
    """(n_samples, n_units) event counts per channel over the whole sample, each row divided
    by its largest entry (rows without events stay 0)."""
    c = np.array([np.bincount(u, minlength=ds.n_units) for u in ds.units], np.float64).reshape(len(ds.units),
                                                                                               ds.n_units)
    top = c.max(1, keepdims=True)
    return np.divide(c, top, out=np.zeros_like(c), where=top > 0)


def counts_dataset(ds: SpikeDataset, n_steps: int = 30, dt_s: float = 0.001) -> SpikeDataset:
    """``ds`` as rate-coded channel intensities over ``n_steps`` steps of ``dt_s``; labels,
    speakers and class names kept."""
    x = channel_intensities(ds)
    times, units = zip(*(rate_code(row, n_steps, dt_s) for row in x)) if len(x) else ((), ())
    return SpikeDataset(list(times), list(units), np.asarray(ds.labels), np.asarray(ds.speakers), ds.n_units,
                        list(ds.class_names))


def write_counts(src_dir, out_dir, n_steps: int = 30, dt_s: float = 0.001, prefix: str = "synth",
                 splits=("train", "valid", "test")) -> dict:
    """Convert ``<src_dir>/<prefix>_<split>.h5`` for each of ``splits`` (by default train, valid
    and test) into the same names in ``out_dir``."""
    src, out = Path(src_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = {"source": str(src), "coding": "per-channel event counts / the sample's largest count, regular rate "
            "code over n_steps", "n_steps": n_steps, "dt_s": dt_s, "kind": "channel_counts", "n_samples": {}}
    for name in splits:
        ds = load_shd(src / f"{prefix}_{name}.h5")
        cds = counts_dataset(ds, n_steps, dt_s)
        write_shd(out / f"{prefix}_{name}.h5", cds, attrs={"kind": "channel_counts", "source": str(src)})
        info["n_samples"][name] = len(cds)
    (out / "dataset.json").write_text(json.dumps(info, indent=1))
    return info


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, help="folder with <prefix>_<split>.h5 for each split")
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", default="synth")
    ap.add_argument("--n-steps", type=int, default=30)
    ap.add_argument("--dt", type=float, default=0.001)
    ap.add_argument("--splits", nargs="+", default=["train", "valid", "test"],
                    help="which <prefix>_<split>.h5 files to convert (e.g. add test_family for the keywords)")
    a = ap.parse_args()
    print(write_counts(a.src, a.out, a.n_steps, a.dt, a.prefix, a.splits))
