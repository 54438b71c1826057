"""Bounds and approximations of E - G and E - NWGM (Section 8, Appendix B).

Functions of E and V (and, where a bound needs them, of G, min O, max O) named after
what they compute. E, V, G, min, max come from ``summary``; every function broadcasts.

Examples
--------
>>> import numpy as np
>>> from dropengine import analysis as A
>>> from dropengine.analysis import bounds
>>> s = A.summary(np.array([[0.1, 0.5]]), axis=1)
>>> np.round(s.E - s.nwgm, 4), np.round(bounds.bound1(s.E, s.V), 4)
(array([0.05]), array([0.0913]))
"""
from __future__ import annotations

import numpy as np

from .means import Summary

__all__ = [
    "cartwright_field", "cartwright_field_refined", "eq80_bounds", "ky_fan_order",
    "g_second_order", "gc_second_order", "nwgm_second_order", "e_minus_nwgm_second_order",
    "bound1", "bound2", "bound_loose", "BOUND2_ARGMAX", "BOUND_LOOSE_ARGMAX",
    "nwgm_mean_expansion", "nwgm_expansion_01", "e_minus_nwgm_expansion_01", "bound_209", "bound_210",
    "binomial_ratio",
]

#: Where E(1-E)|1-2E| / (1-2E(1-E)) (bound 2) peaks on [0, 0.5] (Section 8, Fig. 8.1).
BOUND2_ARGMAX = 0.5 - np.sqrt(np.sqrt(5.0) - 2.0) / 2.0
#: Where 2E(1-E)|1-2E| peaks on [0, 0.5] (Section 8, Fig. 8.2).
BOUND_LOOSE_ARGMAX = 0.5 - np.sqrt(3.0) / 6.0


def _f(x):
    return np.asarray(x, dtype=np.float64)


