"""Sections 11.2-11.4: the exact expected dropout gradient beside the ensemble gradient
and the paper's decompositions (Eq. 147, 155, 164)."""
from __future__ import annotations

import numpy as np

from .. import Dropout, Linear, Logistic, Network
from ..exact import dropout_gradient
from .base import Claim, Result, identity, pyplot, save

TITLE = "Sections 11.2-11.4: dropout gradient = ensemble gradient + adaptive regularisation (Eq. 147, 155, 164)"


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("gradients", TITLE)
    rng = np.random.default_rng(seed)
    # Eq. 147: one linear unit
    w, I, t, p = rng.normal(size=(1, 8)), rng.normal(size=(4, 8)), rng.normal(size=(4, 1)), rng.uniform(0.2, 0.9, 8)
    g = dropout_gradient(Network([w], None, Linear()), I, t, Dropout([p]))
    gap = np.max(np.abs(g.expected[0] - (g.ensemble[0] + w * I[:, None, :] ** 2 * p * (1 - p))))
    res.claims.append(identity("eq147", "Section 11.2", "Eq. 147", "single linear unit: E(dE_D/dw_i) = "
                               "dE_ENS/dw_i + w_i I_i^2 Var(delta_i)", "exact enumeration equals it to 1e-12",
                               gap, 0.0, gap < 1e-12, detail="max difference"))
    # Eq. 155: deep linear network
    Ws = [rng.normal(size=(o, i)) for i, o in ((4, 3), (3, 3), (3, 2))]
    net = Network(Ws, [rng.normal(size=o) for o in (3, 3, 2)], Linear())
    g = dropout_gradient(net, rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), Dropout(0.5, keep_bias=0.7))
    gap = max(np.max(np.abs(g.expected[h] - (g.ensemble[h] + g.w_var_alpha[h] + g.cov_alpha_beta[h]))) for h in range(3))
    res.claims.append(identity("eq155", "Section 11.3", "Eq. 155", "deep linear network: E(dE_D/dw) = dE_ENS/dw "
                               "+ w Var(alpha) + Cov(alpha, beta)", "exact enumeration equals it to 1e-11",
                               gap, 0.0, gap < 1e-11, detail="max difference"))
    # Eq. 164: single logistic unit, the approximation improves as the weights shrink
    w0, I0 = rng.normal(size=(1, 10)), rng.normal(size=(1, 10))
    scales = [2.0, 1.0, 0.5, 0.25, 0.125]
    gaps = []
    for sc in scales:
        g = dropout_gradient(Network([w0 * sc], None, Logistic()), I0, [[0.8]], Dropout(0.5), loss="relative_entropy")
        gaps.append(np.linalg.norm(g.expected[0] - g.approx_164[0]) / np.linalg.norm(g.expected[0] - g.ensemble[0]))
    ratio = gaps[-2] / gaps[-1]
    res.claims.append(Claim("eq164", "Section 11.4", "Eq. 164", "single logistic unit: the regulariser "
                            "lam sigma'(U) w Var(delta I) approximates the exact one, better as the weights shrink",
                            "exact enumeration; the relative error falls at every halving of the weights, and the "
                            "last halving divides it by 3 to 5 (a first-order expansion leaves an O(|w|^2) remainder: "
                            "4, +-1 for the next order)", ratio, 0.0, bool(all(np.diff(gaps) < 0) and 3 < ratio < 5),
                            detail="factor of the last halving; relative errors " + ", ".join(f"{x:.1e}" for x in gaps)
                            + f" at weight scales {scales}"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.loglog(scales, gaps, marker="o")
    ax.set_xticks(scales, [f"{x:g}" for x in scales])  # the scales themselves, no crowded minor labels
    ax.minorticks_off()
    ax.set_xlabel("weight scale (multiplier of the weights)")
    ax.set_ylabel("|exact - Eq. 164| / |regulariser|")
    ax.set_title("Section 11.4, Eq. 164 against the exact expected gradient", fontsize=9)
    res.figures.append(save(fig, out, "fig_eq164"))
    return res
