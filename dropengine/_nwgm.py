"""NWGM from log G and log G' (Eq. 37, 44) with the extreme cases of Section 8."""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["DropoutWarning", "nwgm_from_logs"]


class DropoutWarning(RuntimeWarning):
    """An extreme case of Section 8 (e.g. NWGM = 0/0) was met.

    Examples
    --------
    >>> import dropengine as de
    >>> issubclass(de.DropoutWarning, RuntimeWarning)
    True
    """


def nwgm_from_logs(log_G, log_Gc):
    """G / (G + G') as a logistic of log G - log G' (no underflow, Eq. 37).

    Section 8, extreme cases: G = 0 (some O = 0 with P > 0) gives 0, G' = 0 gives 1,
    both give 0/0: NaN, with a DropoutWarning.
    """
    lg, lgc = np.asarray(log_G, np.float64), np.asarray(log_Gc, np.float64)
    both_zero = np.isneginf(lg) & np.isneginf(lgc)
    if both_zero.any():
        warnings.warn("NWGM = 0/0 for some units: outputs 0 and 1 both occurred (Section 8, extreme cases); "
                      "reported as NaN", DropoutWarning, stacklevel=3)
    with np.errstate(invalid="ignore", over="ignore"):
        d = lg - lgc
        e = np.exp(-np.abs(d))
        return np.where(d >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
