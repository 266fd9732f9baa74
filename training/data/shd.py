"""Spike datasets in memory and in the SHD HDF5 layout.

:class:`SpikeDataset` is what every dataset in axon becomes (SHD/SSC files, GSC
folders, synthetic digits). :func:`load_shd` reads files of the Spiking Heidelberg
Digits layout (Cramer et al. 2020) unchanged; :func:`write_shd` writes the same layout.

File layout (HDF5)::

    spikes/times   (n,) vlen float    per-sample spike times, seconds, sorted
    spikes/units   (n,) vlen int      per-sample channel indices
    labels         (n,) int           class index
    extra/speaker  (n,) int           speaker id                      (optional on read)
    extra/keys     (n_classes,) str   class names, indexed by label   (optional on read)
    attrs          n_units (int), plus whatever the writer adds; non-scalar values JSON

Importing this module does not import torch.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from sim.model.events import Events, merge_duplicates

__all__ = ["SpikeDataset", "load_shd", "write_shd", "SHD_N_UNITS", "SHD_CLASS_NAMES"]

SHD_N_UNITS = 700
"""Number of input channels of SHD/SSC (the cochlea model's 700 fibres)."""

SHD_CLASS_NAMES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "null", "eins", "zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "neun",
]
"""Class names of SHD, in label order (English digits 0-9, then German 0-9)."""


