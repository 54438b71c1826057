"""Section 9.5: E vs NWGM vs W per layer, with bound 1 and bound 2 (Fig. 9.3-9.7, 9.15),
on the paper's network architecture before training (training lands with issue 5)."""
from __future__ import annotations

import numpy as np

from .. import Dropout, Network, ensemble, sample
from ..analysis import approximation_report, bounds as B
from ..cli import PAPER_SIZES, mnist_like_inputs
from .base import Claim, Result, pyplot, save

TITLE = "Section 9.5: E vs NWGM vs W per layer, untrained network (Fig. 9.3-9.7)"


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    sizes = [784, 256, 256, 256, 256, 10] if quick else PAPER_SIZES
    res = Result("approximations", TITLE, notes=f"Network {'-'.join(map(str, sizes))} with random initial weights "
                                                "(the trained-network figures need the training engine).")
    n_samples = 2000 if quick else 10_000
    net = Network.random(sizes, "logistic", seed=seed, scale=4.0 / np.sqrt(sizes[0]), dtype=np.float32)
    X = mnist_like_inputs(10, seed=seed)
    gate = Dropout([0.8] + [0.5] * (len(sizes) - 2))
    st = sample(net, X, gate, n_samples, seed=seed, threads=threads)
    U, W = ensemble(net, X, gate, threads=threads)
    layers, grows = approximation_report(st, (U, W))
    plt = pyplot()
    L = len(layers)
    fig, axes = plt.subplots(L, 2, figsize=(8, 2.2 * L))
    for h, r in enumerate(layers):
        E, N, Wh, V = st.E[h].ravel(), st.nwgm[h].ravel(), W[h].ravel(), st.var[h].ravel()
        ax = axes[h, 0]
        ax.scatter(E, np.abs(E - N), s=2, label="|E - NWGM|")
        order = np.argsort(E)
        ax.plot(E[order], B.bound1(E, V)[order], lw=0.8, c="C1", label="bound 1")
        ax.plot(E[order], B.bound2(E)[order], lw=0.8, c="C2", label="bound 2")
        ax.set_ylabel(f"layer {h + 1}", fontsize=8)
        ax.legend(fontsize=6)
        axes[h, 1].hist(E - Wh, bins=50)
        axes[h, 1].set_title(f"E - W, layer {h + 1}", fontsize=8)
        res.claims.append(Claim(f"layer {h + 1}: |E - NWGM| within bound 2 (Eq. 87)",
                                f"{r.inside_bound2:.1%} of units", r.inside_bound2 > 0.95))
        res.claims.append(Claim(f"layer {h + 1}: W approximates E (Eq. 99)",
                                f"mean |E - W| {np.mean(np.abs(E - Wh)):.2e}", np.mean(np.abs(E - Wh)) < 0.02))
    res.figures.append(save(fig, out, "fig9_3"))
    stds = ", ".join(f"{r.e_minus_w.std:.1e}" for r in layers)
    res.claims.append(Claim("the spread of E - W does not grow with depth (Section 9.5)", f"std per layer {stds}",
                            not grows))
    return res
