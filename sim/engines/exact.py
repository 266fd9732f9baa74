"""The exact engine: continuous-time, event-driven simulation of a :class:`Network`.

Implements docs/semantics.md exactly: per-synapse continuous delays, closed-form decay and
drive-induced threshold crossings, simultaneous arrivals at a layer summed before one
threshold check, and spike-granular lateral cascades.

Time is an int64 count of picosecond ticks (:mod:`sim.engines.ticks`): input times, delays and
``until`` become ticks once, with the float's own precision taken into account, and
every arrival is an integer sum. So arrivals simultaneous on paper over different paths
(``0.1 + 0.0326`` and ``0.11 + 0.0226``) are the same tick, an hour or a month into a run,
and are summed before the threshold check. Readout sample times become the tick at or
below them (``nextafter(t, -inf)`` samples just before the arrivals at ``t``). Reported
spike times are the ticks as float seconds. The queue is a timing wheel of 134 us buckets
(:mod:`sim.engines._exact_kernels`).

The simulator is stateful: ``run(until_s=...)`` may be called repeatedly and running
``[0, T]`` in any number of chunks gives exactly the spikes of one call.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from sim.engines import _exact_kernels as K
from sim.engines.compiled import compile_network, initial_potentials
from sim.errors import SimulationError
from sim.model.events import Events
from sim.model.network import Network
from sim.model.results import Counts, SimResult, SpikeTrains
from sim.engines.ticks import FLOOR, MAX_TIME_S, NEAREST, NEVER, seconds_to_tick, seconds_to_ticks, ticks_to_s

__all__ = ["ExactSimulator", "ChunkResult", "CascadeError", "simulate"]

# Per-neuron state that survives between ``run`` calls (all arrays, updated in place).
NeuronState = namedtuple("NeuronState", ["V", "t_last", "pred", "stamp", "group_stamp", "counts", "in_counts",
                                         "touched"])
# The event queue and the spike record: a timing wheel (whead/wpos per bucket slot, wcount its blocks)
# over a pool of blocks (entry p: pk[2p] its key, with the target in the low bits, and pv[2p + 1] its
# value; pk and pv view one buffer, so that an entry is one 16-byte unit; pnext links, free stack), the current bucket's
# heap (hk/hp/hv), the overflow heap (ot/oo/op/ov), sort scratch and the current bucket
# sorted (tk.., ck..), the spike record (rec_t ticks, rec_i neurons), scalars (scal), the
# decay factors of recent gaps (ec_s gap, ec_n ntau, ec_e factor: _exact_kernels._advance_t).
Queue = namedtuple("Queue", ["scal", "whead", "wpos", "wcount", "pk", "pv", "pnext", "free", "hk", "hp", "hv",
                             "ot", "oo", "op", "ov", "tk", "tv", "ck", "cv", "hist", "rec_t", "rec_i",
                             "ec_s", "ec_n", "ec_e"])


def _resized(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` copied into a new array of length ``n``, the tail uninitialised: the kernel
    writes every slot before it reads it (a new block's link is set when the block is
    taken, heaps and the spike record are read below their fill counts only). Not filling
    it saves a pass over fresh memory, which in a fresh process costs a page fault per 4 KiB
    (the spike record of a 10 s benchmark run grows to 1.6 M entries)."""
    out = np.empty(n, a.dtype)
    out[:a.shape[0]] = a
    return out


class CascadeError(SimulationError):  # an AxonError
    """A lateral cascade or a zero-delay loop did not settle within ``max_cascade`` spikes."""


@dataclass
class ChunkResult:
    """What one ``run`` call produced: spikes (global neuron ids) and readout samples."""

    start_s: float
    stop_s: float
    spike_times_s: np.ndarray
    spike_neurons: np.ndarray
    readout_times_s: np.ndarray
    readout: np.ndarray


