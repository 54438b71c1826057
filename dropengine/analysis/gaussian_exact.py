"""Exact E(f(S)) for Gaussian S (Appendices A, D, F), the reference for Eq. 240-242.

    E(f(S)) = int f(s) exp(-(s - mu_S)^2 / (2 var_S)) / sqrt(2 pi var_S) ds         (Eq. 224, 237)

computed to ~1e-14 absolute for the transfer functions the paper puts under a Gaussian
S: the logistic sigma(S) = 1 / (1 + c e^{-lam S}) (Eq. 27, 236), its derivatives sigma'
and sigma'' (Appendix D, Eq. 184), tanh(lam S) (Section 7.1), the softplus of Eq. 76
and the rectified linear function of Eq. 69 (closed form, Eq. 72).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite import hermgauss
from numpy.polynomial.legendre import leggauss
from scipy.special import expit, ndtr

from .gaussian import ALPHA, expected_logistic_gaussian

__all__ = ["TRANSFERS", "expected_transfer_gaussian", "GaussianApproximations", "logistic_gaussian_approximations"]

#: transfer -> (f(S; c, lam), kappa(lam), centre s0(c, lam)): f is analytic with poles at
#: distance pi / kappa from the real axis around s0, so kappa sets the node spacing.
_F = {
    "logistic": (lambda S, c, lam: expit(lam * S - np.log(c)), lambda lam: lam, lambda c, lam: np.log(c) / lam),
    "logistic_prime": (lambda S, c, lam: lam * expit(lam * S - np.log(c)) * expit(np.log(c) - lam * S),
                       lambda lam: lam, lambda c, lam: np.log(c) / lam),
    "logistic_second": (lambda S, c, lam: lam**2 * expit(lam * S - np.log(c)) * expit(np.log(c) - lam * S)
                        * -np.tanh((lam * S - np.log(c)) / 2), lambda lam: lam, lambda c, lam: np.log(c) / lam),
    "tanh": (lambda S, c, lam: np.tanh(lam * S), lambda lam: 2 * lam, lambda c, lam: 0.0),
    "softplus": (lambda S, c, lam: np.logaddexp(0.0, lam * S) / lam, lambda lam: lam, lambda c, lam: 0.0),
}
TRANSFERS = tuple(_F) + ("relu",)

#: Gauss-Hermite is used while kappa sd_S <= _GH_LIMIT: with 64 nodes it then errs by
#: < 1e-16 for sigma, sigma', sigma'' (measured against 25-digit mpmath; 3.5e-12 at 1.5);
#: beyond, the poles of f come within pi / (kappa sd sqrt 2) of the real axis in the
#: standardised variable and Gauss-Hermite converges too slowly (kappa sd = 10: 7e-5
#: with 200 nodes).
_GH_LIMIT, _GH_NODES = 1.0, 64
_K = 9.0  # |x| > 9 standard deviations holds 2.3e-19 of the mass
_GL_X, _GL_W = leggauss(20)
_GRADE = np.concatenate([[0.0], 0.5 * 2.0 ** np.arange(0, 8)])  # 0, 0.5, 1, ..., 64 in units of 1/kappa


def _real(value, name):
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number or array, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or Inf)")
    return arr


def _scale(var_S, sd_S):
    if (var_S is None) == (sd_S is None):
        raise TypeError("give exactly one of var_S (a variance) and sd_S (a standard deviation)")
    if var_S is not None:
        v = _real(var_S, "var_S")
        if (v < 0).any():
            raise ValueError("var_S must be >= 0 (a variance)")
        return np.sqrt(v)
    s = _real(sd_S, "sd_S")
    if (s < 0).any():
        raise ValueError("sd_S must be >= 0 (a standard deviation)")
    return s


def _param(value, name, positive):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be finite{' and > 0' if positive else ''}, got {value}")
    return value


def _composite(f, mu, sd, kappa, s0):
    """Composite 20-point Gauss-Legendre over x = (S - mu)/sd in [-9, 9]: panels of width
    1/2 (the Gaussian's scale) joined with panels graded 0.5, 1, 2, ..., 64 (in units of
    1/kappa, the scale of f) on each side of f's centre s0, so that every panel is short
    against both scales (f's poles lie pi/kappa off the axis)."""
    x0 = (s0 - mu) / sd
    grade = _GRADE / (kappa * sd[..., None])
    bp = np.concatenate([np.broadcast_to(np.arange(-_K, _K + 0.25, 0.5), mu.shape + (37,)),
                         x0[..., None] - grade, x0[..., None] + grade], axis=-1)
    bp = np.sort(np.clip(bp, -_K, _K), axis=-1)  # clipped copies make empty panels
    a, b = bp[..., :-1, None], bp[..., 1:, None]
    x = (a + b) / 2 + (b - a) / 2 * _GL_X
    w = (b - a) / 2 * _GL_W * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    return (w * f(mu[..., None, None] + sd[..., None, None] * x)).sum(axis=(-2, -1))


def expected_transfer_gaussian(mu_S, var_S=None, *, sd_S=None, transfer: str = "logistic", c=1.0, lam=1.0,
                               threshold=0.0):
    """E(f(S)) for S ~ N(mu_S, var_S), exact to ~1e-13 (the reference for Eq. 240-242).

    Give the spread as exactly one of ``var_S`` (variance sigma_S^2) or ``sd_S`` (standard
    deviation sigma_S); arrays broadcast. ``transfer``:

    ``logistic``
        sigma(S) = 1 / (1 + c e^{-lam S}) (Eq. 27, 236)
    ``logistic_prime``
        sigma'(S) = lam sigma(S) (1 - sigma(S)) (Appendix D, Eq. 220)
    ``logistic_second``
        sigma''(S) = lam^2 sigma (1 - sigma)(1 - 2 sigma) (Eq. 184; Appendix D
        prints one factor lam, a slip that is invisible at lam = 1)
    ``tanh``
        tanh(lam S) (Section 7.1)
    ``softplus``
        log(1 + e^{lam S}) / lam = int_{-inf}^S sigma (Eq. 76)
    ``relu``
        lam (S - t) for S > t, else 0, closed form (Eq. 69, 72):
        E = lam (mu - t) Phi((mu - t)/sigma_S) + lam sigma_S phi((mu - t)/sigma_S)

    With x = (S - mu_S)/sigma_S the integral is E(f(S)) = int f(mu_S + sigma_S x) phi(x) dx.
    f is analytic with poles at distance pi/kappa from the real axis (kappa = lam, or 2 lam
    for tanh), so Gauss-Hermite converges geometrically at a rate set by kappa sigma_S:

    * kappa sigma_S <= 1: 64-point Gauss-Hermite,
      E = pi^{-1/2} sum_k w_k f(mu_S + sqrt(2) sigma_S x_k) (error < 1e-16, measured);
    * larger: Gauss-Hermite alone cannot reach 1e-10 (kappa sigma_S = 10 errs by 7e-5 with
      200 nodes), so the integral is split: composite 20-point Gauss-Legendre on
      x in [-9, 9] (outside: 2.3e-19 of the mass), over panels of width 1/2 joined with
      panels graded 0.5, 1, 2, ..., 64 (units 1/kappa) on each side of f's centre
      (log c)/lam, which keeps every panel short against both scales;
    * sigma_S = 0: f(mu_S) itself.

    ``c`` (> 0) applies to the logistic family only, ``threshold`` to ``relu`` only.
    Tested against scipy.integrate.quad to 1e-10 for var_S up to 100 and |mu_S| up to 50
    (the measured gap is ~1e-15 relative).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> float(A.expected_transfer_gaussian(0.0, 1.0))                  # logistic, by symmetry
    0.5
    >>> round(float(A.expected_transfer_gaussian(1.0, 0.0, transfer="relu")), 12)
    1.0
    """
    if transfer not in TRANSFERS:
        raise ValueError(f"transfer must be one of {TRANSFERS}, got {transfer!r}")
    mu = _real(mu_S, "mu_S")
    sd = _scale(var_S, sd_S)
    c, lam = _param(c, "c", True), _param(lam, "lam", True)
    t = _param(threshold, "threshold", False)
    if transfer != "relu" and t != 0.0:
        raise ValueError(f"threshold is for transfer='relu' only, got threshold={t} with {transfer!r}")
    if transfer not in ("logistic", "logistic_prime", "logistic_second") and c != 1.0:
        raise ValueError(f"c is a parameter of the logistic only, got c={c} with transfer={transfer!r}")
    mu, sd = np.broadcast_arrays(mu, sd)
    if transfer == "relu":
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (mu - t) / sd
            e = lam * (mu - t) * ndtr(z) + lam * sd * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        out = np.where(sd == 0, lam * np.maximum(mu - t, 0.0), e)
        return out[()] if out.ndim == 0 else out
    fn, kap, cen = _F[transfer]
    f = lambda S: fn(S, c, lam)  # noqa: E731
    kappa, s0 = kap(lam), cen(c, lam)
    out = np.empty(mu.shape)
    zero, gh = sd == 0, (sd > 0) & (kappa * sd <= _GH_LIMIT)
    rest = ~zero & ~gh
    out[zero] = f(mu[zero])
    if gh.any():
        xk, wk = hermgauss(_GH_NODES)
        out[gh] = f(mu[gh, None] + np.sqrt(2) * sd[gh, None] * xk) @ wk / np.sqrt(np.pi)
    if rest.any():
        out[rest] = _composite(f, mu[rest], sd[rest], kappa, s0)
    return out[()] if out.ndim == 0 else out


@dataclass(frozen=True)
class GaussianApproximations:
    """E(sigma(S)) for S ~ N(mu_S, var_S) beside Appendix F's estimates; each estimate
    maps an alpha name of ALPHA to an array, and ``error`` holds estimate - exact.

    ``exact``
        the quadrature of expected_transfer_gaussian
    ``nwgm``
        sigma(mu_S) = NWGM(O) (Eq. 39, 68): the estimate that ignores var_S
    ``eq240``
        Phi((lam mu_S - log c) / sqrt(lam^2 var_S + alpha^-2)), the exact mean of
        the probit stand-in Phi(alpha(lam S - log c)) of Eq. 236-239
    ``eq240_printed``
        Eq. 240 as printed, without the square root: Phi((lam mu_S - log c) /
        (var_S + alpha^-2)), shown so that a reader can see what the slip costs
    ``eq241``
        1 / (1 + exp(-(lam mu_S - log c) / sqrt(1 + alpha^2 lam^2 var_S)))
    ``eq242``
        1 / (1 + exp(-mu_S / sqrt(1 + 0.368 var_S))), only for c = lam = 1 (else None)
    ``probit_sup``
        sup_x |sigma(x) - Phi(alpha x)| per alpha: |eq240 error| cannot exceed
        it, since Eq. 237-240 are exact for the probit stand-in of Eq. 236

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> g = A.logistic_gaussian_approximations(0.5, 1.0)
    >>> sorted(g.eq240)
    ['0.607', '1/1.702', 'sqrt(2pi)/4']
    >>> round(float(g.error["nwgm"]), 4)
    0.0204
    """

    exact: np.ndarray
    nwgm: np.ndarray
    eq240: dict
    eq240_printed: dict
    eq241: dict
    eq242: object
    probit_sup: dict
    error: dict


def _probit_sup(alpha):
    x = np.linspace(0, 12, 240001)  # sigma(x) - Phi(alpha x) is odd: x >= 0 suffices
    return float(np.abs(expit(x) - ndtr(alpha * x)).max())


def logistic_gaussian_approximations(mu_S, var_S=None, *, sd_S=None, c=1.0, lam=1.0) -> GaussianApproximations:
    """The exact E(sigma(S)), S ~ N(mu_S, var_S), beside the estimates of Appendix F
    (Eq. 240, 241, 242, each alpha of ALPHA) and the NWGM sigma(mu_S), with their errors.

    The paper states no error bound for Eq. 240-242; the one that follows from its
    derivation is |eq240 - exact| <= sup_x |sigma(x) - Phi(alpha x)| (``probit_sup``).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> g = A.logistic_gaussian_approximations(0.5, 1.0)
    >>> round(float(g.exact), 4), round(float(g.nwgm), 4), round(float(g.eq242), 4)
    (0.602, 0.6225, 0.6053)
    """
    mu = _real(mu_S, "mu_S")
    sd = _scale(var_S, sd_S)
    var = sd * sd
    exact = expected_transfer_gaussian(mu, sd_S=sd, transfer="logistic", c=c, lam=lam)
    x = lam * mu - np.log(c)
    nwgm = expit(x)
    e240 = {k: expected_logistic_gaussian(mu, var, c=c, lam=lam, alpha=a, probit=True) for k, a in ALPHA.items()}
    e240p = {k: ndtr(x / (var + a**-2)) for k, a in ALPHA.items()}
    e241 = {k: expected_logistic_gaussian(mu, var, c=c, lam=lam, alpha=a) for k, a in ALPHA.items()}
    e242 = 1.0 / (1.0 + np.exp(-mu / np.sqrt(1.0 + 0.368 * var))) if c == 1 and lam == 1 else None
    err = {"nwgm": nwgm - exact,
           **{f"eq240[{k}]": v - exact for k, v in e240.items()},
           **{f"eq240_printed[{k}]": v - exact for k, v in e240p.items()},
           **{f"eq241[{k}]": v - exact for k, v in e241.items()}}
    if e242 is not None:
        err["eq242"] = e242 - exact
    return GaussianApproximations(exact, nwgm, e240, e240p, e241, e242,
                                  {k: _probit_sup(a) for k, a in ALPHA.items()}, err)
