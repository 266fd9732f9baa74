"""Convolutional spiking layers: the convolution against a slow loop, the per-position
lateral groups and Omega = W W^T, batch-norm folding per channel."""
import numpy as np
import pytest
import torch

from tests.reference.conv import conv_currents
from tests.training.test_model import _randomise_bn
from training.config import ModelConfig
from training.delays import ConvDelayProjection
from training.model import SNN, fold_batchnorm


@pytest.mark.parametrize("in_pos, c_in, c_out, K, stride, dilation, mode, layout", [
    (9, 1, 3, 3, 1, 1, "learned", "position_major"),
    (12, 2, 4, 3, 2, 1, "fixed", "position_major"),
    (12, 2, 4, 3, 2, 1, "learned", "channel_major"),  # the front end's UP block, then DOWN block
    (13, 3, 2, 2, 3, 2, "learned", "position_major"),
    (13, 3, 2, 2, 3, 2, "learned", "channel_major"),
    (5, 1, 1, 5, 1, 1, "none", "position_major"),   # one output position, no delays
    (7, 2, 3, 1, 1, 1, "learned", "position_major"),  # kernel of one position
])
def test_rounded_conv_matches_slow_loop(in_pos, c_in, c_out, K, stride, dilation, mode, layout):
    g = torch.Generator().manual_seed(in_pos * 7 + K)
    p = ConvDelayProjection(in_pos, c_in, c_out, K, stride, dilation, max_delay_steps=4, mode=mode, generator=g,
                            dtype=torch.float64, in_layout=layout)
    p.rounded = True
    rng = np.random.default_rng(3)
    x = (rng.random((2, 15, in_pos * c_in)) < 0.3) * rng.integers(1, 3, (2, 15, in_pos * c_in)).astype(np.float64)
    got = p(torch.from_numpy(x)).detach().numpy()
    k = p.weight.detach().numpy()
    d = p.delay_steps().numpy()
    if mode == "learned":
        assert len(np.unique(d)) > 1  # delays really differ between kernel elements
    for b in range(2):
        want = conv_currents(x[b], k, d, in_pos, stride, dilation, layout)
        np.testing.assert_allclose(got[b], want, rtol=1e-12, atol=1e-12)
    assert got.shape == (2, 15, p.out_positions * c_out)


def test_gaussian_conv_matches_slow_loop_over_taps():
    # While training, each kernel element spreads over the taps; I[n, (p, o)] =
    # sum_{i,k,t} K[o, i, k, t] x[n - t, (p s + k d, i)].
    g = torch.Generator().manual_seed(1)
    p = ConvDelayProjection(8, 2, 3, 3, 2, 1, max_delay_steps=5, mode="learned", generator=g, dtype=torch.float64)
    p.sigma = 1.3
    x = torch.rand(1, 12, 16, generator=g, dtype=torch.float64)
    got = p(x)[0].detach().numpy()
    kern = p.kernel().detach().numpy()  # (C_out, C_in, K, taps)
    xn = x[0].numpy()
    want = np.zeros_like(got)
    for n in range(12):
        for q in range(p.out_positions):
            for o in range(3):
                acc = 0.0
                for i in range(2):
                    for k in range(3):
                        for t in range(kern.shape[3]):
                            if n - t >= 0:
                                acc += kern[o, i, k, t] * xn[n - t, (q * 2 + k) * 2 + i]
                want[n, q * 3 + o] = acc
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # and the gradient reaches the positions
    p(x).sum().backward()
    assert float(p.pos.grad.abs().sum()) > 0


def _conv_model(lateral=True, batch_norm=True, seed=0, n_inputs=11, **kw):
    cfg = ModelConfig(**{"hidden": [3, 5], "conv_layers": 1, "conv_kernel": [3], "conv_stride": [2],
                         "conv_dilation": [1], "max_delay_steps": 4, "lateral": lateral, "lateral_scale": 0.5,
                         "batch_norm": batch_norm, "dtype": "float64", **kw})
    return SNN(n_inputs, 2, cfg, 0.01, torch.Generator().manual_seed(seed))


def test_conv_layer_sizes_and_lateral_groups():
    m = _conv_model()
    # 11 bands, kernel 3, stride 2 -> 5 positions of 3 channels = 15 neurons
    assert m.projections[0].out_positions == 5 and m.layer_sizes == [15, 5]
    assert m.lateral_group_size(0) == 3 and m.lateral_group_size(1) == 5
    w = m.projections[0].weight.detach().reshape(3, -1)
    torch.testing.assert_close(m.lateral_matrix(0), 0.5 * w @ w.T, rtol=1e-12, atol=0)
    # A spike of neuron (p=2, c=1) inhibits exactly the channels of position 2.
    s = torch.zeros(1, 15, dtype=torch.float64)
    s[0, 2 * 3 + 1] = 1
    from training.lif import lateral_input
    inh = lateral_input(s, m.lateral_matrix(0))[0]
    assert set(torch.nonzero(inh).reshape(-1).tolist()) == {6, 7, 8}
    torch.testing.assert_close(inh[6:9], m.lateral_matrix(0)[:, 1])