def _pool(n: int, old: np.ndarray | None = None) -> dict:
    """Room for n pool entries, each a key (int64) and a value (float64) side by side: the
    same buffer as ``pk`` (int64) and ``pv`` (float64); ``old`` entries copied in."""
    pk = np.zeros(2 * n, np.int64)
    if old is not None:
        pk[:old.shape[0]] = old
    return {"pk": pk, "pv": pk.view(np.float64)}


def _pairs(n: int) -> dict:
    """The sorted bucket (ck/cv) and its scratch (tk/tv) for n entries, each a key and a
    value side by side (entry i: ck[2i], cv[2i + 1]; ck and cv view one buffer)."""
    ck, tk = np.zeros(2 * n, np.int64), np.zeros(2 * n, np.int64)
    return {"ck": ck, "cv": ck.view(np.float64), "tk": tk, "tv": tk.view(np.float64)}


def _new_queue(n_buckets: int, n_neurons: int) -> Queue:
    """An empty queue with room for one wake-up per neuron (the initial predictions)."""
    nb = max(64, n_neurons + 2)
    nh = max(256, n_neurons + 2)
    scal = np.zeros(K.N_SCAL, np.int64)
    scal[K.S_FREE_N] = nb
    scal[K.S_LAST_T] = -1
    return Queue(
        scal=scal, whead=np.full(n_buckets, -1, np.int64),
        wpos=np.full(n_buckets, -1, np.int64), wcount=np.zeros(n_buckets, np.int64),
        **_pool(nb * K.BS),
        pnext=np.full(nb, -1, np.int64), free=np.arange(nb - 1, -1, -1, dtype=np.int64),
        hk=np.zeros(nh, np.int64), hp=np.zeros(nh, np.int32), hv=np.zeros(nh),
        ot=np.zeros(nh, np.int64), oo=np.zeros(nh, np.int64), op=np.zeros(nh, np.int32), ov=np.zeros(nh),
        **_pairs(1024),
        hist=np.zeros(2 * (1 << K.SPLIT_BITS) + 4 + (1 << K.RADIX_BITS), np.int64), rec_t=np.zeros(1024, np.int64), rec_i=np.zeros(1024, np.int64),
        ec_s=np.full(K.EC_SIZE, -1, np.int64), ec_n=np.zeros(K.EC_SIZE), ec_e=np.zeros(K.EC_SIZE),
    )


def _wheel_buckets(max_delay_tick: int) -> int:
    """Buckets on the wheel: a power of two covering the longest delay (at most 2**16;
    arrivals beyond the wheel wait in the overflow heap)."""
    need = (max_delay_tick >> K.W_BITS) + 2
    nb = 16
    while nb < need and nb < (1 << 16):
        nb *= 2
    return nb


