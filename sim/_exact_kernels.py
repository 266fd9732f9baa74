"""Compiled core of the exact (continuous-time, event-driven) engine.

Time representation. Every time is a pair ``(n, r)``: ``t = n * Q + r`` with ``n`` a whole
number of time-base steps ``Q`` (float64, exact below 2**53) and an offset ``0 <= r < Q``
(:func:`split_time`). Delays are split once, ``d = m * Q + s`` (``sim.compiled``); an
arrival is ``(n_emit + m, r_emit + s)`` normalised (:func:`_add`). With on-grid delays
(``s = 0``) every path gives bit-identical ``(n, r)``, so arrivals simultaneous on paper
are simultaneous here and summed before the threshold check (float sums such as
``(t + d1) + d2`` vs ``t + (d1 + d2)`` would split them ~1e-18 s apart). The float time
used for decay, spike records and readout samples is ``n * Q + r``, computed one way
everywhere (:func:`_tfloat`), so equal keys give equal floats.

The event queue is a binary min-heap stored as rows of a float64 array:

    [n, r, ord, emit_n, emit_r, value]

ordered lexicographically by (n, r, ord). ``ord`` encodes (layer, source, k) in one
number: the synapses are stored by (target layer, source, delay, post) (``sim.compiled``),
so synapse ``k`` of layer L has ``ord = k + layer_n_end[L]`` and a wake-up of neuron ``i``
of layer L has ``ord = layer_syn_start[L] + i``, which lies just below layer L's synapse
ords and above layer L-1's. A synapse row stands for one in-flight spike (or input event)
travelling to a layer over the synapses ``k..`` of its (source, layer) range, which are
sorted by delay: when it is popped, all synapses with the current delay are delivered
and the row moves on to the next delay (``syn_run_end``). So the heap holds one row per
in-flight spike and target layer, not one per synapse. A wake-up row says that neuron
``i`` reaches threshold by its drive alone at ``(n, r)`` (SEMANTICS.md, closed-form
crossing). Six columns instead of the nine a row with separate layer/source/k/end needs:
the sift loops are bound by memory traffic, and the narrower row measured ~25% faster.

The ordering key makes the order in which simultaneous arrivals are added to a potential
canonical — (layer, wake-ups by neuron, then source, delay, post) — independent of
insertion order, so results are bit-for-bit reproducible and identical to the slow
reference in ``tests/reference``.

Indices and integers stored as float64 are exact below 2**53.

Small kernels that never allocate are compiled with ``_nrt=False``: otherwise every call
increments and decrements the reference count of each array argument, which on the
reference network cost more than the arithmetic of the kernels themselves (measured:
1.09 s -> 0.63 s for 7 M synaptic events).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# Columns of a heap row.
H_N, H_R, H_ORD, H_EN, H_ER, H_VAL = 0, 1, 2, 3, 4, 5
H_COLS = 6

# A time within this many time-base steps of a whole number of steps is that whole number
# (same constant as sim.compiled.SNAP_STEPS).
SNAP_STEPS = 1e-9


@njit(cache=True, _nrt=False)
def split_time(x, q, snap):
    """``(n, r)`` with ``x = n * q + r`` and ``0 <= r < q`` (``n`` a whole float).

    ``r = x - n * q`` is exact (Sterbenz), so ``n * q + r`` gives back ``x`` bit for bit.
    With ``snap``, an ``x`` within ``SNAP_STEPS`` steps of a whole number of steps is that
    step, ``r = 0`` exactly: how delays, input times, sample times and ``until`` enter.
    Drive crossings (computed, not given) are split without snapping.
    """
    f = x / q
    if snap:
        m = np.floor(f + 0.5)
        if abs(f - m) <= SNAP_STEPS:
            return m, 0.0
    n = np.floor(f)
    r = x - n * q
    if r < 0.0:
        n -= 1.0
        r = x - n * q
    elif r >= q:
        n += 1.0
        r = x - n * q
    # x/q is correctly rounded, so one correction suffices except within an ulp of a step.
    if r < 0.0:
        r = 0.0
    elif r >= q:
        n += 1.0
        r = 0.0
    return n, r


@njit(cache=True)
def split_times(x, q, snap):
    """:func:`split_time` of every element: returns (n, r) arrays."""
    n = np.empty(x.shape[0])
    r = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        n[i], r[i] = split_time(x[i], q, snap)
    return n, r


@njit(cache=True, _nrt=False)
def _add(n, r, m, s, q):
    """``(n, r) + (m, s)`` normalised to ``0 <= r < q`` (``r + s - q`` is exact)."""
    r2 = r + s
    if r2 >= q:
        return n + m + 1.0, r2 - q
    return n + m, r2


@njit(cache=True, _nrt=False)
def _tfloat(n, r, q):
    """The float time of key (n, r): the one formula used everywhere."""
    return n * q + r


@njit(cache=True, _nrt=False)
def _key_lt(n1, r1, n2, r2):
    return n1 < n2 or (n1 == n2 and r1 < r2)

# Rows of the per-neuron counter array.
C_SPIKES, C_SYN_IN, C_UPDATES, C_LATERAL_IN = 0, 1, 2, 3
N_COUNTERS = 4

# Return status of _run.
OK, ERR_CASCADE, ERR_ZERO_DELAY_LOOP = 0, 1, 2

# Scalars carried in the int64 ``scal`` array between calls.
S_HSIZE, S_REC_N, S_ROUND, S_SAMPLE_N = 0, 1, 2, 3


@njit(cache=True, _nrt=False)
def _less(h, a, b):
    """Row a orders before row b by (n, r, ord)."""
    if h[a, 0] != h[b, 0]:
        return h[a, 0] < h[b, 0]
    if h[a, 1] != h[b, 1]:
        return h[a, 1] < h[b, 1]
    return h[a, 2] < h[b, 2]


@njit(cache=True, _nrt=False)
def _before(h, a, n, r, o):
    """Heap row a orders strictly before the key (n, r, o)."""
    if h[a, 0] != n:
        return h[a, 0] < n
    if h[a, 1] != r:
        return h[a, 1] < r
    return h[a, 2] < o


@njit(cache=True, _nrt=False)
def _after(h, a, n, r, o):
    """Heap row a orders strictly after the key (n, r, o)."""
    if h[a, 0] != n:
        return h[a, 0] > n
    if h[a, 1] != r:
        return h[a, 1] > r
    return h[a, 2] > o


@njit(cache=True, _nrt=False)
def _sift_up(h, i):
    # Hole technique: the moving row is held in scalars and written once at its place.
    n, r, o, en, er, val = h[i, 0], h[i, 1], h[i, 2], h[i, 3], h[i, 4], h[i, 5]
    while i > 0:
        parent = (i - 1) >> 1
        if not _after(h, parent, n, r, o):
            break
        for c in range(H_COLS):
            h[i, c] = h[parent, c]
        i = parent
    h[i, 0], h[i, 1], h[i, 2], h[i, 3], h[i, 4], h[i, 5] = n, r, o, en, er, val


@njit(cache=True, _nrt=False)
def _sift_down(h, i, size):
    n, r, o, en, er, val = h[i, 0], h[i, 1], h[i, 2], h[i, 3], h[i, 4], h[i, 5]
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        best = left
        right = left + 1
        if right < size and _less(h, right, left):
            best = right
        if not _before(h, best, n, r, o):
            break
        for c in range(H_COLS):
            h[i, c] = h[best, c]
        i = best
    h[i, 0], h[i, 1], h[i, 2], h[i, 3], h[i, 4], h[i, 5] = n, r, o, en, er, val


@njit(cache=True)
def _grow_rows(a, size):
    new = np.empty((max(2 * a.shape[0], 16), a.shape[1]), dtype=a.dtype)
    new[:size] = a[:size]
    return new


@njit(cache=True)
def _grow_1d(a, size):
    new = np.empty(max(2 * a.shape[0], 16), dtype=a.dtype)
    new[:size] = a[:size]
    return new


@njit(cache=True, _nrt=False)
def _heap_insert(h, size, n, r, o, en, er, val):
    """Insert a row; the caller guarantees ``size < h.shape[0]`` and increments size."""
    h[size, H_N] = n
    h[size, H_R] = r
    h[size, H_ORD] = o
    h[size, H_EN] = en
    h[size, H_ER] = er
    h[size, H_VAL] = val
    _sift_up(h, size)


@njit(cache=True)
def _heap_push(h, size, n, r, o, en, er, val):
    """Push a row; returns the (possibly reallocated) heap. Caller increments size."""
    if size == h.shape[0]:
        h = _grow_rows(h, size)
    _heap_insert(h, size, n, r, o, en, er, val)
    return h


@njit(cache=True, _nrt=False)
def _heap_pop(h, size):
    """Remove the top row; returns the new size."""
    size -= 1
    if size > 0:
        for c in range(H_COLS):
            h[0, c] = h[size, c]
        _sift_down(h, 0, size)
    return size


@njit(cache=True)
def _sort_small(a, n):
    """Sort a[:n] in place: insertion sort for the usual handful, numpy's sort beyond."""
    if n > 32:
        a[:n].sort()
        return
    for i in range(1, n):
        x = a[i]
        j = i - 1
        while j >= 0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


