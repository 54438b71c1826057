"""Section 10.1: the spiking, dropout and deterministic networks of Fig. 10.2."""
from __future__ import annotations

import numpy as np

from .. import Network
from ..spiking import three_networks
from .base import Claim, Result, pyplot, save

TITLE = "Section 10.1: spiking, dropout and deterministic networks (Fig. 10.2)"


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("spiking", TITLE)
    net = Network.random([50, 40, 30, 10], "logistic", seed=seed, scale=0.5, dtype=np.float64)
    X = np.random.default_rng(seed).normal(size=(10, 50))
    n = 5000 if quick else 20_000
    errs_s, errs_d = [], []
    rs = [0.25, 0.5, 0.75, 1.0]
    for r in rs:
        t = three_networks(net, X, r=r, n_samples=n, seed=seed, threads=threads)
        errs_s.append(t.error_spiking[-1])
        errs_d.append(t.error_dropout[-1])
        if r == 0.5:
            rel136 = np.median(np.abs(t.var_spiking[0] - t.eq136[0]) / t.eq136[0])
            rel138 = np.median(np.abs(t.var_dropout[0] - t.eq138[0]) / t.eq138[0])
            res.claims.append(Claim("Eq. 136: spiking signal variance r^2 E(O)(1 - E(O))",
                                    f"median relative gap {rel136:.2%}", rel136 < 0.05))
            res.claims.append(Claim("Eq. 138: dropout signal variance r Var(O) + E(O)^2 r(1 - r)",
                                    f"median relative gap {rel138:.2%}", rel138 < 0.05))
    res.claims.append(Claim("deterministic propagation with weights w r predicts both the spiking firing rates and "
                            "the dropout averages (Section 10.1)",
                            "output |E - W|: spiking " + ", ".join(f"{e:.1e}" for e in errs_s) + "; dropout "
                            + ", ".join(f"{e:.1e}" for e in errs_d) + f" for r = {rs}",
                            max(errs_s + errs_d) < 0.05))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(rs, errs_s, marker="o", label="spiking network")
    ax.plot(rs, errs_d, marker="s", label="dropout network")
    ax.set_xlabel("spike size r = keep probability")
    ax.set_ylabel("mean |E(O) - W|, output layer")
    ax.legend()
    res.figures.append(save(fig, out, "fig10_2"))
    return res
