"""Firing rates, operation counts, NeuroBench-named metrics and energy proxies.

Owns the arithmetic that turns a run's :class:`~sim.model.results.Counts` (and a network's
shape) into the numbers people compare: synaptic operations, activation sparsity,
membrane updates, memory footprint, the dense discrete-time equivalent, and an energy
*proxy* from a configurable cost table whose every figure carries its source.

Vocabulary (docs/semantics.md and NeuroBench, Yik et al. 2025, Nature Communications 16:1545):

* **synaptic event** (exact engine): one weight added to one target potential. With
  binary input/spikes this is one accumulate (NeuroBench ``Effective_ACs``); a graded
  input value needs a multiply first (NeuroBench ``Effective_MACs``).
* **lateral update**: one ``V_j -= Omega[j, i]`` (an accumulate).
* **state update** (event-driven): one catch-up of a potential to the present
  (``V * exp(-s/tau) + drive term``), counted once per neuron per instant it is touched
  (NeuroBench ``MembraneUpdates`` counted event-driven instead of per step).
* **dense equivalent**: the discrete-time network with step ``dt`` that multiplies every
  weight by its (mostly zero) input at every step: per step ``n_synapses`` MACs for the
  projections, ``sum(g**2)`` for the lateral groups, one MAC per neuron for the leak
  (NeuroBench ``Dense``).

Nothing here simulates; everything is closed-form arithmetic on counts, so each
function is checkable by hand (``tests/sim/test_metrics.py``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from sim.errors import reject_unknown_fields
from sim.model.network import INPUT, Network
from sim.model.results import Counts

__all__ = [
    "CostTable", "COST_TABLES", "cost_table", "reference_dt_s",
    "network_shape", "footprint", "engine_memory", "connection_sparsity", "dense_equivalent",
    "operation_totals", "synaptic_operations", "activation_sparsity", "membrane_updates",
    "energy_table", "summarize_counts", "bin_spikes", "counts_difference", "ActiveSlotCounter",
]

DEFAULT_DT_S = 1e-3
"""Step of the dense comparison network when neither the caller nor the network gives one."""


# --------------------------------------------------------------------------- cost tables


@dataclass(frozen=True)
class CostTable:
    """Energy per operation, picojoules, with the source of each figure.

    This is a **proxy**: counts of abstract operations times published per-operation
    energies. It ignores memory traffic, routing, static power and idle time, which on
    real hardware often dominate. Use it to compare networks and engines with each other,
    not to predict a power meter.

    Parameters
    ----------
    name : str
    pj_synaptic_event, pj_lateral_update, pj_state_update, pj_spike, pj_input_event : float
        Energy of one operation of each kind (pJ, >= 0).
    pj_dense_mac : float
        Energy of one multiply-accumulate of the dense discrete-time equivalent, pJ.
    sources : dict
        One entry per figure above: where it comes from (citation) or why it is 0.
    note : str
        What the table stands for.
    """

    name: str
    pj_synaptic_event: float
    pj_lateral_update: float
    pj_state_update: float
    pj_spike: float
    pj_input_event: float
    pj_dense_mac: float
    sources: dict = field(default_factory=dict)
    note: str = ""

    COST_FIELDS = ("pj_synaptic_event", "pj_lateral_update", "pj_state_update", "pj_spike",
                   "pj_input_event", "pj_dense_mac")

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"CostTable.name must be a non-empty string, got {self.name!r}")
        for f in self.COST_FIELDS:
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(v) or v < 0:
                raise ValueError(f"CostTable {self.name!r}: {f} must be a finite number >= 0 (pJ), got {v!r}")
            object.__setattr__(self, f, float(v))
        missing = [f for f in self.COST_FIELDS if f not in self.sources]
        if missing:
            raise ValueError(f"CostTable {self.name!r}: sources must name the origin of every figure; "
                             f"missing {missing}")

    def to_dict(self) -> dict:
        d = {f: getattr(self, f) for f in self.COST_FIELDS}
        d.update(name=self.name, sources=dict(self.sources), note=self.note)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CostTable":
        reject_unknown_fields(cls, d)
        return cls(**d)

    def with_costs(self, **pj) -> "CostTable":
        """A copy with some figures replaced; their sources become "user override"."""
        bad = sorted(set(pj) - set(self.COST_FIELDS))
        if bad:
            raise ValueError(f"CostTable.with_costs: unknown cost(s) {bad}; known: {list(self.COST_FIELDS)}")
        src = dict(self.sources)
        for k in pj:
            src[k] = "user override"
        return replace(self, name=f"{self.name}+override", sources=src, **pj)


_HOROWITZ = ("M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
             "45 nm CMOS, 0.9 V")
_DAVIES = ("M. Davies et al., 'Loihi: a neuromorphic manycore processor with on-chip learning', "
           "IEEE Micro 38(1):82-99, 2018, Table 2 (pre-silicon / measured operation energies, 14 nm)")
_MEROLLA = ("P. A. Merolla et al., 'A million spiking-neuron integrated circuit with a scalable "
            "communication network and interface', Science 345(6197):668-673, 2014 (28 nm)")

COST_TABLES: dict[str, CostTable] = {
    "cmos45": CostTable(
        name="cmos45",
        pj_synaptic_event=0.9, pj_lateral_update=0.9, pj_state_update=4.6, pj_spike=0.0,
        pj_input_event=0.0, pj_dense_mac=4.6,
        sources={
            "pj_synaptic_event": f"32-bit float add 0.9 pJ (an accumulate, binary input); {_HOROWITZ}",
            "pj_lateral_update": f"32-bit float add 0.9 pJ; {_HOROWITZ}",
            "pj_state_update": f"32-bit float multiply 3.7 pJ + add 0.9 pJ = 4.6 pJ (decay factor times V, "
                               f"plus drive; the exp() is taken as a table look-up and not charged); {_HOROWITZ}",
            "pj_spike": "not charged: the 45 nm table has no routing figure",
            "pj_input_event": "not charged: the front end is outside the network",
            "pj_dense_mac": f"32-bit float multiply 3.7 pJ + add 0.9 pJ = 4.6 pJ; {_HOROWITZ}",
        },
        note="Arithmetic only, 45 nm, 32-bit float; no memory access, no static power."),
    "loihi": CostTable(
        name="loihi",
        pj_synaptic_event=23.6, pj_lateral_update=23.6, pj_state_update=81.0, pj_spike=1.7,
        pj_input_event=0.0, pj_dense_mac=4.6,
        sources={
            "pj_synaptic_event": f"synaptic spike operation (minimum) 23.6 pJ; {_DAVIES}",
            "pj_lateral_update": f"a lateral update is a synaptic operation on chip: 23.6 pJ; {_DAVIES}",
            "pj_state_update": f"neuron update (active) 81 pJ; {_DAVIES}. Loihi updates every neuron every "
                               "time step (52 pJ inactive), so this event-driven count is a lower bound",
            "pj_spike": f"within-tile spike energy 1.7 pJ; {_DAVIES}",
            "pj_input_event": "not charged: the front end is outside the network",
            "pj_dense_mac": f"dense comparison always on the 45 nm figure 4.6 pJ per MAC; {_HOROWITZ}",
        },
        note="Published per-operation figures of Intel Loihi (first generation); a proxy."),
    "truenorth": CostTable(
        name="truenorth",
        pj_synaptic_event=26.0, pj_lateral_update=26.0, pj_state_update=0.0, pj_spike=0.0,
        pj_input_event=0.0, pj_dense_mac=4.6,
        sources={
            "pj_synaptic_event": f"26 pJ per synaptic event (whole-chip active energy divided by synaptic "
                                 f"events, so neuron updates and routing are included here); {_MEROLLA}",
            "pj_lateral_update": f"a lateral update is one synaptic event: 26 pJ; {_MEROLLA}",
            "pj_state_update": "0: included in the 26 pJ per synaptic event",
            "pj_spike": "0: included in the 26 pJ per synaptic event",
            "pj_input_event": "not charged: the front end is outside the network",
            "pj_dense_mac": f"dense comparison always on the 45 nm figure 4.6 pJ per MAC; {_HOROWITZ}",
        },
        note="Published energy per synaptic event of IBM TrueNorth; a proxy."),
}
"""Named cost tables. ``cmos45`` is the default."""


def cost_table(spec="cmos45") -> CostTable:
    """Look up a cost table by name (or pass a :class:`CostTable` / dict through)."""
    if isinstance(spec, CostTable):
        return spec
    if isinstance(spec, dict):
        return CostTable.from_dict(spec)
    if spec not in COST_TABLES:
        raise ValueError(f"unknown cost table {spec!r}; known: {sorted(COST_TABLES)}")
    return COST_TABLES[spec]


# --------------------------------------------------------------------------- network shape


def reference_dt_s(network: Network, dt_s: float | None = None) -> float:
    """Step of the dense comparison: ``dt_s`` if given, else the network's training step
    (``network.task.dt_s`` or a projection's ``dt_s``), else :data:`DEFAULT_DT_S`."""
    if dt_s is not None:
        dt = float(dt_s)
    else:
        dt = network.task.dt_s if network.task is not None else None
        if dt is None:
            dts = [p.dt_s for p in network.projections if p.dt_s is not None]
            dt = dts[0] if dts else DEFAULT_DT_S
        dt = float(dt)
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt_s must be a finite number > 0, got {dt!r}")
    return dt


def network_shape(network: Network) -> dict:
    """Per layer: neurons, incoming synapses, lateral groups and lateral entries (``sum g**2``).

    Returns ``{layer: {"neurons", "synapses_in", "lateral_entries", "spiking"}}``.
    """
    out = {}
    for l in network.all_layers:
        syn = sum(p.n_synapses for p in network.projections if p.post == l.name)
        lat = network.lateral(l.name) if l.spiking else None
        lat_entries = int(lat.omega.size) if lat is not None else 0
        out[l.name] = {"neurons": int(l.size), "synapses_in": int(syn), "lateral_entries": lat_entries,
                       "spiking": bool(l.spiking)}
    return out


def footprint(network: Network, bytes_per_value: int = 4) -> dict:
    """Memory footprint of the parameters (NeuroBench ``Footprint``), bytes.

    Counts what a deployed network must store: per synapse a weight and a delay (and a
    target index, ``4`` bytes, since projections are sparse), per lateral entry one
    value, per neuron tau, drive and threshold, and the state (one potential per
    neuron). ``bytes_per_value`` is 4 for float32 deployment (the model file itself
    stores float64: pass 8).

    Returns ``{"total_bytes", "per_layer": {layer: bytes}, "bytes_per_value"}``.
    """
    if bytes_per_value not in (1, 2, 4, 8):
        raise ValueError(f"footprint: bytes_per_value must be 1, 2, 4 or 8, got {bytes_per_value!r}")
    per = {}
    for name, s in network_shape(network).items():
        b = s["synapses_in"] * (2 * bytes_per_value + 4)
        b += s["lateral_entries"] * bytes_per_value
        b += s["neurons"] * 4 * bytes_per_value  # tau, drive, threshold, potential
        per[name] = int(b)
    return {"total_bytes": int(sum(per.values())), "per_layer": per, "bytes_per_value": int(bytes_per_value)}


def engine_memory(network: Network, dt_s: float | None = None) -> dict:
    """What a network occupies: in the model file, and in each engine's flat arrays (measured).

    A convolutional projection is stored as its kernel and geometry (``sim.Conv1D``) but
    every engine runs the expanded synapses: this reports both, so the cost of the
    expansion is visible. Bytes are the ``nbytes`` of the arrays each engine builds from
    the network (``sim.engines.compiled.compile_network`` for the exact engine, the grid engine's
    arrays for ``dt_s``), i.e. what one simulator instance holds besides its state.

    Returns ``{"projections": [{"projection", "kind", "synapses", "stored_values",
    "stored_bytes"}], "lateral_entries", "stored_bytes", "exact_engine_bytes",
    "grid_engine_bytes" (None when ``dt_s`` is None or the network is not on that grid)}``.
    """
    from sim.engines.compiled import compile_network

    projs, stored = [], 0
    for p in network.projections:
        if p.conv is not None:
            vals = p.conv.kernel.size * (2 + (p.conv.delay_steps is not None))
            kind = "conv1d"
        else:
            vals = p.n_synapses * (4 + (p.delay_steps is not None))
            kind = "sparse"
        projs.append({"projection": f"{p.pre}->{p.post}", "kind": kind, "synapses": int(p.n_synapses),
                      "stored_values": int(vals), "stored_bytes": int(8 * vals)})
        stored += 8 * vals
    lat_entries = int(sum(lat.omega.size + lat.members.size for lat in network.laterals))
    stored += 8 * lat_entries

    def nbytes(tup) -> int:
        return int(sum(v.nbytes for v in tup if isinstance(v, np.ndarray)))

    exact = nbytes(compile_network(network))
    grid = None
    if dt_s is not None:
        from sim.engines.grid import grid_arrays
        try:
            grid = nbytes(grid_arrays(network, float(dt_s)))
        except ValueError:
            grid = None
    return {"projections": projs, "lateral_entries": lat_entries, "stored_bytes": int(stored),
            "exact_engine_bytes": exact, "grid_engine_bytes": grid}


def connection_sparsity(network: Network) -> dict:
    """NeuroBench ``ConnectionSparsity``: fraction of zero weights among all possible
    ``pre x post`` connections of the projections present (a missing sparse synapse
    counts as a zero weight). Lateral matrices are not included."""
    possible = nonzero = 0
    per = {}
    for p in network.projections:
        n = network.size_of(p.pre) * network.size_of(p.post)
        nz = int(np.count_nonzero(p.weight))
        per[f"{p.pre}->{p.post}"] = 1.0 - nz / n if n else 0.0
        possible += n
        nonzero += nz
    return {"total": 1.0 - nonzero / possible if possible else 0.0, "per_projection": per}


def dense_equivalent(network: Network, duration_s: float, dt_s: float | None = None) -> dict:
    """MACs of the dense discrete-time network over ``duration_s`` (NeuroBench ``Dense``).

    Per step of ``dt_s``: every synapse one MAC, every lateral entry one MAC, every
    neuron one MAC for its leak. ``n_steps = ceil(duration_s / dt_s)``.

    Returns ``{"dt_s", "n_steps", "macs", "macs_per_layer"}`` (ints).
    """
    if not np.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"duration_s must be finite and >= 0, got {duration_s!r}")
    dt = reference_dt_s(network, dt_s)
    n_steps = int(np.ceil(duration_s / dt - 1e-9)) if duration_s > 0 else 0
    per = {name: n_steps * (s["synapses_in"] + s["lateral_entries"] + s["neurons"])
           for name, s in network_shape(network).items()}
    return {"dt_s": dt, "n_steps": n_steps, "macs": int(sum(per.values())), "macs_per_layer": per}


