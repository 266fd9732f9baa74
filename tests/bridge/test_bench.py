"""`axon bench` end to end on a short input: files, table, identity verdicts, clear errors."""
import json

import pytest

from bridge import bench
from bridge.cli import main


def _files_ok(out):
    for name in ("bench.json", "bench.md", "bench.png"):
        assert (out / name).stat().st_size > 0, name
    rep = json.loads((out / "bench.json").read_text())
    m = rep["machine"]
    assert m["cpu_model"] and m["cpu_count"] >= 1 and m["ram_gib"] > 0
    assert m["versions"]["numpy"] and m["versions"]["numba"] and m["command"].startswith("axon bench")
    return rep


def test_bench_axon_engines(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["bench", "--out", str(out), "--duration", "0.3", "--peers", "none",
                 "--variants", "nest,continuous"]) == 0
    rep = _files_ok(out)
    rows = {(r["variant"], r["engine"]): r for r in rep["rows"]}
    assert set(rows) == {("continuous", "exact"), ("nest", "exact"), ("nest", "grid")}
    for r in rows.values():
        assert "error" not in r
        assert r["synaptic_events"] > 0 and r["run_s"] > 0 and r["build_s"] > 0 and r["peak_rss_mib"] > 0
        assert r["events_per_s"] == pytest.approx(r["synaptic_events"] / r["run_s"])
    # Both engines count the same synaptic events on the nest variant (identical spikes).
    assert rows[("nest", "exact")]["synaptic_events"] == rows[("nest", "grid")]["synaptic_events"]
    assert rows[("nest", "grid")]["exact_over_this"] == pytest.approx(
        rows[("nest", "exact")]["events_per_s"] / rows[("nest", "grid")]["events_per_s"])
    [check] = rep["identities"]
    assert (check["a"], check["b"], check["identical"]) == ("grid", "exact", True)
    assert check["spikes_a"] == check["spikes_b"] > 50
    printed = capsys.readouterr()
    assert "| nest | axon grid |" in printed.out and "IDENTICAL" in printed.out
    assert "[2/3] nest: axon grid" in printed.err and "[3/3] continuous: axon exact" in printed.err
    assert "| continuous | axon exact |" in (out / "bench.md").read_text()


def test_bench_missing_peer_is_a_one_line_note(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "peer_available",
                        lambda pkg: f"{pkg} is not installed (pip install 'axon[peers]'); its rows are skipped")
    out = tmp_path / "b"
    assert main(["bench", "--out", str(out), "--duration", "0.05", "--variants", "nest",
                 "--engines", "grid,nest,nest_ps,brian2_runtime"]) == 0
    rep = _files_ok(out)
    assert [r["engine"] for r in rep["rows"]] == ["grid"]
    err = capsys.readouterr().err
    assert "brian2 is not installed" in err and "nest is not installed" in err and "Traceback" not in err


@pytest.mark.parametrize("args, msg", [
    (["--engines", "exact,fast"], "--engines: unknown fast"),
    (["--peers", "neuron"], "--peers: unknown neuron"),
    (["--variants", "big"], "--variants: unknown big"),
    (["--duration", "-1"], "--duration"),
    (["--duration", "nan"], "--duration"),
    (["--dt", "0"], "--dt"),
    (["--repeat", "0"], "--repeat"),
    (["--duration", "1e12"], "GiB"),
])
def test_bench_bad_options_one_line_exit_2(tmp_path, capsys, args, msg):
    assert main(["bench", "--out", str(tmp_path / "b"), "--peers", "none", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("axon bench: error:") and msg in err[0]


@pytest.mark.peers
def test_bench_with_peers_identities(tmp_path):
    pytest.importorskip("brian2")
    pytest.importorskip("nest")
    out = tmp_path / "b"
    assert main(["bench", "--out", str(out), "--duration", "0.2", "--variants", "nest",
                 "--engines", "exact,grid,brian2_runtime,nest,nest_ps"]) == 0
    rep = _files_ok(out)
    assert all("error" not in r for r in rep["rows"]), rep["rows"]
    got = {(c["variant"], c["a"], c["b"]): c["identical"] for c in rep["identities"] if c["expected"]}
    assert got == {("nest", "grid", "brian2_runtime"): True, ("nest", "grid", "nest"): True,
                   ("nest", "grid", "exact"): True}
    [ps] = [c for c in rep["identities"] if not c["expected"]]
    assert (ps["a"], ps["b"]) == ("exact", "nest_ps")
    nest_row = next(r for r in rep["rows"] if (r["variant"], r["engine"]) == ("nest", "nest"))
    assert nest_row["exact_over_this"] > 0 and nest_row["grid_over_this"] > 0
