"""The exact engine: continuous-time, event-driven simulation of a :class:`Network`.

Implements SEMANTICS.md exactly: per-synapse continuous delays (never rounded), closed-form
decay and drive-induced threshold crossings, simultaneous arrivals at a layer summed before
one threshold check, and spike-granular lateral cascades.

Times are kept as pairs ``(n, r)``: ``t = n * Q + r``, ``n`` whole time-base steps ``Q``
(``time_base_s``) and an offset ``0 <= r < Q``. Delays ``d = m * Q + s`` are split once;
an arrival is ``(n + m, r + s)`` normalised. A delay, an input time or ``until`` within
1e-9 steps of a whole number of time-base steps is that whole number (``s = 0`` / ``r = 0``
exactly); readout sample times are split exactly (a sample at ``t`` sees the arrivals at
``t``; ``nextafter(t, -inf)`` is just before ``t``). So arrivals simultaneous on paper over different paths of
on-grid delays are bit-identical instants, summed before the threshold check, where float
sums such as ``(t + d1) + d2`` and ``t + (d1 + d2)`` can differ by 1e-18 s. Reported times
are the floats ``n * Q + r``.
The simulator is stateful: ``run(until_s=...)`` may be called repeatedly and running
``[0, T]`` in any number of chunks gives exactly the spikes of one call.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import _exact_kernels as K
from sim.compiled import SNAP_STEPS, check_time_base, compile_network, default_time_base
from sim.events import Events
from sim.network import Network
from sim.results import Counts, SimResult, SpikeTrains

__all__ = ["ExactSimulator", "ChunkResult", "CascadeError", "simulate"]


class CascadeError(__import__("sim.errors").errors.SimulationError):  # an AxonError
    """A lateral cascade or a zero-delay loop did not settle within ``max_cascade`` steps."""


@dataclass
class ChunkResult:
    """What one ``run`` call produced: spikes (global neuron ids) and readout samples."""

    start_s: float
    stop_s: float
    spike_times_s: np.ndarray
    spike_neurons: np.ndarray
    readout_times_s: np.ndarray
    readout: np.ndarray


@dataclass
class ExactState:
    """Everything that survives between ``run`` calls. Size is bounded by the network and
    the number of spikes in flight, not by the length of the input."""

    V: np.ndarray
    t_last: np.ndarray
    pred_n: np.ndarray  # key (n, r) of each neuron's predicted drive crossing (inf: none)
    pred_r: np.ndarray
    stamp: np.ndarray
    group_stamp: np.ndarray
    counts: np.ndarray
    in_counts: np.ndarray
    scal: np.ndarray
    heap: np.ndarray
    t_now: float = 0.0

    @property
    def heap_size(self) -> int:
        return int(self.scal[K.S_HSIZE])


class ExactSimulator:
    """Event-driven simulator of a :class:`Network` in continuous time.

    Parameters
    ----------
    network : Network
    max_cascade : int
        Bound on spikes of one lateral cascade (and on zero-delay rounds at one instant);
        exceeding it raises :class:`CascadeError` naming the layer and time.
    record_spikes : bool
        Keep every spike for :meth:`result`. Turn off for long streams and use the
        :class:`ChunkResult` each ``run`` returns.
    readout_interval_s : float, optional
        Sample the readout potential at ``k * readout_interval_s`` (k = 1, 2, ...).
    v_init : (n_neurons,) array, optional
        Initial potentials (global order: layers then readout); default zeros.
    time_base_s : float, optional
        The time base ``Q``: times are ``n * Q + r`` with ``0 <= r < Q``. Default: the
        ``dt_s`` recorded on the projections or in ``network.metadata["dt_s"]``; else the
        largest of 1 ms, 100 us, 10 us, 1 us of which every delay is a whole multiple; else
        1 s (see :func:`sim.compiled.default_time_base`). Arrivals over paths of delays that
        are whole multiples of ``Q`` are exactly simultaneous when they are on paper.

    Examples
    --------
    >>> sim = ExactSimulator(net)
    >>> sim.run(0.5, events=ev.window(0, 0.5)); sim.run(1.0, events=ev.window(0.5, 1.0))
    >>> res = sim.result()   # spikes per layer, counts, rates
    """

    def __init__(self, network: Network, *, max_cascade: int = 100_000, record_spikes: bool = True,
                 readout_interval_s: float | None = None, v_init=None, time_base_s: float | None = None):
        if not isinstance(network, Network):
            raise ValueError(f"ExactSimulator needs a sim.Network, got {type(network).__name__}")
        if not isinstance(max_cascade, (int, np.integer)) or max_cascade < 1:
            raise ValueError(f"max_cascade must be an integer >= 1, got {max_cascade!r}")
        if readout_interval_s is not None and (not np.isfinite(readout_interval_s) or readout_interval_s <= 0):
            raise ValueError(f"readout_interval_s must be a finite number > 0, got {readout_interval_s!r}")
        self.network = network
        self.time_base_s = default_time_base(network) if time_base_s is None else check_time_base(time_base_s)
        self.net = compile_network(network, self.time_base_s)
        self.max_cascade = int(max_cascade)
        self.record_spikes = record_spikes
        self.readout_interval_s = readout_interval_s
        self._rec_t = np.zeros(1024)
        self._rec_i = np.zeros(1024, np.int64)
        self._touched = np.zeros(max(network.n_neurons, 1), np.int64)
        self.reset(v_init)
        ro = network.readout
        self._ro_start = network.offsets()[ro.name] if ro is not None else 0
        self._n_ro = ro.size if ro is not None else 0

    def reset(self, v_init=None) -> None:
        """Back to t = 0 with fresh state (potentials ``v_init`` or zeros, empty queue, zero
        counts, no recorded spikes), keeping the compiled network: the cheap way to run
        many independent samples through one network."""
        n = self.network.n_neurons
        V = np.zeros(n)
        if v_init is not None:
            V = np.array(v_init, dtype=np.float64)
            if V.shape != (n,) or not np.all(np.isfinite(V)):
                raise ValueError(f"v_init must be {n} finite values, got shape {V.shape}")
        n_groups = self.net.group_ptr.shape[0] - 1
        self.state = ExactState(
            V=V, t_last=np.zeros(n), pred_n=np.full(n, np.inf), pred_r=np.full(n, np.inf), stamp=np.zeros(n, np.int64),
            group_stamp=np.zeros(max(n_groups, 1), np.int64), counts=np.zeros((K.N_COUNTERS, n), np.int64),
            in_counts=np.zeros(self.network.n_inputs, np.int64), scal=np.zeros(4, np.int64),
            heap=np.zeros((1024, K.H_COLS)),
        )
        heap, hsize = K._initial_predictions(self.net, self.state.V, self.state.pred_n, self.state.pred_r,
                                             self.state.heap, 0)
        self.state.heap = heap
        self.state.scal[K.S_HSIZE] = hsize
        self._pending: list[Events] = []
        self._last_event_t = -np.inf
        self._last_event_channels = np.zeros(0, np.int64)
        self._spike_chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._readout_chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._failed: str | None = None

    # -- input -------------------------------------------------------------------------
    @property
    def t_now(self) -> float:
        """Time up to which the simulation has run (events with t < t_now are done)."""
        return self.state.t_now

    def add_events(self, events: Events) -> None:
        """Queue input events. Times must not precede :attr:`t_now` or earlier queued events."""
        if not isinstance(events, Events):
            raise ValueError(f"events must be sim.events.Events, got {type(events).__name__}")
        if len(events) == 0:
            return
        events.check_channels(self.network.n_inputs)
        t0 = float(events.times_s[0])
        if t0 < self.t_now:
            raise ValueError(f"events: first event at t={t0!r} precedes the simulated time t_now={self.t_now!r}")
        if t0 < self._last_event_t:
            raise ValueError(f"events: first event at t={t0!r} precedes the last queued event at "
                             f"t={self._last_event_t!r}; events must arrive in time order")
        if t0 == self._last_event_t:
            head = events.channels[events.times_s == t0]
            both = np.intersect1d(head, self._last_event_channels)
            if both.size:
                raise ValueError(f"events: channel {both[0]} has two events at t={t0!r} across two batches; "
                                 "combine them with sim.events.merge_duplicates")
        self._pending.append(events)
        tl = float(events.times_s[-1])
        self._last_event_channels = (events.channels[events.times_s == tl] if tl != self._last_event_t
                                     else np.union1d(self._last_event_channels, events.channels[events.times_s == tl]))
        self._last_event_t = tl

    # -- running -----------------------------------------------------------------------
    def run(self, until_s: float, events: Events | None = None, sample_times_s=None) -> ChunkResult:
        """Advance the simulation to ``until_s``: process every event with time < until_s.

        Times are compared as time-base keys (see the module docstring): ``until_s``, like
        an input time, is snapped to a whole step when within 1e-9 steps of one, so chunk
        boundaries agree with snapped inputs; sample times are split exactly (not snapped),
        so ``np.nextafter(t, -np.inf)`` still means "just before t". To include the instant
        ``t`` (e.g. to sample at ``t``), run to :meth:`until_including` ``(t)``.

        Parameters
        ----------
        until_s : float
            End of this chunk in seconds (>= :attr:`t_now`).
        events : Events, optional
            More input events (see :meth:`add_events`).
        sample_times_s : array, optional
            Extra readout sample times in ``[t_now, until_s)`` (compared by key, see above;
            :meth:`samples_before`), sorted. A sample at ``t`` includes every arrival at ``t``
            (an input snapped onto a step is at that step).
        """
        if self._failed:
            raise RuntimeError(f"this simulator stopped with an error earlier ({self._failed}); build a new one")
        until = float(until_s)
        if not np.isfinite(until) or until < self.t_now:
            raise ValueError(f"until_s must be finite and >= t_now={self.t_now!r}, got {until_s!r}")
        if events is not None:
            self.add_events(events)
        q = self.time_base_s
        un, ur = K.split_time(until, q, True)
        ev, ev_n, ev_r = self._take_events(until, un, ur)
        samples_t, s_n, s_r = self._sample_times(until, un, ur, sample_times_s)
        samples = np.zeros((samples_t.shape[0], self._n_ro))
        st = self.state
        start = st.t_now
        st.scal[K.S_REC_N] = 0
        err = np.zeros(2)
        status, heap, rec_t, rec_i = K._run(
            self.net, st.V, st.t_last, st.pred_n, st.pred_r, st.stamp, st.group_stamp, st.counts, st.in_counts,
            st.scal, self._touched, st.heap, self._rec_t, self._rec_i, ev_n, ev_r, ev.channels, ev.values, un, ur,
            s_n, s_r, samples, self._ro_start, self.max_cascade, err)
        st.heap = heap
        self._rec_t, self._rec_i = rec_t, rec_i
        nrec = int(st.scal[K.S_REC_N])
        if status != K.OK:
            layer = self.network.all_layers[int(err[1])].name
            what = "cascade (lateral, or a subtract-reset burst)" if status == K.ERR_CASCADE else "zero-delay loop"
            t_err = float(err[0])
            self._failed = f"{what} in layer {layer!r} at t={t_err!r}"
            raise CascadeError(
                f"{what} in layer {layer!r} at t={t_err!r} s exceeded max_cascade={self.max_cascade} "
                "spikes at one instant; check the lateral matrix (a negative diagonal or strong mutual "
                "excitation never settles) or raise max_cascade")
        st.t_now = until
        chunk = ChunkResult(start, until, rec_t[:nrec].copy(), rec_i[:nrec].copy(),
                            samples_t, samples)
        if self.record_spikes:
            self._spike_chunks.append((chunk.spike_times_s, chunk.spike_neurons))
        if samples_t.size:
            self._readout_chunks.append((samples_t, samples))
        return chunk

    def until_including(self, t_s: float) -> float:
        """A ``until_s`` just after ``t_s``: ``run`` to it processes every event at ``t_s``
        (inputs within 1e-9 time-base steps of it included) and may sample at ``t_s``."""
        t = float(t_s)
        return max(float(np.nextafter(t, np.inf)), t + 2 * SNAP_STEPS * self.time_base_s)

    def samples_before(self, sample_times_s, until_s: float) -> np.ndarray:
        """Mask of the sample times that ``run(until_s)`` can take: those ordering before
        ``until_s`` by key (samples split exactly, ``until_s`` snapped; a sample a hair
        before a step-aligned ``until_s`` can order before it although not below it as a float)."""
        un, ur = K.split_time(float(until_s), self.time_base_s, True)
        return self._before_key(np.asarray(sample_times_s, dtype=np.float64).reshape(-1), un, ur, False)

    def _before_key(self, t: np.ndarray, un: float, ur: float, snap: bool = True) -> np.ndarray:
        """Mask of the times whose key (n, r) orders before (un, ur)."""
        n, r = K.split_times(np.ascontiguousarray(t, dtype=np.float64), self.time_base_s, snap)
        return (n < un) | ((n == un) & (r < ur))

    def _take_events(self, until: float, un: float, ur: float):
        """Pending events whose key is before until's (the kernel's rule), with their keys."""
        empty = np.zeros(0)
        if not self._pending:
            return Events(empty, np.zeros(0, np.int64)), empty, empty
        allev = Events.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        # Keys are monotone in the float times: cut by float, then fix the boundary where a
        # time within 1e-9 steps of a step was snapped across `until`.
        t = allev.times_s
        cut = int(np.searchsorted(t, until, side="left"))
        while cut > 0 and not self._before_key(t[cut - 1:cut], un, ur)[0]:
            cut -= 1
        while cut < t.shape[0] and self._before_key(t[cut:cut + 1], un, ur)[0]:
            cut += 1
        now = Events(t[:cut], allev.channels[:cut], allev.values[:cut])
        rest = Events(t[cut:], allev.channels[cut:], allev.values[cut:])
        self._pending = [rest] if len(rest) else []
        n, r = K.split_times(np.ascontiguousarray(now.times_s, dtype=np.float64), self.time_base_s, True)
        return now, n, r

    def _sample_times(self, until: float, un: float, ur: float, extra):
        """Sample times in [t_now, until), compared by key (samples split exactly, the
        bounds snapped like events), with their keys."""
        parts = []
        t0 = self.t_now
        q = self.time_base_s
        n0, r0 = K.split_time(t0, q, True)
        if self.readout_interval_s is not None and self._n_ro:
            dt = self.readout_interval_s
            k0 = int(np.floor(t0 / dt)) + 1
            k1 = int(np.ceil(until / dt))
            ks = np.arange(max(k0 - 2, 1), k1 + 2)
            grid = ks * dt
            parts.append(grid[self._before_key(grid, un, ur, False) & ~self._before_key(grid, n0, r0, False)])
        if extra is not None:
            x = np.asarray(extra, dtype=np.float64).reshape(-1)
            if x.size and (not np.all(np.isfinite(x)) or np.any(np.diff(x) < 0)
                           or self._before_key(x[:1], n0, r0, False)[0]
                           or not self._before_key(x[-1:], un, ur, False)[0]):
                raise ValueError(f"sample_times_s must be finite, sorted and within [t_now={t0!r}, until={until!r}) "
                                 "(until and t_now within 1e-9 time-base steps of a whole step count as "
                                 "that step; see until_including)")
            parts.append(x)
        if not parts:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        st = np.unique(np.concatenate(parts))
        n, r = K.split_times(st, q, False)
        return st, n, r

    # -- results -----------------------------------------------------------------------
    def counts(self) -> Counts:
        c = self.state.counts
        offs = self.network.offsets()
        def per(row):
            return {l.name: c[row, offs[l.name]:offs[l.name] + l.size].copy() for l in self.network.all_layers}
        spikes = {k: v for k, v in per(K.C_SPIKES).items() if self.network.layer(k).spiking}
        return Counts(self.state.in_counts.copy(), spikes, per(K.C_SYN_IN), per(K.C_LATERAL_IN), per(K.C_UPDATES))

    def result(self) -> SimResult:
        """Spikes per layer (if recorded), counts, readout samples, over ``[0, t_now)``."""
        if not self.record_spikes:
            raise RuntimeError("record_spikes=False: use the ChunkResult returned by each run() call")
        if self._spike_chunks:
            t = np.concatenate([c[0] for c in self._spike_chunks])
            i = np.concatenate([c[1] for c in self._spike_chunks])
        else:
            t, i = np.zeros(0), np.zeros(0, np.int64)
        return SimResult(spikes=split_spikes(self.network, t, i), counts=self.counts(), duration_s=self.t_now,
                         **self._readout())

    def _readout(self) -> dict:
        if not self._readout_chunks:
            return {"readout_times_s": np.zeros(0), "readout": np.zeros((0, self._n_ro))}
        return {"readout_times_s": np.concatenate([c[0] for c in self._readout_chunks]),
                "readout": np.concatenate([c[1] for c in self._readout_chunks])}


def split_spikes(network: Network, times_s: np.ndarray, neurons: np.ndarray) -> dict[str, SpikeTrains]:
    """Split spikes given by global neuron id into per-layer :class:`SpikeTrains`."""
    offs = network.offsets()
    out = {}
    for l in network.layers:
        a = offs[l.name]
        m = (neurons >= a) & (neurons < a + l.size)
        out[l.name] = SpikeTrains(times_s[m], neurons[m] - a, l.size)
    return out


def simulate(network: Network, events: Events, duration_s: float, **kwargs) -> SimResult:
    """One-call convenience: build an :class:`ExactSimulator`, run to ``duration_s``, return the result."""
    sim = ExactSimulator(network, **kwargs)
    sim.run(duration_s, events=events)
    return sim.result()
