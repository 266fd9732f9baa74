"""Model files and event files: one self-describing HDF5 file each, SI units.

A model file holds a whole :class:`~sim.model.network.Network` (layers, projections as sorted
sparse arrays, lateral groups, readout) plus its ``metadata`` (front-end settings,
training provenance) as JSON. An events file holds one input stream. Both carry a format
name and version; loading checks every field and names the one that is missing or
inconsistent, so a truncated or hand-edited file never reaches an engine.

Model file layout (format ``axon.model``, version 2; version 1 files are still read)::

    /                      attrs: format, format_version, n_inputs, layer_order (JSON list),
                                  readout (name or ""), metadata (JSON),
                                  task (JSON of :class:`sim.model.task.Task`, or "null"; new in 2)
    /layers/<name>/        attrs: kind ("lif" | "readout"), size, threshold, reset
                           datasets: tau_mem_s (size,), drive (size,)          [1/s]
    /projections/<k>/      attrs: pre, post, [dt_s], [kind = "sparse" | "conv1d"]
                           sparse (default): datasets pre_idx, post_idx (int64), weight,
                                     delay_s (float64), [delay_steps (int64)]
                           conv1d: attrs in_positions, in_channels, stride, dilation,
                                   [in_layout];
                                   datasets kernel (C_out, C_in, K) float64, delay_s (same
                                   shape), [delay_steps (same shape, int64)] -- the kernel
                                   and geometry only; loading expands them (sim.Conv1D)
    /laterals/<layer>/     datasets: members (n_groups, g) int64, omega (n_groups, g, g)

Events file layout (format ``axon.events``, version 1)::

    /                      attrs: format, format_version, [n_channels]
    /events/               datasets: times_s float64, channels int64, values float64

:func:`load_events` also reads one sample of an SHD-format file (``spikes/times``,
``spikes/units``), so the data sets of this field can be simulated unchanged.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sim.errors import InputError, fmt_value
from sim.model.events import Events, merge_duplicates
from sim.model.network import Conv1D, Lateral, LIFLayer, Network, Projection, ReadoutLayer, network_digest
from sim.model.task import Task, task_from_metadata

__all__ = ["MODEL_FORMAT", "EVENTS_FORMAT", "FORMAT_VERSION", "MODEL_FORMAT_VERSION", "save_network", "load_network",
           "save_events", "load_events", "network_digest", "EventStream", "open_event_stream"]

MODEL_FORMAT = "axon.model"
EVENTS_FORMAT = "axon.events"
FORMAT_VERSION = 1            # events files
MODEL_FORMAT_VERSION = 2      # model files: 2 adds the typed task record
MODEL_VERSIONS_READ = (1, 2)


class _Reader:
    """Field access that turns every missing or malformed field into a ValueError naming it."""

    def __init__(self, f, path):
        self.f = f
        self.path = str(path)

    def fail(self, what: str):
        raise InputError(f"{self.path}: {what}")

    def float_attr(self, obj, key: str, where: str) -> float:
        v = self.attr(obj, key, where)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            self.fail(f"attribute '{key}' of '{where}' must be a number, got {fmt_value(v)}")
        return float(v)

    def int_attr(self, obj, key: str, where: str) -> int:
        v = self.attr(obj, key, where)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            if isinstance(v, (float, np.floating)) and float(v).is_integer():
                return int(v)
            self.fail(f"attribute '{key}' of '{where}' must be an integer, got {fmt_value(v)}")
        return int(v)

    def group(self, name: str):
        if name not in self.f or not hasattr(self.f[name], "keys"):
            self.fail(f"missing group '{name}'")
        return self.f[name]

    def attr(self, obj, key: str, where: str):
        if key not in obj.attrs:
            self.fail(f"missing attribute '{key}' of '{where}'")
        v = obj.attrs[key]
        return v.decode() if isinstance(v, bytes) else v

    def array(self, grp, key: str, where: str, dtype, ndim: int):
        if key not in grp:
            self.fail(f"missing dataset '{where}/{key}'")
        try:
            a = grp[key][()]
        except OSError as e:  # truncated data blocks
            self.fail(f"dataset '{where}/{key}' cannot be read ({e}); the file may be truncated")
        a = np.asarray(a)
        if a.ndim != ndim:
            self.fail(f"dataset '{where}/{key}' must be {ndim}-D, got shape {a.shape}")
        if a.size and np.issubdtype(dtype, np.integer) and not np.issubdtype(a.dtype, np.integer):
            self.fail(f"dataset '{where}/{key}' must hold integers, got dtype {a.dtype}")
        if a.size and not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            self.fail(f"dataset '{where}/{key}' must be numeric, got dtype {a.dtype}")
        if np.iscomplexobj(a):
            self.fail(f"dataset '{where}/{key}' must hold real numbers, got complex dtype {a.dtype}")
        return a.astype(dtype)


def _open(path, mode: str):
    import h5py

    p = Path(path)
    if mode == "r":
        if not p.exists():
            raise InputError(f"{p}: no such file")
        if p.is_dir():
            raise InputError(f"{p}: is a directory, expected an HDF5 file")
    try:
        return h5py.File(p, mode)
    except OSError as e:
        if mode != "r":
            raise
        raise InputError(f"{p}: not a readable HDF5 file ({e}); it may be truncated or of another format") from None


def _check_format(r: _Reader, expected: str, versions=(FORMAT_VERSION,)) -> int:
    fmt = r.f.attrs.get("format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt is None:
        r.fail(f"no 'format' attribute: not an {expected} file")
    if fmt != expected:
        r.fail(f"format is {fmt!r}, expected {expected!r}")
    if r.f.attrs.get("format_version") is None:
        r.fail("missing attribute 'format_version'")
    ver = r.int_attr(r.f, "format_version", "/")
    if int(ver) not in versions:
        r.fail(f"format_version {int(ver)} is not supported (this axon reads version "
               f"{' and '.join(str(v) for v in versions)})")
    return int(ver)


def _os_reason(e: OSError) -> str:
    """The system's reason for an OSError, without the temporary file's name (h5py puts
    ``error message = '...'`` into its text and leaves ``errno`` unset)."""
    if e.errno:
        return os.strerror(e.errno)
    import re
    m = re.search(r"error message = '([^']*)'", str(e))
    return m.group(1) if m else (e.strerror or "the file cannot be created")


def _atomic_write(path, write):
    """Write through a temporary file and rename, so a crash never leaves half a file."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a directory; give the name of the file to write")
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        f = _open(tmp, "w")
        with f:
            write(f)
        os.replace(tmp, p)
    except OSError as e:  # folder missing or not a folder, no permission, disk full
        raise InputError(f"{p}: cannot write here ({_os_reason(e)})") from None
    finally:
        if tmp.exists():
            tmp.unlink()


