"""Simulation results: spikes per layer, readout samples, operation counts, firing rates."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SpikeTrains", "Counts", "SimResult"]


@dataclass
class SpikeTrains:
    """Spikes of one layer: ``times_s[k]`` is when ``neurons[k]`` fired (layer-local index).

    Ordered by time; spikes at the same instant appear in the order they were emitted.
    """

    times_s: np.ndarray
    neurons: np.ndarray
    size: int

    def __len__(self) -> int:
        return int(self.times_s.shape[0])

    def counts(self) -> np.ndarray:
        return np.bincount(self.neurons, minlength=self.size).astype(np.int64)

    def rates_hz(self, duration_s: float) -> np.ndarray:
        if duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
        return self.counts() / duration_s


@dataclass
class Counts:
    """Operation counts of a run (docs/semantics.md vocabulary).

    Per layer: ``spikes``, ``synaptic_events`` (weights applied to a neuron of the layer),
    ``lateral_updates`` (lateral effects received), ``state_updates`` (event-driven
    potential updates: one per neuron per instant it was touched). ``input_events`` is
    per input channel.
    """

    input_events: np.ndarray
    spikes: dict[str, np.ndarray]
    synaptic_events: dict[str, np.ndarray]
    lateral_updates: dict[str, np.ndarray]
    state_updates: dict[str, np.ndarray]

    def totals(self) -> dict:
        out = {"input_events": int(self.input_events.sum())}
        for name in ("spikes", "synaptic_events", "lateral_updates", "state_updates"):
            per = getattr(self, name)
            out[name] = int(sum(int(v.sum()) for v in per.values()))
            out[f"{name}_per_layer"] = {k: int(v.sum()) for k, v in per.items()}
        return out


@dataclass
class SimResult:
    """Everything a run produced: spikes per layer, readout samples, counts, duration."""

    spikes: dict[str, SpikeTrains]
    counts: Counts
    duration_s: float
    readout_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    readout: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def rates_hz(self) -> dict[str, np.ndarray]:
        """Firing rate of every neuron, per spiking layer, over the whole duration."""
        return {k: v.rates_hz(self.duration_s) for k, v in self.spikes.items()}

    def layer_rates_hz(self) -> dict[str, float]:
        return {k: float(v.mean()) for k, v in self.rates_hz().items()}

    def summary(self) -> dict:
        """A JSON-ready summary: duration, per-layer rates, totals."""
        return {
            "duration_s": self.duration_s,
            "layer_rate_hz": self.layer_rates_hz(),
            "counts": self.counts.totals(),
        }
