"""Exact moments of linear dropout networks (Eq. 15-20, 24-26): no enumeration."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import _engine as engine
from .._engine import GateKind

__all__ = ["linear_moments", "LinearMoments"]


@dataclass(frozen=True)
class LinearMoments:
    """Exact moments of every unit of a linear network over all its subnetworks.

    ``E``    list over layers of arrays (n_inputs, n_out_h): E(S) = E(O)
    ``var``  list over layers of arrays (n_inputs, n_out_h): Var(S)
    ``cov``  array (n_inputs, N, N): Cov between all N non-input units of all layers,
             concatenated in layer order (the diagonal is ``var``)
    """

    E: list
    var: list
    cov: np.ndarray
    layer_sizes: tuple


def linear_moments(net, inputs, gate=None) -> LinearMoments:
    """E, Var and the full covariance matrix of a linear network, in polynomial time.

    The network may be a chain or a DAG: layer h sums its source layers l < h,
    S^h = sum_l W_hl y^l + b^h (Eq. 21-23). Each source layer's output a^l (the network
    input for l = 0, else S^l) is gated once, y_j = delta_j a_j + (1 - delta_j) c_j with
    P(delta_j = 1) = p_j and c = 0 for dropout, c = 1 for dropin (p = 1 - rate): one coin
    per unit, shared by every layer that receives from l (Eq. 22). The bias is one more
    input that is always 1. Since delta^l is independent of everything computed before
    layer l's gate (Section 3), for every earlier variable z (units S and gated outputs y
    of lower layers):

        E(y) = p E(a) + q c
        Cov(y, z) = p Cov(a, z)
        Cov(y) = (p p^T) * Cov(a) + diag(p q E[(a - c)^2])

    and with y the concatenation of the sources' y^l and W their weights side by side
    (``Network.input_weights``), S = W y gives E(S) = W E(y) (Eq. 15, 24), Cov(S, z) =
    W Cov(y, z) and Cov(S) = W Cov(y) W^T (Eq. 16, 17, 25): the joint moments of the
    gated outputs carry the covariances of skip paths, where two layers see the same
    coins. Under connection dropout (one coin per connection, Eq. 23) the sources enter
    ungated; with P the matrix of keep probabilities and (W P) the elementwise product,

        E(S) = (W P) E(a)                           (Eq. 18, 26)
        Cov(S, z) = (W P) Cov(a, z)
        Cov(S) = (W P) Cov(a) (W P)^T + diag(sum_j W_ij^2 P_ij (1 - P_ij) E[a_j^2])

    so Cov(S_i, S_l) = 0 within the first layer (Eq. 19, 20) because Cov(a) = 0 there.
    The recursion runs over covariances, not raw second moments, so it loses no
    precision when variances are small against means.

    Parameters
    ----------
    net : Network whose every layer is Linear (a chain or a DAG)
    inputs : array (n_inputs, n_in)
    gate : Dropout, Dropin, NoGate or None

    Returns
    -------
    LinearMoments. Values too large for float64 overflow to Inf/NaN as in IEEE
    arithmetic (like the C++ engine), without warnings.
    """
    engine.check_net(net)
    bad = [h for h, f in enumerate(net.transfers) if f.name != "linear"]
    if bad:
        raise ValueError(f"net: linear_moments needs linear units in every layer; layer {bad[0]} is "
                         f"{net.transfers[bad[0]]!r} (use dropengine.exact.enumerate or sample)")
    X = np.asarray(engine.as_inputs(net, inputs), dtype=np.float64)
    kind, p, keep_bias, *_ = engine.gate_spec(gate, net, allow_spikes=False)
    last_use = _last_use(net)
    _check_memory(X.shape[0], sum(net.sizes[1:]), _most_live(net, last_use))
    with np.errstate(over="ignore", invalid="ignore"):
        return _recursion(net, X, kind, p, keep_bias, last_use)


def _last_use(net) -> dict:
    """{l: the last layer that receives from l}: y^l is kept until then."""
    last = {}
    for h in range(1, net.n_layers + 1):
        for l in net.sources(h):
            last[l] = h
    return last


def _most_live(net, last_use) -> int:
    """The most units whose gated outputs are held at once (plus the widest layer)."""
    live = [sum(net.sizes[l] for l, h_last in last_use.items() if l < h <= h_last) for h in range(1, net.n_layers + 1)]
    return max(live) + max(net.sizes)


def _check_memory(n_inputs: int, n_units: int, widest: int) -> None:
    """The result holds n_inputs x N x N covariances (N units), the recursion about as
    much again while it runs: refuse before allocating what the machine cannot hold."""
    need = 8.0 * n_inputs * (2.0 * n_units * n_units + 2.0 * widest * n_units + 3.0 * (widest + 1) ** 2)
    have = _physical_memory()
    if have and need > have:
        raise MemoryError(f"inputs: linear_moments of {n_inputs} inputs needs {need / 2**30:.3g} GiB for the "
                          f"{n_units} x {n_units} covariance per input, the machine has {have / 2**30:.3g} GiB; "
                          f"pass fewer inputs at a time")


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0


def _gate_units(kind, p_l, n: int):
    """(p, c) of the coins on a source layer's n units: y = delta a + (1 - delta) c."""
    if kind == GateKind.units:
        return np.broadcast_to(p_l, (n,)), 0.0
    if kind == GateKind.dropin:
        return 1.0 - np.broadcast_to(p_l, (n,)), 1.0
    return np.ones(n), 0.0  # no gate; connection coins are applied at the receiving layer


