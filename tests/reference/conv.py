"""Slow, obviously-correct convolution over frequency positions: loops over every output
neuron, kernel element and delay tap, with the neuron layout ``position * channels + channel``."""
import numpy as np


def conv_dense_equivalent(kernel, delay, in_positions, stride=1, dilation=1, in_layout="position_major"):
    """Dense ``(n_post, n_pre)`` weight and delay matrices of a 1-D 'valid' convolution.

    ``kernel[o, i, k]`` connects pre neuron ``(p * stride + k * dilation) * C_in + i`` to post
    neuron ``p * C_out + o``; entries with no synapse have weight 0 and delay -1. With
    ``in_layout="channel_major"`` the pre neuron is ``i * in_positions + q`` instead.
    """
    c_out, c_in, K = kernel.shape
    out_positions = (in_positions - dilation * (K - 1) - 1) // stride + 1
    w = np.zeros((out_positions * c_out, in_positions * c_in))
    d = np.full(w.shape, -1.0)
    for p in range(out_positions):
        for o in range(c_out):
            for i in range(c_in):
                for k in range(K):
                    q = p * stride + k * dilation
                    pre = q * c_in + i if in_layout == "position_major" else i * in_positions + q
                    w[p * c_out + o, pre] = kernel[o, i, k]
                    d[p * c_out + o, pre] = delay[o, i, k]
    return w, d


def conv_currents(x, kernel, delay_steps, in_positions, stride=1, dilation=1, in_layout="position_major"):
    """``I[n, post] = sum_pre w[post, pre] x[n - k[post, pre], pre]`` by explicit loops.

    x : (steps, in_positions * C_in); returns (steps, out_positions * C_out).
    """
    w, d = conv_dense_equivalent(kernel, delay_steps, in_positions, stride, dilation, in_layout)
    steps = x.shape[0]
    out = np.zeros((steps, w.shape[0]))
    for n in range(steps):
        for post in range(w.shape[0]):
            acc = 0.0
            for pre in range(w.shape[1]):
                if d[post, pre] < 0:
                    continue
                m = n - int(d[post, pre])
                if m >= 0:
                    acc += w[post, pre] * x[m, pre]
            out[n, post] = acc
    return out
