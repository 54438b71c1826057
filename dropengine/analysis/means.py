"""Weighted arithmetic, geometric and normalized geometric means (Eq. 28-30, 35-37).

``summary`` reduces an array of values O in [0, 1] along one axis with weights P and
returns every quantity the bounds of Section 8 need; ``means`` is its short form. The
reduction runs in the Cython kernel (``_kernels.summarize``, OpenMP); ``summary_numpy``
is its plain NumPy twin.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import _engine as engine
from .._nwgm import nwgm_from_logs
from .._validation import as_real_array, as_threads
from . import _kernels

__all__ = ["Means", "Summary", "means", "summary", "summary_numpy"]

#: Products of uniform-weight values are formed in groups whose product stays above this.
_TINY = 1e-280


class Means(NamedTuple):
    """E = sum P O, G = prod O^P (Eq. 35), Gc = prod (1 - O)^P (Eq. 36), nwgm = G / (G + Gc) (Eq. 37).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> A.means(np.array([[0.2, 0.8]]), axis=1)
    Means(E=array([0.5]), G=array([0.4]), Gc=array([0.4]), nwgm=array([0.5]))
    """

    E: np.ndarray
    G: np.ndarray
    Gc: np.ndarray
    nwgm: np.ndarray


@dataclass(frozen=True)
class Summary:
    """Everything Section 8 uses, per position of the reduced array (float64):
    E, V = sum P (O - E)^2, log_G, log_Gc, G, Gc, nwgm, and min / max of the values
    with positive weight (for Eq. 78-82).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> s = A.summary(np.array([[0.2, 0.8]]), axis=1)
    >>> s.E, s.G, s.nwgm, s.min, s.max
    (array([0.5]), array([0.4]), array([0.5]), array([0.2]), array([0.8]))
    """

    E: np.ndarray
    V: np.ndarray
    log_G: np.ndarray
    log_Gc: np.ndarray
    min: np.ndarray
    max: np.ndarray

    @property
    def G(self):
        return np.exp(self.log_G)

    @property
    def Gc(self):
        return np.exp(self.log_Gc)

    @property
    def nwgm(self):
        return nwgm_from_logs(self.log_G, self.log_Gc)

    def means(self) -> Means:
        return Means(self.E, self.G, self.Gc, self.nwgm)


def _prepare(O, P, axis):
    """O as a C-contiguous (A, m, B) view with m on `axis`, validated P, and the output shape."""
    O = as_real_array(O, "O", finite=False)
    if O.dtype not in (np.float32, np.float64):
        O = O.astype(np.float64)
    if O.ndim == 0:
        raise ValueError("O must have at least one dimension (the values to average)")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    if not -O.ndim <= axis < O.ndim:
        raise ValueError(f"axis {axis} is out of range for O with {O.ndim} dimensions")
    axis = int(axis) % O.ndim
    m = O.shape[axis]
    if m == 0:
        raise ValueError("O: the averaged axis is empty (no values to average)")
    out_shape = O.shape[:axis] + O.shape[axis + 1:]
    A = int(np.prod(O.shape[:axis], dtype=np.int64))
    B = int(np.prod(O.shape[axis + 1:], dtype=np.int64))
    O3 = np.ascontiguousarray(O).reshape(A, m, B)
    if P is not None:
        P = as_real_array(P, "P", dtype=np.float64, ndim=1)
        if P.shape != (m,):
            raise ValueError(f"P must have shape ({m},) (one weight per value along axis {axis}), got {P.shape}")
        if (P < 0).any():
            raise ValueError("P: weights must be >= 0")
        with np.errstate(over="ignore"):
            total = P.sum()
        if not abs(total - 1.0) <= 1e-9:
            raise ValueError(f"P: weights must sum to 1, got {total!r}")
    return O3, P, out_shape


def _check_range(scan):
    if scan[:, 0].any():
        raise ValueError("O must not contain NaN")
    lo, hi = scan[:, 1].min(), scan[:, 2].max()
    if lo < 0 or hi > 1:
        raise ValueError(f"O must lie in [0, 1] (G' and NWGM need 1 - O >= 0), got values in [{lo:g}, {hi:g}]")


#: Values per call of the Cython kernels (Ctrl-C is seen between calls).
_CHUNK_VALUES = 1 << 25


def summary(O, P=None, axis: int = -1, *, threads=None) -> Summary:
    """Weighted means and moments of values O in [0, 1] along `axis` (Eq. 28-30, 35-37).

    With weights P (1-D, one per value along `axis`, P >= 0, sum P = 1; None: 1/m):

        E = sum_i P_i O_i,   V = sum_i P_i (O_i - E)^2
        log G = sum_i P_i log O_i,   log G' = sum_i P_i log(1 - O_i)
        NWGM = G / (G + G') = 1 / (1 + exp(log G' - log G))

    The sums of logs are kept as such (never G itself), so 10^6 values near 0 or 1
    neither underflow nor lose precision. Extreme cases as in Section 8: a value 0 with
    positive weight gives G = 0 and NWGM = 0, a value 1 gives G' = 0 and NWGM = 1,
    both give NWGM = NaN with a DropoutWarning. Values of weight 0 take no part.

    Returns
    -------
    Summary
        Arrays of O's shape less `axis`.

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> s = A.summary(np.array([[0.2, 0.8], [0.5, 0.5]]), axis=1)
    >>> s.E, s.V, s.nwgm
    (array([0.5, 0.5]), array([0.09, 0.  ]), array([0.5, 0.5]))
    """
    O3, Pv, shape = _prepare(O, P, axis)
    nt = as_threads(threads) or engine.build_info()["max_threads"]
    A, m, B = O3.shape
    # The kernels run without the GIL; calling them on slices of about 2^25 values lets
    # Ctrl-C through between slices (a fraction of a second apart).
    step = max(1, _CHUNK_VALUES // max(1, m * B))
    rows = [slice(a, min(A, a + step)) for a in range(0, A, step)]
    sc = np.concatenate([_kernels.scan(O3[r], nt) for r in rows]) if O3.size else np.zeros((0, 5))
    if sc.size:
        _check_range(sc)
    outs = [np.empty((A, B)) for _ in range(6)]
    if O3.size:
        # Group size for products of uniform weights: `group` values never underflow.
        smallest = min(sc[:, 3].min(), sc[:, 4].min(), 0.5)
        group = int(max(1, min(64, np.floor(np.log(_TINY) / np.log(smallest)))))
        for r in rows:
            _kernels.summarize(O3[r], Pv, group, nt, *(o[r] for o in outs))
    E, V, LG, LGc, MN, MX = (o.reshape(shape) for o in outs)
    return Summary(E, V, LG, LGc, MN, MX)


def means(O, P=None, axis: int = -1, *, threads=None) -> Means:
    """(E, G, Gc, nwgm) of O along `axis` with weights P (Eq. 28-30, 35-37); see ``summary``.

    Examples
    --------
    Two equally likely outputs 0.2 and 0.8: E = 0.5, G = G' = sqrt(0.16) = 0.4, NWGM = 0.5.

    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> m = A.means(np.array([[0.2, 0.8]]), axis=1)
    >>> m.E, m.G, m.Gc, m.nwgm
    (array([0.5]), array([0.4]), array([0.4]), array([0.5]))
    """
    return summary(O, P, axis, threads=threads).means()


def summary_numpy(O, P=None, axis: int = -1) -> Summary:
    """Plain NumPy twin of ``summary`` (same definitions, two logarithms per value).

    Examples
    --------
    Same result as :func:`summary`, computed in NumPy:

    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> s = A.summary_numpy(np.array([[0.2, 0.8], [0.5, 0.5]]), axis=1)
    >>> s.E, s.V
    (array([0.5, 0.5]), array([0.09, 0.  ]))
    """
    O3, Pv, shape = _prepare(O, P, axis)
    O3 = O3.astype(np.float64)
    if np.isnan(O3).any():
        raise ValueError("O must not contain NaN")
    if O3.size and (O3.min() < 0 or O3.max() > 1):
        raise ValueError("O must lie in [0, 1]")
    m = O3.shape[1]
    w = np.full(m, 1.0 / m) if Pv is None else Pv
    w3 = w[None, :, None]
    E = (w3 * O3).sum(axis=1)
    V = (w3 * (O3 - E[:, None, :]) ** 2).sum(axis=1)
    live = w3 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        LG = np.where(live, w3 * np.log(O3), 0.0).sum(axis=1)
        LGc = np.where(live, w3 * np.log1p(-O3), 0.0).sum(axis=1)
    MN = np.where(live, O3, np.inf).min(axis=1)
    MX = np.where(live, O3, -np.inf).max(axis=1)
    return Summary(*(a.reshape(shape) for a in (E, V, LG, LGc, MN, MX)))
