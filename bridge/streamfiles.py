"""What ``axon stream`` leaves in its run folder, written as the stream goes.

:class:`StreamFolder` is the :class:`sim.audio.stream.StreamSink` of the command line;
:func:`stream_to_folder` runs one sound file into one folder. Layout (a failure keeps
everything computed so far, and the summary says ``incomplete``)::

    detections.csv    onset_s, end_s, class, label, score, margin, score_<class>... (one row per detection)
    timeseries.csv    per bin: input events, spikes and rate per layer, operations, energy
    raster.npz        spikes of the selected raster window (global ids, layer bounds)
    neuron_counts.npz spike count of every neuron (for rate histograms)
    spikes.npz        every spike, only with StreamConfig.keep_spikes
    summary.json      configuration, audio description, totals, NeuroBench metrics, energy
    summary.md        the same for people

``axon report`` reads this folder (``bridge/commands/report.py``).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bridge.runfiles import write_json
from sim.audio.stream import StreamSink

__all__ = ["StreamFolder", "stream_to_folder", "summary_markdown"]


def _cell(column: str, v) -> str:
    """One time-series value as text: times to the microsecond, rates and energies to 6 digits."""
    if column.startswith("t_"):
        return f"{v:.6f}"
    if column.startswith("rate_hz_"):
        return f"{v:.6g}"
    if column.endswith("energy_j"):
        return f"{v:.6e}"
    return str(v)


class StreamFolder(StreamSink):
    """Append-only CSV files flushed after every row (a crash leaves them valid), then the
    arrays, ``summary.json`` and ``summary.md`` at the end."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self._det_f = self._ts_f = None

    def start(self, runner) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._columns = runner.timeseries_columns()
        self._det_f = open(self.out_dir / "detections.csv", "w", newline="")
        self._det = csv.writer(self._det_f)
        self._det.writerow(["onset_s", "end_s", "class", "label", "score", "margin"]
                           + [f"score_{c}" for c in runner.class_names])
        self._ts_f = open(self.out_dir / "timeseries.csv", "w", newline="")
        self._ts = csv.writer(self._ts_f)
        self._ts.writerow(self._columns)
        self._det_f.flush()
        self._ts_f.flush()

    def detection(self, d) -> None:
        self._det.writerow([f"{d.onset_s:.6f}", f"{d.end_s:.6f}", d.klass, d.label, f"{d.score:.6f}",
                            f"{d.margin:.6f}"] + [f"{x:.6f}" for x in d.scores])
        self._det_f.flush()

    def timeseries(self, row: dict) -> None:
        self._ts.writerow([_cell(c, row[c]) for c in self._columns])
        self._ts_f.flush()

    def finish(self, runner, summary: dict) -> None:
        self.close()
        np.savez(self.out_dir / "raster.npz", **runner.raster())
        np.savez(self.out_dir / "neuron_counts.npz", **runner.neuron_counts())
        spikes = runner.kept_spikes()
        if spikes is not None:
            np.savez(self.out_dir / "spikes.npz", **spikes)
        write_json(self.out_dir / "summary.json", summary)
        (self.out_dir / "summary.md").write_text(summary_markdown(summary))

    def close(self) -> None:
        """Close the CSV files (also when the run stopped before :meth:`finish`)."""
        for f in (self._det_f, self._ts_f):
            if f is not None:
                f.close()
        self._det_f = self._ts_f = None


def stream_to_folder(network, audio_path, out_dir, config=None, frontend=None, progress=None) -> dict:
    """:func:`sim.audio.stream.stream_file` into the run folder ``out_dir``; returns the summary."""
    from sim.audio import stream

    folder = StreamFolder(out_dir)
    try:
        return stream.stream_file(network, audio_path, config, frontend, progress=progress, sink=folder)
    finally:
        folder.close()


def summary_markdown(s: dict) -> str:
    """A short Markdown summary of a streaming run's ``summary.json``."""
    lines = [f"# Stream summary ({s['status']})", ""]
    if s.get("error"):
        lines += [f"**Stopped early:** {s['error']}", ""]
    a = s.get("audio") or {}
    if a:
        lines += [f"- audio: `{a.get('path')}` ({a.get('format')}, {a.get('sample_rate_hz'):g} Hz, "
                  f"{a.get('mixdown')}); resampled to {s['frontend']['sample_rate_hz']:g} Hz"
                  if a.get("sample_rate_hz") != s["frontend"]["sample_rate_hz"] else
                  f"- audio: `{a.get('path')}` ({a.get('format')}, {a.get('sample_rate_hz'):g} Hz, {a.get('mixdown')})"]
    lines += [f"- processed: {s['audio_processed_s']:.1f} s of audio in {s['wall_s']:.1f} s "
              f"(real-time factor {s['real_time_factor'] or 0:.4f})"
              + (f"; peak memory {s['peak_memory_mb']:.0f} MB (whole process)" if s.get("peak_memory_mb") else ""),
              f"- detections: {s['n_detections']} ({s['n_segments_dropped']} short/low-score segments dropped)", ""]
    m = s.get("metrics")
    if m:
        lines += ["| layer | mean rate (Hz) | max rate (Hz) | silent neurons |", "|---|---|---|---|"]
        for k, r in m["rates"].items():
            lines.append(f"| {k} | {r['mean_hz']:.3g} | {r['max_hz']:.3g} | {100 * r['silent_fraction']:.1f}% |")
        nb = m["neurobench"]
        so = nb["synaptic_operations"]
        lines += ["", "NeuroBench-named metrics:", "",
                  f"- synaptic operations: Effective_ACs {so['Effective_ACs']:,}, Effective_MACs "
                  f"{so['Effective_MACs']:,}, Dense {so['Dense']:,} (dt {nb['activation_sparsity']['dt_s']:g} s)",
                  f"- activation sparsity: {nb['activation_sparsity']['total']:.5f}",
                  f"- membrane updates: {nb['membrane_updates']['event_driven']:,} event-driven vs "
                  f"{nb['membrane_updates']['dense']:,} dense",
                  f"- footprint: {nb['footprint']['total_bytes']:,} bytes (float32 values)",
                  f"- connection sparsity: {nb['connection_sparsity']['total']:.4f}", ""]
        e = m["energy"]
        lines += [f"Energy ({e['label']}):", "", "| operation | count | pJ each | energy (J) | source |",
                  "|---|---|---|---|---|"]
        for r in e["rows"]:
            lines.append(f"| {r['operation']} | {r['count']:,} | {r['pj_each']:g} | {r['energy_j']:.4g} | {r['source']} |")
        de = e["dense_equivalent"]
        lines.append(f"| **total (event-driven)** | | | **{e['total_j']:.4g}** | |")
        lines.append(f"| dense equivalent MACs (dt {de['dt_s']:g} s) | {de['macs']:,} | {de['pj_each']:g} | "
                     f"{de['energy_j']:.4g} | {de['source']} |")
        lines += ["", f"Energy per second of audio: {s['energy_per_audio_second_j']:.4g} J (proxy).", ""]
    lines += ["Detection rule: " + s["detection_rule"], ""]
    return "\n".join(lines)
