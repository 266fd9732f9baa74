"""The trainable spiking network: delayed dense or convolutional projections, LIF layers,
leaky readout.

``input -> [Conv/DelayProjection -> (BatchNorm) -> LIF (+ lateral)] x L -> DelayProjection -> LI``

Owns the parameter layout that leaves training (:meth:`SNN.export_dict`), the batch-norm
folding that makes a trained model expressible in the simulator's terms
(:func:`fold_batchnorm`), and the lateral matrices ``Omega = W W^T``.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from training.config import ModelConfig
from training.delays import ConvDelayProjection, DelayProjection
from training.lif import LIFParams, beta_from_tau, drive_per_step, run_li, run_lif

__all__ = ["SNN", "fold_batchnorm", "ann_leak_compensation", "map_ann_to_snn", "EXPORT_FORMAT", "EXPORT_VERSION",
           "FORWARD_MODES"]

FORWARD_MODES = ("snn", "ann")

EXPORT_FORMAT = "axon.training.export"
EXPORT_VERSION = 1

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class SNN(nn.Module):
    """Feed-forward spiking classifier with per-synapse delays.

    Parameters
    ----------
    n_inputs : int
        Input channel count.
    n_classes : int
        Readout size.
    cfg : ModelConfig
    dt_s : float
        Grid step in seconds.
    generator : torch.Generator
        Source of every random initial value.
    class_names : list of str, optional
        Stored in the export.
    """

    def __init__(self, n_inputs: int, n_classes: int, cfg: ModelConfig, dt_s: float,
                 generator: torch.Generator | None = None, class_names: list[str] | None = None):
        super().__init__()
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.cfg = cfg
        self.dtype = _DTYPES[cfg.dtype]
        self.dt_s = float(dt_s)
        self.n_inputs, self.n_classes = int(n_inputs), int(n_classes)
        self.class_names = list(class_names) if class_names is not None else None
        projs, bns = [], []
        # The first conv layer sees the inputs as conv_input_channels channel-major blocks of
        # frequency bands (positions); later conv layers are position-major.
        cin = cfg.conv_input_channels
        if cfg.conv_layers and self.n_inputs % cin:
            raise ValueError(f"config: model.conv_input_channels = {cin} does not divide the {self.n_inputs} inputs")
        positions, channels, size = self.n_inputs // cin, cin, self.n_inputs
        layout = "channel_major"
        for l in range(len(cfg.hidden)):
            if cfg.is_conv(l):
                kernel, stride, dilation = cfg.conv_for_layer(l)
                try:
                    p = ConvDelayProjection(positions, channels, cfg.hidden[l], kernel, stride, dilation,
                                            cfg.max_delay_steps, cfg.delays, generator, cfg.weight_scale, self.dtype,
                                            in_layout=layout, min_delay_steps=cfg.min_delay_steps)
                except ValueError as e:
                    raise ValueError(f"config: model conv layer {l} (conv_kernel/conv_stride/conv_dilation) does "
                                     f"not fit its input: {e}") from None
                positions, channels, layout = p.out_positions, p.out_channels, "position_major"
                n_norm = channels  # batch norm per channel, statistics over batch, time and positions
            else:
                p = DelayProjection(size, cfg.hidden[l], cfg.max_delay_steps, cfg.delays, generator,
                                    cfg.weight_scale, self.dtype, min_delay_steps=cfg.min_delay_steps)
                n_norm = p.n_out
            size = p.n_out
            projs.append(p)
            bns.append(nn.BatchNorm1d(n_norm, dtype=self.dtype) if cfg.batch_norm else nn.Identity())
        #: Neurons per hidden layer (a conv layer has channels x positions).
        self.layer_sizes = [p.n_out for p in projs]
        sizes = [self.n_inputs] + self.layer_sizes
        ro_mode = cfg.delays if cfg.readout_delays else "none"
        projs.append(DelayProjection(sizes[-1], self.n_classes, cfg.max_delay_steps, ro_mode, generator,
                                     cfg.weight_scale, self.dtype,
                                     min_delay_steps=cfg.min_delay_steps if ro_mode != "none" else 0))
        self.projections = nn.ModuleList(projs)
        self.norms = nn.ModuleList(bns)
        # Feedback of the last hidden layer onto itself, one step late (train.method = "spide").
        self.recurrent = (DelayProjection(sizes[-1], sizes[-1], 0, "none", generator, cfg.weight_scale, self.dtype)
                          if cfg.recurrent else None)
        # Neuron parameters, per neuron, SI units. tau and threshold are not trained.
        for l, n in enumerate(self.layer_sizes):
            self.register_buffer(f"tau_mem_s_{l}", torch.full((n,), cfg.tau_for_layer(l), dtype=torch.float64))
            self.register_buffer(f"threshold_{l}", torch.full((n,), cfg.threshold, dtype=torch.float64))
        self.register_buffer("tau_mem_s_ro", torch.full((self.n_classes,), cfg.tau_readout_s, dtype=torch.float64))
        self.drive_hz = nn.ParameterList(
            [nn.Parameter(torch.zeros(n, dtype=self.dtype), requires_grad=cfg.learn_drive)
             for n in self.layer_sizes + [self.n_classes]])
        # Lateral matrices frozen by fold_batchnorm (None: computed from the weights).
        self._omega_frozen: list[torch.Tensor | None] = [None] * len(cfg.hidden)
        # How a sample is put on the grid and decided (see set_task); None until known.
        self.task: dict = {"n_steps": None, "start_s": None, "decision_rule": None, "frontend": None,
                           "dataset": None}

    def set_task(self, n_steps: int, start_s: float, decision_rule: str, frontend: dict | None = None,
                 dataset: dict | None = None) -> None:
        """Record what the exported network needs to classify a sample as in training.

        Parameters
        ----------
        n_steps : int >= 1
            Steps of ``dt_s`` per sample (the sample window is ``n_steps * dt_s`` seconds).
        start_s : float >= 0
            Time of a sample that maps to the start of step 0.
        decision_rule : {"mean_softmax", "per_step", "max"}
            The training loss kind; :func:`training.losses.class_scores` gives the rule.
        frontend : dict, optional
            ``sim.audio.frontend.FrontEndConfig.to_dict()`` of the audio front end that made the
            training data (None when unknown, e.g. real SHD files).
        dataset : dict, optional
            Provenance of the data (paths, kind, sizes); JSON-ready values only.
        """
        from training.losses import LOSSES

        if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"SNN.set_task: n_steps must be an integer >= 1, got {n_steps!r}")
        if not (np.isfinite(start_s) and start_s >= 0):
            raise ValueError(f"SNN.set_task: start_s must be a finite number >= 0, got {start_s!r}")
        if decision_rule not in LOSSES:
            raise ValueError(f"SNN.set_task: decision_rule must be one of {LOSSES}, got {decision_rule!r}")
        if frontend is not None and not isinstance(frontend, dict):
            raise ValueError(f"SNN.set_task: frontend must be a dict or None, got {type(frontend).__name__}")
        self.task = {"n_steps": int(n_steps), "start_s": float(start_s), "decision_rule": str(decision_rule),
                     "frontend": None if frontend is None else dict(frontend),
                     "dataset": None if dataset is None else dict(dataset)}

    # ----------------------------------------------------------------- structure
    @property
    def n_hidden_layers(self) -> int:
        return len(self.cfg.hidden)

    def layer_names(self) -> list[str]:
        return [f"hidden{l}" for l in range(self.n_hidden_layers)] + ["readout"]

    def tau_mem_s(self, l: int) -> torch.Tensor:
        return self.tau_mem_s_ro if l == self.n_hidden_layers else getattr(self, f"tau_mem_s_{l}")

    def threshold(self, l: int) -> torch.Tensor | None:
        return None if l == self.n_hidden_layers else getattr(self, f"threshold_{l}")

    def beta(self, l: int) -> torch.Tensor:
        """``exp(-dt/tau)`` of layer ``l`` (float64, numpy-computed; see :func:`beta_from_tau`)."""
        tau = self.tau_mem_s(l)
        return torch.from_numpy(beta_from_tau(tau.detach().cpu().numpy(), self.dt_s)).to(tau.device)

    def is_conv(self, l: int) -> bool:
        return l < self.n_hidden_layers and self.cfg.is_conv(l)

    def lateral_matrix(self, l: int) -> torch.Tensor | None:
        """``Omega = lateral_scale * W W^T`` of hidden layer ``l`` (diagonal included), or None.

        With ``lateral_diagonal = "replace_reset"``, ``Omega = lateral_scale * W W^T -
        threshold * I``: reset (minus threshold) and self term together lower a neuron that
        fires by ``lateral_scale * ||w_i||^2`` (the diagonal acts as the reset).

        Dense layer: ``W`` is the (n, n_in) weight matrix and ``Omega`` is (n, n), one group.
        Conv layer: ``W`` is the (channels, in_channels * kernel_size) kernel matrix and
        ``Omega`` is (channels, channels), shared by the group of channels at every position
        (``Omega[j, i]`` is the dot product of the kernels of channels ``j`` and ``i``: the
        overlap of two neurons with the same receptive field).
        """
        if not self.cfg.lateral:
            return None
        if self._omega_frozen[l] is not None:
            return self._omega_frozen[l]
        w = self.projections[l].weight
        w = w.reshape(w.shape[0], -1)
        omega = self.cfg.lateral_scale * (w @ w.T)
        if self.cfg.lateral_diagonal == "replace_reset":
            omega = omega - self.cfg.threshold * torch.eye(omega.shape[0], dtype=omega.dtype, device=omega.device)
        return omega

    def lateral_group_size(self, l: int) -> int:
        """Neurons per lateral group of hidden layer ``l`` (contiguous groups)."""
        return self.projections[l].out_channels if self.is_conv(l) else self.layer_sizes[l]

    def _batch_norm(self, l: int, cur: torch.Tensor) -> torch.Tensor:
        """Batch norm of layer ``l`` on (batch, n, steps) currents: per neuron for a dense
        layer, per channel (shared by all positions) for a conv layer."""
        if not self.is_conv(l):
            return self.norms[l](cur)
        b, n, t = cur.shape
        c = self.projections[l].out_channels
        x = cur.reshape(b, n // c, c, t).transpose(1, 2).reshape(b, c, -1)
        return self.norms[l](x).reshape(b, c, n // c, t).transpose(1, 2).reshape(b, n, t)

    def layer_params(self, l: int) -> LIFParams:
        beta64 = self.beta(l)
        tau64 = self.tau_mem_s(l)
        thr = self.threshold(l)
        beta = beta64.to(self.dtype)
        drive = drive_per_step(beta, self.drive_hz[l], tau64.to(self.dtype))
        return LIFParams(
            beta=beta, drive=drive, threshold=None if thr is None else thr.to(self.dtype),
            reset=self.cfg.reset, omega=None if thr is None else self.lateral_matrix(l),
            surrogate=self.cfg.surrogate, slope=self.cfg.surrogate_slope)

    # ----------------------------------------------------------------- delays
    def delay_projections(self) -> list[DelayProjection | ConvDelayProjection]:
        return [p for p in self.projections if p.mode == "learned"]

    def set_sigma(self, sigma: float) -> None:
        for p in self.delay_projections():
            p.sigma = float(sigma)

    def set_rounded(self, rounded: bool) -> None:
        """Rounded (one-hot at ``round_half_up(pos)``) or Gaussian delay kernels."""
        for p in self.delay_projections():
            p.rounded = bool(rounded)

    def clamp_positions(self) -> None:
        for p in self.delay_projections():
            p.clamp_positions()

    # ----------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, mode: str = "snn") -> dict:
        """Run the network over a batch.

        Parameters
        ----------
        x : (batch, steps, n_inputs) binned input spike counts
        generator : torch.Generator, optional
            Source of the dropout masks (training mode with ``dropout > 0`` only).
        mode : {"snn", "ann"}
            ``"ann"`` runs the network's ANN twin (``train.method = "ann_pretrain"``): the
            same projections, delay taps, batch norms and readout, but every LIF layer is
            replaced by its rate, ``a[n] = clip((I[n] + drive) / threshold, 0, 1)`` spikes
            per step -- the firing rate of a non-leaky integrate-and-fire neuron with
            subtract reset under a constant input ``I`` (the twin's parameters are the
            SNN's, in threshold units). :func:`map_ann_to_snn` adds the drive that makes
            the leaky neuron fire at that rate.

        Returns
        -------
        dict with ``out`` (batch, steps, n_classes) readout potentials and ``spikes``, a
        list of (batch, steps, n) spike tensors, one per hidden layer (rates in ``"ann"`` mode).
        """
        if mode not in FORWARD_MODES:
            raise ValueError(f"SNN.forward: mode must be one of {FORWARD_MODES}, got {mode!r}")
        h = x.to(self.dtype)
        spikes = []
        for l in range(self.n_hidden_layers):
            cur = self.projections[l].forward_channels_first(h)  # (batch, n, steps)
            if self.cfg.batch_norm:
                cur = self._batch_norm(l, cur)  # statistics over batch and time (and positions)
            if mode == "ann":
                p = self.layer_params(l)
                s = ((cur.transpose(1, 2) + p.drive) / p.threshold).clamp(0.0, 1.0)
            elif self.recurrent is not None and l == self.n_hidden_layers - 1:
                s = self._run_recurrent(l, cur.transpose(1, 2))
            else:
                s, _ = run_lif(self.layer_params(l), cur.transpose(1, 2))
            spikes.append(s)
            h = s
            if self.training and self.cfg.dropout > 0:
                keep = 1.0 - self.cfg.dropout
                mask = (torch.rand(h.shape, generator=generator, dtype=h.dtype) < keep).to(h.dtype) / keep
                h = h * mask
        cur = self.projections[-1](h)
        out = run_li(self.layer_params(self.n_hidden_layers), cur)
        return {"out": out, "spikes": spikes}

    def _run_recurrent(self, l: int, currents: torch.Tensor) -> torch.Tensor:
        """The feedback layer: ``I[n] += W_rec s[n-1]`` (a one-step delay), then the LIF
        step of docs/semantics.md; a plain loop of :func:`training.lif.lif_step`."""
        from training.lif import LIFState, lif_step

        p = self.layer_params(l)
        b, _, n = currents.shape
        state = LIFState(currents.new_zeros(b, n))
        s_prev = currents.new_zeros(b, n)
        w = self.recurrent.weight
        out = []
        for i_n in currents.unbind(1):
            state, s_prev = lif_step(state, p, i_n + s_prev @ w.T)
            out.append(s_prev)
        return torch.stack(out, 1)

    # ----------------------------------------------------------------- export
    def export_dict(self) -> dict:
        """Plain-numpy description of the network, SI units, batch norm folded in.

        Always uses the rounded delays for ``delay_steps`` and keeps the continuous positions
        beside them. See the training README for the exact layout.

        Besides the network, the dict says how a sample is classified (filled by
        :meth:`set_task`, which training calls; ``None`` when never set): ``n_steps`` and
        ``start_s`` (the sample window on the ``dt_s`` grid), ``readout_decision`` (the
        decision rule = training loss kind, see :func:`training.losses.class_scores`),
        ``frontend`` (the front-end config of the training data) and the same values in
        ``metadata["training"]`` (``dt_s``, ``n_steps``, ``start_s``, ``decision_rule``),
        ``metadata["frontend"]`` and ``metadata["dataset"]``.
        """
        m = fold_batchnorm(self) if self.cfg.batch_norm else self
        m = m.eval()
        layers = []
        for l, name in enumerate(self.layer_names()):
            is_ro = l == self.n_hidden_layers
            tau = m.tau_mem_s(l).detach().cpu().numpy().astype(np.float64)
            omega = None if is_ro else m.lateral_matrix(l)
            layers.append({
                "name": name,
                "kind": "li" if is_ro else "lif",
                "size": int(tau.shape[0]),
                "tau_mem_s": tau,
                "beta": m.beta(l).cpu().numpy().astype(np.float64),
                "threshold": None if is_ro else m.threshold(l).detach().cpu().numpy().astype(np.float64),
                "reset": None if is_ro else self.cfg.reset,
                "drive_hz": m.drive_hz[l].detach().cpu().numpy().astype(np.float64),
                "lateral": None if omega is None else omega.detach().cpu().numpy().astype(np.float64),
                "lateral_group_size": None if omega is None else m.lateral_group_size(l),
            })
        projections = []
        pre_names = ["input"] + self.layer_names()[:-1]
        for l, p in enumerate(m.projections):
            pos = p.pos.detach().cpu().numpy().astype(np.float64)
            d = {
                "name": f"{pre_names[l]}->{self.layer_names()[l]}",
                "pre": pre_names[l],
                "post": self.layer_names()[l],
                "kind": "dense",
                "weight": p.weight.detach().cpu().numpy().astype(np.float64),
                "delay_steps": p.delay_steps().cpu().numpy().astype(np.int64),
                "delay_steps_continuous": pos,
                "delay_s": pos * self.dt_s,
                "max_delay_steps": int(p.max_delay_steps),
                "delay_mode": p.mode,
            }
            if isinstance(p, ConvDelayProjection):
                # Compact: the (out_channels, in_channels, kernel_size) kernel and its delays,
                # with the geometry that expands them (sim.Conv1D).
                d["kind"] = "conv1d"
                d["kernel"] = d.pop("weight")
                d["geometry"] = p.geometry()
            projections.append(d)
        if self.recurrent is not None:
            name = self.layer_names()[self.n_hidden_layers - 1]
            w = m.recurrent.weight.detach().cpu().numpy().astype(np.float64)
            projections.append({"name": f"{name}->{name}", "pre": name, "post": name, "kind": "dense", "weight": w,
                                "delay_steps": np.ones(w.shape, np.int64),
                                "delay_steps_continuous": np.ones(w.shape), "delay_s": np.full(w.shape, self.dt_s),
                                "max_delay_steps": 1, "delay_mode": "fixed"})
        return {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_VERSION,
            "dt_s": self.dt_s,
            "n_inputs": self.n_inputs,
            "n_classes": self.n_classes,
            "class_names": self.class_names,
            "delay_rounding": "round_half_up",
            "readout_decision": self.task["decision_rule"],
            "n_steps": self.task["n_steps"],
            "start_s": self.task["start_s"],
            "frontend": self.task["frontend"],
            "layers": layers,
            "projections": projections,
            "metadata": {
                "training": {"dt_s": self.dt_s, "n_steps": self.task["n_steps"], "start_s": self.task["start_s"],
                             "decision_rule": self.task["decision_rule"], "delay_rounding": "round_half_up",
                             "batch_norm_folded": bool(self.cfg.batch_norm)},
                "frontend": self.task["frontend"],
                "dataset": self.task["dataset"],
                "model_config": {k: getattr(self.cfg, k) for k in self.cfg.__dataclass_fields__},
            },
        }


def ann_leak_compensation(beta: float, threshold: float = 1.0, n_steps: int = 2000, iterations: int = 5) -> float:
    """Constant drive per step that makes a leaky neuron fire at its ANN twin's rate.

    Over a long run of a LIF neuron with subtract reset, summing
    ``V[n] = beta V[n-1] + d + I - threshold s[n]`` over ``N`` steps gives exactly

        threshold * rate = I + d - (1 - beta) * mean(V)        (spikes per step, V after reset)

    so the rate is the twin's ``I / threshold`` when the drive ``d`` replaces what the leak
    takes, ``d = (1 - beta) * mean(V)``. ``mean(V)`` depends on ``I``; this function takes its
    average over inputs that give rates 0.05..0.95 per step (a fixed point: the drive
    changes ``mean(V)``, so it iterates). For ``beta -> 1`` it tends to 0 (no leak, nothing
    to replace); for a large leak the neuron's rate is a staircase in ``I`` (mode locking)
    and one constant matches the ramp only on average (``tests/training/test_methods.py``
    states how closely).

    This is our derivation for axon's neuron, not a formula copied from Lin et al. (2022),
    whose body we could not read; their transfer maps parameters one to one and relies on
    fine-tuning to absorb the difference.

    Parameters
    ----------
    beta : float in (0, 1]
        ``exp(-dt / tau)``.
    threshold : float > 0

    Returns
    -------
    float : drive per step (same units as the potential).
    """
    beta = float(beta)
    if not 0 < beta <= 1:
        raise ValueError(f"ann_leak_compensation: beta must be in (0, 1], got {beta!r}")
    z = np.linspace(0.05, 0.95, 19) * threshold
    d = (1 - beta) * 0.5 * threshold
    for _ in range(iterations):
        v = np.zeros_like(z)
        v_sum = np.zeros_like(z)
        for _n in range(n_steps):
            u = beta * v + d + z
            v = u - threshold * (u >= threshold)
            v_sum += v
        d = (1 - beta) * float(np.mean(v_sum / n_steps))
    return d


@torch.no_grad()
def map_ann_to_snn(model: SNN) -> dict:
    """Turn a model trained as its ANN twin (``forward(mode="ann")``) into the SNN, in place.

    The twin is expressed in the SNN's units (current in threshold units, rate in spikes
    per step), so weights, delays, batch norm and readout carry over one to one (the weight
    scale is ``threshold``, already in the parameters). What differs is the leak: each
    hidden layer's drive grows by :func:`ann_leak_compensation`, converted to the model's
    drive in 1/s (``(1 - beta) b tau = d``).

    Returns
    -------
    dict : per hidden layer, the added drive per step and in Hz.
    """
    added = {}
    for l in range(model.n_hidden_layers):
        beta = model.beta(l).to(torch.float64)
        thr = model.threshold(l).to(torch.float64)
        tau = model.tau_mem_s(l).to(torch.float64)
        if not (torch.all(beta == beta[0]) and torch.all(thr == thr[0])):
            raise ValueError(f"map_ann_to_snn: layer {l} has per-neuron beta or threshold; one value per layer expected")
        d = ann_leak_compensation(float(beta[0]), float(thr[0]))
        b_hz = d / ((1 - beta) * tau)
        model.drive_hz[l].data += b_hz.to(model.drive_hz[l].dtype)
        added[f"hidden{l}"] = {"drive_per_step": d, "drive_hz": float(b_hz[0])}
    return added


@torch.no_grad()
def fold_batchnorm(model: SNN) -> SNN:
    """A copy of ``model`` without batch norm that computes the same eval-mode forward pass.

    A batch norm on the synaptic input, ``BN(I) = g * (I - mu) / sqrt(var + eps) + c``, is a
    per-neuron affine map ``a * I + d`` with ``a = g / sqrt(var + eps)`` and
    ``d = c - a * mu``. The scale ``a`` multiplies every incoming weight of the neuron
    (kernels are linear in the weight, whatever the delays); the constant ``d`` added at
    every step is a drive ``b`` with ``(1 - beta) * b * tau = d``, i.e.
    ``b += d / ((1 - beta) * tau)`` (units 1/s). Lateral matrices are computed from the
    unfolded weights and frozen into the copy. A conv layer's batch norm is per channel:
    ``a`` scales that channel's kernel (still shared by all positions) and ``d`` becomes
    the drive of the channel's neuron at every position.
    """
    if not model.cfg.batch_norm:
        return copy.deepcopy(model)
    omegas = [model.lateral_matrix(l) for l in range(model.n_hidden_layers)]
    folded = copy.deepcopy(model)
    folded.cfg = _replace_cfg(model.cfg, batch_norm=False)
    for l in range(model.n_hidden_layers):
        bn = model.norms[l]
        std = torch.sqrt(bn.running_var.to(torch.float64) + bn.eps)
        a = bn.weight.to(torch.float64) / std
        d = bn.bias.to(torch.float64) - a * bn.running_mean.to(torch.float64)
        proj = folded.projections[l]
        a_w = a.reshape(-1, *([1] * (proj.weight.dim() - 1)))
        proj.weight.copy_((proj.weight.to(torch.float64) * a_w).to(proj.weight.dtype))
        if model.is_conv(l):  # neuron p * C + c has channel c
            d = d.repeat(model.layer_sizes[l] // d.shape[0])
        beta = model.beta(l)
        tau = model.tau_mem_s(l)
        b = folded.drive_hz[l].to(torch.float64) + d / ((1 - beta) * tau)
        folded.drive_hz[l].data = b.to(folded.dtype)
        folded.norms[l] = nn.Identity()
        folded._omega_frozen[l] = None if omegas[l] is None else omegas[l].detach().clone()
    return folded


def _replace_cfg(cfg: ModelConfig, **kw) -> ModelConfig:
    import dataclasses
    return dataclasses.replace(cfg, **kw)
