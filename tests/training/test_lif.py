"""LIF step: hand-computed cases, reset modes, step-granular lateral effect, surrogates."""
import math

import numpy as np
import pytest
import torch

from training.lif import LIFParams, LIFState, beta_from_tau, drive_per_step, li_step, lif_step, run_lif
from training.surrogate import spike_fn


def _params(n, tau_s=0.02, dt_s=0.01, b_hz=0.0, thr=1.0, reset="subtract", omega=None):
    beta = torch.from_numpy(beta_from_tau(np.full(n, tau_s), dt_s))
    tau = torch.full((n,), tau_s, dtype=torch.float64)
    drive = drive_per_step(beta, torch.full((n,), b_hz, dtype=torch.float64), tau)
    return LIFParams(beta=beta, drive=drive, threshold=torch.full((n,), thr, dtype=torch.float64),
                     reset=reset, omega=omega)


def test_lif_step_matches_hand_computation():
    # dt = 10 ms, tau = 20 ms  ->  beta = exp(-0.5) = 0.6065306597126334
    # drive b = 5 /s           ->  (1 - beta) * b * tau = 0.39346934 * 5 * 0.02 = 0.039346934028736656
    # inputs I = [0.7, 0.6, 0, 0], threshold 1, reset subtract:
    #   n=0: V = 0.6065*0 + 0.03935 + 0.7                = 0.73934693  (no spike)
    #   n=1: V = 0.6065*0.73934693 + 0.03935 + 0.6
    #          = 0.44843658 + 0.03934693 + 0.6             = 1.08778352  -> spike, V <- 0.08778352
    #   n=2: V = 0.6065*0.08778352 + 0.03935 + 0          = 0.09259033
    #   n=3: V = 0.6065*0.09259033 + 0.03935              = 0.09550581
    beta = math.exp(-0.5)
    drive = (1 - beta) * 5.0 * 0.02
    assert drive == pytest.approx(0.039346934028736656, rel=1e-14)
    v0 = drive + 0.7
    v1 = beta * v0 + drive + 0.6
    v1r = v1 - 1.0
    v2 = beta * v1r + drive
    v3 = beta * v2 + drive
    expected_v = [v0, v1r, v2, v3]
    assert [round(x, 8) for x in expected_v] == [0.73934693, 0.08778352, 0.09259033, 0.09550581]

    p = _params(1, b_hz=5.0)
    state = LIFState(torch.zeros(1, 1, dtype=torch.float64))
    spikes, vs = [], []
    for i in [0.7, 0.6, 0.0, 0.0]:
        state, s = lif_step(state, p, torch.tensor([[i]], dtype=torch.float64))
        spikes.append(float(s))
        vs.append(float(state.v))
    assert spikes == [0.0, 1.0, 0.0, 0.0]
    np.testing.assert_allclose(vs, expected_v, rtol=1e-13, atol=0)


def test_drive_matches_continuous_time_solution():
    # SEMANTICS: V(t+s) = V(t) exp(-s/tau) + b tau (1 - exp(-s/tau)). From V=0 with no input,
    # after n steps V = b tau (1 - beta^n); with b tau = 0.8 < threshold it never spikes.
    tau, dt, b = 0.03, 0.001, 0.8 / 0.03
    p = _params(1, tau_s=tau, dt_s=dt, b_hz=b)
    s, v = run_lif(p, torch.zeros(1, 200, 1, dtype=torch.float64))
    n = np.arange(1, 201)
    np.testing.assert_allclose(v[0, :, 0].numpy(), b * tau * (1 - np.exp(-n * dt / tau)), rtol=1e-12)
    assert float(s.sum()) == 0.0


@pytest.mark.parametrize("reset, expected", [("zero", 0.0), ("subtract", 0.25)])
def test_reset_modes(reset, expected):
    p = _params(1, reset=reset)
    state, s = lif_step(LIFState(torch.zeros(1, 1, dtype=torch.float64)), p,
                        torch.tensor([[1.25]], dtype=torch.float64))
    assert float(s) == 1.0
    assert float(state.v) == expected


def test_spike_at_exactly_threshold_and_not_below():
    p = _params(2)
    state, s = lif_step(LIFState(torch.zeros(1, 2, dtype=torch.float64)), p,
                        torch.tensor([[1.0, 1.0 - 1e-12]], dtype=torch.float64))
    assert s.tolist() == [[1.0, 0.0]]


