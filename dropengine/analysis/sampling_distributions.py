"""Sampling distributions of E and NWGM (Sections 9.2-9.4, Figures 9.1 and 9.2)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_count
from .means import summary

__all__ = ["DISTRIBUTIONS", "sampling_distribution", "sampling_curve", "SamplingDistribution"]

_EPS = 1e-12  # normal draws are clipped into (0, 1), where NWGM is defined

#: The four distributions of Figures 9.1 and 9.2.
DISTRIBUTIONS = {
    "uniform(0,1)": lambda rng, size: rng.uniform(0.0, 1.0, size),
    "uniform(0,0.5)": lambda rng, size: rng.uniform(0.0, 0.5, size),
    "normal(0.5,0.1)": lambda rng, size: np.clip(rng.normal(0.5, 0.1, size), _EPS, 1 - _EPS),
    "normal(0.25,0.05)": lambda rng, size: np.clip(rng.normal(0.25, 0.05, size), _EPS, 1 - _EPS),
}


@dataclass(frozen=True)
class SamplingDistribution:
    """R repeats of a sample of m values: the sample E and NWGM (uniform weights 1/m),
    their means, Pearson correlation and covariance (Eq. 103-108)."""

    m: int
    E: np.ndarray
    nwgm: np.ndarray

    @property
    def mean_E(self):
        return float(self.E.mean())

    @property
    def mean_nwgm(self):
        return float(self.nwgm.mean())

    @property
    def corr(self):
        return float(np.corrcoef(self.E, self.nwgm)[0, 1])

    @property
    def cov(self):
        return float(np.cov(self.E, self.nwgm, bias=True)[0, 1])

    def histogram(self, bins=50):
        """(counts_E, counts_nwgm, edges) over a common range (Fig. 9.1)."""
        lo, hi = min(self.E.min(), self.nwgm.min()), max(self.E.max(), self.nwgm.max())
        edges = np.linspace(lo, hi, bins + 1)
        return np.histogram(self.E, edges)[0], np.histogram(self.nwgm, edges)[0], edges


def _draw(dist):
    if callable(dist):
        return dist
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"dist must be a callable (rng, size) -> values or one of {list(DISTRIBUTIONS)}, got {dist!r}")
    return DISTRIBUTIONS[dist]


def sampling_distribution(dist, m: int, R: int = 5000, seed=None) -> SamplingDistribution:
    """Draws R samples of m values from `dist` and computes each sample's E and NWGM (Fig. 9.1).

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> sd = A.sampling_distribution("uniform(0,1)", 10, R=100, seed=0)
    >>> sd.m, sd.E.shape, sd.nwgm.shape
    (10, (100,), (100,))
    """
    draw = _draw(dist)
    m, R = as_count(m, "m"), as_count(R, "R")
    O = np.asarray(draw(np.random.default_rng(seed), (R, m)), np.float64)
    s = summary(O, None, axis=1)
    return SamplingDistribution(m, s.E, s.nwgm)


def sampling_curve(dist, ms, R: int = 10_000, seed=None):
    """Correlation and covariance of E and NWGM as functions of the sample size m (Fig. 9.2).

    Returns (ms, corr, cov) as arrays.

    Examples
    --------
    >>> from dropengine import analysis as A
    >>> ms, corr, cov = A.sampling_curve("uniform(0,1)", [2, 4], R=100, seed=0)
    >>> ms, corr.shape, bool(corr.min() > 0.9)
    (array([2, 4]), (2,), True)
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    out = [sampling_distribution(dist, int(m), R, child) for m, child in zip(ms, ss.spawn(len(ms)))]
    return np.asarray(ms), np.array([d.corr for d in out]), np.array([d.cov for d in out])
