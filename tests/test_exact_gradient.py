"""Exact dropout gradients and the regularisation identities of Section 11 (Eq. 147, 155, 164)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dropengine.exact import dropout_gradient


def _net(sizes, transfer, seed, bias=True):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(size=o) if bias else None for o in sizes[1:]]
    return de.Network(Ws, bs, transfer)


def test_eq147_single_linear_unit():
    """E(dE_D/dw_i) = dE_ENS/dw_i + w_i I_i^2 Var(delta_i), to float64 rounding."""
    rng = np.random.default_rng(1)
    w, I, t, p = rng.normal(size=(1, 7)), rng.normal(size=(3, 7)), rng.normal(size=(3, 1)), rng.uniform(0.1, 0.9, 7)
    g = dropout_gradient(de.Network([w], None, de.Linear()), I, t, de.Dropout([p]))
    assert g.n_subnetworks == 2**7
    assert_allclose(g.expected[0], g.ensemble[0] + w * I[:, None, :] ** 2 * p * (1 - p), rtol=1e-13, atol=1e-14)
    assert_allclose(g.w_var_alpha[0], w * I[:, None, :] ** 2 * p * (1 - p), rtol=1e-13)
    assert_allclose(g.cov_alpha_beta[0], 0, atol=1e-14)  # independent paths in one layer
    # Eq. 144: the ensemble gradient is -(t - O_ENS) p_i I_i
    O_ens = I @ (p * w[0])
    assert_allclose(g.ensemble[0][:, 0, :], -(t - O_ens[:, None]) * p * I, rtol=1e-13)


@pytest.mark.parametrize("gate", [de.Dropout(0.5, keep_bias=0.7), de.Dropout([0.8, 0.3, 0.6]),
                                  de.Dropout(0.6, on="connections", keep_bias=0.5), de.Dropin(0.3)],
                         ids=["units", "units-per-layer", "connections", "dropin"])
def test_eq155_deep_linear_network(gate):
    """E(dE_D/dw) = dE_ENS/dw + w Var(alpha) + Cov(alpha, beta) for every weight, exactly."""
    conn = isinstance(gate, de.Dropout) and gate.on == "connections"
    sizes = (2, 2, 2, 1) if conn else (3, 3, 2, 2)
    net = _net(sizes, de.Linear(), seed=2)
    rng = np.random.default_rng(3)
    X, T = rng.normal(size=(2, sizes[0])), rng.normal(size=(2, sizes[-1]))
    g = dropout_gradient(net, X, T, gate)
    for h in range(3):
        want = g.ensemble[h] + g.w_var_alpha[h] + g.cov_alpha_beta[h]
        assert_allclose(g.expected[h], want, rtol=1e-12, atol=1e-13 * np.abs(want).max())
    # the covariance term is real in deep networks (zero only for one layer)
    assert max(np.abs(c).max() for c in g.cov_alpha_beta) > 1e-3


def test_expected_gradient_is_the_mean_of_subnetwork_gradients_numerically():
    """Reference twin: finite differences of the exact expected loss of a nonlinear net."""
    net = _net((3, 2, 2), [de.Tanh(), de.Logistic()], seed=4)
    x, t = np.array([[0.5, -1.0, 0.8]]), np.array([[0.2, 0.9]])
    gate = de.Dropout(0.6, keep_bias=0.8)
    g = dropout_gradient(net, x, t, gate)

    def expected_loss(W1):
        n = de.Network([net.weights[0], W1], net.biases, net.transfers)
        st = de.exact.enumerate(n, x, gate)
        # E[1/2 sum (t - O)^2] = 1/2 sum Var(O) + (t - E O)^2
        return 0.5 * np.sum(st.var[1][0] + (t[0] - st.E[1][0]) ** 2)

    eps = 1e-6
    W1 = np.asarray(net.weights[1], np.float64)
    fd = np.zeros_like(W1)
    for i in range(2):
        for j in range(2):
            d = np.zeros_like(W1)
            d[i, j] = eps
            fd[i, j] = (expected_loss(W1 + d) - expected_loss(W1 - d)) / (2 * eps)
    assert_allclose(g.expected[1][0], fd, rtol=1e-6, atol=1e-9)


def test_eq164_logistic_unit_gap_shrinks_with_the_weights():
    """The approximation of Eq. 164 approaches the exact expectation as O(|w|^2)."""
    rng = np.random.default_rng(1)
    w0, I, t = rng.normal(size=(1, 8)), rng.normal(size=(1, 8)), np.array([[0.8]])
    gaps = []
    for scale in (1.0, 0.5, 0.25, 0.125):
        g = dropout_gradient(de.Network([w0 * scale], None, de.Logistic()), I, t, de.Dropout(0.5),
                             loss="relative_entropy")
        exact_reg = g.expected[0] - g.ensemble[0]
        approx_reg = g.approx_164[0] - g.ensemble[0]
        gaps.append(np.linalg.norm(exact_reg - approx_reg) / np.linalg.norm(exact_reg))
    assert gaps[0] < 0.2
    for a, b in zip(gaps, gaps[1:]):
        assert 3.0 < a / b < 5.0  # quadratic: a factor ~4 per halving


def test_softmax_cross_entropy_and_bias_gradients():
    net = _net((3, 3), de.Softmax(), seed=5)
    x, t = np.array([[1.0, -0.5, 0.3]]), np.array([[0.0, 1.0, 0.0]])
    g = dropout_gradient(net, x, t, de.Dropout(0.5, keep_bias=0.5), loss="cross_entropy")
    assert g.expected_bias[0].shape == (1, 3)
    assert_allclose(g.expected[0].sum(axis=1), 0, atol=1e-14)  # softmax outputs sum to 1
    none = dropout_gradient(net, x, t, None, loss="cross_entropy")
    assert_allclose(none.expected[0], none.ensemble[0], rtol=1e-15)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(targets=np.ones((1, 3))), ValueError, "targets"),
    (dict(loss="hinge"), ValueError, "loss"),
    (dict(loss="cross_entropy"), ValueError, "loss"),
    (dict(max_subnetworks=4), ValueError, "max_subnetworks"),
])
def test_bad_input(kwargs, exc, match):
    net = _net((3, 2), de.Logistic(), seed=0)
    args = dict(targets=np.ones((1, 2)), gate=de.Dropout(0.5))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        dropout_gradient(net, np.ones((1, 3)), **args)
