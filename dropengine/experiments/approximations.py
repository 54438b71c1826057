"""Section 9.5: E vs NWGM vs W per layer, with bound 1 and bound 2 (Fig. 9.3-9.7, 9.15),
on the paper's network architecture before training, from small random weights (the
trained network's figures are in the `training` experiment)."""
from __future__ import annotations

import numpy as np

from .. import Dropout, ensemble, sample
from ..analysis import approximation_report, bounds as B
from ..datasets import PAPER_SIZES, mnist_like_inputs
from ..training import init_network
from .base import Claim, Result, pyplot, save

TITLE = "Section 9.5: E vs NWGM vs W per layer, untrained network (Fig. 9.3-9.7)"


def _mean_gaps(net, X, gate, n_samples, seed, threads):
    st = sample(net, X, gate, n_samples, seed=seed, threads=threads)
    U, W = ensemble(net, X, gate, threads=threads)
    return st, (U, W), [float(np.mean(np.abs(st.E[h] - W[h]))) for h in range(net.n_layers)]


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    sizes = [784, 256, 256, 256, 256, 10] if quick else PAPER_SIZES
    n_samples = 2000 if quick else 10_000
    # "At the beginning of learning, with small random weights initialization, typically E
    # is close to 0.5" (Section 8): Glorot-scaled weights times 1/4, per layer, so the
    # sums have the same spread at every width (one scale for all layers would make the
    # 1,200-unit layers' sums twice as wide as the 256-unit ones).
    net = init_network(sizes, "logistic", scheme="glorot", scale=0.25, seed=seed)
    X = mnist_like_inputs(10, seed=seed)
    gate = Dropout([0.8] + [0.5] * (len(sizes) - 2))
    st, (U, W), _ = _mean_gaps(net, X, gate, n_samples, seed, threads)
    # The same architecture from full Glorot-size weights, for contrast (not a claim).
    _, _, big = _mean_gaps(init_network(sizes, "logistic", scheme="glorot", seed=seed), X, gate, n_samples, seed,
                           threads)
    res = Result("approximations", TITLE, notes=(
        f"Network {'-'.join(map(str, sizes))} before training, small random weights (Glorot x 1/4, zero biases), "
        f"{len(X)} inputs x {n_samples} samples. From full Glorot-size weights the mean |E - W| per layer is "
        + ", ".join(f"{g:.1e}" for g in big) + ": the approximations need small weights or training."))
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
