"""The benchmark input (sim.model.examples.poisson_events) is valid for every engine and peer."""
import numpy as np
import pytest

from sim.model.examples import N_IN, poisson_events


@pytest.mark.parametrize("dt_s", [None, 1e-4, 1e-3])
@pytest.mark.parametrize("duration_s", [0.0005, 0.01, 0.3, 5.0])
@pytest.mark.parametrize("seed", [1, 2, 7])
def test_no_event_at_or_before_zero(dt_s, duration_s, seed):
    # Regression: `python -m benchmarks.peers --duration 5` stopped the NEST iaf_psc_delta_ps
    # row with "an event at t=0.0 s" (step 0 was drawn on the grid); NEST refuses t <= 0.
    ev = poisson_events(N_IN, 10.0, duration_s, seed=seed, dt_s=dt_s)
    if len(ev):
        assert ev.times_s.min() > 0.0
        assert ev.times_s.max() < duration_s
    if dt_s is not None:
        steps = np.round(ev.times_s / dt_s)
        assert np.array_equal(ev.times_s, steps * dt_s)   # exactly n * dt_s, n >= 1
        assert np.all(steps >= 1)


def test_grid_input_rate_and_no_duplicates():
    ev = poisson_events(N_IN, 10.0, 5.0, seed=1, dt_s=1e-4)
    assert len(ev) == pytest.approx(N_IN * 10.0 * 5.0, rel=0.02)
    key = ev.times_s * 1e4 * N_IN + ev.channels
    assert np.unique(key).size == len(ev)


def test_step_zero_was_drawn_before_the_fix():
    # The old draw (steps 0 .. n-1) put an event at t = 0 for seed 1 at 5 s: the bug's input.
    rng = np.random.default_rng(1)
    n_steps = 50_000
    counts = rng.binomial(n_steps, 1e-3, size=N_IN)
    old = np.concatenate([rng.choice(n_steps, size=k, replace=False) for k in counts])
    assert old.min() == 0
    assert poisson_events(N_IN, 10.0, 5.0, seed=1, dt_s=1e-4).times_s.min() > 0
