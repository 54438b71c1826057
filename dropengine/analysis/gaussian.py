"""Estimates from the distribution of S (Appendices D, E, F)."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["ALPHA", "expected_logistic_gaussian", "expected_dsigma", "density_O_gaussian_S",
           "density_S_beta_O"]

#: Slopes alpha of sigma(S) ~ Phi(alpha S) (Eq. 235): 0.607 (the paper's choice), 1/1.702,
#: and sqrt(2 pi)/4 (equal derivatives at 0).
ALPHA = {"0.607": 0.607, "1/1.702": 1 / 1.702, "sqrt(2pi)/4": np.sqrt(2 * np.pi) / 4}


def expected_logistic_gaussian(mu_S, var_S, c=1.0, lam=1.0, alpha=0.607, probit=False):
    """E(sigma(S)) for S ~ N(mu_S, var_S) and sigma(S) = 1 / (1 + c e^{-lam S}) (Eq. 240-242):

        E(O) ~ 1 / (1 + exp(-(lam mu_S - log c) / sqrt(1 + alpha^2 lam^2 var_S)))     (Eq. 241)

    and with ``probit=True`` the intermediate Phi((lam mu_S - log c) / sqrt(lam^2 var_S + alpha^-2))
    (Eq. 240; the paper prints the denominator without its square root, and with var_S for
    the variance lam^2 var_S of lam S, equal in its case lam = 1). For c = lam = 1 and
    alpha = 0.607 this is 1 / (1 + exp(-mu_S / sqrt(1 + 0.368 var_S))) (Eq. 242).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> float(A.expected_logistic_gaussian(0.0, 1.0))     # symmetric about 1/2
    0.5
    >>> bool(abs(A.expected_logistic_gaussian(1.0, 2.0) - A.expected_transfer_gaussian(1.0, 2.0)) < 0.01)
    True
    """
    mu, var = np.asarray(mu_S, np.float64), np.asarray(var_S, np.float64)
    if (var < 0).any():
        raise ValueError("var_S must be >= 0")
    x = lam * mu - np.log(c)
    if probit:
        return ndtr(x / np.sqrt(lam**2 * var + alpha**-2))
    return 1.0 / (1.0 + np.exp(-x / np.sqrt(1.0 + alpha**2 * lam**2 * var)))


def expected_dsigma(E_S, var_S=None, c=1.0, lam=1.0, method="eq220"):
    """Approximations of E(sigma'(S)) for the logistic (Appendix D):

    ``eq220``  sigma'(E(S)) = lam sigma(E S) (1 - sigma(E S))                  (Eq. 220)
    ``eq223``  1 / (4 + lam^2 (Var(S) + E(S)^2)), derived for c = lam = 1      (Eq. 223)

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.expected_dsigma(0.5, 0.25)), 4)
    0.235
    """
    ES = np.asarray(E_S, np.float64)
    if method == "eq220":
        o = 1.0 / (1.0 + c * np.exp(-lam * ES))
        return lam * o * (1 - o)
    if method == "eq223":
        if var_S is None:
            raise ValueError("var_S is needed for method 'eq223'")
        return 1.0 / (4.0 + lam**2 * (np.asarray(var_S, np.float64) + ES**2))
    raise ValueError(f"method must be 'eq220' or 'eq223', got {method!r}")


def density_O_gaussian_S(o, mu, sigma, c=1.0, lam=1.0):
    """Density of O = sigma(S) when S ~ N(mu, sigma^2) (Eq. 226):

        f_O(o) = phi((s(o) - mu)/sigma) / sigma * 1 / (lam o (1 - o)),  s(o) = -log((1-o)/(c o)) / lam

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.density_O_gaussian_S(0.5, 0.0, 1.0)), 4)
    1.5958
    """
    o = np.asarray(o, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = -np.log((1 - o) / (c * o)) / lam
        f = np.exp(-0.5 * ((s - mu) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma) / (lam * o * (1 - o))
    return np.where((o > 0) & (o < 1), f, 0.0)


def density_S_beta_O(s, a, b, c=1.0, lam=1.0):
    """Density of S when O = sigma(S) ~ Beta(a, b) (Eq. 233):

        f_S(s) = lam B(a, b) sigma(s)^a (1 - sigma(s))^b,  B(a, b) = Gamma(a+b) / (Gamma(a) Gamma(b))

    (the paper's B is the Beta distribution's normalising constant, 1 / Beta(a, b)).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.density_S_beta_O(0.0, 2.0, 2.0)), 4)
    0.375
    """
    from scipy.special import betaln

    s = np.asarray(s, np.float64)
    z = lam * s - np.log(c)
    log_o, log_oc = -np.logaddexp(0, -z), -np.logaddexp(0, z)
    return lam * np.exp(-betaln(a, b) + a * log_o + b * log_oc)
