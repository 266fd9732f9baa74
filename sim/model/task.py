"""The task a trained network was trained for: one typed, validated record, and its decision rule.

:class:`Task` holds the facts every consumer needs to use a network the way it was
trained - the grid step ``dt_s``, the sample window (``n_steps`` from ``start_s``), the
decision rule, the class names, the delay rounding and the audio front end. It lives on
:attr:`sim.Network.task`; ``sim.model.io`` stores it (model format 2) and reads it back from
format-1 files' free-form metadata; ``bridge.export`` fills it. :func:`class_scores` is
the one numpy implementation of the decision rules (the torch twin is
``training.losses.class_scores``), used by ``axon stream``, ``axon classify`` and
``axon evaluate``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import InputError

if TYPE_CHECKING:  # sim.model.network imports this module
    from sim.audio.frontend import FrontEndConfig
    from sim.model.network import Network

__all__ = ["Task", "DECISION_RULES", "DELAY_ROUNDINGS", "class_scores", "frame_scores", "task_from_metadata",
           "frontend_config_of", "training_step_of", "decision_rule_of"]

#: ``mean_softmax``: mean over samples of softmax(V); ``per_step``: mean of log_softmax(V);
#: ``max``: the largest V of each class. The prediction is the argmax of the scores.
DECISION_RULES = ("mean_softmax", "per_step", "max")
DELAY_ROUNDINGS = ("round_half_up",)


def _number(name: str, v, *, integer: bool = False):
    ok = isinstance(v, (int, np.integer)) if integer else isinstance(v, (int, float, np.integer, np.floating))
    if isinstance(v, bool) or not ok or not math.isfinite(float(v)):
        kind = "an integer" if integer else "a finite number"
        raise InputError(f"Task.{name} must be {kind}, got {v!r}")
    return int(v) if integer else float(v)


@dataclass(frozen=True)
class Task:
    """How a network is used: grid, sample window, decision rule, classes, front end.

    Parameters
    ----------
    dt_s : float
        Training step, s (> 0): readout sampling and detector frame of ``stream`` and
        ``classify`` by default, the grid of the grid engine.
    n_steps : int, optional
        Steps per training sample (the sample is ``[start_s, start_s + n_steps * dt_s)``).
    start_s : float
        Where the sample window starts, s (>= 0).
    decision_rule : str
        One of :data:`DECISION_RULES` (see :func:`class_scores`).
    class_names : tuple of str, optional
        One name per readout neuron.
    delay_rounding : str
        How training turned a delay in seconds into whole steps (:data:`DELAY_ROUNDINGS`).
    frontend : sim.audio.frontend.FrontEndConfig, optional
        The audio front end whose events the network was trained on.
    """

    dt_s: float
    n_steps: int | None = None
    start_s: float = 0.0
    decision_rule: str = "mean_softmax"
    class_names: tuple | None = None
    delay_rounding: str = "round_half_up"
    frontend: object = None

    def __post_init__(self):
        dt = _number("dt_s", self.dt_s)
        if dt <= 0:
            raise InputError(f"Task.dt_s must be > 0, got {dt!r}")
        object.__setattr__(self, "dt_s", dt)
        if self.n_steps is not None:
            n = _number("n_steps", self.n_steps, integer=True)
            if n < 1:
                raise InputError(f"Task.n_steps must be >= 1, got {n!r}")
            object.__setattr__(self, "n_steps", n)
        s = _number("start_s", self.start_s)
        if s < 0:
            raise InputError(f"Task.start_s must be >= 0, got {s!r}")
        object.__setattr__(self, "start_s", s)
        if self.decision_rule not in DECISION_RULES:
            raise InputError(f"Task.decision_rule must be one of {DECISION_RULES}, got {self.decision_rule!r}")
        if self.delay_rounding not in DELAY_ROUNDINGS:
            raise InputError(f"Task.delay_rounding must be one of {DELAY_ROUNDINGS}, got {self.delay_rounding!r}")
        if self.class_names is not None:
            if isinstance(self.class_names, str) or not all(isinstance(c, str) for c in self.class_names):
                raise InputError(f"Task.class_names must be a list of strings, got {self.class_names!r}")
            names = tuple(self.class_names)
            if len(set(names)) != len(names):
                raise InputError(f"Task.class_names must be distinct, got {list(names)!r}")
            object.__setattr__(self, "class_names", names)
        if self.frontend is not None:
            from sim.audio.frontend import FrontEndConfig
            if isinstance(self.frontend, dict):
                try:
                    object.__setattr__(self, "frontend", FrontEndConfig.from_dict(self.frontend))
                except (TypeError, ValueError) as e:
                    raise InputError(f"Task.frontend: {e}") from None
            elif not isinstance(self.frontend, FrontEndConfig):
                raise InputError(f"Task.frontend must be a FrontEndConfig or dict, got {type(self.frontend).__name__}")

    @property
    def window_s(self) -> float | None:
        """Length of a training sample, s (``n_steps * dt_s``), or None."""
        return None if self.n_steps is None else self.n_steps * self.dt_s

    def check_network(self, n_inputs: int, n_classes: int, where: str = "network") -> None:
        """Raise :class:`InputError` if the class names or front end do not fit the network."""
        if self.class_names is not None and n_classes and len(self.class_names) != n_classes:
            raise InputError(f"{where}: task has {len(self.class_names)} class names but the readout has "
                             f"{n_classes} neurons")
        if self.frontend is not None and self.frontend.n_channels != n_inputs:
            raise InputError(f"{where}: the task's front end makes {self.frontend.n_channels} channels but the "
                             f"network has {n_inputs} inputs")

    def to_dict(self) -> dict:
        return {"dt_s": self.dt_s, "n_steps": self.n_steps, "start_s": self.start_s,
                "decision_rule": self.decision_rule,
                "class_names": None if self.class_names is None else list(self.class_names),
                "delay_rounding": self.delay_rounding,
                "frontend": None if self.frontend is None else self.frontend.to_dict()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "task") -> "Task":
        if not isinstance(d, dict):
            raise InputError(f"{where}: must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - {"dt_s", "n_steps", "start_s", "decision_rule", "class_names",
                                   "delay_rounding", "frontend"})
        if unknown:
            raise InputError(f"{where}: unknown field(s) {unknown}")
        if "dt_s" not in d:
            raise InputError(f"{where}: missing field 'dt_s'")
        kw = {k: v for k, v in d.items() if v is not None}
        try:
            return cls(**kw)
        except InputError as e:
            raise InputError(f"{where}: {e}") from None


def task_from_metadata(metadata: dict) -> Task | None:
    """The task recorded in a format-1 model's free-form metadata, or None if it has no dt.

    Format-1 files wrote it in two places: ``metadata['training']`` (``axon export``:
    ``dt_s``, ``n_steps``, ``start_s``, ``decision_rule``, ``class_names``,
    ``delay_rounding``) and top-level keys (``dt_s``, ``class_names``, ``window_s``); the
    front end is ``metadata['frontend']``. The training section wins where both exist.
    """
    if not isinstance(metadata, dict):
        return None
    tr = metadata.get("training") if isinstance(metadata.get("training"), dict) else {}
    top = metadata

    def pick(key):
        v = tr.get(key)
        return v if v is not None else top.get(key)

    dt = pick("dt_s")
    if dt is None:
        return None
    n_steps = pick("n_steps")
    if n_steps is None and top.get("window_s") is not None:
        n_steps = int(round(float(top["window_s"]) / float(dt)))
    rule = pick("decision_rule") or tr.get("loss") or "mean_softmax"
    return Task(dt_s=dt, n_steps=n_steps, start_s=pick("start_s") or 0.0, decision_rule=rule,
                class_names=pick("class_names"), delay_rounding=pick("delay_rounding") or "round_half_up",
                frontend=metadata.get("frontend"))


def _log_softmax(v: np.ndarray) -> np.ndarray:
    z = v - v.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def frame_scores(readout: np.ndarray, rule: str) -> np.ndarray:
    """Per-sample contributions ``(samples, classes)`` that :func:`class_scores` reduces:
    softmax(V) for ``mean_softmax``, log_softmax(V) for ``per_step``, V for ``max``."""
    v = np.asarray(readout, dtype=np.float64)
    if rule == "max":
        return v
    if rule == "mean_softmax":
        return np.exp(_log_softmax(v)) if v.size else v
    if rule == "per_step":
        return _log_softmax(v) if v.size else v
    raise InputError(f"decision rule must be one of {DECISION_RULES}, got {rule!r}")


def class_scores(readout: np.ndarray, rule: str = "mean_softmax") -> np.ndarray:
    """Per-class scores of one sample from its readout potentials ``(samples, classes)``.

    ``mean_softmax``: ``mean_n softmax(V[n])``; ``per_step``: ``mean_n log_softmax(V[n])``;
    ``max``: ``max_n V[n]`` (training.losses.class_scores, in numpy, float64). The
    prediction is ``argmax`` (lowest index on ties).
    """
    v = np.asarray(readout, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise InputError(f"readout must be (samples >= 1, classes >= 1), got shape {v.shape}")
    f = frame_scores(v, rule)
    return f.max(0) if rule == "max" else f.mean(0)


# ---------------------------------------------------------------- what a network's task says


def frontend_config_of(network: Network) -> FrontEndConfig:
    """The front end a model expects (``network.task.frontend``), checked against its inputs."""
    fe = network.task.frontend if network.task is not None else None
    if fe is None:
        raise InputError("the model file has no front-end settings (task.frontend); it was not exported "
                         "from training on audio, so axon cannot know how to turn sound into its input events")
    if fe.n_channels != network.n_inputs:
        raise InputError(f"the model's front end produces {fe.n_channels} channels but the network has "
                         f"{network.n_inputs} inputs")
    return fe


def training_step_of(network: Network) -> float:
    """The model's training step (``network.task.dt_s``): default frame of stream and classify."""
    if network.task is None:
        raise InputError("the model records no training step (task.dt_s): pass --frame (readout sampling, s)")
    return network.task.dt_s


def decision_rule_of(network: Network) -> str:
    """The model's decision rule (``network.task.decision_rule``, else ``mean_softmax``)."""
    return network.task.decision_rule if network.task is not None else "mean_softmax"
