"""Appendix D (Eq. 221-223) and Appendix E.2 (Eq. 228-230) against oracles: NumPy brute
force of the NWGM's definition, exact enumeration of dropout masks and of discrete
weight and activity distributions."""
import itertools
import math

import numpy as np
import pytest

from dropengine.analysis.dsigma_nwgm import log_odds_dsigma, nwgm_dsigma, nwgm_dsigma_series
from dropengine.analysis.gaussian import expected_dsigma
from dropengine.analysis.sum_moments import sum_mean, sum_variance, sum_variance_centered


def _dsigma(S, c, lam):
    s = 1.0 / (1.0 + c * np.exp(-lam * S))
    return lam * s * (1 - s)


def _nwgm_brute(values, P):
    """NWGM = G / (G + G') straight from its definition (Eq. 35-37)."""
    G = np.prod(values ** P)
    Gc = np.prod((1 - values) ** P)
    return G / (G + Gc)


def _nwgm_dsigma_mp(S, P, c, lam):
    """NWGM(sigma'(S)) from its definition in 50-digit arithmetic (sigma' near 1 for
    lam near 4 would lose digits in 1 - sigma' in float64)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    G = Gc = mpmath.mpf(1)
    for s, p in zip(S, P):
        e = c * mpmath.exp(-lam * mpmath.mpf(float(s)))
        d = lam * e / (1 + e) ** 2
        G *= d ** mpmath.mpf(float(p))
        Gc *= (1 - d) ** mpmath.mpf(float(p))
    return float(G / (G + Gc))


@pytest.mark.parametrize("c,lam", [(1.0, 1.0), (2.0, 0.5), (0.3, 3.0), (1.0, 4.0)])
def test_eq221_matches_the_definition(c, lam):
    rng = np.random.default_rng(1)
    for _ in range(10):
        S = rng.normal(0, 3, 12)
        P = rng.dirichlet(np.ones(12))
        assert nwgm_dsigma(S, P, c, lam) == pytest.approx(_nwgm_dsigma_mp(S, P, c, lam), rel=1e-12)
    # the closed form of (1 - sigma') / sigma' printed in Eq. 221
    S = np.linspace(-8, 8, 32)  # not 0, where sigma' = 1 for lam = 4 and both sides are -inf
    printed = np.exp(lam * S) / (lam * c) + 2 / lam - 1 + (c / lam) * np.exp(-lam * S)
    np.testing.assert_allclose(log_odds_dsigma(S, c, lam), np.log(printed), rtol=1e-12, atol=1e-12)


def test_eq221_on_enumerated_dropout_masks():
    """A logistic unit with 10 dropout-gated inputs: all 2^10 subnetworks enumerated, each
    with its probability; Eq. 221 over them against the brute-force NWGM."""
    rng = np.random.default_rng(2)
    w, x, p = rng.normal(0, 1, 10), rng.random(10), 0.5
    masks = np.array(list(itertools.product([0, 1], repeat=10)), np.float64)
    P = np.prod(np.where(masks == 1, p, 1 - p), axis=1)
    S = masks @ (w * x)
    assert nwgm_dsigma(S, P) == pytest.approx(_nwgm_brute(_dsigma(S, 1.0, 1.0), P), rel=1e-12)
    # Eq. 81 applies (sigma' <= 1/4 <= 1/2): NWGM(sigma') <= E(sigma')
    assert nwgm_dsigma(S, P) <= np.sum(P * _dsigma(S, 1.0, 1.0))


def test_eq81_bound_holds_for_lam_up_to_2():
    rng = np.random.default_rng(3)
    S = rng.normal(0, 4, (200, 30))
    for lam in (0.5, 1.0, 2.0):
        assert (nwgm_dsigma(S, None, 1.0, lam) <= _dsigma(S, 1.0, lam).mean(axis=1) + 1e-15).all()


def test_sigma_prime_equal_to_one_gives_nwgm_one():
    assert nwgm_dsigma([0.0, 1.0], [0.5, 0.5], lam=4.0) == 1.0


def test_log_odds_stays_finite_where_the_exponentials_overflow():
    S = np.array([-800.0, 800.0])
    assert np.isfinite(log_odds_dsigma(S)).all()
    np.testing.assert_allclose(log_odds_dsigma(S), [800.0, 800.0], rtol=1e-12)


def test_eq222_whole_series_equals_eq221_and_truncations_converge():
    rng = np.random.default_rng(4)
    S = rng.normal(0, 2, (5, 40))
    P = rng.dirichlet(np.ones(40))
    exact = nwgm_dsigma(S, P)
    np.testing.assert_allclose(nwgm_dsigma_series(S, P, None), exact, rtol=1e-12)
    # |S| < 8 here: the remainder of the cosh series after 25 terms is below 8^52/52! ~ 1e-21
    assert np.abs(S).max() < 8
    np.testing.assert_allclose(nwgm_dsigma_series(S, P, 25), exact, rtol=1e-12)
    errs = [np.abs(nwgm_dsigma_series(S, P, n) - exact).max() for n in (1, 2, 4, 8)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < errs[0]
    assert nwgm_dsigma_series(S, P, 0) == pytest.approx(0.25)  # no terms: 1 / (1 + 3)


def test_eq223_is_eq222_first_term_linearised():
    """For |S| <= 0.05, x = S^2/3 <= 8.4e-4: log(1 + x) = x + O(x^2) and e^t = 1 + t + O(t^2)
    change 1 / (1 + 3 e^t) by at most ~x^2 < 1e-6 against 1 / (4 + E(S^2)) (Eq. 223)."""
    rng = np.random.default_rng(5)
    S = rng.uniform(-0.05, 0.05, (50, 16))
    n1 = nwgm_dsigma_series(S, None, 1)
    eq223 = expected_dsigma(S.mean(1), S.var(1), method="eq223")
    np.testing.assert_allclose(n1, eq223, atol=1e-6)


def test_dsigma_nwgm_argument_checks():
    with pytest.raises(ValueError, match="lam <= 4"):
        nwgm_dsigma([0.0], lam=5.0)
    with pytest.raises(ValueError, match="sum to 1"):
        nwgm_dsigma([0.0, 1.0], [0.5, 0.6])
    with pytest.raises(ValueError, match="finite"):
        nwgm_dsigma([np.inf])
    with pytest.raises(ValueError, match="n_terms"):
        nwgm_dsigma_series([0.0], None, -1)


def _discrete_sum_moments(n, wv, pw, ov, po):
    """E(S), Var(S) of S = sum_i w_i O_i, all w_i, O_i independent and discrete, by
    enumerating every joint outcome of the n pairs."""
    pairs = [(w * o, a * b) for (w, a), (o, b) in itertools.product(zip(wv, pw), zip(ov, po))]
    m1 = m2 = 0.0
    for combo in itertools.product(pairs, repeat=n):
        s = sum(v for v, _ in combo)
        p = math.prod(q for _, q in combo)
        m1 += p * s
        m2 += p * s * s
    return m1, m2 - m1 * m1


@pytest.mark.parametrize("n", [1, 2, 4])
def test_eq228_229_against_enumeration(n):
    wv, pw = np.array([-0.7, 0.2, 1.1]), np.array([0.2, 0.5, 0.3])
    ov, po = np.array([0.0, 0.4, 0.9]), np.array([0.5, 0.3, 0.2])
    mu_w, var_w = pw @ wv, pw @ wv**2 - (pw @ wv) ** 2
    mu_o, var_o = po @ ov, po @ ov**2 - (po @ ov) ** 2
    m, v = _discrete_sum_moments(n, wv, pw, ov, po)
    assert sum_mean(n, mu_w, mu_o) == pytest.approx(m, rel=1e-12)
    assert sum_variance(n, mu_w, var_w, mu_o, var_o) == pytest.approx(v, rel=1e-12)


def test_eq230_is_eq229_with_zero_mean_weights_and_matches_enumeration():
    wv, pw = np.array([-1.0, 0.5]), np.array([1 / 3, 2 / 3])  # mean 0
    ov, po = np.array([0.1, 0.8]), np.array([0.6, 0.4])
    var_w = pw @ wv**2
    mu_o, var_o = po @ ov, po @ ov**2 - (po @ ov) ** 2
    _, v = _discrete_sum_moments(3, wv, pw, ov, po)
    assert sum_variance_centered(3, var_w, mu_o, var_o) == pytest.approx(v, rel=1e-12)
    assert sum_variance_centered(3, var_w, mu_o, var_o) == pytest.approx(sum_variance(3, 0.0, var_w, mu_o, var_o))


def test_sum_moments_refuse_negative_variances():
    with pytest.raises(ValueError, match="variance"):
        sum_variance(3, 0.0, -1.0, 0.5, 0.1)
    with pytest.raises(ValueError, match="variance"):
        sum_variance_centered(3, 1.0, 0.5, -0.1)
