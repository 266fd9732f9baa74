"""Engine accuracy evaluation: the numpy decision rule equals training's, and the exact
engine's per-step readout is read at the right instants."""
import math

import numpy as np
import pytest

from bridge.evaluate import ReadoutProtocol, class_scores, exact_readouts
from sim import Events, Network, Projection, ReadoutLayer


@pytest.mark.parametrize("rule", ["mean_softmax", "per_step", "max"])
def test_class_scores_match_the_training_rule(rule):
    torch = pytest.importorskip("torch")
    from training.losses import class_scores as torch_scores
    v = np.random.default_rng(0).normal(size=(50, 7)) * 3
    ours = class_scores(v, rule)
    theirs = torch_scores(torch.from_numpy(v)[None], rule)[0].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_readout_is_sampled_just_before_each_step_end():
    # One input at 2.5 ms of weight 1 onto a leaky integrator (tau 10 ms), dt 1 ms, 5 steps.
    # Steps 0, 1 end before it; step 2 ends at 3 ms: V = exp(-0.5 ms / 10 ms); step n >= 2:
    # V = exp(-((n + 1) ms - 2.5 ms) / 10 ms). An input exactly at 4 ms belongs to step 4.
    net = Network(2, [], [Projection.dense("input", "out", [[1.0, 0.5]], 0.0)], readout=ReadoutLayer("out", 1, 0.01))
    proto = ReadoutProtocol(dt_s=0.001, n_steps=5)
    (r,), _ = exact_readouts(net, [Events([0.0025, 0.004], [0, 1])], proto)
    want = [0.0, 0.0] + [math.exp(-((n + 1) * 1e-3 - 2.5e-3) / 0.01) for n in (2, 3)]
    want.append(math.exp(-(5e-3 - 2.5e-3) / 0.01) + 0.5 * math.exp(-1e-3 / 0.01))
    np.testing.assert_allclose(r[:, 0], want, rtol=1e-9)


def test_protocol_validation_and_metadata_errors():
    with pytest.raises(ValueError, match="dt_s"):
        ReadoutProtocol(0.0, 10)
    with pytest.raises(ValueError, match="n_steps"):
        ReadoutProtocol(0.001, 0)
    with pytest.raises(ValueError, match="rule"):
        ReadoutProtocol(0.001, 10, rule="vote")
    with pytest.raises(ValueError, match="m.h5: records no task"):
        ReadoutProtocol.from_metadata({}, "m.h5")
    with pytest.raises(ValueError, match="m.h5: the task records no n_steps"):
        ReadoutProtocol.from_metadata({"training": {"dt_s": 0.001}}, "m.h5")
