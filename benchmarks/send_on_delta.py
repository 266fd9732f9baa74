"""Send-on-delta with lateral connections, shown: a population with ``Omega = W W^T``
encodes the 32 filterbank envelopes of a spoken word; each spike should reduce the
reconstruction error (Boerlin, Machens & Denève 2013, PLoS Comput Biol 9:e1003258).

The population: ``N`` LIF neurons (membrane ``tau``, reset by subtraction), decoder
``D`` (32 x N, columns of norm ``a`` tuned to a few neighbouring bands, see
:func:`tuning_decoders`), input weights ``W = D^T`` and threshold
``a^2 / 2``. The input channel ``j`` carries graded events ``u_j[n] = x_j[n] - beta x_j[n-1]``
every ``dt_in`` (``beta = exp(-dt_in / tau)``), so that without spikes ``V = W x_tgt``
with ``x_tgt(t)`` the leaky trace of the input (equal to the envelope ``x[n]`` at every
input instant). The decoded signal is ``x_hat = D r``, ``r`` the spikes filtered with
the same ``tau``. With lateral ``Omega = W W^T = D^T D`` (diagonal included, docs/semantics.md),
``V_i`` is ``D_i^T (x_tgt - x_hat)`` minus the decaying sum of the subtract resets
(``a^2 / 2`` per spike of ``i``), so a neuron fires only if ``D_i^T e >= a^2 / 2``, which
is exactly the condition for its spike to lower ``||e||^2`` (``||e - D_i||^2 - ||e||^2 =
a^2 - 2 D_i^T e``). In continuous time (exact engine, one spike at a time) this holds for
every spike; at step granularity (grid engine) all neurons over threshold in one step
fire together, and their joint update can overshoot.

Run: ``PYTHONPATH=. python benchmarks/send_on_delta.py --out docs/figures`` (about a
minute). Writes ``send_on_delta.json``, ``send_on_delta.md`` and ``send_on_delta.png``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sim import Events, Lateral, LIFLayer, Network, Projection
from sim.engines.exact import ExactSimulator
from sim.engines.grid import GridSimulator
from bridge.runfiles import write_json, write_text

TAU_S = 0.02


def word_envelopes(word: str = "seven", lang: str = "en", hop: int = 16, fs: float = 16000.0):
    """(frames, 32) log envelopes of ``word`` scaled to [0, 1], one frame per ``hop`` samples."""
    from sim.audio.frontend import FrontEnd, FrontEndConfig, _filter_envelopes, normalize_rms
    from training.data.synth import synthesize_word

    x = normalize_rms(synthesize_word(word, lang, sample_rate=fs), -20.0)
    x = np.concatenate([np.zeros(int(0.05 * fs)), x, np.zeros(int(0.1 * fs))])
    cfg = FrontEndConfig(sample_rate_hz=fs, hop_samples=hop)
    fe = FrontEnd(cfg)
    st = fe.state
    n_frames = (x.size - 1) // hop + 1
    env = np.empty((n_frames, cfg.n_bands))
    _filter_envelopes(x, fe.sos, st.filter_zi, st.envelope, fe._env_coef, 0, hop, env)
    level = 20 * np.log10(env + 10 ** (cfg.floor_db / 20))
    return np.clip((level - cfg.floor_db) / -cfg.floor_db, 0.0, 1.0), hop / fs


def tuning_decoders(J: int, N: int, rng: np.random.Generator) -> np.ndarray:
    """(J, N) unit-norm decoder columns: Gaussian bumps over the bands (centres uniform in
    ``[-0.5, J - 0.5]``, widths 0.5..2 bands). Non-negative, like the envelopes, and
    overlapping, so neighbouring neurons are redundant and ``Omega`` has large off-diagonal
    entries: the case where coordinating the spikes matters."""
    c = rng.uniform(-0.5, J - 0.5, N)
    w = rng.uniform(0.5, 2.0, N)
    G = np.exp(-0.5 * ((np.arange(J)[:, None] - c[None, :]) / w[None, :]) ** 2)
    return G / np.linalg.norm(G, axis=0)


LATERALS = ("none", "wwt", "wwt_minus_reset")


def make_network(D: np.ndarray, lateral: str) -> Network:
    """``lateral``: ``"none"``; ``"wwt"``: ``Omega = W W^T`` (docs/semantics.md; the subtract
    reset comes on top, so a spike lowers its own potential by ``T + a^2 = 3 a^2 / 2``);
    ``"wwt_minus_reset"``: ``Omega = W W^T - T I``, so that reset + lateral lower the
    neuron's own potential by exactly ``a^2`` (the network of Boerlin et al., and of s2net,
    where the lateral term replaces the reset)."""
    J, N = D.shape
    a2 = float(np.sum(D[:, 0] ** 2))
    thr = a2 / 2
    layer = LIFLayer("pop", N, TAU_S, threshold=thr, reset="subtract")
    proj = Projection.dense("input", "pop", D.T, 0.0)
    om = {"none": None, "wwt": D.T @ D, "wwt_minus_reset": D.T @ D - thr * np.eye(N)}[lateral]
    lats = [Lateral.dense("pop", om)] if om is not None else []
    return Network(J, [layer], [proj], lats)


def input_events(x: np.ndarray, dt_in: float) -> Events:
    beta = np.exp(-dt_in / TAU_S)
    u = x.copy()
    u[1:] -= beta * x[:-1]
    n, j = np.nonzero(u)
    return Events(n * dt_in, j, u[n, j])


def evaluate(D, x, dt_in, t_spk, i_spk):
    """Relative RMS error (between input instants) and the error change of every spike.

    Returns dict with ``rel_rms``, ``n_spikes``, ``frac_reducing_sequential`` (each spike
    applied alone, in recorded order within an instant), ``frac_in_increasing_instants``
    (spikes of instants whose joint update raised ``||e||^2``).
    """
    T, J = x.shape
    N = D.shape[1]
    beta = np.exp(-dt_in / TAU_S)
    steps = np.floor(t_spk / dt_in + 0.5).astype(np.int64)
    assert np.allclose(steps * dt_in, t_spk, atol=1e-9), "spikes off the input grid"
    order = np.argsort(steps, kind="stable")
    steps, i_spk = steps[order], i_spk[order]
    r = np.zeros(N)
    err2 = np.zeros(T)
    sig2 = np.zeros(T)
    R = np.zeros((T, N))
    half = np.exp(-0.5 * dt_in / TAU_S)
    seq_reduce = 0
    inc_spikes = 0
    k = 0
    for n in range(T):
        r *= beta
        if k < steps.size and steps[k] == n:
            k0 = k
            while k < steps.size and steps[k] == n:
                k += 1
            e = x[n] - D @ r
            e0 = float(e @ e)
            for i in i_spk[k0:k]:
                d = D[:, i]
                if float(d @ d) - 2 * float(d @ e) < 0:
                    seq_reduce += 1
                e = e - d
                r[i] += 1
            if float(e @ e) > e0:
                inc_spikes += k - k0
        R[n] = half * r
        e = half * (x[n] - D @ r)
        err2[n] = float(e @ e)
        sig2[n] = float((half * x[n]) @ (half * x[n]))
    n_sp = int(steps.size)
    # The best linear read-out of these spikes, fitted afterwards (a fair decoder for a
    # population without lateral connections, whose spikes D r overshoots).
    D_fit = np.linalg.lstsq(R, half * x, rcond=None)[0]
    e_fit = half * x - R @ D_fit
    return {"n_spikes": n_sp, "rel_rms": float(np.sqrt(err2.mean() / sig2.mean())),
            "rel_rms_fitted_decoder": float(np.sqrt(np.mean(np.sum(e_fit ** 2, 1)) / sig2.mean())),
            "frac_reducing_sequential": seq_reduce / n_sp if n_sp else float("nan"),
            "frac_in_increasing_instants": inc_spikes / n_sp if n_sp else float("nan")}


def run_one(D, x, dt_in, engine: str, lateral: str):
    net = make_network(D, lateral)
    ev = input_events(x, dt_in)
    dur = x.shape[0] * dt_in
    t0 = time.perf_counter()
    if engine == "exact":
        sim = ExactSimulator(net, max_cascade=10_000_000)
    else:
        sim = GridSimulator(net, dt_in, record_readout=False)
    c = sim.run(dur, events=ev)
    wall = time.perf_counter() - t0
    out = evaluate(D, x, dt_in, c.spike_times_s, c.spike_neurons)
    out.update({"engine": engine, "lateral": lateral, "wall_s": wall})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="docs/figures")
    ap.add_argument("--word", default="seven")
    ap.add_argument("--neurons", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    rows = []
    norms = [0.05, 0.08, 0.12, 0.2, 0.3, 0.5]
    Ns = sorted({args.neurons, 4 * args.neurons})
    decoders = {N: tuning_decoders(32, N, rng) for N in Ns}
    # Input every 1 ms (hop 16 at 16 kHz), and every 0.25 ms for the step-granular case:
    # the grid engine steps at the input resolution; smaller input jumps per step mean
    # fewer neurons crossing threshold in the same step.
    runs = [(16, "exact", "wwt"), (16, "grid", "wwt"), (4, "grid", "wwt"), (16, "exact", "none"),
            (16, "exact", "wwt_minus_reset"), (16, "grid", "wwt_minus_reset"), (4, "grid", "wwt_minus_reset")]
    for hop in sorted({h for h, _, _ in runs}, reverse=True):
        x, dt_in = word_envelopes(args.word, hop=hop)
        for N in Ns:
            for a in norms:
                D = a * decoders[N]
                for h, engine, lateral in runs:
                    if h != hop:
                        continue
                    r = run_one(D, x, dt_in, engine, lateral)
                    r.update({"neurons": N, "decoder_norm": a, "dt_in_s": dt_in})
                    rows.append(r)
                    print(f"N={N:4d} a={a:<5} dt={dt_in * 1e3:g}ms {engine:5s} lateral={lateral:15s} "
                          f"spikes={r['n_spikes']:7d} rel_rms={r['rel_rms']:.4f} "
                          f"(fitted {r['rel_rms_fitted_decoder']:.4f}) reducing={r['frac_reducing_sequential']:.3f} "
                          f"in_increasing_instants={r['frac_in_increasing_instants']:.3f} ({r['wall_s']:.2f} s)")
    x, dt_in = word_envelopes(args.word, hop=16)
    meta = {"word": args.word, "dt_in_s": dt_in, "tau_s": TAU_S, "frames": int(x.shape[0]), "bands": x.shape[1],
            "seed": args.seed, "decoder_norms": norms,
            "command": f"PYTHONPATH=. python benchmarks/send_on_delta.py --out {args.out}"}
    write_json(out / "send_on_delta.json", {"meta": meta, "runs": rows})
    plot(rows, x, dt_in, out / "send_on_delta.png", meta)
    write_md(rows, meta, out / "send_on_delta.md")


def plot(rows, x, dt_in, path, meta):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Ns = sorted({r["neurons"] for r in rows})
    fig, ax = plt.subplots(1, 1 + len(Ns), figsize=(5.5 * (1 + len(Ns)), 4.8))
    ax[0].imshow(x.T, aspect="auto", origin="lower", extent=(0, x.shape[0] * dt_in, 0, x.shape[1]), cmap="magma")
    ax[0].set(title=f"Input: 32 envelopes of '{meta['word']}'", xlabel="time (s)", ylabel="band")
    styles = [(("exact", "wwt", 1e-3), "rel_rms", "C0", "o-", "W W^T, spike-granular (exact)"),
              (("grid", "wwt", 1e-3), "rel_rms", "C1", "s--", "W W^T, step-granular (grid), dt 1 ms"),
              (("grid", "wwt", 2.5e-4), "rel_rms", "C1", "s:", "W W^T, step-granular (grid), dt 0.25 ms"),
              (("exact", "wwt_minus_reset", 1e-3), "rel_rms", "C2", "D-", "W W^T - T I, spike-granular (exact)"),
              (("grid", "wwt_minus_reset", 1e-3), "rel_rms", "C5", "D--", "W W^T - T I, step-granular, dt 1 ms"),
              (("grid", "wwt_minus_reset", 2.5e-4), "rel_rms", "C5", "D:", "W W^T - T I, step-granular, dt 0.25 ms"),
              (("exact", "none", 1e-3), "rel_rms", "C3", "^:", "no lateral, decoder D"),
              (("exact", "none", 1e-3), "rel_rms_fitted_decoder", "C4", "v:", "no lateral, best linear decoder")]
    for a, N in zip(ax[1:], Ns):
        for key, field, c, m, lab in styles:
            rr = [r for r in rows if r["neurons"] == N and (r["engine"], r["lateral"]) == key[:2]
                  and abs(r["dt_in_s"] - key[2]) < 1e-12]
            a.plot([r["n_spikes"] for r in rr], [r[field] for r in rr], m, color=c, label=lab)
        a.set(xscale="log", yscale="log", title=f"N = {N} neurons: error vs spikes",
              xlabel="spikes in the word", ylabel="relative RMS error ||x - D r|| / ||x||")
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_md(rows, meta, path):
    lines = [f"# Send-on-delta: {meta['bands']} envelopes of '{meta['word']}' ({meta['frames']} frames of "
             f"{meta['dt_in_s'] * 1e3:g} ms), tau {meta['tau_s'] * 1e3:g} ms", "",
             f"Command: `{meta['command']}`", "",
             "| N | decoder norm a | input/step (ms) | engine | lateral | spikes | relative RMS error, D r | "
             "with the best linear decoder | spikes that reduce the error (one at a time) | "
             "spikes in instants whose joint update raised the error |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['neurons']} | {r['decoder_norm']} | {r['dt_in_s'] * 1e3:g} | {r['engine']} | "
                     f"{r['lateral']} | {r['n_spikes']} | {r['rel_rms']:.4f} | {r['rel_rms_fitted_decoder']:.4f} | "
                     f"{100 * r['frac_reducing_sequential']:.1f} % | "
                     f"{100 * r['frac_in_increasing_instants']:.1f} % |")
    lines += ["", "![send-on-delta](send_on_delta.png)", "",
              "Caption: relative RMS reconstruction error against the number of spikes, one point per decoder "
              "norm a (threshold a^2/2), with and without lateral Omega = W W^T, spike- vs step-granular."]
    write_text(path, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
