"""The training loop: data on the grid, Adam + cosine schedules, sigma schedule,
per-epoch validation, atomic checkpoints with resume, final rounded-delay evaluation.

Entry point :func:`train`; the command line is ``axon train`` (bridge/commands/train.py).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sim.audio.frontend import frontend_differences
from training.binning import bin_dataset
from training.config import Config, config_from_dict, dump_toml
from training.losses import class_scores, classification_loss, rate_penalty
from training.masking import band_of_channel, mask_inputs
from training.model import SNN

__all__ = ["train", "load_datasets", "load_train_twin", "check_twin", "evaluate", "sigma_at", "load_checkpoint", "load_model", "save_atomic"]

CHECKPOINT_LAST = "last.pt"
CHECKPOINT_BEST = "best.pt"


# ---------------------------------------------------------------------- data
def load_datasets(cfg: Config):
    """(train, valid, test) SpikeDatasets as configured, capped by ``max_*``."""
    d = cfg.data
    if d.kind == "toy":
        from training.toy import make_toy_dataset
        dur = d.n_steps * d.dt_s
        mk = lambda n, s: make_toy_dataset(n, d.toy_units, d.toy_classes, dur, np.random.default_rng(s),
                                           pattern_seed=cfg.train.seed + 1000)
        sets = [mk(d.toy_samples, cfg.train.seed + 1), mk(max(d.toy_samples // 3, d.toy_classes), cfg.train.seed + 2),
                mk(max(d.toy_samples // 3, d.toy_classes), cfg.train.seed + 3)]
    else:
        from training.data.shd import load_shd
        sets = []
        for k in ("train", "valid", "test"):
            p = Path(getattr(d, k))
            if not p.exists():
                hint = (f" (make it with: axon data synth --out {p.parent})" if p.name.startswith("synth_")
                        else " (axon data synth|gsc makes SHD-format files)")
                raise ValueError(f"data.{k}: file {str(p)!r} does not exist{hint}")
            sets.append(load_shd(p))
    caps = (d.max_train, d.max_valid, d.max_test)
    rng = np.random.default_rng(cfg.train.seed)
    out = []
    for ds, cap in zip(sets, caps):
        if cap and cap < len(ds):
            ds = ds.subset(np.sort(rng.permutation(len(ds))[:cap]))
        out.append(ds)
    return tuple(out)


def load_train_twin(cfg: Config):
    """The clean twins of the training set (``data.train_twin``), capped like the training
    set (the same samples); ``ValueError`` if they do not pair with ``data.train``."""
    from training.data.shd import load_shd

    d = cfg.data
    p = Path(d.train_twin)
    if not p.exists():
        raise ValueError(f"data.train_twin: file {str(p)!r} does not exist (make it with: axon data synth "
                         f"--clean-twins --out {p.parent} ...)")
    twin, train = load_shd(p), load_shd(d.train)
    check_twin(twin, train, str(p))
    if d.max_train and d.max_train < len(twin):  # the same draw as load_datasets' first
        twin = twin.subset(np.sort(np.random.default_rng(cfg.train.seed).permutation(len(twin))[:d.max_train]))
    return twin


def check_twin(twin, train, name: str = "data.train_twin") -> None:
    """``ValueError`` unless ``twin`` pairs sample by sample with ``train`` (count, labels,
    speakers, channels)."""
    if len(twin) != len(train) or twin.n_units != train.n_units:
        raise ValueError(f"{name}: {len(twin)} samples of {twin.n_units} channels, but data.train has "
                         f"{len(train)} of {train.n_units}: not its clean twins")
    for what in ("labels", "speakers"):
        a, b = getattr(twin, what), getattr(train, what)
        if not np.array_equal(a, b):
            i = int(np.nonzero(a != b)[0][0])
            raise ValueError(f"{name}: sample {i} has {what[:-1]} {a[i]}, data.train's has {b[i]}: "
                             "not its clean twins")


def _bin(ds, cfg: Config):
    x = bin_dataset(ds, cfg.data.dt_s, cfg.data.n_steps, cfg.data.start_s)
    return x, np.asarray(ds.labels, dtype=np.int64)


# ---------------------------------------------------------------------- schedules
def sigma_at(progress: float, sigma_init: float, sigma_final: float, decay_fraction: float) -> float:
    """Kernel width (steps) at training progress ``u`` in [0, 1].

    Exponential decay from ``sigma_init`` to ``sigma_final``, reached at
    ``u = decay_fraction`` and held after (linear decay when ``sigma_final == 0``).
    """
    v = min(max(progress / decay_fraction, 0.0), 1.0)
    if sigma_final > 0 and sigma_init > 0:
        return float(sigma_init * (sigma_final / sigma_init) ** v)
    return float(sigma_init + (sigma_final - sigma_init) * v)


def _cosine(step: int, total: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


# ---------------------------------------------------------------------- checkpoints
def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, required=("model", "config", "n_inputs", "n_classes")) -> dict:
    """A checkpoint written by :func:`train`; ``ValueError`` naming the file if it cannot be
    read (truncated, corrupt, not a checkpoint) or lacks one of ``required``."""
    p = Path(path)
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as e:  # pickle, zip and EOF errors of every kind
        raise ValueError(f"{p}: not a readable training checkpoint ({type(e).__name__}: {e}); "
                         "it may be truncated or corrupt") from None
    if not isinstance(ck, dict):
        raise ValueError(f"{p}: not a training checkpoint (holds a {type(ck).__name__})")
    missing = [k for k in required if k not in ck]
    if missing:
        raise ValueError(f"{p}: not a training checkpoint, lacks {missing}")
    return ck


def build_model(cfg: Config, n_inputs: int, n_classes: int, class_names=None) -> SNN:
    gen = torch.Generator().manual_seed(cfg.train.seed)
    return SNN(n_inputs, n_classes, cfg.model, cfg.data.dt_s, gen, class_names)


def load_model(path) -> SNN:
    """Rebuild a trained model (eval mode, rounded delays) from a checkpoint file."""
    ck = load_checkpoint(path)
    cfg = config_from_dict(ck["config"])
    model = build_model(cfg, ck["n_inputs"], ck["n_classes"], ck.get("class_names"))
    model.load_state_dict(ck["model"])
    task = ck.get("task")
    if task and task.get("n_steps") is not None:
        model.set_task(task["n_steps"], task["start_s"], task["decision_rule"], task.get("frontend"),
                       task.get("dataset"))
    else:  # checkpoints written before the task was recorded: rebuild what the config knows
        model.set_task(cfg.data.n_steps, cfg.data.start_s, cfg.train.loss)
    model.eval()
    model.set_rounded(True)
    return model


def _task_info(cfg: Config, train_ds, valid_ds, test_ds) -> dict:
    """Front-end config and data provenance for :meth:`SNN.set_task`.

    The front end is taken from the training file's ``frontend`` attribute (files written
    by ``axon data``); all three splits must agree, or the data were encoded differently.
    """
    fes = [getattr(ds, "attrs", {}).get("frontend") for ds in (train_ds, valid_ds, test_ds)]
    for name, fe in zip(("valid", "test"), fes[1:]):
        if fes[0] is not None and fe is not None and fe != fes[0]:
            raise ValueError(f"data.{name}: its front-end settings differ from data.train's "
                             f"({fe!r} vs {fes[0]!r}); the splits must be encoded alike")
    attrs = getattr(train_ds, "attrs", {}) or {}
    dataset = {"kind": cfg.data.kind, "train": cfg.data.train, "valid": cfg.data.valid, "test": cfg.data.test,
               "source_kind": attrs.get("kind"), "seed": attrs.get("seed"),
               "n_samples": {"train": len(train_ds), "valid": len(valid_ds), "test": len(test_ds)}}
    return {"frontend": fes[0], "dataset": dataset}


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: SNN, x: np.ndarray, y: np.ndarray, batch_size: int, loss_kind: str,
             rounded: bool = True, mode: str = "snn") -> dict:
    """Accuracy, loss and per-layer mean firing rates (Hz) on binned data.

    Runs in eval mode (batch-norm running statistics); ``rounded`` selects one-hot delay
    kernels at ``round_half_up(pos)`` — the deployed network. ``mode="ann"`` evaluates the
    ANN twin (rates instead of spikes; see :meth:`SNN.forward`).
    """
    was_training = model.training
    model.eval()
    old = [p.rounded for p in model.delay_projections()]
    model.set_rounded(rounded)
    n = len(y)
    correct, loss_sum = 0, 0.0
    spike_sum = [0.0] * model.n_hidden_layers
    neuron_sum = [None] * model.n_hidden_layers
    for i in range(0, n, batch_size):
        xb = torch.from_numpy(x[i:i + batch_size]).to(model.dtype)
        yb = torch.from_numpy(y[i:i + batch_size])
        r = model(xb, mode=mode)
        loss_sum += float(classification_loss(r["out"], yb, loss_kind)) * len(yb)
        correct += int((class_scores(r["out"], loss_kind).argmax(-1) == yb).sum())
        for l, s in enumerate(r["spikes"]):
            spike_sum[l] += float(s.sum())
            per = s.sum(dim=(0, 1)).double()
            neuron_sum[l] = per if neuron_sum[l] is None else neuron_sum[l] + per
    for p, o in zip(model.delay_projections(), old):
        p.rounded = o
    model.train(was_training)
    steps = x.shape[1]
    sizes = list(model.layer_sizes)
    dur = max(n, 1) * steps * model.dt_s
    return {
        "n": n,
        "accuracy": correct / max(n, 1),
        "loss": loss_sum / max(n, 1),
        "rate_hz": [spike_sum[l] / (dur * sizes[l]) for l in range(len(sizes))],
        "neuron_rate_hz": [(neuron_sum[l] / dur).tolist() if neuron_sum[l] is not None else [] for l in range(len(sizes))],
    }


# ---------------------------------------------------------------------- training
def _optimizer(model: SNN, cfg: Config, lr: float | None = None):
    pos = [p.pos for p in model.delay_projections()]
    pos_ids = {id(p) for p in pos}
    other = [p for p in model.parameters() if p.requires_grad and id(p) not in pos_ids]
    groups = [{"params": other, "lr": cfg.train.lr if lr is None else lr, "weight_decay": cfg.train.weight_decay}]
    if pos:
        groups.append({"params": pos, "lr": cfg.train.lr_positions, "weight_decay": 0.0})
    return torch.optim.Adam(groups)


def train(cfg: Config, out_dir, resume: bool = False, datasets=None, progress: bool = True,
          stop_after_epochs: int | None = None, twin=None) -> dict:
    """Train, validate each epoch, checkpoint, evaluate and write the report.

    Parameters
    ----------
    cfg : Config
    out_dir : path
        Receives ``last.pt`` (every epoch), ``best.pt``, ``config.toml``, ``results.json``,
        ``report.md``, ``curves.png``, ``delays.png``.
    resume : bool
        Continue from ``out_dir/last.pt``. Without it an existing ``last.pt`` is an error.
    datasets : (train, valid, test) SpikeDatasets, optional
        Overrides ``cfg.data`` paths (tests).
    stop_after_epochs : int, optional
        Stop (without the final evaluation) after this many epochs in this call, as if
        killed; used to test resuming.
    twin : SpikeDataset, optional
        The clean twins of the training set (``train.consistency``); overrides
        ``data.train_twin`` (tests).

    Returns
    -------
    dict : the results written to ``results.json`` (``{"stopped": True, ...}`` when stopped early).
    """
    from tqdm.auto import tqdm

    from training.report import write_report

    t_start = time.time()
    torch.set_num_threads(cfg.train.num_threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    last_path = out / CHECKPOINT_LAST
    if last_path.exists() and not resume:
        raise ValueError(f"{last_path} exists: pass --resume to continue that run, or choose another --out")
    if resume and not last_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint {last_path}")
    resume_ck = (load_checkpoint(last_path, ("model", "config", "optimizer", "generator", "history", "epoch", "best"))
                 if resume else None)  # read before the data, so a corrupt file fails at once
    # progress bars are for terminals; a log (file, pipe) gets the one line per epoch only
    progress_bars = progress and sys.stderr.isatty()

    train_ds, valid_ds, test_ds = datasets if datasets is not None else load_datasets(cfg)
    xtr, ytr = _bin(train_ds, cfg)
    xva, yva = _bin(valid_ds, cfg)
    xte, yte = _bin(test_ds, cfg)
    xtw = None
    if cfg.train.consistency:
        twin = twin if twin is not None else load_train_twin(cfg)
        check_twin(twin, train_ds)
        xtw = _bin(twin, cfg)[0]
    n_inputs = int(train_ds.n_units)
    class_names = list(getattr(train_ds, "class_names", []) or [])
    n_classes = max(len(class_names), int(max(ytr.max(), yva.max(), yte.max())) + 1)

    model = build_model(cfg, n_inputs, n_classes, class_names or None)
    model.set_task(cfg.data.n_steps, cfg.data.start_s, cfg.train.loss, **_task_info(cfg, train_ds, valid_ds, test_ds))
    ptr, teach_info = None, None
    if cfg.train.distill:
        print(f"teachers: the class distributions of {len(cfg.train.teachers)} checkpoints on {len(ytr)} training "
              f"samples ...", flush=True)
        ptr = teacher_targets(cfg.train.teachers, xtr, model)
        agree = float(np.mean(ptr.argmax(1) == ytr))
        teach_info = {"checkpoints": list(cfg.train.teachers), "train_accuracy_of_their_mean": agree}
        print(f"teachers: {len(cfg.train.teachers)} checkpoints; their mean distribution picks the label of "
              f"{agree:.1%} of the training samples", flush=True)
    opt = _optimizer(model, cfg)
    tc = cfg.train
    if tc.method == "spide" and tc.spide_feedback_norm != "none":
        from training.spide import restrict_feedback
        restrict_feedback(model, tc.spide_feedback_norm, tc.spide_feedback_max)  # the initial W too
    gen = torch.Generator().manual_seed(tc.seed + 1)  # shuffling and dropout
    n_batches = math.ceil(len(ytr) / tc.batch_size)
    total_steps = tc.schedule_len * n_batches  # the schedules' length; epochs past it hold their final values
    sigma_init = tc.sigma_init if tc.sigma_init is not None else cfg.model.max_delay_steps / 2.0
    base_lrs = [g["lr"] for g in opt.param_groups]

    history: list[dict] = []
    start_epoch = 0
    best = {"accuracy": -1.0, "epoch": -1}
    elapsed_before = 0.0
    if resume:
        ck = resume_ck
        try:  # a checkpoint of an older axon lacks fields added since: compare with their defaults
            ck_cfg = config_from_dict(ck["config"]).to_dict()
        except (TypeError, ValueError):
            ck_cfg = ck["config"]
        diff = _resume_diff(ck_cfg, cfg.to_dict(), ck["epoch"])
        if diff:
            raise ValueError(f"--resume: the config differs from the checkpoint's ({', '.join(diff)})")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        history, start_epoch, best = ck["history"], ck["epoch"], ck["best"]
        elapsed_before = ck.get("train_time_s", 0.0)
    (out / "config.toml").write_text(dump_toml(cfg))

    ann_info = resume_ck.get("ann_pretrain") if resume else None  # the ANN phase ran before the first epoch
    t_train0 = time.time() - (resume_ck.get("train_elapsed_s", 0.0) if resume else 0.0)
    if tc.method == "ann_pretrain" and not resume:
        ann_info = _ann_phase(model, cfg, xtr, ytr, xva, yva, gen, n_batches, sigma_init, progress_bars, tqdm)
        opt = _optimizer(model, cfg)  # fresh Adam state for the SNN phase
    sigma_offset = tc.ann_epochs * n_batches if tc.method == "ann_pretrain" else 0
    # the averaged network (train.ema) starts from the network the SNN phase starts from
    ema = WeightAverage(model, tc.ema) if tc.ema > 0 else None
    if ema is not None and resume:
        ema.load_state_dict(resume_ck["ema"])
    held = ema.model if ema is not None else model  # the network validated, kept and evaluated

    def save_best(epoch: int) -> None:
        save_atomic({"model": held.state_dict(), "epoch": epoch, "config": cfg.to_dict(),
                     "n_inputs": n_inputs, "n_classes": n_classes, "class_names": class_names,
                     "task": model.task}, out / CHECKPOINT_BEST)

    epochs_run = 0
    for epoch in range(start_epoch, tc.epochs):
        if stop_after_epochs is not None and epochs_run >= stop_after_epochs:
            return {"stopped": True, "epoch": epoch}
        t_ep = time.time()
        ep = _train_epoch(model, opt, base_lrs, xtr, ytr, cfg, gen, n_batches=n_batches, xtwin=xtw, pteach=ptr,
                          lr_step0=epoch * n_batches, lr_total=total_steps,
                          sigma_step0=sigma_offset + epoch * n_batches, sigma_total=sigma_offset + total_steps,
                          sigma_init=sigma_init, mode="spide" if tc.method == "spide" else "snn",
                          desc=f"epoch {epoch + 1}/{tc.epochs}",
                          progress_bars=progress_bars, tqdm=tqdm, ema=ema)
        sigma = ep["sigma"]
        val = evaluate(held, xva, yva, tc.batch_size, tc.loss, rounded=True)
        # with train.ema, the trained network's own validation accuracy: what the average adds
        val_trained = evaluate(model, xva, yva, tc.batch_size, tc.loss, rounded=True) if ema is not None else None
        rec = {
            "epoch": epoch + 1,
            "rounded": bool(model.delay_projections() and model.delay_projections()[0].rounded),
            "train_loss": ep["loss"],
            "train_accuracy": ep["accuracy"],
            "train_rate_hz": ep["rate_hz"],
            **({"train_consistency": ep["consistency"]} if "consistency" in ep else {}),
            **({"train_distill": ep["distill"]} if "distill" in ep else {}),
            "valid_loss": val["loss"],
            "valid_accuracy": val["accuracy"],
            "valid_rate_hz": val["rate_hz"],
            **({"valid_accuracy_trained": val_trained["accuracy"]} if val_trained else {}),
            "sigma": sigma,
            "lr": opt.param_groups[0]["lr"],
            "epoch_time_s": time.time() - t_ep,
            # training time since the first step (ANN phase included), for time-to-accuracy
            "elapsed_s": time.time() - t_train0,
        }
        if model.recurrent is not None:
            from training.spide import feedback_norm
            rec["feedback_norm_spectral"] = feedback_norm(model.recurrent.weight, "spectral")
            rec["feedback_norm_frobenius"] = feedback_norm(model.recurrent.weight, "frobenius")
        history.append(rec)
        tqdm.write(f"epoch {epoch + 1}: train loss {rec['train_loss']:.3f} acc {rec['train_accuracy']:.3f} | "
                   + (f"consistency {ep['consistency']:.3f} | " if "consistency" in ep else "")
                   + (f"distill {ep['distill']:.3f} | " if "distill" in ep else "")
                   + f"valid (rounded) acc {val['accuracy']:.3f}"
                   + (f" (trained {val_trained['accuracy']:.3f})" if val_trained else "")
                   + f" | rates {[round(r, 1) for r in val['rate_hz']]} Hz"
                   f" | sigma {sigma:.2f} | {rec['epoch_time_s']:.0f} s")
        # Best validation accuracy; among equal accuracies the lower validation loss (a
        # saturated accuracy would otherwise freeze the choice at its first epoch).
        if (val["accuracy"], -val["loss"]) > (best["accuracy"], -best.get("loss", float("inf"))):
            best = {"accuracy": val["accuracy"], "loss": val["loss"], "epoch": epoch + 1}
            save_best(epoch + 1)
        save_atomic({
            "model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
            "epoch": epoch + 1, "history": history, "best": best, "config": cfg.to_dict(),
            "n_inputs": n_inputs, "n_classes": n_classes, "class_names": class_names, "task": model.task,
            "train_time_s": elapsed_before + (time.time() - t_start),
            "train_elapsed_s": time.time() - t_train0, "ann_pretrain": ann_info,
            **({"ema": ema.state_dict()} if ema is not None else {}),
        }, last_path)
        epochs_run += 1

    # Final evaluation with rounded delays.
    ck_last = load_checkpoint(last_path)
    train_time = ck_last.get("train_time_s", time.time() - t_start)
    if tc.select == "best_valid" and (out / CHECKPOINT_BEST).exists():
        model.load_state_dict(load_checkpoint(out / CHECKPOINT_BEST)["model"])
        chosen = best["epoch"]
    else:
        # select = "last": best.pt holds the network at the end (written here, once, so that
        # during training and after a resume with another select it is the best-validation one)
        chosen = tc.epochs
        save_best(chosen)
        if ema is not None:
            model.load_state_dict(ema.model.state_dict())
    model.eval()
    model.set_rounded(True)
    t_eval = time.time()
    ev = {name: evaluate(model, x, y, tc.batch_size, tc.loss, rounded=True)
          for name, x, y in (("train", xtr, ytr), ("valid", xva, yva), ("test", xte, yte))}
    results = {
        "config": cfg.to_dict(),
        "seeds": {"init": tc.seed, "shuffle_dropout": tc.seed + 1, "subset": tc.seed},
        "n_inputs": n_inputs,
        "n_classes": n_classes,
        "class_names": class_names,
        "task": model.task,
        "n_samples": {"train": len(ytr), "valid": len(yva), "test": len(yte)},
        "selected_epoch": chosen,
        **({"teachers": teach_info} if teach_info else {}),
        "accuracy": {k: v["accuracy"] for k, v in ev.items()},
        "loss": {k: v["loss"] for k, v in ev.items()},
        "rate_hz": {k: v["rate_hz"] for k, v in ev.items()},
        "mean_hidden_rate_hz": {k: float(np.average(v["rate_hz"], weights=model.layer_sizes)) for k, v in ev.items()},
        "delays": _delay_summary(model),
        "train_time_s": train_time,
        "eval_time_s": time.time() - t_eval,
        # This call, from entry to here: data loading and binning, training, final evaluation
        # (a resumed run counts only its own part; train_time_s adds up all parts).
        "wall_time_s": time.time() - t_start,
        # Trained values only (frozen delay positions of "none"/"fixed" and fixed drives excluded).
        "n_parameters": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        "n_delay_parameters": int(sum(p.pos.numel() for p in model.delay_projections())),
        "torch_version": torch.__version__,
        "method": tc.method,
        "ann_pretrain": ann_info,
        "history": history,
    }
    write_report(out, results, model, ev["test"])
    if progress:
        print(f"test accuracy (rounded delays) {ev['test']['accuracy']:.4f}, valid {ev['valid']['accuracy']:.4f}, "
              f"train {ev['train']['accuracy']:.4f}; mean hidden rate (test) "
              f"{results['mean_hidden_rate_hz']['test']:.1f} Hz; training {train_time:.0f} s "
              f"(wall {results['wall_time_s']:.0f} s); report in {out}")
    return results


class WeightAverage:
    """An exponential moving average of a network's trained values (``train.ema``).

    ``model`` is a copy of the network holding the averages. After optimiser step ``t``
    (counted from 0), :meth:`update` moves every trainable value and every batch-norm
    running statistic towards the network's by ``1 - d``, ``d = min(decay, (1 + t) / (10 + t))``
    (the short-memory start keeps the first random weights from lingering); every other
    entry (fixed delays, time constants, counters) is copied as it is, bit for bit.
    """

    def __init__(self, model: SNN, decay: float):
        import copy

        self.decay = decay
        self.steps = 0
        self.model = copy.deepcopy(model)
        for q in self.model.parameters():
            q.requires_grad_(False)
        trained = {n for n, q in model.named_parameters() if q.requires_grad}
        self._averaged = {n for n in model.state_dict()
                          if n in trained or n.endswith(("running_mean", "running_var"))}
        # views of the copy's tensors, which update and load_state_dict change in place
        self._mine = self.model.state_dict()

    @torch.no_grad()
    def update(self, model: SNN) -> None:
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        mine = self._mine
        for n, v in model.state_dict().items():
            if n in self._averaged:
                mine[n].mul_(d).add_(v, alpha=1.0 - d)
            else:
                mine[n].copy_(v)
        self.steps += 1

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.steps = int(state["steps"])


def _clean_pass(model: SNN, x: torch.Tensor) -> dict:
    """The network's response to clean twins, the target of ``train.consistency``: no
    gradient, no dropout, batch norm on the twins' own batch statistics (as the noisy batch
    gets), and nothing of the model's state changed (running statistics restored)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    tracked = [m for m in bns if m.track_running_stats]
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in tracked]
    model.eval()
    for m in bns:
        m.train()
    try:
        with torch.no_grad():
            return model(x)
    finally:
        for m, (mean, var, n) in zip(tracked, saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(n)
        model.train()


def consistency_loss(r: dict, clean: dict, target: str) -> torch.Tensor:
    """Distance of the response ``r`` (to noisy inputs) from ``clean`` (to their clean twins).

    ``"output"``: KL(clean || noisy) of the class distributions, the mean over time of the
    readout's softmax, averaged over the batch. ``"hidden"``: over all hidden layers, the
    squared difference of the spike trains step by step divided by the number of spikes of
    both (0: the same spikes; 1: no spike in common), a rate-independent measure.
    """
    if target == "output":
        return _kl(class_scores(clean["out"], "mean_softmax"), class_scores(r["out"], "mean_softmax"))
    if target == "hidden":
        diff = sum(((s - c) ** 2).sum() for s, c in zip(r["spikes"], clean["spikes"]))
        both = sum(s.sum() + c.sum() for s, c in zip(r["spikes"], clean["spikes"]))
        return diff / (both + 1.0)
    raise ValueError(f"consistency target must be 'output' or 'hidden', got {target!r}")


def teacher_targets(paths, x: np.ndarray, student: SNN, batch_size: int = 64) -> np.ndarray:
    """``train.distill``'s targets: the mean over the trained checkpoints ``paths`` of their
    class distributions (:func:`class_distributions`) on the binned training samples ``x``
    (unmasked), as ``(samples, classes)`` float64."""
    return np.mean(class_distributions(paths, x, student, batch_size=batch_size), axis=0)


def class_distributions(paths, x: np.ndarray, ref: SNN, batch_size: int = 64, label: str = "train.teachers",
                        ref_name: str = "the network being trained", data_name: str = "data.train") -> list:
    """Each trained checkpoint's class distribution (mean softmax over time, eval mode,
    rounded delays) on the binned samples ``x``: a list of ``(samples, classes)`` float64.
    Each checkpoint must have ``ref``'s inputs, classes, time grid and front end (``ref.task``,
    the data's): a network that read other spikes would answer about other data."""
    outs = []
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"{label}: checkpoint {str(p)!r} does not exist")
        t = load_model(p)
        theirs = (t.n_inputs, t.n_classes, t.dt_s, t.task["n_steps"], t.task["decision_rule"])
        ours = (ref.n_inputs, ref.n_classes, ref.dt_s, ref.task["n_steps"], "mean_softmax")
        if theirs != ours:
            raise ValueError(f"{label}: {p} has (inputs, classes, dt_s, n_steps, rule) {theirs}, {ref_name} {ours}")
        diff = frontend_differences(t.task.get("frontend"), ref.task.get("frontend"), "data")
        if diff:
            raise ValueError(f"{label}: {p} was trained on another front end than {data_name}'s: {diff}")
        out = np.zeros((len(x), ref.n_classes))
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                r = t(torch.from_numpy(x[i:i + batch_size]).to(t.dtype))
                out[i:i + batch_size] = class_scores(r["out"], "mean_softmax").double().numpy()
        outs.append(out)
    return outs