@njit(cache=True, _nrt=False)
def _advance(tau, btau, thr, V, t_last, pred_n, pred_r, i, t, n, r):
    """Bring neuron i from its last update to time t = key (n, r) (closed-form LIF with drive).

    V(t+s) = V e + b tau (1 - e), e = exp(-s/tau). If the drive-induced crossing predicted
    from the previous state lies at or before (n, r), the potential is held at least at
    threshold so that rounding in exp/log never hides a crossing the engine scheduled.
    """
    s = t - t_last[i]
    if s > 0.0:
        e = math.exp(-s / tau[i])
        V[i] = V[i] * e + btau[i] * (1.0 - e)
        t_last[i] = t
    pn = pred_n[i]
    if (pn < n or (pn == n and pred_r[i] <= r)) and V[i] < thr[i]:
        V[i] = thr[i]


@njit(cache=True, _nrt=False)
def _crossing_delay(crossing, tau, btau, thr, V, i):
    """Time after which drive alone brings neuron i (at V[i]) to threshold, or inf (>= 0)."""
    if crossing[i] and V[i] < thr[i]:
        b = btau[i]
        return max(tau[i] * math.log((V[i] - b) / (thr[i] - b)), 0.0)
    return np.inf


@njit(cache=True, _nrt=False)
def _readout_value(tau, btau, V, t_last, i, t):
    s = t - t_last[i]
    if s <= 0.0:
        return V[i]
    e = math.exp(-s / tau[i])
    return V[i] * e + btau[i] * (1.0 - e)