# --------------------------------------------------------------------------- model files


def save_network(path, network: Network) -> None:
    """Write ``network`` (and its ``metadata``, which must be JSON-serialisable) to ``path``."""
    if not isinstance(network, Network):
        raise ValueError(f"save_network: expected a Network, got {type(network).__name__}")
    try:
        meta_json = json.dumps(network.metadata, sort_keys=True)
    except TypeError as e:
        raise ValueError(f"save_network: metadata must be JSON-serialisable ({e})") from None
    task_json = json.dumps(network.task.to_dict() if network.task is not None else None, sort_keys=True)

    def write(f):
        f.attrs["format"] = MODEL_FORMAT
        f.attrs["format_version"] = MODEL_FORMAT_VERSION
        f.attrs["n_inputs"] = network.n_inputs
        f.attrs["task"] = task_json
        f.attrs["layer_order"] = json.dumps([l.name for l in network.layers])
        f.attrs["readout"] = network.readout.name if network.readout is not None else ""
        f.attrs["metadata"] = meta_json
        lg = f.create_group("layers")
        for l in network.all_layers:
            g = lg.create_group(l.name)
            g.attrs["kind"] = "lif" if l.spiking else "readout"
            g.attrs["size"] = l.size
            if l.spiking:
                g.attrs["threshold"] = l.threshold
                g.attrs["reset"] = l.reset
            g.create_dataset("tau_mem_s", data=l.tau_mem_s)
            g.create_dataset("drive", data=l.drive)
        pg = f.create_group("projections")
        for k, p in enumerate(network.projections):
            g = pg.create_group(f"{k:04d}")
            g.attrs["pre"] = p.pre
            g.attrs["post"] = p.post
            if p.conv is not None:
                c = p.conv
                g.attrs["kind"] = "conv1d"
                for name in ("in_positions", "in_channels", "stride", "dilation", "in_layout"):
                    g.attrs[name] = getattr(c, name)
                g.create_dataset("kernel", data=c.kernel)
                g.create_dataset("delay_s", data=c.delay_s)
                if c.delay_steps is not None:
                    g.create_dataset("delay_steps", data=c.delay_steps)
            else:
                for name in ("pre_idx", "post_idx", "weight", "delay_s"):
                    g.create_dataset(name, data=getattr(p, name))
                if p.delay_steps is not None:
                    g.create_dataset("delay_steps", data=p.delay_steps)
            if p.dt_s is not None:
                g.attrs["dt_s"] = p.dt_s
        latg = f.create_group("laterals")
        for lat in network.laterals:
            g = latg.create_group(lat.layer)
            g.create_dataset("members", data=lat.members)
            g.create_dataset("omega", data=lat.omega)

    _atomic_write(path, write)


