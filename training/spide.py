"""SPIDE (Xiao, Meng, Zhang, Wang & Lin, "SPIDE: a purely spike-based method for training
feedback spiking neural networks", Neural Networks 2023; code pkuxmq/SPIDE-FSNN): one
feedback layer trained by implicit differentiation at the equilibrium of its firing rates,
with the backward pass itself solved by ternary spiking neurons.

Owns the equilibrium view of :class:`training.model.SNN` with ``model.recurrent = true``
and the gradients ``train.method = "spide"`` gives its parameters.
"""
from __future__ import annotations

import torch

from training.losses import classification_loss

__all__ = ["equilibrium_rates", "spiking_adjoint", "spide_grads", "feedback_norm", "restrict_feedback"]


@torch.no_grad()
def equilibrium_rates(model, x: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """Forward phase: run the spiking network and average the feedback layer's spikes.

    For (nearly) integrate-and-fire neurons with subtract reset, input ``x`` whose mean
    over the window is ``x_bar``, feed-forward weights ``F``, feedback ``W`` (one step late)
    and drive ``d`` per step, the rates ``a`` (spikes per step) approach the fixed point

        a = clip((W a + F x_bar + d) / threshold, 0, 1)

    (the equilibrium SPIDE differentiates; the error of a ``T``-step average is
    ``O(1 / T)``).

    Returns
    -------
    (forward dict of :meth:`SNN.forward`, rates ``a`` of shape (batch, n))
    """
    r = model(x)
    return r, r["spikes"][-1].mean(1)


@torch.no_grad()
def spiking_adjoint(g: torch.Tensor, w: torch.Tensor, mask: torch.Tensor, threshold: torch.Tensor, steps: int,
                    vth_back: float, counts: dict | None = None) -> torch.Tensor:
    """Backward phase: solve ``lam = g + W^T (mask * lam) / threshold`` with spikes.

    The implicit-function theorem at the fixed point ``a = sigma(z)``,
    ``z = (W a + F x + d) / threshold``, ``sigma = clip(., 0, 1)`` (derivative ``mask``:
    1 where ``0 < a < 1``), gives ``dL/dW = (mask * lam / threshold)^T a`` and
    ``dL/dF = (mask * lam / threshold)^T x_bar`` with ``lam`` the solution above and ``g =
    dL/da``. SPIDE obtains ``lam`` as the average output of ternary integrate-and-fire
    neurons: each integrates ``g`` plus the feedback of the others' spikes, fires ``+v`` at
    ``u >= v`` and ``-v`` at ``u <= -v`` and subtracts what it fired; the time average of the
    output is ``lam`` within ``v / steps`` wherever ``|lam| <= v``.

    Parameters
    ----------
    g : (batch, n) ``dL/da``
    w : (n, n) feedback weights (``W[i, j]``: from ``j`` to ``i``)
    mask : (batch, n) 0/1
    threshold : (n,) forward threshold
    steps : int >= 1
    vth_back : float > 0, the ternary neurons' threshold ``v``
    counts : dict, optional
        Filled with the phase's event counts over the batch: ``"spikes"`` (ternary spikes
        fired, either sign) and ``"delivered"`` (those of neurons with ``mask = 1``, the
        only ones that reach the feedback synapses; each reaches ``n`` of them).

    Returns
    -------
    (batch, n) tensor ``lam``.
    """
    u = torch.zeros_like(g)
    s = torch.zeros_like(g)
    total = torch.zeros_like(g)
    for _ in range(steps):
        u = u + g + ((mask * s) / threshold) @ w
        s = vth_back * ((u >= vth_back).to(g.dtype) - (u <= -vth_back).to(g.dtype))
        u = u - s
        total += s
        if counts is not None:
            fired = s != 0
            counts["spikes"] = counts.get("spikes", 0) + int(fired.sum())
            counts["delivered"] = counts.get("delivered", 0) + int((fired & (mask != 0)).sum())
    return total / steps


def spide_grads(model, x: torch.Tensor, y: torch.Tensor, loss_kind: str, steps_back: int,
                vth_back: float = 0.0) -> tuple[dict, torch.Tensor, dict]:
    """One SPIDE gradient: forward phase, readout loss, spiking backward phase.

    The readout (leaky integrator over the feedback layer's spikes, trained by ordinary
    autograd) sees the spikes themselves in the forward pass; its gradient reaches the
    layer as if every step carried the equilibrium rate (``s = a + (s - a).detach()``), which
    gives ``g = dL/da``. :func:`spiking_adjoint` turns ``g`` into ``lam``; the hidden weights'
    ``.grad`` are set from it (local: post-synaptic ``mask * lam``, pre-synaptic rates).

    Parameters
    ----------
    model : SNN with ``cfg.recurrent`` and one hidden layer
    x : (batch, steps, n_inputs); y : (batch,) labels
    vth_back : float, 0 = twice the largest ``|g|`` of the batch

    Returns
    -------
    (forward dict, loss, stats): stats ``vth_back``, ``backward_rate`` (fraction of
    non-zero ``lam``), and the batch's event counts for the energy proxy:
    ``input_events``, ``forward_spikes`` (feedback layer), ``backward_spikes`` and
    ``backward_delivered`` (:func:`spiking_adjoint`), ``update_posts`` (non-zero entries of
    ``mask * lam``: each updates the row of ``W`` and of ``F`` into that neuron).
    """
    from training.lif import run_li

    r, a = equilibrium_rates(model, x)
    s = r["spikes"][-1]
    a_var = a.clone().requires_grad_(True)
    s_st = a_var.unsqueeze(1) + (s - a.unsqueeze(1))
    ro = model.n_hidden_layers
    out = run_li(model.layer_params(ro), model.projections[-1](s_st))
    loss = classification_loss(out, y, loss_kind)
    loss.backward()
    g = a_var.grad
    thr = model.threshold(0).to(g.dtype)
    v = float(vth_back) if vth_back > 0 else 2.0 * float(g.abs().max())
    mask = ((a > 0) & (a < 1)).to(g.dtype)
    w = model.recurrent.weight
    counts = {}
    if v > 0:
        lam = spiking_adjoint(g.detach(), w.detach(), mask, thr, steps_back, v, counts)
    else:
        lam = torch.zeros_like(g)
    post = mask * lam / thr  # (batch, n)
    x_bar = x.to(g.dtype).mean(1)
    with torch.no_grad():
        gw = post.T @ a
        gf = post.T @ x_bar
        w.grad = gw.to(w.dtype) if w.grad is None else w.grad + gw.to(w.dtype)
        f = model.projections[0].weight
        f.grad = gf.to(f.dtype) if f.grad is None else f.grad + gf.to(f.dtype)
    r = dict(r, out=out.detach())
    stats = {"vth_back": v, "backward_rate": float((lam != 0).float().mean()), "input_events": float(x.sum()),
             "forward_spikes": float(s.sum()), "backward_spikes": counts.get("spikes", 0),
             "backward_delivered": counts.get("delivered", 0), "update_posts": int((post != 0).sum())}
    return r, loss.detach(), stats


def feedback_norm(w: torch.Tensor, norm: str) -> float:
    """``||W||`` for ``train.spide_feedback_norm``: ``"spectral"`` (largest singular value)
    or ``"frobenius"``."""
    if norm == "spectral":
        return float(torch.linalg.matrix_norm(w.detach().double(), ord=2))
    if norm == "frobenius":
        return float(torch.linalg.matrix_norm(w.detach().double(), ord="fro"))
    raise ValueError(f"feedback_norm: norm must be 'spectral' or 'frobenius', got {norm!r}")


@torch.no_grad()
def restrict_feedback(model, norm: str, max_rel: float) -> float:
    """Scale the feedback matrix back into ``||W|| <= max_rel * threshold`` (in place).

    The SPIDE code keeps its feedback weights well-posed by a reparameterisation that
    divides them by their (sampled) Frobenius norm when it exceeds a bound; we project
    after each optimiser step instead, which reaches the same set of matrices and leaves
    the restricted ``W`` itself in the model (and in the exported file). Why it matters:
    ``relu`` and ``clip(., 0, 1)`` are 1-Lipschitz, so with ``||W||_2 < threshold`` the map
    ``a -> relu(W a + b) / threshold`` is a contraction. Its fixed point (the equilibrium
    SPIDE differentiates) is unique, the adjoint system ``lam = g + W^T (mask * lam) /
    threshold`` has a unique solution that the ternary neurons approach, and in an engine
    that lets a neuron fire several spikes at one instant (the exact engine: subtract reset
    leaves ``V >= threshold``) the spike counts fed back one step later shrink by
    ``||W|| / threshold`` per step instead of growing. The Frobenius norm bounds the
    spectral norm, so it is the stricter of the two.

    Parameters
    ----------
    model : SNN with ``cfg.recurrent``
    norm : ``"spectral"`` or ``"frobenius"``
    max_rel : bound in units of the layer's smallest threshold, > 0

    Returns
    -------
    the norm before the projection.
    """
    if not max_rel > 0:
        raise ValueError(f"restrict_feedback: max_rel must be > 0, got {max_rel!r}")
    w = model.recurrent.weight
    before = feedback_norm(w, norm)
    bound = float(max_rel) * float(model.threshold(model.n_hidden_layers - 1).detach().min())
    if before > bound * (1 + 1e-12):  # (rounding of a W already on the sphere: leave it)
        w.mul_(bound / before)
    return before