@njit(cache=True)
def _run(net, V, t_last, pred_n, pred_r, stamp, group_stamp, counts, in_counts, scal, touched,
         heap, rec_t, rec_i, in_n, in_r, in_ch, in_v, until_n, until_r, sample_n, sample_r, samples, ro_start,
         max_cascade, err):
    """Process every event with key (n, r) < (until_n, until_r). Returns (status, heap, rec_t, rec_i).

    Rounds: all rows with the same (n, r, layer) are applied, then that layer's thresholds
    are checked once (neurons in increasing index; a neuron of a lateral group triggers the
    group's spike-granular cascade). Spikes push rows for their targets; a zero delay gives
    a new round at the same time. ``err`` receives (time, layer) on error.
    """
    # The network's arrays are unpacked once: passing the whole ``net`` tuple to a helper
    # costs a reference-count update per member array on every call (measured 50x slower
    # than the arithmetic of ``_advance`` itself).
    tau, btau, thr, crossing, subtract = net.tau, net.btau, net.thr, net.crossing, net.subtract
    out_ptr, out_start, out_layer = net.out_ptr, net.out_start, net.out_layer
    syn = net.syn_tab  # per synapse: [post, weight, m, s, run_end]
    layer_syn_start, layer_n_end, layer_of = net.layer_syn_start, net.layer_n_end, net.layer_of
    n_layers = layer_n_end.shape[0]
    q = net.time_base
    n_in = net.n_inputs
    # Most rows one spike can push (one per target layer): room is made before each spike.
    max_rows = 0
    for src in range(out_ptr.shape[0] - 1):
        max_rows = max(max_rows, out_ptr[src + 1] - out_ptr[src])
    hsize = scal[S_HSIZE]
    rec_n = scal[S_REC_N]
    round_id = scal[S_ROUND]
    n_samples = sample_n.shape[0]
    sp = 0
    ip = 0
    n_ev = in_n.shape[0]
    last_n = -np.inf
    last_r = -np.inf
    same_t_rounds = 0
    status = OK
    n_ro = samples.shape[1]

    while True:
        # Inputs enter the queue once their emission time is not after the queue's head,
        # so every arrival is in the heap before any later-or-equal row is processed.
        while ip < n_ev and (hsize == 0 or not _key_lt(heap[0, H_N], heap[0, H_R], in_n[ip], in_r[ip])):
            c = in_ch[ip]
            en = in_n[ip]
            er = in_r[ip]
            in_counts[c] += 1
            for e in range(out_ptr[c], out_ptr[c + 1]):
                k0 = out_start[e]
                an, ar = _add(en, er, syn[k0, 2], syn[k0, 3], q)
                heap = _heap_push(heap, hsize, an, ar, k0 + layer_n_end[out_layer[e]], en, er, in_v[ip])
                hsize += 1
            ip += 1
        if hsize == 0:
            break
        n = heap[0, H_N]
        r = heap[0, H_R]
        if not _key_lt(n, r, until_n, until_r):
            break
        t = _tfloat(n, r, q)
        # The head row's layer: ords of layer L lie in [layer_syn_start[L] + first neuron of L,
        # layer_syn_start[L+1] + layer_n_end[L]).
        o = heap[0, H_ORD]
        layer = 0
        while layer < n_layers - 1 and o >= layer_syn_start[layer + 1] + layer_n_end[layer]:
            layer += 1
        ord_end = layer_syn_start[layer + 1] + layer_n_end[layer]
        wake_end = layer_syn_start[layer] + layer_n_end[layer]   # ords below: wake-ups
        k_off = layer_n_end[layer]                               # synapse k = ord - k_off
        # Readout samples strictly before (n, r) see every event at or before them.
        while sp < n_samples and _key_lt(sample_n[sp], sample_r[sp], n, r):
            ts = _tfloat(sample_n[sp], sample_r[sp], q)
            for j in range(n_ro):
                samples[sp, j] = _readout_value(tau, btau, V, t_last, ro_start + j, ts)
            sp += 1
        if n == last_n and r == last_r:
            same_t_rounds += 1
            if same_t_rounds > max_cascade:
                err[0] = t
                err[1] = layer
                status = ERR_ZERO_DELAY_LOOP
                break
        else:
            same_t_rounds = 0
            last_n = n
            last_r = r

        # --- apply every row of this (n, r, layer) ---
        round_id += 1
        nt = 0
        while hsize > 0 and heap[0, H_N] == n and heap[0, H_R] == r and heap[0, H_ORD] < ord_end:
            o = heap[0, H_ORD]
            if o < wake_end:
                k = int(o) - layer_syn_start[layer]
                # Wake-up: valid only if the neuron's prediction is still this key.
                if pred_n[k] == n and pred_r[k] == r and stamp[k] != round_id:
                    stamp[k] = round_id
                    touched[nt] = k
                    nt += 1
                    counts[C_UPDATES, k] += 1
                    _advance(tau, btau, thr, V, t_last, pred_n, pred_r, k, t, n, r)
                hsize = _heap_pop(heap, hsize)
                continue
            k = int(o) - k_off
            val = heap[0, H_VAL]
            # Synapses k..run_end[k]-1 share this row's delay (m, s): all arrive now
            # (run_end < 0: that run ends the row's range).
            ke = int(syn[k, 4])
            last = ke < 0
            if last:
                ke = -ke
            for kk in range(k, ke):
                j = int(syn[kk, 0])
                if stamp[j] != round_id:
                    stamp[j] = round_id
                    touched[nt] = j
                    nt += 1
                    counts[C_UPDATES, j] += 1
                    _advance(tau, btau, thr, V, t_last, pred_n, pred_r, j, t, n, r)
                V[j] += val * syn[kk, 1]
                counts[C_SYN_IN, j] += 1
            if not last:
                an, ar = _add(heap[0, H_EN], heap[0, H_ER], syn[ke, 2], syn[ke, 3], q)
                heap[0, H_N] = an
                heap[0, H_R] = ar
                heap[0, H_ORD] = o + (ke - k)
                _sift_down(heap, 0, hsize)
            else:
                hsize = _heap_pop(heap, hsize)

        # --- threshold checks, in increasing neuron index ---
        nt0 = nt
        if nt0 > 1:
            _sort_small(touched, nt0)
        for qq in range(nt0):
            i = touched[qq]
            g = net.group_of[i]
            if g < 0:
                # A neuron fires while it is at or above threshold: with subtract reset and
                # V >= 2 thr that is several spikes at this instant (bounded like a cascade).
                n_burst = 0
                while V[i] >= thr[i]:
                    n_burst += 1
                    if n_burst > max_cascade:
                        err[0] = t
                        err[1] = layer
                        status = ERR_CASCADE
                        break
                    heap, rec_t, rec_i = _room(heap, hsize, max_rows, rec_t, rec_i, rec_n)
                    hsize = _spike(V, counts, subtract, thr, heap, hsize, rec_t, rec_i, rec_n, i, n, r, t, q,
                                   n_in + i, out_ptr, out_start, out_layer, layer_n_end, syn)
                    rec_n += 1
                if status != OK:
                    break
                continue
            if group_stamp[g] == round_id:
                continue
            group_stamp[g] = round_id
            # Spike-granular cascade: the member furthest above threshold fires, its reset
            # and lateral effect apply, and the group is checked again.
            n_casc = 0
            a = net.group_ptr[g]
            b = net.group_ptr[g + 1]
            gsize = b - a
            o0 = net.omega_ptr[g]
            # Only neurons touched this round can be at or above threshold (every other
            # neuron ended its last round below it, and drive crossings arrive as wake-up
            # rows), so until the group's first spike only the touched members are scanned;
            # after it every member has been touched by the lateral effect.
            first = True
            while True:
                best = -1
                best_v = 0.0
                if first:
                    for j2 in range(qq, nt0):
                        j = touched[j2]
                        if net.group_of[j] != g:
                            continue
                        dv = V[j] - thr[j]
                        if dv >= 0.0 and (best < 0 or dv > best_v or (dv == best_v and j < best)):
                            best = j
                            best_v = dv
                    first = False
                else:
                    for m in range(a, b):
                        j = net.group_members[m]
                        dv = V[j] - thr[j]
                        if dv >= 0.0 and (best < 0 or dv > best_v or (dv == best_v and j < best)):
                            best = j
                            best_v = dv
                if best < 0:
                    break
                n_casc += 1
                if n_casc > max_cascade:
                    err[0] = t
                    err[1] = layer
                    status = ERR_CASCADE
                    break
                heap, rec_t, rec_i = _room(heap, hsize, max_rows, rec_t, rec_i, rec_n)
                hsize = _spike(V, counts, subtract, thr, heap, hsize, rec_t, rec_i, rec_n, best, n, r, t, q,
                               n_in + best, out_ptr, out_start, out_layer, layer_n_end, syn)
                rec_n += 1
                col = net.pos_in_group[best]
                for m in range(a, b):
                    j = net.group_members[m]
                    if stamp[j] != round_id:
                        stamp[j] = round_id
                        touched[nt] = j
                        nt += 1
                        counts[C_UPDATES, j] += 1
                        _advance(tau, btau, thr, V, t_last, pred_n, pred_r, j, t, n, r)
                    V[j] -= net.omega_flat[o0 + net.pos_in_group[j] * gsize + col]
                    counts[C_LATERAL_IN, j] += 1
            if status != OK:
                break
        if status != OK:
            break

        # --- new drive-crossing predictions for everything touched ---
        for qq in range(nt):
            i = touched[qq]
            delta = _crossing_delay(crossing, tau, btau, thr, V, i)
            if delta < np.inf:
                pn, pr = _crossing_key(n, r, delta, q)
                pred_n[i] = pn
                pred_r[i] = pr
                heap = _heap_push(heap, hsize, pn, pr, layer_syn_start[layer_of[i]] + i, n, r, 0.0)
                hsize += 1
            else:
                pred_n[i] = np.inf
                pred_r[i] = np.inf

    if status == OK:
        while sp < n_samples and _key_lt(sample_n[sp], sample_r[sp], until_n, until_r):
            ts = _tfloat(sample_n[sp], sample_r[sp], q)
            for j in range(n_ro):
                samples[sp, j] = _readout_value(tau, btau, V, t_last, ro_start + j, ts)
            sp += 1
    scal[S_HSIZE] = hsize
    scal[S_REC_N] = rec_n
    scal[S_ROUND] = round_id
    scal[S_SAMPLE_N] = sp
    return status, heap, rec_t, rec_i


