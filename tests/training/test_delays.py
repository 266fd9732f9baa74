"""Per-synapse delays: rounded impulse placement, Gaussian kernel, gradients, conv vs reference."""
import numpy as np
import pytest
import torch

from training.delays import DelayProjection, gaussian_delay_kernel, round_half_up


def _proj(pos, w, max_delay, mode="learned"):
    p = DelayProjection(pos.shape[1], pos.shape[0], max_delay, mode, torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    with torch.no_grad():
        p.pos.copy_(torch.as_tensor(pos, dtype=torch.float64))
        p.weight.copy_(torch.as_tensor(w, dtype=torch.float64))
    return p


def _reference(x, kernel):
    """Slow: I[b, n, o] = sum_i sum_k kernel[o, i, k] * x[b, n - k, i]."""
    b, t, ni = x.shape
    no, _, nk = kernel.shape
    out = np.zeros((b, t, no))
    for n in range(t):
        for k in range(nk):
            if n - k >= 0:
                out[:, n, :] += x[:, n - k, :] @ kernel[:, :, k].T
    return out


def test_round_half_up():
    x = torch.tensor([0.0, 0.49, 0.5, 1.5, 2.5, 2.4999, 7.0])
    assert round_half_up(x).tolist() == [0, 1 - 1, 1, 2, 3, 2, 7]


def test_unit_impulse_lands_at_rounded_delay():
    # One input spike at step 3 on each of 4 input channels; synapse (0, i) has position
    # pos[i] and weight w[i]; the rounded delay is floor(pos + 0.5).
    pos = np.array([[0.0, 2.4, 2.5, 6.0]])
    w = np.array([[1.0, 2.0, 3.0, 4.0]])
    p = _proj(pos, w, max_delay=6)
    p.rounded = True
    for ch, (k, wi) in enumerate(zip([0, 2, 3, 6], w[0])):
        x = torch.zeros(1, 12, 4, dtype=torch.float64)
        x[0, 3, ch] = 1.0
        y = p(x)[0, :, 0].detach().numpy()
        expected = np.zeros(12)
        expected[3 + k] = wi  # delay k: spike at step n reaches V at step n + k (k = 0: same step)
        np.testing.assert_array_equal(y, expected)


def test_gaussian_kernel_tends_to_rounded_as_sigma_vanishes():
    pos = torch.tensor([[0.2, 3.7, 5.0, 1.49]], dtype=torch.float64)
    w = torch.tensor([[1.0, -2.0, 0.5, 3.0]], dtype=torch.float64)
    k = gaussian_delay_kernel(w, pos, 1e-3, 6)  # no NaN from underflow
    assert torch.isfinite(k).all()
    hard = torch.zeros_like(k)
    for i, d in enumerate([0, 4, 5, 1]):
        hard[0, i, d] = w[0, i]
    torch.testing.assert_close(k, hard, rtol=0, atol=1e-12)
    # sigma = 0 is exactly the rounded kernel
    torch.testing.assert_close(gaussian_delay_kernel(w, pos, 0.0, 6), hard, rtol=0, atol=0)
    # and each Gaussian kernel row sums to the weight
    k2 = gaussian_delay_kernel(w, pos, 2.0, 6)
    torch.testing.assert_close(k2.sum(-1), w, rtol=1e-12, atol=0)


@pytest.mark.parametrize("sigma", [2.0, 0.5])
def test_conv_matches_slow_reference(sigma):
    g = torch.Generator().manual_seed(3)
    p = DelayProjection(5, 4, 7, "learned", g, dtype=torch.float64)
    p.sigma = sigma
    x = (torch.rand(2, 20, 5, generator=g, dtype=torch.float64) < 0.3).double()
    ref = _reference(x.numpy(), p.kernel().detach().numpy())
    np.testing.assert_allclose(p(x).detach().numpy(), ref, rtol=1e-12, atol=1e-14)
    p.rounded = True
    ref = _reference(x.numpy(), p.kernel().detach().numpy())
    np.testing.assert_allclose(p(x).detach().numpy(), ref, rtol=1e-12, atol=1e-14)


def test_gradient_flows_to_positions():
    p = _proj(np.array([[2.3, 4.0]]), np.array([[1.0, 1.0]]), max_delay=8)
    p.sigma = 1.5
    x = torch.zeros(1, 16, 2, dtype=torch.float64)
    x[0, 2, :] = 1.0
    # Loss rewards input arriving at step 9 -> both positions should be pushed later.
    target = torch.zeros(16, dtype=torch.float64)
    target[9] = 1.0
    loss = -(p(x)[0, :, 0] * target).sum()
    loss.backward()
    g = p.pos.grad
    assert g is not None and torch.isfinite(g).all()
    assert (g < 0).all()  # descending the gradient increases the delays toward 7
    assert p.weight.grad is not None
    # In rounded mode positions get no gradient (the one-hot kernel is piecewise constant).
    p.pos.grad = None
    p.rounded = True
    (-(p(x)[0, :, 0] * target).sum()).backward()
    assert p.pos.grad is None or float(p.pos.grad.abs().sum()) == 0.0


def test_modes_none_and_fixed():
    g = torch.Generator().manual_seed(1)
    none = DelayProjection(3, 2, 10, "none", g, dtype=torch.float64)
    assert none.max_delay_steps == 0 and not none.pos.requires_grad
    x = torch.rand(1, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(none(x), x @ none.weight.T)
    fixed = DelayProjection(30, 20, 10, "fixed", g, dtype=torch.float64)
    d = fixed.delay_steps()
    assert not fixed.pos.requires_grad and d.min() >= 0 and d.max() <= 10 and len(torch.unique(d)) > 5
    assert torch.equal(fixed.pos, d.double())  # fixed delays are integers
    with pytest.raises(ValueError, match="delay mode"):
        DelayProjection(3, 2, 4, "learnt")


def test_clamp_positions():
    p = _proj(np.array([[-1.0, 9.5]]), np.array([[1.0, 1.0]]), max_delay=8)
    p.clamp_positions()
    assert p.pos.tolist() == [[0.0, 8.0]]


@pytest.mark.parametrize("mode", ["learned", "fixed"])
def test_min_delay_steps_holds_through_init_and_clamping(mode):
    # Brian2 and NEST need every delay >= 1 step: positions start in [min, max], are
    # clamped there, and the rounded delays never fall below min.
    from training.delays import ConvDelayProjection, DelayProjection

    g = torch.Generator().manual_seed(0)
    for p in (DelayProjection(6, 5, 8, mode, g, min_delay_steps=2),
              ConvDelayProjection(8, 1, 3, 3, max_delay_steps=8, mode=mode, generator=g, min_delay_steps=2)):
        assert float(p.pos.detach().min()) >= 2 and int(p.delay_steps().min()) >= 2
        with torch.no_grad():
            p.pos.fill_(0.3)
        p.clamp_positions()
        assert float(p.pos.detach().min()) == 2.0 and int(p.delay_steps().min()) == 2
    # min 0 is the default: the same draws (p = 0 + u * max, bit for bit u * max)
    a = DelayProjection(6, 5, 8, mode, torch.Generator().manual_seed(3))
    b = DelayProjection(6, 5, 8, mode, torch.Generator().manual_seed(3), min_delay_steps=0)
    assert torch.equal(a.pos, b.pos)
    with pytest.raises(ValueError, match="exceeds max_delay_steps"):
        DelayProjection(6, 5, 3, mode, g, min_delay_steps=4)
