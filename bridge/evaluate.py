"""Accuracy of a model file on a spike data set, engine by engine.

The decision rule is the training one (``training.losses.class_scores``), computed in
numpy on the readout potential sampled once per training step: for step ``n`` of length
``dt`` the exact engine's readout is read just before ``start + (n + 1) dt``, i.e. after
every arrival that the discrete model bins into step ``n``. The grid engine gives
``V[n]`` directly (:func:`grid_readouts`), with the model file's whole-step delays. So the comparison "training vs grid (rounded delays) vs exact
(continuous delays)" uses one rule and one set of samples.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from dataclasses import dataclass

import numpy as np

from sim.errors import InputError

from sim.model.task import DECISION_RULES as RULES, class_scores  # the one numpy decision rule


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
    def from_task(cls, task, path: str = "model") -> "ReadoutProtocol":
        """The protocol of a network's :class:`sim.model.task.Task` (``network.task``)."""
        if task is None:
            raise InputError(f"{path}: records no task (dt_s, n_steps, decision rule); was this model exported "
                             "from a training checkpoint?")
        if task.n_steps is None:
            raise InputError(f"{path}: the task records no n_steps (the training sample length)")
        return cls(task.dt_s, task.n_steps, task.start_s, task.decision_rule)

    @classmethod
    def from_network(cls, network, path: str = "model") -> "ReadoutProtocol":
        return cls.from_task(network.task, path)

    @classmethod
    def from_metadata(cls, metadata: dict, path: str = "model") -> "ReadoutProtocol":
        """From a format-1 metadata dict (:func:`sim.model.task.task_from_metadata`)."""
        from sim.model.task import task_from_metadata
        return cls.from_task(task_from_metadata(metadata), path)


def check_frontend(path, ds, net) -> None:
    """A data file written by ``axon data`` names the front end that encoded it; if the model
    names one too (exported from training on such files), they must be the same, or the
    accuracy would be that of another encoding (e.g. ``noise_margin_db`` 8 vs 4)."""
    from sim.audio.frontend import frontend_differences

    model_fe = getattr(net.task, "frontend", None) if net.task is not None else None
    diff = frontend_differences((getattr(ds, "attrs", {}) or {}).get("frontend"),
                                None if model_fe is None else model_fe.to_dict(), "model")
    if diff:
        raise ValueError(f"{path}: encoded with other front-end settings than the model's: {diff}")


def exact_readouts(network, samples, protocol: ReadoutProtocol, progress=None):
    """Readout potentials ``(steps, classes)`` per sample from the exact engine, plus the
    total spike count per layer. ``samples`` yields :class:`sim.Events` (times relative to
    the sample's start, i.e. ``start_s`` already subtracted)."""
    from sim.engines.exact import ExactSimulator

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
    from sim.engines.grid import GridSimulator

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
    with tqdm(total=n, desc=label, unit="sample", disable=not progress or not sys.stderr.isatty()) as bar:
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
    with torch.no_grad(), tqdm(total=n, desc=f"torch {dtype}", unit="sample", disable=not progress or not sys.stderr.isatty()) as bar:
        for i in range(0, n, batch_size):
            r = model(torch.from_numpy(x[i:i + batch_size]).to(model.dtype))
            readouts.extend(list(r["out"].double().numpy()))
            for name, s in zip(spikes, r["spikes"]):
                spikes[name] += int(s.sum())
            bar.update(min(batch_size, n - i))
    wall = time.perf_counter() - t0
    rep = accuracy_report(np.asarray(ds.labels[:n]), readouts, protocol)
    sizes = dict(zip(model.layer_names()[:-1], model.layer_sizes))
    rep["layer_rate_hz"] = {k: v / (n * protocol.duration_s * sizes[k]) for k, v in spikes.items()}
    rep["wall_s"] = wall
    return rep


def evaluate_jobs(network, data_path, dataset, protocol: ReadoutProtocol, engine: str, backend,
                  max_samples: int | None = None, progress: bool = True, chunk: int | None = None) -> dict:
    """:func:`evaluate_exact` / :func:`evaluate_grid` over ``bridge.parallel``: the data set in
    chunks of samples, each chunk a job (``data_path`` is read by the workers). Every sample
    starts from rest, so the result is the serial one whatever the chunking."""
    from bridge.batch import chunks, evaluate_chunk, warm_evaluate
    from bridge.parallel import ProgressLine, run_jobs
    from sim.errors import InputError

    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))
    workers = 4 if backend.dask else backend.workers
    size = chunk or max(1, min(64, -(-n // (4 * workers))))
    spans = chunks(n, size)
    ctx = {"network": network, "protocol": protocol, "engine": engine, "data": str(Path(data_path).resolve())}
    t0 = time.perf_counter()
    outs = run_jobs(evaluate_chunk, ctx, spans, [f"{engine} samples {a}..{b - 1}" for a, b in spans], backend,
                    warm=warm_evaluate, progress=ProgressLine("chunks", not progress, "axon evaluate"))
    wall = time.perf_counter() - t0
    bad = [o for o in outs if not o.ok]
    if bad:
        raise InputError(f"{len(bad)} of {len(outs)} chunks failed, first: {bad[0].label}: {bad[0].error}")
    readouts = [r for o in outs for r in o.value["readouts"]]
    spikes = {l.name: 0 for l in network.layers}
    for o in outs:
        for k, v in o.value["spikes"].items():
            spikes[k] += int(v)
    rep = accuracy_report(np.asarray(dataset.labels[:n]), readouts, protocol)
    sizes = {l.name: l.size for l in network.layers}
    rep["layer_rate_hz"] = {k: v / (n * protocol.duration_s * sizes[k]) for k, v in spikes.items()}
    rep["wall_s"] = wall
    rep["backend"] = backend.describe()
    return rep
