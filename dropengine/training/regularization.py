"""Dropout's gradient against the ensemble gradient: the adaptive weight decay of
Sections 11.2-11.5 (Eq. 164, 168-171, 179-188).

For fixed weights and inputs the paper predicts

    E(dE_D/dw_ij) ~ dE_ENS/dw_ij + w_ij A_ij                              (Eq. 180, 188)

with, in the top layer, A_ij = lam sigma'(U_i) Var(delta_j O_j) (Eq. 181) and, below it,
A_ij = (sum_k dE_ENS/dU_k w_ki p_i) sigma''(U_i) Var(delta_j O_j) (Eq. 187-188): dropout
descends the ensemble error plus a weight decay whose coefficient adapts to the
variance of the presynaptic unit. `regularization_check` measures the left side by
Monte Carlo (the trainer's minibatch gradient averaged over many dropout draws), the
ensemble gradient exactly (Eq. 168-171, NumPy) and the predicted decay term, per layer.
"""
from __future__ import annotations

import numpy as np

from .._reference import transfer
from .._validation import as_count
from ._reference import targets, top_loss
from .. import _engine as engine
from .._engine import GateKind
from ..gates import Dropin, Dropout, NoGate, refuse_continuous, refuse_mixed
from ..sampling import sample

__all__ = ["ensemble_loss", "ensemble_gradient", "regularization_check"]


def _gate_inputs(kind, p, h, Wprev):
    """The ensemble input of layer h (Eq. 167) and its derivative w.r.t. W^{h-1}."""
    if kind == GateKind.units:
        return p[h] * Wprev, np.broadcast_to(p[h], Wprev.shape)
    if kind == GateKind.dropin:
        return (1 - p[h]) * Wprev + p[h], np.broadcast_to(1 - p[h], Wprev.shape)
    return Wprev, np.ones_like(Wprev)


def _forward(net, X, gate):
    engine.check_net(net)
    engine.require_chain(net, "training.ensemble_loss and ensemble_gradient")
    refuse_mixed(gate, "training.ensemble_loss and ensemble_gradient")
    refuse_continuous(gate, "training.ensemble_loss and ensemble_gradient", "they need Bernoulli gates (Eq. 167)")
    kind, p, *_ = engine.gate_spec(gate, net, allow_spikes=False)
    p = [np.asarray(v, dtype=np.float64) for v in p]
    X = np.asarray(X, dtype=np.float64)
    ins, Us, Ws, P = [], [], [], []
    prev = X
    for h in range(net.n_layers):
        w = np.asarray(net.weights[h], dtype=np.float64)
        a, _ = _gate_inputs(kind, p, h, prev)
        Pm = p[h].reshape(w.shape) if kind == GateKind.connections and p[h].size == w.size else (
            np.full(w.shape, float(p[h][0])) if kind == GateKind.connections else None)
        U = a @ (w * Pm).T if Pm is not None else a @ w.T
        if net.biases[h] is not None:
            U = U + np.asarray(net.biases[h], dtype=np.float64)
        Wh = transfer(net.transfers[h], U)[0]
        ins.append(a), Us.append(U), Ws.append(Wh), P.append(Pm)
        prev = Wh
    return kind, p, ins, Us, Ws, P


def ensemble_loss(net, X, y, gate=None, loss: str = "cross_entropy") -> float:
    """Mean loss of the ensemble network (Eq. 167) over the rows of X."""
    _, _, _, Us, Ws, _ = _forward(net, X, gate)
    E, _ = top_loss(net.transfers[-1], Us[-1], targets(y, Ws[-1].shape[1]), loss)
    return float(E) / len(Us[-1])


def ensemble_gradient(net, X, y, gate=None, loss: str = "cross_entropy"):
    """Gradient of the mean ensemble loss with respect to the network's weights and
    biases (Eq. 168-171): lists gW (n_out, n_in) and gb (n_out,), float64.

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.training.init_network([3, 4, 2], ["logistic", "softmax"], seed=0)
    >>> X = np.random.default_rng(0).normal(size=(4, 3))
    >>> y = np.array([0, 1, 1, 0])
    >>> gW, gb = de.training.ensemble_gradient(net, X, y, de.Dropout([1.0, 0.5]))
    >>> [g.shape for g in gW], [g.shape for g in gb]
    ([(4, 3), (2, 4)], [(4,), (2,)])
    """
    kind, p, ins, Us, Ws, P = _forward(net, X, gate)
    n = len(Us[-1])
    _, delta = top_loss(net.transfers[-1], Us[-1], targets(y, Ws[-1].shape[1]), loss)
    delta = delta / n
    L = net.n_layers
    gW, gb = [None] * L, [None] * L
    for h in range(L - 1, -1, -1):
        w = np.asarray(net.weights[h], dtype=np.float64)
        weff = w * P[h] if P[h] is not None else w
        gW[h] = delta.T @ ins[h] * (P[h] if P[h] is not None else 1.0)  # dU_i/dw_ij = p_ij a_j (Eq. 171)
        gb[h] = delta.sum(0)
        if h:
            _, da = _gate_inputs(kind, p, h, Ws[h - 1])
            dU = transfer(net.transfers[h - 1], Us[h - 1])[3]
            delta = (delta @ weff) * da * dU  # Eq. 169
    return gW, gb