# --- E - G (Eq. 78-80) ---------------------------------------------------------------
def cartwright_field(s: Summary):
    """Cartwright-Field bounds on E - G (Eq. 78): V / (2 max O) <= E - G <= V / (2 min O).

    Returns (lower, upper); upper is +inf where min O = 0.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> s = A.summary(np.array([[0.2, 0.8]]), axis=1)     # E = 0.5, G = 0.4, V = 0.09
    >>> lo, hi = A.bounds.cartwright_field(s)
    >>> bool(lo[0] <= s.E[0] - s.G[0] <= hi[0])
    True
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return s.V / (2 * s.max), np.where(s.min > 0, s.V / (2 * s.min), np.inf)


def cartwright_field_refined(s: Summary):
    """The refinement of Eq. 79:

        (max O - G) V / (2 max O (max O - E))  <=  E - G  <=  (min O - G) V / (2 min O (min O - E))

    The paper prints the lower bound without the factor (max O - E) in the denominator,
    which makes it weaker than Eq. 78 rather than a refinement; with it the two bounds
    are symmetric and hold (tests check both sides on random data). Where all values are
    equal (V = 0) both bounds are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> from dropengine.analysis import bounds
    >>> s = A.summary(np.array([[0.1, 0.5]]), axis=1)        # E = 0.3, V = 0.04
    >>> lower, upper = bounds.cartwright_field_refined(s)
    >>> np.round(lower, 4), np.round(upper, 4)
    (array([0.0553]), array([0.1236]))
    """
    G = s.G
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(s.V > 0, (s.max - G) * s.V / (2 * s.max * (s.max - s.E)), 0.0)
        hi = np.where(s.V > 0, np.where(s.min > 0, (s.min - G) * s.V / (2 * s.min * (s.min - s.E)), np.inf), 0.0)
    return lo, hi


def eq80_bounds(s: Summary):
    """Eq. 80: sum P (O - G)^2 / (2 max O) <= E - G <= sum P (O - G)^2 / (2 min O),
    with sum P (O - G)^2 = V + (E - G)^2.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> from dropengine.analysis import bounds
    >>> s = A.summary(np.array([[0.1, 0.5]]), axis=1)        # E = 0.3, V = 0.04
    >>> lower, upper = bounds.eq80_bounds(s)
    >>> np.round(lower, 4), np.round(upper, 4)
    (array([0.0458]), array([0.2292]))
    """
    q = s.V + (s.E - s.G) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return q / (2 * s.max), np.where(s.min > 0, q / (2 * s.min), np.inf)


def ky_fan_order(s: Summary):
    """The Ky Fan orderings (Eq. 81, 82): -1 where every value is <= 0.5 (consistently
    low: G <= NWGM <= E), +1 where every value is >= 0.5 (consistently high: NWGM >= E),
    0 otherwise (no ordering implied), and 0 where every value is exactly 0.5 (NWGM = E).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> from dropengine.analysis import bounds
    >>> s = A.summary(np.array([[0.1, 0.5]]), axis=1)        # E = 0.3, V = 0.04
    >>> bounds.ky_fan_order(s)                              # every value <= 0.5
    array([-1])
    """
    low, high = s.max <= 0.5, s.min >= 0.5
    return np.where(low & high, 0, np.where(low, -1, np.where(high, 1, 0)))


# --- second order, around 0.5 (Eq. 84-87) -----------------------------------------------
def g_second_order(E, V):
    """G ~ E - V (Eq. 84, 93).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.g_second_order(0.3, 0.01)), 4)                 # E = 0.3, V = 0.01
    0.29
    """
    return _f(E) - _f(V)


def gc_second_order(E, V):
    """G' ~ 1 - E - V (Eq. 84, 94).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.gc_second_order(0.3, 0.01)), 4)
    0.69
    """
    return 1.0 - _f(E) - _f(V)


def nwgm_second_order(E, V):
    """NWGM ~ (E - V) / (1 - 2V) (Eq. 84, 95).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.nwgm_second_order(0.3, 0.01)), 4)
    0.2959
    """
    E, V = _f(E), _f(V)
    return (E - V) / (1.0 - 2.0 * V)


def e_minus_nwgm_second_order(E, V):
    """E - NWGM ~ V (1 - 2E) / (1 - 2V) (Eq. 85, 96); its size is <= V (Eq. 86).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.e_minus_nwgm_second_order(0.3, 0.01)), 4)
    0.0041
    """
    E, V = _f(E), _f(V)
    return V * (1.0 - 2.0 * E) / (1.0 - 2.0 * V)


def bound1(E, V):
    """Bound 1, variance-dependent: |E - NWGM| <~ E(1-E)|1-2E| / (1-2V) (Eq. 87, Fig. 9.3).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.bound1(0.3, 0.01)), 6)
    0.085714
    """
    E, V = _f(E), _f(V)
    return E * (1 - E) * np.abs(1 - 2 * E) / (1 - 2 * V)


def bound2(E):
    """Bound 2, variance-free: |E - NWGM| <~ E(1-E)|1-2E| / (1-2E(1-E)) (Eq. 87, Fig. 8.1).
    Zero at E = 0, 0.5, 1; on [0, 0.5] it peaks at E = BOUND2_ARGMAX.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine.analysis import bounds
    >>> bounds.bound2(np.array([0.25, 0.5]))
    array([0.15, 0.  ])
    """
    E = _f(E)
    q = E * (1 - E)
    return q * np.abs(1 - 2 * E) / (1 - 2 * q)


def bound_loose(E):
    """The looser 2E(1-E)|1-2E| of Eq. 87 (Fig. 8.2); on [0, 0.5] it peaks at BOUND_LOOSE_ARGMAX.

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> float(bounds.bound_loose(0.25))
    0.1875
    """
    E = _f(E)
    return 2 * E * (1 - E) * np.abs(1 - 2 * E)


# --- Appendix B ----------------------------------------------------------------------
def nwgm_mean_expansion(E, V):
    """Expansion around the mean (Eq. 202): NWGM ~ (E - V/(2E)) / (1 - V / (2E(1-E))).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.nwgm_mean_expansion(0.3, 0.01)), 4)
    0.2902
    """
    E, V = _f(E), _f(V)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (E - V / (2 * E)) / (1 - 0.5 * V / (E * (1 - E)))


def nwgm_expansion_01(E, V):
    """Expansion around 1 (Eq. 207), and around 0 (Eq. 211): NWGM ~ (2E - V) / (2 - 2V).

    (Eq. 211 as printed, (1 - E - V/2) / (1 - V), is the complement G'/(G + G') of the
    same approximation: interchanging G and G' gives this one.)

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.nwgm_expansion_01(0.3, 0.01)), 4)
    0.298
    """
    E, V = _f(E), _f(V)
    return (2 * E - V) / (2 - 2 * V)


def e_minus_nwgm_expansion_01(E, V):
    """E - NWGM ~ -(E - 1/2) V / (1 - V) (Eq. 208).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.e_minus_nwgm_expansion_01(0.3, 0.01)), 4)
    0.002
    """
    E, V = _f(E), _f(V)
    return -(E - 0.5) * V / (1 - V)


def binomial_ratio(E):
    """E(1-E) / (1 - E(1-E)): positive, concave, 0 at E = 0 and 1, maximum 1/3 at E = 1/2
    (Appendix B.2).

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.binomial_ratio(0.5)), 4)               # the maximum, 1/3
    0.3333
    """
    q = _f(E) * (1 - _f(E))
    return q / (1 - q)


def bound_209(V):
    """Eq. 209: |E - NWGM| <~ V / (2(1 - V)), itself <= binomial_ratio(E)/2 <= 1/6.

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.bound_209(0.01)), 4)
    0.0051
    """
    V = _f(V)
    return 0.5 * V / (1 - V)


def bound_210(E):
    """Eq. 210: |E - NWGM| <~ |E - 1/2| E(1-E) / (1 - E(1-E)), <= binomial_ratio(E)/2 <= 1/6.

    Examples
    --------
    >>> from dropengine.analysis import bounds
    >>> round(float(bounds.bound_210(0.3)), 4)
    0.0532
    """
    return np.abs(_f(E) - 0.5) * binomial_ratio(E)
