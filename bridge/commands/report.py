"""``axon report DIR``: turn a run folder (from ``axon stream``) into a Markdown page with figures.

Figures (PNG, written into DIR): ``raster.png`` (spikes of the selected window, per layer),
``population_rate.png`` (mean rate per layer over time), ``rate_histogram.png``
(per-neuron rates, one panel per layer), ``energy_per_second.png`` (energy proxy per
second of audio, event-driven vs dense equivalent). The page is ``DIR/report.md``.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

HELP = "turn a run folder (axon stream) into a Markdown page with raster, rate and energy figures"


def add_arguments(parser) -> None:
    parser.add_argument("dir", help="run folder written by `axon stream` (holds summary.json)")
    parser.add_argument("--out", default=None, help="Markdown file to write (default DIR/report.md)")


def run(args) -> int:
    path = make_report(args.dir, args.out)
    print(f"wrote {path}")
    return 0


# what `axon stream` writes into summary.json, and `axon report` needs
STREAM_SUMMARY_KEYS = ("status", "audio_processed_s", "wall_s", "frontend", "detection_rule", "n_detections",
                       "n_segments_dropped", "layers")


def _load_npz(path: Path, keys) -> dict:
    """All arrays of an .npz file, or a ValueError naming the file (truncated, foreign)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile.BadZipFile, EOFError, ValueError, OSError
        raise ValueError(f"{path}: cannot be read ({type(e).__name__}: {e}); the file may be truncated") from None
    missing = [k for k in keys if k not in out]
    if missing:
        raise ValueError(f"{path}: lacks array(s) {', '.join(missing)}")
    return out


def _read_timeseries(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r, None)
        if header is None:
            raise ValueError(f"{path}: empty file (no header)")
        rows = [row for row in r if row]
    cols = {}
    for j, name in enumerate(header):
        try:
            cols[name] = np.array([float(row[j]) for row in rows])
        except (ValueError, IndexError):
            raise ValueError(f"{path}: column {name!r} has a malformed value") from None
    return cols