def load_network(path) -> Network:
    """Read a model file written by :func:`save_network`.

    Raises ``ValueError`` naming the file and the field when anything is missing,
    malformed or inconsistent (the network is re-validated as if built by hand).
    """
    f = _open(path, "r")
    with f:
        r = _Reader(f, path)
        version = _check_format(r, MODEL_FORMAT, MODEL_VERSIONS_READ)
        n_inputs = r.int_attr(f, "n_inputs", "/")
        try:
            order = json.loads(r.attr(f, "layer_order", "/"))
            metadata = json.loads(r.attr(f, "metadata", "/"))
        except json.JSONDecodeError as e:
            r.fail(f"attribute 'layer_order' or 'metadata' is not valid JSON ({e})")
        if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
            r.fail(f"attribute 'layer_order' must be a JSON list of layer names, got {order!r}")
        if not isinstance(metadata, dict):
            r.fail(f"attribute 'metadata' must be a JSON object, got {type(metadata).__name__}")
        task = None
        if version >= 2:
            try:
                task_d = json.loads(r.attr(f, "task", "/"))
            except json.JSONDecodeError as e:
                r.fail(f"attribute 'task' is not valid JSON ({e})")
            if task_d is not None:
                try:
                    task = Task.from_dict(task_d, "attribute 'task'")
                except ValueError as e:
                    r.fail(str(e))
        else:
            try:
                task = task_from_metadata(metadata)
            except ValueError as e:
                r.fail(f"the task recorded in 'metadata' (format 1) is invalid: {e}")
        readout_name = str(r.attr(f, "readout", "/"))
        lg = r.group("layers")
        expected = set(order) | ({readout_name} if readout_name else set())
        if set(lg.keys()) != expected:
            r.fail(f"group 'layers' holds {sorted(lg.keys())}, but layer_order/readout name {sorted(expected)}")
        try:
            layers = []
            readout = None
            for name in order + ([readout_name] if readout_name else []):
                g = lg[name]
                where = f"layers/{name}"
                kind = r.attr(g, "kind", where)
                size = r.int_attr(g, "size", where)
                tau = r.array(g, "tau_mem_s", where, np.float64, 1)
                drive = r.array(g, "drive", where, np.float64, 1)
                if kind == "lif":
                    if name == readout_name:
                        r.fail(f"'{where}' is the readout but has kind 'lif'")
                    layers.append(LIFLayer(name, size, tau, threshold=r.float_attr(g, "threshold", where),
                                           reset=str(r.attr(g, "reset", where)), drive=drive))
                elif kind == "readout":
                    if name != readout_name:
                        r.fail(f"'{where}' has kind 'readout' but the file's readout is {readout_name!r}")
                    readout = ReadoutLayer(name, size, tau, drive=drive)
                else:
                    r.fail(f"'{where}' has unknown kind {kind!r} (expected 'lif' or 'readout')")
            projections = []
            for key in sorted(r.group("projections").keys()):
                g = f["projections"][key]
                where = f"projections/{key}"
                dt = r.float_attr(g, "dt_s", where) if "dt_s" in g.attrs else None
                kind = str(r.attr(g, "kind", where)) if "kind" in g.attrs else "sparse"
                if kind == "conv1d":
                    steps = r.array(g, "delay_steps", where, np.int64, 3) if "delay_steps" in g else None
                    c = Conv1D(r.int_attr(g, "in_positions", where), r.int_attr(g, "in_channels", where),
                               r.array(g, "kernel", where, np.float64, 3), r.array(g, "delay_s", where, np.float64, 3),
                               stride=r.int_attr(g, "stride", where), dilation=r.int_attr(g, "dilation", where),
                               delay_steps=steps,
                               in_layout=str(r.attr(g, "in_layout", where)) if "in_layout" in g.attrs
                               else "position_major")
                    projections.append(Projection.conv1d(str(r.attr(g, "pre", where)), str(r.attr(g, "post", where)),
                                                         c, dt_s=dt))
                    continue
                if kind != "sparse":
                    r.fail(f"'{where}' has unknown kind {kind!r} (expected 'sparse' or 'conv1d')")
                steps = r.array(g, "delay_steps", where, np.int64, 1) if "delay_steps" in g else None
                p = Projection.sparse(
                    str(r.attr(g, "pre", where)), str(r.attr(g, "post", where)),
                    r.array(g, "pre_idx", where, np.int64, 1), r.array(g, "post_idx", where, np.int64, 1),
                    r.array(g, "weight", where, np.float64, 1), r.array(g, "delay_s", where, np.float64, 1),
                    delay_steps=steps, dt_s=dt)
                projections.append(p)
            laterals = []
            for key in sorted(r.group("laterals").keys()):
                g = f["laterals"][key]
                where = f"laterals/{key}"
                laterals.append(Lateral(key, r.array(g, "members", where, np.int64, 2),
                                        r.array(g, "omega", where, np.float64, 3)))
            net = Network(n_inputs, layers, projections, laterals, readout, metadata, task=task)
            if version >= 2 and task is None:
                net.task = None  # format 2 recorded "no task": never guess one from the metadata
            return net
        except ValueError as e:
            msg = str(e)
            if msg.startswith(str(path)):
                raise
            raise InputError(f"{path}: inconsistent model: {msg}") from None


