"""Compiled core of the grid (fixed-step) engine.

One orchestrator, :func:`_run_steps`, owns the loop over steps; the per-step phases are
small named functions inlined into it (``inline="always"``). Like the exact engine's
kernel it never allocates and is compiled without reference counting (``_nrt=False``;
see docs/exact-engine.md for what the counting cost): when the spike record might
overflow during a step it returns the step it stopped at, and the caller grows the
record and calls again from there.

Ring buffers: layer ``L`` owns ``buf_len[L] = (largest delay into L) + 1`` slots of
``size[L]`` floats starting at ``buf_off[L]`` in one flat array; the input that reaches
neuron ``i`` of ``L`` at step ``m`` accumulates in slot ``m % buf_len[L]``. A slot is read and
cleared when its step is integrated, and a delay is at most ``buf_len - 1``, so a write
never lands in a slot that still holds another step's input. Synapses are stored per
source in segments, one per target layer, so the target's ring is looked up once per
segment, not per synapse; within a segment, synapse ``s`` lands ``syn_pos[s] = delay *
size + column`` after the current slot's start, wrapped at the end of the ring.

Indices are unsigned (``uint64``): Numba then leaves out the negative-index wraparound it
adds to every signed index, and LLVM vectorises the per-neuron update; on the reference
network at dt 1 ms this alone made the kernel 1.5-2.4x faster (docs/benchmarks.md, "The
grid engine's kernel"). Mixing signed and unsigned integers in Numba yields floats, so values
are converted once with ``U(...)`` where they enter unsigned arithmetic.

Counters that follow from the spikes are not counted per event: synaptic events per
neuron are the transmissions of each source times its synapses, state updates are steps,
and lateral updates are the spikes of each group's members (``sim.engines.grid`` derives
them).
"""
from __future__ import annotations

from numba import njit
from numba import uint64 as U

# ----------------------------------------------------------------------------- phases

@njit(cache=True, _nrt=False, inline="always")
def _send(g, buf, now_pos, src, v):
    """Source ``src`` transmits ``v`` (an input event's summed value, or 1.0 for a spike):
    every synapse adds ``v * w`` to its target's ring slot ``delay`` steps ahead."""
    syn_pos, syn_w, seg_start = g.syn_pos, g.syn_w, g.seg_start
    for q in range(g.src_seg[src], g.src_seg[src + U(1)]):
        L = g.seg_layer[q]
        base = g.buf_off[L]
        now = now_pos[L]
        region = g.region[L]
        for s in range(seg_start[q], seg_start[q + U(1)]):
            p = now + syn_pos[s]
            if p >= region:
                p -= region
            buf[base + p] += v * syn_w[s]


@njit(cache=True, _nrt=False, inline="always")
def _integrate(g, V, buf, a, size, slot):
    """``V[n] = beta V[n-1] + (1 - beta) b tau + I[n]`` for the ``size`` neurons from ``a``,
    with ``I[n]`` read from (and cleared in) the ring slot starting at ``slot``. Returns
    how many are at or above threshold."""
    beta, dstep, thr = g.beta, g.dstep, g.thr
    for u in range(size):
        i = a + u
        V[i] = beta[i] * V[i] + dstep[i] + buf[slot + u]
        buf[slot + u] = 0.0
    n_fired = 0
    for u in range(size):
        n_fired += V[a + u] >= thr[a + u]
    return n_fired


@njit(cache=True, _nrt=False, inline="always")
def _lateral(g, V, spiked, lat_pos, L):
    """Step-granular lateral effect of layer L, after all its decisions and resets:
    ``V_j <- V_j - sum_i Omega[j, i] s_i`` per group (the sum formed first, over the
    spiking members in member order, as in training)."""
    group_ptr, group_members, omega_ptr, omega_flat = g.group_ptr, g.group_members, g.omega_ptr, g.omega_flat
    for qg in range(g.lgroup_ptr[L], g.lgroup_ptr[L + 1]):
        gid = g.lgroups[qg]
        m0 = group_ptr[gid]
        m1 = group_ptr[gid + U(1)]
        gsize = m1 - m0
        o0 = omega_ptr[gid]
        # Positions (in the group) of this step's spikes: the sums run over them only,
        # O(group size x spikes), not (group size)^2.
        n_g = U(0)
        for mi in range(m0, m1):
            if spiked[group_members[mi]]:
                lat_pos[n_g] = mi - m0
                n_g += U(1)
        if n_g == 0:
            continue
        for mj in range(gsize):
            row = o0 + mj * gsize
            acc = 0.0
            for q2 in range(n_g):
                acc += omega_flat[row + lat_pos[q2]]
            j = group_members[m0 + mj]
            V[j] = V[j] - acc


