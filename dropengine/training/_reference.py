"""Plain NumPy twin of one training step of the C++ trainer (train.h), for tests.

It replays exactly the engine's Philox draws (streams 9-13 of rng_streams.h) and
computes in float64: gated forward pass (Eq. 166), loss derivative at the top (Eq. 174),
backpropagation (Eq. 173) or backpercolation (Section 10.2), gradients (Eq. 172, 175),
the SGD update with momentum and max-norm, and the example order of an epoch.
"""
from __future__ import annotations

import numpy as np

from .. import _engine as engine
from .._engine import GateKind
from .._reference import draw_words, keep_threshold, transfer

__all__ = ["gradient_reference", "top_loss", "targets", "update_reference", "epoch_order_reference", "STREAM"]

STREAM = {"units": 9, "connections": 10, "dropin": 11, "backpercolation": 12, "shuffle": 13}


def gradient_reference(net, X, y, gate, key, step: int, loss: str = "cross_entropy", backward=None):
    """(gW list, gb list, summed loss) of the minibatch X (rows in order) drawn at `step`.

    backward: per hidden layer -1 (backprop), 0 (backpercolation) or a fixed p; None: backprop.
    """
    kind, p, *_ = engine.gate_spec(gate, net, allow_spikes=False)
    L = net.n_layers
    backward = [-1.0] * (L - 1) if backward is None else list(backward)
    X = np.asarray(X, dtype=np.float64)
    B = X.shape[0]
    rows = np.arange(B)
    a_prev = X
    A, P, K, S_, O_, d_ = [], [], [], [], [], []
    for h in range(L):
        W = np.asarray(net.weights[h], dtype=np.float64)
        n_out, n_in = W.shape
        a, ps, keep_c = a_prev.copy(), np.ones_like(a_prev, dtype=bool), None
        if kind in (GateKind.units, GateKind.dropin):
            thr = keep_threshold(p[h])
            stream = STREAM["units"] if kind == GateKind.units else STREAM["dropin"]
            hit = draw_words(key, stream, h, step, rows, np.arange(n_in)) < thr
            if kind == GateKind.units:
                a, ps = np.where(hit, a, 0.0), hit
            else:
                a, ps = np.where(hit, 1.0, a), ~hit
        if kind == GateKind.connections:
            thr = keep_threshold(p[h]).reshape(-1)
            words = draw_words(key, STREAM["connections"], h, step, rows, np.arange(n_out * n_in))
            keep_c = (words < thr).reshape(B, n_out, n_in)
            S = np.einsum("bij,ij,bj->bi", keep_c, W, a)
        else:
            S = a @ W.T
        if net.biases[h] is not None:
            S = S + np.asarray(net.biases[h], dtype=np.float64)
        f = net.transfers[h]
        O, _, _, d = transfer(f, S)
        A.append(a), P.append(ps), K.append(keep_c), S_.append(S), O_.append(O), d_.append(d)
        a_prev = O
    # Top: dE/dS (Eq. 174) and the loss.
    E, D = top_loss(net.transfers[-1], S_[-1], targets(y, O_[-1].shape[1]), loss)
    D = D / B
    gW, gb = [None] * L, [None] * L
    for h in range(L - 1, -1, -1):
        W = np.asarray(net.weights[h], dtype=np.float64)
        if K[h] is not None:
            gW[h] = np.einsum("bi,bij,bj->ij", D, K[h], A[h])
            G = np.einsum("bi,bij,ij->bj", D, K[h], W)
        else:
            gW[h] = D.T @ A[h]
            G = D @ W
        gb[h] = D.sum(0)
        if h == 0:
            break
        mode = backward[h - 1]
        if mode == -1.0:
            D = np.where(P[h], G * d_[h - 1], 0.0)
        else:
            n = G.shape[1]
            words = draw_words(key, STREAM["backpercolation"], h - 1, step, rows, np.arange(n)).astype(np.float64)
            prob = d_[h - 1] if mode == 0.0 else mode
            D = np.where(P[h] & (words < prob * 2.0**32), G, 0.0)
    return gW, gb, float(E)


def targets(y, n_out: int) -> np.ndarray:
    """One-hot rows for integer labels y, or the 2-D targets themselves, float64."""
    y = np.asarray(y)
    return np.eye(n_out)[y] if y.ndim == 1 else np.asarray(y, dtype=np.float64)


def top_loss(f, S, t, loss: str):
    """Summed loss of the outputs O = f(S) against targets t, and dE/dS (Eq. 170, 174):
    lam (O - t) for cross entropy (softmax) and relative entropy (logistic, Eq. 156);
    the transfer's Jacobian times O - t for squared error (Eq. 55)."""
    O, logO, logOc, dO = transfer(f, S)
    if loss == "squared":
        g = O - t
        if f.name == "softmax":
            return 0.5 * (g**2).sum(), f.lam * O * (g - (g * O).sum(1, keepdims=True))
        return 0.5 * (g**2).sum(), g * dO
    with np.errstate(invalid="ignore"):
        E = -np.where(t != 0, t * logO, 0).sum()
        if loss == "relative_entropy":
            E -= np.where(t != 1, (1 - t) * logOc, 0).sum()
    return E, f.lam * (O - t)


def update_reference(W, V, g, eta, momentum, weight_decay=0.0, max_norm=0.0):
    """One SGD step with momentum (and max-norm on the rows of W): new (W, V)."""
    V = momentum * V - eta * (g + weight_decay * W)
    W = W + V
    if max_norm and W.ndim == 2:
        n = np.sqrt((W**2).sum(1, keepdims=True))
        W = W * np.where(n > max_norm, max_norm / np.where(n > 0, n, 1), 1.0)
    return W, V


def epoch_order_reference(n: int, key, epoch: int) -> np.ndarray:
    """The order of the examples in `epoch`: Fisher-Yates, position i swapping with
    floor(u (i + 1) / 2^64), u the first two words of Shuffle block i."""
    perm = np.arange(n)
    if n > 1:
        w = draw_words(key, STREAM["shuffle"], 0, epoch, [0], 4 * np.arange(n)).astype(object)[0]
        w2 = draw_words(key, STREAM["shuffle"], 0, epoch, [0], 4 * np.arange(n) + 1).astype(object)[0]
        for i in range(n - 1, 0, -1):
            u = (int(w[i]) << 32) | int(w2[i])
            j = (u * (i + 1)) >> 64
            perm[i], perm[j] = perm[j], perm[i]
    return perm