@njit(cache=True, _nrt=False)
def _crossing_key(n, r, delta, q):
    """Key of the time ``delta >= 0`` after (n, r): the offset ``r + delta`` is split into
    whole steps and a rest (no snapping: a crossing is computed, not given), which keeps
    offset precision however large n is. Never before (n, r)."""
    k, rr = split_time(r + delta, q, False)
    pn = n + k
    if _key_lt(pn, rr, n, r):
        return n, r
    return pn, rr


@njit(cache=True)
def _room(heap, hsize, max_rows, rec_t, rec_i, rec_n):
    """Grow the queue and the spike record so that one more spike fits (see _spike)."""
    if hsize + max_rows >= heap.shape[0]:
        heap = _grow_rows(heap, hsize)
    if rec_n == rec_t.shape[0]:
        rec_t = _grow_1d(rec_t, rec_n)
        rec_i = _grow_1d(rec_i, rec_n)
    return heap, rec_t, rec_i


@njit(cache=True, _nrt=False)
def _spike(V, counts, subtract, thr, heap, hsize, rec_t, rec_i, rec_n, i, n, r, t, q, src,
           out_ptr, out_start, out_layer, layer_n_end, syn):
    """Neuron i (event source ``src``) fires at key (n, r), float time t: record, reset, one
    row per target layer.

    The caller guarantees room (:func:`_room`): ``rec_n < len(rec_t)`` and
    ``hsize + fan-out <= len(heap)``. Returns the new heap size; the caller increments rec_n.
    """
    rec_t[rec_n] = t
    rec_i[rec_n] = i
    counts[C_SPIKES, i] += 1
    if subtract[i]:
        V[i] -= thr[i]
    else:
        V[i] = 0.0
    for e in range(out_ptr[src], out_ptr[src + 1]):
        k0 = out_start[e]
        an, ar = _add(n, r, syn[k0, 2], syn[k0, 3], q)
        _heap_insert(heap, hsize, an, ar, k0 + layer_n_end[out_layer[e]], n, r, 1.0)
        hsize += 1
    return hsize


@njit(cache=True)
def _initial_predictions(net, V, pred_n, pred_r, heap, hsize):
    """Wake-ups for neurons whose drive alone reaches threshold from the initial state."""
    for i in range(V.shape[0]):
        delta = _crossing_delay(net.crossing, net.tau, net.btau, net.thr, V, i)
        if delta < np.inf:
            pn, pr = _crossing_key(0.0, 0.0, delta, net.time_base)
            pred_n[i] = pn
            pred_r[i] = pr
            heap = _heap_push(heap, hsize, pn, pr, net.layer_syn_start[net.layer_of[i]] + i, 0.0, 0.0, 0.0)
            hsize += 1
        else:
            pred_n[i] = np.inf
            pred_r[i] = np.inf
    return heap, hsize