def test_lateral_diagonal_replace_reset():
    """``lateral_diagonal = "replace_reset"``: ``Omega = scale W W^T - threshold I``, so a lone
    spike lowers its own neuron by exactly ``scale ||w_i||^2`` (reset + self term), and its
    group's other members by ``scale w_j . w_i`` as with the default."""
    from training.lif import LIFState, lif_step

    keep = _conv_model(batch_norm=False, seed=3)
    m = _conv_model(batch_norm=False, seed=3, lateral_diagonal="replace_reset", threshold=0.8)
    w = m.projections[0].weight.detach().reshape(3, -1)
    torch.testing.assert_close(m.lateral_matrix(0), 0.5 * w @ w.T - 0.8 * torch.eye(3, dtype=w.dtype),
                               rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(keep.lateral_matrix(0), 0.5 * w @ w.T, rtol=1e-12, atol=0)
    inputs = torch.zeros(1, 15, dtype=torch.float64)
    inputs[0, 2 * 3 + 1] = 1.3  # neuron (p=2, c=1) crosses threshold, nobody else does
    (v,), s = lif_step(LIFState(torch.zeros(1, 15, dtype=torch.float64)), m.layer_params(0), inputs)
    assert torch.nonzero(s[0]).reshape(-1).tolist() == [7]
    torch.testing.assert_close(v[0, 7], 1.3 - 0.5 * w[1] @ w[1], rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(v[0, 6:9:2], -0.5 * (w @ w[1])[0:3:2], rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="lateral_diagonal = 'replace_reset' needs model.reset = 'subtract'"):
        _conv_model(lateral_diagonal="replace_reset", reset="zero")


def test_conv_config_that_does_not_fit_names_the_keys():
    with pytest.raises(ValueError, match="conv_kernel.*does not fit"):
        _conv_model(conv_kernel=[12])
    with pytest.raises(ValueError, match="conv_input_channels = 2 does not divide the 11 inputs"):
        _conv_model(conv_input_channels=2)


def test_two_input_channels_and_two_conv_layers():
    # 12 inputs = UP block of 6 bands, DOWN block of 6 bands; conv 1: kernel 2 -> 5 positions
    # x 3 channels; conv 2 (position-major input): kernel 2, stride 2 -> 2 positions x 4.
    m = _conv_model(hidden=[3, 4, 5], conv_layers=2, conv_kernel=[2], conv_stride=[1, 2], conv_input_channels=2,
                    lateral=True, n_inputs=12)
    p0, p1 = m.projections[0], m.projections[1]
    assert (p0.in_positions, p0.in_channels, p0.in_layout) == (6, 2, "channel_major")
    assert (p1.in_positions, p1.in_channels, p1.in_layout) == (5, 3, "position_major")
    assert m.layer_sizes == [15, 8, 5] and [m.lateral_group_size(l) for l in range(3)] == [3, 4, 5]


@pytest.mark.parametrize("lateral", [False, True])
def test_fold_batchnorm_conv_is_per_channel_and_exact(lateral):
    m = _conv_model(lateral=lateral, seed=2)
    _randomise_bn(m, seed=9)
    g = torch.Generator().manual_seed(10)
    assert m.norms[0].num_features == 3  # per channel, not per neuron
    m.eval()
    m.set_rounded(True)
    x = (torch.rand(3, 30, 11, generator=g, dtype=torch.float64) < 0.3).double() * 2
    f = fold_batchnorm(m).eval()
    with torch.no_grad():
        a, b = m(x), f(x)
    assert sum(float(s.sum()) for s in a["spikes"]) > 20
    for sa, sb in zip(a["spikes"], b["spikes"]):
        assert torch.equal(sa, sb)
    torch.testing.assert_close(a["out"], b["out"], rtol=1e-9, atol=1e-9)
    # the folded kernel is still one kernel shared by all positions, the drive per channel
    assert f.projections[0].weight.shape == (3, 1, 3)
    drive = f.drive_hz[0].detach().reshape(5, 3)
    assert torch.equal(drive, drive[:1].expand(5, 3))


def test_conv_model_trains():
    m = _conv_model(lateral=True, seed=4)
    x = (torch.rand(4, 20, 11, generator=torch.Generator().manual_seed(0), dtype=torch.float64) < 0.4).double() * 3
    out = m(x)["out"]
    out.sum().backward()
    p = m.projections[0]
    assert float(p.weight.grad.abs().sum()) > 0 and float(p.pos.grad.abs().sum()) > 0
