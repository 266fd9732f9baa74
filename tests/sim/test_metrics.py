"""sim.metrics: every figure checked against a hand computation on a tiny network."""
import math

import numpy as np
import pytest

from sim import Counts, Lateral, LIFLayer, Network, Projection, ReadoutLayer
from sim.metrics import (COST_TABLES, ActiveSlotCounter, CostTable, activation_sparsity, connection_sparsity,
                         cost_table, counts_difference, dense_equivalent, energy_table, footprint,
                         membrane_updates, network_shape, reference_dt_s, summarize_counts,
                         synaptic_operations, bin_spikes)


def tiny():
    """3 inputs -> a[2] (dense, one zero weight, 2x2 lateral) -> b[1] (one synapse from a0) -> out[2]."""
    w_a = np.array([[0.5, 0.0, 0.2], [0.1, 0.3, 0.4]])
    return Network(
        3,
        [LIFLayer("a", 2, 0.02), LIFLayer("b", 1, 0.02)],
        [Projection.dense("input", "a", w_a, 0.001),
         Projection.sparse("a", "b", [0], [0], [0.7], [0.002]),
         Projection.dense("b", "out", [[1.0], [-1.0]], 0.0)],
        [Lateral.dense("a", [[0.1, 0.05], [0.05, 0.1]])],
        ReadoutLayer("out", 2, 0.05),
        metadata={"dt_s": 0.01},
    )


def hand_counts():
    return Counts(
        input_events=np.array([2, 0, 1]),
        spikes={"a": np.array([3, 1]), "b": np.array([2])},
        synaptic_events={"a": np.array([3, 3]), "b": np.array([3]), "out": np.array([2, 2])},
        lateral_updates={"a": np.array([4, 4]), "b": np.array([0]), "out": np.array([0, 0])},
        state_updates={"a": np.array([5, 5]), "b": np.array([3]), "out": np.array([2, 2])},
    )


def test_shape_footprint_and_connection_sparsity_by_hand():
    net = tiny()
    s = network_shape(net)
    assert s["a"] == {"neurons": 2, "synapses_in": 6, "lateral_entries": 4, "spiking": True}
    assert s["b"]["synapses_in"] == 1 and s["out"]["synapses_in"] == 2
    fp = footprint(net, bytes_per_value=4)
    # a: 6 synapses x (4 weight + 4 delay + 4 index) + 4 lateral x 4 + 2 neurons x 4 values x 4 = 72 + 16 + 32
    # b: 1 x 12 + 1 x 16 = 28; out: 2 x 12 + 2 x 16 = 56
    assert fp["per_layer"] == {"a": 120, "b": 28, "out": 56}
    assert fp["total_bytes"] == 204
    assert footprint(net, 8)["total_bytes"] == 6 * 20 + 4 * 8 + 2 * 32 + 20 + 32 + 2 * 20 + 2 * 32
    cs = connection_sparsity(net)
    # input->a: 1 zero of 6; a->b: 1 synapse of 2 possible; b->out: none missing -> 2 zeros of 10
    assert cs["per_projection"]["input->a"] == pytest.approx(1 / 6, rel=1e-12)
    assert cs["per_projection"]["a->b"] == pytest.approx(0.5, rel=1e-12)
    assert cs["per_projection"]["b->out"] == 0.0
    assert cs["total"] == pytest.approx(0.2, rel=1e-12)


def test_dense_equivalent_by_hand():
    net = tiny()
    d = dense_equivalent(net, 0.1)  # dt 0.01 from metadata -> 10 steps
    # per step: a 6 + 4 + 2 = 12, b 1 + 0 + 1 = 2, out 2 + 0 + 2 = 4 -> 18 x 10
    assert d["n_steps"] == 10 and d["dt_s"] == 0.01
    assert d["macs_per_layer"] == {"a": 120, "b": 20, "out": 40}
    assert d["macs"] == 180
    assert dense_equivalent(net, 0.1, dt_s=0.001)["macs"] == 1800
    assert dense_equivalent(net, 0.105)["n_steps"] == 11  # a partial step counts as a step
    assert dense_equivalent(net, 0.0)["macs"] == 0