# --------------------------------------------------------------------------- counts


def operation_totals(counts: Counts) -> dict:
    """Totals of every operation kind, overall and per layer (plain ints)."""
    t = counts.totals()
    return {
        "input_events": t["input_events"],
        "spikes": t["spikes"],
        "synaptic_events": t["synaptic_events"],
        "lateral_updates": t["lateral_updates"],
        "state_updates": t["state_updates"],
        "per_layer": {k: {"spikes": t["spikes_per_layer"].get(k, 0),
                          "synaptic_events": t["synaptic_events_per_layer"][k],
                          "lateral_updates": t["lateral_updates_per_layer"][k],
                          "state_updates": t["state_updates_per_layer"][k]}
                      for k in t["synaptic_events_per_layer"]},
    }


def counts_difference(after: Counts, before: Counts | None) -> Counts:
    """``after - before`` for every counter (the operations of one window of a stream)."""
    if before is None:
        return after
    def d(a, b):
        return {k: a[k] - b[k] for k in a}
    return Counts(after.input_events - before.input_events, d(after.spikes, before.spikes),
                  d(after.synaptic_events, before.synaptic_events),
                  d(after.lateral_updates, before.lateral_updates), d(after.state_updates, before.state_updates))


def synaptic_operations(network: Network, counts: Counts, duration_s: float, dt_s: float | None = None,
                        graded_input: bool = False) -> dict:
    """NeuroBench ``SynapticOperations``: ``Effective_ACs``, ``Effective_MACs``, ``Dense``.

    ``Effective_ACs`` are synaptic events triggered by binary spikes plus lateral updates;
    synaptic events triggered by input events count as MACs instead when
    ``graded_input`` (input values other than 1 need a multiply). ``Dense`` is
    :func:`dense_equivalent`'s MACs. Synaptic events caused by input events are
    ``sum over input channels of events x fan-out``.
    """
    fan_in = _input_fanout(network)
    from_input = int(np.dot(counts.input_events.astype(np.int64), fan_in))
    syn = int(sum(int(v.sum()) for v in counts.synaptic_events.values()))
    lat = int(sum(int(v.sum()) for v in counts.lateral_updates.values()))
    macs = from_input if graded_input else 0
    acs = syn - macs + lat
    return {"Effective_ACs": int(acs), "Effective_MACs": int(macs),
            "Dense": dense_equivalent(network, duration_s, dt_s)["macs"]}


