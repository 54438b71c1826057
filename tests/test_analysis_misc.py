"""Transfer functions (Section 7, App. A), Gaussian estimates (App. D-F), covariances
from W (Section 9.6), sampling distributions (Sections 9.2-9.4) and the layer report."""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate
from scipy.special import expit

import dropengine as de
from dropengine import analysis as A
from dropengine.exact import enumerate as enumerate_subnetworks


def test_relu_uniform_gives_lambda_a_over_4():
    """Eq. 190: S uniform on [-a, a]: |RL(E(S)) - E(RL(S))| = lam a / 4."""
    for a, lam in ((1.0, 1.0), (2.5, 0.3), (0.1, 4.0)):
        assert_allclose(A.relu_error_uniform(-a, a, lam), lam * a / 4, rtol=1e-14)


def test_relu_gaussian_eq72_74_against_quadrature():
    assert_allclose(A.relu_error_gaussian(0.0, 0.7, lam=1.3), 1.3 * 0.7 / np.sqrt(2 * np.pi), rtol=1e-14)  # Eq. 74
    for mu, sd, lam, t in ((0.4, 0.5, 1.0, 0.0), (-1.0, 0.3, 2.0, 0.0), (0.2, 1.1, 0.7, 0.5)):
        dens = lambda s: np.exp(-0.5 * ((s - mu) / sd) ** 2) / (np.sqrt(2 * np.pi) * sd)  # noqa: E731
        e_rl = integrate.quad(lambda s: lam * (s - t) * dens(s), t, np.inf)[0]
        assert_allclose(A.relu_error_gaussian(mu, sd, lam, t), e_rl - lam * max(mu - t, 0), rtol=1e-9, atol=1e-12)
    assert A.relu_error_gaussian(-3.0, 0.1) < 1e-20  # Eq. 75: far from the threshold


def test_relu_discrete_eq193():
    S, P = np.array([-2.0, 0.5, 1.0, -0.3]), np.array([0.1, 0.4, 0.2, 0.3])
    ES = P @ S
    want = 1.5 * (np.sum(P[S > 0] * S[S > 0]) if ES <= 0 else np.sum(P[S <= 0] * np.abs(S[S <= 0])))
    assert_allclose(abs(A.relu_error_discrete(S, P, lam=1.5)), want, rtol=1e-14)


def test_fit_logistic_recovers_parameters_and_nwgm_gap():
    c, lam = 0.3, 2.2
    f = lambda x: 1 / (1 + c * np.exp(-lam * x))  # noqa: E731
    assert_allclose(A.fit_logistic(-0.4, f(-0.4), 1.7, f(1.7)), (c, lam), rtol=1e-12)
    S = np.random.default_rng(0).normal(size=(5, 40))
    assert np.abs(A.nwgm_gap(f, S)).max() < 1e-12  # logistic: the NWGM property holds (Eq. 59)
    arctan01 = lambda x: 0.5 + np.arctan(x) / np.pi  # noqa: E731
    gap = np.abs(A.nwgm_gap(arctan01, S))
    assert 1e-4 < gap.max() < 0.1  # another sigmoid: close, not exact
    with pytest.raises(ValueError, match="f_u"):
        A.fit_logistic(0, 1.0, 1, 0.5)


def test_expected_logistic_gaussian_appendix_f():
    mu, var = 0.8, 1.5
    # Eq. 242 for c = lam = 1 and alpha = 0.607
    assert_allclose(A.expected_logistic_gaussian(mu, var), 1 / (1 + np.exp(-mu / np.sqrt(1 + 0.368449 * var))),
                    rtol=1e-6)
    exact = integrate.quad(lambda s: np.exp(-0.5 * (s - mu) ** 2 / var) / np.sqrt(2 * np.pi * var) * expit(s),
                           -np.inf, np.inf)[0]
    nwgm_error = abs(1 / (1 + np.exp(-mu)) - exact)  # NWGM = sigma(E(S)) ignores the variance
    for alpha in A.ALPHA.values():
        for probit in (False, True):
            err = abs(A.expected_logistic_gaussian(mu, var, alpha=alpha, probit=probit) - exact)
            assert err < 0.01 and err < nwgm_error / 3


def test_expected_dsigma_approximations():
    mu, sd = 0.3, 0.2
    dens = lambda s: np.exp(-0.5 * ((s - mu) / sd) ** 2) / (np.sqrt(2 * np.pi) * sd)  # noqa: E731
    exact = integrate.quad(lambda s: dens(s) * expit(s) * (1 - expit(s)), -np.inf, np.inf)[0]
    # the approximations' own errors (deterministic, not sampling error)
    assert abs(A.expected_dsigma(mu) - exact) < 3e-3                          # Eq. 220
    assert abs(A.expected_dsigma(mu, sd**2, method="eq223") - exact) < 5e-3   # Eq. 223
    # and a Monte Carlo estimate agrees with the quadrature within 5 standard errors
    S = np.random.default_rng(1).normal(mu, sd, 10**5)
    o = 1 / (1 + np.exp(-S))
    d = o * (1 - o)
    assert abs(d.mean() - exact) <= 5 * d.std(ddof=1) / np.sqrt(d.size)