def test_lateral_step_semantics_three_neurons():
    # Omega[j, i]: effect on j of a spike of i. Potentials after integration at this step:
    # V = [1.2, 0.9, 1.0], threshold 1, reset subtract -> neurons 0 and 2 fire together
    # (neuron 2 sits exactly at threshold). Then
    #   V <- V - thr * s - Omega s = V - thr*s - (Omega[:, 0] + Omega[:, 2])
    #   V0 = 1.2 - 1 - (0.5 + 0.1)  = -0.4
    #   V1 = 0.9 - 0 - (-0.3 + 0.2) =  1.0   (pushed to threshold by a negative entry:
    #                                          it does NOT fire at this step, step granularity)
    #   V2 = 1.0 - 1 - (0.1 + 0.5)  = -0.6
    omega = torch.tensor([[0.5, 0.2, 0.1],
                          [-0.3, 0.5, 0.2],
                          [0.1, 0.2, 0.5]], dtype=torch.float64)
    p = _params(3, omega=omega)  # zero leak contribution: start from V=0, inputs carry the values
    state, s = lif_step(LIFState(torch.zeros(1, 3, dtype=torch.float64)), p,
                        torch.tensor([[1.2, 0.9, 1.0]], dtype=torch.float64))
    assert s.tolist() == [[1.0, 0.0, 1.0]]
    np.testing.assert_allclose(state.v.numpy(), [[-0.4, 1.0, -0.6]], rtol=0, atol=1e-15)
    # Next step with no input: neuron 1 decays below threshold before being checked.
    beta = math.exp(-0.5)
    state2, s2 = lif_step(state, p, torch.zeros(1, 3, dtype=torch.float64))
    assert s2.tolist() == [[0.0, 0.0, 0.0]]
    np.testing.assert_allclose(state2.v.numpy(), beta * state.v.numpy(), rtol=1e-15)


def test_lateral_zero_reset_order():
    # Reset first, then the lateral term: zero reset gives V = -Omega[j, i] for the firing neuron.
    omega = torch.tensor([[0.3, 0.0], [0.1, 0.3]], dtype=torch.float64)
    p = _params(2, reset="zero", omega=omega)
    state, s = lif_step(LIFState(torch.zeros(1, 2, dtype=torch.float64)), p,
                        torch.tensor([[1.5, 0.2]], dtype=torch.float64))
    assert s.tolist() == [[1.0, 0.0]]
    np.testing.assert_allclose(state.v.numpy(), [[-0.3, 0.1]], atol=1e-15)


def test_li_step_has_no_threshold():
    p = _params(1)
    p = LIFParams(beta=p.beta, drive=p.drive, threshold=None)
    state = LIFState(torch.zeros(1, 1, dtype=torch.float64))
    state, v = li_step(state, p, torch.tensor([[5.0]], dtype=torch.float64))
    state, v = li_step(state, p, torch.tensor([[0.0]], dtype=torch.float64))
    assert float(v) == pytest.approx(5.0 * math.exp(-0.5), rel=1e-15)


@pytest.mark.parametrize("name", ["fast_sigmoid", "arctan"])
def test_surrogate_forward_exact_backward_smooth(name):
    x = torch.tensor([-1.0, -0.1, 0.0, 0.1, 1.0], dtype=torch.float64, requires_grad=True)
    s = spike_fn(x, name, slope=5.0)
    assert s.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    s.sum().backward()
    g = x.grad.numpy()
    assert g[2] == pytest.approx(1.0)  # both surrogates peak at 1 at threshold
    assert np.all(g > 0) and g[0] < g[1] < g[2] and g[4] < g[3] < g[2]
    if name == "fast_sigmoid":
        assert g[1] == pytest.approx(1 / (5 * 0.1 + 1) ** 2)
    else:
        assert g[1] == pytest.approx(1 / (1 + (math.pi / 2 * 5 * 0.1) ** 2))


def test_bad_params_raise_with_field_name():
    p = _params(1)
    with pytest.raises(ValueError, match="reset"):
        LIFParams(beta=p.beta, drive=p.drive, threshold=p.threshold, reset="hard")
    with pytest.raises(ValueError, match="surrogate"):
        spike_fn(torch.zeros(1), "sigmoidish")
    with pytest.raises(ValueError, match="tau_s must be > 0"):
        beta_from_tau([0.01, -1.0], 0.001)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("lateral", [False, True, "grouped"])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan"])
def test_fused_sequence_matches_autograd_of_step_loop(reset, lateral, surrogate):
    # run_lif uses a hand-written BPTT; it must give autograd's gradients of the plain
    # lif_step loop (same forward, float64). "grouped": one 3x3 Omega shared by two
    # groups of 3 contiguous neurons (a convolutional layer's lateral layout).
    from training.lif import run_lif_steps

    g = torch.Generator().manual_seed(4)
    n, b, t = (6 if lateral == "grouped" else 5), 3, 25
    cur = (torch.rand(b, t, n, generator=g, dtype=torch.float64) * 0.9).requires_grad_()
    drive = (torch.rand(n, generator=g, dtype=torch.float64) * 0.05).requires_grad_()
    w = torch.rand(3 if lateral == "grouped" else n, 4, generator=g, dtype=torch.float64).requires_grad_()
    beta = torch.from_numpy(beta_from_tau(np.full(n, 0.02), 0.01))
    grads = []
    results = []
    for fn in (run_lif, run_lif_steps):
        omega = 0.1 * (w @ w.T) if lateral else None
        p = LIFParams(beta=beta, drive=drive, threshold=torch.ones(n, dtype=torch.float64), reset=reset,
                      omega=omega, surrogate=surrogate, slope=3.0)
        s, v = fn(p, cur)
        wts = torch.linspace(-1, 1, t * n, dtype=torch.float64).reshape(t, n)
        loss = (s * wts).sum() + (s.cumsum(1) ** 2).sum() * 0.01
        gr = torch.autograd.grad(loss, [cur, drive, w] if lateral else [cur, drive])
        grads.append(gr)
        results.append((s.detach(), v.detach()))
    assert float(results[0][0].sum()) > 5
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    for a, b_ in zip(*grads):
        torch.testing.assert_close(a, b_, rtol=1e-10, atol=1e-12)
        assert float(a.abs().sum()) > 0