def _second_derivative(f, U):
    """sigma''(U) of the logistic, tanh and linear transfers (others: NaN)."""
    O, _, _, d = transfer(f, U)
    if f.name == "logistic":
        return f.lam * d * (1 - 2 * O)
    if f.name == "tanh":
        return -2 * f.lam * O * d
    if f.name == "linear":
        return np.zeros_like(U)
    return np.full_like(U, np.nan)


def regularization_check(net, X, y, gate, *, loss: str = "cross_entropy", n_draws: int = 2000, seed=0,
                         n_samples: int = 2000, threads=None) -> list:
    """Monte Carlo E(dE_D/dw), the ensemble gradient dE_ENS/dw and the predicted decay
    term w A (Eq. 181 at the top, Eq. 187-188 below) for every layer.

    The Monte Carlo mean is taken over `n_draws` dropout draws of the minibatch X (each
    draw: the trainer's mean gradient over the rows of X under one subnetwork per row);
    Var(delta_j O_j) comes from `n_samples` sampler draws per input.

    Returns one dict per layer: "mc", "mc_se", "ens", "decay" (arrays like W), and the
    summaries "corr" (corr(mc, ens)), "rel_err" (|mc - ens| / |mc|), "decay_corr"
    (corr(mc - ens, decay)), "rel_err_with_decay" (|mc - ens - decay| / |mc|) and
    "noise" (the standard error's share, |mc_se| / |mc|).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.training.init_network([3, 4, 2], ["logistic", "softmax"], seed=0)
    >>> X = np.random.default_rng(0).normal(size=(4, 3))
    >>> y = np.array([0, 1, 1, 0])
    >>> layers = de.training.regularization_check(net, X, y, de.Dropout([1.0, 0.5]),
    ...                                           n_draws=50, n_samples=50, seed=0)
    >>> len(layers), layers[0]["mc"].shape, layers[1]["ens"].shape
    (2, (4, 3), (2, 4))
    """
    from .trainer import Trainer

    if not isinstance(gate, (Dropout, Dropin, NoGate)) and gate is not None:
        raise TypeError(f"gate must be Dropout, Dropin or None, got {type(gate).__name__}")
    n_draws = as_count(n_draws, "n_draws", minimum=2)
    tr = Trainer(net, gate, loss=loss, seed=seed, threads=threads)
    X = np.asarray(X, dtype=net.dtype)
    acc = [np.zeros(w.shape) for w in net.weights]
    acc2 = [np.zeros(w.shape) for w in net.weights]
    for s in range(n_draws):
        gW, _, _ = tr.gradient(X, y, step=s)
        for h, g in enumerate(gW):
            g = g.astype(np.float64)
            acc[h] += g
            acc2[h] += g * g
    mc = [a / n_draws for a in acc]
    se = [np.sqrt(np.maximum(a2 / n_draws - m * m, 0) / (n_draws - 1)) for a2, m in zip(acc2, mc)]
    ens, _ = ensemble_gradient(net, X, y, gate, loss)
    # Var(delta_j O_j) per input: delta O has mean p E(O) and second moment p E(O^2).
    kind, p, *_ = engine.gate_spec(gate, net, allow_spikes=False)
    st = sample(net, X, gate, n_samples, seed=seed, threads=threads, input_stats=True)
    _, _, ins, Us, Ws, P = _forward(net, X, gate)
    n = X.shape[0]
    _, delta = top_loss(net.transfers[-1], Us[-1], targets(y, Ws[-1].shape[1]), loss)
    out = []
    L = net.n_layers
    up = np.ones_like(Us[-1])  # the error reaching layer h's units from above, before sigma'
    for h in range(L - 1, -1, -1):
        w = np.asarray(net.weights[h], dtype=np.float64)
        v = np.asarray(st.var_in[h])  # (n, n_in): Var of the gated input delta_j O_j
        f = net.transfers[h]
        if h == L - 1:
            d1 = transfer(f, Us[h])[3]
            # dE/dS = lam (O - t) for the matching losses, (O - t) sigma'(S) for squared error:
            # expanding O to first order in w_ij delta_j O_j gives the coefficient.
            coef = f.lam * d1 if loss != "squared" else d1 * d1
        else:
            coef = _second_derivative(f, Us[h])
        decay = w * ((up * coef).T @ v) / n
        out.append({"layer": h, "mc": mc[h], "mc_se": se[h], "ens": ens[h], "decay": decay})
        if h:
            weff = w * P[h] if P[h] is not None else w
            _, da = _gate_inputs(kind, [np.asarray(q, dtype=np.float64) for q in p], h, Ws[h - 1])
            up = (delta @ weff) * da  # error reaching the units below, before sigma' (Eq. 183)
            delta = up * transfer(net.transfers[h - 1], Us[h - 1])[3]
    out.reverse()
    for r in out:
        m, e, d = r["mc"].ravel(), r["ens"].ravel(), r["decay"].ravel()
        nm = np.linalg.norm(m)
        r["corr"] = float(np.corrcoef(m, e)[0, 1]) if m.std() > 0 and e.std() > 0 else float("nan")
        r["rel_err"] = float(np.linalg.norm(m - e) / nm) if nm > 0 else float("nan")
        diff = m - e
        r["decay_corr"] = float(np.corrcoef(diff, d)[0, 1]) if diff.std() > 0 and np.nanstd(d) > 0 else float("nan")
        r["rel_err_with_decay"] = float(np.linalg.norm(m - e - d) / nm) if nm > 0 else float("nan")
        r["noise"] = float(np.linalg.norm(r["mc_se"]) / nm) if nm > 0 else float("nan")
    return out
