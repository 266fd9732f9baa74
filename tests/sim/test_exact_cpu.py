"""benchmarks.exact_cpu: the CPU-time comparison docs/exact-engine.md uses between commits."""
import json

import pytest

from benchmarks import exact_cpu


def test_reports_the_best_of_the_timed_runs_and_the_same_work(capsys):
    assert exact_cpu.main(["--variant", "nest", "--duration", "0.3", "--repeat", "2"]) == 0
    r = json.loads(capsys.readouterr().out.splitlines()[0])
    assert r["variant"] == "nest" and len(r["cpu_s"]) == 2 and r["best_cpu_s"] == min(r["cpu_s"]) > 0
    again = exact_cpu.measure("nest", 0.3, 1)
    assert (again["synaptic_events"], again["spikes"]) == (r["synaptic_events"], r["spikes"]) and r["spikes"] > 0


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--duration", "-1"], ["--variant", "nope"]])
def test_bad_arguments_stop_with_a_usage_error(argv):
    with pytest.raises(SystemExit) as e:
        exact_cpu.main(argv)
    assert e.value.code == 2
