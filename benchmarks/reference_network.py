"""The docs/benchmarks.md reference network; it lives in :mod:`sim.model.examples` so the installed
``axon`` command can build it too. Kept here so benchmark scripts import it from one place."""
from sim.model.examples import MAX_DELAY_S, N_HIDDEN, N_IN, N_OUT, build_reference_network, poisson_events  # noqa: F401