def test_reference_dt_order():
    net = tiny()
    assert reference_dt_s(net) == 0.01
    assert reference_dt_s(net, 0.002) == 0.002
    net.task = None
    assert reference_dt_s(net) == 1e-3
    with pytest.raises(ValueError, match="dt_s"):
        reference_dt_s(net, -1.0)


def test_synaptic_operations_by_hand():
    net, c = tiny(), hand_counts()
    so = synaptic_operations(net, c, 0.1)
    # synaptic events 6 + 3 + 4 = 13, lateral 8 -> 21 accumulates; dense 180
    assert so == {"Effective_ACs": 21, "Effective_MACs": 0, "Dense": 180}
    # graded input: the events caused by inputs (channel 0: 2 events x fan-out 2, channel 2: 1 x 2) need a multiply
    so = synaptic_operations(net, c, 0.1, graded_input=True)
    assert so == {"Effective_ACs": 15, "Effective_MACs": 6, "Dense": 180}


def test_activation_sparsity_and_membrane_updates_by_hand():
    net, c = tiny(), hand_counts()
    a = activation_sparsity(net, c, 0.1)
    # 10 steps: a has 20 slots and 4 spikes, b 10 slots and 2 spikes
    assert a["per_layer"]["a"] == pytest.approx(0.8, rel=1e-12)
    assert a["per_layer"]["b"] == pytest.approx(0.8, rel=1e-12)
    assert a["total"] == pytest.approx(1 - 6 / 30, rel=1e-12)
    assert a["exact"] is False
    exact = activation_sparsity(net, c, 0.1, active_slots={"a": 3, "b": 2})
    assert exact["per_layer"]["a"] == pytest.approx(1 - 3 / 20, rel=1e-12) and exact["exact"]
    # more spikes than slots never makes it negative
    assert activation_sparsity(net, c, 0.01)["per_layer"]["a"] == 0.0
    m = membrane_updates(net, c, 0.1)
    assert m == {"event_driven": 17, "dense": 5 * 10, "dt_s": 0.01}


def test_energy_table_by_hand_and_sums():
    net, c = tiny(), hand_counts()
    e = energy_table(net, c, 0.1, "cmos45")
    rows = {r["operation"]: r for r in e["rows"]}
    assert rows["synaptic_events"]["count"] == 13 and rows["lateral_updates"]["count"] == 8
    assert rows["state_updates"]["count"] == 17 and rows["spikes"]["count"] == 6
    assert rows["input_events"]["count"] == 3
    # 13 x 0.9 + 8 x 0.9 + 17 x 4.6 = 11.7 + 7.2 + 78.2 = 97.1 pJ
    assert e["total_j"] == pytest.approx(97.1e-12, rel=1e-12)
    assert e["total_j"] == pytest.approx(sum(r["energy_j"] for r in e["rows"]), rel=1e-14)
    assert sum(e["per_layer_j"].values()) == pytest.approx(e["total_j"], rel=1e-12)
    assert e["dense_equivalent"]["energy_j"] == pytest.approx(180 * 4.6e-12, rel=1e-12)
    assert e["ratio_dense_to_event"] == pytest.approx(828 / 97.1, rel=1e-12)
    assert "PROXY" in e["label"]
    assert all("Horowitz" in r["source"] or "not charged" in r["source"] for r in e["rows"])
    lo = energy_table(net, c, 0.1, "loihi")
    # 21 synaptic ops x 23.6 + 17 neuron updates x 81 + 6 spikes x 1.7 = 495.6 + 1377 + 10.2
    assert lo["total_j"] == pytest.approx(1882.8e-12, rel=1e-12)
    assert sum(r["energy_j"] for r in lo["rows"]) == pytest.approx(lo["total_j"], rel=1e-14)
    assert "Davies" in lo["rows"][0]["source"]
    tn = energy_table(net, c, 0.1, "truenorth")
    assert tn["total_j"] == pytest.approx(21 * 26e-12, rel=1e-12)
    assert "Merolla" in tn["rows"][0]["source"]


