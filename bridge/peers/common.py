"""What every peer backend returns, and checks they share."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import PeerUnavailableError
from sim.model.network import Network
from sim.model.results import SpikeTrains

__all__ = ["PeerRun", "PeerUnavailable", "spike_trains_from_global", "synaptic_events_from_spikes"]


class PeerUnavailable(PeerUnavailableError):
    """The peer simulator (Brian2, NEST) is not installed or cannot run here."""


@dataclass
class PeerRun:
    """Spikes of one peer run in axon's format, plus how long it took.

    ``spikes[layer]`` holds times in seconds on axon's time axis (peer-specific shifts
    already undone) and layer-local neuron indices, sorted by (time, neuron).
    ``build_s`` is network construction plus any code generation/compilation; ``run_s``
    the simulation alone (docs/benchmarks.md: compilation is reported, never hidden).
    """

    engine: str
    spikes: dict[str, SpikeTrains]
    duration_s: float
    dt_s: float | None
    build_s: float
    run_s: float
    synaptic_events: int = 0
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "engine": self.engine, "duration_s": self.duration_s, "dt_s": self.dt_s,
            "build_s": self.build_s, "run_s": self.run_s, "synaptic_events": int(self.synaptic_events),
            "spikes_per_layer": {k: len(v) for k, v in self.spikes.items()}, **self.info,
        }


def spike_trains_from_global(network: Network, layer: str, times_s, neurons) -> SpikeTrains:
    """Sorted :class:`SpikeTrains` of ``layer`` from peer arrays (layer-local indices)."""
    t = np.asarray(times_s, dtype=np.float64)
    i = np.asarray(neurons, dtype=np.int64)
    order = np.lexsort((i, t))
    return SpikeTrains(t[order], i[order], network.size_of(layer))


def synaptic_events_from_spikes(network: Network, input_channels: np.ndarray, spikes: dict[str, SpikeTrains]) -> int:
    """Synaptic events a run delivered: every source spike times its out-degree (feed-forward
    and lateral), the same count axon's engines report, derived from the peer's spikes."""
    total = 0
    ch_counts = np.bincount(np.asarray(input_channels, dtype=np.int64), minlength=network.n_inputs)
    for p in network.projections:
        deg = np.bincount(p.pre_idx, minlength=network.size_of(p.pre))
        src = ch_counts if p.pre == "input" else spikes[p.pre].counts()
        total += int(np.dot(src, deg))
    for lay in network.layers:
        lat = network.lateral(lay.name)
        if lat is not None and lay.name in spikes:
            member_spikes = spikes[lay.name].counts()[lat.members]      # (n_groups, group_size)
            total += int(member_spikes.sum()) * int(lat.members.shape[1])
    return total