def test_grouped_lateral_acts_within_each_group_only():
    # Two groups of 2 neurons sharing Omega = [[1, .5], [.25, 2]]: neuron 0 fires alone, so
    # neuron 1 (same group) loses Omega[1, 0] = 0.25 and neurons 2, 3 (other group) nothing;
    # neuron 0 itself loses 1 (threshold, subtract) + Omega[0, 0] = 1 -> 1.2 - 2 = -0.8.
    from training.lif import lateral_input

    om = torch.tensor([[1.0, 0.5], [0.25, 2.0]], dtype=torch.float64)
    p = LIFParams(beta=torch.ones(4, dtype=torch.float64), drive=torch.zeros(4, dtype=torch.float64),
                  threshold=torch.ones(4, dtype=torch.float64), reset="subtract", omega=om)
    st, s = lif_step(LIFState(torch.zeros(1, 4, dtype=torch.float64)), p,
                     torch.tensor([[1.2, 0.5, 0.5, 0.5]], dtype=torch.float64))
    assert s.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(st.v, torch.tensor([[1.2 - 1 - 1.0, 0.5 - 0.25, 0.5, 0.5]], dtype=torch.float64))
    dense = torch.block_diag(om, om)
    x = torch.rand(3, 4, dtype=torch.float64)
    torch.testing.assert_close(lateral_input(x, om), x @ dense.T, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="g dividing"):
        LIFParams(beta=torch.ones(5), drive=torch.zeros(5), threshold=torch.ones(5), omega=torch.eye(2))


def test_leaky_approx_derivative_matches_hand_computation():
    # One neuron, subtract reset, threshold 2, beta = exp(-dt/tau) = exp(-0.5), currents
    # I = [2.5, 0, 2.2, 0.1] over four steps, V[-1] = 0:
    #   n=0: u = 2.5            >= 2: spike, v = 0.5
    #   n=1: u = 0.5 b = 0.303  no spike
    #   n=2: u = 0.303 b + 2.2 = 2.384 >= 2: spike, v = 0.384
    #   n=3: u = 0.384 b + 0.1 = 0.333  no spike
    # gamma = 2 spikes; LF = b^3 s[0] + b^1 s[2] = b^3 + b (ages 3 and 1 at the window end).
    # Correction c = 1 + ln(b) LF / gamma = 1 - 0.5 (b^3 + b) / 2, and
    # ds[n]/du[n] = s[n] c / threshold: c/2 at n = 0 and 2, 0 elsewhere.
    # Loss L = sum_n w_n s[n] with w = [1, 10, 100, 1000]: dL/du = [c/2, 0, 100 c/2, 0].
    # Backward through time without the leak (subtract reset: dv/du = 1):
    #   dL/dI[3] = 0;  dL/dI[2] = 100 c/2;  dL/dI[1] = 100 c/2;  dL/dI[0] = c/2 + 100 c/2.
    from training.surrogate import leaky_approx_derivative

    b = math.exp(-0.5)
    beta = torch.tensor([b], dtype=torch.float64)
    thr = torch.tensor([2.0], dtype=torch.float64)
    cur = torch.tensor([[[2.5], [0.0], [2.2], [0.1]]], dtype=torch.float64, requires_grad=True)
    p = LIFParams(beta=beta, drive=torch.zeros(1, dtype=torch.float64), threshold=thr, reset="subtract",
                  surrogate="leaky_approx", slope=1.0)
    s, _ = run_lif(p, cur)
    assert s.reshape(-1).tolist() == [1.0, 0.0, 1.0, 0.0]
    c = 1 - 0.5 * (b ** 3 + b) / 2
    d = leaky_approx_derivative(s.detach(), beta, thr)
    assert d.reshape(-1).tolist() == pytest.approx([c / 2, 0.0, c / 2, 0.0], rel=1e-14)
    (s.reshape(-1) * torch.tensor([1.0, 10.0, 100.0, 1000.0], dtype=torch.float64)).sum().backward()
    assert cur.grad.reshape(-1).tolist() == pytest.approx([101 * c / 2, 100 * c / 2, 100 * c / 2, 0.0], rel=1e-14)
    # A neuron that never fires gets no gradient (gamma = 0), and the per-step spike_fn
    # cannot differentiate the whole-window derivative.
    silent = torch.full((1, 4, 1), 0.1, dtype=torch.float64)
    assert float(leaky_approx_derivative(silent * 0, beta, thr).abs().sum()) == 0.0
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="whole-window"):
        spike_fn(x, "leaky_approx").sum().backward()
    with pytest.raises(ValueError, match="detach_reset"):
        LIFParams(beta=beta, drive=beta * 0, threshold=thr, surrogate="leaky_approx", detach_reset=False)
