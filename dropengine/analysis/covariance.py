"""Variances and covariances estimated from the ensemble network's W (Section 9.6)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _engine as engine
from .._engine import GateKind
from .._reference import transfer
from ..gates import refuse_continuous, refuse_mixed

__all__ = ["variance_bounds", "eprod_independent", "connected_pair", "ConnectedPair"]


def variance_bounds(W):
    """Rough upper and lower estimates of Var(O) from W: (W(1 - W), 0) (Eq. 117, 118)."""
    W = np.asarray(W, np.float64)
    return W * (1 - W), np.zeros_like(W)


def eprod_independent(W_a, W_b):
    """E(O_a O_b) ~ W_a W_b for two different units (Eq. 119)."""
    return np.asarray(W_a, np.float64) * np.asarray(W_b, np.float64)


@dataclass(frozen=True)
class ConnectedPair:
    """For unit i of layer h fed by unit j of layer h - 1 (arrays over inputs):
    ``W_i``, ``W_j``; ``W_ij`` the ensemble activation of i with j removed, by forward
    propagation (Eq. 121); ``W_ij_taylor`` = W_i - sigma'(U_i) w_ij p_j W_j (Eq. 122);
    ``eprod`` = W_ij W_j (Eq. 124) and ``eprod_independent`` = W_i W_j (Eq. 119)."""

    W_i: np.ndarray
    W_j: np.ndarray
    W_ij: np.ndarray
    W_ij_taylor: np.ndarray
    eprod: np.ndarray
    eprod_independent: np.ndarray


def connected_pair(net, inputs, gate, layer: int, i: int, j: int) -> ConnectedPair:
    """Estimates of E(O_i O_j) for a connected pair: unit i of `layer` (>= 1) and unit j
    of `layer - 1`, which feeds it through w_ij (Eq. 120-124)."""
    engine.check_net(net)
    refuse_mixed(gate, "analysis.connected_pair")
    refuse_continuous(gate, "analysis.connected_pair", "its estimates are written for Bernoulli gates (Eq. 120-124)")
    engine.require_chain(net, "analysis.connected_pair")
    X = engine.as_inputs(net, inputs)
    if not (isinstance(layer, (int, np.integer)) and 1 <= layer < net.n_layers):
        raise ValueError(f"layer must be an int in [1, {net.n_layers - 1}] (a layer fed by another), got {layer!r}")
    n_out, n_in = net.weights[layer].shape
    if not (isinstance(i, (int, np.integer)) and 0 <= i < n_out):
        raise ValueError(f"i must be a unit of layer {layer}: an int in [0, {n_out - 1}]")
    if not (isinstance(j, (int, np.integer)) and 0 <= j < n_in):
        raise ValueError(f"j must be a unit of layer {layer - 1}: an int in [0, {n_in - 1}]")
    f = net.transfers[layer]
    if f.name == "softmax":
        raise ValueError(f"layer {layer}: the Taylor form of Eq. 122 needs an elementwise transfer, not softmax")
    spec = engine.gate_spec(gate, net)
    kind, p = spec.kind, spec.p
    U, W = engine.ensemble(net, X, spec, threads=0)
    Wj = np.asarray(W[layer - 1][:, j], np.float64)
    w = float(net.weights[layer][i, j])
    # E of the gated input j (the factor the ensemble network multiplies w_ij by)
    if kind == GateKind.units:
        gated = np.broadcast_to(p[layer], (n_in,))[j] * Wj
    elif kind == GateKind.connections:
        gated = np.broadcast_to(p[layer], (n_out * n_in,))[i * n_in + j] * Wj
    elif kind == GateKind.dropin:
        r = np.broadcast_to(p[layer], (n_in,))[j]
        gated = (1 - r) * Wj + r
    else:
        gated = Wj
    Ui = np.asarray(U[layer][:, i], np.float64)
    Wi = np.asarray(W[layer][:, i], np.float64)
    W_ij = transfer(f, (Ui - w * gated)[:, None])[0][:, 0]
    dsigma = transfer(f, Ui[:, None])[3][:, 0]
    taylor = Wi - dsigma * w * gated
    return ConnectedPair(Wi, Wj, W_ij, taylor, W_ij * Wj, Wi * Wj)
