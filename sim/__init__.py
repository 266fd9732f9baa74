"""axon's simulator: network description, exact event-driven engine, results.

``sim`` never imports torch, brian2 or nest.
"""
from sim.events import Events, merge_duplicates
from sim.network import INPUT, Conv1D, Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.results import Counts, SimResult, SpikeTrains

__all__ = ["Events", "merge_duplicates", "INPUT", "Conv1D", "Lateral", "LIFLayer", "Network", "Projection",
           "ReadoutLayer", "Counts", "SimResult", "SpikeTrains", "ExactSimulator", "simulate"]


def __getattr__(name):
    # The compiled engine is imported on first use so `import sim` stays light.
    if name in ("ExactSimulator", "simulate"):
        from sim import exact
        return getattr(exact, name)
    raise AttributeError(name)
