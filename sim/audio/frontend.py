"""Audio front end: sound in, input events out, chunk by chunk.

Owns the filterbank (ERB-spaced Butterworth band-pass sections), the envelope
follower with log compression, and the spike encoders (send-on-delta, LIF, and the
level- and noise-robust send-on-delta "robust" of :func:`_encode_frames`). The
state that survives between calls is one small :class:`FrontEndState`, so a stream of
any length processed in blocks of any size gives bitwise the events of one call.
Never imports torch.

Signal chain, per band ``b`` and absolute sample index ``n`` (``fs`` = sample rate)::

    y_b[n]   = (band-pass_b * x)[n]                  cascaded biquads, TDF-II
    r_b[n]   = |y_b[n]|                              full-wave rectification
    e_b[n]   = LP2(r_b)[n]                           two one-pole low-passes, tau each
    L_b[m]   = 20 log10(e_b[m] + 10**(floor_db/20))  only at frames m = 0, hop, 2 hop, ...

and the encoder runs on ``L_b`` at the frames; an event of frame ``m`` has time
``m / fs`` (computed from an integer sample counter, so streaming never drifts).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
from numba import njit

from sim.audio.resample import resample
from sim.errors import reject_unknown_fields
from sim.model.events import Events

__all__ = [
    "FrontEndConfig",
    "frontend_differences",
    "FrontEndState",
    "FrontEnd",
    "encode_audio",
    "band_levels",
    "normalize_rms",
    "erb_hz",
    "erb_rate",
    "erb_rate_inverse",
]

_ENCODERS = ("delta", "lif", "robust")
# States below this magnitude are set to zero so that long silences never run the
# filters on subnormal floats (slow on x86). Far below any audible level (the
# default floor is 1e-4 of full scale), and applied per sample, so it does not
# depend on how the stream is cut into blocks.
_TINY = 1e-100
# Internal block: bounds the temporary buffers of one `process` call, whatever its size.
_CHUNK_SAMPLES = 1 << 16


# --------------------------------------------------------------------------- ERB scale


def erb_hz(f_hz):
    """Equivalent rectangular bandwidth (Glasberg & Moore 1990), in Hz.

    ``ERB(f) = 24.7 * (4.37e-3 * f + 1)`` for ``f`` in Hz.
    """
    return 24.7 * (4.37e-3 * np.asarray(f_hz, dtype=np.float64) + 1.0)


def erb_rate(f_hz):
    """ERB-rate (number of ERBs below ``f``): ``21.4 * log10(1 + 4.37e-3 * f)``."""
    return 21.4 * np.log10(1.0 + 4.37e-3 * np.asarray(f_hz, dtype=np.float64))


def erb_rate_inverse(e):
    """Frequency in Hz whose ERB-rate is ``e`` (inverse of :func:`erb_rate`)."""
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 4.37e-3


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class FrontEndConfig:
    """Settings of the audio front end. Frozen and validated; stored in model files.

    Parameters
    ----------
    sample_rate_hz : float
        Sample rate of the audio given to :meth:`FrontEnd.process`, Hz. Other rates
        must be converted first (:func:`resample`).
    n_bands : int
        Number of band-pass channels of the filterbank.
    f_min_hz, f_max_hz : float
        Centre frequencies of the lowest and highest bands, Hz; the centres are
        spaced uniformly on the ERB-rate scale between them. The upper edge of the
        top band must stay below the Nyquist frequency.
    bandwidth_erb : float
        -3 dB bandwidth of each band as a multiple of the ERB at its centre.
    filter_order : int
        Butterworth order of each band-pass (the band-pass has ``2 * filter_order``
        poles, ``filter_order`` second-order sections).
    envelope_tau_s : float
        Time constant of each of the two cascaded one-pole envelope low-passes, s.
    hop_samples : int
        The encoder runs every ``hop_samples`` samples (at absolute sample indices
        ``0, hop, 2 hop, ...``); event times are multiples of ``hop_samples / fs``.
    floor_db : float
        Level floor in dB relative to full scale (amplitude 1). The log envelope is
        ``20 log10(e + 10**(floor_db/20))``; signals well below it produce no events.
    encoder : {"delta", "lif", "robust"}
        ``"delta"``: send-on-delta on the log envelope, ``2 * n_bands`` channels
        (UP of band ``b`` on channel ``b``, DOWN on channel ``n_bands + b``).
        ``"robust"``: the same send-on-delta and channel layout, on the level above a
        tracked per-band noise floor and below a tracked overall peak (see
        :func:`_encode_frames`), so that stationary noise gives few events and a gain
        change leaves the events nearly unchanged.
        ``"lif"``: one leaky integrate-and-fire neuron per band driven by the
        normalised log level, ``n_bands`` channels.
    delta_db : float
        Send-on-delta step, dB (encoder ``"delta"``).
    lif_tau_s : float
        Membrane time constant of the LIF encoder, s.
    lif_gain : float
        Input gain of the LIF encoder: the drive is ``lif_gain * clip((L - floor_db)
        / -floor_db, 0, 1)`` in units of the threshold (1), so a band fires only
        where ``lif_gain * normalised level > 1``.
    noise_smooth_s : float
        Encoder ``"robust"``: time constant of the one-pole smoother of each band's log
        level that the noise floor follows, s.
    noise_rise_db_per_s : float
        Encoder ``"robust"``: the noise floor follows the smoothed level down at once
        and up at most this fast, dB/s (a running minimum that forgets).
    noise_margin_db : float
        Encoder ``"robust"``: the encoded level starts this far above the noise floor, dB.
    noise_init_db : float
        Encoder ``"robust"``: noise floor and smoothed level after :meth:`FrontEnd.reset`,
        dB re full scale (a high value: the floor falls to the real one within
        ``noise_smooth_s * ln(distance / 1 dB)``, e.g. 90 ms from -30 to -100 dB at 20 ms,
        instead of climbing slowly to it).
    agc_range_db : float
        Encoder ``"robust"``: gain normalisation. A band's encoded level is at most
        ``L_b - P + agc_range_db`` where ``P`` is the tracked peak over all bands, so
        levels more than ``agc_range_db`` below the peak encode as 0; 0 switches it off.
    agc_release_db_per_s : float
        Encoder ``"robust"``: the peak ``P`` jumps up at once and falls this fast, dB/s.

    All event values are 1.0: the output is plain spikes that fit the SHD format.
    """

    sample_rate_hz: float = 16000.0
    n_bands: int = 32
    f_min_hz: float = 100.0
    f_max_hz: float = 6500.0
    bandwidth_erb: float = 1.0
    filter_order: int = 2
    envelope_tau_s: float = 0.004
    hop_samples: int = 16
    floor_db: float = -70.0
    encoder: str = "delta"
    delta_db: float = 3.0
    lif_tau_s: float = 0.02
    lif_gain: float = 1.5
    noise_smooth_s: float = 0.02
    noise_rise_db_per_s: float = 15.0
    noise_margin_db: float = 8.0
    noise_init_db: float = -30.0
    agc_range_db: float = 50.0
    agc_release_db_per_s: float = 10.0

    def __post_init__(self):
        for name in ("n_bands", "filter_order", "hop_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"FrontEndConfig.{name} must be an integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        for f in fields(self):
            if f.name in ("n_bands", "filter_order", "hop_samples", "encoder"):
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"FrontEndConfig.{f.name} must be a number, got {v!r}")
            if not math.isfinite(float(v)):
                raise ValueError(f"FrontEndConfig.{f.name} must be finite, got {v!r}")
            object.__setattr__(self, f.name, float(v))
        positive = ("sample_rate_hz", "f_min_hz", "bandwidth_erb", "envelope_tau_s",
                    "delta_db", "lif_tau_s", "lif_gain", "noise_smooth_s")
        for name in ("noise_rise_db_per_s", "noise_margin_db", "agc_range_db", "agc_release_db_per_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"FrontEndConfig.{name} must be >= 0, got {getattr(self, name)!r}")

        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"FrontEndConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.n_bands < 1:
            raise ValueError(f"FrontEndConfig.n_bands must be >= 1, got {self.n_bands!r}")
        if not 1 <= self.filter_order <= 4:
            raise ValueError(f"FrontEndConfig.filter_order must be in 1..4, got {self.filter_order!r}")
        if self.hop_samples < 1:
            raise ValueError(f"FrontEndConfig.hop_samples must be >= 1, got {self.hop_samples!r}")
        if not -200.0 <= self.floor_db < 0.0:
            raise ValueError(f"FrontEndConfig.floor_db must be in [-200, 0) dB, got {self.floor_db!r}")
        if not self.floor_db <= self.noise_init_db <= 0.0:
            raise ValueError(f"FrontEndConfig.noise_init_db must be in [floor_db={self.floor_db!r}, 0] dB, "
                             f"got {self.noise_init_db!r}")
        if self.encoder not in _ENCODERS:
            raise ValueError(f"FrontEndConfig.encoder must be one of {_ENCODERS}, got {self.encoder!r}")
        if self.f_max_hz < self.f_min_hz or (self.n_bands > 1 and self.f_max_hz == self.f_min_hz):
            raise ValueError(
                f"FrontEndConfig.f_max_hz must be > f_min_hz={self.f_min_hz!r} "
                f"(or equal with n_bands=1), got {self.f_max_hz!r}"
            )
        lo, hi = self.band_edges_hz()
        nyquist = self.sample_rate_hz / 2
        if hi[-1] >= 0.98 * nyquist:
            raise ValueError(
                f"FrontEndConfig.f_max_hz={self.f_max_hz!r}: the top band reaches {hi[-1]:.1f} Hz, "
                f"too close to the Nyquist frequency {nyquist:.1f} Hz of sample_rate_hz="
                f"{self.sample_rate_hz!r}; lower f_max_hz or bandwidth_erb"
            )

    @classmethod
    def robust(cls, **overrides) -> "FrontEndConfig":
        """The level- and noise-robust setting: encoder "robust", floor -120 dB (so the
        fixed floor sits below any gain-normalised level and does not break the gain
        invariance), envelope low-passes of 8 ms (halves the envelope fluctuation of
        noise; the training grid is 10 ms anyway). Chosen on three espeak-ng words and
        white noise (README, "A front end robust to level and noise")."""
        kw = dict(encoder="robust", floor_db=-120.0, envelope_tau_s=0.008)
        kw.update(overrides)
        return cls(**kw)

    # ---- derived quantities

    @property
    def n_channels(self) -> int:
        """Number of event channels: ``2 * n_bands`` for "delta" and "robust", ``n_bands`` for "lif"."""
        return self.n_bands if self.encoder == "lif" else 2 * self.n_bands

    @property
    def hop_s(self) -> float:
        """Frame period of the encoder, s."""
        return self.hop_samples / self.sample_rate_hz

    def center_frequencies_hz(self) -> np.ndarray:
        """(n_bands,) float64 centre frequencies, Hz, ERB-rate spaced, increasing."""
        if self.n_bands == 1:
            return np.array([self.f_min_hz])
        e = np.linspace(erb_rate(self.f_min_hz), erb_rate(self.f_max_hz), self.n_bands)
        return erb_rate_inverse(e)

    def band_edges_hz(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) -3 dB edges of each band, Hz, each (n_bands,) float64.

        Edges are placed geometrically around the centre (``lo * hi = fc**2``) with
        ``hi - lo = bandwidth_erb * ERB(fc)``.
        """
        fc = self.center_frequencies_hz()
        bw = self.bandwidth_erb * erb_hz(fc)
        lo = (-bw + np.sqrt(bw * bw + 4.0 * fc * fc)) / 2.0
        return lo, lo + bw

    def down_channel(self, band: int) -> int:
        """Channel of the DOWN events of ``band`` (delta and robust encoders); the UP
        events (delta, robust) or spikes (lif) of ``band`` are on channel ``band``."""
        if self.encoder == "lif":
            raise ValueError(f"FrontEndConfig.encoder={self.encoder!r} has no DOWN channels")
        return self.n_bands + int(band)

    # ---- serialisation

    def to_dict(self) -> dict:
        """Plain dict of JSON/HDF5-attribute friendly values (str, int, float)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FrontEndConfig":
        """Inverse of :meth:`to_dict`. Missing keys take their defaults; unknown keys
        raise ``ValueError`` (they would mean a newer or foreign format)."""
        reject_unknown_fields(cls, d)
        kw = {}
        for k, v in d.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, bytes):
                v = v.decode()
            kw[k] = v
        return cls(**kw)


def frontend_differences(a: dict | None, b: dict | None, b_name: str) -> str:
    """The settings in which two front ends (``to_dict()`` form, missing keys at their
    defaults) differ, as ``"noise_margin_db 8.0 (<b_name> 4.0), ..."``; ``""`` when they
    encode alike or either is unknown (``None``: e.g. a file of another tool)."""
    if a is None or b is None:
        return ""
    a, b = FrontEndConfig.from_dict(dict(a)).to_dict(), FrontEndConfig.from_dict(dict(b)).to_dict()
    return ", ".join(f"{k} {a[k]!r} ({b_name} {b[k]!r})" for k in a if a[k] != b[k])


# --------------------------------------------------------------------------- state


@dataclass
class FrontEndState:
    """Everything the front end carries from one block to the next (bounded size).

    Attributes
    ----------
    filter_zi : (n_bands, n_sections, 2) float64
        Transposed-direct-form-II state of each biquad section.
    envelope : (n_bands, 2) float64
        State of the two envelope low-passes (amplitude, full scale = 1).
    reference_db : (n_bands,) float64
        Send-on-delta reference level of each band: dB re full scale ("delta"), dB of
        encoded level above the noise floor ("robust").
    membrane : (n_bands,) float64
        LIF encoder membrane potentials (threshold 1).
    sample_count : int
        Absolute index of the next sample to be processed.
    smooth_db : (n_bands,) float64
        "robust": smoothed log level of each band, dB re full scale.
    noise_db : (n_bands,) float64
        "robust": tracked noise floor of each band, dB re full scale.
    peak_db : (1,) float64
        "robust": tracked peak level over all bands, dB re full scale.
    """

    filter_zi: np.ndarray
    envelope: np.ndarray
    reference_db: np.ndarray
    membrane: np.ndarray
    sample_count: int
    smooth_db: np.ndarray
    noise_db: np.ndarray
    peak_db: np.ndarray

    _ARRAYS = ("filter_zi", "envelope", "reference_db", "membrane", "smooth_db", "noise_db", "peak_db")

    def copy(self) -> "FrontEndState":
        kw = {name: getattr(self, name).copy() for name in self._ARRAYS}
        return FrontEndState(sample_count=int(self.sample_count), **kw)


# --------------------------------------------------------------------------- compiled core


@njit(cache=True)
def _filter_envelopes(x, sos, zi, env, env_coef, first_frame, hop, out_env):
    """Band-pass, rectify and smooth ``x`` for every band; keep envelopes at frames.

    x : (n,) float64 block. sos : (n_bands, n_sections, 6). zi : (n_bands, n_sections, 2)
    and env : (n_bands, 2) are updated in place. Frames are the block positions
    ``first_frame, first_frame + hop, ...``; out_env : (n_frames, n_bands).
    """
    n = x.shape[0]
    n_bands, n_sec = sos.shape[0], sos.shape[1]
    a = env_coef
    for b in range(n_bands):
        e1 = env[b, 0]
        e2 = env[b, 1]
        next_frame = first_frame
        f = 0
        for i in range(n):
            v = x[i]
            for s in range(n_sec):
                # Transposed direct form II, same recurrence as scipy.signal.sosfilt.
                y = sos[b, s, 0] * v + zi[b, s, 0]
                z0 = sos[b, s, 1] * v - sos[b, s, 4] * y + zi[b, s, 1]
                z1 = sos[b, s, 2] * v - sos[b, s, 5] * y
                if abs(z0) < _TINY:
                    z0 = 0.0
                if abs(z1) < _TINY:
                    z1 = 0.0
                zi[b, s, 0] = z0
                zi[b, s, 1] = z1
                v = y
            e1 += a * (abs(v) - e1)
            e2 += a * (e1 - e2)
            if e1 < _TINY:
                e1 = 0.0
            if e2 < _TINY:
                e2 = 0.0
            if i == next_frame:
                out_env[f, b] = e2
                f += 1
                next_frame += hop
        env[b, 0] = e1
        env[b, 1] = e2


@njit(cache=True)
def _send_on_delta(f, n_bands, value, delta, ref, step, out_frame, out_ch, k):
    """One frame of send-on-delta on ``value`` (n_bands,) with step ``delta``: at most one
    step of ``ref`` per band; UP events (channel b) then DOWN events (n_bands + b) in
    channel order. Returns the new event count ``k``."""
    for b in range(n_bands):
        d = value[b] - ref[b]
        if d >= delta:
            ref[b] += delta
            step[b] = 1
        elif d <= -delta:
            ref[b] -= delta
            step[b] = -1
        else:
            step[b] = 0
    for b in range(n_bands):
        if step[b] == 1:
            out_frame[k] = f
            out_ch[k] = b
            k += 1
    for b in range(n_bands):
        if step[b] == -1:
            out_frame[k] = f
            out_ch[k] = n_bands + b
            k += 1
    return k


@njit(cache=True)
def _encode_frames(frame_env, floor_amp, floor_db, params, encoder, ref, mem, track, out_frame, out_ch):
    """Run the encoder over the frames of one block, in time order.

    frame_env : (n_frames, n_bands) envelopes. ``encoder`` 0 = delta (params[0] =
    delta_db), 1 = lif (params[1] = beta, params[2] = gain), 2 = robust (params[0] =
    delta_db, params[3] = smoothing coefficient per frame, params[4] = noise rise per
    frame dB, params[5] = margin dB, params[6] = AGC range dB (0 = off), params[7] = peak
    release per frame dB). ref, mem : (n_bands,); track : (2 n_bands + 1,) = smoothed
    levels, noise floors, peak; all updated in place. Writes the frame number and
    channel of each event; returns the count. At most one event per channel per frame,
    so the buffers need n_frames * n_bands entries.

    The robust encoder, per frame with ``L_b`` the log level of band ``b`` (dB)::

        S_b <- S_b + a (L_b - S_b)                 smoothed level (one pole, tau noise_smooth_s)
        N_b <- min(N_b + rise, S_b)                noise floor: down at once, up slowly
        P   <- max(P - release, max_b L_b, floor)  peak over bands: up at once, down slowly
        E_b  = max(0, min(L_b - N_b - margin, L_b - P + range))
        send-on-delta on E_b from reference 0

    Every step commutes with adding a constant to all levels (as long as no level sits at
    the fixed floor), so a gain change of the input leaves ``E`` unchanged; stationary
    noise keeps ``L_b`` within a few dB of ``N_b``, under ``margin + delta``.
    """
    n_frames, n_bands = frame_env.shape
    k = 0
    step = np.zeros(n_bands, dtype=np.int8)  # +1 UP, -1 DOWN, 0 none, this frame
    value = np.empty(n_bands)
    if encoder == 0:
        delta = params[0]
        for f in range(n_frames):
            for b in range(n_bands):
                value[b] = 20.0 * math.log10(frame_env[f, b] + floor_amp)
            k = _send_on_delta(f, n_bands, value, delta, ref, step, out_frame, out_ch, k)
    elif encoder == 1:
        beta = params[1]
        gain = params[2]
        for f in range(n_frames):
            for b in range(n_bands):
                level = 20.0 * math.log10(frame_env[f, b] + floor_amp)
                drive = (level - floor_db) / (-floor_db)
                if drive < 0.0:
                    drive = 0.0
                elif drive > 1.0:
                    drive = 1.0
                mem[b] = beta * mem[b] + (1.0 - beta) * gain * drive
                if mem[b] >= 1.0:
                    mem[b] -= 1.0
                    out_frame[k] = f
                    out_ch[k] = b
                    k += 1
    else:
        delta = params[0]
        a = params[3]
        rise = params[4]
        margin = params[5]
        agc_range = params[6]
        release = params[7]
        level = np.empty(n_bands)
        for f in range(n_frames):
            top = floor_db
            for b in range(n_bands):
                lv = 20.0 * math.log10(frame_env[f, b] + floor_amp)
                level[b] = lv
                if lv > top:
                    top = lv
                sm = track[b] + a * (lv - track[b])
                track[b] = sm
                nf = track[n_bands + b] + rise
                track[n_bands + b] = sm if sm < nf else nf
            pk = track[2 * n_bands] - release
            if top > pk:
                pk = top
            if pk < floor_db:
                pk = floor_db
            track[2 * n_bands] = pk
            for b in range(n_bands):
                e = level[b] - track[n_bands + b] - margin
                if agc_range > 0.0:
                    g = level[b] - pk + agc_range
                    if g < e:
                        e = g
                value[b] = e if e > 0.0 else 0.0
            k = _send_on_delta(f, n_bands, value, delta, ref, step, out_frame, out_ch, k)
    return k


# --------------------------------------------------------------------------- public API


class FrontEnd:
    """Stateful filterbank + spike encoder. Feed audio blocks, get :class:`Events`.

    Parameters
    ----------
    config : FrontEndConfig, optional
        Defaults to ``FrontEndConfig()`` (16 kHz, 32 bands, send-on-delta, 64 channels).

    Notes
    -----
    ``fe.process(a); fe.process(b)`` returns bitwise the events of
    ``fe.process(concatenate([a, b]))`` for any split, including blocks of one sample:
    every sample goes through the same arithmetic and all carried state lives in
    :attr:`state`. Event times are ``m / sample_rate_hz`` for the absolute sample
    index ``m`` (a multiple of ``hop_samples``) of the frame that produced them.
    Within one frame, events are ordered by channel.
    """

    def __init__(self, config: FrontEndConfig | None = None):
        from scipy.signal import butter

        self._config = FrontEndConfig() if config is None else config
        if not isinstance(self._config, FrontEndConfig):
            raise ValueError(f"FrontEnd: config must be a FrontEndConfig, got {type(config).__name__}")
        c = self._config
        lo, hi = c.band_edges_hz()
        self._sos = np.ascontiguousarray(np.stack([
            butter(c.filter_order, [lo[b], hi[b]], btype="bandpass", fs=c.sample_rate_hz, output="sos")
            for b in range(c.n_bands)
        ]).astype(np.float64))
        self._env_coef = float(-math.expm1(-1.0 / (c.sample_rate_hz * c.envelope_tau_s)))
        self._floor_amp = 10.0 ** (c.floor_db / 20.0)
        self._floor_level_db = 20.0 * math.log10(self._floor_amp)
        self._params = np.array(
            [c.delta_db, math.exp(-c.hop_s / c.lif_tau_s), c.lif_gain,
             -math.expm1(-c.hop_s / c.noise_smooth_s), c.noise_rise_db_per_s * c.hop_s,
             c.noise_margin_db, c.agc_range_db, c.agc_release_db_per_s * c.hop_s], dtype=np.float64
        )
        self._encoder_id = _ENCODERS.index(c.encoder)
        self.reset()

    @property
    def config(self) -> FrontEndConfig:
        return self._config

    @property
    def n_channels(self) -> int:
        return self._config.n_channels

    @property
    def center_frequencies_hz(self) -> np.ndarray:
        """(n_bands,) float64 band centre frequencies, Hz."""
        return self._config.center_frequencies_hz()

    @property
    def sos(self) -> np.ndarray:
        """(n_bands, filter_order, 6) float64 second-order sections of each band (copy)."""
        return self._sos.copy()

    @property
    def sample_count(self) -> int:
        """Number of samples processed since the last :meth:`reset`."""
        return self._state.sample_count

    @property
    def state(self) -> FrontEndState:
        """A copy of the carried state (a few hundred floats, independent of stream length)."""
        return self._state.copy()

    def set_state(self, state: FrontEndState) -> None:
        """Restore a state obtained from :attr:`state` (checked against this config)."""
        ref = self._fresh_state()
        arrays = {}
        for name in FrontEndState._ARRAYS:
            got = np.array(getattr(state, name), dtype=np.float64)
            want = getattr(ref, name)
            if got.shape != want.shape:
                raise ValueError(f"FrontEnd.set_state: {name} has shape {got.shape}, expected {want.shape}")
            if not np.all(np.isfinite(got)):
                raise ValueError(f"FrontEnd.set_state: {name} contains non-finite values")
            arrays[name] = got
        if int(state.sample_count) < 0:
            raise ValueError(f"FrontEnd.set_state: sample_count must be >= 0, got {state.sample_count!r}")
        self._state = FrontEndState(sample_count=int(state.sample_count), **arrays)

    def _fresh_state(self) -> FrontEndState:
        c = self._config
        return FrontEndState(
            filter_zi=np.zeros((c.n_bands, c.filter_order, 2)),
            envelope=np.zeros((c.n_bands, 2)),
            reference_db=np.full(c.n_bands, 0.0 if c.encoder == "robust" else self._floor_level_db),
            membrane=np.zeros(c.n_bands),
            sample_count=0,
            smooth_db=np.full(c.n_bands, c.noise_init_db),
            noise_db=np.full(c.n_bands, c.noise_init_db),
            peak_db=np.full(1, self._floor_level_db),
        )

    def reset(self) -> None:
        """Return to silence at time 0: zero filter and envelope state, reference
        levels at the floor ("robust": at 0 above the noise floor; noise floors at
        ``noise_init_db``, peak at the floor), sample counter 0."""
        self._state = self._fresh_state()

    def process(self, samples) -> Events:
        """Filter and encode one block of audio.

        Parameters
        ----------
        samples : (n,) float array
            Mono audio at ``config.sample_rate_hz``, full scale = 1.0. Integer arrays
            are refused (scale them to [-1, 1] first); NaN/inf are refused.

        Returns
        -------
        Events
            Times in seconds since the last :meth:`reset` (float64, multiples of
            ``hop_samples / sample_rate_hz``), channels in ``[0, n_channels)``,
            values 1.0.
        """
        x = np.asarray(samples)
        if x.ndim != 1:
            raise ValueError(f"FrontEnd.process: samples must be 1-D (mono), got shape {x.shape}")
        if x.size and not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"FrontEnd.process: samples must be floating point (full scale 1.0), got dtype {x.dtype}"
            )
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.size and not np.all(np.isfinite(x)):
            i = int(np.nonzero(~np.isfinite(x))[0][0])
            raise ValueError(f"FrontEnd.process: samples must be finite, sample {i} is {x[i]!r}")
        frames, chans = [], []
        for start in range(0, x.shape[0], _CHUNK_SAMPLES):
            f, ch = self._process_chunk(x[start:start + _CHUNK_SAMPLES])
            frames.append(f)
            chans.append(ch)
        if not frames:
            return Events(np.zeros(0), np.zeros(0, np.int64))
        idx = np.concatenate(frames)
        ch = np.concatenate(chans)
        return Events(idx.astype(np.float64) / self._config.sample_rate_hz, ch, np.ones(idx.shape[0]))

    def _process_chunk(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        st = self._state
        hop = self._config.hop_samples
        n = x.shape[0]
        start = st.sample_count
        first_frame = (-start) % hop  # block position of the first absolute multiple of hop
        n_frames = 0 if first_frame >= n else (n - 1 - first_frame) // hop + 1
        frame_env = np.empty((n_frames, self._config.n_bands))
        _filter_envelopes(x, self._sos, st.filter_zi, st.envelope, self._env_coef,
                          first_frame, hop, frame_env)
        cap = n_frames * self._config.n_bands
        out_frame = np.empty(cap, dtype=np.int64)
        out_ch = np.empty(cap, dtype=np.int64)
        # One contiguous array for the robust encoder's trackers, written back below.
        track = np.concatenate([st.smooth_db, st.noise_db, st.peak_db])
        k = _encode_frames(frame_env, self._floor_amp, self._config.floor_db, self._params,
                           self._encoder_id, st.reference_db, st.membrane, track, out_frame, out_ch)
        nb = self._config.n_bands
        st.smooth_db[:] = track[:nb]
        st.noise_db[:] = track[nb:2 * nb]
        st.peak_db[:] = track[2 * nb:]
        out_frame, out_ch = out_frame[:k], out_ch[:k]
        st.sample_count = start + n
        sample_idx = start + first_frame + out_frame * hop
        return sample_idx, out_ch


def band_levels(samples, config: FrontEndConfig | None = None) -> np.ndarray:
    """The log envelope ``L_b`` every encoder works on, of one utterance from silence.

    Returns ``(n_frames, n_bands)`` float64 levels in dB re full scale at the frames
    ``0, hop, 2 hop, ...`` (the same filterbank, envelope follower and floor as
    :class:`FrontEnd`; ``samples`` at ``config.sample_rate_hz``): the dense picture of
    what the events encode, for plots and for classifiers that do not spike.
    """
    fe = FrontEnd(config)
    x = np.ascontiguousarray(np.asarray(samples, dtype=np.float64))
    if x.ndim != 1 or (x.size and not np.all(np.isfinite(x))):
        raise ValueError("band_levels: samples must be 1-D and finite")
    c, st = fe.config, fe.state
    hop = c.hop_samples
    n_frames = 0 if x.shape[0] == 0 else (x.shape[0] - 1) // hop + 1
    env = np.empty((n_frames, c.n_bands))
    _filter_envelopes(x, fe.sos, st.filter_zi, st.envelope, fe._env_coef, 0, hop, env)
    return 20.0 * np.log10(env + 10.0 ** (c.floor_db / 20.0))


def encode_audio(samples, config: FrontEndConfig | None = None, sample_rate_hz: float | None = None) -> Events:
    """Encode one whole recording from silence (stateless convenience).

    Parameters
    ----------
    samples : (n,) float array
        Mono audio, full scale 1.0.
    config : FrontEndConfig, optional
    sample_rate_hz : float, optional
        Rate of ``samples``; if it differs from ``config.sample_rate_hz`` the audio is
        first converted with :func:`resample`. Defaults to the config's rate.

    Returns
    -------
    Events
        As :meth:`FrontEnd.process` on a freshly reset front end.
    """
    config = FrontEndConfig() if config is None else config
    x = np.asarray(samples)
    if sample_rate_hz is not None and float(sample_rate_hz) != config.sample_rate_hz:
        x = resample(x, sample_rate_hz, config.sample_rate_hz)
    return FrontEnd(config).process(x)


def normalize_rms(samples, target_dbfs: float = -20.0) -> np.ndarray:
    """Scale a recording to a given RMS level (stateless helper for datasets).

    Parameters
    ----------
    samples : (n,) float array
    target_dbfs : float
        Target RMS in dB re full scale (amplitude 1).

    Returns
    -------
    (n,) float64. Silence (all zeros) is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    if rms == 0.0:
        return x.copy()
    return x * (10.0 ** (target_dbfs / 20.0) / rms)