# --------------------------------------------------------------------------- event files


def save_events(path, events: Events, *, n_channels: int | None = None, attrs: dict | None = None) -> None:
    """Write one event stream. ``n_channels``, if given, is checked and stored."""
    if not isinstance(events, Events):
        raise ValueError(f"save_events: expected Events, got {type(events).__name__}")
    if n_channels is not None:
        events.check_channels(int(n_channels))

    def write(f):
        f.attrs["format"] = EVENTS_FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        if n_channels is not None:
            f.attrs["n_channels"] = int(n_channels)
        for k, v in (attrs or {}).items():
            f.attrs[k] = json.dumps(v)
        g = f.create_group("events")
        g.create_dataset("times_s", data=events.times_s)
        g.create_dataset("channels", data=events.channels)
        g.create_dataset("values", data=events.values)

    _atomic_write(path, write)


def load_events(path, sample: int | None = None) -> Events:
    """Read an events file, or sample ``sample`` of an SHD-format data set file.

    SHD stores per sample ``spikes/times`` (seconds) and ``spikes/units``; values are 1.
    Events at the same time on the same unit (possible in SHD after rounding) are merged
    by summing their values, since a stream holds one event per (time, channel).
    """
    f = _open(path, "r")
    with f:
        r = _Reader(f, path)
        if "spikes" in f and "format" not in f.attrs:
            spikes = r.group("spikes")
            for key in ("times", "units"):
                if key not in spikes:
                    r.fail(f"missing dataset 'spikes/{key}' (SHD layout)")
            n = len(spikes["times"])
            if sample is None:
                r.fail(f"an SHD-format file holds {n} samples: choose one with sample=0..{n - 1}")
            if not 0 <= int(sample) < n:
                r.fail(f"sample {sample} out of range: the file holds {n} samples")
            t = np.asarray(spikes["times"][int(sample)], dtype=np.float64)
            u = np.asarray(spikes["units"][int(sample)])
            if t.shape != u.shape:
                r.fail(f"sample {sample}: spikes/times has {t.size} entries but spikes/units {u.size}")
            if t.ndim != 1 or (u.size and not np.issubdtype(u.dtype, np.integer)):
                r.fail(f"sample {sample}: spikes/times and spikes/units must be 1-D, units integers")
            if not np.all(np.isfinite(t)):
                j = int(np.nonzero(~np.isfinite(t))[0][0])
                r.fail(f"sample {sample}: spikes/times[{j}] is {fmt_value(t[j])}")
            down = np.nonzero(np.diff(t) < 0)[0]
            if down.size:  # as training.data.shd rejects it: SHD samples are time-sorted
                j = int(down[0])
                r.fail(f"sample {sample}: spikes/times is not sorted ({fmt_value(t[j])} then {fmt_value(t[j + 1])} "
                       f"at entries {j} and {j + 1})")
            try:
                return merge_duplicates(t, u.astype(np.int64))
            except ValueError as e:
                r.fail(f"sample {sample}: {e}")
        if sample is not None:
            r.fail("sample= applies to SHD-format files only; this is an axon events file")
        _check_format(r, EVENTS_FORMAT)
        g = r.group("events")
        t = r.array(g, "times_s", "events", np.float64, 1)
        c = r.array(g, "channels", "events", np.int64, 1)
        v = r.array(g, "values", "events", np.float64, 1)
        if not (t.shape == c.shape == v.shape):
            r.fail(f"events/times_s, channels, values have different lengths ({t.size}, {c.size}, {v.size})")
        n_channels = r.int_attr(f, "n_channels", "/") if "n_channels" in f.attrs else None
        try:
            ev = Events(t, c, v)
            if n_channels is not None:
                ev.check_channels(n_channels)
        except ValueError as e:
            r.fail(str(e))
        return ev


