"""What a run leaves in its output folder: spikes (HDF5), counts and rates (JSON), a
Markdown summary and a raster plot (PNG). Shared by the commands that simulate."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sim.model.results import SimResult


def write_text(path, text: str) -> None:
    """Write a text file through a temporary file so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path, obj) -> None:
    """Write JSON (numpy values as plain numbers) through a temporary file."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_results(out_dir, stem: str, obj, markdown: str) -> None:
    """A benchmark's results: ``<stem>.json`` and ``<stem>.md`` in ``out_dir`` (created),
    each written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{stem}.json", obj)
    write_text(out / f"{stem}.md", markdown)


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


class SpikeFile:
    """``spikes.h5`` written while a run goes, so that memory does not grow with simulated time.

    Same layout as :func:`write_spikes`: ``/<layer>/times_s`` (float64, s) and
    ``/<layer>/neurons`` (int64, layer-local) per spiking layer, ``/_readout/times_s`` and
    ``/_readout/potential`` (``(samples, n_readout)``), as resizable datasets that each
    :meth:`append` extends. The file is written under ``spikes.partial.h5`` with
    ``attrs["status"] = "running"``; :meth:`close` with ``status="complete"`` renames it to
    ``spikes.h5``, any other status (``"failed: ..."``, ``"interrupted"``) stays on the partial
    name, so a file called ``spikes.h5`` is always a whole run.
    """

    CHUNK_ROWS = 65536

    def __init__(self, path, network):
        import h5py

        self.path = Path(path)
        self.partial = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        for old in (self.path, self.partial):
            if old.exists():
                old.unlink()
        self._f = h5py.File(self.partial, "w")
        self._f.attrs["format"] = "axon.spikes"
        self._f.attrs["format_version"] = 1
        self._f.attrs["status"] = "running"
        offs = network.offsets()
        self._layers = [(l.name, offs[l.name], l.size) for l in network.layers]
        for name, _, size in self._layers:
            g = self._f.create_group(name)
            g.attrs["size"] = size
            self._extendable(g, "times_s", np.float64)
            self._extendable(g, "neurons", np.int64)
        self._n_ro = network.readout.size if network.readout is not None else 0
        self._ro = None
        self.n_spikes = 0
        self.n_samples = 0

    def _extendable(self, g, name, dtype, width: int | None = None):
        shape, maxshape = ((0,), (None,)) if width is None else ((0, width), (None, width))
        chunks = (self.CHUNK_ROWS,) if width is None else (max(1, self.CHUNK_ROWS // max(width, 1)), width)
        return g.create_dataset(name, shape=shape, maxshape=maxshape, dtype=dtype, chunks=chunks)

    @staticmethod
    def _append(ds, data) -> None:
        n = ds.shape[0]
        ds.resize(n + data.shape[0], axis=0)
        ds[n:] = data

    def append(self, spike_times_s, spike_neurons, readout_times_s=None, readout=None) -> None:
        """Add one chunk: spikes by global neuron id (layers in order), readout samples."""
        t = np.asarray(spike_times_s, dtype=np.float64)
        i = np.asarray(spike_neurons, dtype=np.int64)
        if t.size:
            for name, a, size in self._layers:
                m = (i >= a) & (i < a + size)
                if m.any():
                    self._append(self._f[name]["times_s"], t[m])
                    self._append(self._f[name]["neurons"], i[m] - a)
            self.n_spikes += int(t.size)
        if readout_times_s is not None and len(readout_times_s):
            if self._ro is None:
                self._ro = self._f.create_group("_readout")
                self._extendable(self._ro, "times_s", np.float64)
                self._extendable(self._ro, "potential", np.float64, self._n_ro)
            self._append(self._ro["times_s"], np.asarray(readout_times_s, dtype=np.float64))
            self._append(self._ro["potential"], np.asarray(readout, dtype=np.float64).reshape(-1, self._n_ro))
            self.n_samples += int(len(readout_times_s))

    def close(self, duration_s: float, status: str = "complete") -> Path:
        """Record ``duration_s`` and ``status``; a complete file is renamed to its final name.
        Returns the path the file now has."""
        self._f.attrs["duration_s"] = float(duration_s)
        self._f.attrs["status"] = status
        self._f.close()
        if status == "complete":
            os.replace(self.partial, self.path)
            return self.path
        return self.partial


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
    return write_summary(out, network=network, counts=result.counts, duration_s=result.duration_s, title=title,
                         extra=extra, raster_spikes=result.spikes)


def write_summary(out_dir, *, network, counts, duration_s: float, title: str, extra: dict | None = None,
                  raster_spikes: dict | None = None, raster_window_s: tuple | None = None) -> dict:
    """Write counts.json, rates.json, summary.json, summary.md and (given spikes) raster.png.

    Rates come from the counts (spikes per neuron / ``duration_s``), so a run that streamed
    its spikes to disk needs only the spikes it kept for the raster (``raster_window_s``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = counts
    per_neuron = {k: v / duration_s for k, v in c.spikes.items()}
    layer_rates = {k: float(v.mean()) if v.size else 0.0 for k, v in per_neuron.items()}
    write_json(out / "counts.json", {"totals": c.totals(), "per_neuron": {
        "input_events": c.input_events,
        "spikes": c.spikes, "synaptic_events": c.synaptic_events,
        "lateral_updates": c.lateral_updates, "state_updates": c.state_updates}})
    write_json(out / "rates.json", {"duration_s": duration_s, "layer_rate_hz": layer_rates,
                                    "neuron_rate_hz": per_neuron})
    summary = dict({"duration_s": duration_s, "layer_rate_hz": layer_rates, "counts": c.totals()}, **(extra or {}))
    write_json(out / "summary.json", summary)
    tot = c.totals()
    lines = [f"# {title}", "", f"Simulated {duration_s:g} s; {tot['input_events']} input events.", "",
             "| layer | neurons | spikes | mean rate (Hz) | synaptic events | lateral updates | state updates |",
             "|---|---|---|---|---|---|---|"]
    for layer in network.all_layers:
        name = layer.name
        spk = tot["spikes_per_layer"].get(name, 0)
        rate = f"{layer_rates[name]:.3f}" if name in layer_rates else "(readout)"
        lines.append(f"| {name} | {layer.size} | {spk} | {rate} | {tot['synaptic_events_per_layer'][name]} | "
                     f"{tot['lateral_updates_per_layer'][name]} | {tot['state_updates_per_layer'][name]} |")
    if extra:
        lines += [""] + [f"- {k}: {v}" for k, v in extra.items()]
    if raster_spikes is not None:
        window = raster_window_s or (0.0, duration_s)
        plot_raster(out / "raster.png", raster_spikes, duration_s, title, window_s=window)
        what = ("" if raster_window_s is None or raster_window_s[1] >= duration_s
                else f" First {window[1] - window[0]:g} s of the run; every spike is in spikes.h5.")
        lines += ["", "![raster](raster.png)", "", f"*Spike raster per layer (time in s, neuron index).{what}*"]
    lines.append("")
    (out / "summary.md").write_text("\n".join(lines))
    return summary
