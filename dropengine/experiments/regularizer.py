"""Section 11.5 exactly: on small deep logistic networks with every layer gated, the
expected dropout gradient E(dE_D/dw) over all subnetworks beside the paper's
approximations (analysis.deep_regularizer), layer by layer, and the sign of A.

Criteria (the same as tests/test_deep_regularizer.py, fixed from the paper's reasoning
before any number was measured; every quantity is exact, so there is no Monte Carlo error):

C1  top layer: Eq. 177 linearises sigma in w_ij delta_j O_j, so w A is the first-order part
    of E(dE_D/dw) - dE_ENS/dw. With small weights or keep near 1, Eq. 179 and Eq. 181 must
    be closer to the exact gradient than dE_ENS/dw alone (relative error ratio < 1).
C2  lower layers ("with approximations, similar results appear to be true for deeper
    layers", Eq. 183-188): in the same regimes Eq. 188 must be closer than dE_ENS/dw alone,
    in every lower layer.
C3  Eq. 183's independence assumption is "increasingly accurate for units closer to the
    input layer": its relative error must not grow from one lower layer to the one below.
"""
from __future__ import annotations

import numpy as np

from .. import Network
from ..analysis import deep_regularizer
from .base import Claim, Result, pyplot, save

TITLE = "Section 11.5 exactly: the expected dropout gradient of deep logistic networks, every layer gated"

# (sizes, weight scale, keep per layer, seed): all layers gated, keep < 1 everywhere
NETS = {"3-4-3-1 small": ((3, 4, 3, 1), 0.25, [0.8, 0.5, 0.5], 1),
        "2-3-3-2-1 small": ((2, 3, 3, 2, 1), 0.25, [0.8, 0.5, 0.5, 0.5], 2),
        "3-4-3-1 keep 0.9": ((3, 4, 3, 1), 1.0, [0.9, 0.9, 0.9], 3)}


def make(sizes, scale, seed):
    """The networks of tests/test_deep_regularizer.py: N(0, scale^2) weights, no biases,
    three inputs in [0, 1) and binary targets."""
    rng = np.random.default_rng(seed)
    net = Network([rng.normal(0, scale, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])], None, "logistic",
                  dtype=np.float64)
    X = rng.random((3, sizes[0]))
    T = rng.integers(0, 2, (3, sizes[-1])).astype(float)
    return net, X, T


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    res = Result("regularizer", TITLE, notes=(
        "Networks " + ", ".join(f"{k} (weights N(0, {v[1]}^2), keep {v[2]})" for k, v in NETS.items())
        + "; three inputs each, relative entropy; every expectation over all 2^(gates) subnetworks. The networks "
        "are fixed (the seed does not change them)."))
    runs = {name: (deep_regularizer(*make(sz, sc, sd), keep), make(sz, sc, sd)[0])
            for name, (sz, sc, keep, sd) in NETS.items()}
    for name, (r, net) in runs.items():
        top = r.layers[-1]
        e = top.rel_error
        eff = top.sign_of_A()["effective"]
        for eq in ("eq181", "eq179"):
            res.claims.append(Claim(
                f"C1[{eq}, {name}]", "Section 11.5", f"Eq. {eq[2:]}",
                f"{name}, top layer: the adaptive regulariser w A brings E(dE_D/dw) closer than dE_ENS/dw alone",
                "C1: relative error of Eq. " + eq[2:] + " / that of dE_ENS/dw < 1 (exact)", e[eq] / e["ensemble"],
                0.0, e[eq] < e["ensemble"],
                detail=f"ratio; rel. errors {e[eq]:.3g} vs {e['ensemble']:.3g}; effective A > 0 for {eff[0]:.0%}",
                reason="the paper: Eq. 179's A = lam(E(sigma'(S_ij)) p E(OO) - sigma'(U) p^2 W^2) mixes the "
                       "expansion points S_ij and U and does not vanish at p = 1 (Eq. 181 does)"))
        lower = r.layers[:-1]
        ratios = [t.rel_error["eq188"] / t.rel_error["ensemble"] for t in lower]
        wa = []
        for t in lower:
            wa.append(np.linalg.norm(t.approx["eq188"] - t.ensemble) / np.linalg.norm(t.exact - t.ensemble))
        res.claims.append(Claim(
            f"C2[{name}]", "Section 11.5", "Eq. 183-188",
            f"{name}, lower layers: similar results hold for deeper layers: Eq. 188 is closer to E(dE_D/dw) than "
            "dE_ENS/dw alone", "C2: relative error of Eq. 188 / that of dE_ENS/dw < 1 in every lower layer (the "
            "largest ratio is shown)", max(ratios), 0.0, max(ratios) < 1,
            detail="largest ratio; per layer " + ", ".join(f"{q:.3f}" for q in ratios) + "; ||w A|| / "
                   "||E(dE_D/dw) - dE_ENS/dw|| " + ", ".join(f"{q:.2g}" for q in wa),
            reason="the paper: Eq. 188 keeps only Eq. 187's sigma'' Var(delta O) term with E(dE_D/dS) ~ dE_ENS/dU; "
                   "its w A (size relative to the exact gap shown above) does not match the gap E(dE_D/dw) - "
                   "dE_ENS/dw, whose other terms the derivation drops"))
        if "small" in name:
            errs = [t.rel_error["eq183"] for t in lower]
            res.claims.append(Claim(
                f"C3[{name}]", "Section 11.5", "Eq. 183",
                f"{name}: the independence assumption of Eq. 183 is increasingly accurate for units closer to the "
                "input layer", "C3: Eq. 183's relative error does not grow from one lower layer to the one below "
                "(largest step up towards the input shown; <= 0)",
                max(a - b for a, b in zip(errs, errs[1:])) if len(errs) > 1 else 0.0, 0.0,
                all(a <= b for a, b in zip(errs, errs[1:])),
                detail="largest step; rel. errors from the input up " + ", ".join(f"{x:.3g}" for x in errs)))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.6), sharey=True)
    for ax, (name, (r, _)) in zip(axes, runs.items()):
        keys = ["ensemble", "eq179", "eq181", "eq183", "eq188"]
        for j, k in enumerate(keys):
            xs = [t.layer + 1 for t in r.layers if k in t.rel_error]
            ys = [t.rel_error[k] for t in r.layers if k in t.rel_error]
            ax.plot(np.array(xs) + 0.06 * (j - 2), ys, "o", label="dE_ENS/dw" if k == "ensemble" else f"Eq. {k[2:]}")
        ax.set_yscale("log")
        ax.set_xticks(sorted({t.layer + 1 for t in r.layers}))  # whole layers (the points are offset per estimate)
        ax.set_xlabel("weight layer (top = last)")
        ax.set_title(name, fontsize=9)
    axes[0].set_ylabel("||approx - E(dE_D/dw)|| / ||E(dE_D/dw)||")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.suptitle("Section 11.5 (exact): relative error of each approximation, layer by layer", fontsize=10)
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig11_5_exact"))
    return res
