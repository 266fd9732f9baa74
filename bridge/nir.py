"""NIR in and out: an axon :class:`~sim.model.network.Network` as a NIR graph (``nir`` 1.0.x), and
NIR graphs as other libraries write them (snnTorch, Norse, ...) as axon networks.

What each NIR node means here, what NIR cannot say and where axon writes it instead (the
graph's ``metadata["axon"]``, a JSON string), and the conventions that make snnTorch's
own forward pass and axon's grid engine agree spike for spike are in ``docs/nir.md``.
Unit conversions (``tau``, ``r``, ``v_leak``, the step rule) are ``bridge.conventions``'s.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge import conventions as C
from sim.errors import InputError
from sim.model.network import INPUT, Lateral, LIFLayer, Network, Projection, ReadoutLayer

__all__ = ["NIRError", "to_nir", "from_nir", "export_nir", "import_nir", "read_nir", "AXON_NIR_FORMAT"]

AXON_NIR_FORMAT = "axon.nir"
AXON_NIR_VERSION = 1
#: Parallel branches one projection may become (one per distinct delay value) before export
#: refuses: each branch is a dense ``(n_post, n_pre)`` matrix.
MAX_BRANCHES = 256
_MAX_DENSE_BYTES = 2 * 1024 ** 3


class NIRError(InputError):
    """A NIR graph or file axon cannot read or write; the message names the node and why."""


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - the CI install has it
        raise NIRError("the 'nir' package is not installed (pip install -c constraints.txt 'axon[nir]')") from None
    return nir


# =========================================================================== export
def _network_dt(network: Network, dt_s: float | None) -> float:
    if dt_s is not None:
        return float(dt_s)
    if getattr(network, "task", None) is not None:
        return float(network.task.dt_s)
    tr = network.metadata.get("training")
    if isinstance(tr, dict) and tr.get("dt_s"):
        return float(tr["dt_s"])
    dts = {p.dt_s for p in network.projections if p.dt_s is not None}
    if len(dts) == 1:
        return float(dts.pop())
    raise NIRError("the network records no training step (its task's dt_s or the projections' dt_s): pass dt_s "
                   "(--dt), the step a NIR spike is taken to last")


def _delay_form(p: Projection, n_pre: int, n_post: int, d: np.ndarray):
    """How delays ``d`` (one per synapse of ``p``) can be written: ('uniform', d), ('axonal',
    d_per_pre), ('dendritic', d_per_post) or ('branches', distinct values). Axonal/dendritic
    need one synapse per (pre, post) pair (a dense matrix holds one weight per pair)."""
    if p.n_synapses == 0 or np.all(d == d[0]):
        return "uniform", float(d[0]) if p.n_synapses else 0.0
    pairs = p.pre_idx * n_post + p.post_idx
    if np.unique(pairs).size == p.n_synapses:
        for kind, idx, n in (("axonal", p.pre_idx, n_pre), ("dendritic", p.post_idx, n_post)):
            per = np.full(n, np.nan)
            per[idx] = d
            if np.array_equal(per[idx], d):   # every synapse of an index has the same delay
                return kind, np.where(np.isnan(per), 0.0, per)
    return "branches", np.unique(d)


def _dense(p: Projection, n_pre: int, n_post: int, mask=None) -> np.ndarray:
    w = np.zeros((n_post, n_pre))
    sel = slice(None) if mask is None else mask
    np.add.at(w, (p.post_idx[sel], p.pre_idx[sel]), p.weight[sel])
    return w


DELAY_MODES = ("auto", "exact", "grid")


def to_nir(network: Network, dt_s: float | None = None, *, max_branches: int = MAX_BRANCHES,
           delays: str = "auto"):
    """The NIR graph of ``network``.

    Layers become ``LIF`` (tau, r = tau / dt, v_leak = drive * tau, v_threshold, v_reset = 0),
    the readout ``LI``; a projection becomes a ``Linear`` edge, with a ``Delay`` node after it
    (delays per target: dendritic, or one delay) or before it (per source: axonal), or, for
    arbitrary per-synapse delays, parallel ``Linear -> Delay`` branches, one per distinct delay
    value, whose outputs NIR sums at the target. A lateral matrix is a ``Linear`` edge from
    the layer back to itself with weight ``-Omega`` (the change each spike makes to ``V``).
    Everything NIR has no word for goes to ``graph.metadata["axon"]`` (docs/nir.md).

    Parameters
    ----------
    dt_s : float, optional
        The step a spike is taken to last (default: the training step the model records).
    max_branches : int
        Most parallel branches one projection may need (each a dense matrix).
    delays : {"auto", "exact", "grid"}
        ``exact``: the delays in seconds, one branch per distinct value. ``grid``: the
        whole-step delays the grid engine and training use (``delay_steps * dt_s``), at most
        one branch per step count; the exact values travel in the nodes' metadata, so axon
        reads them back unchanged. ``auto`` (default): exact unless a projection would need
        more than ``max_branches`` branches (learned continuous delays), then grid for it.
    """
    nir = _nir()
    if not isinstance(network, Network):
        raise NIRError(f"to_nir: expected a Network, got {type(network).__name__}")
    dt = _network_dt(network, dt_s)
    if delays not in DELAY_MODES:
        raise NIRError(f"delays must be one of {DELAY_MODES}, got {delays!r}")
    nodes = {"input": nir.Input(input_type=np.array([network.n_inputs]))}
    edges = []
    for l in network.all_layers:
        par = C.nir_lif_params(l.tau_mem_s, l.drive, dt)
        meta = {"axon_drive_hz": np.array(l.drive)}
        if l.spiking:
            nodes[l.name] = nir.LIF(tau=par["tau"], r=par["r"], v_leak=par["v_leak"],
                                    v_threshold=np.full(l.size, l.threshold), v_reset=np.zeros(l.size),
                                    metadata=meta)
        else:
            nodes[l.name] = nir.LI(tau=par["tau"], r=par["r"], v_leak=par["v_leak"], metadata=meta)
    out_layer = network.readout or (network.layers[-1] if network.layers else None)
    if out_layer is None:
        raise NIRError("to_nir: the network has no layers")
    nodes["output"] = nir.Output(output_type=np.array([out_layer.size]))
    edges.append((out_layer.name, "output"))
    projections_meta = []
    for p in network.projections:
        n_pre, n_post = network.size_of(p.pre), network.size_of(p.post)
        base = f"{p.pre}__{p.post}"
        d_syn, rounded = p.delay_s, False
        kind, d = _delay_form(p, n_pre, n_post, d_syn)
        if delays == "grid" or (delays == "auto" and kind == "branches" and len(d) > max_branches):
            gdt = p.dt_s if p.dt_s is not None else dt
            steps = p.delay_steps if p.delay_steps is not None else C.seconds_to_steps(p.delay_s, gdt)
            d_syn, rounded = C.steps_to_seconds(steps, gdt), True
            kind, d = _delay_form(p, n_pre, n_post, d_syn)
        pm = {"pre": p.pre, "post": p.post, "delays": kind, "dt_s": p.dt_s, "nodes": [],
              "delays_rounded_to_grid": rounded}
        if kind == "branches":
            if len(d) > max_branches:
                raise NIRError(
                    f"projection {p.pre}->{p.post}: {len(d)} distinct delays would need {len(d)} parallel "
                    f"Linear -> Delay branches (limit {max_branches}; raise it with max_branches / --max-branches, "
                    f"each branch is a dense {n_post} x {n_pre} matrix, or write the grid's delays: --delays grid)")
            if len(d) * n_pre * n_post * 8 > _MAX_DENSE_BYTES:
                raise NIRError(f"projection {p.pre}->{p.post}: {len(d)} branches of {n_post} x {n_pre} would "
                               f"take {len(d) * n_pre * n_post * 8 / 1e9:.1f} GB")
            for k, v in enumerate(d):
                lin = f"{base}__b{k}"
                nodes[lin] = nir.Linear(weight=_dense(p, n_pre, n_post, d_syn == v))
                pm["nodes"].append(lin)
                if v > 0 or p.pre == p.post:   # a loop without a Delay node means "next step" to readers
                    nodes[lin + "_delay"] = nir.Delay(delay=np.full(n_post, float(v)))
                    edges += [(p.pre, lin), (lin, lin + "_delay"), (lin + "_delay", p.post)]
                else:
                    edges += [(p.pre, lin), (lin, p.post)]
        else:
            nodes[base] = nir.Linear(weight=_dense(p, n_pre, n_post))
            pm["nodes"].append(base)
            if kind == "uniform" and d == 0 and p.pre != p.post:
                edges += [(p.pre, base), (base, p.post)]
            elif kind == "axonal":
                nodes[base + "_delay"] = nir.Delay(delay=np.asarray(d, dtype=np.float64))
                edges += [(p.pre, base + "_delay"), (base + "_delay", base), (base, p.post)]
            else:  # dendritic, or one delay for all synapses
                dd = np.full(n_post, d) if kind == "uniform" else np.asarray(d, dtype=np.float64)
                nodes[base + "_delay"] = nir.Delay(delay=dd)
                edges += [(p.pre, base), (base, base + "_delay"), (base + "_delay", p.post)]
        if p.delay_steps is not None:
            nodes[pm["nodes"][0]].metadata["axon_delay_steps"] = np.array(p.delay_steps)
        if rounded:   # NIR holds the grid's delays; axon keeps the exact synapses
            m = nodes[pm["nodes"][0]].metadata
            for a in ("pre_idx", "post_idx", "weight", "delay_s"):
                m[f"axon_{a}"] = np.array(getattr(p, a))
        if p.conv is not None:   # NIR sees the expanded synapses; axon keeps the kernel form
            c = p.conv
            pm["conv"] = {"in_positions": c.in_positions, "in_channels": c.in_channels, "stride": c.stride,
                          "dilation": c.dilation}
            m = nodes[pm["nodes"][0]].metadata
            m["axon_conv_kernel"] = np.array(c.kernel)
            m["axon_conv_delay_s"] = np.array(c.delay_s)
            if c.delay_steps is not None:
                m["axon_conv_delay_steps"] = np.array(c.delay_steps)
        projections_meta.append(pm)
    laterals_meta = []
    for lat in network.laterals:
        n = network.size_of(lat.layer)
        w = np.zeros((n, n))
        for g in range(lat.members.shape[0]):
            m = lat.members[g]
            w[np.ix_(m, m)] = -lat.omega[g]
        name = f"{lat.layer}__lateral"
        nodes[name] = nir.Linear(weight=w)
        edges += [(lat.layer, name), (name, lat.layer)]
        laterals_meta.append({"layer": lat.layer, "node": name, "members": lat.members.tolist()})
    meta = {
        "format": AXON_NIR_FORMAT, "format_version": AXON_NIR_VERSION,
        "dt_s": dt, "step_rule": "exp", "spike": "a unit pulse of one step dt_s: weight w into (tau, r) is a jump "
                                                  "of w * r * dt_s / tau in v (r = tau / dt_s here, so w itself)",
        "threshold_rule": "v >= v_threshold (NIR's LIF says v > v_threshold)",
        "simultaneous_arrivals": "summed before the threshold is checked once",
        "reset": {l.name: l.reset for l in network.layers},
        "layer_order": [l.name for l in network.layers],
        "readout": network.readout.name if network.readout is not None else None,
        "n_inputs": network.n_inputs,
        "projections": projections_meta,
        "laterals": laterals_meta,
        "lateral_rule": "Linear edge layer -> layer with weight -Omega: when neuron i spikes, V_j += weight[j, i] "
                        "at the same instant (no delay), after the spiking neurons' resets; exact engine one "
                        "spike at a time, grid engine all spikes of a step together (docs/semantics.md)",
        "task": network.task.to_dict() if getattr(network, "task", None) is not None else None,
        "network_metadata": network.metadata,
    }
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"axon": json.dumps(meta, sort_keys=True, default=_json)})
    return graph


def _json(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    return str(o)


def export_nir(network: Network, path, dt_s: float | None = None, **kwargs) -> list[str]:
    """Write ``network`` as a NIR file (HDF5, ``nir.write``). See :func:`to_nir`. Returns the
    projections whose delays NIR holds rounded to the grid (``"pre->post"``)."""
    nir = _nir()
    graph = to_nir(network, dt_s, **kwargs)
    rounded = [f"{m['pre']}->{m['post']}" for m in json.loads(graph.metadata["axon"])["projections"]
               if m.get("delays_rounded_to_grid")]
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        nir.write(tmp, graph)
        tmp.replace(p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return rounded


# =========================================================================== reading files
_TRANSFORMS = ("Linear", "Affine", "Scale", "Delay", "Flatten")
_POPULATIONS = ("LIF", "LI", "CubaLIF", "Threshold")
_KNOWN_ELSEWHERE = {  # NIR node types axon knows but cannot run, and why
    "IF": "an integrate-and-fire neuron has no leak; axon's neurons leak with a finite tau_mem_s",
    "I": "an integrator has no leak; axon's neurons leak with a finite tau_mem_s",
    "CubaLI": "a current-based leaky integrator has a synaptic current that outlives a step; axon's readout "
              "takes instantaneous jumps",
    "Conv1d": "convolutions are not part of axon's network description (write them out as Linear)",
    "Conv2d": "convolutions are not part of axon's network description (write them out as Linear)",
    "SumPool2d": "pooling is not part of axon's network description",
    "AvgPool2d": "pooling is not part of axon's network description",
}


def read_nir(path):
    """``nir.read`` with every failure turned into a one-line :class:`NIRError` that names the
    file and, where there is one, the node and the missing parameter."""
    import dataclasses

    import h5py

    nir = _nir()
    p = Path(path)
    if not p.exists():
        raise NIRError(f"{p}: no such file")
    if p.is_dir():
        raise NIRError(f"{p}: is a directory, expected a NIR file (HDF5)")
    try:
        f = h5py.File(p, "r")
    except OSError:
        raise NIRError(f"{p}: not a NIR file (not HDF5 at all)") from None
    with f:
        if "node" not in f or not isinstance(f["node"], h5py.Group):
            raise NIRError(f"{p}: not a NIR file (an HDF5 file without the '/node' group nir.write makes)")

        def check(group, where):
            if "type" not in group:
                raise NIRError(f"{p}: node {where!r} has no 'type'")
            t = group["type"][()]
            t = t.decode() if isinstance(t, bytes) else str(t)
            cls = getattr(nir, t, None)
            if t == "NIRGraph":
                for key in ("nodes", "edges"):
                    if key not in group:
                        raise NIRError(f"{p}: graph {where!r} lacks '{key}'")
                for k in group["nodes"]:
                    check(group["nodes"][k], k if where == "/" else f"{where}.{k}")
                return
            if cls is None or not isinstance(cls, type) or not issubclass(cls, nir.NIRNode):
                raise NIRError(f"{p}: node {where!r} has type {t!r}, which is not a NIR node type "
                               f"(nir {nir.version})")
            if t in ("Input", "Output"):
                if "shape" not in group:
                    raise NIRError(f"{p}: node {where!r} ({t}) lacks parameter 'shape'")
                return
            for fld in dataclasses.fields(cls):
                required = (fld.init and fld.default is dataclasses.MISSING
                            and fld.default_factory is dataclasses.MISSING and fld.name != "metadata")
                if fld.name in ("input_shape",):
                    required = False
                if required and fld.name not in group:
                    raise NIRError(f"{p}: node {where!r} ({t}) lacks parameter {fld.name!r}")

        check(f["node"], "/")
    try:
        return nir.read(p)
    except Exception as e:  # noqa: BLE001 - nir raises KeyError/AssertionError/ValueError alike
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NIRError(f"{p}: nir.read failed: {msg}") from None


# =========================================================================== import
def _flatten_graph(graph, prefix=""):
    """Nodes and edges of ``graph`` with nested graphs inlined (their Input/Output nodes
    become pass-through nodes named ``<sub>.<name>``; edges to a subgraph go to its Input)."""
    nir = _nir()
    nodes, edges = {}, []
    sub_in, sub_out = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            n2, e2 = _flatten_graph(node, full + ".")
            ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise NIRError(f"subgraph {full!r}: needs exactly one Input and one Output node, has {len(ins)} "
                               f"and {len(outs)}")
            for k in (full + "." + ins[0], full + "." + outs[0]):
                n2[k] = ("pass", n2[k][1])
            sub_in[full], sub_out[full] = full + "." + ins[0], full + "." + outs[0]
            nodes.update(n2)
            edges += e2
        else:
            nodes[full] = ("node", node)
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        edges.append((sub_out.get(a, a), sub_in.get(b, b)))
    return nodes, edges


def _shape_size(node) -> int | None:
    for d in (getattr(node, "input_type", None) or {}, getattr(node, "output_type", None) or {}):
        for v in d.values():
            if v is not None and np.size(v):
                return int(np.prod(np.asarray(v)))
    return None


@dataclass
class _Term:
    """Transfer from a source population to the current node: channel ``c`` gets
    ``W[c, i] * x_i(t - D[c, i])`` from source neuron ``i``."""
    W: np.ndarray
    D: np.ndarray


def _apply(kind: str, node, name: str, terms: list, n_cur: int):
    """Push ``terms`` through one transform node; returns ``(terms, n_out)``."""
    if kind in ("Linear", "Affine"):
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 2:
            raise NIRError(f"node {name!r} ({kind}): weight must be 2-D (n_out, n_in), got shape {w.shape}")
        if w.shape[1] != n_cur:
            raise NIRError(f"node {name!r} ({kind}): weight has {w.shape[1]} inputs but receives {n_cur} channels")
        out = []
        for t in terms:
            if np.all(t.D == t.D[:1]):            # delay per source only (or none)
                out.append(_Term(w @ t.W, np.broadcast_to(t.D[:1], (w.shape[0], t.D.shape[1])).copy()))
            else:
                for v in np.unique(t.D):
                    out.append(_Term(w @ np.where(t.D == v, t.W, 0.0), np.full((w.shape[0], t.D.shape[1]), v)))
        return out, w.shape[0]
    if kind == "Scale":
        s = np.broadcast_to(np.asarray(node.scale, dtype=np.float64).reshape(-1), (n_cur,))
        return [_Term(t.W * s[:, None], t.D) for t in terms], n_cur
    if kind == "Delay":
        d = np.broadcast_to(np.asarray(node.delay, dtype=np.float64).reshape(-1), (n_cur,))
        if not np.all(np.isfinite(d)) or d.min() < 0:
            raise NIRError(f"node {name!r} (Delay): delays must be finite and >= 0, got min {d.min()!r}")
        return [_Term(t.W, t.D + d[:, None]) for t in terms], n_cur
    return terms, n_cur  # Flatten, pass-through


def from_nir(graph, dt_s: float | None = None, step_rule: str | None = None, reset: str | None = None,
             source: str = "graph") -> Network:
    """An axon :class:`Network` from a NIR graph.

    Neuron nodes become layers (``LIF``; ``CubaLIF`` whose synaptic current is gone within a
    step; ``Threshold`` right after linear nodes, a layer whose potential lasts one step), an
    ``LI`` the readout; every path of ``Linear``/``Affine``/``Scale``/``Delay``/``Flatten``
    nodes between two of them becomes synapses (one per source, target and total delay;
    parallel paths with equal delays are summed); an ``Affine`` bias becomes drive. A cycle
    from a layer back to itself is its lateral matrix (graphs axon wrote) or a recurrent
    projection (others: with the delays on the path, or one step ``dt`` if there are none,
    the discrete-time libraries' recurrence).

    Parameters
    ----------
    dt_s : float, optional
        The step a NIR spike lasts (a pulse of area ``dt_s``); default: the graph's own
        (axon-written graphs record it). snnTorch's exporter assumes 1e-4 s.
    step_rule : {"exp", "euler"}, optional
        How ``tau`` becomes a decay per step (``bridge.conventions``); default: the graph's
        own, else ``"exp"``. snnTorch's graphs need ``"euler"``.
    reset : {"zero", "subtract"}, optional
        Reset of every spiking layer; default: the graph's own, else ``"zero"`` (NIR's
        ``v <- v_reset``). NIR cannot say "subtract"; snnTorch writes ``v_reset = 0`` for both.
    """
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"{source}: expected a NIR graph, got {type(graph).__name__}")
    meta = _axon_meta(graph, source)
    dt = dt_s if dt_s is not None else (meta or {}).get("dt_s")
    if dt is None:
        raise NIRError(f"{source}: the graph does not record the time step its spikes assume; pass dt_s (--dt) "
                       "(snnTorch's exporter assumes 1e-4 s)")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise NIRError(f"{source}: dt must be a finite number > 0, got {dt!r}")
    rule = step_rule or (meta or {}).get("step_rule") or "exp"
    if rule not in C.NIR_STEP_RULES:
        raise NIRError(f"{source}: step rule must be one of {C.NIR_STEP_RULES}, got {rule!r}")
    if reset is not None and reset not in ("zero", "subtract"):
        raise NIRError(f"{source}: reset must be 'zero' or 'subtract', got {reset!r}")
    try:
        return _build(graph, dt, rule, reset, meta, source)
    except NIRError:
        raise
    except ValueError as e:
        raise NIRError(f"{source}: {e}") from None


def _axon_meta(graph, source):
    m = graph.metadata.get("axon") if isinstance(graph.metadata, dict) else None
    if m is None:
        return None
    if isinstance(m, bytes):
        m = m.decode()
    try:
        m = json.loads(m)
    except (TypeError, json.JSONDecodeError) as e:
        raise NIRError(f"{source}: metadata['axon'] is not valid JSON ({e})") from None
    if m.get("format") != AXON_NIR_FORMAT or int(m.get("format_version", -1)) != AXON_NIR_VERSION:
        raise NIRError(f"{source}: metadata['axon'] is format {m.get('format')!r} version "
                       f"{m.get('format_version')!r}, this axon reads {AXON_NIR_FORMAT!r} version {AXON_NIR_VERSION}")
    return m


_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


def _build(graph, dt, rule, reset_all, meta, source) -> Network:
    nir = _nir()
    flat, edges = _flatten_graph(graph)
    kinds = {}
    for name, (role, node) in flat.items():
        t = type(node).__name__
        if role == "pass":          # a nested graph's own Input/Output: passes its input on
            kinds[name] = "Flatten"
            continue
        if t in _KNOWN_ELSEWHERE:
            raise NIRError(f"{source}: node {name!r} ({t}): {_KNOWN_ELSEWHERE[t]}")
        if t not in _TRANSFORMS + _POPULATIONS + ("Input", "Output"):
            raise NIRError(f"{source}: node {name!r} has type {t}, which axon does not know")
        kinds[name] = t
    for a, b in edges:
        for x in (a, b):
            if x not in flat:
                raise NIRError(f"{source}: edge ({a!r}, {b!r}) names node {x!r}, which the graph does not have")
    inputs = [k for k, v in kinds.items() if v == "Input"]
    if len(inputs) != 1:
        raise NIRError(f"{source}: axon networks have one input population; the graph has {len(inputs)} Input "
                       f"nodes {inputs}")
    succ = {k: [] for k in flat}
    pred = {k: [] for k in flat}
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    pops = [k for k, v in kinds.items() if v in _POPULATIONS]
    in_name = inputs[0]
    n_in = _shape_size(flat[in_name][1])
    if n_in is None:
        raise NIRError(f"{source}: Input node {in_name!r} has no shape")

    # --- sizes and neuron parameters ------------------------------------------------
    def size_of_pop(name):
        node = flat[name][1]
        sizes = {np.size(getattr(node, a)) for a in ("tau", "tau_mem", "r", "v_threshold", "threshold")
                 if getattr(node, a, None) is not None and np.ndim(getattr(node, a))}
        sizes.discard(1)
        s = _shape_size(node)
        if s is not None:
            sizes.add(s)
        if len(sizes) > 1:
            raise NIRError(f"{source}: node {name!r} ({kinds[name]}): parameters of different sizes {sorted(sizes)}")
        return sizes.pop() if sizes else 1

    sizes = {in_name: n_in}
    for name in pops:
        sizes[name] = size_of_pop(name)

    # --- paths between populations --------------------------------------------------
    conns = {}     # (src, dst) -> list of (transform nodes on the path, has a Delay, terms)
    bias = {}      # dst -> constant input current per neuron

    def walk(src, node, terms, n_cur, on_path, has_delay):
        for nxt in succ[node]:
            k = kinds[nxt]
            if k == "Output":
                continue
            if k in _POPULATIONS:
                if n_cur != sizes[nxt]:
                    raise NIRError(f"{source}: {n_cur} channels reach node {nxt!r} of size {sizes[nxt]}")
                conns.setdefault((src, nxt), []).append((tuple(on_path), has_delay, terms))
                continue
            if k == "Input":
                raise NIRError(f"{source}: edge into the Input node {nxt!r}")
            if nxt in on_path:
                cyc = " -> ".join(list(on_path[on_path.index(nxt):]) + [nxt])
                raise NIRError(f"{source}: cycle {cyc} passes through no neuron: an instantaneous loop axon "
                               "cannot run")
            t2, n2 = _apply(k, flat[nxt][1], nxt, terms, n_cur)
            walk(src, nxt, t2, n2, on_path + [nxt], has_delay or k == "Delay")

    for src in [in_name] + pops:
        n = sizes[src]
        if kinds.get(src) == "LI" and any(kinds[s] != "Output" for s in succ[src]):
            raise NIRError(f"{source}: LI node {src!r} feeds {[s for s in succ[src] if kinds[s] != 'Output']}: "
                           "axon's readout (LI) does not spike and cannot drive other nodes")
        walk(src, src, [_Term(np.eye(n), np.zeros((n, n)))], n, [], False)
    # Affine biases: constant currents, pushed forward to the neurons they reach.
    for name, k in kinds.items():
        if k != "Affine":
            continue
        b = np.asarray(flat[name][1].bias, dtype=np.float64).reshape(-1)
        if not np.any(b):
            continue

        def push(node, vec, seen):
            for nxt in succ[node]:
                kk = kinds[nxt]
                if kk in _POPULATIONS:
                    bias[nxt] = bias.get(nxt, 0.0) + vec
                elif kk == "Delay":
                    raise NIRError(f"{source}: node {name!r} (Affine) has a bias that reaches Delay node {nxt!r}: "
                                   "a delayed constant switches on after the delay, axon's drive is constant "
                                   "from t = 0")
                elif kk in ("Linear", "Affine"):
                    if nxt not in seen:
                        push(nxt, np.asarray(flat[nxt][1].weight, dtype=np.float64) @ vec, seen | {nxt})
                elif kk == "Scale":
                    push(nxt, vec * np.asarray(flat[nxt][1].scale, dtype=np.float64).reshape(-1), seen | {nxt})
                elif kk in ("Flatten",):
                    push(nxt, vec, seen | {nxt})

        push(name, b, {name})

    # --- cycles between populations -----------------------------------------------------
    pop_edges = {(a, b) for (a, b) in conns if a != b}
    order = _topological(in_name, pops, pop_edges, source)

    # --- layers ---------------------------------------------------------------------------
    meta = meta or {}
    resets = meta.get("reset", {})
    readouts = [k for k in pops if kinds[k] == "LI"]
    if len(readouts) > 1:
        raise NIRError(f"{source}: axon networks have one readout; the graph has {len(readouts)} LI nodes {readouts}")
    names = {}
    for k in pops:
        nm = k if k != INPUT else "input_layer"
        nm = _NAME_OK.sub("_", nm)
        if nm in names.values():
            nm = f"{nm}_{len(names)}"
        names[k] = nm
    names[in_name] = INPUT
    scale = {}       # per target neuron: weight -> jump
    layers, readout = [], None
    for k in order:
        node = flat[k][1]
        kind = kinds[k]
        n = sizes[k]

        def vec(attr, default=None):
            v = getattr(node, attr, default)
            if v is None:
                raise NIRError(f"{source}: node {k!r} ({kind}) lacks parameter {attr!r}")
            a = np.asarray(v, dtype=np.float64).reshape(-1)
            if a.size == 1:
                a = np.full(n, float(a[0]))
            if a.size != n or not np.all(np.isfinite(a)):
                raise NIRError(f"{source}: node {k!r} ({kind}): {attr} must be {n} finite numbers")
            return a

        if kind == "Threshold":
            thr = vec("threshold")
            tau = np.full(n, C.NIR_INSTANT_TAU_STEPS * dt)
            scale[k] = np.ones(n)
            rest = np.zeros(n)
            bad = [p for p in pred[k] if kinds[p] not in _TRANSFORMS]
            if bad:
                raise NIRError(f"{source}: node {k!r} (Threshold) follows {bad}: axon expresses a Threshold only "
                               "on the output of Linear/Affine/Scale/Delay nodes (a stateless comparison); after "
                               "a neuron it would be a spiking neuron without reset")
            v_reset = np.zeros(n)
        else:
            tau_key = "tau_mem" if kind == "CubaLIF" else "tau"
            tau_nir = vec(tau_key)
            r = vec("r")
            try:
                tau = C.nir_decay_to_tau(tau_nir, dt, rule)
            except ValueError as e:
                raise NIRError(f"{source}: node {k!r} ({kind}): {e}") from None
            scale[k] = C.nir_input_scale(r, tau_nir, dt)
            if kind == "CubaLIF":
                tau_syn = vec("tau_syn")
                if not C.nir_synaptic_current_is_instant(tau_syn, dt, rule):
                    raise NIRError(
                        f"{source}: node {k!r} (CubaLIF): its synaptic current (tau_syn = {tau_syn.max():.4g} s, "
                        f"dt = {dt:g} s, rule {rule}) lasts beyond one step; axon's synapses are instantaneous "
                        "jumps, so only tau_syn with no memory across a step (snnTorch Synaptic alpha = 0) is "
                        "expressible")
                scale[k] = scale[k] * vec("w_in", 1.0)
            rest = vec("v_leak") + r * (bias.get(k, 0.0))
            v_reset = vec("v_reset", np.zeros(n)) if kind != "LI" else np.zeros(n)
            thr = vec("v_threshold") if kind != "LI" else None
        if kind == "Threshold":
            rest = rest + bias.get(k, 0.0)
        if np.any(v_reset != 0):
            raise NIRError(f"{source}: node {k!r} ({kind}): v_reset = {float(v_reset[v_reset != 0][0])!r}; axon resets to "
                           "0 ('zero') or subtracts the threshold ('subtract'), not to another potential")
        # axon-written files: take the exact values NIR's floats may round (only if consistent)
        am = node.metadata if isinstance(getattr(node, "metadata", None), dict) else {}
        axon_made = bool(meta) and kind in ("LIF", "LI") and rule == "exp"
        if axon_made and np.array_equal(np.asarray(node.r, dtype=np.float64).reshape(-1),
                                        (tau_nir / dt)) and "axon_drive_hz" in am:
            drive_hz = np.asarray(am["axon_drive_hz"], dtype=np.float64).reshape(-1)
            if drive_hz.size == n and np.array_equal(drive_hz * tau_nir, rest):
                scale[k] = np.ones(n)
            else:
                drive_hz = C.nir_drive_hz(rest, tau)
        else:
            drive_hz = C.nir_drive_hz(rest, tau)
        if kind == "LI":
            readout = ReadoutLayer(names[k], n, tau, drive=drive_hz)
            continue
        if np.any(thr <= 0):
            raise NIRError(f"{source}: node {k!r} ({kind}): v_threshold must be > 0, got {thr.min()!r}")
        if np.all(thr == thr[0]):
            threshold = float(thr[0])
        else:   # per-neuron thresholds: measure each neuron's potential in units of its threshold
            scale[k] = scale[k] / thr
            drive_hz = drive_hz / thr
            threshold = 1.0
        rs = reset_all or resets.get(names[k]) or "zero"
        layers.append(LIFLayer(names[k], n, tau, threshold=threshold, reset=rs, drive=drive_hz))
    if not layers and readout is None:
        raise NIRError(f"{source}: the graph has no neuron nodes (LIF, CubaLIF, LI, Threshold)")

    # --- projections and laterals ----------------------------------------------------
    lat_meta = {m["layer"]: m for m in meta.get("laterals", [])}
    proj_meta = {(m["pre"], m["post"]): m for m in meta.get("projections", [])}
    projections, laterals = {}, []
    for (src, dst), via in conns.items():
        pre, post = names[src], names[dst]
        if src == dst:
            lm = lat_meta.get(post)
            if lm and any(path == (lm["node"],) for path, _, _ in via):
                w = np.asarray(flat[lm["node"]][1].weight, dtype=np.float64)
                members = np.asarray(lm["members"], dtype=np.int64)
                omega = np.stack([-w[np.ix_(m, m)] for m in members])
                laterals.append(Lateral(post, members, omega))
                via = [v for v in via if v[0] != (lm["node"],)]
                if not via:
                    continue
            if kinds[dst] == "Threshold":
                raise NIRError(f"{source}: node {dst!r} (Threshold) feeds itself: a stateless comparison in a loop")
        pre_i, post_i, w_s, d_s = [], [], [], []
        for t, has_delay in ((t, hd) for _, hd, ts in via for t in ts):
            D = t.D
            if src == dst and not has_delay:
                D = D + dt       # recurrence without a Delay node acts on the next step
            nz = np.nonzero(t.W)
            pre_i.append(nz[1]), post_i.append(nz[0])
            w_s.append(t.W[nz] * scale[dst][nz[0]]), d_s.append(D[nz])
        pm = proj_meta.get((pre, post))
        steps, pdt = None, None
        cat = [np.concatenate(x) if x else np.zeros(0) for x in (pre_i, post_i, w_s, d_s)]
        p = Projection.sparse(pre, post, cat[0].astype(np.int64), cat[1].astype(np.int64), cat[2], cat[3],
                              duplicates="sum")
        if pm and pm.get("dt_s") is not None:
            st = flat[pm["nodes"][0]][1].metadata.get("axon_delay_steps") if pm["nodes"][0] in flat else None
            pdt = float(pm["dt_s"])
            steps = (np.asarray(st, dtype=np.int64).reshape(-1) if st is not None
                     else C.seconds_to_steps(p.delay_s, pdt))
            if steps.shape != (p.n_synapses,):
                steps = C.seconds_to_steps(p.delay_s, pdt)
            p = Projection.sparse(pre, post, p.pre_idx, p.post_idx, p.weight, p.delay_s, delay_steps=steps,
                                  dt_s=pdt)
        if pm and pm.get("delays_rounded_to_grid"):
            p = _exact_synapses(p, pm, flat) or p
        if pm and pm.get("conv"):
            p = _conv_form(p, pm, flat) or p
        projections[(pre, post)] = p
    if meta.get("projections"):
        known = [(m["pre"], m["post"]) for m in meta["projections"]]
        ordered = [projections.pop(k) for k in known if k in projections] + list(projections.values())
    else:
        ordered = list(projections.values())
    layer_order = meta.get("layer_order")
    if layer_order and sorted(layer_order) == sorted(l.name for l in layers):
        by = {l.name: l for l in layers}
        layers = [by[n] for n in layer_order]
    if meta:
        net_meta = dict(meta.get("network_metadata") or {})
        n_in_meta = meta.get("n_inputs")
        if n_in_meta is not None and int(n_in_meta) != n_in:
            raise NIRError(f"{source}: Input node has {n_in} channels, metadata['axon'] says {n_in_meta}")
        task = None
        if meta.get("task") is not None:
            from sim.model.task import Task
            task = Task.from_dict(meta["task"], f"{source}: metadata['axon']['task']")
        return Network(n_in, layers, ordered, laterals, readout, net_meta, task=task)
    nir_info = {"source": str(source), "dt_s": dt, "step_rule": rule, "nir_version": nir.version,
                "reset": reset_all or "zero", "threshold_rule": "axon fires at v >= threshold (NIR: v > v_threshold)"}
    net = Network(n_in, layers, ordered, laterals, readout, {"provenance": {"nir": nir_info}})
    # foreign graphs: delays in whole steps of dt recorded beside the seconds, for the grid engine
    return C.network_on_grid(net, dt)


def _exact_synapses(p: Projection, pm: dict, flat: dict) -> Projection | None:
    """The exact synapses axon wrote beside grid-rounded delays, if the graph's synapses are
    still exactly them rounded to the grid (the same (pre, post, steps, weight) multiset)."""
    node = flat.get(pm["nodes"][0], (None, None))[1]
    m = getattr(node, "metadata", None) or {}
    if not all(f"axon_{a}" in m for a in ("pre_idx", "post_idx", "weight", "delay_s")) or pm.get("dt_s") is None:
        return None
    dt = float(pm["dt_s"])
    try:
        st = m.get("axon_delay_steps")
        q = Projection.sparse(p.pre, p.post, np.asarray(m["axon_pre_idx"], dtype=np.int64),
                              np.asarray(m["axon_post_idx"], dtype=np.int64), np.asarray(m["axon_weight"], float),
                              np.asarray(m["axon_delay_s"], float),
                              delay_steps=None if st is None else np.asarray(st, dtype=np.int64), dt_s=dt)
    except (ValueError, TypeError):
        return None
    if q.n_synapses != p.n_synapses:
        return None

    def key(x, steps):
        o = np.lexsort((x.weight, steps, x.post_idx, x.pre_idx))
        return x.pre_idx[o], x.post_idx[o], steps[o], x.weight[o]

    qs = q.delay_steps if q.delay_steps is not None else C.seconds_to_steps(q.delay_s, dt)
    same = all(np.array_equal(a, b) for a, b in zip(key(q, qs), key(p, C.seconds_to_steps(p.delay_s, dt))))
    return q if same else None


def _conv_form(p: Projection, pm: dict, flat: dict) -> Projection | None:
    """The convolutional projection axon wrote, if the file's synapses are still exactly its expansion."""
    from sim.model.network import Conv1D

    node = flat.get(pm["nodes"][0], (None, None))[1]
    m = getattr(node, "metadata", None) or {}
    if "axon_conv_kernel" not in m:
        return None
    g = pm["conv"]
    steps = m.get("axon_conv_delay_steps")
    try:
        conv = Conv1D(int(g["in_positions"]), int(g["in_channels"]), np.asarray(m["axon_conv_kernel"]),
                      np.asarray(m["axon_conv_delay_s"]), int(g["stride"]), int(g["dilation"]),
                      None if steps is None else np.asarray(steps, dtype=np.int64))
        q = Projection.conv1d(p.pre, p.post, conv, dt_s=pm.get("dt_s"))
    except (ValueError, KeyError, TypeError):
        return None
    same = all(np.array_equal(getattr(q, a), getattr(p, a)) for a in ("pre_idx", "post_idx", "weight", "delay_s"))
    return q if same else None