def _input_fanout(network: Network) -> np.ndarray:
    fan = np.zeros(network.n_inputs, np.int64)
    for p in network.projections:
        if p.pre == INPUT:
            fan += np.bincount(p.pre_idx, minlength=network.n_inputs)
    return fan


def activation_sparsity(network: Network, counts: Counts, duration_s: float, dt_s: float | None = None,
                        active_slots: dict | None = None) -> dict:
    """NeuroBench ``ActivationSparsity``: ``1 - active / (neurons x steps)`` over the
    spiking layers, where a (neuron, step of ``dt_s``) slot is active if the neuron fired
    in it. ``active_slots`` (per layer, from :class:`ActiveSlotCounter`) gives the exact
    count; without it the spike count is used, which equals it when no neuron fires
    twice within one step (and is then clipped at the number of slots). Per layer and total."""
    dt = reference_dt_s(network, dt_s)
    n_steps = int(np.ceil(duration_s / dt - 1e-9)) if duration_s > 0 else 0
    per, tot_spk, tot_slots = {}, 0, 0
    for l in network.layers:
        slots = l.size * n_steps
        spk = int(active_slots[l.name]) if active_slots is not None else int(counts.spikes[l.name].sum())
        spk = min(spk, slots)
        per[l.name] = 1.0 - spk / slots if slots else 1.0
        tot_spk += spk
        tot_slots += slots
    return {"total": 1.0 - tot_spk / tot_slots if tot_slots else 1.0, "per_layer": per, "dt_s": dt,
            "exact": active_slots is not None}