@dataclass
class SpikeDataset:
    """A labelled set of spike trains, one per utterance.

    Attributes
    ----------
    times_s : list of (k_i,) float64
        Spike times of sample ``i`` in seconds, sorted (non-decreasing), >= 0.
    units : list of (k_i,) int64
        Input channel of each spike, in ``[0, n_units)``.
    labels : (n,) int64
        Class index of each sample, in ``[0, len(class_names))``.
    speakers : (n,) int64
        Speaker id of each sample (-1 when unknown).
    n_units : int
        Number of input channels.
    class_names : list of str
        Name of each class, indexed by label.
    attrs : dict
        The file's root attributes (JSON strings decoded), e.g. ``frontend`` for files
        axon wrote; empty for datasets made in memory.

    Construction converts dtypes and checks lengths; the per-spike checks (order,
    range, finiteness) are in :meth:`validate`, which loading and writing call.
    """

    times_s: list[np.ndarray]
    units: list[np.ndarray]
    labels: np.ndarray
    speakers: np.ndarray
    n_units: int
    class_names: list[str]
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.times_s = [np.asarray(t, dtype=np.float64).reshape(-1) for t in self.times_s]
        self.units = [np.asarray(u, dtype=np.int64).reshape(-1) for u in self.units]
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.speakers = np.asarray(self.speakers, dtype=np.int64).reshape(-1)
        self.class_names = [str(c) for c in self.class_names]
        if isinstance(self.n_units, bool) or int(self.n_units) != self.n_units or self.n_units < 1:
            raise ValueError(f"SpikeDataset.n_units must be a positive integer, got {self.n_units!r}")
        self.n_units = int(self.n_units)
        n = len(self.times_s)
        for name, m in (("units", len(self.units)), ("labels", self.labels.shape[0]),
                        ("speakers", self.speakers.shape[0])):
            if m != n:
                raise ValueError(f"SpikeDataset.{name} has {m} entries but times_s has {n}")

    def __len__(self) -> int:
        return len(self.times_s)

    def subset(self, idx) -> "SpikeDataset":
        """Samples selected by ``idx`` (integer indices, boolean mask or slice), in that order."""
        sel = np.arange(len(self))[idx]
        sel = np.atleast_1d(sel)
        return SpikeDataset(
            times_s=[self.times_s[i] for i in sel],
            units=[self.units[i] for i in sel],
            labels=self.labels[sel],
            speakers=self.speakers[sel],
            n_units=self.n_units,
            class_names=list(self.class_names),
            attrs=dict(self.attrs),
        )

    def events(self, i) -> Events:
        """Sample ``i`` as :class:`sim.model.events.Events` (values 1.0).

        Exact duplicates ``(t, unit)`` (which SHD's float16-rounded times contain) are
        merged into one event whose value is their count.
        """
        return merge_duplicates(self.times_s[i], self.units[i])

    def validate(self, source: str = "SpikeDataset") -> None:
        """Raise ``ValueError`` naming ``source`` and the field if anything is inconsistent.

        Checks: equal lengths of times and units per sample, finite non-negative
        sorted times, units in ``[0, n_units)``, labels in ``[0, len(class_names))``.
        """
        n = len(self)
        lengths = np.array([t.shape[0] for t in self.times_s], dtype=np.int64)
        ulengths = np.array([u.shape[0] for u in self.units], dtype=np.int64)
        if n and not np.array_equal(lengths, ulengths):
            i = int(np.nonzero(lengths != ulengths)[0][0])
            raise ValueError(
                f"{source}: sample {i} has {lengths[i]} spike times but {ulengths[i]} units "
                "(spikes/times and spikes/units must match)"
            )
        if n and lengths.sum():
            t = np.concatenate(self.times_s)
            u = np.concatenate(self.units)
            owner = np.repeat(np.arange(n), lengths)
            bad = ~np.isfinite(t)
            if bad.any():
                j = int(np.nonzero(bad)[0][0])
                raise ValueError(f"{source}: spikes/times of sample {owner[j]} contains {t[j]!r}")
            if t.min() < 0:
                j = int(np.argmin(t))
                raise ValueError(f"{source}: spikes/times of sample {owner[j]} has negative time {t[j]!r}")
            down = (np.diff(t) < 0) & (owner[1:] == owner[:-1])
            if down.any():
                j = int(np.nonzero(down)[0][0])
                raise ValueError(
                    f"{source}: spikes/times of sample {owner[j]} is not sorted "
                    f"({t[j]!r} then {t[j + 1]!r})"
                )
            if u.min() < 0 or u.max() >= self.n_units:
                j = int(np.argmin(u)) if u.min() < 0 else int(np.argmax(u))
                raise ValueError(
                    f"{source}: spikes/units of sample {owner[j]} has unit {u[j]}, outside "
                    f"[0, n_units={self.n_units})"
                )
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            j = int(np.argmin(self.labels)) if self.labels.min() < 0 else int(np.argmax(self.labels))
            raise ValueError(
                f"{source}: labels[{j}] = {self.labels[j]} is outside [0, {len(self.class_names)}) "
                f"(the number of class names)"
            )

    def n_events(self) -> np.ndarray:
        """(n,) int64 number of spikes of each sample."""
        return np.array([t.shape[0] for t in self.times_s], dtype=np.int64)

    def durations_s(self) -> np.ndarray:
        """(n,) float64 time of the last spike of each sample (0 if it has none), s."""
        return np.array([t[-1] if t.shape[0] else 0.0 for t in self.times_s], dtype=np.float64)


def _read_required(f, name: str, path: str):
    if name not in f:
        raise ValueError(f"{path}: missing dataset {name!r} (not an SHD-format file?)")
    return f[name]


