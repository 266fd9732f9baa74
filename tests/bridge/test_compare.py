"""bridge.compare: identity, shifted and extra spikes, first divergence, matching, rate
correlation, van Rossum distance (hand-computed and against a brute-force sum), errors,
and the files written."""
import json
import math

import numpy as np
import pytest

from bridge.compare import compare_runs, match_spikes, van_rossum_distance, write_comparison
from sim.model.results import Counts, SimResult, SpikeTrains

DURATION = 0.2


def _run(seed: int = 0) -> dict:
    """Two layers of random spikes, time-ordered as an engine emits them; spikes of one
    neuron at least 3 ms apart so matching within 1 ms is unambiguous."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, size in (("h1", 6), ("h2", 4)):
        t, n = [], []
        for k in range(size):
            tk = np.cumsum(rng.uniform(0.003, 0.03, 12))
            tk = tk[tk < DURATION]
            t.append(tk)
            n.append(np.full(tk.shape, k))
        t, n = np.concatenate(t), np.concatenate(n)
        order = np.argsort(t, kind="stable")
        out[name] = SpikeTrains(times_s=t[order], neurons=n[order], size=size)
    return out


def _copy(run: dict) -> dict:
    return {k: SpikeTrains(v.times_s.copy(), v.neurons.copy(), v.size) for k, v in run.items()}


def _shift_one(run: dict, layer: str, neuron: int, which: int, by_s: float) -> tuple[dict, float]:
    """Shift the ``which``-th spike of ``neuron`` by ``by_s``; returns the run and the old time."""
    r = _copy(run)
    idx = np.flatnonzero(r[layer].neurons == neuron)[which]
    old = float(r[layer].times_s[idx])
    r[layer].times_s[idx] += by_s
    return r, old


def test_identical_runs():
    a = _run()
    c = compare_runs(a, _copy(a), duration_s=DURATION, labels=("grid", "brian2"))
    assert c.identical
    for row in [*c.layers.values(), c.overall]:
        assert row.identical
        assert row.first_divergence_s is None
        assert row.mean_van_rossum == 0.0
        assert np.all(row.van_rossum == 0.0)
        assert row.neurons_differing == 0 and row.neurons_count_differ == 0
        assert row.unmatched_a == 0 and row.unmatched_b == 0
        assert row.n_matched == row.spikes_a == row.spikes_b
        assert row.max_abs_dt_s == 0.0
        assert row.rate_corr == pytest.approx(1.0, abs=1e-12)
    assert c.overall.spikes_a == sum(len(v) for v in a.values())


def test_one_spike_shifted_half_ms():
    a = _run()
    b, old = _shift_one(a, "h2", 2, 3, 0.5e-3)
    c = compare_runs(a, b, duration_s=DURATION, time_tol_s=0.0)
    h2 = c.layers["h2"]
    assert not c.identical and not h2.identical and c.layers["h1"].identical
    # the first divergence is at the earlier of the two times (the original one, shifted later)
    assert h2.first_divergence_s == old
    assert c.overall.first_divergence_s == old
    assert (c.overall.first_divergence_layer, c.overall.first_divergence_neuron) == ("h2", 2)
    assert h2.neurons_differing == 1 and h2.neurons_count_differ == 0
    assert h2.n_matched == h2.spikes_a and h2.unmatched_a == 0 and h2.unmatched_b == 0
    nonzero = h2.dt_s[h2.dt_s != 0]
    assert nonzero.shape == (1,)
    assert nonzero[0] == pytest.approx(0.5e-3, rel=1e-9)
    assert h2.max_abs_dt_s == pytest.approx(0.5e-3, rel=1e-9)
    assert h2.mean_dt_s == pytest.approx(0.5e-3 / h2.n_matched, rel=1e-9)
    assert h2.van_rossum[2] > 0 and np.all(np.delete(h2.van_rossum, 2) == 0)

    # shifted earlier: divergence is again at the earlier time, now the time in b
    b2, old2 = _shift_one(a, "h1", 0, 1, -0.5e-3)
    c2 = compare_runs(a, b2, duration_s=DURATION)
    assert c2.overall.first_divergence_s == pytest.approx(old2 - 0.5e-3, rel=1e-12)

    # within the tolerance: identical, no divergence
    ct = compare_runs(a, b, duration_s=DURATION, time_tol_s=1e-3)
    assert ct.identical and ct.overall.first_divergence_s is None


def test_extra_spike():
    a = _run()
    b = _copy(a)
    t_extra = 0.1234567  # not within 1 ms of any spike of neuron 1 (checked below)
    tr = b["h1"]
    assert np.min(np.abs(tr.times_s[tr.neurons == 1] - t_extra)) > 1e-3
    pos = int(np.searchsorted(tr.times_s, t_extra))
    b["h1"] = SpikeTrains(np.insert(tr.times_s, pos, t_extra), np.insert(tr.neurons, pos, 1), tr.size)
    c = compare_runs(a, b, duration_s=DURATION, labels=("grid", "exact"))
    h1 = c.layers["h1"]
    assert not c.identical
    assert h1.spikes_b == h1.spikes_a + 1
    assert h1.count_diff.tolist() == [0, 1, 0, 0, 0, 0]
    assert h1.max_abs_count_diff == 1 and h1.neurons_count_differ == 1
    assert h1.unmatched_a == 0 and h1.unmatched_b == 1 and h1.n_matched == h1.spikes_a
    assert h1.max_abs_dt_s == 0.0
    assert c.overall.unmatched_b == 1
    # neuron 1's sorted trains agree up to the extra spike, so it is the first divergence
    assert h1.first_divergence_s == t_extra
    # one isolated extra spike (others > 1 ms = 0.1 tau away) adds about 1/2 to D^2
    assert 0.3 < h1.van_rossum[1] ** 2 < 0.6


def test_van_rossum_one_spike_each_hand_computed():
    # f_a = e^{-(t-t1)/tau} H(t-t1), f_b likewise at t2 > t1, d = t2 - t1, q = e^{-d/tau}.
    # (1/tau) int_{t1}^{t2} e^{-2(t-t1)/tau} dt = (1 - q^2)/2
    # (1/tau) int_{t2}^{inf} e^{-2(t-t2)/tau} (q - 1)^2 dt = (1 - q)^2 / 2
    # D^2 = [(1 - q^2) + (1 - q)^2] / 2 = 1 - q
    tau, t1, t2 = 0.01, 0.0123, 0.0171
    expected = math.sqrt(1.0 - math.exp(-(t2 - t1) / tau))
    assert van_rossum_distance(np.array([t1]), np.array([t2]), tau) == pytest.approx(expected, rel=1e-12)
    assert van_rossum_distance(np.array([t2]), np.array([t1]), tau) == pytest.approx(expected, rel=1e-12)
    # one spike against none: D^2 = 1/2
    assert van_rossum_distance(np.array([t1]), np.zeros(0), tau) == pytest.approx(math.sqrt(0.5), rel=1e-12)
    # through compare_runs, one neuron
    a = {"x": SpikeTrains(np.array([t1]), np.array([0]), 1)}
    b = {"x": SpikeTrains(np.array([t2]), np.array([0]), 1)}
    c = compare_runs(a, b, duration_s=0.05, van_rossum_tau_s=tau, match_window_s=1e-2)
    assert c.layers["x"].van_rossum[0] == pytest.approx(expected, rel=1e-12)
    assert c.layers["x"].dt_s.tolist() == pytest.approx([t2 - t1], rel=1e-12)
    assert c.layers["x"].first_divergence_s == t1
    # one neuron: both rate vectors constant and equal -> 1.0
    assert c.layers["x"].rate_corr == 1.0


def _van_rossum_brute(ta, tb, tau):
    """Every pair, no cutoff: D^2 = (Saa + Sbb)/2 - Sab."""
    s = lambda x, y: float(np.exp(-np.abs(np.subtract.outer(x, y)) / tau).sum())  # noqa: E731
    return math.sqrt(max(0.5 * (s(ta, ta) + s(tb, tb)) - s(ta, tb), 0.0))


def test_van_rossum_against_all_pairs():
    rng = np.random.default_rng(3)
    for tau in (1e-3, 0.01, 0.5):
        for na, nb in ((0, 3), (5, 5), (20, 17), (1, 40)):
            ta = np.sort(rng.uniform(0, 1.0, na))
            tb = np.sort(rng.uniform(0, 1.0, nb))
            assert van_rossum_distance(ta, tb, tau) == pytest.approx(_van_rossum_brute(ta, tb, tau),
                                                                     rel=1e-9, abs=1e-12)


def test_match_spikes_greedy():
    ta = np.array([0.010, 0.020, 0.0300])
    tb = np.array([0.0095, 0.0250, 0.0304, 0.040])
    ia, ib = match_spikes(ta, tb, 1e-3)
    assert ia.tolist() == [0, 2] and ib.tolist() == [0, 2]
    ia, ib = match_spikes(np.zeros(0), tb, 1e-3)
    assert ia.size == 0 and ib.size == 0


def test_rate_corr_constant_cases():
    # neuron 0 and 1 both fire once in a, twice in b: constant but different
    a = {"x": SpikeTrains(np.array([0.01, 0.02]), np.array([0, 1]), 2)}
    b = {"x": SpikeTrains(np.array([0.01, 0.02, 0.05, 0.06]), np.array([0, 1, 0, 1]), 2)}
    c = compare_runs(a, b, duration_s=0.1)
    assert math.isnan(c.layers["x"].rate_corr)
    assert "constant" in c.layers["x"].rate_corr_note
    assert c.to_dict()["layers"]["x"]["rate_corr"] is None


def test_mismatched_layers_raise():
    a = _run()
    b = _copy(a)
    del b["h2"]
    with pytest.raises(ValueError, match="'h2'"):
        compare_runs(a, b, duration_s=DURATION)
    with pytest.raises(ValueError, match="'h2'"):
        compare_runs(b, a, duration_s=DURATION)
    c = _copy(a)
    c["h1"] = SpikeTrains(c["h1"].times_s, c["h1"].neurons, 7)
    with pytest.raises(ValueError, match="'h1'.*6.*7"):
        compare_runs(a, c, duration_s=DURATION)
    with pytest.raises(ValueError, match="duration_s"):
        compare_runs(a, a)
    with pytest.raises(ValueError, match="neuron index"):
        compare_runs({"x": SpikeTrains(np.array([0.1]), np.array([3]), 2)},
                     {"x": SpikeTrains(np.zeros(0), np.zeros(0, int), 2)}, duration_s=1.0)


def test_simresult_input_and_files(tmp_path):
    a = _run()
    b, _ = _shift_one(a, "h1", 4, 0, -0.3e-3)
    counts = Counts(np.zeros(0, np.int64), {}, {}, {}, {})
    ra, rb = SimResult(a, counts, DURATION), SimResult(b, counts, DURATION)
    c = compare_runs(ra, rb, labels=("grid", "brian2"))
    assert c.duration_s == DURATION and not c.identical
    paths = write_comparison(c, tmp_path / "cmp", ra, rb, window_s=(0.0, 0.1))
    names = sorted(p.name for p in paths)
    assert names == sorted(["comparison.json", "comparison.md", "compare_raster.png",
                            "compare_counts.png", "compare_dt_hist.png"])
    for p in paths:
        assert p.exists() and p.stat().st_size > 0
    d = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert d["labels"] == ["grid", "brian2"] and d["identical"] is False
    assert d["layers"]["h1"]["first_divergence_neuron"] == 4
    assert len(d["layers"]["h1"]["count_diff"]) == 6
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| h1 |" in md and "| h2 |" in md and "spikes grid" in md and "compare_raster.png" in md
