"""Where the exact engine's time goes, per synaptic event, on the reference network.

    python -m benchmarks.exact_profile [--duration 2] [--lateral] [--repeat 3]

Three measurements on the same network and input (continuous delays 0-250 ms):

1. the whole run (``ExactSimulator.run``), CPU seconds per synaptic event;
2. filing: every emission of that run (the input events and the recorded spikes, in time
   order) replayed through the kernel that files arrivals into the timing wheel, with the
   wheel drained bucket by bucket without sorting (the blocks go back to the pool);
3. filing + sorting: the same replay, each bucket copied out and sorted as the engine
   does before it applies it.

Applying (decay, add, threshold checks, lateral cascades) is what remains of (1) after (3).
Figures are CPU seconds (``time.process_time``) of the minimum of ``--repeat`` runs,
divided by the synaptic events of (1); the replay files the same number of arrivals as the
run delivers, lateral updates aside. JIT compilation is excluded (warm-up runs first).
Prints one JSON object and a table.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from numba import njit

from benchmarks.reference_network import build_reference_network, poisson_events
from sim.engines import _exact_kernels as K
from sim.engines.exact import ExactSimulator, _new_queue, _pairs
from sim.engines.ticks import NEAREST, seconds_to_ticks


@njit(cache=True, _nrt=False)
def _replay(net, q, src, t, val, sort):
    """File the arrivals of emissions (src, tick, value) in time order; whenever time
    passes a bucket, take that bucket off the wheel (sorted if ``sort``, else its blocks
    only returned to the pool). Returns the arrivals filed."""
    whead, wpos, wcount = q.whead, q.wpos, q.wcount
    nb_mask = whead.shape[0] - 1
    free_n = q.scal[K.S_FREE_N]
    cb = np.int64(0)
    filed = 0
    key_bits = 63
    for e in range(src.shape[0]):
        b_now = t[e] >> K.W_BITS
        while cb < b_now:
            cb += 1
            slot = cb & nb_mask
            n = K._bucket_size(wcount, wpos, slot)
            if sort:
                if 2 * n <= q.tk.shape[0]:
                    free_n, n = K._load_bucket(whead, wcount, wpos, q.pk, q.pv, q.pnext, q.free, nb_mask, cb,
                                               q.tk, q.tv, q.ck, q.cv, q.hist, key_bits, free_n, net.seq_bits,
                                               q.scal[K.S_GRID] != 0)
            else:
                blk = whead[slot]
                i = 0
                while i < n:
                    q.free[free_n] = blk
                    free_n += 1
                    blk = q.pnext[blk]
                    i += K.BS
                wcount[slot] = 0
                wpos[slot] = -1
                whead[slot] = -1
        if free_n < net.max_fanout + 2:
            return -1
        free_n, nn, over_n, wheel_n = K._scatter(
            whead, wpos, wcount, q.pk, q.pv, q.pnext, q.free, q.hk, q.hp, q.hv, q.ot, q.oo, q.op, q.ov,
            q.scal, net.seq_bits, nb_mask, net.out_ptr, net.out_start, net.out_end, net.out_kind, net.syn_post, net.syn_w,
            net.syn_dt, cb, free_n, 0, 0, 0, src[e], t[e], val[e])
        filed += wheel_n + nn + over_n
    q.scal[K.S_FREE_N] = free_n
    return filed


def _fresh_queue(sim: ExactSimulator, blocks: int):
    q = _new_queue(sim._n_buckets, blocks)
    big = 1 << 20
    return q._replace(hk=np.zeros(big, np.int64), hp=np.zeros(big, np.int32), hv=np.zeros(big),
                      ot=np.zeros(big, np.int64), oo=np.zeros(big, np.int64), op=np.zeros(big, np.int32),
                      ov=np.zeros(big), **_pairs(big))


def measure(duration_s: float, lateral: bool, repeat: int, seed: int = 0, variant: str | None = None) -> dict:
    if variant is None:
        net = build_reference_network(seed, lateral=lateral)
        ev = poisson_events(net.n_inputs, 10.0, duration_s, seed + 1)
    else:
        from bridge.bench import VARIANTS, build_inputs

        net, ev = build_inputs(variant, seed, 1e-4, duration_s)
        lateral = VARIANTS[variant]["lateral"]
    runs = []
    for r in range(repeat + 1):
        sim = ExactSimulator(net)
        c0 = time.process_time()
        sim.run(duration_s, events=ev)
        c = time.process_time() - c0
        if r:
            runs.append(c)
    tot = sim.counts().totals()
    n_syn = tot["synaptic_events"]
    res = sim.result()
    offs = net.offsets()
    # Emissions in time order: inputs (source = channel), spikes (source = n_inputs + neuron).
    src = [ev.channels.astype(np.int64)]
    tt = [ev.times_s]
    vv = [ev.values]
    for name, tr in res.spikes.items():
        src.append(net.n_inputs + offs[name] + tr.neurons.astype(np.int64))
        tt.append(tr.times_s)
        vv.append(np.ones(tr.times_s.size))
    src, tt, vv = np.concatenate(src), np.concatenate(tt), np.concatenate(vv)
    order = np.argsort(tt, kind="stable")
    src, ticks, vv = src[order], seconds_to_ticks(tt[order], NEAREST), vv[order]
    blocks = int(n_syn // K.BS + 4 * sim.net.max_fanout + 1024)
    out = {}
    for label, sort in (("file_s", False), ("file_sort_s", True)):
        best = np.inf
        for r in range(repeat + 1):
            q = _fresh_queue(sim, min(blocks, 1 << 22))
            q.scal[K.S_GRID] = sim.queue.scal[K.S_GRID]   # the run's choice of bucket-sort digits
            c0 = time.process_time()
            filed = _replay(sim.net, q, src, ticks, vv, sort)
            c = time.process_time() - c0
            if filed < 0:
                raise RuntimeError("profile replay ran out of pool blocks")
            if r:
                best = min(best, c)
        out[label] = best
        out["filed"] = int(filed)
    run_s = min(runs)
    ns = 1e9 / n_syn
    return {
        "variant": variant or ("continuous" if lateral else "continuous_ff"), "lateral": lateral, "duration_s": duration_s, "synaptic_events": n_syn,
        "lateral_updates": tot["lateral_updates"], "spikes": tot["spikes"], "arrivals_replayed": out["filed"],
        "run_cpu_s": run_s, "ns_per_event_total": run_s * ns,
        "ns_per_event_filing": out["file_s"] * ns,
        "ns_per_event_sorting": max(out["file_sort_s"] - out["file_s"], 0.0) * ns,
        "ns_per_event_applying": max(run_s - out["file_sort_s"], 0.0) * ns,
        "synaptic_events_per_cpu_s": n_syn / run_s,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lateral", action="store_true", help="the reference network with its lateral groups")
    ap.add_argument("--variant", choices=("continuous", "continuous_ff", "full", "nest"),
                    help="a network and input of `axon bench` instead (dt 0.1 ms for the grid-aligned ones)")
    args = ap.parse_args(argv)
    r = measure(args.duration, args.lateral, args.repeat, variant=args.variant)
    print(json.dumps(r))
    print(f"\nexact engine, {r['variant']} ({'lateral' if r['lateral'] else 'no lateral'}), "
          f"{r['synaptic_events']:,} synaptic events in {r['duration_s']:g} s of input")
    print(f"{'phase':<34} {'ns / synaptic event':>20}")
    for k, label in (("filing", "filing arrivals into the wheel"), ("sorting", "copying out and sorting buckets"),
                     ("applying", "applying (decay, add, thresholds)"), ("total", "total")):
        print(f"{label:<34} {r['ns_per_event_' + k]:>20.1f}")
    print(f"{'throughput':<34} {r['synaptic_events_per_cpu_s'] / 1e6:>18.1f} M/s (CPU time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
