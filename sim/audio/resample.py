"""Sample-rate conversion: a whole recording at once, or block by block with the same result.

Both use the Kaiser-windowed polyphase FIR of ``scipy.signal.resample_poly``; the rate
ratio is a fraction with numerator and denominator at most 10000 (22050 -> 16000 Hz is
320/441). :func:`resample` is for whole files (data sets, ``axon classify``),
:class:`StreamResampler` for recordings read block by block (``axon stream``), whose
state is the last few hundred input samples. Never imports torch.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

__all__ = ["resample", "StreamResampler", "rate_ratio"]

#: Largest numerator and denominator of the conversion ratio.
MAX_RATIO_TERM = 10000


def rate_ratio(who: str, orig_rate_hz: float, target_rate_hz: float) -> tuple[int, int]:
    """``(up, down)``: ``target / orig`` as a reduced fraction; ValueError naming ``who``
    for a rate that is not a positive finite number or a ratio too irregular to filter."""
    for name, v in (("orig_rate_hz", orig_rate_hz), ("target_rate_hz", target_rate_hz)):
        if isinstance(v, bool) or not np.isfinite(v) or v <= 0:
            raise ValueError(f"{who}: {name} must be a positive finite number, got {v!r}")
    ratio = (Fraction(float(target_rate_hz)).limit_denominator(MAX_RATIO_TERM)
             / Fraction(float(orig_rate_hz)).limit_denominator(MAX_RATIO_TERM))
    if ratio.numerator > MAX_RATIO_TERM or ratio.denominator > MAX_RATIO_TERM:
        raise ValueError(f"{who}: ratio {target_rate_hz}/{orig_rate_hz} is too irregular ({ratio})")
    return ratio.numerator, ratio.denominator


def resample(samples, orig_rate_hz: float, target_rate_hz: float) -> np.ndarray:
    """Convert a whole recording to another sample rate (polyphase FIR, stateless).

    Parameters
    ----------
    samples : (n,) float array
    orig_rate_hz, target_rate_hz : float
        Rates in Hz; their ratio must be a fraction with numerator and denominator
        at most 10000 (e.g. 22050 -> 16000 is 320/441).

    Returns
    -------
    (m,) float64, ``m = ceil(n * target / orig)``.

    Notes
    -----
    Uses ``scipy.signal.resample_poly`` (Kaiser-windowed FIR, zero-phase, looks
    ahead), so it needs the whole recording; :class:`StreamResampler` gives the same
    result block by block.
    """
    from scipy.signal import resample_poly

    up, down = rate_ratio("resample", orig_rate_hz, target_rate_hz)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"resample: samples must be 1-D, got shape {x.shape}")
    if float(orig_rate_hz) == float(target_rate_hz) or x.size == 0:
        return x.copy()
    return resample_poly(x, up, down)


@njit(cache=True)
def _polyphase(h, up, down, half_len, buf, buf_start, n_avail, m0, m1, out):
    """Outputs ``m0 .. m1-1`` of the polyphase resampler into ``out``.

    ``y[m] = sum_i h[m*down + half_len - i*up] * x[i]`` over the ``i`` where the tap index
    lies in ``[0, 2*half_len]``, ascending ``i`` (a fixed order, so any block split gives
    bitwise the same sums). ``x[i] = buf[i - buf_start]`` for ``i < n_avail``, else 0
    (the zero padding after the end that ``scipy.signal.resample_poly`` also uses).
    """
    L = 2 * half_len
    for m in range(m0, m1):
        c = m * down + half_len
        i_hi = c // up
        i_lo = -((L - c) // up)  # ceil((c - L) / up)
        if i_lo < 0:
            i_lo = 0
        acc = 0.0
        for i in range(i_lo, i_hi + 1):
            if i >= n_avail:
                break
            acc += h[c - i * up] * buf[i - buf_start]
        out[m - m0] = acc


class StreamResampler:
    """Block-wise sample-rate conversion, equal to :func:`resample` on the whole.

    The same Kaiser-windowed FIR as ``scipy.signal.resample_poly`` (``window=('kaiser',
    5.0)``, half length ``10 * max(up, down)``), evaluated output by output: output ``m``
    is produced as soon as every input it needs has arrived, and :meth:`flush` produces
    the rest with zeros after the end. The result matches ``resample_poly(whole)`` to
    rounding (~1e-15) and is bitwise independent of the block split. State: the last
    ``~(2 * half_len) / up`` input samples.
    """

    def __init__(self, orig_rate_hz: float, target_rate_hz: float):
        from scipy.signal import firwin

        self.up, self.down = rate_ratio("StreamResampler", orig_rate_hz, target_rate_hz)
        self.identity = self.up == self.down
        self.half_len = 10 * max(self.up, self.down)
        self.h = (np.ones(1) if self.identity else
                  firwin(2 * self.half_len + 1, 1.0 / max(self.up, self.down), window=("kaiser", 5.0)) * self.up)
        self._buf = np.zeros(0)
        self._buf_start = 0
        self._n_in = 0
        self._m = 0

    @property
    def buffered(self) -> int:
        """Input samples currently held (bounded by the filter length / up + one block)."""
        return int(self._buf.shape[0])

    def _emit(self, m1: int, n_avail: int) -> np.ndarray:
        m0 = self._m
        if m1 <= m0:
            return np.zeros(0)
        out = np.empty(m1 - m0)
        _polyphase(self.h, self.up, self.down, self.half_len, self._buf, self._buf_start, n_avail, m0, m1, out)
        self._m = m1
        # Drop inputs no future output needs: output m needs i >= ceil((m*down - half_len)/up).
        keep_from = max(0, -((2 * self.half_len - (m1 * self.down + self.half_len)) // self.up))
        drop = min(keep_from - self._buf_start, self._buf.shape[0])
        if drop > 0:
            self._buf = self._buf[drop:].copy()
            self._buf_start += drop
        return out

    def process(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if self.identity:
            self._n_in += x.shape[0]
            return x.copy()
        self._buf = np.concatenate([self._buf, x]) if self._buf.size else x.copy()
        self._n_in += x.shape[0]
        # Output m is complete when its last input index floor((m*down + half_len)/up) < n_in.
        m1 = (self._n_in * self.up - self.half_len - 1) // self.down + 1
        m1 = max(m1, self._m)
        return self._emit(m1, self._n_in)

    def flush(self) -> np.ndarray:
        """The remaining outputs (``ceil(n_in * up / down)`` in total), zeros after the end."""
        if self.identity:
            return np.zeros(0)
        total = -((-self._n_in * self.up) // self.down)
        return self._emit(total, self._n_in)
