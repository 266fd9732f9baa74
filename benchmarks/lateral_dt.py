"""Spike-granular lateral connections have no fixed-step twin: how close do fixed-step
simulators get as the step shrinks?

The exact engine applies a lateral (send-on-delta) effect at the instant of the spike, one
spike at a time. Brian2 and NEST (``iaf_psc_delta``) run the same network with the lateral
effect delivered one step later (``lateral="delayed"``: the closest they can express;
NEST's minimum delay is one step), and axon's grid engine with its step-granular rule (all
neurons above threshold in a step fire together). For dt = 1, 0.1, 0.01 ms each run is
compared with the exact engine. Differences should fall as dt shrinks (docs/semantics.md,
agreement table).

A network with lateral inhibition is chaotic: one spike moved early on changes everything
after it, so a long run measures how fast differences grow more than how big they start.
The input is therefore a series of trials: 100 ms of Poisson input, then 200 ms of
silence in which the network returns to rest (tau 20 ms, longest path 40 ms). Each trial
is compared separately, from its own start: time until the first divergence (median over
trials; spikes within one step of each other agree), fraction of trials with identical
spikes (to within a step), the exact engine's spikes matched
within 1 ms, relative |count difference| per neuron, mean van Rossum distance (tau 5 ms).

    python -m benchmarks.lateral_dt --out runs/lateral_dt            # table + plot, 40 trials
    python -m benchmarks.lateral_dt --dts 1e-3 1e-4 --peers grid --trials 10   # a quick look

The network: 200 Poisson inputs (20 Hz in a trial, times on a 0.01 ms grid) -> 64 LIF -> 32 LIF,
zero reset (NEST's only reset), dense feed-forward weights, delays 1-20 ms on the 1 ms
grid (so every dt has them exactly), ``Omega = g W W^T`` lateral over each layer.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sim import Events, Lateral, LIFLayer, Network, Projection
from bridge.runfiles import write_json, write_text

DTS = (1e-3, 1e-4, 1e-5)
PEERS = ("grid", "brian2", "nest")


def lateral_network(seed: int = 0, n_in: int = 200, sizes=(64, 32), lateral_gain: float = 0.5) -> Network:
    rng = np.random.default_rng(seed)
    layers, projections, laterals = [], [], []
    pre, n_pre = "input", n_in
    for k, (n, (mu, sd)) in enumerate(zip(sizes, ((0.03, 0.1), (0.1, 0.25)))):
        name = f"hidden{k}"
        layers.append(LIFLayer(name, n, 0.02, threshold=1.0, reset="zero"))
        w = rng.normal(mu, sd, size=(n, n_pre))
        d = rng.integers(1, 21, size=w.shape) * 1e-3
        projections.append(Projection.dense(pre, name, w, d))
        gram = w @ w.T
        laterals.append(Lateral.dense(name, lateral_gain * gram / np.mean(np.diag(gram))))
        pre, n_pre = name, n
    return Network(n_in, layers, projections, laterals, metadata={"benchmark": "lateral_dt", "seed": seed})


TRIAL_INPUT_S, TRIAL_S = 0.1, 0.3


def poisson_trials(n_channels: int, rate_hz: float, n_trials: int, grid_s: float, seed: int) -> Events:
    """Poisson input during the first TRIAL_INPUT_S of each TRIAL_S, times on ``grid_s``."""
    rng = np.random.default_rng(seed)
    per_trial = int(round(TRIAL_INPUT_S / grid_s))
    n = rng.poisson(rate_hz * TRIAL_INPUT_S * n_channels * n_trials)
    trial = rng.integers(0, n_trials, size=n)
    step = trial * int(round(TRIAL_S / grid_s)) + rng.integers(1, per_trial, size=n)
    k = np.unique(step * n_channels + rng.integers(0, n_channels, size=n))   # no duplicate (step, channel)
    steps, ch = k // n_channels, k % n_channels
    return Events(steps * grid_s, ch)


def trial_metrics(ref: dict, spikes: dict, n_trials: int, dt_s: float) -> dict:
    """Compare each trial from its own start; aggregate. A fixed-step run reports a spike
    at the end of the step it falls in: spikes within one step of each other agree."""
    from bridge.compare import compare_runs
    from sim.model.results import SpikeTrains

    def cut(run, k):
        t0 = k * TRIAL_S
        out = {}
        for name, tr in run.items():
            m = (tr.times_s >= t0) & (tr.times_s < t0 + TRIAL_S)
            out[name] = SpikeTrains(tr.times_s[m] - t0, tr.neurons[m], tr.size)
        return out

    first, identical, n_ref, matched, absdiff, vr = [], 0, 0, 0, 0, []
    for k in range(n_trials):
        c = compare_runs(cut(ref, k), cut(spikes, k), duration_s=TRIAL_S, labels=("exact", "peer"),
                         match_window_s=1e-3, van_rossum_tau_s=5e-3, time_tol_s=dt_s * (1 + 1e-6)).overall
        identical += bool(c.identical)
        fd = c.first_divergence_s
        first.append(np.inf if fd is None or not np.isfinite(fd) else float(fd))
        n_ref += c.spikes_a
        matched += c.n_matched
        absdiff += int(np.abs(c.count_diff).sum())
        vr.append(float(c.mean_van_rossum))
    return {"identical_trials": identical / n_trials, "median_first_divergence_ms": float(np.median(first)) * 1e3,
            "matched_fraction": matched / max(n_ref, 1), "count_difference": absdiff / max(n_ref, 1),
            "van_rossum_mean": float(np.mean(vr))}


def run_peer(peer: str, net: Network, ev: Events, duration_s: float, dt_s: float, brian2_device: str):
    t0 = time.perf_counter()
    if peer == "grid":
        from bridge.conventions import network_on_grid
        from sim.engines.grid import simulate_grid

        spikes = simulate_grid(network_on_grid(net, dt_s), ev, duration_s, dt_s).spikes
    elif peer == "brian2":
        from bridge.peers.brian2_backend import run_brian2

        spikes = run_brian2(net, ev, duration_s, dt_s, device=brian2_device, lateral="delayed").spikes
    else:
        from bridge.peers.nest_backend import run_nest

        spikes = run_nest(net, ev, duration_s, dt_s, model="iaf_psc_delta", lateral="delayed").spikes
    return spikes, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/lateral_dt")
    ap.add_argument("--dts", type=float, nargs="+", default=list(DTS), help="steps in s (default 1e-3 1e-4 1e-5)")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated from grid,brian2,nest")
    ap.add_argument("--trials", type=int, default=40, help=f"trials of {TRIAL_S * 1e3:g} ms (default 40)")
    ap.add_argument("--brian2-device", choices=("runtime", "cpp_standalone"), default="cpp_standalone",
                    help="cpp_standalone by default: 0.01 ms steps are 100 000 steps per second of input")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from sim.engines.exact import simulate

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    bad = [p for p in peers if p not in PEERS]
    if bad:
        raise SystemExit(f"--peers: unknown {bad}; choose from {','.join(PEERS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = lateral_network(args.seed)
    if args.trials < 1:
        raise SystemExit("--trials must be >= 1")
    ev = poisson_trials(net.n_inputs, 20.0, args.trials, 1e-5, args.seed + 1)
    duration = args.trials * TRIAL_S
    t0 = time.perf_counter()
    ref = simulate(net, ev, duration).spikes
    print(f"exact engine: {sum(len(s) for s in ref.values())} spikes in {time.perf_counter() - t0:.2f} s", flush=True)
    rows = []
    for dt in args.dts:
        for peer in peers:
            try:
                spikes, wall = run_peer(peer, net, ev, duration, dt, args.brian2_device)
            except Exception as exc:  # report and go on: one peer failing loses nothing else
                print(f"dt {dt * 1e3:g} ms {peer}: error: {exc}", flush=True)
                rows.append({"dt_s": dt, "peer": peer, "error": str(exc)})
                continue
            n_ref = sum(len(s) for s in ref.values())
            n_peer = sum(len(s) for s in spikes.values())
            row = {"dt_s": dt, "peer": peer, "wall_s": wall, "spikes_exact": n_ref, "spikes_peer": n_peer,
                   **trial_metrics(ref, spikes, args.trials, dt)}
            rows.append(row)
            print(f"dt {dt * 1e3:g} ms {peer:6s}: spikes {n_peer} (exact {n_ref}), identical trials "
                  f"{row['identical_trials']:.2f}, median first divergence {row['median_first_divergence_ms']:.1f} ms, "
                  f"matched {row['matched_fraction']:.3f}, |count diff| {row['count_difference']:.3f}, "
                  f"van Rossum {row['van_rossum_mean']:.3f} ({wall:.1f} s)", flush=True)
    cmd = "python -m benchmarks.lateral_dt " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    write_json(out / "lateral_dt.json", {"command": cmd.strip(), "rows": rows})
    lines = ["| dt (ms) | peer | spikes (exact) | identical trials | median first divergence (ms) | "
             "matched within 1 ms | relative count difference | mean van Rossum (tau 5 ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['dt_s'] * 1e3:g} | {r['peer']} | error: {r['error']} | | | | | |")
        else:
            lines.append(f"| {r['dt_s'] * 1e3:g} | {r['peer']} | {r['spikes_peer']} ({r['spikes_exact']}) | "
                         f"{r['identical_trials']:.2f} | {r['median_first_divergence_ms']:.1f} | "
                         f"{r['matched_fraction']:.3f} | {r['count_difference']:.3f} | {r['van_rossum_mean']:.3f} |")
    write_text(out / "lateral_dt.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(out / "lateral_dt.png", rows)
    print(f"written {out}/lateral_dt.json, .md, .png")
    return 0


def _plot(path, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    keys = [("median_first_divergence_ms", "median first divergence in a trial (ms)"),
            ("matched_fraction", "exact spikes matched within 1 ms"),
            ("count_difference", "relative |count difference|"), ("van_rossum_mean", "mean van Rossum distance")]
    for peer, marker in zip(PEERS, "osd"):
        rs = [r for r in rows if r["peer"] == peer and "error" not in r]
        if not rs:
            continue
        for ax, (k, label) in zip(axes, keys):
            ax.plot([r["dt_s"] * 1e3 for r in rs], [r[k] for r in rs], marker=marker, label=peer)
    for ax, (k, label) in zip(axes, keys):
        ax.set_xscale("log")
        ax.set_xlabel("dt (ms)")
        ax.set_title(label, fontsize=10)
        ax.invert_xaxis()
    axes[0].legend()
    fig.suptitle("fixed-step runs (lateral one step late) vs the exact engine (spike-granular lateral)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