class ActiveSlotCounter:
    """Counts active (neuron, step) slots of a spike stream fed in time order, chunk by chunk.

    A slot is step ``floor(t / dt_s)`` of one neuron; it is counted once however many
    spikes fall in it. State: the last counted step of every neuron (bounded), so the
    count does not depend on how the stream is chunked.
    """

    def __init__(self, network: Network, dt_s: float | None = None):
        self.dt_s = reference_dt_s(network, dt_s)
        offs = network.offsets()
        self.names = [l.name for l in network.layers]
        self.first = np.array([offs[n] for n in self.names], np.int64)
        self.stop = np.array([offs[l.name] + l.size for l in network.layers], np.int64)
        self.n_spiking = int(self.stop[-1]) if len(self.names) else 0
        self.last = np.full(self.n_spiking, -1, np.int64)
        self.active = np.zeros(len(self.names), np.int64)

    def update(self, times_s: np.ndarray, neurons: np.ndarray) -> None:
        """Spikes with global ids, sorted by time (readout ids are ignored)."""
        if times_s.size == 0:
            return
        m = neurons < self.n_spiking
        t, i = times_s[m], neurons[m]
        step = np.floor(t / self.dt_s).astype(np.int64)
        # first occurrence of each (neuron, step) pair in this chunk, in a stable order
        order = np.lexsort((step, i))
        i_s, s_s = i[order], step[order]
        new = np.ones(i_s.size, bool)
        new[1:] = (np.diff(i_s) != 0) | (np.diff(s_s) != 0)
        i_u, s_u = i_s[new], s_s[new]
        fresh = s_u != self.last[i_u]
        # the last step per neuron in this chunk is the largest (pairs sorted by step within a neuron)
        last_idx = np.ones(i_u.size, bool)
        last_idx[:-1] = i_u[1:] != i_u[:-1]
        self.last[i_u[last_idx]] = s_u[last_idx]
        layer = np.searchsorted(self.stop, i_u[fresh], side="right")
        self.active += np.bincount(layer, minlength=len(self.names))[:len(self.names)]

    def counts(self) -> dict:
        return {n: int(c) for n, c in zip(self.names, self.active)}


