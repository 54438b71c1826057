"""Appendix C: higher moments of a logistic unit's output under dropout (Eq. 212-218).

The variance V = E(O^2) - E^2 of O = sigma(S) = 1 / (1 + c exp(-lambda S)) is only
bounded by the mean (Eq. 212, ``eq212_interval``); Appendix C sketches two routes to an
estimate of E(O^2), hence of V:

* the NWGM of O^k (Eq. 213, ``nwgm_power``), which for k = 2 and logistic O needs a
  product over the subnetworks (Eq. 214, ``nwgm_square_logistic``);
* the inverse of the logistic function (Eq. 216, ``logit``), expanded around O = 1/2
  (Eq. 217, ``logit_series``), which ties E(S^2) to E(O^2) (Eq. 218,
  ``second_moment_eq218``, ``variance_eq218``): given E(S) and Var(S), Eq. 218 gives V.

Two misprints of the paper are corrected here and said where they matter: Eq. 214's
middle form has O_i where Eq. 213 (k = 2) has O_i^2 (its last form is right), and Eq. 216
lacks the log.

Examples
--------
>>> import numpy as np
>>> from dropengine.analysis import higher_moments as hm
>>> low, high = hm.eq212_interval(0.3)        # V lies in [0, E(1 - E)]
>>> float(low), round(float(high), 4)
(0.0, 0.21)
>>> round(float(hm.logit(0.75)), 4)
1.0986
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["eq212_interval", "nwgm_power", "nwgm_square_logistic", "logit",
           "logit_series", "second_moment_eq218", "variance_eq218"]


def _real(x, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array, got {type(x).__name__}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def _in_01(x, name: str, *, closed: bool) -> np.ndarray:
    a = _real(x, name)
    ok = (a >= 0) & (a <= 1) if closed else (a > 0) & (a < 1)
    if not np.all(ok):
        raise ValueError(f"{name} must lie in {'[0, 1]' if closed else '(0, 1)'}")
    return a


def _logistic_params(c, lam):
    """c > 0 and lambda != 0, finite: the logistic sigma(S) = 1 / (1 + c e^{-lambda S})
    that the inverse (Eq. 216) needs (c = 0 is the constant 1, which has none)."""
    for name, v in (("c", c), ("lam", lam)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
    if c <= 0:
        raise ValueError(f"c must be > 0 (the logistic 1 / (1 + c exp(-lam S)) of Eq. 27 is invertible then), got {c}")
    if lam == 0:
        raise ValueError("lam must be nonzero (lam = 0 makes sigma a constant)")
    return float(c), float(lam)


def _weights(P, n: int, name: str = "P") -> np.ndarray:
    """P_i >= 0 summing to 1 over n subnetworks (None: equal weights, as for samples)."""
    if P is None:
        return np.full(n, 1.0 / n)
    w = _real(P, name)
    if w.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one probability per subnetwork, got {w.shape}")
    if np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
        raise ValueError(f"{name} must be probabilities: >= 0 and summing to 1 (sum {w.sum():.12g})")
    return w


def eq212_interval(E):
    """The exact range of the variance of O in [0, 1] with mean E (Eq. 212):

        0 <= V <= E (1 - E) <= 1/4

    (O^2 <= O on [0, 1] gives E(O^2) <= E). Returns (lower, upper) = (0, E(1 - E)),
    arrays shaped like ``E`` (which must lie in [0, 1]). With E ~ W these are Section
    9.6's Eq. 118 and Eq. 117.

    Examples
    --------
    >>> from dropengine.analysis import higher_moments as hm
    >>> low, high = hm.eq212_interval(0.3)
    >>> float(low), round(float(high), 4)
    (0.0, 0.21)
    """
    E = _in_01(E, "E", closed=True)
    return np.zeros_like(E), E * (1 - E)


def nwgm_power(O, k: int, P=None, axis: int = -1):
    """NWGM of O^k over subnetworks, the candidate estimate of E(O^k) (Eq. 213):

        NWGM(O^k) = prod_i (O_i^k)^{P_i} / (prod_i (O_i^k)^{P_i} + prod_i (1 - O_i^k)^{P_i})
                  = 1 / (1 + prod_i ((1 - O_i)(1 + O_i + ... + O_i^{k-1}) / O_i^k)^{P_i})

    (1 - O^k = (1 - O)(1 + O + ... + O^{k-1})). Computed in logs, so that products over
    many subnetworks neither underflow nor overflow.

    Parameters
    ----------
    O : array, values in (0, 1), the subnetworks along ``axis``
    k : int >= 1 (k = 1 is the NWGM of Eq. 37)
    P : array of the subnetworks' probabilities (summing to 1), or None for equal weights
        (Monte Carlo samples)
    axis : the axis of O that runs over the subnetworks

    Returns
    -------
    array: O with ``axis`` removed.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine.analysis import higher_moments as hm
    >>> np.round(hm.nwgm_power(np.array([[0.2, 0.6]]), 2), 4)
    array([0.1328])
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an int >= 1 (the power of O), got {k!r}")
    O = np.moveaxis(_in_01(O, "O", closed=False), axis, -1)
    w = _weights(P, O.shape[-1])
    # log of prod_i ((1 - O_i^k) / O_i^k)^{P_i}; log1p(-O^k) keeps 1 - O^k accurate for small O
    log_ratio = (np.log1p(-O ** k) - k * np.log(O)) @ w
    return 1 / (1 + np.exp(log_ratio))


