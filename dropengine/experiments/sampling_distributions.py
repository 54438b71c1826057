"""Sections 9.2-9.4: sampling distributions of E and NWGM (Fig. 9.1, 9.2).

Criteria, fixed before any run from the paper's text:

* Section 9.4 ("the Pearson correlation is constant and close to 1"): at m = 100 the
  correlation's lower 2-SE bound (SE = (1 - r^2)/sqrt(R - 3), Fisher) is >= 0.9, i.e. the
  NWGM shares at least 81% of E's sampling variance.
* Section 9.3 ("a bias can appear ... but this bias is relatively small", confirmed by
  Fig. 9.1) for the two consistently low cases: the bias |mean E - mean NWGM| is below
  one sampling standard deviation of E, so that the two histograms of Fig. 9.1 overlap;
  uncertainty: SE of the mean difference over the R samples.
* Eq. 106-107 ("the covariance is of order V/m"): the weighted log-log slope of Cov(E, NWGM)
  against m lies within 0.1 + 2 SE of -1 (0.1 for the next order over m = 10..1000; the
  SE of each covariance from its R products).
* Eq. 81 (NWGM <= E when every O < 0.5) is a theorem: an identity check.
"""
from __future__ import annotations

import numpy as np

from ..analysis import DISTRIBUTIONS, sampling_distribution
from .base import Claim, Result, identity, pyplot, save

TITLE = "Sections 9.2-9.4: sampling distributions of E and NWGM (Fig. 9.1, 9.2)"
LOW = ("uniform(0,0.5)", "normal(0.25,0.05)")  # consistently low: every O < 0.5 (or almost every)


def _cov_and_se(d):
    """Cov(E, NWGM) over the R samples and its standard error (from the R products)."""
    c = (d.E - d.E.mean()) * (d.nwgm - d.nwgm.mean())
    return float(c.mean()), float(c.std(ddof=1) / np.sqrt(c.size))


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("sampling", TITLE)
    R = 1000 if quick else 5000
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(8, 6))
    ss = np.random.SeedSequence(seed)
    for ax, name, child in zip(axes.ravel(), DISTRIBUTIONS, ss.spawn(4)):
        d = sampling_distribution(name, m=100, R=R, seed=child)
        cE, cN, edges = d.histogram(40)
        mid = (edges[:-1] + edges[1:]) / 2
        ax.step(mid, cE, where="mid", label="E")
        ax.step(mid, cN, where="mid", label="NWGM")
        ax.set_title(f"Fig. 9.1: O ~ {name}, m = 100", fontsize=9)
        ax.set_xlabel("sample mean E, sample NWGM", fontsize=8)
        ax.set_ylabel("count", fontsize=8)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        r, se_r = d.corr, (1 - d.corr ** 2) / np.sqrt(R - 3)
        res.claims.append(Claim(
            f"corr[{name}]", "Section 9.4, Fig. 9.2", "Eq. 106-107",
            f"O ~ {name}, m = 100: E and NWGM are strongly correlated (the correlation is close to 1)",
            "r - 2 SE >= 0.9 (NWGM shares >= 81% of E's sampling variance)", r, se_r, r - 2 * se_r >= 0.9,
            detail=f"{R} samples; mean E {d.mean_E:.4f}, mean NWGM {d.mean_nwgm:.4f}"))
        if name in LOW:
            diff = d.E - d.nwgm
            bias, se_b, sd_E = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(R)), float(d.E.std(ddof=1))
            res.claims.append(Claim(
                f"low_bias[{name}]", "Section 9.3, Fig. 9.1", "Eq. 81, 104",
                f"O ~ {name} (consistently low): NWGM is biased below E, but the bias is relatively small",
                "bias mean(E - NWGM) below one sampling SD of E (the histograms of Fig. 9.1 overlap)",
                bias, se_b, abs(bias) < sd_E,
                detail=f"SD of E {sd_E:.4f}; bias is {bias / sd_E:.1f} SD, {bias / d.mean_E:.0%} of mean E",
                reason="the paper: 'relatively small' is loose; the bias is a few sampling SDs, the histograms "
                       "of Fig. 9.1 separate (see the figure)"))
        if name == "uniform(0,0.5)":
            frac = float(np.mean(d.nwgm <= d.E + 1e-15))
            res.claims.append(identity("eq81", "Section 8", "Eq. 81",
                                       "consistently low values (all O < 0.5): NWGM <= E (Ky Fan inequality)",
                                       "in every one of the R samples", frac, 0.0, frac == 1.0,
                                       f"fraction of {R} samples"))
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig9_1"))
    ms = [10, 30, 100, 300, 1000] if quick else [10, 20, 50, 100, 200, 500, 1000, 2000]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, child in zip(DISTRIBUTIONS, ss.spawn(4)):
        ds = [sampling_distribution(name, int(m), R, c) for m, c in zip(ms, child.spawn(len(ms)))]
        cov, se = np.array([_cov_and_se(d) for d in ds]).T
        corr = [d.corr for d in ds]
        a1.plot(ms, corr, marker="o", label=name)
        a2.errorbar(ms, cov, yerr=2 * se, marker="o", label=name)
        # weighted least squares on log cov (SE of log cov = SE / cov)
        x, y, w = np.log(ms), np.log(cov), (cov / se) ** 2
        X = np.stack([np.ones_like(x), x], 1)
        A = X.T @ (w[:, None] * X)
        beta = np.linalg.solve(A, X.T @ (w * y))
        slope, se_slope = float(beta[1]), float(np.sqrt(np.linalg.inv(A)[1, 1]))
        res.claims.append(Claim(
            f"cov_slope[{name}]", "Section 9.4, Fig. 9.2", "Eq. 106-107",
            f"O ~ {name}: Cov(E, NWGM) decreases like 1/m",
            "|slope + 1| <= 0.1 + 2 SE (weighted log-log fit; 0.1 for the next order over m = "
            f"{ms[0]}..{ms[-1]})", slope, se_slope, abs(slope + 1) <= 0.1 + 2 * se_slope,
            detail=f"log-log slope over m = {ms}, {R} samples each"))
    a1.set_xscale("log")
    a1.set_xlabel("sample size m")
    a1.set_ylabel("Pearson correlation of E and NWGM")
    a1.set_title("Fig. 9.2 (left): correlation", fontsize=9)
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("sample size m")
    a2.set_ylabel("Cov(E, NWGM) (± 2 SE)")
    a2.set_title("Fig. 9.2 (right): covariance", fontsize=9)
    a1.legend(fontsize=7, loc="lower right", frameon=False)
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig9_2"))
    return res
