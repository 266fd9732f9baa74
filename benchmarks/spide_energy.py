"""Energy proxy of one SPIDE training step against BPTT's multiply-accumulates (issue 14).

For a trained SPIDE checkpoint and the first ``--batches`` training batches (the
checkpoint's batch size, a permutation seeded by ``--seed``), per sample of a batch:

* **SPIDE, event-driven count** (what an implementation that only moves spikes does):
  forward phase = input events x fan-out (``n`` hidden neurons) + feedback-layer spikes x
  fan-out (``n`` feedback + ``n_out`` readout synapses); backward phase = ternary spikes of
  neurons with ``mask = 1`` x fan-out ``n`` (the others reach no synapse,
  :func:`training.spide.spiking_adjoint`); the readout's gradient, which SPIDE still takes
  by autograd through the window (``2 T n n_out`` MACs: the gradient to its input and to
  its weights); the local update, one multiply-accumulate per synapse into a neuron with
  ``mask * lam != 0`` (``n + n_in`` each).
* **SPIDE as our torch code computes it** (dense matrix products, no use of sparsity):
  counted by ``torch.utils.flop_counter.FlopCounterMode`` over
  :func:`training.spide.spide_grads`, MACs = FLOPs / 2.
* **BPTT, the same batch**: ``FlopCounterMode`` over forward + ``loss.backward()`` of
  (a) the BPTT baseline of the table (same config, ``model.recurrent = false``) and
  (b) the same feedback layer unrolled through the window (``model.recurrent = true``,
  autograd through :meth:`training.model.SNN._run_recurrent`).

``FlopCounterMode`` counts matrix products (``mm``, ``bmm``, convolutions), not the
element-wise neuron updates (``O(T n)`` per sample, the same order in every method), so
those are left out on every side.

    python -m benchmarks.spide_energy --checkpoint runs/spide/d8_spide10sn09_s0/best.pt --out runs/spide/energy
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from bridge.runfiles import write_results


def _dense_macs(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops() / 2.0


def spide_step_counts(model, x: torch.Tensor, y: torch.Tensor, cfg) -> dict:
    """One SPIDE gradient on batch ``(x, y)``: event-driven counts and dense torch MACs,
    totals over the batch (see the module docstring)."""
    from training.spide import spide_grads

    tc = cfg.train
    n_in, n, n_out, steps = model.n_inputs, model.cfg.hidden[0], model.n_classes, x.shape[1]
    box = {}

    def run():
        model.zero_grad(set_to_none=True)
        box["r"] = spide_grads(model, x, y, tc.loss, tc.spide_steps_back, tc.spide_vth_back)

    dense = _dense_macs(run)
    _, _, st = box["r"]
    b = x.shape[0]
    return {
        "forward_sops": st["input_events"] * n + st["forward_spikes"] * (n + n_out),
        "backward_sops": st["backward_delivered"] * n,
        "backward_spikes": st["backward_spikes"],
        "readout_grad_macs": 2.0 * b * steps * n * n_out,
        "update_macs": st["update_posts"] * (n + n_in),
        "torch_dense_macs": dense,
    }


def bptt_step_macs(model, x: torch.Tensor, y: torch.Tensor, loss_kind: str, gen: torch.Generator) -> float:
    """Multiply-accumulates of one BPTT step (forward and ``loss.backward()``) on ``(x, y)``."""
    from training.losses import classification_loss

    def run():
        model.zero_grad(set_to_none=True)
        r = model(x, generator=gen)
        classification_loss(r["out"], y, loss_kind).backward()

    model.train()
    return _dense_macs(run)


def measure(checkpoint: str | Path, batches: int = 5, seed: int = 0) -> dict:
    from training.config import config_from_dict
    from training.model import SNN
    from training.train import _bin, load_checkpoint, load_datasets, load_model

    ck = load_checkpoint(checkpoint)
    cfg = config_from_dict(ck["config"])
    if cfg.train.method != "spide":
        raise ValueError(f"{checkpoint}: train.method = {cfg.train.method!r}, not 'spide'")
    torch.set_num_threads(cfg.train.num_threads)
    spide = load_model(checkpoint)
    spide.train()
    xtr, ytr = _bin(load_datasets(cfg)[0], cfg)
    perm = np.random.default_rng(seed).permutation(len(ytr))
    bs = cfg.train.batch_size
    gen = torch.Generator().manual_seed(seed)
    twins = {}
    for name, rec in (("bptt_feedforward", False), ("bptt_feedback", True)):
        mc = dataclasses.replace(cfg.model, recurrent=rec)
        twins[name] = SNN(spide.n_inputs, spide.n_classes, mc, cfg.data.dt_s, torch.Generator().manual_seed(seed))
    tot: dict[str, float] = {}
    samples = 0
    for k in range(batches):
        idx = perm[k * bs:(k + 1) * bs]
        if len(idx) == 0:
            break
        xb = torch.from_numpy(xtr[idx]).to(spide.dtype)
        yb = torch.from_numpy(ytr[idx])
        row = spide_step_counts(spide, xb, yb, cfg)
        for name, m in twins.items():
            row[f"{name}_macs"] = bptt_step_macs(m, xb.to(m.dtype), yb, cfg.train.loss, gen)
        for key, v in row.items():
            tot[key] = tot.get(key, 0.0) + float(v)
        samples += len(idx)
    per = {k: v / samples for k, v in tot.items()}
    per["spide_event_total"] = (per["forward_sops"] + per["backward_sops"] + per["readout_grad_macs"]
                                + per["update_macs"])
    return {"checkpoint": str(checkpoint), "samples": samples, "batch_size": bs, "batches": batches,
            "n_inputs": spide.n_inputs, "n_hidden": cfg.model.hidden[0], "n_classes": spide.n_classes,
            "n_steps": cfg.data.n_steps, "spide_steps_back": cfg.train.spide_steps_back, "per_sample": per}


def markdown(results: list[dict]) -> str:
    keys = [("forward_sops", "SPIDE forward phase: spikes x fan-out (SOPs)"),
            ("backward_sops", "SPIDE backward phase: ternary spikes x fan-out (SOPs)"),
            ("readout_grad_macs", "SPIDE readout gradient through the window (MACs)"),
            ("update_macs", "SPIDE local weight update (MACs)"),
            ("spide_event_total", "SPIDE step, event-driven total"),
            ("torch_dense_macs", "SPIDE step as computed by training/spide.py, dense (MACs)"),
            ("bptt_feedforward_macs", "BPTT step, same layer without feedback (MACs)"),
            ("bptt_feedback_macs", "BPTT step through the same feedback layer (MACs)")]
    head = "| per training sample | " + " | ".join(Path(r["checkpoint"]).parent.name for r in results)
    if len(results) > 1:
        head += " | mean"
    lines = [head + " |", "|---" * (len(results) + 1 + (len(results) > 1)) + "|"]
    for k, label in keys:
        vals = [r["per_sample"][k] for r in results]
        cells = [f"{v:,.0f}" for v in vals] + ([f"{np.mean(vals):,.0f}"] if len(vals) > 1 else [])
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    r0 = results[0]
    lines.append("")
    lines.append(f"{r0['n_inputs']} inputs, {r0['n_hidden']} feedback neurons, {r0['n_classes']} classes, "
                 f"{r0['n_steps']} forward steps, {r0['spide_steps_back']} backward steps; "
                 f"{r0['samples']} training samples ({r0['batches']} batches of {r0['batch_size']}) per checkpoint.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", nargs="+", required=True, help="SPIDE best.pt file(s)")
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="folder for energy.json and energy.md")
    a = ap.parse_args(argv)
    res = [measure(c, a.batches, a.seed) for c in a.checkpoint]
    md = markdown(res)
    write_results(a.out, "energy", res, md)
    print(md)


if __name__ == "__main__":
    main()
