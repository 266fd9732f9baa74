"""Convolutional projections: the compact kernel + geometry expands to the dense
equivalent (checked against a slow loop), survives the model file compactly, and
per-position lateral groups hold the right neurons."""
import h5py
import numpy as np
import pytest

from sim import Conv1D, Lateral, LIFLayer, Network, Projection
from sim.model.io import load_network, save_network
from tests.reference.conv import conv_dense_equivalent


def _conv(in_pos=10, c_in=2, c_out=3, K=3, stride=2, dilation=1, seed=0, steps=True, layout="position_major"):
    rng = np.random.default_rng(seed)
    kern = rng.normal(size=(c_out, c_in, K))
    k = rng.integers(0, 5, size=kern.shape)
    return Conv1D(in_pos, c_in, kern, k * 0.001, stride=stride, dilation=dilation,
                  delay_steps=k if steps else None, in_layout=layout)


@pytest.mark.parametrize("in_pos, c_in, c_out, K, stride, dilation, layout", [
    (10, 2, 3, 3, 2, 1, "position_major"), (10, 2, 3, 3, 2, 1, "channel_major"), (16, 1, 4, 4, 1, 3, "position_major"),
    (7, 3, 2, 7, 1, 1, "channel_major"), (9, 1, 1, 1, 3, 1, "position_major")])
def test_expansion_equals_dense_equivalent(in_pos, c_in, c_out, K, stride, dilation, layout):
    c = _conv(in_pos, c_in, c_out, K, stride, dilation, layout=layout)
    p = Projection.conv1d("input", "h", c, dt_s=0.001)
    w, d = conv_dense_equivalent(c.kernel, c.delay_s, in_pos, stride, dilation, layout)
    assert (c.n_post, c.n_pre) == w.shape
    assert p.n_synapses == c.out_positions * c.kernel.size == int(np.sum(d >= 0))
    post, pre = np.nonzero(d >= 0)
    dense = Projection.sparse("input", "h", pre, post, w[post, pre], d[post, pre],
                              delay_steps=np.rint(d[post, pre] / 0.001).astype(np.int64), dt_s=0.001)
    for f in ("pre_idx", "post_idx", "weight", "delay_s", "delay_steps"):
        assert np.array_equal(getattr(p, f), getattr(dense, f)), f


def test_model_file_stores_kernel_not_synapses(tmp_path):
    c = _conv(in_pos=6, c_in=2, c_out=4, K=3, stride=1, layout="channel_major")
    layers = [LIFLayer("h", c.n_post, 0.02, threshold=1.0, reset="subtract")]
    om = np.arange(16.0).reshape(4, 4) / 20
    net = Network(12, layers, [Projection.conv1d("input", "h", c, dt_s=0.001)],
                  [Lateral.per_position("h", om, c.out_positions)])
    path = tmp_path / "conv.h5"
    save_network(path, net)
    with h5py.File(path) as f:
        g = f["projections/0000"]
        assert g.attrs["kind"] == "conv1d" and "pre_idx" not in g and g["kernel"].shape == (4, 2, 3)
    back = load_network(path)
    assert back == net
    p = back.projections[0]
    assert p.conv is not None and p.conv.geometry() == c.geometry()
    assert np.array_equal(p.post_idx, net.projections[0].post_idx) and np.array_equal(p.weight, net.projections[0].weight)


def test_per_position_lateral_groups():
    om = np.array([[1.0, 0.2], [0.2, 0.5]])
    lat = Lateral.per_position("h", om, 3)
    # position p holds the channels p*2, p*2+1 (the Conv1D neuron layout)
    assert lat.members.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert lat.omega.shape == (3, 2, 2) and all(np.array_equal(o, om) for o in lat.omega)


def test_conv_errors():
    with pytest.raises(ValueError, match="more than the 4 input positions"):
        Conv1D(4, 1, np.ones((2, 1, 3)), dilation=2)
    with pytest.raises(ValueError, match="input channels"):
        Conv1D(8, 2, np.ones((2, 1, 3)))
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        Conv1D(8, 1, np.ones((2, 1, 3)), stride=0)
    c = Conv1D(8, 1, np.ones((2, 1, 3)))
    with pytest.raises(ValueError, match="maps 8 x 1 = 8 pre neurons to 6 x 2 = 12 post neurons"):
        Network(8, [LIFLayer("h", 10, 0.02)], [Projection.conv1d("input", "h", c)])
