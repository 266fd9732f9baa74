"""Trained checkpoint -> :class:`sim.Network` (and model file), SI units, dt stored beside.

The parameter layout leaving training is ``training.model.SNN.export_dict`` (batch norm
already folded into weights and drive). This module turns it into simulator objects:
LIF layers (tau in seconds, threshold, reset, drive in 1/s), dense projections with the
continuous learned delay in seconds *and* the whole-step delay training used (with its
``dt_s``), lateral matrices, the leaky readout, the typed task record
(:class:`sim.model.task.Task`: ``dt_s``, ``n_steps``, ``start_s``, decision rule, class names,
delay rounding, front end) that every consumer reads, and provenance metadata: the data
set, the training config, accuracies, package versions and the checkpoint.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bridge import conventions as conv

__all__ = ["network_from_export", "load_trained_model", "export_checkpoint", "package_versions", "checkpoint_of"]


def package_versions() -> dict:
    import platform
    from importlib import metadata as md

    out = {"python": platform.python_version()}
    for name in ("axon", "numpy", "numba", "torch", "h5py", "scipy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _uniform(name: str, field: str, a) -> float:
    a = np.asarray(a, dtype=np.float64)
    if a.size and not np.all(a == a.reshape(-1)[0]):
        raise ValueError(f"layer {name!r}: {field} differs between neurons ({a.min()!r}..{a.max()!r}); "
                         "sim.LIFLayer holds one value per layer")
    return float(a.reshape(-1)[0])


def network_from_export(d: dict, provenance: dict | None = None):
    """Build a :class:`sim.Network` from ``SNN.export_dict()``.

    Parameters
    ----------
    d : dict
        Format ``axon.training.export`` version 1.
    provenance : dict, optional
        Merged into ``metadata['provenance']`` (checkpoint path, accuracies, versions).

    Each projection gets ``delay_s`` (the continuous learned position times ``dt_s``; what
    the exact engine runs) and ``delay_steps`` (training's rounded delays, what the grid
    engine runs) with ``dt_s``. The two are checked against each other with
    :func:`bridge.conventions.seconds_to_steps`.
    """
    from sim import Conv1D, Lateral, LIFLayer, Network, Projection, ReadoutLayer
    from sim.model.task import Task

    if not isinstance(d, dict) or d.get("format") != "axon.training.export":
        raise ValueError(f"not a training export (format {d.get('format') if isinstance(d, dict) else type(d)!r}, "
                         "expected 'axon.training.export')")
    if int(d.get("format_version", -1)) != 1:
        raise ValueError(f"training export format_version {d.get('format_version')!r} is not supported (expected 1)")
    for key in ("dt_s", "n_inputs", "layers", "projections"):
        if key not in d:
            raise ValueError(f"training export lacks {key!r}")
    dt = float(d["dt_s"])
    layers, laterals, readout = [], [], None
    for L in d["layers"]:
        name = L["name"]
        if L["kind"] == "lif":
            layers.append(LIFLayer(name, int(L["size"]), np.asarray(L["tau_mem_s"], np.float64),
                                   threshold=_uniform(name, "threshold", L["threshold"]), reset=L["reset"],
                                   drive=np.asarray(L["drive_hz"], np.float64)))
            if L.get("lateral") is not None:
                om = np.asarray(L["lateral"], np.float64)
                g = int(L.get("lateral_group_size") or om.shape[0])
                if g != om.shape[0] or int(L["size"]) % g:
                    raise ValueError(f"layer {name!r}: lateral matrix of shape {om.shape} does not fit groups of {g} "
                                     f"in a layer of {L['size']}")
                # A conv layer: one group per frequency position (contiguous channels).
                laterals.append(Lateral.dense(name, om) if g == int(L["size"])
                                else Lateral.per_position(name, om, int(L["size"]) // g))
        elif L["kind"] == "li":
            if readout is not None:
                raise ValueError("training export has two readout ('li') layers")
            readout = ReadoutLayer(name, int(L["size"]), np.asarray(L["tau_mem_s"], np.float64),
                                   drive=np.asarray(L["drive_hz"], np.float64))
        else:
            raise ValueError(f"layer {name!r}: unknown kind {L['kind']!r} (expected 'lif' or 'li')")
        beta = np.asarray(L.get("beta"), np.float64) if L.get("beta") is not None else None
        if beta is not None and not np.array_equal(beta, conv.beta_from_tau(L["tau_mem_s"], dt)):
            raise ValueError(f"layer {name!r}: exported beta differs from exp(-dt/tau) (bridge.conventions)")
    projections = []
    for P in d["projections"]:
        kind = P.get("kind", "dense")
        delay_s = np.asarray(P["delay_s"], np.float64)
        steps = np.asarray(P["delay_steps"], np.int64)
        again = conv.seconds_to_steps(delay_s, dt)
        if not np.array_equal(again, steps):
            bad = int(np.sum(again != steps))
            raise ValueError(f"projection {P['pre']}->{P['post']}: {bad} delays round to other steps than training's "
                             f"({conv.ROUNDING} of delay_s / dt_s); the export is inconsistent")
        if kind == "dense":
            w = np.asarray(P["weight"], np.float64)
            projections.append(Projection.dense(P["pre"], P["post"], w, delay_s, delay_steps=steps, dt_s=dt))
        elif kind == "conv1d":
            geo = P["geometry"]
            c = Conv1D(int(geo["in_positions"]), int(geo["in_channels"]), np.asarray(P["kernel"], np.float64),
                       delay_s, stride=int(geo["stride"]), dilation=int(geo["dilation"]), delay_steps=steps,
                       in_layout=geo.get("in_layout", "position_major"))
            if c.out_positions != int(geo["out_positions"]):
                raise ValueError(f"projection {P['pre']}->{P['post']}: geometry says {geo['out_positions']} output "
                                 f"positions, the kernel and stride give {c.out_positions}")
            projections.append(Projection.conv1d(P["pre"], P["post"], c, dt_s=dt))
        else:
            raise ValueError(f"projection {P['pre']}->{P['post']}: unknown kind {kind!r} (expected 'dense' or 'conv1d')")
    meta = json.loads(json.dumps(d.get("metadata") or {}, default=_jsonable))
    tr = dict(meta.get("training") or {})
    fe = d.get("frontend") if d.get("frontend") is not None else meta.get("frontend")
    task = Task(dt_s=dt, n_steps=d.get("n_steps", tr.get("n_steps")),
                start_s=d.get("start_s") or tr.get("start_s") or 0.0,
                decision_rule=d.get("readout_decision") or tr.get("decision_rule") or "mean_softmax",
                class_names=d.get("class_names") or None,
                delay_rounding=d.get("delay_rounding") or tr.get("delay_rounding") or conv.ROUNDING,
                frontend=fe)
    # the task lives in Network.task; metadata keeps provenance only
    for k in ("dt_s", "n_steps", "start_s", "decision_rule", "class_names", "delay_rounding"):
        tr.pop(k, None)
    meta["training"] = tr
    meta.pop("frontend", None)
    meta["delays"] = {"delay_s": "continuous learned value (position * dt_s), run by the exact engine",
                      "delay_steps": f"{conv.ROUNDING}(position), run by the grid engine and training",
                      "dt_s": dt}
    if provenance:
        meta["provenance"] = json.loads(json.dumps(provenance, default=_jsonable))
    return Network(int(d["n_inputs"]), layers, projections, laterals, readout, meta, task=task)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def load_trained_model(checkpoint, dtype: str | None = None):
    """Rebuild the trained ``SNN`` from a checkpoint (eval mode, rounded delays).

    ``dtype="float64"`` rebuilds it in float64 (the float32 trained values are exact in
    float64): the forward pass the grid engine reproduces spike for spike.
    Raises ``ValueError`` naming the file and the problem.
    """
    import torch

    from training.config import config_from_dict
    from training.train import build_model

    p = Path(checkpoint)
    if not p.exists():
        raise ValueError(f"{p}: no such checkpoint (training writes runs/<config>/best.pt)")
    if p.is_dir():
        raise ValueError(f"{p}: is a directory; give the checkpoint file, e.g. {p / 'best.pt'}")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # pickle/zip errors of every kind
        raise ValueError(f"{p}: not a readable training checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ck, dict):
        raise ValueError(f"{p}: not a training checkpoint (holds a {type(ck).__name__})")
    missing = [k for k in ("model", "config", "n_inputs", "n_classes") if k not in ck]
    if missing:
        raise ValueError(f"{p}: not a training checkpoint, lacks {missing}")
    cfgd = ck["config"]
    if dtype is not None:
        cfgd = {k: dict(v) for k, v in cfgd.items()}
        cfgd["model"]["dtype"] = dtype
    cfg = config_from_dict(cfgd)
    model = build_model(cfg, ck["n_inputs"], ck["n_classes"], ck.get("class_names") or None)
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        raise ValueError(f"{p}: the checkpoint's parameters do not fit its config ({e})") from None
    task = ck.get("task")
    if task and task.get("n_steps") is not None:
        model.set_task(task["n_steps"], task["start_s"], task["decision_rule"], task.get("frontend"), task.get("dataset"))
    else:
        model.set_task(cfg.data.n_steps, cfg.data.start_s, cfg.train.loss)
    model.eval()
    model.set_rounded(True)
    return model, ck


def export_checkpoint(checkpoint, out=None):
    """Checkpoint -> Network (written to ``out`` with :func:`sim.model.io.save_network` if given).

    Provenance: checkpoint path and epoch, the training config, the data set, the
    accuracies of ``results.json`` next to the checkpoint (if any), package versions.
    """
    from sim.model.io import save_network

    model, ck = load_trained_model(checkpoint)
    p = Path(checkpoint).resolve()
    prov = {"checkpoint": str(p), "epoch": ck.get("epoch"), "config": ck.get("config"),
            "package_versions": package_versions()}
    if out is not None:  # found again when model and run folder move together
        prov["checkpoint_relative_to_model"] = os.path.relpath(p, Path(out).resolve().parent)
    res = p.parent / "results.json"
    if res.exists():
        try:
            r = json.loads(res.read_text())
            prov["results"] = {k: r.get(k) for k in ("accuracy", "mean_hidden_rate_hz", "selected_epoch", "n_samples",
                                                     "train_time_s", "torch_version")}
        except (OSError, json.JSONDecodeError):
            prov["results"] = None
    net = network_from_export(model.export_dict(), prov)
    if out is not None:
        save_network(out, net)
    return net


def checkpoint_of(network, model_path=None):
    """The training checkpoint a model file was exported from, as a path that exists, or None.

    Tries the recorded path (absolute since issue 16; relative to the folder ``axon
    export`` ran in before), then the path relative to the model file's folder. Returns
    the recorded path unchanged if neither exists (so the caller's error names it).
    """
    prov = (network.metadata or {}).get("provenance") or {}
    rec = prov.get("checkpoint")
    if not rec:
        return None
    cands = [Path(rec)]
    if model_path is not None:
        base = Path(model_path).resolve().parent
        if prov.get("checkpoint_relative_to_model"):
            cands.append(base / prov["checkpoint_relative_to_model"])
        if not Path(rec).is_absolute():
            cands.append(base / rec)
    for c in cands:
        if c.is_file():
            return str(c)
    return str(rec)
