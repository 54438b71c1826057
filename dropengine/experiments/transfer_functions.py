"""Section 7.2 and Appendices A, F: ReLU and Gaussian estimates against sampling."""
from __future__ import annotations

import numpy as np

from ..analysis import expected_logistic_gaussian, relu_error_gaussian, relu_error_uniform
from .base import Claim, Result, pyplot, save

TITLE = "Section 7.2, Appendices A and F: E(f(S)) vs f(E(S)) for ReLU and logistic units"


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("transfer", TITLE)
    rng = np.random.default_rng(seed)
    n = 200_000 if quick else 2_000_000
    sigmas = np.linspace(0.05, 2.0, 12)
    mc = []
    for s in sigmas:
        S = rng.normal(0.0, s, n)
        mc.append(np.maximum(S, 0).mean())
    mc = np.array(mc)
    pred = relu_error_gaussian(0.0, sigmas)
    se = sigmas / np.sqrt(n)
    res.claims.append(Claim("ReLU, S ~ N(0, sigma^2): E(RL(S)) - RL(E(S)) = sigma / sqrt(2 pi) (Eq. 74)",
                            f"max |MC - Eq. 74| / SE = {np.max(np.abs(mc - pred) / se):.1f}",
                            bool(np.all(np.abs(mc - pred) <= 5 * se))))
    a = 1.3
    res.claims.append(Claim("ReLU, S uniform on [-a, a]: error lambda a / 4 (Eq. 190)",
                            f"{float(relu_error_uniform(-a, a)):.4f} vs {a / 4:.4f}", abs(relu_error_uniform(-a, a) - a / 4) < 1e-12))
    mus = np.linspace(-3, 3, 13)
    var = 2.0
    S = rng.normal(0, 1, (n // 10, 1)) * np.sqrt(var) + mus
    mc_e = (1 / (1 + np.exp(-S))).mean(axis=0)
    est = expected_logistic_gaussian(mus, var)
    nwgm = 1 / (1 + np.exp(-mus))
    res.claims.append(Claim("Appendix F (Eq. 241-242): E(sigma(S)) for Gaussian S beats NWGM = sigma(E(S)) at Var(S) = 2",
                            f"max error {np.max(np.abs(est - mc_e)):.3f} vs NWGM {np.max(np.abs(nwgm - mc_e)):.3f}",
                            np.max(np.abs(est - mc_e)) < np.max(np.abs(nwgm - mc_e))))
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.3))
    a1.plot(sigmas, mc, "o", label="sampling")
    a1.plot(sigmas, pred, label="Eq. 74")
    a1.set_xlabel("sigma_S")
    a1.set_ylabel("E(RL(S)) - RL(E(S))")
    a1.legend()
    a2.plot(mus, mc_e, "o", label="sampling")
    a2.plot(mus, est, label="Appendix F (alpha = 0.607)")
    a2.plot(mus, nwgm, "--", label="NWGM = sigma(E S)")
    a2.set_xlabel("E(S), Var(S) = 2")
    a2.set_ylabel("E(sigma(S))")
    a2.legend(fontsize=7)
    res.figures.append(save(fig, out, "fig_transfer"))
    return res
