"""Section 9.5: E vs NWGM vs W per layer, with bound 1 and bound 2 (Fig. 9.3-9.7, 9.15),
on the paper's network architecture before training, from small random weights (the
trained network's figures are in the `training` experiment)."""
from __future__ import annotations

import numpy as np

from .. import Dropout, ensemble, sample
from ..analysis import approximation_report, bounds as B
from ..analysis.cancellation import cancellation
from ..datasets import PAPER_SIZES, mnist_like_inputs
from ..training import init_network
from .base import Claim, Result, pyplot, save
from .criteria import GROWTH_LIMIT, bound2_claim, eq99_claim, spread_growth

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
    layers = approximation_report(st, (U, W))
    # Section 9.5's beta = NWGM - W (Eq. 112-116) is tested on the trained network (the
    # `training` experiment, where the paper's simulations are); here it is only sized
    # against the Monte Carlo noise, from a second, independent run.
    stB = sample(net, X, gate, n_samples, seed=seed, threads=threads, first_sample=n_samples)
    canc = cancellation(net, st, stB, (U, W), gate, seed=seed)
    res.notes += (" Section 9.5's beta = NWGM - W (Eq. 112-116) is tested on the trained network (training "
                  "experiment); here, from small weights, the noise-free estimates of mean beta^2 per layer 2-"
                  f"{len(canc) + 1} (± SE) are " + ", ".join(f"{c.ms_beta:.1e} ± {c.ms_beta_se:.0e}" for c in canc)
                  + f", against a Monte Carlo noise variance of one run of {n_samples} samples of "
                  + ", ".join(f"{c.noise_beta:.0e}" for c in canc) + ".")
    plt = pyplot()
    L = len(layers)
    fig, axes = plt.subplots(L, 2, figsize=(9, 2.3 * L))
    for h, r in enumerate(layers):
        E, N, Wh, V = st.E[h].ravel(), st.nwgm[h].ravel(), W[h].ravel(), st.var[h].ravel()
        ax = axes[h, 0]
        ax.scatter(E, np.abs(E - N), s=2, label="|E - NWGM|")
        order = np.argsort(E)
        ax.plot(E[order], B.bound1(E, V)[order], lw=0.8, c="C1", label="bound 1")
        ax.plot(E[order], B.bound2(E)[order], lw=0.8, c="C2", label="bound 2")
        ax.set_ylabel(f"layer {h + 1}: |E - NWGM|", fontsize=8)
        axes[h, 1].hist(E - Wh, bins=50)
        axes[h, 1].set_ylabel("count (units x inputs)", fontsize=8)
        for a in axes[h]:
            a.tick_params(labelsize=7)
            a.locator_params(axis="x", nbins=5)
        if h == 0:
            ax.set_title("Fig. 9.3 (untrained): |E - NWGM| and bounds", fontsize=9)
            axes[h, 1].set_title("Fig. 9.3 (untrained): E - W", fontsize=9)
        if h == L - 1:
            ax.set_xlabel("E", fontsize=8)
            axes[h, 1].set_xlabel("E - W", fontsize=8)
        res.claims.append(bound2_claim(st, h, f"bound2[layer {h + 1}]", "Section 9.5, Fig. 9.3", ", untrained"))
        res.claims.append(eq99_claim(st, W, h, f"eq99[layer {h + 1}]", "Section 9.1, Fig. 9.3", ", untrained"))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False, markerscale=4)
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    res.figures.append(save(fig, out, "fig9_3"))
    # Section 9.5: "these deviations act like noise and cancel each other to some extent
    # preventing the accumulation of errors across layers". Layer 1 has W = NWGM (beta = 0),
    # so the fit starts at layer 2, where beta first appears (Eq. 102, 112).
    g, se_g, sds = spread_growth(st.E, W, st.sem, first=1, seed=seed)
    res.claims.append(Claim("spread_growth", "Section 9.5", "Eq. 102, 112-114",
                            "the deviations E - W cancel to some extent and do not accumulate across layers",
                            f"per-layer growth ratio g of sd(E - W) over layers 2-{L} (log-linear fit): "
                            f"g + 2 SE < {GROWTH_LIMIT} (25% per layer doubles the error in three layers); "
                            "Monte Carlo noise of E removed; SE by bootstrap over the inputs", g, se_g, g + 2 * se_g < GROWTH_LIMIT,
                            detail="sd(E - W) per layer " + ", ".join(f"{r.e_minus_w.std:.1e}" for r in layers)
                            + "; noise removed, layers 2-: " + ", ".join(f"{x:.1e}" for x in sds),
                            reason="the setting: the output layer (256 -> 10, Glorot) has about twice the squared "
                                   "weight norm per unit of the hidden layers, which Eq. 114 carries into Var(beta); "
                                   "the hidden layers alone are flat (sd " + ", ".join(f"{x:.1e}" for x in sds[:-1])
                                   + ")"))
    return res