class EventStream:
    """The events of a file handed out in time order, a block at a time, so that a long run
    holds one block in memory rather than the whole stream.

    Open with :func:`open_event_stream`. Every event is validated when the stream is opened,
    as :func:`load_events` would (one pass over the file in blocks): sorted, finite, channels
    in ``[0, n_inputs)``, no two events on one channel at one time. :meth:`before` then
    returns, in order, the events not yet handed out with ``t < t_end``.
    """

    BLOCK = 262_144

    def __init__(self, source, path, n: int, last_time_s: float, block: int | None = None):
        self._src = source          # Events (in memory) or the h5py group "events" (file kept open)
        self.path = str(path)
        self.n = int(n)
        self.last_time_s = float(last_time_s)
        self._block = int(block or self.BLOCK)
        self._pos = 0               # next event of the source not yet in the buffer
        self._buf = Events(np.zeros(0), np.zeros(0, np.int64))
        self._buf_pos = 0
        self._file = None

    def __len__(self) -> int:
        return self.n

    def _read(self, a: int, b: int) -> Events:
        if isinstance(self._src, Events):
            return Events(self._src.times_s[a:b], self._src.channels[a:b], self._src.values[a:b])
        g = self._src
        try:
            return Events(np.asarray(g["times_s"][a:b], np.float64), np.asarray(g["channels"][a:b], np.int64),
                          np.asarray(g["values"][a:b], np.float64))
        except ValueError as e:
            raise InputError(f"{self.path}: events {a}..{b - 1}: {e}") from None
        except OSError as e:
            raise InputError(f"{self.path}: events {a}..{b - 1} cannot be read ({e}); the file may be truncated") from None

    def validate(self, n_inputs: int) -> None:
        """One pass over every block; raise ``ValueError`` naming the file and event."""
        last_t, last_ch = -np.inf, np.zeros(0, np.int64)
        limit = min(int(n_inputs), getattr(self, "n_channels", int(n_inputs)))
        for a in range(0, self.n, self._block):
            ev = self._read(a, min(a + self._block, self.n))
            try:
                ev.check_channels(limit)
            except ValueError as e:
                raise InputError(f"{self.path}: {e}") from None
            t0 = float(ev.times_s[0])
            if t0 < last_t:
                raise InputError(f"{self.path}: events: times_s must be sorted, event {a} (t={t0!r}) comes "
                                 f"after t={last_t!r}")
            if t0 == last_t:
                both = np.intersect1d(ev.channels[ev.times_s == t0], last_ch)
                if both.size:
                    raise InputError(f"{self.path}: events: two events on channel {both[0]} at the same time "
                                     f"t={t0!r}; combine them with sim.merge_duplicates")
            tl = float(ev.times_s[-1])
            tail = ev.channels[ev.times_s == tl]
            last_ch = np.union1d(last_ch, tail) if tl == last_t else tail
            last_t = tl

    def before(self, t_end: float) -> Events:
        """The events not handed out yet with ``t < t_end``, in order."""
        parts = []
        while True:
            if self._buf_pos >= len(self._buf):
                if self._pos >= self.n:
                    break
                b = min(self._pos + self._block, self.n)
                self._buf, self._buf_pos = self._read(self._pos, b), 0
                self._pos = b
            t = self._buf.times_s
            k = int(np.searchsorted(t, t_end, side="left")) if t[self._buf_pos] < t_end else self._buf_pos
            k = max(k, self._buf_pos)
            if k > self._buf_pos:
                parts.append((t[self._buf_pos:k], self._buf.channels[self._buf_pos:k],
                              self._buf.values[self._buf_pos:k]))
            self._buf_pos = k
            if k < len(self._buf):
                break
        if not parts:
            return Events(np.zeros(0), np.zeros(0, np.int64))
        return Events(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                      np.concatenate([p[2] for p in parts]))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_event_stream(path, sample: int | None = None, *, block: int | None = None) -> EventStream:
    """An :class:`EventStream` over an events file (read block by block; the file stays open
    until :meth:`EventStream.close`) or over one sample of an SHD-format file (read whole, as
    :func:`load_events`). Raises ``ValueError`` naming the file and field as :func:`load_events`."""
    f = _open(path, "r")
    try:
        shd = "spikes" in f and "format" not in f.attrs
    except Exception:
        f.close()
        raise
    if shd or sample is not None:
        f.close()
        ev = load_events(path, sample=sample)
        return EventStream(ev, path, len(ev), ev.times_s[-1] if len(ev) else 0.0, block)
    try:
        r = _Reader(f, path)
        _check_format(r, EVENTS_FORMAT)
        g = r.group("events")
        for key in ("times_s", "channels", "values"):
            if key not in g:
                r.fail(f"missing dataset 'events/{key}'")
            if g[key].ndim != 1:
                r.fail(f"dataset 'events/{key}' must be 1-D, got shape {g[key].shape}")
        n = g["times_s"].shape[0]
        if not (n == g["channels"].shape[0] == g["values"].shape[0]):
            r.fail(f"events/times_s, channels, values have different lengths ({n}, {g['channels'].shape[0]}, "
                   f"{g['values'].shape[0]})")
        if n and not np.issubdtype(g["channels"].dtype, np.integer):
            r.fail(f"dataset 'events/channels' must hold integers, got dtype {g['channels'].dtype}")
        for key in ("times_s", "values"):
            dt_ = g[key].dtype
            if n and (not np.issubdtype(dt_, np.number) or np.issubdtype(dt_, np.complexfloating)):
                r.fail(f"dataset 'events/{key}' must hold real numbers, got dtype {dt_}")
        last = float(g["times_s"][n - 1]) if n else 0.0
        s = EventStream(g, path, n, last, block)
        s._file = f
        if "n_channels" in f.attrs:
            s.n_channels = r.int_attr(f, "n_channels", "/")
        return s
    except BaseException:
        f.close()
        raise