def test_cost_tables_validate_and_override():
    for name, ct in COST_TABLES.items():
        assert set(ct.sources) >= set(CostTable.COST_FIELDS), name
        assert cost_table(name) is ct
        assert CostTable.from_dict(ct.to_dict()) == ct
    with pytest.raises(ValueError, match="unknown cost table"):
        cost_table("nope")
    with pytest.raises(ValueError, match="pj_spike"):
        CostTable("x", 1, 1, 1, -1, 0, 1, sources={f: "s" for f in CostTable.COST_FIELDS})
    with pytest.raises(ValueError, match="sources"):
        CostTable("x", 1, 1, 1, 1, 0, 1, sources={})
    ct = COST_TABLES["cmos45"].with_costs(pj_spike=2.0)
    assert ct.pj_spike == 2.0 and ct.sources["pj_spike"] == "user override"
    e = energy_table(tiny(), hand_counts(), 0.1, ct)
    assert e["total_j"] == pytest.approx((97.1 + 12.0) * 1e-12, rel=1e-12)
    with pytest.raises(ValueError, match="unknown cost"):
        COST_TABLES["cmos45"].with_costs(pj_foo=1.0)


def test_counts_difference_and_summary():
    net, c = tiny(), hand_counts()
    zero = counts_difference(c, c)
    assert zero.input_events.sum() == 0 and all(v.sum() == 0 for v in zero.synaptic_events.values())
    assert counts_difference(c, None) is c
    s = summarize_counts(net, c, 0.1)
    # a: 4 spikes / (2 neurons x 0.1 s) = 20 Hz; max neuron 3 / 0.1 = 30 Hz
    assert s["rates"]["a"]["mean_hz"] == pytest.approx(20.0, rel=1e-12)
    assert s["rates"]["a"]["max_hz"] == pytest.approx(30.0, rel=1e-12)
    assert s["input_rate_hz"] == pytest.approx(30.0, rel=1e-12)
    assert s["neurobench"]["synaptic_operations"]["Effective_ACs"] == 21
    with pytest.raises(ValueError, match="duration_s"):
        summarize_counts(net, c, 0.0)


def test_active_slot_counter_by_hand_and_chunking():
    net = tiny()
    # global ids: a = 0, 1; b = 2; out = 3, 4 (readout ids ignored)
    t = np.array([0.001, 0.002, 0.004, 0.015, 0.015, 0.0199, 0.021])
    i = np.array([0, 0, 2, 0, 1, 1, 0])
    whole = ActiveSlotCounter(net, 0.01)
    whole.update(t, i)
    # neuron 0: steps 0, 0, 1, 2 -> 3 slots; neuron 1: steps 1, 1 -> 1; neuron 2: step 0 -> 1
    assert whole.counts() == {"a": 4, "b": 1}
    for cut in range(len(t) + 1):
        ch = ActiveSlotCounter(net, 0.01)
        ch.update(t[:cut], i[:cut])
        ch.update(t[cut:], i[cut:])
        assert ch.counts() == whole.counts(), cut
    ro = ActiveSlotCounter(net, 0.01)
    ro.update(np.array([0.5]), np.array([3]))
    assert ro.counts() == {"a": 0, "b": 0}


def test_bin_spikes_by_hand():
    t = np.array([0.1, 0.9, 1.0, 1.5, 2.7, 3.2])
    i = np.array([0, 2, 1, 2, 0, 0])
    out = bin_spikes(t, i, [(0, 2), (2, 3)], 0.0, 1.0, 3)
    assert out.tolist() == [[1, 1], [1, 1], [1, 0]]  # 3.2 is outside the 3 bins