@pytest.mark.parametrize("mu, sigma, c, lam", [(0.0, 1.0, 1.0, 1.0), (0.5, 0.7, 2.0, 1.5)])
def test_density_of_O_integrates_to_one_and_matches_samples(mu, sigma, c, lam):
    total = integrate.quad(lambda o: A.density_O_gaussian_S(o, mu, sigma, c, lam), 0, 1, limit=200)[0]
    assert_allclose(total, 1.0, rtol=1e-6)
    S = np.random.default_rng(2).normal(mu, sigma, 10**5)
    O = 1 / (1 + c * np.exp(-lam * S))
    mean = integrate.quad(lambda o: o * A.density_O_gaussian_S(o, mu, sigma, c, lam), 0, 1, limit=200)[0]
    assert abs(mean - O.mean()) < 5 * O.std() / np.sqrt(O.size)


@pytest.mark.parametrize("a, b, c, lam", [(2.0, 2.0, 1.0, 1.0), (0.7, 3.0, 0.5, 2.0)])
def test_density_of_S_for_beta_O_integrates_to_one(a, b, c, lam):
    total = integrate.quad(lambda s: A.density_S_beta_O(s, a, b, c, lam), -np.inf, np.inf)[0]
    assert_allclose(total, 1.0, rtol=1e-7)


def test_variance_and_covariance_estimates_from_W():
    up, lo = A.variance_bounds([0.2, 0.5])
    assert_allclose(up, [0.16, 0.25]) and np.all(lo == 0)
    assert_allclose(A.eprod_independent([0.2], [0.5]), [0.1])


def test_connected_pair_by_forward_propagation_and_taylor():
    net = de.Network.random([5, 4, 3], "logistic", seed=3, dtype=np.float64, scale=0.6)
    X = np.random.default_rng(4).normal(size=(2, 5))
    gate = de.Dropout(0.5)
    cp = A.connected_pair(net, X, gate, layer=1, i=2, j=1)
    # W_ij: the ensemble network with the connection j -> i removed (Eq. 121)
    Ws = [w.copy() for w in net.weights]
    Ws[1][2, 1] = 0.0
    _, W = de.ensemble(de.Network(Ws, net.biases, net.transfers), X, gate)
    assert_allclose(cp.W_ij, W[1][:, 2], rtol=1e-12)
    assert_allclose(cp.W_ij_taylor, cp.W_ij, atol=0.02)  # Eq. 122, first order in w_ij
    # E(O_i O_j) estimates against the exact value by enumeration (2^11 subnetworks)
    ex = enumerate_subnetworks(net, X, gate, pairs=[((1, 2), (0, 1))])
    exact = ex.E_prod[:, 0]
    assert np.all(np.abs(cp.eprod - exact) < 0.05) and np.all(np.abs(cp.eprod_independent - exact) < 0.05)
    with pytest.raises(ValueError, match="layer"):
        A.connected_pair(net, X, gate, layer=0, i=0, j=0)


def test_sampling_distributions_fig91_92():
    d = A.sampling_distribution("uniform(0,1)", m=100, R=2000, seed=5)
    # both are 0.5 by symmetry (O and 1 - O have the same law); SE over the R replicas
    assert abs(d.mean_E - 0.5) <= 5 * d.E.std(ddof=1) / np.sqrt(d.E.size)
    assert abs(d.mean_nwgm - 0.5) <= 5 * d.nwgm.std(ddof=1) / np.sqrt(d.nwgm.size)
    assert d.corr > 0.8  # Section 9.4: strongly correlated, roughly constant in m
    low = A.sampling_distribution("uniform(0,0.5)", m=100, R=2000, seed=6)
    assert np.all(low.nwgm <= low.E + 1e-15)  # consistently low values: NWGM <= E (Eq. 81)
    ms, corr, cov = A.sampling_curve("normal(0.5,0.1)", [10, 100, 1000], R=1000, seed=7)
    assert np.all(np.diff(cov) < 0)  # the covariance shrinks like 1/m (Eq. 106-107)
    assert np.all(corr > 0.9)
    counts_E, counts_N, edges = d.histogram(20)
    assert counts_E.sum() == counts_N.sum() == 2000 and edges.size == 21
    with pytest.raises(ValueError, match="dist"):
        A.sampling_distribution("cauchy", 10)


def test_approximation_report_on_a_small_network():
    net = de.Network.random([20, 16, 12, 4], "logistic", seed=8, dtype=np.float64)
    X = np.random.default_rng(9).uniform(size=(5, 20))
    gate = de.Dropout([0.8, 0.5, 0.5])
    st = de.sample(net, X, gate, 4000, seed=10)
    layers = A.approximation_report(st, de.ensemble(net, X, gate))
    assert [r.layer for r in layers] == [0, 1, 2]
    for r in layers:
        assert 0 <= r.inside_bound1 <= 1 and 0 <= r.inside_bound2 <= 1
        assert abs(r.e_minus_w.mean) < 0.05 and r.e_minus_w.std < 0.05
        assert r.e_minus_nwgm.quantiles[0.01] <= r.e_minus_nwgm.quantiles[0.99]
        s = r.e_minus_w
        assert s.n == st.E[r.layer].size  # every (input, unit) pair
        assert 0 <= s.normality_p <= 1 and np.isfinite(s.skewness) and s.excess_kurtosis >= -2
    with pytest.raises(TypeError, match="stats"):
        A.approximation_report("x", [])
