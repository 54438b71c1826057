"""Exact E(f(S)) for Gaussian S (Appendices A, D, F) against an independent quadrature,
Monte Carlo, and identities; Appendix F's estimates beside it."""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import expit, ndtr

from dropengine.analysis import ALPHA, expected_transfer_gaussian, logistic_gaussian_approximations

# Written out again here, independently of the module (plain formulas, not its kernels).
F = {
    "logistic": lambda s, c, lam: 1.0 / (1.0 + c * np.exp(-lam * s)),
    "logistic_prime": lambda s, c, lam: lam * F["logistic"](s, c, lam) * (1 - F["logistic"](s, c, lam)),
    "logistic_second": lambda s, c, lam: (lam**2 * F["logistic"](s, c, lam) * (1 - F["logistic"](s, c, lam))
                                          * (1 - 2 * F["logistic"](s, c, lam))),
    "tanh": lambda s, c, lam: np.tanh(lam * s),
    "softplus": lambda s, c, lam: np.log1p(np.exp(-abs(lam * s))) / lam + max(s, 0.0),
}


def reference(name, mu, var, c=1.0, lam=1.0):
    """scipy.integrate.quad on the density (Eq. 224), with breakpoints where f turns."""
    sd = np.sqrt(var)
    centre = np.log(c) / lam if name.startswith("logistic") else 0.0
    pts = sorted({float(np.clip(centre + k / lam, mu - 12 * sd, mu + 12 * sd)) for k in (-20, -5, -1, 0, 1, 5, 20)})
    dens = lambda s: F[name](s, c, lam) * np.exp(-(s - mu) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)  # noqa: E731
    pts = [p for p in pts if mu - 12 * sd < p < mu + 12 * sd]
    return quad(dens, mu - 12 * sd, mu + 12 * sd, points=pts or None, epsabs=1e-15, epsrel=1e-14, limit=2000)[0]


MU = np.array([0.0, 0.4, -1.3, 3.0, -7.0, 15.0, -50.0])
VAR = np.array([1e-6, 0.01, 0.5, 1.0, 2.0, 4.0, 9.0, 25.0, 50.0, 100.0])


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("name,c,lam", [("logistic", 1.0, 1.0), ("logistic", 2.5, 0.7), ("logistic", 0.3, 3.0),
                                        ("logistic_prime", 1.0, 1.0), ("logistic_prime", 2.5, 0.7),
                                        ("logistic_second", 1.0, 1.0), ("logistic_second", 0.3, 3.0),
                                        ("tanh", 1.0, 1.0), ("tanh", 1.0, 0.4), ("softplus", 1.0, 1.5)])
def test_matches_independent_quadrature_to_1e10(name, c, lam):
    M, V = np.meshgrid(MU, VAR)
    got = expected_transfer_gaussian(M, V, transfer=name, c=c, lam=lam)
    want = np.vectorize(lambda m, v: reference(name, m, v, c, lam))(M, V)
    assert got.shape == M.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * max(1.0, np.abs(want).max() / 10))


def test_zero_variance_is_f_of_the_mean():
    mu = np.array([-40.0, -2.0, 0.0, 0.7, 33.0])
    for name in F:
        got = expected_transfer_gaussian(mu, 0.0, transfer=name, lam=1.3)
        np.testing.assert_allclose(got, [F[name](m, 1.0, 1.3) for m in mu], rtol=1e-15, atol=1e-15)
    assert expected_transfer_gaussian(0.5, sd_S=0.0, transfer="relu", lam=2.0, threshold=0.2) == pytest.approx(0.6)


def test_relu_is_eq72():
    mu, sd = np.array([-1.0, 0.0, 0.5, 2.0]), 0.8
    x = mu - 0.3
    want = 1.7 * x * ndtr(x / sd) + 1.7 * sd * np.exp(-x**2 / (2 * sd**2)) / np.sqrt(2 * np.pi)
    got = expected_transfer_gaussian(mu, sd_S=sd, transfer="relu", lam=1.7, threshold=0.3)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # Eq. 74: at mu = t the gap to RL(E S) = 0 is lam sigma / sqrt(2 pi)
    assert expected_transfer_gaussian(0.0, sd_S=2.0, transfer="relu") == pytest.approx(2 / np.sqrt(2 * np.pi), 1e-14)


