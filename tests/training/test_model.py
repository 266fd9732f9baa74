"""The network: batch-norm folding, export layout, and the export re-simulated by a slow
numpy reference of docs/semantics.md's discrete-time model."""
import numpy as np
import pytest
import torch

from training.config import ModelConfig
from training.model import EXPORT_FORMAT, SNN, fold_batchnorm


def _model(**kw):
    cfg = ModelConfig(**{"hidden": [12, 10], "max_delay_steps": 5, "dtype": "float64", **kw})
    return SNN(7, 3, cfg, 0.01, torch.Generator().manual_seed(5), class_names=["a", "b", "c"])


def _input(seed=0, batch=4, steps=40, n=7, p=0.15):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, steps, n, generator=g, dtype=torch.float64) < p).double()


def _randomise_bn(m, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in m.norms:
            n = bn.num_features
            bn.running_mean.copy_(torch.randn(n, generator=g, dtype=torch.float64) * 0.3)
            bn.running_var.copy_(torch.rand(n, generator=g, dtype=torch.float64) + 0.2)
            bn.weight.copy_(torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.5)
            bn.bias.copy_(torch.randn(n, generator=g, dtype=torch.float64) * 0.3)


def simulate_reference(e: dict, x: np.ndarray):
    """Slow, obviously-correct discrete-time model from an export dict (one sample).

    V[n] = beta V[n-1] + (1 - beta) b tau + sum_j w_j s_j[n - k_j]; s = V >= thr;
    V <- reset(V, s) - Omega s. Returns (list of hidden spike arrays (T, n), readout V (T, C)).
    """
    steps = x.shape[0]
    h = x
    spikes = []
    for layer, proj in zip(e["layers"], e["projections"]):
        w, d = proj["weight"], proj["delay_steps"]
        n_out, n_in = w.shape
        cur = np.zeros((steps, n_out))
        for n in range(steps):
            for o in range(n_out):
                acc = 0.0
                for i in range(n_in):
                    if n - d[o, i] >= 0:
                        acc += w[o, i] * h[n - d[o, i], i]
                cur[n, o] = acc
        beta, tau, b = layer["beta"], layer["tau_mem_s"], layer["drive_hz"]
        drive = (1 - beta) * b * tau
        v = np.zeros(n_out)
        out_s = np.zeros((steps, n_out))
        out_v = np.zeros((steps, n_out))
        for n in range(steps):
            v = beta * v + drive + cur[n]
            if layer["kind"] == "lif":
                s = (v >= layer["threshold"]).astype(float)
                if layer["reset"] == "zero":
                    v = np.where(s > 0, 0.0, v)
                else:
                    v = v - layer["threshold"] * s
                if layer["lateral"] is not None:
                    v = v - layer["lateral"] @ s
                out_s[n] = s
            out_v[n] = v
        if layer["kind"] == "lif":
            spikes.append(out_s)
            h = out_s
        else:
            return spikes, out_v


def test_export_layout():
    m = _model(delays="learned")
    e = m.export_dict()
    assert e["format"] == EXPORT_FORMAT and e["format_version"] == 1
    assert e["dt_s"] == 0.01 and e["n_inputs"] == 7 and e["n_classes"] == 3 and e["class_names"] == ["a", "b", "c"]
    assert [l["name"] for l in e["layers"]] == ["hidden0", "hidden1", "readout"]
    assert [l["kind"] for l in e["layers"]] == ["lif", "lif", "li"]
    assert [p["name"] for p in e["projections"]] == ["input->hidden0", "hidden0->hidden1", "hidden1->readout"]
    for layer in e["layers"]:
        n = layer["size"]
        for k in ("tau_mem_s", "beta", "drive_hz"):
            assert layer[k].shape == (n,) and layer[k].dtype == np.float64
        np.testing.assert_array_equal(layer["beta"], np.exp(-0.01 / layer["tau_mem_s"]))
    assert e["layers"][2]["threshold"] is None and e["layers"][0]["reset"] == "subtract"
    for proj, shape in zip(e["projections"], [(12, 7), (10, 12), (3, 10)]):
        assert proj["weight"].shape == shape and proj["weight"].dtype == np.float64
        c = proj["delay_steps_continuous"]
        assert c.shape == shape and proj["delay_steps"].dtype == np.int64
        np.testing.assert_array_equal(proj["delay_steps"], np.floor(c + 0.5).astype(np.int64))
        np.testing.assert_array_equal(proj["delay_s"], c * 0.01)
    assert e["projections"][0]["delay_mode"] == "learned"
    assert e["projections"][2]["delay_mode"] == "none" and e["projections"][2]["max_delay_steps"] == 0
    # continuous positions really are continuous (not only the rounded ones are kept)
    assert np.any(e["projections"][0]["delay_steps_continuous"] % 1 != 0)


def test_batchnorm_folding_gives_same_forward():
    m = _model(batch_norm=True, lateral=True, lateral_scale=0.05, delays="learned", reset="zero")
    _randomise_bn(m)
    m.eval()
    m.set_rounded(True)
    x = _input()
    folded = fold_batchnorm(m).eval()
    assert not folded.cfg.batch_norm and all(isinstance(n, torch.nn.Identity) for n in folded.norms)
    with torch.no_grad():
        a, b = m(x), folded(x)
    total = sum(float(s.sum()) for s in a["spikes"])
    assert total > 20  # the comparison is about a network that actually spikes
    for sa, sb in zip(a["spikes"], b["spikes"]):
        assert torch.equal(sa, sb)
    torch.testing.assert_close(a["out"], b["out"], rtol=1e-10, atol=1e-12)
    # the BN bias became a drive: the folded drives are non-zero
    assert float(folded.drive_hz[0].abs().sum()) > 0


@pytest.mark.parametrize("kw", [
    dict(delays="learned", batch_norm=True, lateral=True, lateral_scale=0.05, readout_delays=True),
    dict(delays="fixed", batch_norm=False, reset="zero", weight_scale=3.0),
    dict(delays="none", batch_norm=True),
])
def test_export_resimulated_by_reference_matches_forward(kw):
    m = _model(**kw)
    if m.cfg.batch_norm:
        _randomise_bn(m)
    m.eval()
    m.set_rounded(True)
    x = _input(seed=2, batch=2, steps=30)
    with torch.no_grad():
        r = m(x)
    e = m.export_dict()
    n_spikes = 0
    for bi in range(x.shape[0]):
        spikes, out = simulate_reference(e, x[bi].numpy())
        for l, s in enumerate(spikes):
            np.testing.assert_array_equal(s, r["spikes"][l][bi].numpy())
            n_spikes += s.sum()
        np.testing.assert_allclose(out, r["out"][bi].numpy(), rtol=1e-10, atol=1e-12)
    assert n_spikes > 10


def test_gradient_reaches_every_trainable_parameter():
    m = _model(delays="learned", batch_norm=True, lateral=True, lateral_scale=0.05, learn_drive=True)
    m.train()
    for p in m.projections:
        p.sigma = 2.0
    r = m(_input(steps=30, p=0.3))
    (r["out"].sum() + sum(s.sum() for s in r["spikes"])).backward()
    for name, p in m.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert float(p.grad.abs().sum()) > 0, name
    assert m.projections[0].pos.grad is not None and float(m.projections[0].pos.grad.abs().sum()) > 0


def test_dropout_uses_the_given_generator():
    m = _model(dropout=0.5, batch_norm=False, weight_scale=3.0)
    m.train()
    x = _input(p=0.4)
    a = m(x, generator=torch.Generator().manual_seed(9))["out"]
    b = m(x, generator=torch.Generator().manual_seed(9))["out"]
    c = m(x, generator=torch.Generator().manual_seed(10))["out"]
    assert torch.equal(a, b) and not torch.equal(a, c)
