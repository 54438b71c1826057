"""General networks: Section 9.5's E, NWGM and W on a network with skip connections
(Eq. 21-26, 167), and Gaussian gates beside Bernoulli dropout (Sections 4.1, 5).

The paper's network shape (784-1200x4-10 in full mode, 784-256-256-10 in quick mode),
logistic units, random weights N(0, 1/fan-in) (untrained: a "before training" setting),
MNIST-like inputs; the DAG is the same chain with the input also feeding every hidden
layer above the first, its weights N(0, 1/fan-in) over the whole concatenated input. Dropout keeps 0.8 on
the inputs and 0.5 on the hidden units; the Gaussian gate has the coin's first two
moments, delta ~ N(p, p(1 - p)).

Criteria, fixed before any run:

* Section 9.5 on a DAG ("W and NWGM are good approximations to E ... the deviations
  cancel each other to some extent, preventing the accumulation of errors across
  layers"): the argument is per unit and does not use the topology, so adding skip
  connections must not make the ensemble network worse. Verdict "yes" when the DAG's
  mean |E - W| over all non-input units exceeds the chain's by less than 2 standard
  errors (the SE combines both runs' per-unit Monte Carlo errors of E).
* The same for |E - NWGM| (Eq. 52).
* Eq. 39 / Section 4.1 ("NWGM = sigma(E(S)) for any distribution", so for Gaussian noise
  too): with the Gaussian gate, the NWGM computed from the samples equals sigma of the
  samples' mean S, to float64 rounding (|difference| < 1e-12, on a float64 copy of the
  chain): an identity check.
"""
from __future__ import annotations

import numpy as np

from .. import Dropout, GaussianGate, Network, ensemble, sample
from ..datasets import PAPER_SIZES, mnist_like_inputs
from .base import Claim, Result, identity, pyplot, save

TITLE = "General networks: E, NWGM and W with skip connections; Gaussian against Bernoulli gates"


def _networks(sizes, seed):
    chain = Network.random(sizes, "logistic", seed=seed, dtype=np.float32)
    rng = np.random.default_rng(seed + 1)
    W = [dict(chain.layer_weights(h)) for h in range(1, len(sizes))]
    for h in range(2, len(sizes) - 1):  # the input also feeds every hidden layer above the first
        fan_in = sizes[h - 1] + sizes[0]
        W[h - 1][0] = rng.normal(0, 1 / np.sqrt(fan_in), (sizes[h], sizes[0])).astype(np.float32)
        W[h - 1][h - 1] = W[h - 1][h - 1] * np.float32(np.sqrt(sizes[h - 1] / fan_in))
    return chain, Network(W, list(chain.biases), "logistic")


def _deviation(st, W_ens, which):
    """Mean over all non-input units and inputs of |E - W| (or |E - NWGM|), and its SE
    from the per-unit Monte Carlo SE of E (the sign of each deviation held fixed)."""
    E = np.concatenate([e.ravel() for e in st.E])
    ref = np.concatenate([w.ravel() for w in (W_ens if which == "W" else st.nwgm)])
    se_unit = np.concatenate([s.ravel() for s in st.sem])
    return float(np.mean(np.abs(E - ref))), float(np.sqrt(np.sum(se_unit ** 2)) / E.size)


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    sizes = [784, 256, 256, 10] if quick else list(PAPER_SIZES)
    n_samples, n_inputs = (2000, 10) if quick else (10_000, 10)
    keep = [0.8] + [0.5] * (len(sizes) - 2)
    p = np.array(keep)
    res = Result("general", TITLE, notes=(
        f"Network {'-'.join(map(str, sizes))}, logistic, random N(0, 1/fan-in) weights (untrained); the DAG adds "
        f"the input to every hidden layer above the first. {n_inputs} MNIST-like inputs x {n_samples} samples; "
        f"dropout keep {keep}; Gaussian gate delta ~ N(p, p(1 - p))."))
    chain, dag = _networks(sizes, seed)
    X = mnist_like_inputs(n_inputs, seed=seed)
    gate = Dropout(keep)
    runs = {}
    for name, net in (("chain", chain), ("dag", dag)):
        st = sample(net, X, gate, n_samples, seed=seed + 2, threads=threads)
        runs[name] = (st, ensemble(net, X, gate, threads=threads)[1])
    for which, eq in (("W", "Eq. 167"), ("NWGM", "Eq. 52")):
        (mc, sc), (md, sd) = (_deviation(*runs[k], which) for k in ("chain", "dag"))
        se = float(np.hypot(sc, sd))
        res.claims.append(Claim(
            f"dag_vs_chain[{which}]", "Section 9.5", f"Eq. 21-26, {eq}",
            f"with skip connections, {which} approximates E as well as in the chain (the cancellation argument "
            "does not use the topology)",
            f"mean |E - {which}| of the DAG - that of the chain < 2 SE", md - mc, se, md - mc < 2 * se,
            detail=f"chain {mc:.2e}, DAG {md:.2e}",
            reason="the setting: the DAG's layers receive more, larger inputs, so S varies more under dropout"))
    gauss = GaussianGate(mean=list(p), std=list(np.sqrt(p * (1 - p))))
    # In float64, so that the identity is checked to float64 rounding.
    chain64 = Network(list(chain.weights), list(chain.biases), "logistic", dtype=np.float64)
    sg = sample(chain64, X.astype(np.float64), gauss, n_samples, seed=seed + 3, threads=threads)
    gap = max(float(np.max(np.abs(n - 1 / (1 + np.exp(-s))))) for n, s in zip(sg.nwgm, sg.E_S))
    res.claims.append(identity(
        "gaussian_nwgm", "Section 4.1", "Eq. 39",
        "NWGM = sigma(E(S)) for any distribution of S, so also under Gaussian gates",
        "max |NWGM - sigma(mean S)| over units and inputs < 1e-12 (float64)", gap, 0.0, gap < 1e-12))

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, (name, (st, W_ens)) in zip(axes[:2], runs.items()):
        for h in range(len(st.E)):
            ax.scatter(st.E[h].ravel(), (W_ens[h] - st.E[h]).ravel(), s=3, label=f"layer {h + 1}")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("E(O) (Monte Carlo)")
        ax.set_ylabel("W - E")
        ax.set_title(f"Eq. 167 on the {'DAG' if name == 'dag' else name}: W - E per unit", fontsize=9)
    sb = runs["chain"][0]
    for h in range(len(sb.E)):
        axes[2].scatter(sb.E[h].ravel(), sg.E[h].ravel(), s=3, label=f"layer {h + 1}")
    lo, hi = 0.0, 1.0
    axes[2].plot([lo, hi], [lo, hi], "k", lw=0.5)
    axes[2].set_xlabel("E(O), Bernoulli dropout")
    axes[2].set_ylabel("E(O), Gaussian gate N(p, p(1 - p))")
    axes[2].set_title("Section 5: Gaussian against Bernoulli gates (chain)", fontsize=9)
    # One legend for the three panels, below them: off the data.
    handles, labels = axes[2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False, markerscale=3)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    res.figures.append(save(fig, out, "fig_general_networks"))
    return res
