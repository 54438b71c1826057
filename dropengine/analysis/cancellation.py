"""Section 9.5's cancellation argument, predicted beside measured (Eq. 109-116).

The paper writes the ensemble network's activation as W = E(O) - eps with
eps = alpha + beta, where

    alpha = E(O) - NWGM(O)     (the NWGM's error, Sections 8, 9.2-9.4)
    beta  = NWGM(O) - W        (what the layers below add; 0 in layer 1, where W = NWGM)

and argues by induction over the layers (Eq. 109-112) that beta_i of layer l + 1 is, to
first order, sigma'(E(S_i)) sum_j w_ij p_j eps_j over the units j of layer l, so that
E(beta) ~ 0 (Eq. 113) and, the eps_j acting as independent noise,

    Var(beta_i) ~ sigma'(E(S_i))^2 sum_j w_ij^2 p_j^2 Var(eps_j)          (Eq. 114)

and that alpha and beta are uncorrelated (Eq. 115-116).

Here every quantity is measured over the (input, unit) pairs of a layer (the population
the paper's Figs. 9.3-9.7 show), Var(eps_j) is read as eps_j^2 (mean 0, Eq. 113), and the
Monte Carlo noise of the estimates of E and NWGM is kept out of every second moment by
taking products across two independent sample runs A and B of the same network, inputs
and gate (``sample(..., first_sample=n)``): a product x_A y_B has the expectation x y.
What remains is a bias of NWGM = sigma(mean S) of order Var(S)/n, common to both runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _engine as engine
from .._engine import GateKind
from .._reference import transfer
from ..stats import SampleStats

__all__ = ["cancellation", "CancellationLayer", "shape", "kolmogorov_distance"]


@dataclass(frozen=True)
class CancellationLayer:
    """Section 9.5 for layer ``layer`` (0-based, >= 1) over its (input, unit) pairs.

    ``ms_beta``       mean beta^2, measured (cross-run products: free of Monte Carlo noise), ``ms_beta_se``
    ``ms_beta_pred``  mean of Eq. 114's Var(beta_i), with Var(eps_j) = eps_j^2 of the layer below
    ``ratio``         ms_beta / ms_beta_pred, ``ratio_se`` its bootstrap SE (over the inputs)
    ``mean_beta``     mean beta (Eq. 113 predicts ~ 0), beside sqrt(ms_beta)
    ``corr_lin``      correlation of beta with Eq. 112's linear term (cross-run, noise-free)
    ``corr``          Pearson correlation of alpha and beta (cross-run, noise-free), ``corr_se``
    ``var_alpha``, ``var_beta``  the noise-free variances behind ``corr``
    ``noise_beta``    the Monte Carlo noise variance of one run's beta (from the runs' difference)
    ``mean_eps``, ``rms_eps``  mean and RMS of eps = E - W over the layer below (Eq. 113: mean ~0)

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([6, 4, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(5, 6))
    >>> gate = de.Dropout(0.5)
    >>> a = de.sample(net, X, gate, 200, seed=3)
    >>> b = de.sample(net, X, gate, 200, seed=3, first_sample=200)   # disjoint samples
    >>> layers = A.cancellation(net, a, b, de.ensemble(net, X, gate), gate, n_boot=20)
    >>> type(layers[0]).__name__, bool(np.isfinite(layers[0].ms_beta))
    ('CancellationLayer', True)
    """

    layer: int
    n_pairs: int
    ms_beta: float
    ms_beta_se: float
    ms_beta_pred: float
    ratio: float
    ratio_se: float
    mean_beta: float
    corr_lin: float
    corr: float
    corr_se: float
    var_alpha: float
    var_beta: float
    noise_beta: float
    mean_eps: float
    rms_eps: float


def _cov(x, y, w):
    """Weighted covariance over the last axis (weights w: (B, n) bootstrap counts or (n,))."""
    w = np.atleast_2d(w)
    s = w.sum(-1)
    mx, my = (w @ x) / s, (w @ y) / s
    return (w @ (x * y)) / s - mx * my


def _stats(p, w):
    """The statistics of one layer for pair weights w (rows: the sample itself or bootstrap draws)."""
    w = np.atleast_2d(w)
    s = w.sum(-1)
    mean = lambda x: (w @ x) / s  # noqa: E731
    ms, pred = mean(p["bA"] * p["bB"]), mean(p["pred"])
    va, vb = _cov(p["aA"], p["aB"], w), _cov(p["bA"], p["bB"], w)
    cab = (_cov(p["aA"], p["bB"], w) + _cov(p["aB"], p["bA"], w)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where((va > 0) & (vb > 0), cab / np.sqrt(np.abs(va * vb)), np.nan)
        ratio = ms / pred
    return ratio, corr, ms, pred, va, vb


def cancellation(net, stats_a: SampleStats, stats_b: SampleStats, ensemble, gate, *, n_boot: int = 400,
                 seed=0) -> list:
    """Section 9.5 per layer: measured mean beta^2 beside Eq. 114's prediction, and the
    correlation of alpha and beta (Eq. 115-116), from two independent sample runs.

    Parameters
    ----------
    net : Network (a chain)
    stats_a, stats_b : SampleStats of ``net`` on the same inputs and gate, from disjoint
        samples (e.g. ``first_sample=0`` and ``first_sample=n`` with one seed)
    ensemble : (U, W) from ``dropengine.ensemble`` (or the list W) for the same inputs and gate
    gate : the Dropout on units (or None) the statistics were taken under
    n_boot : bootstrap draws over the inputs for the standard errors

    Returns
    -------
    a CancellationLayer for every layer h >= 1 with a logistic transfer (Eq. 112 expands
    an elementwise sigma; softmax layers are skipped)

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([6, 4, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(5, 6))
    >>> gate = de.Dropout(0.5)
    >>> a = de.sample(net, X, gate, 200, seed=3)
    >>> b = de.sample(net, X, gate, 200, seed=3, first_sample=200)   # disjoint samples
    >>> layers = A.cancellation(net, a, b, de.ensemble(net, X, gate), gate, n_boot=20)
    >>> [(c.layer, c.n_pairs) for c in layers]     # layer 1: 5 inputs x 3 units
    [(1, 15)]
    """
    engine.check_net(net)
    engine.require_chain(net, "analysis.cancellation")
    for name, st in (("stats_a", stats_a), ("stats_b", stats_b)):
        if not isinstance(st, SampleStats):
            raise TypeError(f"{name} must be SampleStats, got {type(st).__name__}")
        if tuple(st.layer_sizes) != tuple(net.sizes[1:]):
            raise ValueError(f"{name}: layer sizes {tuple(st.layer_sizes)} are not the network's "
                             f"{tuple(net.sizes[1:])}")
    if stats_a.E[0].shape != stats_b.E[0].shape:
        raise ValueError("stats_a and stats_b must cover the same inputs")
    W = ensemble[1] if isinstance(ensemble, tuple) else ensemble
    W = [np.asarray(w, np.float64) for w in W]
    if len(W) != net.n_layers or W[0].shape != stats_a.E[0].shape:
        raise ValueError("ensemble must be (U, W) or W of the same network and inputs as the statistics")
    spec = engine.gate_spec(gate, net)
    if spec.kind not in (GateKind.units, GateKind.none):
        raise ValueError("cancellation: Eq. 114 is written for dropout on units (or no gate)")
    n_in = stats_a.E[0].shape[0]
    rng = np.random.default_rng(seed)
    boot = np.stack([np.bincount(rng.integers(0, n_in, n_in), minlength=n_in) for _ in range(n_boot)]).astype(float)
    out = []
    for h in range(1, net.n_layers):
        f = net.transfers[h]
        if f.name != "logistic":
            continue
        w = np.asarray(net.weights[h], np.float64)  # (n_out, n_prev)
        p = (np.broadcast_to(np.asarray(spec.p[h], np.float64), (w.shape[1],)) if spec.kind == GateKind.units
             else np.ones(w.shape[1]))
        ES = (np.asarray(stats_a.E_S[h]) + np.asarray(stats_b.E_S[h])) / 2
        ds = transfer(f, ES)[3]  # sigma'(E(S_i)), (n_inputs, n_out)
        epsA, epsB = stats_a.E[h - 1] - W[h - 1], stats_b.E[h - 1] - W[h - 1]
        pred = ds ** 2 * ((epsA * epsB) @ (w ** 2 * p ** 2).T)  # Eq. 114, per (input, unit)
        linA, linB = ds * ((epsA * p) @ w.T), ds * ((epsB * p) @ w.T)  # Eq. 112's linear term
        NA, NB = np.asarray(stats_a.nwgm[h]), np.asarray(stats_b.nwgm[h])
        q = {"bA": NA - W[h], "bB": NB - W[h], "aA": stats_a.E[h] - NA, "aB": stats_b.E[h] - NB, "pred": pred,
             "lA": linA, "lB": linB}
        ok = np.all(np.isfinite(np.stack(list(q.values()))), axis=0)  # (n_inputs, n_out)
        # flatten per input so that bootstrap weights over inputs repeat over that input's units
        rows = np.repeat(np.arange(n_in)[:, None], w.shape[0], axis=1)[ok]
        q = {k: v[ok] for k, v in q.items()}
        ratio, corr, ms, pr, va, vb = (float(x[0]) for x in _stats(q, np.ones(rows.size)))
        bw = boot[:, rows]
        b_ratio, b_corr, b_ms = _stats(q, bw)[:3]
        c_bl = (_cov(q["bA"], q["lB"], np.ones(rows.size)) + _cov(q["bB"], q["lA"], np.ones(rows.size))) / 2
        v_l = _cov(q["lA"], q["lB"], np.ones(rows.size))
        corr_lin = float(c_bl[0] / np.sqrt(v_l[0] * vb)) if v_l[0] > 0 and vb > 0 else float("nan")
        out.append(CancellationLayer(
            layer=h, n_pairs=int(rows.size), ms_beta=ms, ms_beta_se=float(np.std(b_ms, ddof=1)), ms_beta_pred=pr,
            ratio=ratio,
            ratio_se=float(np.nanstd(b_ratio, ddof=1)), mean_beta=float(np.mean((q["bA"] + q["bB"]) / 2)),
            corr_lin=corr_lin, corr=corr, corr_se=float(np.nanstd(b_corr, ddof=1)), var_alpha=va, var_beta=vb,
            noise_beta=float(np.var(q["bA"] - q["bB"]) / 2), mean_eps=float(np.mean((epsA + epsB) / 2)),
            rms_eps=float(np.sqrt(max(np.mean(epsA * epsB), 0.0)))))
    return out


def kolmogorov_distance(x, axis=None):
    """sup |F_n - Phi| between the empirical CDF of x and the Gaussian with x's mean and
    standard deviation (the Kolmogorov-Smirnov statistic with estimated parameters).

    With ``axis=None`` over all of x (a float); with an integer axis one distance per
    slice along it (an array of x's shape without that axis), NaN where a slice is
    constant. For n Gaussian draws the distance is about 0.6 / sqrt(n) at its median
    (Lilliefors' distribution), the floor any measured distance sits on."""
    from scipy.special import ndtr

    x = np.asarray(x, np.float64)
    if axis is None:
        x = x.ravel()
        axis = 0
    x = np.moveaxis(np.sort(x, axis=axis), axis, 0)
    n = x.shape[0]
    if n == 0:
        return float("nan") if x.ndim == 1 else np.full(x.shape[1:], np.nan)
    sd = x.std(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        F = ndtr((x - x.mean(0)) / sd)
    i = np.arange(1, n + 1).reshape((n,) + (1,) * (x.ndim - 1))
    D = np.maximum(np.max(i / n - F, axis=0), np.max(F - (i - 1) / n, axis=0))
    D = np.where(sd > 0, D, np.nan)
    return float(D) if D.ndim == 0 else D


def shape(d, n_boot: int = 400, seed=0) -> dict:
    """The shape of a deviation over the (input, unit) pairs of a layer (d: shape
    (n_inputs, n_units)): the Kolmogorov distance to the Gaussian of the same mean and SD
    (0.057 for a uniform distribution, 0.062 for a Laplace, 0.023 for a logistic),
    skewness and excess kurtosis (0 and 0 for a Gaussian), each with a bootstrap SE over
    the inputs (rows), and the D'Agostino-Pearson p-value over all pairs."""
    from scipy import stats as sps

    d = np.asarray(d, np.float64)
    if d.ndim != 2:
        raise ValueError(f"d must have shape (n_inputs, n_units), got {d.shape}")
    flat = d[np.isfinite(d)]
    keys = ("kolmogorov", "skewness", "excess_kurtosis")
    out = {k: np.nan for k in keys} | {k + "_se": np.nan for k in keys} | {"normality_p": np.nan, "n": int(flat.size)}
    if flat.size < 8 or np.ptp(flat) == 0:
        return out
    stats = lambda x: (kolmogorov_distance(x), sps.skew(x), sps.kurtosis(x))  # noqa: E731
    out.update(zip(keys, map(float, stats(flat))))
    out["normality_p"] = float(sps.normaltest(flat).pvalue)
    rng = np.random.default_rng(seed)
    n_in = d.shape[0]
    boots = []
    for _ in range(n_boot):
        x = d[rng.integers(0, n_in, n_in)]
        x = x[np.isfinite(x)]
        if x.size >= 8 and np.ptp(x) > 0:
            boots.append(stats(x))
    if len(boots) > 1:
        out.update({k + "_se": float(v) for k, v in zip(keys, np.std(np.array(boots), axis=0, ddof=1))})
    return out