def _as_int_array(raw, name: str, path: str) -> np.ndarray:
    a = np.asarray(raw)
    if a.ndim != 1:
        raise ValueError(f"{path}: {name} must be 1-D, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.issubdtype(a.dtype, np.floating) or not np.all(a == np.round(a)):
            raise ValueError(f"{path}: {name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def load_shd(path, n_units: int | None = None) -> SpikeDataset:
    """Read an SHD-format HDF5 file (real SHD/SSC files load unchanged).

    Parameters
    ----------
    path : str or path-like
    n_units : int, optional
        Number of input channels. Default: the file's ``n_units`` attribute if it
        has one, else 700 (SHD/SSC).

    Returns
    -------
    SpikeDataset
        Times converted to float64 seconds, units to int64. ``extra/speaker``
        missing -> speakers -1; ``extra/keys`` missing -> class names "0", "1", ...

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not HDF5, a required dataset is missing, lengths disagree,
        a time is NaN/negative/unsorted or a unit/label is out of range; the message
        names the file and the field.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such SHD file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        times_raw = _read_required(f, "spikes/times", path)[()]
        units_raw = _read_required(f, "spikes/units", path)[()]
        labels = _as_int_array(_read_required(f, "labels", path)[()], "labels", path)
        speakers = (_as_int_array(f["extra/speaker"][()], "extra/speaker", path)
                    if "extra/speaker" in f else np.full(labels.shape[0], -1, np.int64))
        keys = None
        if "extra/keys" in f:
            keys = [k.decode("utf-8") if isinstance(k, bytes) else str(k) for k in f["extra/keys"][()]]
        if n_units is None:
            n_units = int(f.attrs["n_units"]) if "n_units" in f.attrs else SHD_N_UNITS
        attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}

    n = len(times_raw)
    for name, m in (("spikes/units", len(units_raw)), ("labels", labels.shape[0]),
                    ("extra/speaker", speakers.shape[0])):
        if m != n:
            raise ValueError(f"{path}: {name} has {m} entries but spikes/times has {n}")
    times = [_sample_array(t, np.float64, "spikes/times", i, path) for i, t in enumerate(times_raw)]
    units = [_sample_array(u, np.int64, "spikes/units", i, path) for i, u in enumerate(units_raw)]
    if keys is None:
        keys = [str(i) for i in range(int(labels.max()) + 1 if labels.size else 0)]
    ds = SpikeDataset(times, units, labels, speakers, n_units, keys, attrs)
    ds.validate(path)
    return ds


def _decode_attr(v):
    """An HDF5 attribute as a plain Python value; JSON objects/arrays written by
    :func:`write_shd` are decoded, other strings kept."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", errors="replace")
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, str) and (v[:1] in ("{", "[") or v in ("null", "true", "false")):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _sample_array(a, dtype, field: str, i: int, path: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{path}: {field} of sample {i} must be 1-D, got shape {a.shape}")
    if dtype is np.int64 and a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{path}: {field} of sample {i} must hold integers, got dtype {a.dtype}")
    return a.astype(dtype)


def write_shd(path, ds: SpikeDataset, attrs: dict | None = None) -> None:
    """Write ``ds`` in the SHD layout (readable by SHD tools and :func:`load_shd`).

    Parameters
    ----------
    path : str or path-like
        Output file; written to ``path + ".tmp"`` first, then renamed.
    ds : SpikeDataset
        Validated before writing.
    attrs : dict, optional
        Root attributes. Strings and numbers are stored as they are; anything else
        (dicts, lists, None) as a JSON string. ``n_units`` is always set from ``ds``.

    Notes
    -----
    Times are stored as float64 (exact; SHD itself uses a narrower float), units as
    uint16 when ``n_units <= 65536`` (as SHD) else uint32, labels as uint16 and
    speakers as int64.
    """
    import h5py

    path = os.fspath(path)
    ds.validate(f"write_shd({path})")
    unit_dtype = np.uint16 if ds.n_units <= 65536 else np.uint32
    n = len(ds)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        g = f.create_group("spikes")
        g.create_dataset("times", data=_object_array(ds.times_s, np.float64),
                         dtype=h5py.vlen_dtype(np.float64))
        g.create_dataset("units", data=_object_array(ds.units, unit_dtype),
                         dtype=h5py.vlen_dtype(unit_dtype))
        label_dtype = np.uint16 if len(ds.class_names) <= 65536 else np.int64
        f.create_dataset("labels", data=ds.labels.astype(label_dtype))
        e = f.create_group("extra")
        e.create_dataset("speaker", data=ds.speakers.astype(np.int64))
        e.create_dataset("keys", data=np.array(list(ds.class_names), dtype=object),
                         dtype=h5py.string_dtype("utf-8"))
        for k, v in (attrs or {}).items():
            if isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool):
                f.attrs[k] = v
            else:
                f.attrs[k] = json.dumps(v, sort_keys=True)
        f.attrs["n_units"] = ds.n_units
    os.replace(tmp, path)


def _object_array(arrays: list[np.ndarray], dtype) -> np.ndarray:
    # Filled one by one: np.array(list) would make a 2-D array when all lengths match.
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = np.asarray(a).astype(dtype)
    return out
