"""Compiled core of the exact (continuous-time, event-driven) engine.

Time. Every time is an int64 count of picosecond ticks (:mod:`sim.engines.ticks`); a delay is a
tick count too, so an arrival is one integer addition and paper-simultaneous arrivals
over different paths are the same integer.

The queue: a timing wheel. Arrivals are filed by bucket ``tick >> W_BITS`` (buckets of
2**30 ps = 1.07 ms). A wheel of ``NB`` buckets (a power of two covering the longest
delay) holds the buckets ahead of the current one; each is a chain of fixed-size blocks
from one pool, so filing an arrival is an append (no ordering work). Further ahead than
the wheel reaches (drive crossings far in the future, very long delays) is an overflow
binary heap. When the engine reaches a bucket it copies its entries out and sorts them
once (a counting sort on the high bits of the key, then an insertion pass over the
nearly sorted result). Arrivals filed into the bucket being processed (short or zero
delays, drive crossings, inputs admitted as time reaches them) go to a small binary heap
merged with the sorted bucket by key.

Every entry carries one int64 key, ``(tick offset in its bucket) << TICK_SHIFT | kind
<< seq_bits | low``, the target neuron and the value to add (input value times weight).
``kind`` is ``2 * layer`` for a drive wake-up and ``2 * layer + 1`` for an arrival, so that
sorting by the bits above ``seq_bits`` orders by time, then layer, wake-ups first. Arrivals
of one (tick, kind) are applied in the order they were filed, which is emission order: the
engine emits in time order (an input before the spikes of its tick, spikes in the order
they fire) and a spike files its arrivals in its synapse order (``sim.engines.compiled``).
On the wheel ``low`` is the target itself (an entry is two words, key and value, side by
side in one buffer), and the wheel keeps filing order by construction (appends, a sort
that is stable and ignores ``low``); in the near heap ``low`` is a filing counter (the
target in an array beside it), which orders its entries after the wheel's of the same
(tick, kind), all filed before the bucket became current; the overflow heap has a counter
of its own, and it hands entries to a bucket before anything else can be filed there.
Results are bit-for-bit reproducible, independent of how a run is split into calls, and
identical to the slow reference in ``tests/reference``.

Rounds: all entries with the same tick and layer are applied, then that layer's
thresholds are checked once (neurons in increasing index; a member of a lateral group
triggers the group's spike-granular cascade); spikes file arrivals for their targets; new
drive crossings are predicted for every neuron touched.

Small kernels that never allocate are compiled with ``_nrt=False`` (no reference counting
of array arguments per call); the orchestrator ``_run`` owns every growing array.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as _ir
from numba import njit, types as _types, uintp
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic as _intrinsic

from sim.engines.fexp import exp_decay
from sim.engines.ticks import NEVER

# Bucket width: 2**W_BITS ticks (1.07 ms).
W_BITS = 30
W_MASK = (1 << W_BITS) - 1
# Key layout: ``tick offset in the bucket << TICK_SHIFT | kind << seq_bits | seq``, where
# ``kind = 2 * layer + 1`` for an arrival and ``2 * layer`` for a drive wake-up, ``seq_bits
# = TICK_SHIFT - kind_bits`` (per network, ``NetArrays.seq_bits``) and ``seq`` is zero on the
# wheel and a filing counter in the near heap (see the module docstring).
TICK_SHIFT = 63 - W_BITS
# Entries per pool block.
BS_BITS = 7
BS = 1 << BS_BITS

# Rows of the per-neuron counter array.
C_SPIKES, C_SYN_IN, C_UPDATES, C_LATERAL_IN = 0, 1, 2, 3
N_COUNTERS = 4

# Return status of _step. NEED_ROOM: grow what scal[S_NEED_*] says and call again.
OK, ERR_CASCADE, ERR_ZERO_DELAY_LOOP, NEED_ROOM = 0, 1, 2, 3

# Scalars carried in the int64 ``scal`` array between calls.
(S_CB, S_CUR_POS, S_CUR_N, S_NEAR_N, S_OVER_N, S_FREE_N, S_WHEEL_N, S_REC_N, S_ROUND,
 S_LAST_T, S_SPIKES_AT_T, S_ROUNDS_AT_T,
 # within one run() call: inputs and samples consumed, a round whose spikes are not yet
 # all filed (phase 1) or whose predictions are not yet made (phase 2), what to grow
 S_IP, S_SP, S_PHASE, S_PH_T, S_PH_NEXT, S_PH_NT,
 S_NEED_BLOCKS, S_NEED_NEAR, S_NEED_OVER, S_NEED_SCRATCH, S_NEED_REC,
 # filing counters: of the near heap (since the current bucket was loaded) and of the overflow heap
 S_NEAR_SEQ, S_OVER_SEQ,
 # 1 when every arrival queued or to come lies on a grid of at least GRID_MIN_TICKS (run() decides)
 S_GRID) = range(26)
N_SCAL = 26
# A grid this coarse (16.8 us) puts each grid instant in a digit of its own in the bucket sort:
# two instants at least 2**24 ticks apart differ in their tick's bits above bit 23, so the
# top W_BITS - 24 bits of a tick's offset in its bucket tell them apart.
GRID_MIN_BITS = 24
GRID_MIN_TICKS = 1 << GRID_MIN_BITS
GRID_TICK_DIGIT_BITS = W_BITS - GRID_MIN_BITS


def grid_digits_fit(seq_bits: int) -> bool:
    """Whether a grid digit (tick bits and kind bits) fits the bucket sort's histogram."""
    return GRID_TICK_DIGIT_BITS + (TICK_SHIFT - seq_bits) <= 16


@_intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to bring ``arr[idx]``'s cache line in (``llvm.prefetch``: read, keep)."""
    sig = _types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = _cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False,
                                        boundscheck=False)
        i8p = _ir.IntType(8).as_pointer()
        i32 = _ir.IntType(32)
        fn = _cgutils.get_or_insert_function(builder.module, _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32]),
                                             "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), _ir.Constant(i32, 0), _ir.Constant(i32, 3), _ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, _nrt=False, inline="always")
def _prefetch_block(pk, blk):
    """Ask for pool block ``blk`` (if any), one request per 64-byte line: the blocks of a
    bucket lie anywhere in the pool, so the hardware's stream prefetcher cannot guess the
    next one."""
    if blk >= 0:
        b2 = uintp(blk << (BS_BITS + 1))
        for c in range(uintp(0), uintp(2 * BS), uintp(8)):
            _prefetch(pk, b2 + c)


@njit(cache=True, _nrt=False, inline="always")
def _prefetch_rows(out_ptr, out_start, out_end, syn_post, syn_w, syn_dt, src):
    """Ask for the synapse rows of source ``src`` (delays, targets, weights), one request
    per 64-byte line, ahead of filing its arrivals."""
    for e in range(out_ptr[src], out_ptr[src + 1]):
        a = uintp(out_start[e])
        b = uintp(out_end[e])
        for k in range(a, b, uintp(8)):
            _prefetch(syn_dt, k)
            _prefetch(syn_w, k)
        for k in range(a, b, uintp(16)):
            _prefetch(syn_post, k)


