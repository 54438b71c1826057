# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Reductions over large sample arrays O of shape (A, m, B), m the sampled axis
(Eq. 28-30, 35-37, 77-80). Typed memoryviews, no GIL, OpenMP over (a, unit block).

Reference twin: dropengine.analysis.means.summary_numpy (tests compare the two).
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport INFINITY, isnan, log, log1p
from libc.stdlib cimport free, malloc

ctypedef fused real:
    float
    double

cdef Py_ssize_t BLOCK = 512  # units per job: the accumulators stay in cache


def scan(const real[:, :, ::1] O, int threads):
    """Per row a: (any NaN, min, max, smallest positive value, smallest positive 1 - O)."""
    cdef Py_ssize_t A = O.shape[0], m = O.shape[1], B = O.shape[2]
    cdef Py_ssize_t a, i, b
    cdef double lo, hi, pos, cpos, v, nan
    out = np.empty((A, 5))
    cdef double[:, ::1] res = out
    for a in prange(A, nogil=True, num_threads=threads, schedule="dynamic"):
        lo = INFINITY
        hi = -INFINITY
        pos = INFINITY
        cpos = INFINITY
        nan = 0
        for i in range(m):
            for b in range(B):
                v = O[a, i, b]
                if isnan(v):
                    nan = 1
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
                if v > 0 and v < pos:
                    pos = v
                if v < 1 and 1 - v < cpos:
                    cpos = 1 - v
        res[a, 0] = nan
        res[a, 1] = lo
        res[a, 2] = hi
        res[a, 3] = pos
        res[a, 4] = cpos
    return out


def summarize(const real[:, :, ::1] O, const double[::1] P, int group, int threads,
              double[:, ::1] E, double[:, ::1] V, double[:, ::1] LG, double[:, ::1] LGc,
              double[:, ::1] MN, double[:, ::1] MX):
    """Per (a, b) over the m values O[a, :, b] with weights P (None: 1/m each):
    E = sum P O, V = sum P (O - E)^2, LG = sum P log O, LGc = sum P log(1 - O), min, max.

    Uniform weights take no logarithm per value: log O is summed as the log of products
    of `group` values, a group small enough that its product cannot underflow (the
    caller derives it from the smallest positive value); a zero gives -inf, as it must.
    Values are shifted by the first one before the moments, so V keeps its precision
    when it is small against E^2.
    """
    cdef Py_ssize_t A = O.shape[0], m = O.shape[1], B = O.shape[2]
    cdef Py_ssize_t nblk = (B + BLOCK - 1) // BLOCK
    cdef Py_ssize_t job, a, b0, b1, b, i, i0, i1, n
    cdef double *acc
    cdef double o, d, w, inv_m = 1.0 / m, mean
    cdef bint uniform = P is None
    for job in prange(A * nblk, nogil=True, num_threads=threads, schedule="dynamic"):
        a = job // nblk
        b0 = (job % nblk) * BLOCK
        b1 = min(b0 + BLOCK, B)
        n = b1 - b0
        # acc: shift, s1, s2, lg, lgc, prod, cprod, min, max (9 arrays of n)
        acc = <double *> malloc(9 * n * sizeof(double))
        for b in range(n):
            acc[b] = O[a, 0, b0 + b]
            acc[n + b] = 0
            acc[2 * n + b] = 0
            acc[3 * n + b] = 0
            acc[4 * n + b] = 0
            acc[7 * n + b] = INFINITY
            acc[8 * n + b] = -INFINITY
        if uniform:
            i0 = 0
            while i0 < m:
                i1 = min(i0 + group, m)
                for b in range(n):
                    acc[5 * n + b] = 1
                    acc[6 * n + b] = 1
                for i in range(i0, i1):
                    for b in range(n):
                        o = O[a, i, b0 + b]
                        d = o - acc[b]
                        acc[n + b] += d
                        acc[2 * n + b] += d * d
                        acc[5 * n + b] *= o
                        acc[6 * n + b] *= 1 - o
                        acc[7 * n + b] = min(acc[7 * n + b], o)
                        acc[8 * n + b] = max(acc[8 * n + b], o)
                for b in range(n):
                    acc[3 * n + b] += log(acc[5 * n + b])
                    acc[4 * n + b] += log(acc[6 * n + b])
                i0 = i1
            for b in range(n):
                mean = acc[n + b] * inv_m
                E[a, b0 + b] = acc[b] + mean
                V[a, b0 + b] = max(acc[2 * n + b] * inv_m - mean * mean, 0.0)
                LG[a, b0 + b] = acc[3 * n + b] * inv_m
                LGc[a, b0 + b] = acc[4 * n + b] * inv_m
                MN[a, b0 + b] = acc[7 * n + b]
                MX[a, b0 + b] = acc[8 * n + b]
        else:
            for i in range(m):
                w = P[i]
                for b in range(n):
                    o = O[a, i, b0 + b]
                    d = o - acc[b]
                    acc[n + b] += w * d
                    acc[2 * n + b] += w * d * d
                    if w > 0:  # a value of probability 0 takes no part (0 log 0 = 0)
                        acc[3 * n + b] += w * log(o)
                        acc[4 * n + b] += w * log1p(-o)
                        acc[7 * n + b] = min(acc[7 * n + b], o)
                        acc[8 * n + b] = max(acc[8 * n + b], o)
            for b in range(n):
                mean = acc[n + b]
                E[a, b0 + b] = acc[b] + mean
                V[a, b0 + b] = max(acc[2 * n + b] - mean * mean, 0.0)
                LG[a, b0 + b] = acc[3 * n + b]
                LGc[a, b0 + b] = acc[4 * n + b]
                MN[a, b0 + b] = acc[7 * n + b]
                MX[a, b0 + b] = acc[8 * n + b]
        free(acc)
