"""Appendix D, Eq. 221-222: the NWGM of the logistic's derivative, NWGM(sigma'(S)), as an
estimate of E(sigma'(S)), and its series form for c = lam = 1.

For sigma(x) = 1 / (1 + c e^{-lam x}), sigma'(x) = lam sigma (1 - sigma), and

    NWGM(sigma'(S)) = 1 / (1 + prod_i ((1 - sigma'(S_i)) / sigma'(S_i))^{P_i})            (Eq. 221)
    (1 - sigma'(S)) / sigma'(S) = e^{lam S} / (lam c) + 2 / lam - 1 + (c / lam) e^{-lam S}

which needs 0 <= sigma'(S_i) <= 1 (lam <= 4). With c = lam = 1 the odd terms of the two
exponentials cancel:

    NWGM(sigma'(S)) = 1 / (1 + 3 prod_i (1 + sum_{n>=1} 2 S_i^{2n} / (3 (2n)!))^{P_i})   (Eq. 222)

and truncating the sum after n_terms terms gives the approximations the paper derives
from it (n_terms = 1 then (1 + x)^a ~ 1 + a x gives Eq. 223, ``gaussian.expected_dsigma``).
Both functions reduce over ``axis`` (the samples S_i, weighted by P, default uniform).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["nwgm_dsigma", "nwgm_dsigma_series", "log_odds_dsigma"]


def _weights(S, P, axis):
    S = np.asarray(S, np.float64)
    if not np.isfinite(S).all():
        raise ValueError("S must be finite")
    n = S.shape[axis]
    if n == 0:
        raise ValueError("S needs at least one value along axis")
    if P is None:
        P = np.full(n, 1.0 / n)
    P = np.asarray(P, np.float64)
    if P.shape != (n,):
        raise ValueError(f"P must have shape ({n},), got {P.shape}")
    if (P < 0).any() or not np.isclose(P.sum(), 1.0, rtol=0, atol=1e-9):
        raise ValueError("P must be non-negative and sum to 1")
    shape = [1] * S.ndim
    shape[axis] = n
    return S, P.reshape(shape)


def log_odds_dsigma(S, c=1.0, lam=1.0):
    """log((1 - sigma'(S)) / sigma'(S)), computed without overflow for large |S|:
    sigma'(S) = lam / (4 cosh^2(z / 2)) with z = lam S - log c, so
    log sigma'(S) = log lam - 2 log(e^{z/2} + e^{-z/2})."""
    if not (lam > 0 and c > 0):
        raise ValueError("c and lam must be > 0")
    if lam > 4:
        raise ValueError("Eq. 221 needs sigma'(S) <= 1, i.e. lam <= 4")
    z = lam * np.asarray(S, np.float64) - math.log(c)
    log_d = math.log(lam) - 2.0 * np.logaddexp(0.5 * z, -0.5 * z)
    with np.errstate(divide="ignore"):  # sigma' = 1 (lam = 4, z = 0): -inf, and then NWGM = 1
        return np.log1p(-np.exp(log_d)) - log_d


def nwgm_dsigma(S, P=None, c=1.0, lam=1.0, axis: int = -1):
    """NWGM(sigma'(S)) over the values S_i (weights P_i) along ``axis`` (Eq. 221).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> np.round(A.nwgm_dsigma(np.array([[-1.0, 1.0, 2.0]])), 4)
    array([0.1607])
    """
    S, P = _weights(S, P, axis)
    t = np.sum(P * log_odds_dsigma(S, c, lam), axis=axis)
    return 1.0 / (1.0 + np.exp(t))


def nwgm_dsigma_series(S, P=None, n_terms: int | None = 1, axis: int = -1):
    """Eq. 222 (c = lam = 1) with the sum over n truncated after ``n_terms`` terms
    (None: the whole sum, 1 + 2 cosh(S) = 3 (1 + sum ...), which equals Eq. 221).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> np.round(A.nwgm_dsigma_series(np.array([[-1.0, 1.0, 2.0]])), 4)
    array([0.1718])
    """
    S, P = _weights(S, P, axis)
    if n_terms is None:
        inner = (1.0 + 2.0 * np.cosh(S)) / 3.0
    else:
        if int(n_terms) != n_terms or n_terms < 0:
            raise ValueError("n_terms must be an integer >= 0 or None")
        inner = np.ones_like(S)
        for n in range(1, int(n_terms) + 1):
            inner = inner + 2.0 * S ** (2 * n) / (3.0 * math.factorial(2 * n))
    t = np.sum(P * np.log(inner), axis=axis)
    return 1.0 / (1.0 + 3.0 * np.exp(t))
