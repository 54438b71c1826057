"""Fig. 11.3 (Section 11.7): the consistency of the active neurons per hidden layer over
training. "Active": activation W > 0.1 at the end of training (the paper's definition),
per (probe input, unit). The dropout standard deviation of each active neuron is
measured at every measurement epoch of the `training` experiment's dropout run (its
``measurements``: Var(O) from ``n_probe_samples`` dropout samples per probe); the figure
shows its mean and 5%, 95% percentiles per layer. The paper: "the standard deviation
does not increase for the higher layers".
"""
from __future__ import annotations

import numpy as np

from .base import Claim, pyplot, save
from .criteria import GROWTH_LIMIT

ACTIVE = 0.1


def layer_growth(sds, n_boot=400, seed=0):
    """Per-layer growth ratio g of the mean standard deviation over the layers (log mean
    fitted linearly in the layer index, g = exp(slope)) and its SE by a bootstrap over the
    active neurons of each layer. ``sds``: one 1-D array per layer."""
    def fit(means):
        return float(np.exp(np.polyfit(np.arange(len(means)), np.log(means), 1)[0]))
    g = fit([float(s.mean()) for s in sds])
    rng = np.random.default_rng(seed)
    boots = [fit([float(s[rng.integers(0, s.size, s.size)].mean()) for s in sds]) for _ in range(n_boot)]
    return g, float(np.std(boots, ddof=1))


def run_figure(res, out, ms, depth: int, n_samples: int, seed: int = 0, cause: str = ""):
    """Fig. 11.3 and its claim from the dropout run's measurements ``ms`` (one dict per
    measured epoch, each with per-layer "W" and "var" of shape (probes, units))."""
    plt = pyplot()
    ep = np.array([m["epoch"] for m in ms])
    active = [np.asarray(ms[-1]["W"][h]) > ACTIVE for h in range(depth)]
    sd = [np.sqrt(np.stack([np.asarray(m["var"][h])[active[h]] for m in ms])) for h in range(depth)]  # (epochs, n)
    fig, axes = plt.subplots(1, depth, figsize=(2.6 * depth, 2.9), sharey=True, squeeze=False)
    for h in range(depth):
        ax = axes[0, h]
        if sd[h].shape[1]:
            q = np.percentile(sd[h], [5, 95], axis=1)
            ax.plot(ep, sd[h].mean(1), c="C3", label="mean")
            ax.fill_between(ep, q[0], q[1], color="C3", alpha=0.2, label="5%-95%")
        ax.set_title(f"layer {h + 1} ({sd[h].shape[1]} active)", fontsize=8)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("dropout SD of active neurons", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"Fig. 11.3: consistency of active neurons (W > {ACTIVE} at the end) per hidden layer over training "
                 f"({n_samples} dropout samples per input)", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    res.figures.append(save(fig, out, "fig11_3_consistency"))
    last = [s[-1] for s in sd]
    if any(s.size < 2 for s in last):
        g, se = float("nan"), float("nan")
    else:
        g, se = layer_growth(last, seed=seed)
    res.claims.append(Claim(
        "consistency_layers", "Section 11.7, Fig. 11.3", "Eq. 189",
        "the consistency of active neurons does not noticeably decline in the upper layers: their dropout standard "
        "deviation does not increase for the higher layers (end of training)",
        f"per-layer growth ratio g of the active neurons' mean SD over hidden layers 1-{depth} (log-linear fit) at the "
        f"last epoch: g + 2 SE < {GROWTH_LIMIT} (25% per layer doubles it in three layers); SE by bootstrap over the "
        "active neurons", g, se, bool(np.isfinite(g) and g + 2 * se < GROWTH_LIMIT),
        detail="growth ratio; mean SD per layer " + ", ".join(f"{s.mean():.3f}" if s.size else "-" for s in last)
               + "; active (input, unit) pairs per layer " + ", ".join(str(s.size) for s in last),
        reason=cause or "the paper: the standard deviation of the active neurons grows from layer to layer here"))
