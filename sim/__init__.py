"""axon's simulator: the model (sim.model), the engines, the audio pipeline (sim.audio), metrics.

``sim`` never imports torch, brian2 or nest.
"""
from sim.model.events import Events, merge_duplicates
from sim.model.network import INPUT, Conv1D, Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.model.results import Counts, SimResult, SpikeTrains

__all__ = ["Events", "merge_duplicates", "INPUT", "Conv1D", "Lateral", "LIFLayer", "Network", "Projection",
           "ReadoutLayer", "Counts", "SimResult", "SpikeTrains", "ExactSimulator", "simulate"]


def __getattr__(name):
    # The compiled engine is imported on first use so `import sim` stays light.
    if name in ("ExactSimulator", "simulate"):
        from sim.engines import exact
        return getattr(exact, name)
    raise AttributeError(name)
