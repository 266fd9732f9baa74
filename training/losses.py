"""Losses on the readout potential over time, the decision rule, and rate regularisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "class_scores", "classification_loss", "firing_rates_hz", "rate_penalty"]

LOSSES = ("mean_softmax", "per_step", "max")


def class_scores(out: torch.Tensor, kind: str = "mean_softmax") -> torch.Tensor:
    """Per-class scores (batch, classes) from readout potentials ``out`` (batch, steps, classes).

    ``mean_softmax``: mean over time of ``softmax(V[n])`` (the DCLS-Delays readout);
    ``per_step``: mean over time of ``log_softmax(V[n])``; ``max``: ``max_n V[n]``.
    The predicted class is the argmax of these scores.
    """
    if kind == "mean_softmax":
        return F.softmax(out, dim=-1).mean(1)
    if kind == "per_step":
        return F.log_softmax(out, dim=-1).mean(1)
    if kind == "max":
        return out.max(1).values
    raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")


def classification_loss(out: torch.Tensor, labels: torch.Tensor, kind: str = "mean_softmax") -> torch.Tensor:
    """Cross-entropy of the readout potentials over time.

    ``mean_softmax``: ``-log(mean_n softmax(V[n])[y])``; ``per_step``: mean over steps of the
    cross-entropy of ``softmax(V[n])``; ``max``: cross-entropy of ``max_n V[n]``.
    """
    if kind == "mean_softmax":
        p = F.softmax(out, dim=-1).mean(1)
        return F.nll_loss(torch.log(p.clamp_min(1e-30)), labels)
    if kind == "per_step":
        b, t, c = out.shape
        return F.cross_entropy(out.reshape(b * t, c), labels.repeat_interleave(t))
    if kind == "max":
        return F.cross_entropy(out.max(1).values, labels)
    raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")


def firing_rates_hz(spikes: torch.Tensor, dt_s: float) -> torch.Tensor:
    """Per-neuron mean firing rate (n,) in Hz of a (batch, steps, n) spike tensor."""
    return spikes.mean(dim=(0, 1)) / dt_s


def rate_penalty(spikes: list[torch.Tensor], dt_s: float, target_hz: float) -> torch.Tensor:
    """Sum over layers of ``((mean rate - target) / max(target, 1 Hz))^2``.

    Pulls each hidden layer's population mean firing rate toward ``target_hz``.
    """
    total = spikes[0].new_zeros(())
    scale = max(target_hz, 1.0)
    for s in spikes:
        total = total + ((s.mean() / dt_s - target_hz) / scale) ** 2
    return total
