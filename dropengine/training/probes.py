"""Measurements taken during training (Section 11.7; Figs. 9.10, 9.11, 11.1-11.3).

For fixed probe inputs and the current weights: the dropout mean E and variance V of
every unit over subnetworks (Monte Carlo, `dropengine.sample`), the ensemble output W
(Eq. 167), the gap W(1 - W) - V (the variance of a Bernoulli variable with mean W
bounds V from above when E = W, Section 9.4), the variance of active (W >= 1/2) and
inactive units (the paper's consistency: low dropout variance, high consistency), and
the distribution of activations (sparsity, Fig. 11.1).
"""
from __future__ import annotations

import numpy as np

from ..sampling import ensemble, sample

__all__ = ["measure", "HIST_BINS"]

#: Bin edges of the activation histograms.
HIST_BINS = np.linspace(0.0, 1.0, 21)


def measure(net, probes, gate, n_samples: int = 1000, *, epoch: int = 0, seed=0, threads=None) -> dict:
    """The dropout statistics of `probes` under `gate` for the network's current weights.

    Returns a dict with "epoch" and per layer h (lists over layers):
    "E", "var", "W", "gap" = W(1 - W) - var (each (n_probes, n_out_h)); "active_var",
    "inactive_var" (mean variance of units with W >= 1/2, resp. < 1/2; NaN when none);
    "sparsity" (fraction of W below 0.1); "hist" (counts of W over HIST_BINS).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.training.init_network([3, 4, 2], ["logistic", "softmax"], seed=0)
    >>> X = np.random.default_rng(0).normal(size=(4, 3))
    >>> y = np.array([0, 1, 1, 0])
    >>> m = de.training.measure(net, X, de.Dropout([1.0, 0.5]), 100, seed=0)
    >>> len(m["E"]), m["E"][0].shape, m["W"][1].shape
    (2, (4, 4), (4, 2))
    """
    st = sample(net, probes, gate, n_samples, seed=seed, threads=threads)
    _, W = ensemble(net, probes, gate, threads=threads)
    out = {"epoch": int(epoch), "n_samples": int(n_samples), "E": [], "var": [], "W": [], "gap": [],
           "active_var": [], "inactive_var": [], "sparsity": [], "hist": []}
    for h in range(net.n_layers):
        w = np.asarray(W[h], dtype=np.float64)
        v = np.asarray(st.var[h])
        active = w >= 0.5
        out["E"].append(np.asarray(st.E[h]))
        out["var"].append(v)
        out["W"].append(w)
        out["gap"].append(w * (1 - w) - v)
        out["active_var"].append(float(v[active].mean()) if active.any() else float("nan"))
        out["inactive_var"].append(float(v[~active].mean()) if (~active).any() else float("nan"))
        out["sparsity"].append(float(np.mean(w < 0.1)))
        out["hist"].append(np.histogram(np.clip(w, 0, 1), HIST_BINS)[0])
    return out
