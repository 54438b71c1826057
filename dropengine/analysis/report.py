"""Per-layer report of the dropout approximations (Section 9.5, Figures 9.3-9.7)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from ..stats import SampleStats
from .bounds import bound1, bound2

__all__ = ["approximation_report", "LayerReport", "Spread"]

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class Spread:
    """Distribution of a difference over the (input, unit) pairs of a layer: its mean,
    standard deviation and quantiles; its shape, skewness and excess kurtosis (0 and 0 for
    a Gaussian; NaN below 8 values or when all values are equal); and the p-value of the
    D'Agostino-Pearson test of normality (which combines the two), NaN likewise."""

    mean: float
    std: float
    quantiles: dict
    normality_p: float
    skewness: float = np.nan
    excess_kurtosis: float = np.nan
    n: int = 0

    @classmethod
    def of(cls, d):
        d = np.asarray(d, np.float64).ravel()
        d = d[np.isfinite(d)]
        if d.size == 0:
            return cls(np.nan, np.nan, {q: np.nan for q in QUANTILES}, np.nan)
        shape = d.size >= 8 and np.ptp(d) > 0
        p = float(sps.normaltest(d).pvalue) if shape else np.nan
        g1 = float(sps.skew(d)) if shape else np.nan
        g2 = float(sps.kurtosis(d)) if shape else np.nan
        return cls(float(d.mean()), float(d.std()), dict(zip(QUANTILES, np.quantile(d, QUANTILES))), p, g1, g2,
                   int(d.size))


@dataclass(frozen=True)
class LayerReport:
    """One layer: E - NWGM, E - W and NWGM - W, and the fraction of units whose
    |E - NWGM| lies inside bound 1 and bound 2 (Eq. 87)."""

    layer: int
    e_minus_nwgm: Spread
    e_minus_w: Spread
    nwgm_minus_w: Spread
    inside_bound1: float
    inside_bound2: float


def approximation_report(stats: SampleStats, ensemble) -> list:
    """Per layer, how well NWGM and the ensemble network's W approximate E (Section 9.5).

    Parameters
    ----------
    stats : SampleStats from ``dropengine.sample`` (or ``exact.enumerate``)
    ensemble : (U, W) from ``dropengine.ensemble`` with the same network, inputs and gate,
        or just the list W

    Returns
    -------
    a list with a LayerReport per layer
    """
    if not isinstance(stats, SampleStats):
        raise TypeError(f"stats must be SampleStats, got {type(stats).__name__}")
    W = ensemble[1] if isinstance(ensemble, tuple) else ensemble
    if not isinstance(W, (list, tuple)) or len(W) != len(stats.layer_sizes):
        raise ValueError(f"ensemble must be (U, W) or W with one array per layer ({len(stats.layer_sizes)})")
    layers = []
    for h, (E, V, nw, w) in enumerate(zip(stats.E, stats.var, stats.nwgm, W)):
        w = np.asarray(w, np.float64)
        if w.shape != E.shape:
            raise ValueError(f"ensemble: W[{h}] has shape {w.shape}, the statistics have {E.shape}")
        gap = np.abs(E - nw)
        with np.errstate(invalid="ignore"):
            in1 = float(np.mean(gap <= bound1(E, V) + 1e-15))
            in2 = float(np.mean(gap <= bound2(E) + 1e-15))
        layers.append(LayerReport(h, Spread.of(E - nw), Spread.of(E - w), Spread.of(nw - w), in1, in2))
    return layers