def membrane_updates(network: Network, counts: Counts, duration_s: float, dt_s: float | None = None) -> dict:
    """NeuroBench ``MembraneUpdates``: event-driven (this engine) vs dense (every neuron every step)."""
    dt = reference_dt_s(network, dt_s)
    n_steps = int(np.ceil(duration_s / dt - 1e-9)) if duration_s > 0 else 0
    ev = int(sum(int(v.sum()) for v in counts.state_updates.values()))
    return {"event_driven": ev, "dense": int(network.n_neurons * n_steps), "dt_s": dt}


# --------------------------------------------------------------------------- energy


def energy_table(network: Network, counts: Counts, duration_s: float, costs="cmos45",
                 dt_s: float | None = None) -> dict:
    """Energy proxy: count x cost for every operation kind, with sources.

    Returns a JSON-ready dict::

        {"label": "energy PROXY ...", "cost_table": {...},
         "rows": [{"operation", "count", "pj_each", "energy_j", "source"}, ...],
         "total_j", "per_layer_j": {layer: J},
         "dense_equivalent": {"macs", "pj_each", "energy_j", "dt_s", "source"},
         "ratio_dense_to_event": float}

    ``total_j`` is exactly the sum of the rows' ``energy_j`` (tested), and the per-layer
    split sums to it as well (input events are put under the key ``"input"``).
    """
    ct = cost_table(costs)
    tot = operation_totals(counts)
    kinds = (("synaptic_events", "pj_synaptic_event"), ("lateral_updates", "pj_lateral_update"),
             ("state_updates", "pj_state_update"), ("spikes", "pj_spike"), ("input_events", "pj_input_event"))
    rows = []
    for kind, cf in kinds:
        pj = getattr(ct, cf)
        rows.append({"operation": kind, "count": int(tot[kind]), "pj_each": pj,
                     "energy_j": tot[kind] * pj * 1e-12, "source": ct.sources[cf]})
    per_layer = {}
    for name, d in tot["per_layer"].items():
        per_layer[name] = sum(d[kind] * getattr(ct, cf) for kind, cf in kinds if kind != "input_events") * 1e-12
    per_layer["input"] = tot["input_events"] * ct.pj_input_event * 1e-12
    total = float(sum(r["energy_j"] for r in rows))
    dense = dense_equivalent(network, duration_s, dt_s)
    dense_j = dense["macs"] * ct.pj_dense_mac * 1e-12
    return {
        "label": f"energy PROXY from the '{ct.name}' cost table: operation counts x published per-operation "
                 "energies; not a measurement (no memory traffic, routing or static power)",
        "cost_table": ct.to_dict(),
        "rows": rows,
        "total_j": total,
        "per_layer_j": per_layer,
        "dense_equivalent": {"macs": dense["macs"], "pj_each": ct.pj_dense_mac, "energy_j": dense_j,
                             "dt_s": dense["dt_s"], "source": ct.sources["pj_dense_mac"]},
        "ratio_dense_to_event": (dense_j / total) if total > 0 else None,
    }


