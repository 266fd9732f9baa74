"""The exact engine: continuous-time, event-driven simulation of a :class:`Network`.

Implements SEMANTICS.md exactly: float64 event times, per-synapse continuous delays (never
rounded), closed-form decay and drive-induced threshold crossings, simultaneous arrivals
at a layer summed before one threshold check, and spike-granular lateral cascades.
The simulator is stateful: ``run(until_s=...)`` may be called repeatedly and running
``[0, T]`` in any number of chunks gives exactly the spikes of one call.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import _exact_kernels as K
from sim.compiled import compile_network
from sim.events import Events
from sim.network import Network
from sim.results import Counts, SimResult, SpikeTrains

__all__ = ["ExactSimulator", "ChunkResult", "CascadeError", "simulate"]


class CascadeError(RuntimeError):
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
    pred: np.ndarray
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

    Examples
    --------
    >>> sim = ExactSimulator(net)
    >>> sim.run(0.5, events=ev.window(0, 0.5)); sim.run(1.0, events=ev.window(0.5, 1.0))
    >>> res = sim.result()   # spikes per layer, counts, rates
    """

    def __init__(self, network: Network, *, max_cascade: int = 100_000, record_spikes: bool = True,
                 readout_interval_s: float | None = None, v_init=None):
        if not isinstance(network, Network):
            raise ValueError(f"ExactSimulator needs a sim.Network, got {type(network).__name__}")
        if not isinstance(max_cascade, (int, np.integer)) or max_cascade < 1:
            raise ValueError(f"max_cascade must be an integer >= 1, got {max_cascade!r}")
        if readout_interval_s is not None and (not np.isfinite(readout_interval_s) or readout_interval_s <= 0):
            raise ValueError(f"readout_interval_s must be a finite number > 0, got {readout_interval_s!r}")
        self.network = network
        self.net = compile_network(network)
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
            V=V, t_last=np.zeros(n), pred=np.full(n, np.inf), stamp=np.zeros(n, np.int64),
            group_stamp=np.zeros(max(n_groups, 1), np.int64), counts=np.zeros((K.N_COUNTERS, n), np.int64),
            in_counts=np.zeros(self.network.n_inputs, np.int64), scal=np.zeros(4, np.int64),
            heap=np.zeros((1024, K.H_COLS)),
        )
        heap, hsize = K._initial_predictions(self.net, self.state.V, self.state.pred, self.state.heap, 0)
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

        Parameters
        ----------
        until_s : float
            End of this chunk in seconds (>= :attr:`t_now`).
        events : Events, optional
            More input events (see :meth:`add_events`).
        sample_times_s : array, optional
            Extra readout sample times in ``[t_now, until_s)``, sorted. A sample at ``t``
            includes every arrival at ``t``.
        """
        if self._failed:
            raise RuntimeError(f"this simulator stopped with an error earlier ({self._failed}); build a new one")
        until = float(until_s)
        if not np.isfinite(until) or until < self.t_now:
            raise ValueError(f"until_s must be finite and >= t_now={self.t_now!r}, got {until_s!r}")
        if events is not None:
            self.add_events(events)
        ev = self._take_events(until)
        samples_t = self._sample_times(until, sample_times_s)
        samples = np.zeros((samples_t.shape[0], self._n_ro))
        st = self.state
        start = st.t_now
        st.scal[K.S_REC_N] = 0
        err = np.zeros(2)
        status, heap, rec_t, rec_i = K._run(
            self.net, st.V, st.t_last, st.pred, st.stamp, st.group_stamp, st.counts, st.in_counts, st.scal,
            self._touched, st.heap, self._rec_t, self._rec_i, ev.times_s, ev.channels, ev.values, until,
            samples_t, samples, self._ro_start, self.max_cascade, err)
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

    def _take_events(self, until: float) -> Events:
        if not self._pending:
            return Events(np.zeros(0), np.zeros(0, np.int64))
        allev = Events.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        cut = int(np.searchsorted(allev.times_s, until, side="left"))
        now = Events(allev.times_s[:cut], allev.channels[:cut], allev.values[:cut])
        rest = Events(allev.times_s[cut:], allev.channels[cut:], allev.values[cut:])
        self._pending = [rest] if len(rest) else []
        return now

    def _sample_times(self, until: float, extra) -> np.ndarray:
        parts = []
        t0 = self.t_now
        if self.readout_interval_s is not None and self._n_ro:
            dt = self.readout_interval_s
            k0 = int(np.floor(t0 / dt)) + 1
            k1 = int(np.ceil(until / dt))
            ks = np.arange(max(k0 - 1, 1), k1 + 1)
            grid = ks * dt
            parts.append(grid[(grid >= t0) & (grid < until)])
        if extra is not None:
            x = np.asarray(extra, dtype=np.float64).reshape(-1)
            if x.size and (not np.all(np.isfinite(x)) or np.any(np.diff(x) < 0) or x[0] < t0 or x[-1] >= until):
                raise ValueError(f"sample_times_s must be finite, sorted and within [t_now={t0!r}, until={until!r})")
            parts.append(x)
        if not parts:
            return np.zeros(0)
        return np.unique(np.concatenate(parts))

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