class ExactSimulator:
    """Event-driven simulator of a :class:`Network` in continuous time.

    Parameters
    ----------
    network : Network
    max_cascade : int
        Bound on the spikes of one instant (one lateral cascade, one subtract-reset burst,
        all rounds of zero-delay arrivals at one tick together) and on the zero-delay rounds
        at one instant; exceeding it raises :class:`CascadeError` naming the layer and time,
        before the queue or the spike record can grow without bound.
    record_spikes : bool
        Keep every spike for :meth:`result`. Turn off for long streams and use the
        :class:`ChunkResult` each ``run`` returns.
    record_readout : bool
        Keep every readout sample for :meth:`result`; off, they are only in each
        :class:`ChunkResult` (memory then does not grow with simulated time).
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
                 record_readout: bool = True, readout_interval_s: float | None = None, v_init=None):
        if not isinstance(network, Network):
            raise ValueError(f"ExactSimulator needs a sim.Network, got {type(network).__name__}")
        if isinstance(max_cascade, bool) or not isinstance(max_cascade, (int, np.integer)) or max_cascade < 1:
            raise ValueError(f"max_cascade must be an integer >= 1, got {max_cascade!r}")
        if readout_interval_s is not None and (isinstance(readout_interval_s, bool)
                                               or not isinstance(readout_interval_s, (int, float, np.integer, np.floating))
                                               or not np.isfinite(readout_interval_s) or readout_interval_s <= 0):
            raise ValueError(f"readout_interval_s must be a finite number > 0, got {readout_interval_s!r}")
        self.network = network
        self.net = compile_network(network)
        self.max_cascade = int(max_cascade)
        self.record_spikes = record_spikes
        self.record_readout = bool(record_readout)
        self.readout_interval_s = None if readout_interval_s is None else float(readout_interval_s)
        self._n_buckets = _wheel_buckets(self.net.max_delay_tick)
        self.reset(v_init)
        ro = network.readout
        self._ro_start = network.offsets()[ro.name] if ro is not None else 0
        self._n_ro = ro.size if ro is not None else 0

    def reset(self, v_init=None) -> None:
        """Back to t = 0 with fresh state (potentials ``v_init`` or zeros, empty queue, zero
        counts, no recorded spikes), keeping the compiled network: the cheap way to run
        many independent samples through one network."""
        n = self.network.n_neurons
        V = initial_potentials(n, v_init)
        n_groups = self.net.group_ptr.shape[0] - 1
        self.state = NeuronState(
            V=V, t_last=np.zeros(n, np.int64), pred=np.full(n, NEVER, np.int64), stamp=np.zeros(n, np.int64),
            group_stamp=np.zeros(max(n_groups, 1), np.int64), counts=np.zeros((K.N_COUNTERS, n), np.int64),
            in_counts=np.zeros(self.network.n_inputs, np.int64), touched=np.zeros(max(n, 1), np.int64))
        self.queue = _new_queue(self._n_buckets, n)
        K._initial_predictions(self.net, self.state, self.queue)
        self._t_now = 0.0
        self._tick_now = 0
        self._pending: list[tuple[Events, np.ndarray]] = []
        self._last_event_tick = -1
        self._last_event_channels = np.zeros(0, np.int64)
        self._spike_chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._readout_chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._failed: str | None = None
        # The grid every arrival since the reset lies on (gcd of the delays and of every
        # input tick so far; 0: none): only ever shrinks, so that a bucket sorted "on a
        # grid" never holds an arrival of an earlier call that was off it.
        self._grid = int(self.net.tick_grid)

    # -- input -------------------------------------------------------------------------
    @property
    def failed(self) -> str | None:
        """Why an earlier ``run`` stopped with an error (the simulator is then unusable), or None."""
        return self._failed

    @property
    def t_now(self) -> float:
        """Time up to which the simulation has run (events with t < t_now are done)."""
        return self._t_now

    def _check_events(self, events: Events) -> np.ndarray:
        """Validate ``events`` against the queue without changing anything; returns their ticks."""
        if not isinstance(events, Events):
            raise ValueError(f"events must be sim.Events, got {type(events).__name__}")
        events.check_channels(self.network.n_inputs)
        ticks = seconds_to_ticks(events.times_s, NEAREST)
        t0 = float(events.times_s[0])
        if ticks[0] < self._tick_now:
            raise ValueError(f"events: first event at t={t0!r} precedes the simulated time t_now={self.t_now!r}")
        if ticks[0] < self._last_event_tick:
            raise ValueError(f"events: first event at t={t0!r} precedes the last queued event; "
                             "events must arrive in time order")
        if ticks[0] == self._last_event_tick:
            both = np.intersect1d(events.channels[ticks == ticks[0]], self._last_event_channels)
            if both.size:
                raise ValueError(f"events: channel {both[0]} has two events at t={t0!r} across two batches; "
                                 "combine them with sim.merge_duplicates")
        dup = (np.diff(ticks) == 0) & (np.diff(events.channels) == 0) if ticks.size > 1 else np.zeros(0, bool)
        if np.any(dup):
            k = int(np.nonzero(dup)[0][0])
            raise ValueError(f"events: channel {events.channels[k]} has two events at t={float(events.times_s[k])!r} "
                             "(the same picosecond); combine them with sim.merge_duplicates")
        return ticks

    def add_events(self, events: Events) -> None:
        """Queue input events. Times must not precede :attr:`t_now` or earlier queued events."""
        if isinstance(events, Events) and len(events) == 0:
            return
        ticks = self._check_events(events)
        self._queue_events(events, ticks)

    def _queue_events(self, events: Events, ticks: np.ndarray) -> None:
        self._pending.append((events, ticks))
        tl = int(ticks[-1])
        last = events.channels[ticks == tl]
        self._last_event_channels = last if tl != self._last_event_tick else np.union1d(self._last_event_channels, last)
        self._last_event_tick = tl

    # -- running -----------------------------------------------------------------------
    def run(self, until_s: float, events: Events | None = None, sample_times_s=None) -> ChunkResult:
        """Advance the simulation to ``until_s``: process every event with time < until_s.

        Times are compared as ticks (see the module docstring): ``until_s``, like an input
        time, is the tick it stands for; sample times are the tick at or below them, so
        ``np.nextafter(t, -np.inf)`` still means "just before t". To include the instant
        ``t`` (e.g. to sample at ``t``), run to :meth:`until_including` ``(t)``.
        Everything is checked before anything changes: a rejected call leaves the
        simulator as it was.

        Parameters
        ----------
        until_s : float
            End of this chunk in seconds (>= :attr:`t_now`).
        events : Events, optional
            More input events (see :meth:`add_events`).
        sample_times_s : array, optional
            Extra readout sample times in ``[t_now, until_s)`` (compared as ticks;
            :meth:`samples_before`), sorted. A sample at ``t`` includes every arrival at ``t``.
        """
        if self._failed:
            raise RuntimeError(f"this simulator stopped with an error earlier ({self._failed}); build a new one")
        if isinstance(until_s, bool) or not isinstance(until_s, (int, float, np.integer, np.floating)):
            raise ValueError(f"until_s must be a number of seconds, got {until_s!r}")
        until = float(until_s)
        if not np.isfinite(until) or until < self.t_now or until > MAX_TIME_S:
            raise ValueError(f"until_s must be finite and >= t_now={self.t_now!r} (and <= {MAX_TIME_S:g} s), "
                             f"got {until_s!r}")
        u = seconds_to_tick(until, NEAREST)
        ev_ticks = None
        if events is not None and not (isinstance(events, Events) and len(events) == 0):
            ev_ticks = self._check_events(events)
        samples_t, s_ticks = self._sample_times(until, u, sample_times_s)
        # Validated: from here on the call changes state.
        if ev_ticks is not None:
            self._queue_events(events, ev_ticks)
        ev, in_t = self._take_events(u)
        samples = np.zeros((samples_t.shape[0], self._n_ro))
        start = self._t_now
        self.queue.scal[K.S_REC_N] = 0
        err = np.zeros(2, np.int64)
        scal = self.queue.scal
        scal[K.S_IP] = 0
        scal[K.S_SP] = 0
        # Do all arrivals, of this call and of every earlier one still queued, lie on a
        # coarse grid (delays and inputs; spikes then happen on it too)? Then the bucket
        # sort can take one digit per (grid instant, kind) and skip its ordering passes;
        # the order, and so every result, is the same either way.
        if self._grid and in_t.shape[0]:
            self._grid = int(np.gcd(self._grid, np.gcd.reduce(in_t)))
        scal[K.S_GRID] = int(self._grid >= K.GRID_MIN_TICKS and K.grid_digits_fit(self.net.seq_bits))
        while True:
            status = K._step(self.net, self.state, self.queue, in_t, ev.channels, ev.values, u, s_ticks, samples,
                             self._ro_start, self.max_cascade, err)
            if status != K.NEED_ROOM:
                break
            self._grow()
        nrec = int(self.queue.scal[K.S_REC_N])
        if status != K.OK:
            layer = self.network.all_layers[int(err[1])].name
            what = "cascade (lateral, or a subtract-reset burst)" if status == K.ERR_CASCADE else "zero-delay loop"
            t_err = float(ticks_to_s(err[:1])[0])
            self._failed = f"{what} in layer {layer!r} at t={t_err!r}"
            raise CascadeError(
                f"{what} in layer {layer!r} at t={t_err!r} s exceeded max_cascade={self.max_cascade} "
                "spikes at one instant; check the lateral matrix (a negative diagonal or strong mutual "
                "excitation never settles) or raise max_cascade")
        self._t_now = until
        self._tick_now = u
        rec_t = self.queue.rec_t
        chunk = ChunkResult(start, until, ticks_to_s(rec_t[:nrec]), self.queue.rec_i[:nrec].copy(),
                            samples_t, samples)
        if self.record_spikes:
            self._spike_chunks.append((chunk.spike_times_s, chunk.spike_neurons))
        if samples_t.size and self.record_readout:
            self._readout_chunks.append((samples_t, samples))
        return chunk

    def _grow(self) -> None:
        """Make the room the kernel asked for (``scal[S_NEED_*]``), at least doubling."""
        q = self.queue
        scal = q.scal
        rep = {}
        need = int(scal[K.S_NEED_BLOCKS])
        if need > scal[K.S_FREE_N]:
            nb_old = q.pnext.shape[0]
            nb = max(2 * nb_old, nb_old + need)
            n_free = int(scal[K.S_FREE_N])
            free = np.empty(nb, np.int64)
            free[:n_free] = q.free[:n_free]
            free[n_free:n_free + nb - nb_old] = np.arange(nb - 1, nb_old - 1, -1)
            scal[K.S_FREE_N] = n_free + nb - nb_old
            rep.update(**_pool(nb * K.BS, q.pk), pnext=_resized(q.pnext, nb), free=free)
        need = int(scal[K.S_NEED_NEAR])
        if need > q.hk.shape[0]:
            m = max(2 * q.hk.shape[0], need)
            rep.update(hk=_resized(q.hk, m), hp=_resized(q.hp, m), hv=_resized(q.hv, m))
        need = int(scal[K.S_NEED_OVER])
        if need > q.ot.shape[0]:
            m = max(2 * q.ot.shape[0], need)
            rep.update(ot=_resized(q.ot, m), oo=_resized(q.oo, m), op=_resized(q.op, m), ov=_resized(q.ov, m))
        need = int(scal[K.S_NEED_SCRATCH])
        if 2 * need > q.tk.shape[0]:
            rep.update(**_pairs(max(q.tk.shape[0], need)))
        need = int(scal[K.S_NEED_REC])
        if need > q.rec_t.shape[0]:
            m = max(2 * q.rec_t.shape[0], need)
            rep.update(rec_t=_resized(q.rec_t, m), rec_i=_resized(q.rec_i, m))
        if not rep:
            raise RuntimeError("exact engine: the kernel asked for room it already has (a bug)")
        for k in (K.S_NEED_BLOCKS, K.S_NEED_NEAR, K.S_NEED_OVER, K.S_NEED_SCRATCH, K.S_NEED_REC):
            scal[k] = 0
        self.queue = q._replace(**rep)

    def until_including(self, t_s: float) -> float:
        """A ``until_s`` just after ``t_s``: ``run`` to it processes every event at ``t_s``
        (the same tick) and may sample at ``t_s``."""
        t = float(t_s)
        k = seconds_to_tick(t, NEAREST)
        u = float(np.nextafter(t, np.inf))
        while seconds_to_tick(u, NEAREST) <= k:
            u = float(np.nextafter(u, np.inf))
        return u

    def samples_before(self, sample_times_s, until_s: float) -> np.ndarray:
        """Mask of the sample times that ``run(until_s)`` can take: those whose tick (at or
        below the time) is before ``until_s``'s tick."""
        u = seconds_to_tick(float(until_s), NEAREST)
        return seconds_to_ticks(np.asarray(sample_times_s, dtype=np.float64).reshape(-1), FLOOR) < u

    def queue_sizes(self) -> dict:
        """Sizes of the engine's buffers that live across ``run`` calls (entries, chunks kept)."""
        q = self.queue
        return {"kept_readout_chunks": len(self._readout_chunks), "kept_spike_chunks": len(self._spike_chunks),"queue_pool_entries": int(q.pk.shape[0] // 2), "queue_entries_used": int(q.scal[K.S_WHEEL_N]
                + q.scal[K.S_NEAR_N] + q.scal[K.S_OVER_N] + q.scal[K.S_CUR_N] - q.scal[K.S_CUR_POS]),
                "queue_heap_rows": int(q.hk.shape[0] + q.ot.shape[0]), "record_buffer": int(q.rec_t.shape[0]),
                "pending_input_events": sum(len(e) for e, _ in self._pending)}

    def _take_events(self, u: int):
        """Pending events whose tick is before ``u``, with their ticks; the rest stay queued."""
        if not self._pending:
            return Events(np.zeros(0), np.zeros(0, np.int64)), np.zeros(0, np.int64)
        if len(self._pending) > 1:
            allev = Events.concatenate([e for e, _ in self._pending])
            ticks = np.concatenate([t for _, t in self._pending])
        else:
            allev, ticks = self._pending[0]
        cut = int(np.searchsorted(ticks, u, side="left"))
        now = Events(allev.times_s[:cut], allev.channels[:cut], allev.values[:cut])
        if cut < ticks.shape[0]:
            rest = Events(allev.times_s[cut:], allev.channels[cut:], allev.values[cut:])
            self._pending = [(rest, ticks[cut:])]
        else:
            self._pending = []
        return now, np.ascontiguousarray(ticks[:cut])

    def _sample_times(self, until: float, u: int, extra):
        """Sample times in [t_now, until) by tick, with their ticks (at or below the time)."""
        parts = []
        t0 = self.t_now
        if self.readout_interval_s is not None and self._n_ro:
            dt = self.readout_interval_s
            k0 = int(np.floor(t0 / dt)) + 1
            k1 = int(np.ceil(until / dt))
            if k1 - k0 > 50_000_000:
                raise ValueError(f"readout_interval_s={dt!r} gives {k1 - k0} samples in this chunk "
                                 f"({(k1 - k0) * 8 * self._n_ro / 2**30:.1f} GiB); run shorter chunks")
            grid = np.arange(max(k0 - 2, 1), k1 + 2) * dt
            gt = seconds_to_ticks(grid, FLOOR)
            keep = (gt < u) & (gt >= self._tick_now)
            parts.append(grid[keep])
        if extra is not None:
            x = np.asarray(extra, dtype=np.float64).reshape(-1)
            if x.size:
                if not np.all(np.isfinite(x)) or np.any(np.diff(x) < 0) or x[0] < 0 or x[-1] > MAX_TIME_S:
                    raise ValueError("sample_times_s must be finite and sorted")
                xt = seconds_to_ticks(x, FLOOR)
                if xt[0] < self._tick_now or xt[-1] >= u:
                    raise ValueError(f"sample_times_s must lie within [t_now={t0!r}, until={until!r}) "
                                     "(compared as picosecond ticks; see until_including)")
            parts.append(x)
        if not parts:
            return np.zeros(0), np.zeros(0, np.int64)
        st = np.unique(np.concatenate(parts))
        return st, seconds_to_ticks(st, FLOOR)

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
        return SimResult(spikes=spikes_of_chunks(self.network, self._spike_chunks), counts=self.counts(),
                         duration_s=self.t_now,
                         **self._readout())

    def _readout(self) -> dict:
        if not self._readout_chunks:
            return {"readout_times_s": np.zeros(0), "readout": np.zeros((0, self._n_ro))}
        return {"readout_times_s": np.concatenate([c[0] for c in self._readout_chunks]),
                "readout": np.concatenate([c[1] for c in self._readout_chunks])}


def spikes_of_chunks(network: Network, chunks) -> dict[str, SpikeTrains]:
    """Per-layer :class:`SpikeTrains` of recorded chunks ``[(times_s, global neuron ids), ...]``."""
    if not chunks:
        return split_spikes(network, np.zeros(0), np.zeros(0, np.int64))
    return split_spikes(network, np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]))


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