def summarize_counts(network: Network, counts: Counts, duration_s: float, costs="cmos45",
                     dt_s: float | None = None, active_slots: dict | None = None) -> dict:
    """Everything above in one JSON-ready dict (rates, operations, NeuroBench metrics, energy)."""
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be finite and > 0, got {duration_s!r}")
    rates = {l.name: {"mean_hz": float(counts.spikes[l.name].sum() / (l.size * duration_s)),
                      "max_hz": float(counts.spikes[l.name].max() / duration_s),
                      "silent_fraction": float(np.mean(counts.spikes[l.name] == 0))}
             for l in network.layers}
    return {
        "duration_s": float(duration_s),
        "rates": rates,
        "input_rate_hz": float(counts.input_events.sum() / duration_s),
        "operations": operation_totals(counts),
        "neurobench": {
            "synaptic_operations": synaptic_operations(network, counts, duration_s, dt_s),
            "activation_sparsity": activation_sparsity(network, counts, duration_s, dt_s, active_slots),
            "membrane_updates": membrane_updates(network, counts, duration_s, dt_s),
            "footprint": footprint(network),
            "connection_sparsity": connection_sparsity(network),
        },
        "energy": energy_table(network, counts, duration_s, costs, dt_s),
    }


# --------------------------------------------------------------------------- rates over time


def bin_spikes(times_s: np.ndarray, neurons: np.ndarray, layer_bounds: list[tuple[int, int]],
               t0_s: float, bin_s: float, n_bins: int) -> np.ndarray:
    """Spike counts per (bin, layer) for spikes with global ids.

    ``layer_bounds[k] = (first, stop)`` global ids of layer ``k``. Bins are
    ``[t0 + i bin_s, t0 + (i+1) bin_s)``; spikes outside them are ignored.
    Returns ``(n_bins, n_layers)`` int64.
    """
    out = np.zeros((n_bins, len(layer_bounds)), np.int64)
    if times_s.size == 0 or n_bins == 0:
        return out
    b = np.floor((np.asarray(times_s) - t0_s) / bin_s).astype(np.int64)
    ok = (b >= 0) & (b < n_bins)
    for k, (a, z) in enumerate(layer_bounds):
        m = ok & (neurons >= a) & (neurons < z)
        out[:, k] = np.bincount(b[m], minlength=n_bins)[:n_bins]
    return out
