"""The engines: the exact (continuous-time, event-driven) engine and the grid (fixed-step)
engine, with what they share: the flat arrays built from a ``sim.model.Network``
(``compiled``) and the picosecond clock (``ticks``).

Import the engine you use (``from sim.engines.exact import ExactSimulator``,
``from sim.engines.grid import GridSimulator``); this package imports nothing itself, so
that loading one engine does not compile the other.
"""
