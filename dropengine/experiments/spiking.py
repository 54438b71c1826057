"""Section 10.1: the spiking, dropout and deterministic networks of Fig. 10.2.

Eq. 136 and Eq. 138 are exact moments of the signals (a spike of size r with probability
O; O sent with probability r): identity checks, evaluated on the signal of hidden layer 2,
whose inputs are random (hidden layer 1 is fed by the ungated input, so there Var(O) = 0
and Eq. 138 would reduce to a Bernoulli variance). Their criterion: over K independent
batches of samples, the mean relative gap (measured - formula) / formula, pooled over
units and inputs, lies within 4 standard errors of 0 (SE from the spread of the K batch
means; the sample variances carry the divisor n, corrected by n / (n - 1)).

The finding (deterministic propagation with weights w r predicts both stochastic networks'
averages) is decided like Eq. 99: at every r, the output layer's RMS(E - W), Monte Carlo
noise removed, is below the RMS dropout/spiking standard deviation of the outputs (W is a
better estimate of E than one sample, Section 8), with 2 SE of margin.
"""
from __future__ import annotations

import numpy as np

from .. import Network
from ..spiking import three_networks
from .base import Claim, Result, identity, pyplot, save

TITLE = "Section 10.1: spiking, dropout and deterministic networks (Fig. 10.2)"
K = 8  # independent batches for Eq. 136, 138


def _ratio(st, W):
    """RMS(E - W) / RMS(sd(O)) of the output layer, Monte Carlo noise removed, and its floor u."""
    E, V, sem = st.E[-1], st.var[-1], st.sem[-1]
    ms, noise, sd = float(np.mean((E - W[-1]) ** 2)), float(np.mean(sem ** 2)), float(np.sqrt(np.mean(V)))
    if sd < 1e-12:  # no randomness (dropout with r = 1): E = W exactly, nothing to compare
        return 0.0, 0.0
    return float(np.sqrt(max(ms - noise, 0.0))) / sd, float(np.sqrt(noise)) / sd


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("spiking", TITLE)
    net = Network.random([50, 40, 30, 10], "logistic", seed=seed, scale=0.5, dtype=np.float64)
    X = np.random.default_rng(seed).normal(size=(10, 50))
    n = 5000 if quick else 20_000
    errs_s, errs_d, worst = [], [], (-np.inf, 0.0, None)
    rs = [0.25, 0.5, 0.75, 1.0]
    for r in rs:
        t = three_networks(net, X, r=r, n_samples=n, seed=seed, threads=threads)
        errs_s.append(t.error_spiking[-1])
        errs_d.append(t.error_dropout[-1])
        for name, st in (("spiking", t.spiking.stats), ("dropout", t.dropout)):
            q, u = _ratio(st, t.W)
            if q + 2 * u > worst[0] + 2 * worst[1]:
                worst = (q, u, f"{name}, r = {r}")
    # Eq. 136, 138 on the signal of hidden layer 2 (index 1: fed by random inputs)
    nb = n // 4
    gaps = {"eq136": [], "eq138": []}
    for k, child in enumerate(np.random.SeedSequence([seed, 136]).spawn(K)):
        t = three_networks(net, X, r=0.5, n_samples=nb, seed=child, threads=threads)
        c = nb / (nb - 1)
        gaps["eq136"].append(float(np.mean((c * t.var_spiking[1] - c * t.eq136[1]) / (c * t.eq136[1]))))
        # Eq. 138's r Var(O) carries the divisor n too; E(O)^2 r (1 - r) does not
        pred = 0.5 * c * t.dropout.var[1] + t.dropout.E[1] ** 2 * 0.25
        gaps["eq138"].append(float(np.mean((c * t.var_dropout[1] - pred) / pred)))
    for key, eq, what in (("eq136", "Eq. 136", "spiking signal (spike of size r with probability O): Var = "
                           "r^2 E(O)(1 - E(O))"),
                          ("eq138", "Eq. 138", "dropout signal (O sent with probability r): Var = r Var(O) + "
                           "E(O)^2 r(1 - r)")):
        g = np.array(gaps[key])
        m, se = float(g.mean()), float(g.std(ddof=1) / np.sqrt(K))
        res.claims.append(identity(key, "Section 10.1", eq, what,
                                   f"signal of hidden layer 2 (random inputs), r = 0.5: mean relative gap within 4 SE "
                                   f"of 0 ({K} batches of {nb} samples)", m, se, abs(m) <= 4 * se,
                                   detail="mean relative gap (measured - formula) / formula"))
    q, u, where = worst
    res.claims.append(Claim("deterministic_predicts_both", "Section 10.1, Fig. 10.2", "Eq. 130-134",
                            "deterministic propagation with weights w r approximates both the spiking network's "
                            "average firing and the dropout network's average output",
                            "at every r and for both networks (dropout at r = 1 is deterministic: E = W), output layer: RMS(E - W) / RMS(sd(O)) + 2 SE < 1 "
                            "(W beats a single stochastic sample, Section 8)", q, u, q + 2 * u < 1,
                            detail=f"worst ratio ({where}); mean |E - W| spiking "
                                   + ", ".join(f"{e:.1e}" for e in errs_s) + "; dropout "
                                   + ", ".join(f"{e:.1e}" for e in errs_d) + f" for r = {rs}"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(rs, errs_s, marker="o", label="spiking network")
    ax.plot(rs, errs_d, marker="s", label="dropout network")
    ax.set_xlabel("spike size r = keep probability")
    ax.set_ylabel("mean |E(O) - W|, output layer")
    ax.set_title("Fig. 10.2: deterministic network vs the two stochastic ones", fontsize=9)
    ax.legend(frameon=False)
    res.figures.append(save(fig, out, "fig10_2"))
    return res
