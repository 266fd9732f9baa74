"""The errors axon raises on purpose, under one base class :class:`AxonError`.

``sim`` owns them because every package may import ``sim`` and ``sim`` imports nothing
of axon's. The ``axon`` command line prints any of them (and ``ValueError``/``OSError``)
as one line ``axon <command>: error: ...`` with exit status 2; anything else is a bug
and keeps its traceback.

* :class:`InputError` - a file, option or value given by the user is wrong. It is also
  a ``ValueError``, so code that catches ``ValueError`` keeps working.
* :class:`AudioError` - a sound file cannot be read (also an :class:`InputError`).
* :class:`SimulationError` - a run cannot go on (e.g. a lateral cascade that does not
  settle); also a ``RuntimeError``.
* :class:`PeerUnavailableError` - Brian2 or NEST is not installed or cannot run here.
"""
from __future__ import annotations

__all__ = ["AxonError", "InputError", "AudioError", "SimulationError", "PeerUnavailableError",
           "fmt_value", "is_interrupt"]


class AxonError(Exception):
    """Base class of every error axon raises deliberately (reported as one line, exit 2)."""


class InputError(AxonError, ValueError):
    """A user-supplied file, option or value is invalid; the message names it."""


class AudioError(InputError):
    """A sound file cannot be read (unknown format, truncated, corrupt, empty)."""


class SimulationError(AxonError, RuntimeError):
    """A simulation cannot continue (the message names the layer and time)."""


class PeerUnavailableError(AxonError, RuntimeError):
    """A peer simulator (Brian2, NEST, PyTorch) is not installed or cannot run here."""


def reject_unknown_fields(cls, d: dict) -> None:
    """The ``from_dict`` check of a dataclass: ``ValueError`` naming the keys of ``d`` that
    are not fields of ``cls`` (they would mean a newer or foreign format)."""
    from dataclasses import fields

    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{cls.__name__}.from_dict: unknown field(s) {unknown}")


def fmt_value(v) -> str:
    """``repr`` for messages without numpy's type wrappers: ``nan``, not ``np.float64(nan)``."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return repr(v)
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def is_interrupt(exc: BaseException) -> bool:
    """True for Ctrl-C, also when compiled (Numba) code wrapped it in a ``SystemError``
    ("CPUDispatcher(...) returned a result with an exception set")."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
