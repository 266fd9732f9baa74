"""Accuracy of a model file on a spike data set, engine by engine.

The decision rule is the training one (``training.losses.class_scores``), computed in
numpy on the readout potential sampled once per training step: for step ``n`` of length
``dt`` the exact engine's readout is read just before ``start + (n + 1) dt``, i.e. after
every arrival that the discrete model bins into step ``n``. The grid engine gives
``V[n]`` directly (:func:`grid_readouts`), with the model file's whole-step delays. So the comparison "training vs grid (rounded delays) vs exact
(continuous delays)" uses one rule and one set of samples.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

RULES = ("mean_softmax", "per_step", "max")


def class_scores(readout: np.ndarray, rule: str = "mean_softmax") -> np.ndarray:
    """Per-class scores of one sample from its readout potentials ``(steps, classes)``.

    ``mean_softmax``: mean over steps of ``softmax(V[n])``; ``per_step``: mean of
    ``log_softmax(V[n])``; ``max``: ``max_n V[n]``. The prediction is the argmax.
    """
    v = np.asarray(readout, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError(f"readout must be (steps >= 1, classes), got shape {v.shape}")
    if rule == "max":
        return v.max(0)
    z = v - v.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    if rule == "mean_softmax":
        return np.exp(logp).mean(0)
    if rule == "per_step":
        return logp.mean(0)
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


@dataclass(frozen=True)
class ReadoutProtocol:
    """How a sample becomes readout potentials: the training grid and the decision rule."""

    dt_s: float
    n_steps: int
    start_s: float = 0.0
    rule: str = "mean_softmax"

    def __post_init__(self):
        if not (np.isfinite(self.dt_s) and self.dt_s > 0):
            raise ValueError(f"dt_s must be a finite number > 0, got {self.dt_s!r}")
        if not isinstance(self.n_steps, (int, np.integer)) or self.n_steps < 1:
            raise ValueError(f"n_steps must be an integer >= 1, got {self.n_steps!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")

    @property
    def duration_s(self) -> float:
        return self.n_steps * self.dt_s

    def sample_times_s(self) -> np.ndarray:
        """Just before the end of each step, relative to ``start_s``."""
        ends = (np.arange(self.n_steps) + 1) * self.dt_s
        return np.nextafter(ends, -np.inf)

    @classmethod
    def from_metadata(cls, metadata: dict, path: str = "model") -> "ReadoutProtocol":
        tr = metadata.get("training")
        if not isinstance(tr, dict):
            raise ValueError(f"{path}: metadata has no 'training' section (dt_s, n_steps, decision rule); "
                             "was this model exported from a training checkpoint?")
        missing = [k for k in ("dt_s", "n_steps") if k not in tr]
        if missing:
            raise ValueError(f"{path}: metadata['training'] lacks {missing}")
        return cls(float(tr["dt_s"]), int(tr["n_steps"]), float(tr.get("start_s", 0.0)),
                   str(tr.get("decision_rule", tr.get("loss", "mean_softmax"))))


def exact_readouts(network, samples, protocol: ReadoutProtocol, progress=None):
    """Readout potentials ``(steps, classes)`` per sample from the exact engine, plus the
    total spike count per layer. ``samples`` yields :class:`sim.Events` (times relative to
    the sample's start, i.e. ``start_s`` already subtracted)."""
    from sim.exact import ExactSimulator

    if network.readout is None:
        raise ValueError("the network has no readout layer: nothing to classify with")
    sim = ExactSimulator(network, record_spikes=False)
    times = protocol.sample_times_s()
    spikes = {l.name: 0 for l in network.layers}
    out = []
    for ev in samples:
        sim.reset()
        ev = ev.window(0.0, protocol.duration_s)
        chunk = sim.run(protocol.duration_s, events=ev if len(ev) else None, sample_times_s=times)
        out.append(chunk.readout)
        for name, c in sim.counts().spikes.items():
            spikes[name] += int(c.sum())
        if progress is not None:
            progress(1)
    return out, spikes


def grid_readouts(network, samples, protocol: ReadoutProtocol, progress=None):
    """Readout potentials ``V[n]`` ``(steps, classes)`` per sample from the grid engine at the
    training ``dt_s`` (delays: the model file's ``delay_steps``), plus the total spike count
    per layer. ``samples`` as for :func:`exact_readouts`."""
    from sim.grid import GridSimulator

    if network.readout is None:
        raise ValueError("the network has no readout layer: nothing to classify with")
    sim = GridSimulator(network, protocol.dt_s, record_spikes=False)
    spikes = {l.name: 0 for l in network.layers}
    out = []
    for ev in samples:
        sim.reset()
        chunk = sim.run_steps(protocol.n_steps, events=ev if len(ev) else None)
        out.append(chunk.readout)
        for name, c in sim.counts().spikes.items():
            spikes[name] += int(c.sum())
        if progress is not None:
            progress(1)
    return out, spikes


def accuracy_report(labels, readouts, protocol: ReadoutProtocol) -> dict:
    labels = np.asarray(labels, dtype=np.int64)
    pred = np.array([int(np.argmax(class_scores(r, protocol.rule))) for r in readouts], dtype=np.int64)
    return {"accuracy": float(np.mean(pred == labels)) if labels.size else float("nan"),
            "n_samples": int(labels.size), "predictions": pred.tolist()}


def evaluate_exact(network, dataset, protocol: ReadoutProtocol, max_samples: int | None = None,
                   progress: bool = True) -> dict:
    """Accuracy and hidden firing rates of the exact engine on a ``SpikeDataset``."""
    return _evaluate_engine(exact_readouts, "exact engine", network, dataset, protocol, max_samples, progress)


def evaluate_grid(network, dataset, protocol: ReadoutProtocol, max_samples: int | None = None,
                  progress: bool = True) -> dict:
    """Accuracy and hidden firing rates of the grid engine (rounded delays) on a ``SpikeDataset``."""
    return _evaluate_engine(grid_readouts, "grid engine", network, dataset, protocol, max_samples, progress)


def _evaluate_engine(readouts_fn, label, network, dataset, protocol, max_samples, progress) -> dict:
    from tqdm import tqdm

    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))

    def samples():
        for i in range(n):
            ev = dataset.events(i).window(protocol.start_s, protocol.start_s + protocol.duration_s)
            yield ev.shifted(-protocol.start_s)

    t0 = time.perf_counter()
    with tqdm(total=n, desc=label, unit="sample", disable=not progress) as bar:
        readouts, spikes = readouts_fn(network, samples(), protocol, progress=bar.update)
    wall = time.perf_counter() - t0
    rep = accuracy_report(np.asarray(dataset.labels[:n]), readouts, protocol)
    sizes = {l.name: l.size for l in network.layers}
    rep["layer_rate_hz"] = {k: v / (n * protocol.duration_s * sizes[k]) for k, v in spikes.items()}
    rep["wall_s"] = wall
    return rep


