"""What a run leaves in its output folder: spikes (HDF5), counts and rates (JSON), a
Markdown summary and a raster plot (PNG). Shared by the commands that simulate."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sim.results import SimResult


def write_json(path, obj) -> None:
    """Write JSON through a temporary file so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def write_spikes(path, result: SimResult) -> None:
    """``/<layer>/times_s`` (float64, s) and ``/<layer>/neurons`` (int64, layer-local)."""
    import h5py

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "axon.spikes"
        f.attrs["format_version"] = 1
        f.attrs["duration_s"] = result.duration_s
        for name, tr in result.spikes.items():
            g = f.create_group(name)
            g.attrs["size"] = tr.size
            g.create_dataset("times_s", data=tr.times_s)
            g.create_dataset("neurons", data=tr.neurons)
        if result.readout.size:
            g = f.create_group("_readout")
            g.create_dataset("times_s", data=result.readout_times_s)
            g.create_dataset("potential", data=result.readout)
    os.replace(tmp, path)


def plot_raster(path, spikes: dict, duration_s: float, title: str, window_s: tuple | None = None) -> None:
    """One panel per layer, time in seconds on x, neuron index on y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in spikes if spikes[n].size > 0]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.2 + 1.8 * len(names)), sharex=True, squeeze=False)
    t0, t1 = window_s if window_s else (0.0, duration_s)
    for ax, name in zip(axes[:, 0], names):
        tr = spikes[name]
        m = (tr.times_s >= t0) & (tr.times_s < t1)
        ax.scatter(tr.times_s[m], tr.neurons[m], s=1.5, marker="|", color="k", linewidths=0.6)
        ax.set_ylabel(f"{name}\nneuron")
        ax.set_ylim(-0.5, tr.size - 0.5)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(t0, t1)
    axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_run(out_dir, result: SimResult, *, network, title: str, extra: dict | None = None) -> dict:
    """Write spikes.h5, counts.json, rates.json, summary.json, summary.md and raster.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_spikes(out / "spikes.h5", result)
    c = result.counts
    counts = {"totals": c.totals(), "per_neuron": {
        "input_events": c.input_events,
        "spikes": c.spikes, "synaptic_events": c.synaptic_events,
        "lateral_updates": c.lateral_updates, "state_updates": c.state_updates}}
    write_json(out / "counts.json", counts)
    rates = {"duration_s": result.duration_s, "layer_rate_hz": result.layer_rates_hz(),
             "neuron_rate_hz": result.rates_hz()}
    write_json(out / "rates.json", rates)
    summary = dict(result.summary(), **(extra or {}))
    write_json(out / "summary.json", summary)
    plot_raster(out / "raster.png", result.spikes, result.duration_s, title)
    tot = c.totals()
    lines = [f"# {title}", "", f"Simulated {result.duration_s:g} s; {tot['input_events']} input events.", "",
             "| layer | neurons | spikes | mean rate (Hz) | synaptic events | lateral updates | state updates |",
             "|---|---|---|---|---|---|---|"]
    for layer in network.all_layers:
        name = layer.name
        spk = tot["spikes_per_layer"].get(name, 0)
        rate = f"{result.layer_rates_hz()[name]:.3f}" if name in result.spikes else "(readout)"
        lines.append(f"| {name} | {layer.size} | {spk} | {rate} | {tot['synaptic_events_per_layer'][name]} | "
                     f"{tot['lateral_updates_per_layer'][name]} | {tot['state_updates_per_layer'][name]} |")
    if extra:
        lines += [""] + [f"- {k}: {v}" for k, v in extra.items()]
    lines += ["", "![raster](raster.png)", "", "*Spike raster per layer (time in s, neuron index).*", ""]
    (out / "summary.md").write_text("\n".join(lines))
    return summary
