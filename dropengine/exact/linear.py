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

    Each layer's input a (the network input, then the previous layer's S) is gated,
    y_j = delta_j a_j + (1 - delta_j) c_j with P(delta_j = 1) = p_j and c = 0 for
    dropout, c = 1 for dropin (p = 1 - rate); the bias is one more input that is
    always 1. With the gates independent of everything below them (Section 3):

        E(y) = p E(a) + q c
        Cov(y, z) = p Cov(a, z)                     for every earlier unit z
        Cov(y) = (p p^T) * Cov(a) + diag(p q E[(a - c)^2])

    and S = W y gives E(S) = W E(y) (Eq. 15, 24), Cov(S, z) = W Cov(y, z) and
    Cov(S) = W Cov(y) W^T (Eq. 16, 17, 25). Under connection dropout, with P the
    matrix of keep probabilities and (W P) the elementwise product,

        E(S) = (W P) E(a)                           (Eq. 18, 26)
        Cov(S, z) = (W P) Cov(a, z)
        Cov(S) = (W P) Cov(a) (W P)^T + diag(sum_j W_ij^2 P_ij (1 - P_ij) E[a_j^2])

    so Cov(S_i, S_l) = 0 within the first layer (Eq. 19, 20) because Cov(a) = 0 there.
    The recursion runs over covariances, not raw second moments, so it loses no
    precision when variances are small against means.

    Parameters
    ----------
    net : Network whose every layer is Linear
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
    kind, p, keep_bias = engine.gate_spec(gate, net, allow_spikes=False)
    _check_memory(X.shape[0], sum(net.sizes[1:]), max(net.sizes))
    with np.errstate(over="ignore", invalid="ignore"):
        return _recursion(net, X, kind, p, keep_bias)


def _check_memory(n_inputs: int, n_units: int, widest: int) -> None:
    """The result holds n_inputs x N x N covariances (N units), the recursion about as
    much again while it runs: refuse before allocating what the machine cannot hold."""
    need = 8.0 * n_inputs * (2.0 * n_units * n_units + 3.0 * (widest + 1) ** 2)
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


def _recursion(net, X, kind, p, keep_bias) -> LinearMoments:
    B = X.shape[0]
    cov_z = np.zeros((B, 0, 0))
    # Moments of the current layer's input a: the fixed network input first.
    mu_a, var_a, cov_a, cov_az = X, np.zeros_like(X), None, np.zeros((B, X.shape[1], 0))
    Es, vars_ = [], []
    for h, (W, b) in enumerate(zip(net.weights, net.biases)):
        W = np.asarray(W, np.float64)
        n_out, n_in = W.shape
        pb = keep_bias[h] if keep_bias and kind in (GateKind.units, GateKind.connections) else 1.0
        # The bias as input n_in: always 1, gated like a unit (or a connection) with pb.
        Wt = np.hstack([W, (np.zeros(n_out) if b is None else np.asarray(b, np.float64))[:, None]])
        mu_t = np.concatenate([mu_a, np.ones((B, 1))], axis=1)
        second = np.concatenate([var_a + mu_a**2, np.ones((B, 1))], axis=1)  # E[a_j^2]
        if kind == GateKind.connections:
            P = np.concatenate([np.broadcast_to(p[h], (n_out * n_in,)).reshape(n_out, n_in),
                                np.full((n_out, 1), pb)], axis=1)
            WP = Wt * P
            mu_S = mu_t @ WP.T
            extra = second @ (Wt**2 * P * (1 - P)).T  # (B, n_out): the diagonal term
            cov_S = extra[:, :, None] * np.eye(n_out)
        else:
            if kind == GateKind.units:
                keep, c = np.broadcast_to(p[h], (n_in,)), 0.0
            elif kind == GateKind.dropin:
                keep, c = 1.0 - np.broadcast_to(p[h], (n_in,)), 1.0
            else:
                keep, c = np.ones(n_in), 0.0
            pt = np.concatenate([keep, [pb]])
            ct = np.concatenate([np.full(n_in, c), [0.0]])
            mu_S = (pt * mu_t + (1 - pt) * ct) @ Wt.T
            var_extra = pt * (1 - pt) * (second - 2 * ct * mu_t + ct**2)  # p q E[(a - c)^2]
            WP = Wt * pt
            cov_S = (Wt[None] * var_extra[:, None, :]) @ Wt.T
        # Only the layer's inputs a (not the bias column) carry covariance.
        WPa = WP[:, :n_in]
        cov_Sz = WPa @ cov_az
        if cov_a is not None:  # None for the fixed network input
            cov_S = cov_S + WPa @ cov_a @ WPa.T
        # Grow the joint covariance of all units seen so far by this layer's units.
        N = cov_z.shape[1]
        grown = np.empty((B, N + n_out, N + n_out))
        grown[:, :N, :N] = cov_z
        grown[:, N:, :N] = cov_Sz
        grown[:, :N, N:] = np.swapaxes(cov_Sz, 1, 2)
        grown[:, N:, N:] = 0.5 * (cov_S + np.swapaxes(cov_S, 1, 2))  # symmetric to the last bit
        cov_z = grown
        Es.append(mu_S)
        vars_.append(np.einsum("bii->bi", grown[:, N:, N:]).copy())
        mu_a, var_a, cov_a, cov_az = mu_S, vars_[-1], grown[:, N:, N:], grown[:, N:, :]
    return LinearMoments(Es, vars_, cov_z, tuple(net.sizes[1:]))