# ----------------------------------------------------------------------------- the loop

@njit(cache=True, _nrt=False)
def _run_steps(g, st, n0, n1, n_first, ev_ptr, ev_ch, ev_v, rec_t, rec_i, rec_n, readout, ro_start):
    """Advance from step ``n0`` (``n_first`` if resuming) to step ``n1`` (exclusive).

    ``g``: static arrays (``sim.engines.grid.GridArrays``); ``st``: state
    (``sim.engines.grid.GridState``).
    ``ev_ptr[n - n0] .. ev_ptr[n - n0 + 1]`` index the input events of step ``n`` (channel,
    summed value), sorted by channel. ``readout[n - n0, :]`` receives ``V[n]`` of the
    readout neurons. Spikes go to ``rec_i`` (global neuron) with ``rec_t`` the step index.
    Returns ``(n, rec_n)``: ``n == n1`` when done, else the step at which the record lacked
    room for one step's spikes (grow it and call again with ``n_first = n``).

    Per step, docs/semantics.md's discrete-time model, layer by layer in network order::

        V[n] = (beta * V[n-1] + (1 - beta) * b * tau) + I[n]
        s[n] = V[n] >= threshold
        V[n] <- reset(V[n], s[n]) - Omega s[n]
    """
    layer_start, buf_off, buf_len = g.layer_start, g.buf_off, g.buf_len
    thr, subtract = g.thr, g.subtract
    V, buf, spiked, spike_count, in_counts, now_pos = st.V, st.buf, st.spiked, st.spike_count, st.in_counts, st.now_pos
    n_in = U(g.n_inputs)
    n_layers = layer_start.shape[0] - 1
    n_spiking = g.n_spiking
    n_spiking_neurons = layer_start[n_spiking]
    n_ro = readout.shape[1]
    for n in range(n_first, n1):
        if rec_n + n_spiking_neurons > rec_t.shape[0]:
            return n, rec_n
        # This step's slot in every layer's ring.
        for L in range(n_layers):
            now_pos[L] = U((n % buf_len[L]) * (layer_start[L + 1] - layer_start[L]))
        # --- input events of this step into the ring buffers ---
        for e in range(ev_ptr[n - n0], ev_ptr[n - n0 + 1]):
            c = ev_ch[e]
            in_counts[c] += 1
            _send(g, buf, now_pos, U(c), ev_v[e])
        # --- layers in order ---
        for L in range(n_layers):
            a = U(layer_start[L])
            b = U(layer_start[L + 1])
            n_fired = _integrate(g, V, buf, a, b - a, buf_off[L] + now_pos[L])
            if L >= n_spiking or n_fired == 0:
                continue
            # Every decision is V >= threshold after the update (the integrate pass);
            # reset and send in neuron order.
            for i in range(a, b):
                fired = V[i] >= thr[i]
                spiked[i] = fired
                if not fired:
                    continue
                spike_count[i] += 1
                rec_t[rec_n] = n
                rec_i[rec_n] = i
                rec_n += 1
                if subtract[i]:
                    V[i] = V[i] - thr[i]
                else:
                    V[i] = 0.0
                _send(g, buf, now_pos, n_in + i, 1.0)
            _lateral(g, V, spiked, st.lat_pos, L)
        for r in range(n_ro):
            readout[n - n0, r] = V[ro_start + r]
    return n1, rec_n


# ----------------------------------------------------------------------------- counters

@njit(cache=True, _nrt=False)
def _synaptic_events(src_seg, seg_start, syn_post, emitted, out):
    """``out[j] += emitted[src]`` for every synapse src -> j: the synaptic events each
    neuron received, from how often each source transmitted (input events, spikes)."""
    for src in range(emitted.shape[0]):
        e = emitted[src]
        if e == 0:
            continue
        for s in range(seg_start[src_seg[src]], seg_start[src_seg[src + 1]]):
            out[syn_post[s]] += e
