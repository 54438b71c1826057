"""Dropout transfer functions (Section 7, Appendix A): how far E(f(S)) is from f(E(S)).

Rectified linear errors under Gaussian (Eq. 72, 74), uniform (Eq. 190) and discrete
(Eq. 193) distributions of S; the logistic through two points (Eq. 61-64); and a
measure of the NWGM property NWGM(f(S)) = f(E(S)) (Eq. 59) for any f.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .._validation import as_real_array
from .means import summary

__all__ = ["relu_error_gaussian", "relu_error_uniform", "relu_error_discrete", "fit_logistic", "nwgm_gap"]

_SQRT2PI = np.sqrt(2 * np.pi)


def _relu(S, lam, t):
    return np.where(S <= t, 0.0, lam * (S - t))


def relu_error_gaussian(mu, sigma, lam=1.0, threshold=0.0):
    """E(RL(S)) - RL(E(S)) for S ~ N(mu, sigma^2) and RL of Eq. 69.

    E(RL(S)) = lam (mu - t) Phi((mu - t)/sigma) + lam sigma phi((mu - t)/sigma)   (Eq. 72,
    shifted by the threshold t); at mu = t the error is lam sigma / sqrt(2 pi) (Eq. 74).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.relu_error_gaussian(0.5, 1.0)), 4)
    0.1978
    """
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    if (sigma < 0).any():
        raise ValueError("sigma must be >= 0")
    x = mu - threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        z = x / sigma
        e = lam * x * ndtr(z) + lam * sigma * np.exp(-0.5 * z**2) / _SQRT2PI
    e = np.where(sigma == 0, _relu(mu, lam, threshold), e)
    return e - _relu(mu, lam, threshold)


def relu_error_uniform(low, high, lam=1.0, threshold=0.0):
    """E(RL(S)) - RL(E(S)) for S uniform on [low, high]; lam a / 4 for [-a, a] and t = 0 (Eq. 190).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.relu_error_uniform(-1.0, 2.0)), 4)
    0.1667
    """
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    if (high <= low).any():
        raise ValueError("high must be > low")
    lo = np.maximum(low, threshold)
    e_rl = np.where(high > threshold, lam * (high - lo) * ((high + lo) / 2 - threshold) / (high - low), 0.0)
    return e_rl - _relu((low + high) / 2, lam, threshold)


def relu_error_discrete(S, P=None, axis: int = -1, lam=1.0, threshold=0.0):
    """E(RL(S)) - RL(E(S)) for values S with weights P along `axis` (Eq. 191-193).

    Eq. 193: lam sum_{S_i > 0} P_i S_i if E(S) <= 0, else lam sum_{S_i <= 0} P_i |S_i|
    (threshold 0; a threshold t shifts S).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> np.round(A.relu_error_discrete(np.array([[-1.0, 1.0, 2.0]])), 4)
    array([0.3333])
    """
    S = np.moveaxis(as_real_array(S, "S", dtype=np.float64), axis, -1)
    m = S.shape[-1]
    w = np.full(m, 1.0 / m) if P is None else as_real_array(P, "P", dtype=np.float64, ndim=1)
    if w.shape != (m,) or (w < 0).any() or abs(w.sum() - 1) > 1e-9:
        raise ValueError(f"P must hold {m} weights >= 0 that sum to 1")
    return _relu(S, lam, threshold) @ w - _relu(S @ w, lam, threshold)


def fit_logistic(u, f_u, v, f_v):
    """The logistic 1 / (1 + c e^{-lam x}) through (u, f(u)) and (v, f(v)) (Eq. 61-64):

        c = ((1 - f(u))/f(u))^(v/(v-u)) ((1 - f(v))/f(v))^(-u/(v-u))
        lam = log[(1 - f(u))/f(u) * f(v)/(1 - f(v))] / (v - u)

    Returns (c, lam). Needs u != v and 0 < f(u), f(v) < 1.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> sigma = lambda x: 1 / (1 + 3.0 * np.exp(-2.0 * x))          # c = 3, lam = 2
    >>> c, lam = A.fit_logistic(-1.0, sigma(-1.0), 1.0, sigma(1.0))
    >>> round(float(c), 6), round(float(lam), 6)
    (3.0, 2.0)
    """
    u, v, fu, fv = (float(a) for a in (u, v, f_u, f_v))
    if u == v:
        raise ValueError("u and v must differ")
    if not (0 < fu < 1 and 0 < fv < 1):
        raise ValueError("f_u and f_v must lie in (0, 1)")
    ru, rv = np.log1p(-fu) - np.log(fu), np.log1p(-fv) - np.log(fv)  # log((1 - f)/f)
    lam = (ru - rv) / (v - u)
    c = np.exp((v * ru - u * rv) / (v - u))
    return c, lam


def nwgm_gap(f, S, P=None, axis: int = -1):
    """NWGM(f(S)) - f(E(S)) for a transfer function f with values in [0, 1] (Eq. 59).

    Zero for every S and P exactly when f is logistic or constant (Section 7.1); its
    size measures how far another f (e.g. a rescaled arctan) is from that property.

    Examples
    --------
    For the logistic function the gap is zero (Section 7.1):

    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> logistic = lambda s: 1.0 / (1.0 + np.exp(-s))
    >>> gap = A.nwgm_gap(logistic, np.array([[-1.0, 1.0, 2.0]]))
    >>> bool(np.all(np.abs(gap) < 1e-12))
    True
    """
    S = as_real_array(S, "S", dtype=np.float64)
    s = summary(f(S), P, axis)
    ES = np.moveaxis(S, axis, -1) @ (np.full(S.shape[axis], 1.0 / S.shape[axis]) if P is None
                                     else np.asarray(P, np.float64))
    return s.nwgm - f(ES)