def distill_loss(out: torch.Tensor, p_teacher: torch.Tensor) -> torch.Tensor:
    """KL(teacher || network) of the class distributions, the network's the mean over time of
    its readout's softmax (``out``: batch, steps, classes), averaged over the batch."""
    return _kl(p_teacher, class_scores(out, "mean_softmax"))


def _kl(p_ref: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """KL(p_ref || p) over the last axis, averaged over the batch."""
    return (p_ref * (torch.log(p_ref.clamp_min(1e-30)) - torch.log(p.clamp_min(1e-30)))).sum(-1).mean()


def _train_epoch(model: SNN, opt, base_lrs, xtr, ytr, cfg: Config, gen, *, n_batches, lr_step0, lr_total,
                 sigma_step0, sigma_total, sigma_init, mode, desc, progress_bars, tqdm, xtwin=None,
                 pteach=None, ema: "WeightAverage | None" = None) -> dict:
    """One pass over the shuffled training set in ``mode`` ("snn" or the "ann" twin).

    The learning rate follows its phase's cosine (``lr_step0 / lr_total``); the delay
    kernel width and the rounded-delay switch follow the whole run's schedule
    (``sigma_step0 / sigma_total``), so an ANN phase covers its first part. ``xtwin``
    (binned clean twins, ``train.consistency``) adds the consistency term, ``pteach`` (the
    teachers' class distribution per training sample, ``train.distill``) the distillation term;
    ``ema`` (``train.ema``) is updated after every step.
    """
    tc = cfg.train
    model.train()
    perm = torch.randperm(len(ytr), generator=gen).numpy()
    band_of = band_of_channel(xtr.shape[2], (model.task or {}).get("frontend"))
    loss_sum = correct = seen = 0
    cons_sum = 0.0
    use_twin = xtwin is not None and tc.consistency > 0 and mode == "snn"
    use_teach = pteach is not None and tc.distill > 0 and mode == "snn"
    dist_sum = 0.0
    rate_sum = np.zeros(model.n_hidden_layers)
    sigma = float("nan")
    bar = tqdm(range(n_batches), desc=desc, disable=not progress_bars, leave=False, unit="batch")
    for b in bar:
        u = (sigma_step0 + b) / max(sigma_total, 1)
        sigma = sigma_at(u, sigma_init, tc.sigma_final, tc.sigma_decay_fraction)
        model.set_sigma(sigma)
        model.set_rounded(u >= 1.0 - tc.rounded_fraction if tc.rounded_fraction > 0 else False)
        f = _cosine(lr_step0 + b, lr_total) if tc.lr_schedule == "cosine" else 1.0
        for g, lr0 in zip(opt.param_groups, base_lrs):
            g["lr"] = lr0 * f
        idx = perm[b * tc.batch_size:(b + 1) * tc.batch_size]
        xb = mask_inputs(torch.from_numpy(xtr[idx]).to(model.dtype), gen, band_of, tc.band_masks,
                         tc.band_mask_width, tc.time_masks, tc.time_mask_steps, tc.input_drop)
        yb = torch.from_numpy(ytr[idx])
        opt.zero_grad(set_to_none=True)
        if mode == "spide":
            from training.spide import spide_grads
            r, loss, _ = spide_grads(model, xb, yb, tc.loss, tc.spide_steps_back, tc.spide_vth_back)
        else:
            clean = _clean_pass(model, torch.from_numpy(xtwin[idx]).to(model.dtype)) if use_twin else None
            r = model(xb, generator=gen, mode=mode)
            loss = classification_loss(r["out"], yb, tc.loss)
            total = loss + tc.rate_reg * rate_penalty(r["spikes"], cfg.data.dt_s, tc.rate_target_hz) \
                if tc.rate_reg > 0 else loss
            if use_twin:
                cons = consistency_loss(r, clean, tc.consistency_target)
                total = total + tc.consistency * cons
                cons_sum += float(cons.detach()) * len(idx)
            if use_teach:
                dist = distill_loss(r["out"], torch.from_numpy(pteach[idx]).to(r["out"].dtype))
                total = total + tc.distill * dist
                dist_sum += float(dist.detach()) * len(idx)
            total.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        model.clamp_positions()
        if mode == "spide" and tc.spide_feedback_norm != "none":
            from training.spide import restrict_feedback
            restrict_feedback(model, tc.spide_feedback_norm, tc.spide_feedback_max)
        if ema is not None:
            ema.update(model)
        with torch.no_grad():
            loss_sum += float(loss) * len(idx)
            correct += int((class_scores(r["out"], tc.loss).argmax(-1) == yb).sum())
            seen += len(idx)
            rate_sum += np.array([float(s.mean()) / cfg.data.dt_s for s in r["spikes"]]) * len(idx)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", sigma=f"{sigma:.2f}")
    bar.close()
    res = {"loss": loss_sum / seen, "accuracy": correct / seen, "rate_hz": (rate_sum / seen).tolist(),
           "sigma": sigma, "lr": opt.param_groups[0]["lr"]}
    if use_twin:
        res["consistency"] = cons_sum / seen
    if use_teach:
        res["distill"] = dist_sum / seen
    return res


def _ann_phase(model: SNN, cfg: Config, xtr, ytr, xva, yva, gen, n_batches, sigma_init, progress_bars, tqdm) -> dict:
    """``train.method = "ann_pretrain"`` (Lin et al. 2022, pipeD): train the model's ANN twin
    (``forward(mode="ann")``: same layers and delay taps, rate-valued activations) on the
    same binned data for ``train.ann_epochs``, then map it to the SNN in place
    (:func:`training.model.map_ann_to_snn`). Returns its history and the mapped SNN's
    validation accuracy before any fine-tuning."""
    from training.model import map_ann_to_snn

    tc = cfg.train
    t0 = time.time()
    opt = _optimizer(model, cfg, lr=tc.ann_lr)
    base_lrs = [g["lr"] for g in opt.param_groups]
    ann_total = tc.ann_epochs * n_batches
    sigma_total = (tc.ann_epochs + tc.schedule_len) * n_batches
    history = []
    for epoch in range(tc.ann_epochs):
        ep = _train_epoch(model, opt, base_lrs, xtr, ytr, cfg, gen, n_batches=n_batches,
                          lr_step0=epoch * n_batches, lr_total=ann_total, sigma_step0=epoch * n_batches,
                          sigma_total=sigma_total, sigma_init=sigma_init, mode="ann",
                          desc=f"ANN epoch {epoch + 1}/{tc.ann_epochs}", progress_bars=progress_bars, tqdm=tqdm)
        val = evaluate(model, xva, yva, tc.batch_size, tc.loss, rounded=True, mode="ann")
        history.append({"epoch": epoch + 1, "train_loss": ep["loss"], "train_accuracy": ep["accuracy"],
                        "valid_accuracy": val["accuracy"], "valid_loss": val["loss"], "sigma": ep["sigma"],
                        "elapsed_s": time.time() - t0})
        tqdm.write(f"ANN epoch {epoch + 1}: train loss {ep['loss']:.3f} acc {ep['accuracy']:.3f} | valid (rounded) "
                   f"acc {val['accuracy']:.3f} | sigma {ep['sigma']:.2f} | {history[-1]['elapsed_s']:.0f} s")
    added = map_ann_to_snn(model)
    val = evaluate(model, xva, yva, tc.batch_size, tc.loss, rounded=True)
    tqdm.write(f"ANN -> SNN: valid (rounded) acc {val['accuracy']:.3f} before fine-tuning | rates "
               f"{[round(r, 1) for r in val['rate_hz']]} Hz")
    return {"history": history, "added_drive": added, "mapped_valid_accuracy": val["accuracy"],
            "mapped_valid_rate_hz": val["rate_hz"], "ann_time_s": time.time() - t0}


def _delay_summary(model: SNN) -> list[dict]:
    out = []
    for name, p in zip([f"{a}->{b}" for a, b in zip(["input"] + model.layer_names()[:-1], model.layer_names())],
                       model.projections):
        d = p.delay_steps().numpy().reshape(-1)
        out.append({"projection": name, "mode": p.mode, "max_delay_steps": p.max_delay_steps,
                    "mean_delay_steps": float(d.mean()), "mean_delay_s": float(d.mean() * model.dt_s),
                    "histogram": np.bincount(d, minlength=p.max_delay_steps + 1).tolist()})
    return out


def _resume_diff(ck_cfg: dict, cfg: dict, epochs_done: int) -> list[str]:
    """What stops ``cfg`` from continuing a run saved with ``ck_cfg`` after ``epochs_done`` epochs.

    Everything must match except ``train.epochs``, which may grow (to train on) as long as the
    schedules keep their length (``train.schedule_epochs`` is compared by its effective value;
    unset means the run's own ``train.epochs``), and ``train.select``, which only decides which
    network best.pt keeps from here on.
    """
    a = {sec: dict(v) for sec, v in ck_cfg.items()}
    b = {sec: dict(v) for sec, v in cfg.items()}
    for d in (a, b):
        t = d.get("train", {})
        if t.get("schedule_epochs") is None and "epochs" in t:
            t["schedule_epochs"] = t["epochs"]
        t.pop("select", None)
    if b.get("train", {}).get("epochs", 0) >= epochs_done:
        a.get("train", {}).pop("epochs", None)
        b.get("train", {}).pop("epochs", None)
    diff = _config_diff(a, b)
    if any(d.startswith("train.schedule_epochs") for d in diff):
        diff.append(f"to train past the end of the schedules set train.schedule_epochs = "
                    f"{a['train']['schedule_epochs']}")
    return diff


def _config_diff(a: dict, b: dict) -> list[str]:
    diff = []
    for sec in sorted(set(a) | set(b)):
        sa, sb = a.get(sec, {}), b.get(sec, {})
        for k in sorted(set(sa) | set(sb)):
            if sa.get(k) != sb.get(k):
                diff.append(f"{sec}.{k}: {sa.get(k)!r} -> {sb.get(k)!r}")
    return diff
