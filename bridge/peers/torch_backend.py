"""The training model's own forward pass as a peer: the discrete-time model in PyTorch.

The network must come from a checkpoint (``axon export`` names it in the model file's
provenance): the forward pass is rebuilt from the checkpoint in float64 with rounded
delays (``bridge.export.load_trained_model``), the input events are binned with the
training rule on the model's ``dt`` and summed per (step, channel), and a spike at step
``n`` is reported at ``n * dt``, as the grid engine does.
"""
from __future__ import annotations

import time

import numpy as np

from bridge.conventions import n_steps_for, same_dt, time_to_step
from bridge.peers.common import PeerRun, spike_trains_from_global, synaptic_events_from_spikes

__all__ = ["run_torch"]


def run_torch(checkpoint, network, events, duration_s: float, dt_s: float, *, dtype: str = "float64") -> PeerRun:
    """Run the checkpoint's forward pass on ``events`` for ``duration_s`` (one sample)."""
    import torch

    from bridge.export import load_trained_model

    t0 = time.perf_counter()
    model, _ = load_trained_model(checkpoint, dtype=dtype)
    if not same_dt(model.dt_s, dt_s):
        raise ValueError(f"{checkpoint}: the model was trained with dt_s={model.dt_s!r}, the comparison runs at "
                         f"dt_s={dt_s!r}; the training forward pass only exists on its own grid")
    names = model.layer_names()[:-1]
    spiking = [l.name for l in network.layers]
    if names != spiking:
        raise ValueError(f"{checkpoint}: its layers {names} are not the model file's {spiking}; "
                         "was the model file exported from this checkpoint?")
    if events.channels.size and int(events.channels.max()) >= network.n_inputs:
        raise ValueError(f"events: channel {int(events.channels.max())} out of range for {network.n_inputs} inputs")
    n_steps = n_steps_for(duration_s, dt_s)
    x = np.zeros((1, n_steps, network.n_inputs), dtype=np.float64)
    steps = time_to_step(events.times_s, dt_s)
    keep = steps < n_steps
    np.add.at(x[0], (steps[keep], events.channels[keep]), events.values[keep])
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    with torch.no_grad():
        r = model(torch.from_numpy(x).to(model.dtype))
    run = time.perf_counter() - t1
    spikes = {}
    for name, s in zip(names, r["spikes"]):
        n, i = np.nonzero(s[0].numpy())
        spikes[name] = spike_trains_from_global(network, name, n * dt_s, i)
    return PeerRun(engine=f"torch ({dtype})", spikes=spikes, duration_s=n_steps * dt_s, dt_s=dt_s, build_s=build,
                   run_s=run, synaptic_events=synaptic_events_from_spikes(network, events.channels[keep], spikes),
                   info={"torch_version": torch.__version__, "checkpoint": str(checkpoint), "dtype": dtype})
