"""Input event streams: time-sorted ``(t, channel, value)`` arrays, validated once.

Every engine and the audio front end exchange events in this form (docs/semantics.md,
"Events"). Validation happens here, in Python, so compiled code never sees a bad
index or a NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Events", "merge_duplicates"]


@dataclass(frozen=True)
class Events:
    """A time-sorted stream of input events.

    Parameters
    ----------
    times_s : (n,) float64
        Event times in seconds, non-decreasing, finite, >= 0.
    channels : (n,) int64
        Input channel of each event, >= 0 (checked against a network with
        :meth:`check_channels`).
    values : (n,) float64, optional
        Event value (1 for a spike; signed or graded values for send-on-delta
        encoders). Defaults to ones.

    Two events on the same channel at exactly the same time are rejected: their
    summation order would be ambiguous. Combine them with :func:`merge_duplicates`.
    """

    times_s: np.ndarray
    channels: np.ndarray
    values: np.ndarray

    def __init__(self, times_s, channels, values=None):
        t = np.asarray(times_s, dtype=np.float64).reshape(-1) if np.size(times_s) else np.zeros(0)
        raw_ch = np.asarray(channels)
        if raw_ch.size and not np.issubdtype(raw_ch.dtype, np.integer):
            if not np.all(np.isfinite(raw_ch)) or not np.all(raw_ch == np.round(raw_ch)):
                bad = raw_ch[~np.isfinite(raw_ch) | (raw_ch != np.round(raw_ch))][0] if raw_ch.size else None
                raise ValueError(f"events: channels must be integers, got {bad!r}")
        ch = raw_ch.astype(np.int64).reshape(-1) if raw_ch.size else np.zeros(0, np.int64)
        if values is None:
            v = np.ones(t.shape[0], dtype=np.float64)
        else:
            v = np.asarray(values, dtype=np.float64).reshape(-1) if np.size(values) else np.zeros(0)
        if not (t.shape[0] == ch.shape[0] == v.shape[0]):
            raise ValueError(
                f"events: times_s, channels and values must have the same length, "
                f"got {t.shape[0]}, {ch.shape[0]}, {v.shape[0]}"
            )
        _check_finite("times_s", t)
        _check_finite("values", v)
        if t.size:
            if t.min() < 0:
                i = int(np.argmin(t))
                raise ValueError(f"events: times_s must be >= 0, event {i} has t={t[i]!r}")
            dt = np.diff(t)
            if np.any(dt < 0):
                i = int(np.nonzero(dt < 0)[0][0])
                raise ValueError(
                    f"events: times_s must be sorted, event {i + 1} (t={t[i + 1]!r}) comes "
                    f"after event {i} (t={t[i]!r})"
                )
            if ch.min() < 0:
                i = int(np.argmin(ch))
                raise ValueError(f"events: channels must be >= 0, event {i} has channel {ch[i]}")
            same_t = np.nonzero(dt == 0)[0]
            if same_t.size:
                # Within runs of equal times, look for a repeated channel.
                order = np.lexsort((ch, t))
                dup = (np.diff(t[order]) == 0) & (np.diff(ch[order]) == 0)
                if np.any(dup):
                    j = order[int(np.nonzero(dup)[0][0])]
                    raise ValueError(
                        f"events: two events on channel {ch[j]} at the same time t={t[j]!r}; "
                        "combine them with sim.merge_duplicates"
                    )
        object.__setattr__(self, "times_s", np.ascontiguousarray(t))
        object.__setattr__(self, "channels", np.ascontiguousarray(ch))
        object.__setattr__(self, "values", np.ascontiguousarray(v))

    def __len__(self) -> int:
        return int(self.times_s.shape[0])

    def check_channels(self, n_inputs: int) -> None:
        """Raise ``ValueError`` if a channel is outside ``[0, n_inputs)``."""
        if len(self) and self.channels.max() >= n_inputs:
            i = int(np.argmax(self.channels))
            raise ValueError(
                f"events: channel {self.channels[i]} (event {i}, t={self.times_s[i]!r}) is out of "
                f"range for a network with {n_inputs} input channels"
            )

    def window(self, start_s: float, stop_s: float) -> "Events":
        """Events with ``start_s <= t < stop_s``."""
        a = int(np.searchsorted(self.times_s, start_s, side="left"))
        b = int(np.searchsorted(self.times_s, stop_s, side="left"))
        return Events(self.times_s[a:b], self.channels[a:b], self.values[a:b])

    def shifted(self, offset_s: float) -> "Events":
        return Events(self.times_s + offset_s, self.channels, self.values)

    @staticmethod
    def concatenate(parts: list["Events"]) -> "Events":
        if not parts:
            return Events(np.zeros(0), np.zeros(0, np.int64))
        return Events(
            np.concatenate([p.times_s for p in parts]),
            np.concatenate([p.channels for p in parts]),
            np.concatenate([p.values for p in parts]),
        )


def merge_duplicates(times_s, channels, values=None) -> Events:
    """Sort events by (time, channel) and sum the values of exact duplicates."""
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    ch = np.asarray(channels, dtype=np.int64).reshape(-1)
    v = np.ones_like(t) if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    if t.size == 0:
        return Events(t, ch, v)
    order = np.lexsort((ch, t))
    t, ch, v = t[order], ch[order], v[order]
    new = np.ones(t.size, dtype=bool)
    new[1:] = (np.diff(t) != 0) | (np.diff(ch) != 0)
    starts = np.nonzero(new)[0]
    return Events(t[starts], ch[starts], np.add.reduceat(v, starts))


def _check_finite(field: str, a: np.ndarray) -> None:
    if a.size and not np.all(np.isfinite(a)):
        i = int(np.nonzero(~np.isfinite(a))[0][0])
        raise ValueError(f"events: {field} must be finite, event {i} has {a[i]!r}")
