"""The jobs ``axon classify``, ``axon stream``, ``axon evaluate`` and ``axon sweep`` hand to
:mod:`bridge.parallel`: one sound file, one chunk of a data set, one sweep point. Each is a
module-level function ``job(context, item)`` plus a ``warm_*(context)`` that compiles what
the job runs, so that local pools and dask workers run them without any plumbing of their own.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.errors import InputError

__all__ = ["classify_file", "warm_classify", "stream_one", "warm_stream", "evaluate_chunk", "warm_evaluate",
           "sweep_point", "apply_settings", "parse_settings", "chunks"]


# ------------------------------------------------------------------ classify
def classify_file(ctx: dict, path: str) -> dict:
    """One isolated utterance -> one CSV row (``bridge.commands.classify.classify_one``)."""
    from bridge.commands.classify import classify_one

    return classify_one(ctx, path)


def warm_classify(ctx: dict) -> None:
    """Compile the front end and the exact engine on a short silence."""
    from sim.audio.classify import classify_audio
    from sim.model.task import frontend_config_of

    net = ctx["network"]
    fe = frontend_config_of(net)
    # The training step, not the user's --frame: a frame longer than this 0.1 s of silence
    # is valid for the files themselves and must not fail here.
    frame = None if net.task is not None else ctx.get("frame_s")
    classify_audio(net, np.zeros(int(0.05 * fe.sample_rate_hz)), fe.sample_rate_hz, frame_s=frame,
                   min_duration_s=max(0.1, 2 * (frame or 0.0)))


# ------------------------------------------------------------------ stream
def stream_one(ctx: dict, item: tuple) -> dict:
    """One recording through ``sim.audio.stream.stream_file`` into its own folder (plus report)."""
    from bridge.streamfiles import stream_to_folder

    audio, out = item
    s = stream_to_folder(ctx["network"], audio, out, ctx["config"])
    if ctx.get("report"):
        from bridge.commands.report import make_report
        try:
            make_report(Path(out))
        except Exception as e:  # noqa: BLE001 - a figure must never hide the run's own result
            s = dict(s, report_error=str(e))
    keep = ("audio_processed_s", "wall_s", "real_time_factor", "n_detections")
    return {"audio": str(audio), "out": str(out), **{k: s.get(k) for k in keep}}


def warm_stream(ctx: dict) -> None:
    from sim.audio.stream import StreamRunner
    from sim.model.task import frontend_config_of

    fe = frontend_config_of(ctx["network"])
    r = StreamRunner(ctx["network"], fe, ctx["config"], None, keep_detections=False)
    r.feed(np.zeros(int(0.2 * fe.sample_rate_hz)))
    r.finish()


# ------------------------------------------------------------------ evaluate / sweep
_DATA: dict = {}


def _dataset(path: str, n_units: int):
    """The data set, read once per process."""
    from training.data.shd import load_shd

    key = (str(path), int(n_units))
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = load_shd(path, n_units=n_units)
    return _DATA[key]


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``[(0, size), (size, 2 size), ...]`` covering ``range(n)``."""
    return [(i, min(i + size, n)) for i in range(0, n, max(1, size))]


def evaluate_chunk(ctx: dict, span: tuple) -> dict:
    """Readouts ``(steps, classes)`` of samples ``span[0]:span[1]`` on one engine, and spike counts."""
    from bridge.evaluate import exact_readouts, grid_readouts

    net, proto = ctx["network"], ctx["protocol"]
    ds = _dataset(ctx["data"], net.n_inputs)
    a, b = span

    def samples():
        for i in range(a, b):
            ev = ds.events(i).window(proto.start_s, proto.start_s + proto.duration_s)
            yield ev.shifted(-proto.start_s)

    fn = exact_readouts if ctx["engine"] == "exact" else grid_readouts
    readouts, spikes = fn(net, samples(), proto)
    return {"readouts": readouts, "spikes": spikes}


def warm_evaluate(ctx: dict) -> None:
    from sim import Events

    from bridge.evaluate import exact_readouts, grid_readouts

    fn = exact_readouts if ctx["engine"] == "exact" else grid_readouts
    fn(ctx["network"], [Events(np.zeros(0), np.zeros(0, np.int64))], ctx["protocol"])


def sweep_point(ctx: dict, settings: dict) -> dict:
    """Accuracy and hidden rates of the network with ``settings`` applied, on samples ``0:n``."""
    from bridge.evaluate import accuracy_report

    net = apply_settings(ctx["network"], settings)
    sub = dict(ctx, network=net)
    r = evaluate_chunk(sub, (0, ctx["n_samples"]))
    ds = _dataset(ctx["data"], net.n_inputs)
    proto = ctx["protocol"]
    rep = accuracy_report(np.asarray(ds.labels[:ctx["n_samples"]]), r["readouts"], proto)
    sizes = {l.name: l.size for l in net.layers}
    dur = ctx["n_samples"] * proto.duration_s
    rates = {k: v / (dur * sizes[k]) for k, v in r["spikes"].items()}
    return {"settings": settings, "accuracy": rep["accuracy"], "layer_rate_hz": rates,
            "predictions": rep["predictions"]}


# ------------------------------------------------------------------ --set parsing
SETTABLE = {"threshold": float, "tau_mem_s": float, "drive": float, "reset": str}


def parse_settings(specs: list[str]) -> list[dict]:
    """``["hidden0.threshold=0.8,1.0", "hidden0.reset=zero,subtract"]`` -> the Cartesian
    product as dicts ``{"hidden0.threshold": 0.8, "hidden0.reset": "zero"}``, in order
    (the last ``--set`` varies fastest)."""
    import itertools

    axes = []
    for spec in specs:
        if "=" not in spec or "." not in spec.split("=", 1)[0]:
            raise InputError(f"--set {spec!r}: expected LAYER.PARAM=V1,V2,... (e.g. hidden0.threshold=0.8,1.0)")
        key, vals = spec.split("=", 1)
        layer, param = key.rsplit(".", 1)
        if param not in SETTABLE:
            raise InputError(f"--set {spec!r}: parameter {param!r} cannot be swept (choose from {sorted(SETTABLE)})")
        conv = SETTABLE[param]
        out = []
        for v in vals.split(","):
            try:
                out.append(conv(v.strip()))
            except ValueError:
                raise InputError(f"--set {spec!r}: {v!r} is not a valid {param}") from None
        if not out or any(x == "" for x in out):
            raise InputError(f"--set {spec!r}: no values")
        axes.append([(key, x) for x in out])
    if not axes:
        raise InputError("axon sweep: give at least one --set LAYER.PARAM=V1,V2,...")
    return [dict(p) for p in itertools.product(*axes)]


def apply_settings(network, settings: dict):
    """A copy of ``network`` with layer parameters replaced (validated as if built by hand)."""
    from dataclasses import replace

    from sim.model.network import Network

    layers = {l.name: l for l in network.all_layers}
    for key, value in settings.items():
        name, param = key.rsplit(".", 1)
        if name not in layers:
            raise InputError(f"--set {key}: no layer {name!r} (layers: {list(layers)})")
        l = layers[name]
        if not l.spiking and param in ("threshold", "reset"):
            raise InputError(f"--set {key}: {name!r} is the readout, it has no {param}")
        try:
            layers[name] = replace(l, **{param: value})
        except ValueError as e:
            raise InputError(f"--set {key}={value!r}: {e}") from None
    ro = network.readout
    return Network(network.n_inputs, [layers[l.name] for l in network.layers], network.projections,
                   network.laterals, layers[ro.name] if ro is not None else None, dict(network.metadata))