def _check_S(S, P, axis):
    S = np.moveaxis(_real(S, "S"), axis, -1)
    return S, _weights(P, S.shape[-1])


def nwgm_square_logistic(S, P=None, c=1.0, lam=1.0, axis: int = -1):
    """NWGM(O^2) for logistic O_i = 1 / (1 + c e^{-lambda S_i}), from the sums S_i (Eq. 214):

        NWGM(O^2) = 1 / (1 + prod_i ((1 - O_i)(1 + O_i) / O_i^2)^{P_i})
                  = 1 / (1 + c e^{-lambda E(S)} prod_i (2 + c e^{-lambda S_i})^{P_i})

    since (1 - O)/O = c e^{-lambda S}, (1 + O)/O = 2 + c e^{-lambda S}, and
    prod_i (c e^{-lambda S_i})^{P_i} = c e^{-lambda E(S)} (sum_i P_i = 1). (The paper's
    middle form prints O_i where Eq. 213 with k = 2 has O_i^2; its last form is right.)
    As the paper says, the product over subnetworks remains to be computed: it needs every
    S_i, not only E(S).

    Parameters: S (sums, subnetworks along ``axis``), P (their probabilities, or None for
    equal weights), c > 0, lam != 0. Returns an array, S with ``axis`` removed.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine.analysis import higher_moments as hm
    >>> np.round(hm.nwgm_square_logistic(np.array([[-1.0, 1.0]])), 4)
    array([0.2303])
    """
    c, lam = _logistic_params(c, lam)
    S, w = _check_S(S, P, axis)
    z = np.log(c) - lam * S  # log(c e^{-lambda S})
    return 1 / (1 + np.exp(np.log(c) - lam * (S @ w) + np.logaddexp(np.log(2.0), z) @ w))


def logit(O, c=1.0, lam=1.0):
    """The inverse of O = 1 / (1 + c e^{-lambda S}) (Eq. 216):

        S = (1 / lambda) log(c O / (1 - O))

    (the paper prints S = (1/lambda) cO / (1 - O), without the log). O in (0, 1).

    Examples
    --------
    >>> from dropengine.analysis import higher_moments as hm
    >>> round(float(hm.logit(0.6)), 4)
    0.4055
    """
    c, lam = _logistic_params(c, lam)
    O = _in_01(O, "O", closed=False)
    return (np.log(c) + np.log(O) - np.log1p(-O)) / lam