def test_logistic_symmetry_and_var_beyond_100():
    M, V = np.meshgrid(np.linspace(-20, 20, 17), [0.3, 7.0, 100.0, 400.0, 1e4])
    e, e_neg = expected_transfer_gaussian(M, V), expected_transfer_gaussian(-M, V)
    np.testing.assert_allclose(e + e_neg, 1.0, rtol=0, atol=2e-15)  # sigma(-s) = 1 - sigma(s), c = 1
    assert np.all(np.diff(e, axis=1) > 0)  # increasing in mu
    # as var_S grows, E(sigma(S)) -> 1/2 (the limit named after Eq. 242): dE/dmu = E(sigma'(S))
    # <= max density 1 / sqrt(2 pi var_S), and E = 1/2 at mu = 0
    assert np.all(np.abs(e[-1] - 0.5) <= np.abs(M[-1]) / np.sqrt(2 * np.pi * 1e4))


def test_sd_and_var_agree_and_broadcast():
    a = expected_transfer_gaussian(np.array([0.1, 1.0, 2.0]), sd_S=np.array([[0.5], [3.0]]), transfer="tanh")
    b = expected_transfer_gaussian(np.array([0.1, 1.0, 2.0]), np.array([[0.25], [9.0]]), transfer="tanh")
    assert a.shape == (2, 3)
    np.testing.assert_array_equal(a, b)
    assert isinstance(expected_transfer_gaussian(0.2, 1.0), float)


@pytest.mark.parametrize("name,mu,var,c,lam", [("logistic", 0.7, 9.0, 2.0, 1.5),
                                               ("logistic_prime", -0.5, 4.0, 1.0, 1.0),
                                               ("tanh", 0.3, 2.0, 1.0, 0.8)])
def test_monte_carlo_within_5_standard_errors(name, mu, var, c, lam):
    S = np.random.default_rng(20140614).normal(mu, np.sqrt(var), 400_000)
    f = F[name](S, c, lam)
    se = f.std(ddof=1) / np.sqrt(f.size)
    assert abs(f.mean() - expected_transfer_gaussian(mu, var, transfer=name, c=c, lam=lam)) < 5 * se


def test_appendix_f_estimates_beside_the_exact_value():
    M, V = np.meshgrid(np.linspace(-8, 8, 33), [0.0, 0.05, 1.0, 4.0, 25.0, 100.0])
    r = logistic_gaussian_approximations(M, V)
    np.testing.assert_array_equal(r.exact, expected_transfer_gaussian(M, V))
    np.testing.assert_array_equal(r.nwgm, expit(M))
    for name, err in r.error.items():
        assert err.shape == M.shape and np.isfinite(err).all(), name
    for k, a in ALPHA.items():
        # Eq. 237-240 are exact for the probit stand-in of Eq. 236, so Eq. 240 errs by no
        # more than sup |sigma(x) - Phi(alpha x)| (0.0095 for 1/1.702, a known constant)
        assert np.abs(r.error[f"eq240[{k}]"]).max() <= r.probit_sup[k] + 1e-12
        np.testing.assert_allclose(r.eq241[k][0], expit(M[0]), rtol=1e-15)  # var_S = 0: sigma(mu_S)
    assert r.probit_sup["1/1.702"] == pytest.approx(0.0095, abs=1e-4)
    np.testing.assert_allclose(r.eq242, r.eq241["0.607"], atol=2e-3)  # 0.368 ~ 0.607^2
    # Eq. 240 as printed (no square root) is far off at moderate variance
    assert np.abs(r.error["eq240_printed[0.607]"][2]).max() > 0.1
    assert logistic_gaussian_approximations(0.0, 1.0, c=2.0).eq242 is None


@pytest.mark.parametrize("call,err,match", [
    (lambda: expected_transfer_gaussian(0.0), TypeError, "var_S"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, sd_S=1.0), TypeError, "sd_S"),
    (lambda: expected_transfer_gaussian(0.0, -1.0), ValueError, "var_S"),
    (lambda: expected_transfer_gaussian(0.0, sd_S=-0.1), ValueError, "sd_S"),
    (lambda: expected_transfer_gaussian(np.nan, 1.0), ValueError, "mu_S"),
    (lambda: expected_transfer_gaussian(0.0, np.inf), ValueError, "var_S"),
    (lambda: expected_transfer_gaussian("0", 1.0), TypeError, "mu_S"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, c=0.0), ValueError, "c"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, lam=-1.0), ValueError, "lam"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, lam=True), TypeError, "lam"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, transfer="arctan"), ValueError, "transfer"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, transfer="tanh", c=2.0), ValueError, "c"),
    (lambda: expected_transfer_gaussian(0.0, 1.0, threshold=1.0), ValueError, "threshold"),
    (lambda: logistic_gaussian_approximations(0.0, var_S=[1.0, -2.0]), ValueError, "var_S"),
])
def test_bad_input_names_the_argument(call, err, match):
    with pytest.raises(err, match=match):
        call()
