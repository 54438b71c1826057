"""Noise in training beyond Bernoulli coins (Sections 4.1, 5, 10.2): the gradient of one
step with Gaussian noise in the forward pass against finite differences of that step's
loss (the draws depend on the step, not on the weights), and Gaussian noise in the
backward pass, which must leave the gradient unbiased."""
import numpy as np
import pytest

import dropengine as de
from dropengine import _engine as engine
from dropengine.training.options import core_backward

KINDS = {
    "gaussian_units": ([0.4, 0.3], [1.0, 0.9]),
    "additive_noise": ([0.4, 0.3], None),
    "gaussian_connections": ([0.4, 0.3], [1.0, 0.9]),
    "weight_noise": ([0.4, 0.3], None),
}


def _net(rng):
    # The input also feeds the output layer: the noise crosses a skip connection too.
    return de.Network([rng.normal(size=(4, 3)) * 0.7, {0: rng.normal(size=(3, 3)) * 0.7,
                                                        1: rng.normal(size=(3, 4)) * 0.7}],
                      [rng.normal(size=4) * 0.2, rng.normal(size=3) * 0.2], transfer=["tanh", "softmax"],
                      dtype=np.float64)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_noisy_step_has_the_gradient_of_its_own_loss(kind):
    rng = np.random.default_rng(0)
    net = _net(rng)
    X, y = rng.uniform(size=(5, 3)), rng.integers(0, 3, 5).astype(np.int32)
    std, mean = KINDS[kind]
    spec = engine.GateSpec(engine.GateKind.__members__[kind], [np.array([s]) for s in std], [],
                           [] if mean is None else [np.array([m]) for m in mean])
    tr = engine.trainer(net, spec, loss="cross_entropy", batch_size=5, momentum=0.0, weight_decay=0.0,
                        max_norm=0.0, backward=core_backward([-1.0]), key=(3, 4), threads=2)
    gW, _, loss = tr.gradient(X, y, None, 7)
    assert tr.gradient(X, y, None, 8)[2] != loss  # another step, other draws
    eps = 1e-6
    for h in range(2):
        W, b, vW, vb = tr.get_layer(h)
        for idx in np.ndindex(*W.shape):
            losses = []
            for d in (eps, -eps):
                Wd = W.copy()
                Wd[idx] += d
                tr.set_layer(h, Wd, b, vW, vb)
                losses.append(tr.gradient(X, y, None, 7)[2])
            tr.set_layer(h, W, b, vW, vb)
            # The loss is summed over the rows, the gradient their mean.
            assert gW[h][idx] == pytest.approx((losses[0] - losses[1]) / (2 * eps) / 5, abs=1e-8), (h, idx)


def test_gaussian_noise_in_the_backward_pass_is_unbiased():
    rng = np.random.default_rng(1)
    net = de.Network.random([3, 6, 5, 3], ["logistic", "tanh", "softmax"], seed=2, dtype=np.float64,
                            skips=[(0, 2), (1, 3)])
    X, y = rng.uniform(size=(4, 3)), rng.integers(0, 3, 4)
    plain = de.Trainer(net, None, loss="cross_entropy", batch_size=4).gradient(X, y)[0]
    zero = de.Trainer(net, None, loss="cross_entropy", batch_size=4, backward=("gaussian", 0.0)).gradient(X, y)[0]
    for a, b in zip(plain, zero):
        np.testing.assert_array_equal(a, b)  # std 0 is backpropagation, bit for bit
    noisy = de.Trainer(net, None, loss="cross_entropy", batch_size=4, backward=("gaussian", 0.5))
    K = 2000
    g = [noisy.gradient(X, y, step=s)[0] for s in range(K)]
    for h in (0, 1):  # the layers below a noisy unit
        m = np.mean([gi[h] for gi in g], axis=0)
        se = np.std([gi[h] for gi in g], axis=0, ddof=1) / np.sqrt(K)
        assert (se > 0).all()
        assert (np.abs(m - plain[h]) < 5 * se + 1e-12).all(), np.max(np.abs(m - plain[h]) / se)
    np.testing.assert_array_equal(g[0][2], plain[2])  # the top layer sees no noise


def test_backward_noise_is_checked():
    net = de.Network.random([3, 4, 3], ["logistic", "softmax"], seed=0)
    for bad in (("gaussian", -1.0), ("gaussian", float("nan")), "gaussian:x", ("gaussian", "a")):
        with pytest.raises(ValueError, match="backward"):
            de.Trainer(net, None, backward=bad)
