"""Training configuration: TOML -> frozen, validated dataclasses.

A config file has three tables, ``[data]``, ``[model]`` and ``[train]``. Every key is
checked: an unknown key, a wrong type or a bad value raises ``ValueError`` naming the key
(``model.hidden``), so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DataConfig", "ModelConfig", "TrainConfig", "Config", "load_config", "config_from_dict",
           "apply_overrides", "dump_toml"]


def _is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _check(section: str, name: str, value, ok: bool, what: str):
    if not ok:
        raise ValueError(f"config: {section}.{name} must be {what}, got {value!r}")


def _f(default, kind: str, *, lo=None, hi=None, lo_open=False, hi_open=False, choices=None, optional=False):
    """Field with a validation spec in its metadata."""
    spec = dict(kind=kind, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, choices=choices, optional=optional)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=spec)
    return field(default=default, metadata=spec)


def _validate_value(section: str, name: str, value, spec):
    kind = spec["kind"]
    if value is None:
        _check(section, name, value, spec["optional"], f"a {kind}")
        return None
    if kind == "int":
        _check(section, name, value, _is_int(value), "an integer")
    elif kind == "float":
        _check(section, name, value, _is_num(value), "a number")
        value = float(value)
    elif kind == "bool":
        _check(section, name, value, isinstance(value, bool), "true or false")
    elif kind == "str":
        _check(section, name, value, isinstance(value, str), "a string")
    elif kind == "intlist":
        _check(section, name, value, isinstance(value, list) and len(value) > 0 and all(_is_int(v) for v in value),
               "a non-empty list of integers")
        for v in value:
            _check(section, name, value, v > 0, "a list of positive integers")
        return list(value)
    elif kind == "strlist":
        _check(section, name, value, isinstance(value, list) and all(isinstance(v, str) and v for v in value),
               "a list of non-empty strings")
        return list(value)
    elif kind == "floatlist":
        if _is_num(value):
            value = [float(value)]
        _check(section, name, value, isinstance(value, list) and len(value) > 0 and all(_is_num(v) for v in value),
               "a number or a non-empty list of numbers")
        value = [float(v) for v in value]
    else:  # pragma: no cover
        raise AssertionError(kind)
    if spec["choices"] is not None:
        _check(section, name, value, value in spec["choices"], f"one of {list(spec['choices'])}")
    vals = value if isinstance(value, list) else [value]
    for v in vals:
        if spec["lo"] is not None:
            ok = v > spec["lo"] if spec["lo_open"] else v >= spec["lo"]
            _check(section, name, value, ok, f"{'>' if spec['lo_open'] else '>='} {spec['lo']}")
        if spec["hi"] is not None:
            ok = v < spec["hi"] if spec["hi_open"] else v <= spec["hi"]
            _check(section, name, value, ok, f"{'<' if spec['hi_open'] else '<='} {spec['hi']}")
    return value


class _Section:
    _section = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = _validate_value(self._section, f.name, getattr(self, f.name), f.metadata)
            object.__setattr__(self, f.name, v)

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d, dict):
            raise ValueError(f"config: [{cls._section}] must be a table, got {d!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        for k in d:
            if k not in known:
                raise ValueError(f"config: unknown key {cls._section}.{k} (known keys: {', '.join(sorted(known))})")
        return cls(**d)


@dataclass(frozen=True)
class DataConfig(_Section):
    """``[data]``: where the spikes come from and how they are put on the grid.

    ``kind = "shd"`` reads SHD-format HDF5 files (``train``, ``valid``, ``test``; relative
    paths are taken from the current directory). ``kind = "toy"`` generates a small seeded
    in-memory task (for tests and smoke runs).
    """

    _section = "data"
    kind: str = _f("shd", "str", choices=("shd", "toy"))
    train: str | None = _f(None, "str", optional=True)
    valid: str | None = _f(None, "str", optional=True)
    test: str | None = _f(None, "str", optional=True)
    # The clean twins of the training utterances (``axon data synth --clean-twins`` writes
    # synth_train_twin.h5), for train.consistency: same order, labels and speakers as train.
    train_twin: str | None = _f(None, "str", optional=True)
    dt_s: float = _f(0.01, "float", lo=0, lo_open=True)
    n_steps: int = _f(100, "int", lo=1)
    start_s: float = _f(0.0, "float", lo=0)
    max_train: int = _f(0, "int", lo=0)  # 0 = all samples
    max_valid: int = _f(0, "int", lo=0)
    max_test: int = _f(0, "int", lo=0)
    toy_units: int = _f(16, "int", lo=1)
    toy_classes: int = _f(3, "int", lo=2)
    toy_samples: int = _f(48, "int", lo=3)

    def __post_init__(self):
        super().__post_init__()
        if self.kind == "shd":
            for k in ("train", "valid", "test"):
                if getattr(self, k) is None:
                    raise ValueError(f"config: data.{k} is required when data.kind = 'shd'")


@dataclass(frozen=True)
class ModelConfig(_Section):
    """``[model]``: network shape and neuron parameters (SI units).

    Convolutional layers: the first ``conv_layers`` hidden layers convolve over the
    frequency positions (the input channels are the frequency bands); for them ``hidden``
    gives the channels per position, and the layer has ``channels * positions`` neurons.
    ``conv_kernel``, ``conv_stride`` and ``conv_dilation`` take one value for all conv
    layers or one per conv layer. Lateral connections of a conv layer act within each
    position's channels (``Omega = lateral_scale * W W^T`` over their kernels).

    ``lateral_diagonal``: ``"keep"`` (default) keeps the diagonal ``lateral_scale *
    ||w_i||^2``, so a neuron that fires is lowered by its reset *and* by that self term;
    ``"replace_reset"`` (subtract reset only) uses ``Omega = lateral_scale * W W^T -
    threshold * I``, so that reset and self term together lower it by exactly
    ``lateral_scale * ||w_i||^2`` (Denève's networks, where the diagonal is the reset; s2net).
    """

    _section = "model"
    hidden: list = _f([128], "intlist")
    conv_layers: int = _f(0, "int", lo=0)
    conv_kernel: list = _f([5], "intlist")
    conv_stride: list = _f([1], "intlist")
    conv_dilation: list = _f([1], "intlist")
    conv_input_channels: int = _f(1, "int", lo=1)
    tau_mem_s: list = _f([0.02], "floatlist", lo=0, lo_open=True)  # one value, or one per hidden layer
    tau_readout_s: float = _f(0.02, "float", lo=0, lo_open=True)
    threshold: float = _f(1.0, "float", lo=0, lo_open=True)
    reset: str = _f("subtract", "str", choices=("zero", "subtract"))
    surrogate: str = _f("fast_sigmoid", "str", choices=("fast_sigmoid", "arctan", "leaky_approx"))
    surrogate_slope: float = _f(5.0, "float", lo=0, lo_open=True)
    delays: str = _f("learned", "str", choices=("none", "fixed", "learned"))
    max_delay_steps: int = _f(20, "int", lo=0)
    min_delay_steps: int = _f(0, "int", lo=0)  # >= 1 for networks that Brian2 and NEST must run
    readout_delays: bool = _f(False, "bool")
    batch_norm: bool = _f(True, "bool")
    dropout: float = _f(0.0, "float", lo=0, hi=1, hi_open=True)
    lateral: bool = _f(False, "bool")
    lateral_scale: float = _f(1.0, "float", lo=0)
    lateral_diagonal: str = _f("keep", "str", choices=("keep", "replace_reset"))
    learn_drive: bool = _f(False, "bool")
    weight_scale: float = _f(1.0, "float", lo=0, lo_open=True)
    # Feedback: the last hidden layer also receives its own spikes of the previous step
    # (a hidden->hidden projection with a one-step delay); trained by train.method = "spide".
    recurrent: bool = _f(False, "bool")
    dtype: str = _f("float32", "str", choices=("float32", "float64"))

    def __post_init__(self):
        super().__post_init__()
        if len(self.tau_mem_s) not in (1, len(self.hidden)):
            raise ValueError(f"config: model.tau_mem_s must have 1 or {len(self.hidden)} values "
                             f"(one per hidden layer), got {self.tau_mem_s!r}")
        if self.min_delay_steps > self.max_delay_steps:
            raise ValueError(f"config: model.min_delay_steps must be <= model.max_delay_steps "
                             f"({self.max_delay_steps}), got {self.min_delay_steps!r}")
        if self.min_delay_steps and self.delays == "none":
            raise ValueError("config: model.min_delay_steps > 0 needs delays (model.delays = 'fixed' or 'learned')")
        if self.conv_layers > len(self.hidden):
            raise ValueError(f"config: model.conv_layers must be <= the number of hidden layers "
                             f"({len(self.hidden)}), got {self.conv_layers!r}")
        for k in ("conv_kernel", "conv_stride", "conv_dilation"):
            v = getattr(self, k)
            if len(v) != 1 and len(v) != self.conv_layers:
                raise ValueError(f"config: model.{k} must have 1 or {self.conv_layers} values "
                                 f"(one per conv layer), got {v!r}")
        if self.lateral_diagonal == "replace_reset" and self.reset != "subtract":
            raise ValueError("config: model.lateral_diagonal = 'replace_reset' needs model.reset = 'subtract' "
                             f"(the self term replaces a subtracted threshold), got {self.reset!r}")

    def tau_for_layer(self, i: int) -> float:
        return self.tau_mem_s[0] if len(self.tau_mem_s) == 1 else self.tau_mem_s[i]

    def is_conv(self, i: int) -> bool:
        return i < self.conv_layers

    def conv_for_layer(self, i: int) -> tuple[int, int, int]:
        """``(kernel_size, stride, dilation)`` of conv layer ``i``."""
        pick = lambda v: v[0] if len(v) == 1 else v[i]  # noqa: E731
        return pick(self.conv_kernel), pick(self.conv_stride), pick(self.conv_dilation)


@dataclass(frozen=True)
class TrainConfig(_Section):
    """``[train]``: optimisation, schedules, regularisation, seeds."""

    _section = "train"
    epochs: int = _f(10, "int", lo=1)
    batch_size: int = _f(64, "int", lo=1)
    lr: float = _f(1e-3, "float", lo=0, lo_open=True)
    lr_positions: float = _f(0.1, "float", lo=0, lo_open=True)
    weight_decay: float = _f(0.0, "float", lo=0)
    lr_schedule: str = _f("cosine", "str", choices=("cosine", "constant"))
    # Length of the schedules in epochs (unset: train.epochs). The cosine learning rate and the
    # delay-kernel width (sigma) run over the first schedule_epochs epochs; later epochs keep
    # the final width (and, with lr_schedule = "constant", the learning rate). It lets a
    # finished run train on: `axon train CFG --out RUN --resume --set train.epochs=30
    # --set train.schedule_epochs=20` continues a 20-epoch run exactly as a fresh run with
    # epochs = 30 and schedule_epochs = 20 would have gone on.
    schedule_epochs: int | None = _f(None, "int", lo=1, optional=True)
    sigma_init: float | None = _f(None, "float", lo=0, optional=True)  # default max_delay_steps / 2
    sigma_final: float = _f(0.5, "float", lo=0)
    sigma_decay_fraction: float = _f(0.75, "float", lo=0, hi=1, lo_open=True)
    rounded_fraction: float = _f(0.0, "float", lo=0, hi=1, hi_open=True)  # last part trained with rounded delays
    loss: str = _f("mean_softmax", "str", choices=("mean_softmax", "per_step", "max"))
    rate_target_hz: float = _f(10.0, "float", lo=0)
    rate_reg: float = _f(0.0, "float", lo=0)
    grad_clip: float = _f(0.0, "float", lo=0)  # 0 = off
    # Input masking of every training batch (training.masking; 0 = off): per sample,
    # band_masks runs of up to band_mask_width adjacent frequency bands and time_masks runs
    # of up to time_mask_steps steps are zeroed, then each input bin with probability input_drop.
    band_masks: int = _f(0, "int", lo=0)
    band_mask_width: int = _f(0, "int", lo=0)
    time_masks: int = _f(0, "int", lo=0)
    time_mask_steps: int = _f(0, "int", lo=0)
    input_drop: float = _f(0.0, "float", lo=0, hi=1, hi_open=True)
    # Noise consistency (0 = off; needs data.train_twin): the loss adds consistency x the
    # distance between the network's response to each noisy training utterance and its
    # response (no gradient, no dropout, no mask) to the utterance's clean twin. "output":
    # KL divergence of the class distributions (mean softmax over time), clean to noisy;
    # "hidden": the fraction of hidden spikes (step by step) that differ, over all layers.
    consistency: float = _f(0.0, "float", lo=0)
    consistency_target: str = _f("output", "str", choices=("output", "hidden"))
    # Distillation (0 = off; needs teachers): the loss adds distill x KL(teacher || network)
    # of the class distributions (mean softmax over time). A sample's teacher distribution is
    # the mean of the distributions of the trained checkpoints in teachers (best.pt of runs
    # on the same front end, inputs, classes and time grid), computed once, before the first
    # epoch, on the unmasked sample.
    distill: float = _f(0.0, "float", lo=0)
    teachers: list = _f([], "strlist")
    # Weight averaging (0 = off): an exponential moving average of the trained values (and
    # of the batch-norm running statistics), updated after every optimiser step with decay
    # min(ema, (1 + t) / (10 + t)) at step t. With it, validation, best.pt and the final
    # evaluation use the averaged network -- still one network, exported like any other.
    ema: float = _f(0.0, "float", lo=0, hi=1, hi_open=True)
    # The network kept in best.pt, evaluated at the end and exported: the epoch of best
    # validation accuracy, or the last epoch's (with ema, the average at the end of training).
    select: str = _f("best_valid", "str", choices=("best_valid", "last"))
    seed: int = _f(0, "int", lo=0)
    num_threads: int = _f(2, "int", lo=1)
    # How the SNN is trained: "bptt" (surrogate gradients through time), "ann_pretrain"
    # (Lin et al.: train the rate-valued ANN twin for ann_epochs, map it to the SNN, then
    # BPTT for epochs), "spide" (Xiao et al.: training/spide.py).
    method: str = _f("bptt", "str", choices=("bptt", "ann_pretrain", "spide"))
    ann_epochs: int = _f(0, "int", lo=0)  # ann_pretrain only: epochs of the ANN twin
    ann_lr: float | None = _f(None, "float", lo=0, lo_open=True, optional=True)  # ann_pretrain only; default lr
    # spide only: steps of the spiking backward phase, and the threshold of its ternary
    # neurons (0 = automatic: twice the largest |dL/da| of the batch)
    spide_steps_back: int = _f(100, "int", lo=1)
    spide_vth_back: float = _f(0.0, "float", lo=0)
    # spide only: keep the feedback matrix W in a norm ball after every update (projected
    # gradient steps, and once before training): ||W|| <= spide_feedback_max * threshold,
    # the norm "spectral" (largest singular value) or "frobenius" (the SPIDE code's choice,
    # an upper bound of the spectral norm). Below 1 the rate map a -> relu(W a + b) /
    # threshold is a contraction: the equilibrium is unique, the spiking adjoint converges,
    # and a burst of spikes cannot feed itself (see training/spide.py). "none" = unrestricted.
    spide_feedback_norm: str = _f("none", "str", choices=("none", "spectral", "frobenius"))
    spide_feedback_max: float = _f(0.0, "float", lo=0)

    @property
    def schedule_len(self) -> int:
        """Epochs the learning-rate and kernel-width schedules span (``schedule_epochs`` or ``epochs``)."""
        return self.schedule_epochs if self.schedule_epochs is not None else self.epochs


#: ``train.method = "spide"`` trains one feedback layer of (nearly) integrate-and-fire
#: neurons at the equilibrium of its rates; these model keys must have these values.
SPIDE_REQUIRES = {"conv_layers": 0, "delays": "none", "batch_norm": False, "dropout": 0.0, "lateral": False,
                  "reset": "subtract", "recurrent": True, "readout_delays": False, "learn_drive": False}


@dataclass(frozen=True)
class Config:
    data: DataConfig
    model: ModelConfig
    train: TrainConfig

    def __post_init__(self):
        t, m = self.train, self.model
        if t.method == "spide":
            if len(m.hidden) != 1:
                raise ValueError(f"config: train.method = 'spide' trains one feedback layer: model.hidden must have "
                                 f"one entry, got {m.hidden!r}")
            for k, want in SPIDE_REQUIRES.items():
                if getattr(m, k) != want:
                    raise ValueError(f"config: train.method = 'spide' needs model.{k} = {want!r}, got "
                                     f"{getattr(m, k)!r}")
            if t.rate_reg or t.rounded_fraction:
                raise ValueError("config: train.method = 'spide' does not use train.rate_reg or "
                                 "train.rounded_fraction (set them to 0)")
        elif m.recurrent:
            raise ValueError(f"config: model.recurrent = true is trained by train.method = 'spide' only (BPTT "
                             f"through the feedback loop is not implemented), but train.method = {t.method!r}")
        if t.method != "spide" and (t.spide_vth_back or t.spide_steps_back != 100 or t.spide_feedback_norm != "none"
                                    or t.spide_feedback_max):
            raise ValueError(f"config: train.spide_steps_back / train.spide_vth_back / train.spide_feedback_norm / "
                             f"train.spide_feedback_max apply to train.method = 'spide' only, but train.method = "
                             f"{t.method!r}")
        if (t.spide_feedback_norm == "none") != (t.spide_feedback_max == 0):
            raise ValueError(f"config: train.spide_feedback_norm and train.spide_feedback_max go together (a norm "
                             f"and a bound > 0, or 'none' and 0), got train.spide_feedback_norm = "
                             f"{t.spide_feedback_norm!r}, train.spide_feedback_max = {t.spide_feedback_max!r}")
        if t.consistency and (self.data.kind != "shd" or not self.data.train_twin):
            raise ValueError("config: train.consistency > 0 needs data.train_twin (the clean twins of the training "
                             "utterances: axon data synth --clean-twins writes synth_train_twin.h5)")
        if self.data.train_twin and not t.consistency:
            raise ValueError("config: data.train_twin is read only for train.consistency > 0; set both or neither")
        if t.consistency and t.method != "bptt":
            raise ValueError(f"config: train.consistency applies to train.method = 'bptt' only, got {t.method!r}")
        if t.schedule_epochs is not None and t.schedule_epochs > t.epochs:
            raise ValueError(f"config: train.schedule_epochs ({t.schedule_epochs}) must not exceed train.epochs "
                             f"({t.epochs})")
        if t.schedule_len < t.epochs and t.lr_schedule == "cosine":
            raise ValueError(f"config: train.schedule_epochs = {t.schedule_epochs} < train.epochs = {t.epochs} with "
                             f"train.lr_schedule = 'cosine' would train the last epochs at learning rate 0; use "
                             f"lr_schedule = 'constant' to train past the schedule")
        if bool(t.distill) != bool(t.teachers):
            raise ValueError("config: train.distill > 0 and train.teachers (trained checkpoints, e.g. "
                             "[\"runs/a/best.pt\", \"runs/b/best.pt\"]) go together; set both or neither")
        if t.distill and (t.method != "bptt" or t.loss != "mean_softmax"):
            raise ValueError(f"config: train.distill applies to train.method = 'bptt' with train.loss = "
                             f"'mean_softmax' only, got {t.method!r} and {t.loss!r}")
        if t.method == "ann_pretrain":
            if t.ann_epochs < 1:
                raise ValueError(f"config: train.method = 'ann_pretrain' needs train.ann_epochs >= 1, got {t.ann_epochs!r}")
            # The ANN twin's activation is the rate of a neuron that keeps the excess over
            # threshold (subtract reset); a zero reset loses it and the rates no longer match.
            if m.reset != "subtract":
                raise ValueError(f"config: train.method = 'ann_pretrain' needs model.reset = 'subtract' (the ANN "
                                 f"twin's rate equals input / threshold only then), got {m.reset!r}")
            if m.lateral:
                raise ValueError("config: train.method = 'ann_pretrain' does not support model.lateral = true "
                                 "(the ANN twin has no send-on-delta lateral term)")
        else:
            for k in ("ann_epochs", "ann_lr"):
                if getattr(t, k):
                    raise ValueError(f"config: train.{k} = {getattr(t, k)!r} applies to train.method = "
                                     f"'ann_pretrain' only, but train.method = {t.method!r}")

    def to_dict(self) -> dict:
        return {k: {f.name: getattr(getattr(self, k), f.name) for f in dataclasses.fields(getattr(self, k))}
                for k in ("data", "model", "train")}


def config_from_dict(d: dict) -> Config:
    """Build a :class:`Config` from nested dicts (as parsed from TOML)."""
    if not isinstance(d, dict):
        raise ValueError(f"config: expected a table, got {d!r}")
    for k in d:
        if k not in ("data", "model", "train"):
            raise ValueError(f"config: unknown table [{k}] (known: [data], [model], [train])")
    return Config(DataConfig.from_dict(d.get("data", {})), ModelConfig.from_dict(d.get("model", {})),
                  TrainConfig.from_dict(d.get("train", {})))


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=VALUE`` strings (VALUE in TOML syntax, bare words as strings)."""
    d = {k: dict(v) for k, v in d.items()}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        section, name = key.strip().split(".", 1)
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        d.setdefault(section, {})[name] = value
    return d


def load_config(path: str | Path, overrides: list[str] | None = None) -> tuple[Config, dict]:
    """Read and validate a TOML config; returns ``(Config, raw_dict)``."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config {path}: not valid TOML: {exc}") from None
    if overrides:
        raw = apply_overrides(raw, overrides)
    return config_from_dict(raw), raw


def _dump_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_dump_value(x) for x in v) + "]"
    return repr(v)


def dump_toml(cfg: Config) -> str:
    """The full config (defaults included) as TOML text; ``None`` values are omitted."""
    lines = []
    for sec, vals in cfg.to_dict().items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {_dump_value(v)}" for k, v in vals.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
