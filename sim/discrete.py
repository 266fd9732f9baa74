"""The discretisation rules, once: seconds <-> steps, binning, ``beta`` <-> ``tau``, drive per step.

Training (``training.lif``, ``training.binning``), the grid engine (``sim.engines.grid``) and
``bridge.conventions`` (which adds the Brian2/NEST offsets) all call these functions, so the
float64 training forward pass and the grid engine compute bit-identical decay factors,
drives and step indices (docs/semantics.md, "The discrete-time model").

Two rounding rules, on purpose different:

* **delays** and durations that become a step count: ``k = round_half_up(d / dt)``, i.e.
  ``floor(d / dt + 1/2 + STEP_EPS)`` (:func:`seconds_to_steps`); training rounds its
  continuous delay positions the same way.
* **event times** (binning an input spike): ``n = floor(t / dt + STEP_EPS)``, the step whose
  interval ``[n dt, (n + 1) dt)`` holds ``t`` (:func:`time_to_step`).

Both add :data:`STEP_EPS` (in steps) before the ``floor`` so that a value computed as
``k * dt`` lands on ``k`` although ``(k * dt) / dt`` may round to just below ``k``
(``0.003 / 0.001 == 2.9999999999999996``), and a delay meant as ``k + 1/2`` steps rounds up
although ``0.0015 / 0.001 == 1.4999999999999998``.
"""
from __future__ import annotations

import math

import numpy as np

from sim.errors import InputError, fmt_value

__all__ = ["STEP_EPS", "ROUNDING", "check_dt", "seconds_to_steps", "steps_to_seconds", "time_to_step",
           "n_steps_for", "same_dt", "beta_from_tau", "tau_from_beta", "drive_term", "drive_per_step",
           "drive_from_per_step"]

#: Tolerance in steps. Far below any float32 spacing of a learned position (2.4e-7 near 2.5
#: steps) and far above float64 division error (~1e-15).
STEP_EPS = 1e-9

#: The delay rounding rule's name, stored in the task record beside ``dt_s``.
ROUNDING = "round_half_up"


def check_dt(dt_s) -> float:
    """``dt_s`` as a float, or :class:`~sim.errors.InputError` unless finite and > 0."""
    try:
        dt = float(dt_s)
    except (TypeError, ValueError):
        raise InputError(f"dt_s must be a finite number > 0, got {fmt_value(dt_s)}") from None
    if not (math.isfinite(dt) and dt > 0):
        raise InputError(f"dt_s must be a finite number > 0, got {fmt_value(dt_s)}")
    return dt


def _finite(name: str, a: np.ndarray) -> None:
    if a.size and not np.all(np.isfinite(a)):
        i = int(np.nonzero(~np.isfinite(a.reshape(-1)))[0][0])
        raise InputError(f"{name} must be finite, entry {i} is {fmt_value(a.reshape(-1)[i])}")


# ---------------------------------------------------------------------- seconds <-> steps
def seconds_to_steps(duration_s, dt_s: float) -> np.ndarray:
    """Whole steps of a delay or duration: ``floor(d / dt + 1/2 + STEP_EPS)`` (round half up).

    Parameters
    ----------
    duration_s : float or array, seconds, >= 0
    dt_s : float, seconds, > 0

    Returns
    -------
    int64 array of the same shape (0-d for a scalar input).
    """
    dt = check_dt(dt_s)
    d = np.asarray(duration_s, dtype=np.float64)
    _finite("duration_s", d)
    if d.size and d.min() < 0:
        raise InputError(f"duration_s must be >= 0, got {fmt_value(d.min())}")
    return np.floor(d / dt + 0.5 + STEP_EPS).astype(np.int64)


def steps_to_seconds(steps, dt_s: float) -> np.ndarray:
    """``k * dt`` in seconds (float64)."""
    dt = check_dt(dt_s)
    k = np.asarray(steps)
    if k.size and not np.issubdtype(k.dtype, np.integer):
        raise InputError(f"steps must be integers, got dtype {k.dtype}")
    return k.astype(np.float64) * dt


def time_to_step(times_s, dt_s: float) -> np.ndarray:
    """The step an event at ``t`` (seconds) is binned into: ``floor(t / dt + STEP_EPS)``
    (int64, same shape). Used by training's binning, the grid engine and the peers."""
    dt = check_dt(dt_s)
    t = np.asarray(times_s, dtype=np.float64)
    _finite("times_s", t)
    return np.floor(t / dt + STEP_EPS).astype(np.int64)


def n_steps_for(duration_s: float, dt_s: float) -> int:
    """Number of whole steps in a window of ``duration_s`` (round half up, as delays)."""
    return int(seconds_to_steps(duration_s, dt_s))


def same_dt(a: float | None, b: float | None) -> bool:
    """Whether two recorded step lengths are the same grid (relative 1e-12)."""
    if a is None or b is None:
        return False
    return abs(float(a) - float(b)) <= 1e-12 * max(abs(float(a)), abs(float(b)))


# ---------------------------------------------------------------------- beta <-> tau, drive
def beta_from_tau(tau_s, dt_s: float) -> np.ndarray:
    """``beta = exp(-dt / tau)``, float64, numpy's ``exp`` (argument order: ``tau``, then ``dt``).

    Training and the grid engine both call this, so their decay factors are bit-identical
    (torch's and numpy's ``exp`` may differ in the last bit).
    """
    dt = check_dt(dt_s)
    tau = np.asarray(tau_s, dtype=np.float64)
    _finite("tau_s", tau)
    if tau.size and tau.min() <= 0:
        raise InputError(f"tau_s must be > 0, got {fmt_value(tau.min())}")
    return np.exp(-dt / tau)


def tau_from_beta(beta, dt_s: float) -> np.ndarray:
    """``tau = -dt / ln(beta)`` for ``0 < beta < 1``."""
    dt = check_dt(dt_s)
    b = np.asarray(beta, dtype=np.float64)
    _finite("beta", b)
    if b.size and (b.min() <= 0 or b.max() >= 1):
        raise InputError(f"beta must lie in (0, 1), got range [{fmt_value(b.min())}, {fmt_value(b.max())}]")
    return -dt / np.log(b)


def drive_term(beta, drive_hz, tau_s):
    """The per-step drive ``(1 - beta) * b * tau`` from a given ``beta``, evaluated left to right.

    The exact solution of ``dV/dt = -V/tau + b`` over one step; the order of the
    multiplications is part of the float64 parity contract between training and the grid
    engine. Works on numpy arrays and torch tensors alike (training passes tensors).
    """
    return (1 - beta) * drive_hz * tau_s


def drive_per_step(drive_hz, tau_s, dt_s: float) -> np.ndarray:
    """:func:`drive_term` with ``beta = beta_from_tau(tau_s, dt_s)``, float64 numpy."""
    tau = np.asarray(tau_s, dtype=np.float64)
    return drive_term(beta_from_tau(tau, dt_s), np.asarray(drive_hz, dtype=np.float64), tau)


def drive_from_per_step(per_step, tau_s, dt_s: float) -> np.ndarray:
    """Inverse of :func:`drive_per_step`: ``b = d / ((1 - beta) * tau)`` in 1/s."""
    beta = beta_from_tau(tau_s, dt_s)
    return np.asarray(per_step, dtype=np.float64) / ((1.0 - beta) * np.asarray(tau_s, dtype=np.float64))
