"""Time as an integer count of picoseconds: the exact engine's clock.

Every time and delay inside the exact engine is an int64 number of ticks of
``TICK_S = 1e-12`` s. Sums of integers are associative, so two paths that are equally long
on paper arrive at the same tick, and a tie is one integer compare. int64 ticks cover
``2**63 ps``, about 106 days of simulated time.

Converting a float to ticks takes the float's own precision into account. A float64 ``x``
stands for every real number that rounds to it, an interval about one unit in the last
place (ulp) wide. Below 4096 s that interval is narrower than one tick and holds at most
one tick: ``x`` becomes that tick. Later in a run it is wider (1.8 ps at 3 h, 7 ps at
10 h, 1.9 ns at 100 days) and holds several: ``x`` becomes the one with the fewest
significant decimal digits, i.e. the time as a person wrote it (``10800.001`` is
``10800001000000000`` ticks, although the float nearest to it is 0.5 ps away). This is the
same choice Python's ``repr`` makes, restricted to whole picoseconds. A float whose
interval holds no tick (a time with more than 12 decimals, e.g. ``nextafter(0.1, 0)``)
becomes the nearest tick, or for readout sample times (``mode=FLOOR``) the tick below, so
that a sample "just before t" stays before the arrivals at t.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

TICKS_PER_S = 10 ** 12
TICK_S = 1e-12
# The largest time (s) the engine accepts: int64 ticks, with room for the longest delay.
MAX_TIME_S = 9.0e6
NEVER = np.iinfo(np.int64).max

NEAREST, FLOOR = 0, 1

_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter for float64


@njit(cache=True, _nrt=False)
def _two_prod(a, b):
    """``a * b = p + e`` exactly (Dekker; no FMA needed)."""
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@njit(cache=True, _nrt=False)
def to_tick(x, mode):
    """The tick of float seconds ``x`` (0 <= x <= MAX_TIME_S, validated by the caller).

    See the module docstring for the rule; ``mode`` is NEAREST or FLOOR for a float that
    stands for no whole tick.
    """
    s = math.floor(x)
    f = x - s                       # exact: the bits of x below one second
    hi, lo = _two_prod(f, 1e12)     # f * 1e12 == hi + lo exactly
    up = np.nextafter(x, np.inf) - x
    down = x - np.nextafter(x, -np.inf)
    h_up = 0.5 * up * 1e12          # the reals that round to x, in ticks around hi + lo
    h_down = 0.5 * down * 1e12
    base = np.int64(s) * np.int64(TICKS_PER_S)
    if h_up < 0.5 and h_down < 0.5:
        c = math.floor(hi + 0.5)
        d = (c - hi) - lo
        if -h_down <= d <= h_up:
            return base + np.int64(c)
    else:
        p = 1e12
        while p >= 1.0:
            c = math.floor(hi / p + 0.5) * p
            d = (c - hi) - lo
            if -h_down <= d <= h_up:
                return base + np.int64(c)
            p = p / 10.0
            if p < 1.0:
                break
            p = math.floor(p + 0.5)
    # No tick stands for x: nearest (events, delays) or the one below (samples).
    c = math.floor(hi)
    frac = (hi - c) + lo
    if frac < 0.0:
        c -= 1.0
        frac += 1.0
    if mode == NEAREST and frac >= 0.5:
        c += 1.0
    return base + np.int64(c)


@njit(cache=True)
def to_ticks(x, mode):
    """:func:`to_tick` of every element of a float64 array; returns an int64 array."""
    out = np.empty(x.shape[0], np.int64)
    for i in range(x.shape[0]):
        out[i] = to_tick(x[i], mode)
    return out


@njit(cache=True, _nrt=False)
def tick_to_s(t):
    """Float seconds of tick ``t``, correctly rounded (the float nearest to t / 1e12).

    Below 2**53 ticks (2.5 h) ``float(t)`` is exact and one division rounds once. Beyond,
    whole seconds plus the rest round twice, so the float and its two neighbours are
    compared exactly (``(c - s) * 1e12 - r`` by Dekker's product) and the nearest taken."""
    if t < 9007199254740992:
        return float(t) / 1e12
    s = t // TICKS_PER_S
    r = float(t - s * TICKS_PER_S)
    fs = float(s)
    y = fs + r / 1e12
    best = y
    best_d = np.inf
    for c in (np.nextafter(y, -np.inf), y, np.nextafter(y, np.inf)):
        p, e = _two_prod(c - fs, 1e12)   # c - fs is exact: both lie within a second of s >= 9007
        d = abs((p - r) + e)
        if d < best_d:
            best = c
            best_d = d
    return best


@njit(cache=True)
def ticks_to_s(t):
    out = np.empty(t.shape[0])
    for i in range(t.shape[0]):
        out[i] = tick_to_s(t[i])
    return out


def seconds_to_ticks(x, mode: int = NEAREST) -> np.ndarray:
    """Ticks of an array of float seconds (checked: finite, 0 <= x <= MAX_TIME_S)."""
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    if a.size and (not np.all(np.isfinite(a)) or a.min() < 0.0 or a.max() > MAX_TIME_S):
        bad = a[~(np.isfinite(a) & (a >= 0.0) & (a <= MAX_TIME_S))][0]
        raise ValueError(f"time {float(bad)!r} s is outside what the exact engine represents "
                         f"(0 to {MAX_TIME_S:g} s, in whole picoseconds)")
    return to_ticks(a, mode)


def seconds_to_tick(x: float, mode: int = NEAREST) -> int:
    return int(seconds_to_ticks(np.array([float(x)]), mode)[0])