def evaluate_torch(checkpoint, dataset, protocol: ReadoutProtocol, max_samples: int | None = None,
                   dtype: str = "float64", batch_size: int = 64, progress: bool = True) -> dict:
    """The training forward pass (rounded delays, eval mode) of ``checkpoint`` on the same
    samples, in ``dtype`` (float64 by default: the precision the grid engine reproduces).

    Binning is training's (``training.binning.bin_dataset`` with the protocol's grid), and the
    decision rule is :func:`class_scores` on the readout potentials, as for the engines.
    """
    import torch
    from tqdm import tqdm

    from bridge.export import load_trained_model
    from training.binning import bin_dataset

    model, _ = load_trained_model(checkpoint, dtype=dtype)
    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))
    ds = dataset.subset(np.arange(n)) if n < len(dataset) else dataset
    t0 = time.perf_counter()
    x = bin_dataset(ds, protocol.dt_s, protocol.n_steps, protocol.start_s, dtype=np.float32)
    readouts = []
    spikes = {name: 0 for name in model.layer_names()[:-1]}
    with torch.no_grad(), tqdm(total=n, desc=f"torch {dtype}", unit="sample", disable=not progress) as bar:
        for i in range(0, n, batch_size):
            r = model(torch.from_numpy(x[i:i + batch_size]).to(model.dtype))
            readouts.extend(list(r["out"].double().numpy()))
            for name, s in zip(spikes, r["spikes"]):
                spikes[name] += int(s.sum())
            bar.update(min(batch_size, n - i))
    wall = time.perf_counter() - t0
    rep = accuracy_report(np.asarray(ds.labels[:n]), readouts, protocol)
    sizes = dict(zip(model.layer_names()[:-1], model.cfg.hidden))
    rep["layer_rate_hz"] = {k: v / (n * protocol.duration_s * sizes[k]) for k, v in spikes.items()}
    rep["wall_s"] = wall
    return rep
