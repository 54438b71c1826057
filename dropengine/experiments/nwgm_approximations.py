"""Figs. 9.4 and 9.5: the two second-order approximations of |E - NWGM| on the trained
network, per hidden layer, from the Monte Carlo E, Var and NWGM of the `training`
experiment (no new sampling).

Approximation 1 (Eq. 87, around 0.5):  |E - NWGM| ~ V |1 - 2E| / (1 - 2V)
Approximation 2 (Eq. 202, around E):   NWGM ~ (E - V/(2E)) / (1 - V / (2E(1 - E))),
                                       so |E - NWGM| ~ |E - that|

The paper calls approximation 2 "sharper but potentially more restricted" (Fig. 9.4).
"""
from __future__ import annotations

import numpy as np

from ..analysis import bounds as B
from .base import Claim, pyplot, save

#: Approximation 2's values beyond this are "out of range" (its denominator near 0 or E
#: near 0): shown as a count, not plotted (|E - NWGM| <= 1/6 by Eq. 209).
_OUT_OF_RANGE = 0.5


def approximations(E, V):
    """(approximation 1, approximation 2) of |E - NWGM| from E and V (arrays of one shape)."""
    a1 = np.abs(B.e_minus_nwgm_second_order(E, V))
    with np.errstate(divide="ignore", invalid="ignore"):
        a2 = np.abs(E - B.nwgm_mean_expansion(E, V))
    return a1, a2


def run_figures(res, out, st, depth: int, where: str = ", trained", seed: int = 0):
    """Fig. 9.4 (|E - NWGM| with approximation 2 and bounds 1, 2, against E) and Fig. 9.5
    (both approximations against the measured |E - NWGM|; their errors interleaved), over
    the hidden layers of ``st`` (SampleStats); appends the claim that approximation 2 is
    the sharper one."""
    plt = pyplot()
    cols = []
    for h in range(depth):
        E, V, N = st.E[h].ravel(), st.var[h].ravel(), st.nwgm[h].ravel()
        ok = np.isfinite(N)
        E, V, N = E[ok], V[ok], N[ok]
        a1, a2 = approximations(E, V)
        cols.append((E, V, np.abs(E - N), a1, a2))

    # Fig. 9.4: like Fig. 9.3 with approximation 2 in place of approximation 1.
    fig, axes = plt.subplots(2, depth, figsize=(2.7 * depth, 5.0), squeeze=False)
    for h, (E, V, d, a1, a2) in enumerate(cols):
        inr = np.isfinite(a2) & (a2 <= _OUT_OF_RANGE)
        ax = axes[0, h]
        ax.scatter(E[inr], a2[inr], s=2, c="C3", label="approximation 2 (Eq. 202)")
        ax.scatter(E, d, s=1, c="C0", label="measured |E - NWGM|")
        o = np.argsort(E)
        ax.plot(E[o], B.bound1(E, V)[o], lw=0.6, c="C1", label="bound 1 (Eq. 87)")
        ax.plot(E[o], B.bound2(E)[o], lw=0.8, c="C2", label="bound 2 (Eq. 87)")
        ax.set_title(f"layer {h + 1} ({(~inr).sum()} of {inr.size} out of range)", fontsize=8)
        ax.set_xlabel("E (Monte Carlo mean)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax = axes[1, h]
        err = (a2 - d)[inr]
        ax.hist(err, bins=40, color="C3")
        ax.set_xlabel("approx. 2 - |E - NWGM|", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.locator_params(axis="x", nbins=4)
    axes[0, 0].set_ylabel("|E - NWGM|", fontsize=8)
    axes[1, 0].set_ylabel("count (units x inputs)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False, markerscale=4)
    fig.suptitle(f"Fig. 9.4: |E - NWGM| and approximation 2 (Eq. 202, expansion around E) per hidden layer{where}",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    res.figures.append(save(fig, out, "fig9_4"))

    # Fig. 9.5: both approximations against the measured value; errors interleaved.
    fig, axes = plt.subplots(2, depth, figsize=(2.7 * depth, 5.0), squeeze=False)
    for h, (E, V, d, a1, a2) in enumerate(cols):
        inr = np.isfinite(a2) & (a2 <= _OUT_OF_RANGE)
        ax = axes[0, h]
        ax.scatter(d, a1, s=2, c="C0", label="approximation 1 (Eq. 87, around 0.5)")
        ax.scatter(d[inr], a2[inr], s=2, c="C3", label="approximation 2 (Eq. 202, around E)")
        top = float(max(d.max(), 1e-12))
        ax.plot([0, top], [0, top], lw=0.5, c="k", label="equality")
        ax.set_ylim(0, 1.5 * max(top, float(np.max(a1))))
        ax.set_title(f"layer {h + 1}", fontsize=8)
        ax.set_xlabel("measured |E - NWGM|", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.locator_params(nbins=4)
        ax = axes[1, h]
        ax.hist([(a1 - d)[inr], (a2 - d)[inr]], bins=30, color=["C0", "C3"])
        ax.set_xlabel("approximation - |E - NWGM|", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.locator_params(axis="x", nbins=4)
    axes[0, 0].set_ylabel("approximation of |E - NWGM|", fontsize=8)
    axes[1, 0].set_ylabel("count (units x inputs)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False, markerscale=4)
    fig.suptitle(f"Fig. 9.5: approximations 1 and 2 of |E - NWGM| against the measured value{where}", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    res.figures.append(save(fig, out, "fig9_5"))

    # "Sharper" (Fig. 9.4): approximation 2 closer to the measured |E - NWGM| than
    # approximation 1 for most units x inputs. Criterion fixed before the run: the fraction
    # where it is closer (out-of-range values count as not closer) exceeds 1/2 by 2
    # binomial SE; a fraction, not a mean, so that the few out-of-range values of a
    # "potentially more restricted" approximation cannot decide it alone.
    closer = np.concatenate([np.where(np.isfinite(a2), np.abs(a2 - d) < np.abs(a1 - d), False)
                             for E, V, d, a1, a2 in cols])
    f = float(closer.mean())
    se = float(np.sqrt(0.25 / closer.size))
    per = ", ".join(f"{np.mean(np.where(np.isfinite(a2), np.abs(a2 - d) < np.abs(a1 - d), False)):.0%}"
                    for E, V, d, a1, a2 in cols)
    oor = sum(int((~(np.isfinite(a2) & (a2 <= _OUT_OF_RANGE))).sum()) for *_, a2 in cols)
    res.claims.append(Claim(
        "eq202_sharper", "Appendix B, Figs. 9.4, 9.5", "Eq. 87, 202",
        f"the second-order expansion around E (Eq. 202) approximates |E - NWGM| more sharply than the expansion "
        f"around 0.5 (Eq. 87), though it is more restricted (hidden layers{where})",
        "fraction of hidden units x inputs where Eq. 202 is closer to the measured |E - NWGM| than Eq. 87 "
        "- 2 SE > 1/2 (binomial SE; non-finite Eq. 202 counts as not closer)",
        f, se, f - 2 * se > 0.5,
        detail=f"fraction; per hidden layer {per}; {oor} of {closer.size} values of Eq. 202 out of range (> "
               f"{_OUT_OF_RANGE} or non-finite)",
        reason=f"the paper: Eq. 202 is closer than Eq. 87 on only {f:.0%} of the units x inputs of this network"))
