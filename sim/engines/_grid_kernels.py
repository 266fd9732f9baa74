"""Compiled core of the grid (fixed-step) engine.

One orchestrator, :func:`_run_steps`, owns the loop over steps, with the per-step work
inline. Like the exact engine's kernel it never allocates and is compiled without
reference counting (``_nrt=False``; see docs/exact-engine.md for what the counting cost):
when the spike record might overflow during a step it returns the step it stopped at and
the caller grows the record and calls again from there.

Ring buffers: layer ``L`` owns ``buf_len[L] = (largest delay into L) + 1`` slots of
``size[L]`` floats starting at ``buf_off[L]`` in one flat array; the input that reaches
neuron ``i`` of ``L`` at step ``m`` accumulates in slot ``m % buf_len[L]``. A slot is read and
cleared when its step is integrated, and a delay is at most ``buf_len - 1``, so a write
never lands in a slot that still holds another step's input.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Rows of the per-neuron counter array (same meaning as the exact engine's).
C_SPIKES, C_SYN_IN, C_UPDATES, C_LATERAL_IN = 0, 1, 2, 3
N_COUNTERS = 4


@njit(cache=True, _nrt=False)
def _run_steps(g, V, buf, counts, in_counts, spiked, lat_acc, lat_pos, region, now_pos, n0, n1, n_first, ev_ptr,
               ev_ch, ev_v, rec_t, rec_i, rec_n, readout, ro_start, record):
    """Advance from step ``n0`` (``n_first`` if resuming) to step ``n1`` (exclusive).

    ``ev_ptr[n - n0] .. ev_ptr[n - n0 + 1]`` index the input events of step ``n`` (channel,
    summed value), sorted by channel. ``readout[n - n0, :]`` receives ``V[n]`` of the readout
    neurons. Spikes go to ``rec_i`` (global neuron) with ``rec_t`` the step index. Returns
    ``(n, rec_n)``: ``n == n1`` when done, else the step at which the record lacked room
    for one step's spikes (grow it and call again with ``n_first = n``).

    Per step, docs/semantics.md's discrete-time model, layer by layer in network order::

        V[n] = (beta * V[n-1] + (1 - beta) * b * tau) + I[n]
        s[n] = V[n] >= threshold
        V[n] <- reset(V[n], s[n]) - Omega s[n]
    """
    beta, dstep, thr, subtract = g.beta, g.dstep, g.thr, g.subtract
    layer_start, buf_off, buf_len = g.layer_start, g.buf_off, g.buf_len
    layer_of = g.layer_of
    out_ptr, syn_post, syn_w = g.out_ptr, g.syn_post, g.syn_w
    lgroup_ptr, lgroups = g.lgroup_ptr, g.lgroups
    group_ptr, group_members, omega_ptr, omega_flat = g.group_ptr, g.group_members, g.omega_ptr, g.omega_flat
    n_in = g.n_inputs
    n_layers = layer_start.shape[0] - 1
    n_spiking = g.n_spiking
    n_spiking_neurons = layer_start[n_spiking]
    n_ro = readout.shape[1]
    # Ring positions without a division per synaptic event: synapse s lands at
    # ``now_pos[L] + syn_pos[s]`` (minus the region size if past its end) in layer L's
    # region, where ``now_pos[L] = (n % buf_len[L]) * size[L]`` and
    # ``syn_pos[s] = syn_k[s] * size[L] + column``; both are below the region size.
    syn_pos = g.syn_pos
    # (region, now_pos: scratch of one int64 per layer, given by the caller)
    for L in range(n_layers):
        region[L] = buf_len[L] * (layer_start[L + 1] - layer_start[L])
    for n in range(n_first, n1):
        if record and rec_n + n_spiking_neurons > rec_t.shape[0]:
            return n, rec_n
        for L in range(n_layers):
            now_pos[L] = (n % buf_len[L]) * (layer_start[L + 1] - layer_start[L])
        # --- input events of this step into the ring buffers ---
        for e in range(ev_ptr[n - n0], ev_ptr[n - n0 + 1]):
            c = ev_ch[e]
            v = ev_v[e]
            in_counts[c] += 1
            for s in range(out_ptr[c], out_ptr[c + 1]):
                j = syn_post[s]
                L = layer_of[j]
                pos = now_pos[L] + syn_pos[s]
                if pos >= region[L]:
                    pos -= region[L]
                buf[buf_off[L] + pos] += v * syn_w[s]
                counts[C_SYN_IN, j] += 1
        # --- layers in order ---
        for L in range(n_layers):
            a = layer_start[L]
            b = layer_start[L + 1]
            size = b - a
            base = buf_off[L] + (n % buf_len[L]) * size
            for i in range(a, b):
                V[i] = beta[i] * V[i] + dstep[i] + buf[base + i - a]
                buf[base + i - a] = 0.0
                counts[C_UPDATES, i] += 1
            if L >= n_spiking:
                continue
            # Decisions first: every neuron at or above threshold fires this step.
            n_fired = 0
            for i in range(a, b):
                fired = V[i] >= thr[i]
                spiked[i] = fired
                if fired:
                    n_fired += 1
            if n_fired == 0:
                continue
            for i in range(a, b):
                if not spiked[i]:
                    continue
                counts[C_SPIKES, i] += 1
                if record:
                    rec_t[rec_n] = n
                    rec_i[rec_n] = i
                    rec_n += 1
                if subtract[i]:
                    V[i] = V[i] - thr[i]
                else:
                    V[i] = 0.0
                src = n_in + i
                for s in range(out_ptr[src], out_ptr[src + 1]):
                    j = syn_post[s]
                    L2 = layer_of[j]
                    pos = now_pos[L2] + syn_pos[s]
                    if pos >= region[L2]:
                        pos -= region[L2]
                    buf[buf_off[L2] + pos] += syn_w[s]
                    counts[C_SYN_IN, j] += 1
                # Step-granular lateral effect, after all decisions and resets:
            # V_j <- V_j - sum_i Omega[j, i] s_i  (the sum formed first, as in training).
            for q in range(lgroup_ptr[L], lgroup_ptr[L + 1]):
                gid = lgroups[q]
                m0 = group_ptr[gid]
                m1 = group_ptr[gid + 1]
                gsize = m1 - m0
                o0 = omega_ptr[gid]
                # Positions (in the group) of this step's spikes, in member order; the sum
                # below runs over them only: O(group size x spikes), not (group size)^2.
                n_g = 0
                for mi in range(m0, m1):
                    if spiked[group_members[mi]]:
                        lat_pos[n_g] = mi - m0
                        n_g += 1
                if n_g == 0:
                    continue
                for mj in range(m0, m1):
                    acc = 0.0
                    row = o0 + (mj - m0) * gsize
                    for q2 in range(n_g):
                        acc += omega_flat[row + lat_pos[q2]]
                    lat_acc[mj - m0] = acc
                for mj in range(m0, m1):
                    j = group_members[mj]
                    V[j] = V[j] - lat_acc[mj - m0]
                    counts[C_LATERAL_IN, j] += n_g
        if n_ro > 0:
            for r in range(n_ro):
                readout[n - n0, r] = V[ro_start + r]
    return n1, rec_n