# ----------------------------------------------------------------------------- heaps
@njit(cache=True, _nrt=False)
def _near_push(hk, hp, hv, size, key, post, val):
    """Push onto the current bucket's binary min-heap on ``key``; returns the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if hk[parent] <= key:
            break
        hk[i] = hk[parent]
        hp[i] = hp[parent]
        hv[i] = hv[parent]
        i = parent
    hk[i] = key
    hp[i] = post
    hv[i] = val
    return size + 1


@njit(cache=True, _nrt=False)
def _near_pop(hk, hp, hv, size):
    """Remove the top of the near heap; returns the new size."""
    size -= 1
    if size == 0:
        return 0
    key = hk[size]
    post = hp[size]
    val = hv[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= key:
            break
        hk[i] = hk[c]
        hp[i] = hp[c]
        hv[i] = hv[c]
        i = c
    hk[i] = key
    hp[i] = post
    hv[i] = val
    return size


@njit(cache=True, _nrt=False)
def _over_push(ot, oo, op, ov, size, tick, o, post, val):
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if ot[parent] < tick or (ot[parent] == tick and oo[parent] <= o):
            break
        ot[i] = ot[parent]
        oo[i] = oo[parent]
        op[i] = op[parent]
        ov[i] = ov[parent]
        i = parent
    ot[i] = tick
    oo[i] = o
    op[i] = post
    ov[i] = val
    return size + 1


@njit(cache=True, _nrt=False)
def _over_pop(ot, oo, op, ov, size):
    size -= 1
    if size == 0:
        return 0
    tick = ot[size]
    o = oo[size]
    post = op[size]
    val = ov[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and (ot[c + 1] < ot[c] or (ot[c + 1] == ot[c] and oo[c + 1] < oo[c])):
            c += 1
        if ot[c] > tick or (ot[c] == tick and oo[c] >= o):
            break
        ot[i] = ot[c]
        oo[i] = oo[c]
        op[i] = op[c]
        ov[i] = ov[c]
        i = c
    ot[i] = tick
    oo[i] = o
    op[i] = post
    ov[i] = val
    return size


# ----------------------------------------------------------------------------- neurons
@njit(cache=True, _nrt=False, inline="always")
def _decayed(ntau, btau, V, t_last, i, t):
    """The potential of neuron i (a readout, or a neuron without drive crossings) brought
    from its last update to tick t (closed-form LIF with drive), not stored: V(t+s) = V e + b tau (1 - e),
    e = exp(-s/tau) with s = (t - t_last) ticks and ``ntau = 1 / (tau * 1e12)``.
    (:func:`_advance_t` is the general form; here, in continuous time, every gap is new,
    so no factor is looked up.)"""
    s = t - t_last[i]
    if s > 0:
        e = exp_decay(-float(s) * ntau[i])
        return V[i] * e + btau[i] * (1.0 - e)
    return V[i]


# Decay factors remembered by gap: a direct-mapped table of EC_SIZE entries, (gap, ntau) ->
# exp(-gap * ntau). On a grid a round's neurons were last updated one, two, three steps
# ago, so a handful of gaps cover nearly every neuron; the factor is the same number
# exp() would return, so the table changes no result.
EC_BITS = 6
EC_SIZE = 1 << EC_BITS


@njit(cache=True, _nrt=False, inline="always")
def _advance_t(ntau, btau, thr, V, t_last, pred, i, t, ec_s, ec_n, ec_e, table, hold):
    """Bring neuron i from its last update to tick t, as :func:`_decayed` computes it, with the
    decay factor looked up in the (ec_s, ec_n, ec_e) table if ``table`` (arrivals on a grid;
    in continuous time every gap is new and the table would only cost). If ``hold`` (the
    neuron may have drive crossings) and the crossing predicted from the previous state
    lies at or before t, the potential is held at least at threshold so that rounding in
    exp/log never hides a crossing the engine scheduled."""
    s = t - t_last[i]
    if s > 0:
        nt_i = ntau[i]
        if table:
            h = (uintp(s) * uintp(0x9E3779B97F4A7C15)) >> uintp(64 - EC_BITS)
            if ec_s[h] == s and ec_n[h] == nt_i:
                e = ec_e[h]
            else:
                e = exp_decay(-float(s) * nt_i)
                ec_s[h] = s
                ec_n[h] = nt_i
                ec_e[h] = e
        else:
            e = exp_decay(-float(s) * nt_i)
        V[i] = V[i] * e + btau[i] * (1.0 - e)
        t_last[i] = t
    if hold and pred[i] <= t and V[i] < thr[i]:
        V[i] = thr[i]


@njit(cache=True, _nrt=False)
def crossing_tick(crossing, tau, btau, thr, V, i, t):
    """Tick at which drive alone brings neuron i (at V[i], tick t) to threshold, or NEVER.

    ``delta = tau ln((V - b tau) / (thr - b tau))`` seconds, rounded up to a whole tick
    (at that tick the potential is at threshold; ``_advance`` holds it there)."""
    if crossing[i] and V[i] < thr[i]:
        b = btau[i]
        delta = max(tau[i] * math.log((V[i] - b) / (thr[i] - b)), 0.0)
        dt = math.ceil(delta * 1e12)
        if dt >= float(NEVER - t):
            return NEVER
        return t + np.int64(dt)
    return NEVER


@njit(cache=True, _nrt=False, inline="always")
def _bucket_size(wcount, wpos, slot):
    """Entries in wheel slot ``slot``: all its blocks are full but the last, which ends
    at wpos (``wcount`` counts blocks, so filing an arrival touches no counter)."""
    p = wpos[slot]
    if p < 0:
        return 0
    return (wcount[slot] - 1) * BS + ((p - 1) & (BS - 1)) + 1


# ----------------------------------------------------------------------------- filing
@njit(cache=True, _nrt=False, inline="always")
def _file(whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov, scal, seq_bits,
          nb_mask, cb, free_n, near_n, over_n, wheel_n, tick, kidx, post, val):
    """File one arrival or wake-up (tick, ``kidx = kind << seq_bits``, post, val): the
    current bucket's heap, a wheel bucket, or the overflow heap. The caller guarantees room
    (one block, one heap slot, one value of the near heap's counter). Returns the updated
    (free_n, near_n, over_n, wheel_n).

    Entries of one (tick, kind) must come out in filing order: the wheel keeps it (an
    append, and a stable sort on the bits above ``seq_bits``), the two heaps by a filing
    counter (``scal[S_NEAR_SEQ]`` in the key's low bits, ``scal[S_OVER_SEQ]`` in ``oo``
    beside the wake-up bit). A wheel entry keeps its target in the key's low bits instead,
    so that it is two words (key, value), not three."""
    b = tick >> W_BITS
    if b == cb:
        seq = scal[S_NEAR_SEQ]   # below 2**seq_bits: the caller made sure (_room_for)
        scal[S_NEAR_SEQ] = seq + 1
        near_n = _near_push(hk, hp, hv, near_n, ((tick & W_MASK) << TICK_SHIFT) | kidx | seq, post, val)
    elif b - cb <= nb_mask:
        slot = uintp(b & nb_mask)   # unsigned indices: no negative-index wraparound code
        p = wpos[slot]
        if p < 0 or (p & (BS - 1)) == 0:
            free_n -= 1
            blk = free[free_n]
            pnext[blk] = -1
            if p < 0:
                whead[slot] = blk
            else:
                pnext[(p - 1) >> BS_BITS] = blk
            p = blk << BS_BITS
            wcount[slot] += 1
        pu = uintp(p + p)   # entry p: key at 2p, value at 2p + 1 (one buffer)
        pk[pu] = ((tick & W_MASK) << TICK_SHIFT) | kidx | post   # a wheel entry's low bits: its target
        pv[pu + uintp(1)] = val
        wpos[slot] = p + 1
        wheel_n += 1
    else:
        seq = scal[S_OVER_SEQ]
        scal[S_OVER_SEQ] = seq + 1
        over_n = _over_push(ot, oo, op, ov, over_n, tick, (seq << 1) | ((kidx >> seq_bits) & 1), post, val)
    return free_n, near_n, over_n, wheel_n


@njit(cache=True, _nrt=False)
def _near_renumber(hk, hp, hv, n, seq_bits):
    """The near heap's filing counter ran out of bits: sort the heap's n entries by key
    (a sorted array is a valid heap) and number them 0..n-1 in that order, which keeps
    their order. Returns the next counter value, n."""
    # heapsort, ascending: a max-heap, then move the largest to the end n-1 times
    for start in range(n // 2 - 1, -1, -1):
        _max_sift(hk, hp, hv, start, n)
    for end in range(n - 1, 0, -1):
        k0, p0, v0 = hk[0], hp[0], hv[0]
        hk[0], hp[0], hv[0] = hk[end], hp[end], hv[end]
        hk[end], hp[end], hv[end] = k0, p0, v0
        _max_sift(hk, hp, hv, 0, end)
    low = (np.int64(1) << seq_bits) - 1
    for i in range(n):
        hk[i] = (hk[i] & ~low) | i
    return n


@njit(cache=True, _nrt=False)
def _max_sift(hk, hp, hv, i, n):
    k, p, v = hk[i], hp[i], hv[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and hk[c + 1] > hk[c]:
            c += 1
        if hk[c] <= k:
            break
        hk[i], hp[i], hv[i] = hk[c], hp[c], hv[c]
        i = c
    hk[i], hp[i], hv[i] = k, p, v


@njit(cache=True, _nrt=False)
def _scatter(whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov, scal, seq_bits,
             nb_mask, out_ptr, out_start, out_end, out_kind, syn_post, syn_w, syn_dt,
             cb, free_n, near_n, over_n, wheel_n, src, t, value):
    """File the arrivals of one spike (or input event) of ``src`` emitted at tick t, in
    the source's synapse order; returns the updated (free_n, near_n, over_n, wheel_n).

    This loop is where the engine spends most of its time per synaptic event; ``_file`` is
    inlined into it."""
    for e in range(out_ptr[src], out_ptr[src + 1]):
        kidx = out_kind[e]
        for k in range(uintp(out_start[e]), uintp(out_end[e])):
            free_n, near_n, over_n, wheel_n = _file(
                whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov, scal, seq_bits, nb_mask,
                cb, free_n, near_n, over_n, wheel_n, t + syn_dt[k], kidx, syn_post[k], value * syn_w[k])
    return free_n, near_n, over_n, wheel_n


# ----------------------------------------------------------------------------- buckets
@njit(cache=True, _nrt=False)
def _load_bucket(whead, wcount, wpos, pk, pv, pnext, free, nb_mask, b, tk, tv, ck, cv, hist,
                 key_bits, free_n, seq_bits, grid):
    """Take bucket b off the wheel (freeing its blocks) and sort it by (tick, kind) into
    ck/cv, stably: the key's low ``seq_bits`` (the target) do not take part.

    Counting sort on the key's top bits (about two digits per entry) straight from the
    pool's blocks (one walk for the histogram, one to distribute), a second counting pass
    for big digit segments, then one insertion pass over the bucket. ``tk/tv`` are scratch."""
    slot = b & nb_mask
    n = _bucket_size(wcount, wpos, slot)
    head = whead[slot]
    # On a grid (``grid``: every arrival in the queue lies on a grid of at least
    # GRID_MIN_TICKS, which run() checks over the whole run) a digit is (the tick's top
    # GRID_TICK_DIGIT_BITS bits, the kind): every entry of a digit then shares its tick and
    # kind, so it is in final order at once, and the few digits make clearing and summing
    # the histogram cheap. In continuous time the digit is the tick's top bits alone: with
    # the kind in it the few entries of one coarse tick could come out kind-first, and the
    # insertion pass that would put them right costs more than it saves (24 % on
    # continuous_ff).
    if grid:
        kind_bits = TICK_SHIFT - seq_bits
        dbits = GRID_TICK_DIGIT_BITS + kind_bits
    else:
        # Digits: about two per entry, at most 2**16, so that most digits hold one entry or
        # none and the insertion pass below rarely has to move anything (its mispredicted
        # branches, not the histogram, are what a coarser split costs).
        kind_bits = 0
        dbits = 1
        while (1 << dbits) < 2 * n and dbits < 16:
            dbits += 1
    shift = key_bits - (dbits - kind_bits)
    kmask = (np.int64(1) << kind_bits) - 1
    nd = 1 << dbits
    for d in range(nd + 1):
        hist[d] = 0
    # (unsigned indices below: Numba then emits no negative-index wraparound code)
    blk = head
    i = 0
    while i < n:
        m = min(BS, n - i)
        base = blk << BS_BITS
        nxt = pnext[blk]
        _prefetch_block(pk, nxt)
        for j in range(uintp(base + base), uintp(2 * (base + m)), 2):
            key = pk[j]
            hist[uintp(((key >> shift) << kind_bits) | ((key >> seq_bits) & kmask)) + uintp(1)] += 1
        i += m
        blk = nxt
    # Prefix sums with the running total in a register (a chain of stores and loads of
    # neighbouring hist cells would cost a store-to-load round trip per digit).
    acc = np.int64(0)
    for d in range(nd + 1):
        acc += hist[d]
        hist[d] = acc
    blk = head
    i = 0
    nf = free_n
    while i < n:
        m = min(BS, n - i)
        base = blk << BS_BITS
        nxt = pnext[blk]
        _prefetch_block(pk, nxt)
        for j in range(uintp(base + base), uintp(2 * (base + m)), 2):
            key = pk[j]
            d = uintp(((key >> shift) << kind_bits) | ((key >> seq_bits) & kmask))
            pos = hist[d]
            hist[d] = pos + 1
            pu = uintp(pos + pos)
            ck[pu] = key
            ck[pu + uintp(1)] = pk[j + uintp(1)]   # the value's bits (pk/pv, ck/cv: one buffer each)
        i += m
        free[nf] = blk
        nf += 1
        blk = pnext[blk]
    wcount[slot] = 0
    wpos[slot] = -1
    whead[slot] = -1
    # hist[d] is now the end of digit d's segment. On a grid every segment is one
    # instant of one kind in filing order: done.
    if grid:
        return nf, n
    # Big segments (many arrivals at one instant): one more counting pass over the top bits
    # that vary inside the segment (ticks and kinds; equal keys keep their filing order). Then one insertion pass over the
    # whole bucket: digits are already in order, so it only moves entries within a digit.
    lo = 0
    for d in range(nd):
        hi = hist[d]
        if hi - lo > 24:
            _split_segment(ck, cv, tk, tv, hist, nd + 1, lo, hi, seq_bits)
        lo = hi
    for j in range(2, 2 * n, 2):
        key = ck[uintp(j)]
        top = key >> seq_bits
        if (ck[uintp(j - 2)] >> seq_bits) <= top:
            continue
        val = ck[j + 1]   # the value's bits
        q = j - 2
        while q >= 0 and (ck[q] >> seq_bits) > top:
            ck[q + 2] = ck[q]
            ck[q + 3] = ck[q + 1]
            q -= 2
        ck[q + 2] = key
        ck[q + 3] = val
    return nf, n


SPLIT_BITS = 16
SPLIT_DENSITY = 2
# A segment whose keys span fewer than this many values (after dropping the bits that
# never vary) is sorted by one counting pass over them.
SMALL_SPAN = 64


@njit(cache=True, _nrt=False)
def _split_segment(ck, cv, tk, tv, hist, h0, lo, hi, seq_bits):
    """Order entries lo..hi-1 of ck/cv (one digit of a bucket, many entries: arrivals at one
    instant) by the top bits of what varies between its keys: one counting pass with
    about SPLIT_DENSITY bins per entry, through tk/tv and back. What it leaves
    unordered lies within one bin of at most 24 entries (a bigger bin, which only keys
    clustered below the split bits make, gets :func:`_radix_segment`), for the insertion
    pass that follows. The key's low ``seq_bits`` take no part. hist[h0:] is scratch."""
    k_or = np.int64(0)
    k_and = np.int64(-1)
    for j in range(2 * lo, 2 * hi, 2):
        k_or |= ck[j]
        k_and &= ck[j]
    vary = (k_or ^ k_and) >> seq_bits << seq_bits
    if vary == 0:
        return
    low = 0
    while ((vary >> low) & 1) == 0:
        low += 1
    if (vary >> low) < SMALL_SPAN:
        # Few distinct keys (one grid instant: its kinds): the keys differ only in
        # ``vary``'s bits, so (key >> low) & (vary >> low) orders them completely.
        _count_pass(ck, cv, tk, tv, hist, h0, lo, hi, low, vary >> low, (vary >> low) + 1)
        return
    top = 0
    while (vary >> (top + 1)) != 0:
        top += 1
    nbits = 1
    while (1 << nbits) < SPLIT_DENSITY * (hi - lo) and nbits < SPLIT_BITS:
        nbits += 1
    nbits = min(nbits, top + 1 - low)   # the digit stays above the bits that take no part
    shift = top + 1 - nbits
    mask = (1 << nbits) - 1
    nbin = 1 << nbits
    most = _count_pass(ck, cv, tk, tv, hist, h0, lo, hi, shift, mask, nbin)
    # A bin that still holds many entries (keys clustered below the split bits) gets
    # full radix passes, so that no input makes the insertion pass quadratic.
    if most > 24:
        b0 = lo
        for d in range(nbin):
            b1 = hist[h0 + d]
            if b1 - b0 > 24:
                _radix_segment(ck, cv, tk, tv, hist, h0 + nbin + 1, b0, b1, seq_bits)
            b0 = b1


@njit(cache=True, _nrt=False)
def _count_pass(ck, cv, tk, tv, hist, h0, lo, hi, shift, mask, nbin):
    """One stable counting pass over entries lo..hi-1 of ck/cv on the digit ``(key >> shift)
    & mask`` (< nbin), through tk/tv and back; hist[h0:h0 + nbin + 1] ends as each
    digit's end. Returns the largest digit count. (Entry j: key ck[2j], value cv[2j + 1].)"""
    for d in range(nbin + 1):
        hist[h0 + d] = 0
    most = 0
    for j in range(2 * lo, 2 * hi, 2):
        d = h0 + ((ck[j] >> shift) & mask) + 1
        c = hist[d] + 1
        hist[d] = c
        most = max(most, c)
    acc = np.int64(lo)
    for d in range(nbin + 1):
        acc += hist[h0 + d]
        hist[h0 + d] = acc
    # (the value's bits move as int64: ck/cv and tk/tv are views of one buffer each)
    for j in range(uintp(2 * lo), uintp(2 * hi), 2):
        d = h0 + ((ck[j] >> shift) & mask)
        q = hist[d]
        hist[d] = q + 1
        u = uintp(q + q)
        tk[u] = ck[j]
        tk[u + uintp(1)] = ck[j + uintp(1)]
    for j in range(uintp(2 * lo), uintp(2 * hi)):
        ck[j] = tk[j]
    return most


RADIX_BITS = 11


@njit(cache=True, _nrt=False)
def _radix_segment(ck, cv, tk, tv, hist, h0, lo, hi, seq_bits):
    """Sort entries lo..hi-1 of ck/cv by the key's bits above ``seq_bits``: stable LSD
    passes of RADIX_BITS over the bits that differ between the segment's keys; tk/tv are
    scratch, hist[h0:] a histogram. (Entry j: key ck[2j], value cv[2j + 1].)"""
    k_or = np.int64(0)
    k_and = np.int64(-1)
    for j in range(2 * lo, 2 * hi, 2):
        k_or |= ck[j]
        k_and &= ck[j]
    vary = (k_or ^ k_and) >> seq_bits << seq_bits
    if vary == 0:
        return
    nbin = 1 << RADIX_BITS
    mask = nbin - 1
    src_is_c = True
    shift = seq_bits
    while shift < 63:
        if (vary >> shift) & mask:
            for d in range(nbin):
                hist[h0 + d] = 0
            sk, sv, dk, dv = (ck, cv, tk, tv) if src_is_c else (tk, tv, ck, cv)
            for j in range(2 * lo, 2 * hi, 2):
                hist[h0 + ((sk[j] >> shift) & mask)] += 1
            pos = lo
            for d in range(nbin):
                c = hist[h0 + d]
                hist[h0 + d] = pos
                pos += c
            for j in range(2 * lo, 2 * hi, 2):
                d = h0 + ((sk[j] >> shift) & mask)
                q = hist[d]
                hist[d] = q + 1
                dk[2 * q] = sk[j]
                dv[2 * q + 1] = sv[j + 1]
            src_is_c = not src_is_c
        shift += RADIX_BITS
    if not src_is_c:
        for j in range(2 * lo, 2 * hi, 2):
            ck[j] = tk[j]
            cv[j + 1] = tv[j + 1]


@njit(cache=True, _nrt=False)
def _sort_touched(a, n):
    """Sort a[:n] in place (insertion sort for the usual handful, heapsort beyond)."""
    if n <= 32:
        for i in range(1, n):
            x = a[i]
            j = i - 1
            while j >= 0 and a[j] > x:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = x
        return
    for start in range(n // 2 - 1, -1, -1):
        _sift(a, start, n)
    for end in range(n - 1, 0, -1):
        x = a[0]
        a[0] = a[end]
        a[end] = x
        _sift(a, 0, end)


@njit(cache=True, _nrt=False)
def _sift(a, i, n):
    x = a[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and a[c + 1] > a[c]:
            c += 1
        if a[c] <= x:
            break
        a[i] = a[c]
        i = c
    a[i] = x


@njit(cache=True, _nrt=False, inline="always")
def _near_counter_room(scal, n, hk, hp, hv, near_n, seq_bits):
    """Make sure the near heap's filing counter has ``n`` more values below 2**seq_bits
    (plus the next one), renumbering the heap when it would run out."""
    if (scal[S_NEAR_SEQ] + n) >> seq_bits:
        scal[S_NEAR_SEQ] = _near_renumber(hk, hp, hv, near_n, seq_bits)


@njit(cache=True, _nrt=False)
def _room_for(scal, n, free_n, near_n, over_n, n_hk, n_ot, hk, hp, hv, seq_bits):
    """Room for ``n`` more arrivals anywhere (each may open a block or take a heap slot)?
    If not, record the sizes needed in scal and return False. (The near heap's filing
    counter is made room for here, :func:`_near_counter_room`.)"""
    _near_counter_room(scal, n, hk, hp, hv, near_n, seq_bits)
    ok = True
    if free_n < n + 1:
        scal[S_NEED_BLOCKS] = n + 1
        ok = False
    if near_n + n + 1 > n_hk:
        scal[S_NEED_NEAR] = near_n + n + 1
        ok = False
    if over_n + n + 1 > n_ot:
        scal[S_NEED_OVER] = over_n + n + 1
        ok = False
    return ok


# ----------------------------------------------------------------------------- phases
# The orchestrator ``_step`` is a loop over named phases: finish a round (file its spikes,
# predict its crossings), admit an input, move to the next bucket, apply a round, check
# thresholds (firing, bursts, lateral cascades), sample the readout. The phases are
# inlined into it (``inline="always"``), so the queue's counters stay in registers.

@njit(cache=True, _nrt=False, inline="always")
def _touch(net, st, q, j, t, round_id, nt, table):
    """First contact of neuron j with this round: bring it to tick t (decay factors from
    the queue's table if ``table``, :func:`_advance_t`), note it as touched. Returns nt."""
    if st.stamp[j] != round_id:
        st.stamp[j] = round_id
        st.touched[nt] = j
        nt += 1
        st.counts[C_UPDATES, j] += 1
        _advance_t(net.ntau, net.btau, net.thr, st.V, st.t_last, st.pred, j, t, q.ec_s, q.ec_n, q.ec_e, table, True)
    return nt


@njit(cache=True, _nrt=False, inline="always")
def _fire(net, st, q, rec_n, i, t):
    """Neuron i fires at tick t: recorded and reset. Its arrivals are filed after the
    round's threshold checks (nothing filed now could be applied in this round).
    Returns the new record length."""
    q.rec_t[rec_n] = t
    q.rec_i[rec_n] = i
    st.counts[C_SPIKES, i] += 1
    # its rows are filed after the round's threshold checks: ask for them now
    _prefetch_rows(net.out_ptr, net.out_start, net.out_end, net.syn_post, net.syn_w, net.syn_dt, net.n_inputs + i)
    if net.subtract[i]:
        st.V[i] -= net.thr[i]
    else:
        st.V[i] = 0.0
    return rec_n + 1


@njit(cache=True, _nrt=False, inline="always")
def _apply_round(net, st, q, t, key_end, seq_bits, cpos, cn, nn, round_id, table):
    """Apply every entry with key < ``key_end`` (this tick and layer) from the sorted bucket
    and the near heap, in key order: wake-ups (valid only if the neuron's prediction is
    still this tick), then arrivals, each adding its value. Returns
    (cpos, nn, nt)."""
    ck, cv, hk, hp, hv = q.ck, q.cv, q.hk, q.hp, q.hv
    low = (np.int64(1) << seq_bits) - 1
    nt = 0
    while True:
        # at equal (tick, kind) the bucket's entries come first: filed before the near heap's
        u = uintp(2 * cpos)   # unsigned indices: no negative-index wraparound code
        if cpos < cn and ck[u] < key_end and (nn == 0 or (ck[u] >> seq_bits) <= (hk[0] >> seq_bits)):
            k2 = ck[u]
            j = uintp(k2 & low)
            val = cv[u + uintp(1)]
            cpos += 1
        elif nn > 0 and hk[0] < key_end:
            k2 = hk[0]
            j = uintp(hp[0])
            val = hv[0]
            nn = _near_pop(hk, hp, hv, nn)
        else:
            break
        if ((k2 >> seq_bits) & 1) == 0:   # even kind: a wake-up
            if st.pred[j] == t:
                nt = _touch(net, st, q, j, t, round_id, nt, table)
            continue
        nt = _touch(net, st, q, j, t, round_id, nt, table)
        st.V[j] += val
        st.counts[C_SYN_IN, j] += 1
    return cpos, nn, nt


@njit(cache=True, _nrt=False, inline="always")
def _fast_singles(net, st, q, base, cpos, cn, nn, lim, last_t, rounds_at_t, spikes_at_t, any_crossing):
    """Apply, from the sorted bucket, every leading entry that is a round of its own and
    fires nothing: its tick is below ``lim``, after ``last_t``, shared by no other entry
    (the next sorted entry and the near heap's head lie at later ticks), its target has no
    drive crossings, and the target stays below threshold. The same decay (:func:`_decayed`;
    without crossings the prediction check of :func:`_advance_t` never applies) and add as
    :func:`_touch` + :func:`_apply_round`, the same counters.
    Stops at the first entry that does not qualify and leaves it to the full round; if that
    is because its target would reach threshold, the target has already been brought to
    the entry's tick, which the full round's decay then finds done (a zero gap changes
    nothing), so the result is the same.
    ``any_crossing``: some neuron of the network has drive crossings (else none needs the
    test). Returns (cpos, last_t, rounds_at_t, spikes_at_t, n_applied)."""
    ck, cv, hk = q.ck, q.cv, q.hk
    low = (np.int64(1) << net.seq_bits) - 1
    V, t_last = st.V, st.t_last
    n_upd, n_syn = st.counts[C_UPDATES], st.counts[C_SYN_IN]   # rows: 1-d views
    ntau, btau, thr, crossing = net.ntau, net.btau, net.thr, net.crossing
    tt_end = (hk[0] >> TICK_SHIFT) if nn > 0 else NEVER   # the near heap's head: a later round
    tt_end = min(tt_end, lim - base)
    n0 = cpos
    # Unsigned indices (here and in _decayed, compiled for them): Numba then skips the
    # negative-index wraparound on every access.
    cu = uintp(2 * cpos)   # entry i: key ck[2i], value cv[2i + 1]
    cnu = uintp(2 * cn)
    while cu < cnu:
        key = ck[cu]
        tt = key >> TICK_SHIFT
        t = base + tt
        if tt >= tt_end or t == last_t:
            break
        if cu + uintp(2) < cnu and (ck[cu + uintp(2)] >> TICK_SHIFT) == tt:
            break
        j = uintp(key & low)
        if any_crossing and crossing[j]:
            break
        d = _decayed(ntau, btau, V, t_last, j, t)   # no crossings: pred is NEVER
        v = d + cv[cu + uintp(1)]
        t_last[j] = t
        if v >= thr[j]:
            V[j] = d   # brought to t: the full round's decay finds a zero gap
            break
        V[j] = v
        n_upd[j] += 1
        n_syn[j] += 1
        last_t = t
        cu += uintp(2)
    cpos = np.int64(cu) >> 1
    if cpos > n0:
        rounds_at_t = 0
        spikes_at_t = 0
    return cpos, last_t, rounds_at_t, spikes_at_t, cpos - n0


@njit(cache=True, _nrt=False, inline="always")
def _cascade(net, st, q, g, first_q, nt0, nt, t, round_id, rec_n, spikes_at_t, max_cascade, table):
    """Spike-granular cascade of lateral group g: while a member is at or above threshold,
    the one furthest above (ties: lowest index) fires, its reset and lateral effect apply,
    and the group is checked again. Until the first spike only the members touched this
    round (touched[first_q:nt0]) can be above threshold (every other neuron ended its last
    round below it, and drive crossings arrive as wake-ups); after it every member has
    been touched by the lateral effect. Returns (ok, nt, rec_n, spikes_at_t)."""
    V, thr, touched = st.V, net.thr, st.touched
    group_of, group_members, pos_in_group = net.group_of, net.group_members, net.pos_in_group
    n_lat, n_upd = st.counts[C_LATERAL_IN], st.counts[C_UPDATES]   # rows: 1-d views
    stamp, t_last, pred = st.stamp, st.t_last, st.pred
    ntau, btau, omega_cols = net.ntau, net.btau, net.omega_cols
    crossing = net.layer_crossing[net.layer_of[group_members[net.group_ptr[g]]]]
    a = net.group_ptr[g]
    b = net.group_ptr[g + 1]
    gsize = b - a
    o0 = net.omega_ptr[g]
    n_casc = 0
    # the first spike: only the members touched this round can be at or above threshold
    best = -1
    best_v = 0.0
    for j2 in range(first_q, nt0):
        j = touched[j2]
        if group_of[j] != g:
            continue
        dv = V[j] - thr[j]
        if dv >= 0.0 and (best < 0 or dv > best_v or (dv == best_v and j < best)):
            best = j
            best_v = dv
    while best >= 0:
        n_casc += 1
        spikes_at_t += 1
        if n_casc > max_cascade or spikes_at_t > max_cascade:
            return False, nt, rec_n, spikes_at_t
        rec_n = _fire(net, st, q, rec_n, best, t)
        ocol = o0 + pos_in_group[best] * gsize - a   # Omega[:, best] lies at omega_cols[ocol + a : ocol + b]
        # the lateral effect on every member, and in the same pass the search for the next
        # member to fire (members in index order, so ties go to the lowest index as before)
        best = -1
        best_v = 0.0
        # (A member's first contact this round is what _touch does, except that without
        # drive crossings in the layer it needs no place in the touched list, which only
        # feeds the crossing predictions, and no prediction to hold.)
        for m in range(uintp(a), uintp(b)):
            j = uintp(group_members[m])
            if stamp[j] != round_id:
                stamp[j] = round_id
                if crossing:
                    touched[nt] = j
                    nt += 1
                n_upd[j] += 1
                _advance_t(ntau, btau, thr, V, t_last, pred, j, t, q.ec_s, q.ec_n, q.ec_e, table, crossing)
            v = V[j] - omega_cols[uintp(ocol) + m]
            V[j] = v
            n_lat[j] += 1
            dv = v - thr[j]
            if dv >= 0.0 and (best < 0 or dv > best_v or (dv == best_v and np.int64(j) < best)):
                best = np.int64(j)
                best_v = dv
    return True, nt, rec_n, spikes_at_t


@njit(cache=True, _nrt=False, inline="always")
def _check_thresholds(net, st, q, layer, nt, t, round_id, rec_n, spikes_at_t, max_cascade, table):
    """Threshold checks of the neurons touched this round, in increasing index. A neuron
    outside lateral groups fires while it is at or above threshold (with subtract reset and
    V >= 2 thr that is several spikes at this instant); a group member starts its group's
    cascade. Returns (ok, nt, rec_n, spikes_at_t)."""
    V, thr, touched = st.V, net.thr, st.touched
    nt0 = nt
    if nt0 > 32:
        # Many touched (inputs and delays on a grid): collect them in index order from the
        # layer's range instead of sorting.
        # (branch-free: whether a neuron was touched is a coin flip the predictor loses)
        lo = net.layer_n_end[layer - 1] if layer > 0 else 0
        stamp = st.stamp
        k = 0
        for j in range(uintp(lo), uintp(net.layer_n_end[layer])):
            touched[k] = j
            k += stamp[j] == round_id
    elif nt0 > 1:
        _sort_touched(touched, nt0)
    for qq in range(nt0):
        i = touched[qq]
        g = net.group_of[i]
        if g < 0:
            n_burst = 0
            while V[i] >= thr[i]:
                n_burst += 1
                spikes_at_t += 1
                if n_burst > max_cascade or spikes_at_t > max_cascade:
                    return False, nt, rec_n, spikes_at_t
                rec_n = _fire(net, st, q, rec_n, i, t)
            continue
        if st.group_stamp[g] == round_id:
            continue
        st.group_stamp[g] = round_id
        ok, nt, rec_n, spikes_at_t = _cascade(net, st, q, g, qq, nt0, nt, t, round_id, rec_n,
                                              spikes_at_t, max_cascade, table)
        if not ok:
            return False, nt, rec_n, spikes_at_t
    return True, nt, rec_n, spikes_at_t


@njit(cache=True, _nrt=False, inline="always")
def _sample_before(net, st, sample_t, samples, sp, ro_start, t):
    """Readout samples at ticks before t (they see every event at or before them)."""
    while sp < sample_t.shape[0] and sample_t[sp] < t:
        for j in range(samples.shape[1]):
            samples[sp, j] = _decayed(net.ntau, net.btau, st.V, st.t_last, ro_start + j, sample_t[sp])
        sp += 1
    return sp


@njit(cache=True, _nrt=False)
def _step(net, st, q, in_t, in_ch, in_v, until, sample_t, samples, ro_start, max_cascade, err):
    """Process events with tick < ``until`` until done (OK), an error, or NEED_ROOM.

    Never allocates (compiled without reference counting): when the pool, a heap, the sort
    scratch or the spike record is short it records what it needs in ``scal`` and returns
    NEED_ROOM at a point it can resume from; the caller grows the arrays and calls again.
    ``net``: static arrays (``sim.engines.compiled.NetArrays``); ``st``: per-neuron state
    (``sim.engines.exact.NeuronState``); ``q``: queue and spike record (``sim.engines.exact.Queue``).
    ``err`` receives (tick, layer) on error. The queue's counters live in locals while it
    runs (so that they stay in registers) and go back to ``scal`` when it returns.
    """
    seq_bits = net.seq_bits
    max_fanout = net.max_fanout
    any_crossing = False
    for k in range(net.layer_crossing.shape[0]):
        any_crossing |= net.layer_crossing[k]
    scal = q.scal
    grid = scal[S_GRID] != 0   # arrivals on a grid: decay factors repeat, keep them in a table
    whead, wpos, wcount = q.whead, q.wpos, q.wcount
    pk, pv, pnext, free = q.pk, q.pv, q.pnext, q.free
    hk, hp, hv = q.hk, q.hp, q.hv
    ot, oo, op, ov = q.ot, q.oo, q.op, q.ov
    ck = q.ck
    n_hk = hk.shape[0]
    n_ot = ot.shape[0]
    nb_mask = whead.shape[0] - 1
    n_ev = in_t.shape[0]
    ip = scal[S_IP]
    sp = scal[S_SP]
    status = OK
    round_id = scal[S_ROUND]
    rec_n = scal[S_REC_N]
    cb = scal[S_CB]
    cpos = scal[S_CUR_POS]
    cn = scal[S_CUR_N]
    nn = scal[S_NEAR_N]
    over_n = scal[S_OVER_N]
    free_n = scal[S_FREE_N]
    wheel_n = scal[S_WHEEL_N]
    last_t = scal[S_LAST_T]
    rounds_at_t = scal[S_ROUNDS_AT_T]
    spikes_at_t = scal[S_SPIKES_AT_T]
    phase = scal[S_PHASE]
    ph_t = scal[S_PH_T]
    ph_next = scal[S_PH_NEXT]
    ph_nt = scal[S_PH_NT]

    while True:
        # ---- finish a round: file its spikes (phase 1), predict its drive crossings
        #      (phase 2); resumed here after the caller made room ----
        if phase != 0:
            if phase == 1:
                while ph_next < rec_n:
                    if not _room_for(scal, max_fanout, free_n, nn, over_n, n_hk, n_ot, hk, hp, hv, seq_bits):
                        status = NEED_ROOM
                        break
                    free_n, nn, over_n, wheel_n = _scatter(
                        whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov,
                        scal, seq_bits, nb_mask, net.out_ptr, net.out_start, net.out_end, net.out_kind, net.syn_post,
                        net.syn_w, net.syn_dt, cb, free_n, nn, over_n, wheel_n, net.n_inputs + q.rec_i[ph_next],
                        ph_t, 1.0)
                    ph_next += 1
                if status != OK:
                    break
                phase = 2
            if ph_nt > 0:
                if not _room_for(scal, ph_nt, free_n, nn, over_n, n_hk, n_ot, hk, hp, hv, seq_bits):
                    status = NEED_ROOM
                    break
                for qq in range(ph_nt):
                    i = st.touched[qq]
                    pt = crossing_tick(net.crossing, net.tau, net.btau, net.thr, st.V, i, ph_t)
                    st.pred[i] = pt
                    if pt != NEVER:
                        free_n, nn, over_n, wheel_n = _file(
                            whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov, scal,
                            seq_bits, nb_mask, cb, free_n, nn, over_n, wheel_n, pt,
                            np.int64(2 * net.layer_of[i]) << seq_bits, i, 0.0)
            phase = 0

        # ---- the head of the current bucket: sorted entries merged with the near heap ----
        base = cb << W_BITS
        if cpos < cn:
            key = ck[2 * cpos]
            if nn > 0 and hk[0] < key:
                key = hk[0]
            head_t = base + (key >> TICK_SHIFT)
        elif nn > 0:
            key = hk[0]
            head_t = base + (key >> TICK_SHIFT)
        else:
            key = -1
            head_t = base + W_MASK   # nothing left in this bucket: inputs of the whole bucket may enter

        # ---- admit inputs emitted at or before the head (their arrivals may precede it) ----
        if ip < n_ev and in_t[ip] <= head_t:
            if not _room_for(scal, max_fanout, free_n, nn, over_n, n_hk, n_ot, hk, hp, hv, seq_bits):
                status = NEED_ROOM
                break
            c = in_ch[ip]
            st.in_counts[c] += 1
            free_n, nn, over_n, wheel_n = _scatter(
                whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov,
                scal, seq_bits, nb_mask, net.out_ptr, net.out_start, net.out_end, net.out_kind, net.syn_post, net.syn_w,
                net.syn_dt, cb, free_n, nn, over_n, wheel_n, c, in_t[ip], in_v[ip])
            ip += 1
            if ip < n_ev:   # the next input's rows: filed one input interval from now
                _prefetch_rows(net.out_ptr, net.out_start, net.out_end, net.syn_post, net.syn_w, net.syn_dt,
                               in_ch[ip])
            continue

        # ---- the current bucket is done: on to the next (or over an empty wheel) ----
        if key < 0:
            nxt = cb + 1
            if wheel_n == 0:
                nxt = NEVER
                if ip < n_ev:
                    nxt = in_t[ip] >> W_BITS
                if over_n > 0:
                    nxt = min(nxt, ot[0] >> W_BITS)
                if nxt == NEVER:
                    break
                nxt = max(nxt, cb + 1)
            if (nxt << W_BITS) >= until:
                break
            n_b = _bucket_size(wcount, wpos, nxt & nb_mask)
            if 2 * n_b > q.tk.shape[0]:
                scal[S_NEED_SCRATCH] = n_b
                status = NEED_ROOM
                break
            # The horizon moves: overflow entries now within the wheel's reach go onto it
            # (room for all of them: a block or a near-heap slot each).
            if over_n > 0 and (free_n < over_n + 1 or nn + over_n + 1 > n_hk):
                scal[S_NEED_BLOCKS] = over_n + 1
                scal[S_NEED_NEAR] = nn + over_n + 1
                status = NEED_ROOM
                break
            cb = nxt
            scal[S_NEAR_SEQ] = 0
            # In filing order within a tick (the heap's counter), before anything can be
            # filed into the buckets that enter the wheel now: their order is kept.
            while over_n > 0 and (ot[0] >> W_BITS) - cb <= nb_mask:
                _near_counter_room(scal, 0, hk, hp, hv, nn, seq_bits)
                kidx = np.int64(2 * net.layer_of[op[0]] + (oo[0] & 1)) << seq_bits
                free_n, nn, _, wheel_n = _file(
                    whead, wpos, wcount, pk, pv, pnext, free, hk, hp, hv, ot, oo, op, ov, scal, seq_bits,
                    nb_mask, cb, free_n, nn, over_n, wheel_n, ot[0], kidx, op[0], ov[0])
                over_n = _over_pop(ot, oo, op, ov, over_n)
            free_n, cn = _load_bucket(whead, wcount, wpos, pk, pv, pnext, free, nb_mask, cb, q.tk, q.tv,
                                      ck, q.cv, q.hist, 63, free_n, seq_bits, grid)
            wheel_n -= cn
            cpos = 0
            continue
        if head_t >= until:
            break
        if rec_n + max_cascade + 1 > q.rec_t.shape[0]:
            scal[S_NEED_REC] = rec_n + max_cascade + 1
            status = NEED_ROOM
            break

        # ---- fast path: runs of rounds that are one arrival each and fire nothing ----
        # With continuous delays almost every arrival is alone at its tick; such a round
        # decays one neuron, adds one value and finds it below threshold. It is done here
        # in a tight loop, with the same arithmetic as the full round below, as long as no
        # input or readout sample falls due first. Anything else (a second entry at the
        # tick, the near heap, a neuron with drive crossings, a threshold reached) leaves
        # the entry to the full round, untouched.
        lim = until
        if ip < n_ev and in_t[ip] < lim:
            lim = in_t[ip]
        if sp < sample_t.shape[0] and sample_t[sp] < lim:
            lim = sample_t[sp] + 1
        cpos, last_t, rounds_at_t, spikes_at_t, n_fast = _fast_singles(
            net, st, q, base, cpos, cn, nn, lim, last_t, rounds_at_t, spikes_at_t, any_crossing)
        if n_fast > 0:
            continue

        # ---- one round: every entry of this (tick, layer), then its threshold checks ----
        t = head_t
        layer = ((key & ((np.int64(1) << TICK_SHIFT) - 1)) >> seq_bits) >> 1
        # (+, not |: for the last layer the next kind may carry into the tick bits)
        key_end = ((t - base) << TICK_SHIFT) + (np.int64(2 * layer + 2) << seq_bits)
        sp = _sample_before(net, st, sample_t, samples, sp, ro_start, t)
        if t == last_t:
            rounds_at_t += 1
            if rounds_at_t > max_cascade:
                err[0] = t
                err[1] = layer
                status = ERR_ZERO_DELAY_LOOP
                break
        else:
            last_t = t
            rounds_at_t = 0
            spikes_at_t = 0
        round_id += 1
        cpos, nn, nt = _apply_round(net, st, q, t, key_end, seq_bits, cpos, cn, nn, round_id, grid)
        rec0 = rec_n
        ok, nt, rec_n, spikes_at_t = _check_thresholds(net, st, q, layer, nt, t, round_id, rec_n,
                                                       spikes_at_t, max_cascade, grid)
        if not ok:
            err[0] = t
            err[1] = layer
            status = ERR_CASCADE
            break
        if rec_n > rec0 or net.layer_crossing[layer]:
            phase = 1
            ph_t = t
            ph_next = rec0
            ph_nt = nt if net.layer_crossing[layer] else 0

    scal[S_CB] = cb
    scal[S_CUR_POS] = cpos
    scal[S_CUR_N] = cn
    scal[S_NEAR_N] = nn
    scal[S_OVER_N] = over_n
    scal[S_FREE_N] = free_n
    scal[S_WHEEL_N] = wheel_n
    scal[S_LAST_T] = last_t
    scal[S_ROUNDS_AT_T] = rounds_at_t
    scal[S_SPIKES_AT_T] = spikes_at_t
    scal[S_PHASE] = phase
    scal[S_PH_T] = ph_t
    scal[S_PH_NEXT] = ph_next
    scal[S_PH_NT] = ph_nt
    scal[S_IP] = ip
    if status == OK:
        sp = _sample_before(net, st, sample_t, samples, sp, ro_start, until)
    scal[S_SP] = sp
    scal[S_REC_N] = rec_n
    scal[S_ROUND] = round_id
    return status


@njit(cache=True, _nrt=False)
def _initial_predictions(net, st, q):
    """Wake-ups for neurons whose drive alone reaches threshold from the initial state
    (the queue was made with room for one per neuron)."""
    scal = q.scal
    nb_mask = q.whead.shape[0] - 1
    free_n, near_n, over_n, wheel_n = scal[S_FREE_N], scal[S_NEAR_N], scal[S_OVER_N], scal[S_WHEEL_N]
    for i in range(st.V.shape[0]):
        pt = crossing_tick(net.crossing, net.tau, net.btau, net.thr, st.V, i, 0)
        st.pred[i] = pt
        if pt != NEVER:
            _near_counter_room(scal, 0, q.hk, q.hp, q.hv, near_n, net.seq_bits)
            free_n, near_n, over_n, wheel_n = _file(
                q.whead, q.wpos, q.wcount, q.pk, q.pv, q.pnext, q.free, q.hk, q.hp, q.hv, q.ot, q.oo, q.op,
                q.ov, scal, net.seq_bits, nb_mask, scal[S_CB], free_n, near_n, over_n, wheel_n, pt,
                np.int64(2 * net.layer_of[i]) << net.seq_bits, i, 0.0)
    scal[S_FREE_N], scal[S_NEAR_N], scal[S_OVER_N], scal[S_WHEEL_N] = free_n, near_n, over_n, wheel_n
