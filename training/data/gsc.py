"""Google Speech Commands folders -> spike datasets, through the audio front end.

A Speech Commands folder (Warden 2018, versions 0.01 and 0.02) holds one sub-folder per
word with 1-second 16 kHz mono WAV files named ``<speaker>_nohash_<n>.wav``, plus two
lists of relative paths, ``validation_list.txt`` and ``testing_list.txt``; every file in
neither list is a training file (that is how the dataset defines its speaker-disjoint
splits). Folders whose name starts with ``_`` (``_background_noise_``) are not classes and
are ignored. Each recording is read with ``soundfile``, mixed to mono, resampled to the
front end's rate when needed, optionally RMS-normalised, and encoded from silence with
:class:`sim.audio.frontend.FrontEnd`. Does not import torch.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass

import numpy as np

from sim.audio.frontend import FrontEnd, FrontEndConfig, normalize_rms
from sim.audio.resample import resample
from training.data.shd import SpikeDataset, write_shd

__all__ = ["GSC_SPLITS", "GSCItem", "list_gsc", "read_wav", "load_gsc", "load_gsc_splits", "write_gsc"]

GSC_SPLITS = ("train", "valid", "test")
_LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}
_SPEAKER_RE = re.compile(r"^(?P<speaker>[^_]+)_nohash_")


@dataclass(frozen=True)
class GSCItem:
    """One recording: its path relative to the root (``word/file.wav``), label and speaker."""

    relpath: str
    label: int
    speaker: str


def _speaker_of(relpath: str) -> str:
    m = _SPEAKER_RE.match(os.path.basename(relpath))
    return m.group("speaker") if m else os.path.splitext(os.path.basename(relpath))[0]


def _class_folders(root: str) -> list[str]:
    return sorted(d for d in os.listdir(root)
                  if not d.startswith("_") and not d.startswith(".") and os.path.isdir(os.path.join(root, d)))


def _read_list(root: str, name: str, classes: set[str]) -> set[str]:
    path = os.path.join(root, name)
    if not os.path.exists(path):
        raise ValueError(f"Speech Commands root {root!r}: missing split list {name!r} "
                         "(validation_list.txt and testing_list.txt define the splits)")
    out = set()
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            rel = line.strip().replace("\\", "/")
            if not rel:
                continue
            if "/" not in rel:
                raise ValueError(f"{path}: line {lineno} must be 'word/file.wav', got {rel!r}")
            if rel.split("/", 1)[0] not in classes:
                continue  # a word left out with `words`, or a class not in this copy
            if not os.path.isfile(os.path.join(root, rel)):
                raise ValueError(f"{path}: line {lineno} names {rel!r}, which does not exist under {root!r}")
            out.add(rel)
    return out


def list_gsc(root, words=None) -> tuple[dict[str, list[GSCItem]], list[str]]:
    """The recordings of each split and the class names.

    Parameters
    ----------
    root : path
        Speech Commands folder.
    words : sequence of str, optional
        Classes to keep, in label order. Default: every class folder, sorted by name.

    Returns
    -------
    splits : dict
        ``{"train": [...], "valid": [...], "test": [...]}`` of :class:`GSCItem`, each
        sorted by path.
    class_names : list of str
        Name of each label.

    Raises
    ------
    ValueError
        Root not a folder, no class folders, a requested word without a folder, a split
        list missing or naming a missing file, a file listed in both split lists.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise ValueError(f"Speech Commands root {root!r} is not a folder")
    folders = _class_folders(root)
    if not folders:
        raise ValueError(f"Speech Commands root {root!r} has no class folders (one folder of .wav files per word)")
    if words is None:
        class_names = folders
    else:
        class_names = [str(w) for w in words]
        if not class_names:
            raise ValueError("list_gsc: words must name at least one class, got []")
        missing = [w for w in class_names if w not in folders]
        if missing:
            raise ValueError(f"list_gsc: words {missing} have no folder under {root!r} (folders: {folders})")
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"list_gsc: words has duplicates: {class_names}")
    label_of = {w: i for i, w in enumerate(class_names)}
    listed = {k: _read_list(root, name, set(class_names)) for k, name in _LISTS.items()}
    both = sorted(listed["valid"] & listed["test"])
    if both:
        raise ValueError(f"Speech Commands root {root!r}: {both[0]!r} is in both validation_list.txt "
                         "and testing_list.txt")
    splits: dict[str, list[GSCItem]] = {k: [] for k in GSC_SPLITS}
    for w in class_names:
        for name in sorted(os.listdir(os.path.join(root, w))):
            if not name.lower().endswith(".wav"):
                continue
            rel = f"{w}/{name}"
            split = "valid" if rel in listed["valid"] else "test" if rel in listed["test"] else "train"
            splits[split].append(GSCItem(rel, label_of[w], _speaker_of(rel)))
    for k in GSC_SPLITS:
        splits[k].sort(key=lambda it: it.relpath)
    return splits, class_names


