"""Ensemble error inequalities (Section 6, Eq. 55-58)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_real_array
from .means import summary

__all__ = ["ensemble_errors", "EnsembleErrors", "ERRORS", "squared_nwgm_region"]

#: Eq. 55: squared error 1/2 (t - O)^2 and relative entropy -t log O - (1 - t) log(1 - O).
ERRORS = ("squared", "relative_entropy")


def _error(kind, O, t, log_O=None, log_Oc=None):
    """Eq. 55 for the values O. The relative entropy reads log O and log(1 - O) from
    log_O and log_Oc where the caller has them exactly: near 1, 1 - O computed by
    subtraction keeps only the digits O had beyond 1 (at O = 1 - 1e-10 its log is off
    by ~1e-6), which is larger than the gaps Eq. 56-58 compare."""
    if kind == "squared":
        return 0.5 * (t - O) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.log(O) if log_O is None else log_O
        lc = np.log1p(-O) if log_Oc is None else log_Oc
        # 0 log 0 = 0: a target of exactly 0 or 1 has no term on the other side
        a = np.where(t > 0, -t * lo, 0.0)
        b = np.where(t < 1, -(1 - t) * lc, 0.0)
    return a + b


def squared_nwgm_region(t):
    """[r-, r+] where the squared error (t - sigma(x))^2 / 2 is convex in x, so that
    Eq. 58 holds for ensembles with every value inside: r+- = (1 + t +- sqrt(1 - t + t^2)) / 3."""
    t = np.asarray(t, np.float64)
    d = np.sqrt(1 - t + t * t)
    return (1 + t - d) / 3, (1 + t + d) / 3


@dataclass(frozen=True)
class EnsembleErrors:
    """Errors of the ensemble combinations and the expected error of the members:
    ``of_E`` <= ``expected`` (Eq. 56), ``of_WGM`` <= ``expected`` (Eq. 57),
    ``of_NWGM`` <= ``expected`` (Eq. 58).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> err = A.ensemble_errors(np.array([[0.2, 0.6]]), np.array([1.0]), axis=1)
    >>> np.round(err.of_NWGM, 4), bool(err.of_NWGM[0] <= err.expected[0])
    (array([0.1923]), True)
    """

    of_E: np.ndarray
    of_WGM: np.ndarray
    of_NWGM: np.ndarray
    expected: np.ndarray


def ensemble_errors(O, t, P=None, axis: int = -1, error: str = "squared") -> EnsembleErrors:
    """Error(E), Error(WGM), Error(NWGM) and E(Error) of an ensemble O (values in [0, 1])
    with weights P along `axis`, for the target t (broadcast against O less `axis`).

    Eq. 56, Error(E) <= E(Error), holds for both errors of Eq. 55 (Jensen: both are
    convex in O). Eq. 57 and 58 apply Jensen to Error(g(x)) with g = exp and g = logistic;
    that composition is convex for the relative entropy, so both hold for it, but not in
    general for the squared error, contrary to the paper's proof (a convex function of an
    increasing one need not be convex). For instance O = (0.5, 0.25), P = (1/2, 1/2),
    t = 1 gives Error(WGM) = 0.2089 > E(Error) = 0.2031. For the squared error:

    - Eq. 57 holds when every O >= t/2 ((t - e^x)^2 is convex in x exactly there);
    - Eq. 58 holds when every O lies in [r-, r+], r+- = (1 + t +- sqrt(1 - t + t^2)) / 3
      ((t - sigma(x))^2 is convex in x exactly there), e.g. O <= 2/3 for t = 0.

    Examples
    --------
    Two equally likely outputs 0.2 and 0.6 against the target 1 (squared error): the
    error of the ensemble's mean E is below the mean error (Eq. 56).

    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> err = A.ensemble_errors(np.array([[0.2, 0.6]]), np.array([1.0]), axis=1)
    >>> err.of_E, err.expected
    (array([0.18]), array([0.2]))
    """
    if error not in ERRORS:
        raise ValueError(f"error must be one of {ERRORS}, got {error!r}")
    s = summary(O, P, axis)
    t = as_real_array(t, "t", dtype=np.float64)
    if ((t < 0) | (t > 1)).any():
        raise ValueError("t: targets must lie in [0, 1]")
    try:
        tb = np.broadcast_to(t, s.E.shape)
    except ValueError:
        raise ValueError(f"t must broadcast to {s.E.shape} (O's shape without axis), got {t.shape}") from None
    Oa = np.asarray(O, dtype=np.float64)
    m = Oa.shape[axis]
    w = np.full(m, 1.0 / m) if P is None else np.asarray(P, np.float64)

    def weighted(a):  # sum_i P_i a_i along axis; members of weight 0 take no part
        with np.errstate(invalid="ignore"):  # inf * 0 for a member of weight 0
            return np.where(w > 0, np.moveaxis(a, axis, -1), 0.0) @ w

    t_members = np.expand_dims(tb, axis)
    if error == "squared":
        expected = weighted(_error(error, Oa, t_members))
        return EnsembleErrors(_error(error, s.E, tb), _error(error, s.G, tb), _error(error, s.nwgm, tb), expected)
    # The relative entropy reads logs, and each combination's log of its complement comes
    # from its definition (Eq. 37: 1 - NWGM = G' / (G + G'); 1 - G = -expm1(log G);
    # 1 - E = sum P (1 - O)), in float64 NumPy from log O and log1p(-O) of the members,
    # which keep their relative precision near 0 and near 1 alike; below 1/2 log1p(-value)
    # is the exact one.
    with np.errstate(divide="ignore", invalid="ignore"):
        lO, lOc = np.log(Oa), np.log1p(-Oa)
        expected = weighted(_error(error, Oa, t_members, log_O=lO, log_Oc=lOc))
        log_G, log_Gc = weighted(lO), weighted(lOc)
        log_norm = np.logaddexp(log_G, log_Gc)
        G, nwgm = np.exp(log_G), np.exp(log_G - log_norm)
        log_c = {"E": np.where(s.E < 0.5, np.log1p(-s.E), np.log(weighted(1.0 - Oa))),
                 "G": np.where(G < 0.5, np.log1p(-G), np.log(-np.expm1(log_G))),
                 "nwgm": np.where(nwgm < 0.5, np.log1p(-nwgm), log_Gc - log_norm)}
    return EnsembleErrors(_error(error, s.E, tb, log_Oc=log_c["E"]),
                          _error(error, G, tb, log_O=log_G, log_Oc=log_c["G"]),
                          _error(error, nwgm, tb, log_O=log_G - log_norm, log_Oc=log_c["nwgm"]), expected)