def _topological(in_name, pops, pop_edges, source):
    """Populations in feed-forward order; a cycle other than a layer's loop to itself is an error."""
    succ = {p: [] for p in pops}
    indeg = {p: 0 for p in pops}
    for a, b in pop_edges:
        if a == in_name:
            continue
        succ[a].append(b)
        indeg[b] += 1
    ready = [p for p in pops if indeg[p] == 0]
    order = []
    while ready:
        p = ready.pop(0)
        order.append(p)
        for q in sorted(succ[p]):
            indeg[q] -= 1
            if indeg[q] == 0:
                ready.append(q)
    if len(order) != len(pops):
        left = [p for p in pops if p not in order]
        # name one cycle
        start = left[0]
        path, cur = [start], start
        while True:
            cur = next(q for q in succ[cur] if q in left)
            if cur in path:
                path = path[path.index(cur):] + [cur]
                break
            path.append(cur)
        raise NIRError(f"{source}: cycle {' -> '.join(path)} between different neuron nodes: axon runs recurrence "
                       "only as a layer's connection to itself (lateral or recurrent); a loop through several "
                       "layers has no place in its layer order")
    return order


def import_nir(path, dt_s: float | None = None, step_rule: str | None = None, reset: str | None = None) -> Network:
    """Read a NIR file (:func:`read_nir`) and convert it with :func:`from_nir`."""
    return from_nir(read_nir(path), dt_s=dt_s, step_rule=step_rule, reset=reset, source=str(path))