def read_wav(path) -> tuple[np.ndarray, float]:
    """Mono float64 samples (full scale 1.0) and the sample rate of an audio file."""
    import soundfile as sf

    try:
        x, rate = sf.read(os.fspath(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types
        raise ValueError(f"{path}: not a readable audio file ({exc})") from None
    return x.mean(axis=1), float(rate)


def _encode(fe: FrontEnd, path: str, normalize_dbfs: float | None) -> tuple[np.ndarray, np.ndarray]:
    x, rate = read_wav(path)
    if rate != fe.config.sample_rate_hz:
        x = resample(x, rate, fe.config.sample_rate_hz)
    if normalize_dbfs is not None:
        x = normalize_rms(x, normalize_dbfs)
    fe.reset()
    ev = fe.process(x)
    return ev.times_s, ev.channels


def load_gsc(root, split: str, frontend: FrontEndConfig | None = None, words=None, max_per_class: int = 0,
             normalize_dbfs: float | None = -20.0, progress: bool = False,
             speaker_ids: dict[str, int] | None = None) -> SpikeDataset:
    """Read and encode one split of a Speech Commands folder.

    Parameters
    ----------
    root : path
    split : {"train", "valid", "test"}
    frontend : FrontEndConfig, optional
        Front end the audio is encoded with (default ``FrontEndConfig()``).
    words : sequence of str, optional
        Classes to keep (see :func:`list_gsc`).
    max_per_class : int
        Keep the first N recordings (by path) of each class; 0 keeps all.
    normalize_dbfs : float or None
        Scale each recording to this RMS level (dB re full scale) before encoding; None
        keeps the recorded level.
    speaker_ids : dict, optional
        Speaker hash -> integer id; default: the sorted speakers of this split's files.

    Returns
    -------
    SpikeDataset
        ``n_units = frontend.n_channels``; speakers as integer ids.
    """
    if split not in GSC_SPLITS:
        raise ValueError(f"load_gsc: split must be one of {GSC_SPLITS}, got {split!r}")
    if isinstance(max_per_class, bool) or not isinstance(max_per_class, (int, np.integer)) or max_per_class < 0:
        raise ValueError(f"load_gsc: max_per_class must be an integer >= 0, got {max_per_class!r}")
    frontend = FrontEndConfig() if frontend is None else frontend
    if not isinstance(frontend, FrontEndConfig):
        raise ValueError(f"load_gsc: frontend must be a FrontEndConfig, got {type(frontend).__name__}")
    splits, class_names = list_gsc(root, words)
    items = _cap(splits[split], max_per_class)
    if speaker_ids is None:
        speaker_ids = {s: i for i, s in enumerate(sorted({it.speaker for it in items}))}
    fe = FrontEnd(frontend)
    times, units = [], []
    it = items
    if progress:
        from tqdm import tqdm
        it = tqdm(items, unit="file", desc=f"gsc {split}")
    for item in it:
        t, u = _encode(fe, os.path.join(os.fspath(root), item.relpath), normalize_dbfs)
        times.append(t)
        units.append(u)
    return SpikeDataset(times, units, np.array([i.label for i in items], dtype=np.int64),
                        np.array([speaker_ids[i.speaker] for i in items], dtype=np.int64),
                        frontend.n_channels, class_names)


def _cap(items: list[GSCItem], max_per_class: int) -> list[GSCItem]:
    if not max_per_class:
        return list(items)
    seen: dict[int, int] = {}
    out = []
    for it in items:
        if seen.get(it.label, 0) < max_per_class:
            out.append(it)
            seen[it.label] = seen.get(it.label, 0) + 1
    return out


def load_gsc_splits(root, frontend: FrontEndConfig | None = None, words=None, max_per_class: int = 0,
                    normalize_dbfs: float | None = -20.0, progress: bool = False) -> dict[str, SpikeDataset]:
    """All three splits, with speaker ids shared across them (sorted speaker hashes)."""
    splits, _ = list_gsc(root, words)
    speakers = sorted({it.speaker for k in GSC_SPLITS for it in splits[k]})
    ids = {s: i for i, s in enumerate(speakers)}
    return {k: load_gsc(root, k, frontend, words, max_per_class, normalize_dbfs, progress, ids)
            for k in GSC_SPLITS}


def write_gsc(root, out_dir, frontend: FrontEndConfig | None = None, words=None, max_per_class: int = 0,
              normalize_dbfs: float | None = -20.0, progress: bool = True) -> dict:
    """Encode a Speech Commands folder to ``gsc_{train,valid,test}.h5`` (SHD layout) and
    ``dataset.json`` in ``out_dir``; returns the ``dataset.json`` content."""
    frontend = FrontEndConfig() if frontend is None else frontend
    t0 = time.perf_counter()
    sets = load_gsc_splits(root, frontend, words, max_per_class, normalize_dbfs, progress)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    class_names = sets["train"].class_names
    info = {"kind": "google speech commands", "source": os.path.abspath(os.fspath(root)),
            "class_names": class_names, "n_units": frontend.n_channels, "frontend": frontend.to_dict(),
            "normalize_dbfs": normalize_dbfs, "max_per_class": max_per_class, "splits": {}, "files": {}}
    for k, ds in sets.items():
        name = f"gsc_{k}.h5"
        write_shd(os.path.join(out_dir, name), ds, attrs={
            "kind": "google speech commands", "split": k, "frontend": frontend.to_dict(),
            "normalize_dbfs": normalize_dbfs})
        info["files"][k] = name
        info["splits"][k] = {"n_utterances": len(ds), "n_speakers": int(len(np.unique(ds.speakers))),
                             "class_counts": np.bincount(ds.labels, minlength=len(class_names)).tolist()}
    info["elapsed_s"] = round(time.perf_counter() - t0, 3)
    with open(os.path.join(out_dir, "dataset.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    return info