def _recursion(net, X, kind, p, keep_bias, last_use) -> LinearMoments:
    """The joint moments of two sets of variables, grown layer by layer: the units Z
    (S^1, ..., S^h so far: the result) and the held gated outputs V (y^l of the source
    layers some later layer still receives from, in layer order)."""
    B, L = X.shape[0], net.n_layers
    conn = kind == GateKind.connections
    bias_gated = bool(keep_bias) and kind in (GateKind.units, GateKind.connections)
    # V starts as the gated input y^0; nothing is random before its coins, so Cov(y^0) is
    # the coins' own variance p q (x - c)^2 and Cov(y^0, Z) is empty.
    keep0, c0 = _gate_units(kind, p[0], X.shape[1])
    mu_V = keep0 * X + (1 - keep0) * c0
    C_VV = (keep0 * (1 - keep0) * (X - c0) ** 2)[:, :, None] * np.eye(X.shape[1])
    C_VZ = np.zeros((B, X.shape[1], 0))
    C_ZZ = np.zeros((B, 0, 0))
    held = [(0, X.shape[1])]  # (layer l, n_l) of V's blocks, in order
    Es, vars_ = [], []
    for h in range(1, L + 1):
        W, blocks = net.input_weights(h)
        W = np.asarray(W, np.float64)
        b = net.biases[h - 1]
        b = np.zeros(W.shape[0]) if b is None else np.asarray(b, np.float64)
        pb = keep_bias[h - 1] if bias_gated else 1.0
        start = dict(zip((l for l, _ in held), np.cumsum([0] + [n for _, n in held])))
        idx = np.concatenate([np.arange(start[l], start[l] + n) for l, _, n in blocks])
        whole = idx.size == mu_V.shape[1]  # every held block feeds h (a chain): no gather
        mu_v = mu_V if whole else mu_V[:, idx]
        C_vV = C_VV if whole else C_VV[:, idx, :]
        C_vv = C_vV if whole else C_vV[:, :, idx]
        C_vZ = C_VZ if whole else C_VZ[:, idx, :]
        if conn:  # Eq. 23, 26: one coin per connection (and per unit's bias)
            P = np.broadcast_to(p[h - 1], (W.size,)).reshape(W.shape)
            WP = W * P
            second = np.einsum("bjj->bj", C_vv) + mu_v**2  # E[a_j^2]
            extra = second @ (W**2 * P * (1 - P)).T + b**2 * pb * (1 - pb)
            C_SS = extra[:, :, None] * np.eye(W.shape[0])
        else:  # the bias's one coin per layer and sample is shared by the layer's units
            WP = W
            C_SS = np.broadcast_to(pb * (1 - pb) * np.outer(b, b), (B,) + (W.shape[0],) * 2)
        mu_S = mu_v @ WP.T + pb * b
        C_SZ = WP @ C_vZ
        C_SV = WP @ C_vV
        C_SS = C_SS + WP @ C_vv @ WP.T
        C_SS = 0.5 * (C_SS + np.swapaxes(C_SS, 1, 2))  # symmetric to the last bit
        N, n = C_ZZ.shape[1], W.shape[0]
        grown = np.empty((B, N + n, N + n))
        grown[:, :N, :N] = C_ZZ
        grown[:, N:, :N] = C_SZ
        grown[:, :N, N:] = np.swapaxes(C_SZ, 1, 2)
        grown[:, N:, N:] = C_SS
        C_ZZ = grown
        C_VZ = np.concatenate([C_VZ, np.swapaxes(C_SV, 1, 2)], axis=2)
        Es.append(mu_S)
        vars_.append(np.einsum("bii->bi", C_SS).copy())
        if last_use.get(h, 0) > h:  # gate S^h once for every layer above that receives it
            keep, c = _gate_units(kind, p[h], n)
            C_yZ = keep[:, None] * grown[:, N:, :]
            C_yV = keep[:, None] * C_SV
            coin = keep * (1 - keep) * (vars_[-1] + (mu_S - c) ** 2)  # p q E[(a - c)^2]
            C_yy = keep[:, None] * C_SS * keep + coin[:, :, None] * np.eye(n)
            mu_V = np.concatenate([mu_V, keep * mu_S + (1 - keep) * c], axis=1)
            C_VV = np.concatenate([np.concatenate([C_VV, np.swapaxes(C_yV, 1, 2)], axis=2),
                                   np.concatenate([C_yV, C_yy], axis=2)], axis=1)
            C_VZ = np.concatenate([C_VZ, C_yZ], axis=1)
            held.append((h, n))
        # Drop what no layer above receives: a chain holds one layer's y at a time.
        keep_rows = [(l, n_l) for l, n_l in held if last_use[l] > h]
        if len(keep_rows) < len(held):
            start = dict(zip((l for l, _ in held), np.cumsum([0] + [n_l for _, n_l in held])))
            rows = np.concatenate([np.arange(start[l], start[l] + n_l) for l, n_l in keep_rows] or [np.zeros(0, int)])
            mu_V, C_VV, C_VZ = mu_V[:, rows], C_VV[:, rows][:, :, rows], C_VZ[:, rows, :]
            held = keep_rows
    return LinearMoments(Es, vars_, C_ZZ, tuple(net.sizes[1:]))
