"""Sections 9.2-9.4: sampling distributions of E and NWGM (Fig. 9.1, 9.2)."""
from __future__ import annotations

import numpy as np

from ..analysis import DISTRIBUTIONS, sampling_curve, sampling_distribution
from .base import Claim, Result, pyplot, save

TITLE = "Sections 9.2-9.4: sampling distributions of E and NWGM (Fig. 9.1, 9.2)"


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("sampling", TITLE)
    R = 1000 if quick else 5000
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(8, 5.5))
    ss = np.random.SeedSequence(seed)
    for ax, name, child in zip(axes.ravel(), DISTRIBUTIONS, ss.spawn(4)):
        d = sampling_distribution(name, m=100, R=R, seed=child)
        cE, cN, edges = d.histogram(40)
        mid = (edges[:-1] + edges[1:]) / 2
        ax.step(mid, cE, where="mid", label="E")
        ax.step(mid, cN, where="mid", label="NWGM")
        ax.set_title(f"{name}, m = 100", fontsize=9)
        ax.legend(fontsize=8)
        res.claims.append(Claim(f"{name}: E and NWGM are strongly correlated (Section 9.4)",
                                f"corr {d.corr:.3f}; mean E {d.mean_E:.4f}, mean NWGM {d.mean_nwgm:.4f}",
                                d.corr > 0.8))
        if name == "uniform(0,0.5)":
            res.claims.append(Claim("consistently low values: NWGM <= E in every sample (Eq. 81)",
                                    f"{np.mean(d.nwgm <= d.E + 1e-15):.1%} of {R} samples",
                                    bool(np.all(d.nwgm <= d.E + 1e-15))))
    res.figures.append(save(fig, out, "fig9_1"))
    ms = [10, 30, 100, 300, 1000] if quick else [10, 20, 50, 100, 200, 500, 1000, 2000]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, child in zip(DISTRIBUTIONS, ss.spawn(4)):
        m, corr, cov = sampling_curve(name, ms, R=R, seed=child)
        a1.plot(m, corr, marker="o", label=name)
        a2.loglog(m, cov, marker="o", label=name)
        slope = np.polyfit(np.log(m), np.log(cov), 1)[0]
        res.claims.append(Claim(f"{name}: Cov(E, NWGM) decreases like 1/m (Eq. 106-107)",
                                f"log-log slope {slope:.2f}", -1.3 < slope < -0.7))
    a1.set_xscale("log")
    a1.set_xlabel("m")
    a1.set_ylabel("Pearson correlation")
    a2.set_xlabel("m")
    a2.set_ylabel("covariance")
    a1.legend(fontsize=7)
    res.figures.append(save(fig, out, "fig9_2"))
    return res
