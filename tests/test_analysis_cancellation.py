"""Section 9.5's cancellation argument (analysis.cancellation): alpha = E - NWGM,
beta = NWGM - W, Eq. 114's Var(beta) and the correlation of alpha and beta, and the
shape (skewness, excess kurtosis) of a layer's deviations."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dropengine import exact
from dropengine.analysis.cancellation import cancellation, kolmogorov_distance, shape


def _net():
    net = de.Network.random([6, 5, 4, 3], "logistic", seed=3, scale=1.5, dtype=np.float64)
    X = np.random.default_rng(4).uniform(size=(7, 6))
    return net, X, de.Dropout([0.8, 0.5, 0.5])


def test_exact_statistics_give_the_formulas():
    """With exact statistics as both runs, cross-run products are plain squares: every
    number is the formula written out in NumPy."""
    net, X, gate = _net()
    st = exact.enumerate(net, X, gate)
    U, W = de.ensemble(net, X, gate)
    layers = cancellation(net, st, st, (U, W), gate, n_boot=50)
    assert [c.layer for c in layers] == [1, 2]
    for c in layers:
        h = c.layer
        w = np.asarray(net.weights[h], np.float64)
        alpha, beta = st.E[h] - st.nwgm[h], st.nwgm[h] - W[h]
        eps = st.E[h - 1] - W[h - 1]
        S = st.E_S[h]
        ds = np.exp(-S) / (1 + np.exp(-S)) ** 2  # sigma'(E(S)) of the standard logistic
        pred = ds ** 2 * (eps ** 2 @ (w ** 2 * 0.25).T)  # p = 1/2 for the hidden units
        assert c.n_pairs == alpha.size
        assert_allclose(c.ms_beta, np.mean(beta ** 2), rtol=1e-12)
        assert_allclose(c.ms_beta_pred, np.mean(pred), rtol=1e-12)
        assert_allclose(c.ratio, np.mean(beta ** 2) / np.mean(pred), rtol=1e-12)
        assert_allclose(c.corr, np.corrcoef(alpha.ravel(), beta.ravel())[0, 1], rtol=1e-10)
        assert_allclose(c.mean_beta, beta.mean(), rtol=1e-12)
        assert_allclose(c.var_beta, beta.var(), rtol=1e-10)
        assert c.noise_beta == 0  # the same statistics twice: no run-to-run noise
        lin = ds * ((eps * 0.5) @ w.T)  # Eq. 112's linear term
        assert_allclose(c.corr_lin, np.corrcoef(lin.ravel(), beta.ravel())[0, 1], rtol=1e-10)
        assert c.ratio_se >= 0 and c.corr_se >= 0


def test_two_independent_runs_keep_the_noise_out():
    """Sampled runs A and B: the cross-run estimates agree with the exact values within a
    few of their standard errors, while one run's own squares are biased upward by the
    Monte Carlo noise."""
    net, X, gate = _net()
    ex = exact.enumerate(net, X, gate)
    U, W = de.ensemble(net, X, gate)
    want = {c.layer: c for c in cancellation(net, ex, ex, (U, W), gate, n_boot=10)}
    n = 4000
    A = de.sample(net, X, gate, n, seed=11)
    B = de.sample(net, X, gate, n, seed=11, first_sample=n)
    got = cancellation(net, A, B, (U, W), gate, n_boot=200, seed=1)
    for c in got:
        e = want[c.layer]
        assert abs(c.ms_beta - e.ms_beta) < 4 * c.ms_beta_se + 1e-12
        assert c.noise_beta > 0
        own = float(np.mean((A.nwgm[c.layer] - W[c.layer]) ** 2))
        assert own > c.ms_beta  # one run's square carries its noise


def test_skips_softmax_and_refuses_bad_input():
    net = de.Network.random([5, 4, 3], ["logistic", "softmax"], seed=1, dtype=np.float64)
    X = np.random.default_rng(2).uniform(size=(3, 5))
    gate = de.Dropout([0.8, 0.5])
    st = de.sample(net, X, gate, 100, seed=0)
    assert cancellation(net, st, st, de.ensemble(net, X, gate), gate) == []
    with pytest.raises(TypeError, match="stats_a"):
        cancellation(net, "x", st, de.ensemble(net, X, gate), gate)
    st_other = de.sample(net, X[:2], gate, 100, seed=0)
    with pytest.raises(ValueError, match="same inputs"):
        cancellation(net, st, st_other, de.ensemble(net, X, gate), gate)
    with pytest.raises(ValueError, match="dropout on units"):
        cancellation(net, st, st, de.ensemble(net, X, gate), de.Dropin(0.2))


def test_shape_of_gaussian_uniform_and_skewed_deviations():
    rng = np.random.default_rng(0)
    g = shape(rng.normal(size=(10, 2000)), n_boot=50)
    assert abs(g["skewness"]) < 0.1 and abs(g["excess_kurtosis"]) < 0.2 and g["n"] == 20000
    assert g["normality_p"] > 1e-3 and 0 < g["skewness_se"] < 0.1
    assert g["kolmogorov"] < 0.015 and 0 < g["kolmogorov_se"] < 0.01
    u = shape(rng.uniform(size=(10, 2000)), n_boot=50)
    assert abs(u["excess_kurtosis"] + 1.2) < 0.1  # a uniform distribution: -6/5
    assert abs(u["kolmogorov"] - 0.0572) < 0.01  # its distance to the Gaussian of the same mean and SD
    e = shape(rng.exponential(size=(10, 2000)), n_boot=50)
    assert abs(e["skewness"] - 2) < 0.3  # an exponential distribution: skewness 2
    assert np.isnan(shape(np.zeros((2, 3)))["skewness"])
    # the distance against scipy's one-sample KS statistic with the same (estimated) Gaussian
    from scipy import stats
    x = rng.laplace(size=3000)
    want = stats.kstest(x, "norm", args=(x.mean(), x.std())).statistic
    assert_allclose(kolmogorov_distance(x), want, rtol=1e-12)
    # one distance per column (axis=0) or row (axis=1), each scipy's; NaN for a constant slice
    X = np.column_stack([rng.laplace(size=500), rng.normal(size=500), np.full(500, 3.0)])
    for axis, cols in ((0, X.T), (1, X.T.copy())):
        got = kolmogorov_distance(X if axis == 0 else X.T, axis=axis)
        for j, c in enumerate(cols[:2]):
            assert_allclose(got[j], stats.kstest(c, "norm", args=(c.mean(), c.std())).statistic, rtol=1e-12)
        assert np.isnan(got[2])
    # Gaussian draws sit on the Lilliefors floor, about 0.6 / sqrt(n) at the median
    floor = np.median(kolmogorov_distance(rng.normal(size=(2000, 400)), axis=0))
    assert 0.5 / np.sqrt(2000) < floor < 0.75 / np.sqrt(2000)
    with pytest.raises(ValueError, match="n_inputs"):
        shape(np.zeros(5))