def logit_series(O, c=1.0, lam=1.0, n_terms: int = 1):
    """Eq. 217: the inverse (Eq. 216) expanded around O = 1/2, with eps = O - 1/2:

        S = (1/lambda) log c + (1/lambda) log((1 + 2 eps) / (1 - 2 eps))
          = (1/lambda) log c + (2/lambda) sum_{n >= 0} (2 eps)^{2n + 1} / (2n + 1)

    (the series of log(1 + u) for u = 2 eps and u = -2 eps, |2 eps| < 1). ``n_terms``
    terms n = 0 .. n_terms - 1 are kept; n_terms = 1 is the paper's approximation
    (1/lambda) log c + (4/lambda) eps, which Eq. 218 uses (the series has odd powers only,
    so one term is exact to second order in eps).

    Examples
    --------
    >>> from dropengine.analysis import higher_moments as hm
    >>> round(float(hm.logit_series(0.6)), 4)        # first term: 4 (O - 1/2)
    0.4
    """
    c, lam = _logistic_params(c, lam)
    if isinstance(n_terms, bool) or not isinstance(n_terms, (int, np.integer)) or n_terms < 1:
        raise ValueError(f"n_terms must be an int >= 1 (terms of the series kept), got {n_terms!r}")
    u = 2 * (_in_01(O, "O", closed=False) - 0.5)
    series = sum(u ** (2 * n + 1) / (2 * n + 1) for n in range(n_terms))
    return (np.log(c) + 2 * series) / lam


def second_moment_eq218(E_S, var_S, E, c=1.0, lam=1.0):
    """E(O^2) from the moments of S by Eq. 218, solved for E(O^2).

    With Eq. 217 to first order, S ~ a + b eps, a = (1/lambda) log c, b = 4/lambda,
    eps = O - 1/2, so that (Eq. 218)

        E(S^2) ~ E((a + b eps)^2) = a^2 + 2 a b E(eps) + b^2 E(eps^2),

    and E(eps) = E - 1/2, E(eps^2) = E(O^2) - E + 1/4 give

        E(O^2) ~ (E(S^2) - a^2 - 2 a b (E - 1/2)) / b^2 + E - 1/4,   E(S^2) = Var(S) + E(S)^2.

    Parameters
    ----------
    E_S, var_S : arrays (broadcastable), the mean and the *variance* (not the standard
        deviation) of the unit's sum S under dropout; var_S >= 0
    E : array, an estimate of E(O) in [0, 1] (the paper: NWGM(O) = sigma(E(S)), Eq. 39)
    c, lam : the logistic's parameters (c > 0, lam != 0)

    Returns
    -------
    array: the estimate of E(O^2). Nothing keeps it inside [E^2, E] (Eq. 212); the
    expansion holds near O = 1/2.

    Examples
    --------
    >>> from dropengine.analysis import higher_moments as hm
    >>> round(float(hm.second_moment_eq218(0.0, 1.0, 0.5)), 4)
    0.3125
    """
    c, lam = _logistic_params(c, lam)
    E_S, var_S = _real(E_S, "E_S"), _real(var_S, "var_S")
    if np.any(var_S < 0):
        raise ValueError("var_S must be >= 0 (a variance, not a standard deviation or a difference)")
    E = _in_01(E, "E", closed=True)
    a, b = math.log(c) / lam, 4 / lam
    E_S2 = var_S + E_S ** 2
    return (E_S2 - a * a - 2 * a * b * (E - 0.5)) / (b * b) + E - 0.25


def variance_eq218(E_S, var_S, E=None, c=1.0, lam=1.0):
    """Var(O) = E(O^2) - E^2 with E(O^2) from Eq. 218 (``second_moment_eq218``).

    For c = 1 this is V ~ (lambda/4)^2 E(S^2) - (E - 1/2)^2: the variance of the
    linearisation O ~ 1/2 + lambda S / 4 when E ~ 1/2 + lambda E(S) / 4. ``E`` defaults
    to the NWGM, sigma(E(S)) (Eq. 39), the estimate of E(O) that Appendix C assumes.
    Returns an array; compare with ``eq212_interval(E)`` to see whether it is sharper
    than Eq. 212.

    Examples
    --------
    >>> from dropengine.analysis import higher_moments as hm
    >>> round(float(hm.variance_eq218(0.0, 1.0)), 4)
    0.0625
    """
    if E is None:
        c_, lam_ = _logistic_params(c, lam)
        E = 1 / (1 + c_ * np.exp(-lam_ * _real(E_S, "E_S")))
    E = _in_01(E, "E", closed=True)
    return second_moment_eq218(E_S, var_S, E, c, lam) - E ** 2