def _running_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred running mean over ``n`` points (shorter windows at the ends)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(x.size)
    lo = np.clip(i - n // 2, 0, x.size)
    hi = np.clip(i + (n - n // 2), 0, x.size)
    return (c[hi] - c[lo]) / (hi - lo)


def make_report(run_dir, out=None) -> Path:
    """Write the figures and ``report.md`` for ``run_dir``; return the Markdown path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(run_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no such run folder")
    sp = d / "summary.json"
    if not sp.exists():
        raise ValueError(f"{d}: not a stream run folder (no summary.json); run `axon stream` first")
    try:
        s = json.loads(sp.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{sp}: not valid JSON ({e})") from None
    missing = [k for k in STREAM_SUMMARY_KEYS if not isinstance(s, dict) or k not in s]
    if missing:
        raise ValueError(f"{sp}: not a summary written by `axon stream` (lacks {', '.join(missing)}); "
                         "`axon report` turns stream run folders into pages")
    layers = s.get("layers", [])
    figs = []
    warnings = []

    # raster of the selected window
    rp = d / "raster.npz"
    if rp.exists():
        z = _load_npz(rp, ("times_s", "neurons", "window_s", "layer_names", "layer_first", "layer_size"))
        t, i = z["times_s"], z["neurons"]
        w0, w1 = (float(x) for x in z["window_s"])
        names, first, size = list(z["layer_names"]), z["layer_first"], z["layer_size"]
        fig, ax = plt.subplots(figsize=(10, 4.5))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for k, (name, a, n) in enumerate(zip(names, first, size)):
            m = (i >= a) & (i < a + n)
            ax.scatter(t[m], i[m], s=1.0, color=colors[k % len(colors)], label=f"{name} ({int(n)} neurons)",
                       rasterized=True)
        ax.set_xlim(w0, w1)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("neuron (global index)")
        ax.set_title(f"Spike raster, {w0:g}-{w1:g} s of audio")
        if names:
            ax.legend(loc="upper right", markerscale=6, fontsize=8)
        fig.tight_layout()
        fig.savefig(d / "raster.png", dpi=110)
        plt.close(fig)
        figs.append(("raster.png", f"Spikes of every hidden neuron in the window {w0:g}-{w1:g} s "
                                   f"({t.size} spikes)."))

    ts_path = d / "timeseries.csv"
    ts = _read_timeseries(ts_path) if ts_path.exists() else {}
    if ts:
        lacking = [c for c in ("t_start_s", "t_end_s", "energy_j") if c not in ts]
        if lacking:
            raise ValueError(f"{ts_path}: lacks column(s) {', '.join(lacking)}")
    if not ts or not ts["t_start_s"].size:
        warnings.append(f"{ts_path.name} is {'missing' if not ts_path.exists() else 'empty'}: "
                        "population_rate.png and energy_per_second.png are not drawn")
    if ts and ts["t_start_s"].size:
        tm = 0.5 * (ts["t_start_s"] + ts["t_end_s"])
        scale, unit = (60.0, "min") if tm[-1] > 600 else (1.0, "s")
        bin_s = float(np.median(ts["t_end_s"] - ts["t_start_s"]))
        smooth_n = max(1, int(round(60.0 / bin_s))) if tm.size * bin_s > 1200 else 1
        shown = [n for n in layers if f"rate_hz_{n}" in ts]
        fig, axes = plt.subplots(max(len(shown), 1), 1, figsize=(10, 1.2 + 2.0 * max(len(shown), 1)),
                                 sharex=True, squeeze=False)
        for ax, name in zip(axes[:, 0], shown):
            r = ts[f"rate_hz_{name}"]
            ax.plot(tm / scale, r, lw=0.5, color="0.65", label=f"{bin_s:g} s bins")
            if smooth_n > 1:
                ax.plot(tm / scale, _running_mean(r, smooth_n), lw=1.2, color="C0",
                        label=f"running mean over {smooth_n * bin_s:g} s")
            ax.set_ylabel(f"{name} rate (Hz)")
            ax.legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel(f"time ({unit})")
        axes[0, 0].set_title("Population firing rate per layer (mean over the layer's neurons)")
        fig.tight_layout()
        fig.savefig(d / "population_rate.png", dpi=110)
        plt.close(fig)
        figs.append(("population_rate.png", f"Mean firing rate of each layer in each {bin_s:g} s bin"
                                            + (f" (dark: running mean over {smooth_n * bin_s:g} s)." if smooth_n > 1
                                               else ".")))

        dur = ts["t_end_s"] - ts["t_start_s"]
        fig, ax = plt.subplots(figsize=(10, 3.8))
        e = ts["energy_j"] / dur
        ax.plot(tm / scale, e * 1e6, lw=0.5, color="0.65", label="event-driven (this engine's counts)")
        if smooth_n > 1:
            ax.plot(tm / scale, _running_mean(e, smooth_n) * 1e6, lw=1.2, color="C0",
                    label=f"event-driven, running mean over {smooth_n * bin_s:g} s")
        if "dense_energy_j" in ts:
            ax.plot(tm / scale, ts["dense_energy_j"] / dur * 1e6, lw=1.0, ls="--", color="C1",
                    label="dense discrete-time equivalent")
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("energy per second of audio (µJ/s)")
        costs = (s.get("stream") or {}).get("costs", "?")
        ax.set_title(f"Energy PROXY per second of audio (cost table '{costs}')")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(d / "energy_per_second.png", dpi=110)
        plt.close(fig)
        figs.append(("energy_per_second.png", "Energy proxy (operation counts x per-operation costs, see the energy "
                                              "table above) per second of audio; not a measurement."))

    nc = d / "neuron_counts.npz"
    if not nc.exists():
        warnings.append(f"{nc.name} is missing: rate_histogram.png is not drawn")
    if not rp.exists():
        warnings.append(f"{rp.name} is missing: raster.png is not drawn")
    if nc.exists():
        z = _load_npz(nc, ("duration_s",))
        dur = float(z["duration_s"])
        keys = [f"spikes_{n}" for n in layers if f"spikes_{n}" in z]
        if keys and dur > 0:
            fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
            for ax, k in zip(axes[0], keys):
                r = z[k] / dur
                ax.hist(r, bins=30, color="0.3")
                ax.set_xlabel("firing rate (Hz)")
                ax.set_ylabel("neurons")
                ax.set_title(f"{k[len('spikes_'):]}: mean {r.mean():.3g} Hz")
            fig.suptitle(f"Per-neuron firing rates over {dur:.1f} s")
            fig.tight_layout()
            fig.savefig(d / "rate_histogram.png", dpi=110)
            plt.close(fig)
            figs.append(("rate_histogram.png", "Distribution of each neuron's mean rate over the whole stream, "
                                               "one panel per layer."))

    from bridge.streamfiles import summary_markdown
    md = [summary_markdown(s), "## Figures", ""]
    for w in warnings:
        print(f"axon report: warning: {w}", file=sys.stderr)
        md += [f"*Not drawn: {w}.*", ""]
    for fname, caption in figs:
        md += [f"![{fname}]({fname})", "", f"*{caption}*", ""]
    dp = d / "detections.csv"
    if dp.exists():
        with open(dp, newline="") as f:
            rows = list(csv.reader(f))[1:]
        if rows:
            md += ["## First detections", "", "| onset (s) | end (s) | class | score |", "|---|---|---|---|"]
            for r in rows[:20]:
                md.append(f"| {float(r[0]):.2f} | {float(r[1]):.2f} | {r[3]} | {float(r[4]):.3f} |")
            md += ["", f"{len(rows)} detections in total (`detections.csv`).", ""]
    out_path = Path(out) if out else d / "report.md"
    out_path.write_text("\n".join(md))
    return out_path
