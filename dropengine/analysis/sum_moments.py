"""Appendix E.2, Eq. 228-230: the mean and variance of a sum S = sum_{i=1}^n w_i O_i of n
products, the weights with mean mu_w and variance var_w, the activities with mean mu_O
and variance var_O, weights and activities independent (and the n products independent):

    E(S)   = n mu_w mu_O                                                         (Eq. 228)
    Var(S) = n [(var_w + mu_w^2)(var_O + mu_O^2) - mu_w^2 mu_O^2]                (Eq. 229)
    Var(S) = n var_w (var_O + mu_O^2)          when mu_w = 0                     (Eq. 230)

For n large S is then approximately Gaussian (central limit theorem), with these moments.
The arguments are variances (``var_w``, ``var_O``), never standard deviations.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sum_mean", "sum_variance", "sum_variance_centered"]


def _n(n):
    n = np.asarray(n)
    if (n < 0).any():
        raise ValueError("n must be >= 0")
    return n


def _var(v, name):
    v = np.asarray(v, np.float64)
    if (v < 0).any():
        raise ValueError(f"{name} is a variance and must be >= 0")
    return v


def sum_mean(n, mu_w, mu_O):
    """E(S) = n mu_w mu_O (Eq. 228).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.sum_mean(10, 0.1, 0.5)), 4)
    0.5
    """
    return _n(n) * np.asarray(mu_w, np.float64) * np.asarray(mu_O, np.float64)


def sum_variance(n, mu_w, var_w, mu_O, var_O):
    """Var(S) = n [(var_w + mu_w^2)(var_O + mu_O^2) - mu_w^2 mu_O^2] (Eq. 229).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.sum_variance(10, 0.1, 0.01, 0.5, 0.04)), 4)
    0.033
    """
    mu_w, mu_O = np.asarray(mu_w, np.float64), np.asarray(mu_O, np.float64)
    var_w, var_O = _var(var_w, "var_w"), _var(var_O, "var_O")
    return _n(n) * ((var_w + mu_w**2) * (var_O + mu_O**2) - mu_w**2 * mu_O**2)


def sum_variance_centered(n, var_w, mu_O, var_O):
    """Var(S) = n var_w (var_O + mu_O^2), the case mu_w = 0 (Eq. 230).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> round(float(A.sum_variance_centered(10, 0.01, 0.5, 0.04)), 4)
    0.029
    """
    return _n(n) * _var(var_w, "var_w") * (_var(var_O, "var_O") + np.asarray(mu_O, np.float64) ** 2)
