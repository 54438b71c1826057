"""Criteria shared by the experiments that sample a network (Sections 9.5, 10.1), each
fixed from the paper's text before any run, with the Monte Carlo standard errors taken
from the run's own samples (``SampleStats.sem``, ``var_S``).
"""
from __future__ import annotations

import numpy as np

from ..analysis import bounds as B
from .base import Claim

#: A per-layer growth of the spread of E - W by 25% would double it over three layers:
#: accumulation in any sense of the word (Section 9.5 says errors do not accumulate).
GROWTH_LIMIT = 1.25


def se_e_minus_nwgm(st, h):
    """Per (input, unit): Monte Carlo SE of E - NWGM, bounded by SE(E) + SE(NWGM) in
    quadrature without their (positive) correlation, so on the generous side; SE(NWGM)
    by the delta method on NWGM = sigma(E(S)) (Eq. 39, 104): NWGM(1 - NWGM) sd(S)/sqrt(n - 1)."""
    n = max(st.n_samples, 2)
    N = np.nan_to_num(st.nwgm[h], nan=0.5)
    se_n = N * (1 - N) * np.sqrt(st.var_S[h] / (n - 1))
    return np.sqrt(st.sem[h] ** 2 + se_n ** 2)


def bound2_claim(st, h, key, section, where=""):
    """Eq. 87: |E - NWGM| within bound 2 ("well within the bounds derived in Section 8",
    Section 9.5). Criterion: at least 99% of the (input, unit) pairs of layer h satisfy
    |E - NWGM| <= bound 2 + 3 SE(E - NWGM); the uncertainty is the binomial SE of that fraction."""
    E, N = st.E[h], st.nwgm[h]
    ok = np.isfinite(N)
    inside = (np.abs(E - N) <= B.bound2(E) + 3 * se_e_minus_nwgm(st, h) + 1e-15)[ok]
    f = float(inside.mean()) if inside.size else float("nan")
    se = float(np.sqrt(max(f * (1 - f), 1.0 / inside.size) / inside.size)) if inside.size else float("nan")
    strict = float(np.mean((np.abs(E - N) <= B.bound2(E) + 1e-15)[ok])) if inside.size else float("nan")
    return Claim(key, section, "Eq. 87", f"layer {h + 1}{where}: the deviations E - NWGM lie well within bound 2, "
                 "E(1-E)|1-2E| / (1-2E(1-E))", ">= 99% of (input, unit) pairs within bound 2 + 3 Monte Carlo SE",
                 f, se, f >= 0.99, detail=f"fraction; {strict:.1%} within bound 2 itself, {inside.size} pairs")


def eq99_claim(st, W, h, key, section, where=""):
    """Eq. 99 (W approximates E, "good approximations", Section 9.5). Criterion: W is a better
    estimate of E than one dropout sample (Section 8: a random sample errs like sqrt(Var)):
    ratio = RMS(E - W) / RMS(sd(O)), with the Monte Carlo noise of E removed from RMS(E - W),
    and ratio + 2 u < 1, u = RMS(SE(E)) / RMS(sd(O)) the Monte Carlo floor of the ratio."""
    E, Wh = st.E[h], np.asarray(W[h], np.float64)
    ms = float(np.mean((E - Wh) ** 2))
    noise = float(np.mean(st.sem[h] ** 2))
    sd = float(np.sqrt(np.mean(st.var[h])))
    if sd == 0:
        ratio, u = float("inf"), 0.0
    else:
        ratio, u = float(np.sqrt(max(ms - noise, 0.0))) / sd, float(np.sqrt(noise)) / sd
    return Claim(key, section, "Eq. 99", f"layer {h + 1}{where}: the ensemble network's W approximates E(O)",
                 "RMS(E - W) / RMS(sd(O)) + 2 SE < 1: W beats a single dropout sample (Section 8)",
                 ratio, u, ratio + 2 * u < 1,
                 detail=f"ratio; RMS(E - W) {np.sqrt(ms):.1e}, mean |E - W| {np.mean(np.abs(E - Wh)):.1e}, "
                        f"RMS sd(O) {sd:.1e}")


def spread_growth(E, W, sem, first=1, n_boot=400, seed=0):
    """Per-layer growth ratio g of the standard deviation of E - W over layers first..L
    (log sd fitted linearly in the layer index, g = exp(slope)), the Monte Carlo noise of
    E (mean SE^2) removed from each variance, and its SE from a bootstrap over the inputs
    (rows). Returns (g, se, sds)."""
    def fit(rows):
        sds = [float(np.sqrt(max(np.var((E[h] - W[h])[rows]) - np.mean(sem[h][rows] ** 2), 1e-300)))
               for h in range(first, len(E))]
        x = np.arange(len(sds))
        return float(np.exp(np.polyfit(x, np.log(sds), 1)[0])), sds
    n = E[0].shape[0]
    g, sds = fit(np.arange(n))
    rng = np.random.default_rng(seed)
    boots = [fit(rng.integers(0, n, n))[0] for _ in range(n_boot)]
    return g, float(np.std(boots, ddof=1)), sds
