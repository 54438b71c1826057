"""Variances and covariances estimated from the ensemble network's W (Section 9.6).

Eq. 117-119 (``variance_bounds``, ``eprod_independent``); for a connected pair, Eq. 120-124
(``connected_pair``) and Eq. 123 with its second term, the term in sigma' that Eq. 124
drops (``eq123_second_term``, ``eprod_eq123``), with sigma' taken at the ensemble sum of
unit i without j (Eq. 220) or by the paper's refinement sigma' ~ lambda sigma.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _engine as engine
from .._engine import GateKind
from .._reference import transfer
from ..gates import refuse_continuous, refuse_mixed

__all__ = ["variance_bounds", "eprod_independent", "connected_pair", "ConnectedPair", "eq123_second_term",
           "eprod_eq123", "E_OjOj_ESTIMATES", "DSIGMA_ESTIMATES"]


def variance_bounds(W):
    """Rough upper and lower estimates of Var(O) from W: (W(1 - W), 0) (Eq. 117, 118).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> upper, lower = A.variance_bounds(np.array([0.2, 0.5]))
    >>> upper, lower
    (array([0.16, 0.25]), array([0., 0.]))
    """
    W = np.asarray(W, np.float64)
    return W * (1 - W), np.zeros_like(W)


def eprod_independent(W_a, W_b):
    """E(O_a O_b) ~ W_a W_b for two different units (Eq. 119).

    Examples
    --------
    >>> import numpy as np
    >>> from dropengine import analysis as A
    >>> A.eprod_independent(np.array([0.5, 0.5]), np.array([0.2, 0.8]))
    array([0.1, 0.4])
    """
    return np.asarray(W_a, np.float64) * np.asarray(W_b, np.float64)


@dataclass(frozen=True)
class ConnectedPair:
    """For unit i of layer h fed by unit j of layer h - 1 (arrays over inputs):
    ``W_i``, ``W_j``; ``W_ij`` the ensemble activation of i with j removed, by forward
    propagation (Eq. 121); ``W_ij_taylor`` = W_i - sigma'(U_i) w_ij p_j W_j (Eq. 122);
    ``eprod`` = W_ij W_j (Eq. 124) and ``eprod_independent`` = W_i W_j (Eq. 119).

    What Eq. 123's second term needs (``eq123_second_term``): ``w_ij``, the weight;
    ``dsigma_ij`` = sigma'(U_ij), U_ij = U_i - w_ij E(gated O_j) the ensemble sum of i with
    j removed (sigma' where Eq. 120 expands); ``lambda_sigma_ij`` = lambda W_ij where
    W_ij <= 1/2 and lambda (1 - W_ij) above (the paper's refinement; None unless the
    transfer is logistic); ``gate_square``, ``gate_mean``: the gated input g_j that
    multiplies w_ij has E(g_j O_j) = gate_square E(O_j^2) + gate_mean E(O_j) (p_j and 0 for
    dropout, 1 - r and r for dropin at rate r, 1 and 0 with no gate).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> pair = A.connected_pair(net, x, de.Dropout(0.5), 1, 0, 1)
    >>> np.round(pair.eprod, 4), np.round(pair.eprod_independent, 4)
    (array([0.2117]), array([0.1767]))
    """

    W_i: np.ndarray
    W_j: np.ndarray
    W_ij: np.ndarray
    W_ij_taylor: np.ndarray
    eprod: np.ndarray
    eprod_independent: np.ndarray
    w_ij: float = 0.0
    dsigma_ij: np.ndarray | None = None
    lambda_sigma_ij: np.ndarray | None = None
    gate_square: float = 1.0
    gate_mean: float = 0.0


def connected_pair(net, inputs, gate, layer: int, i: int, j: int) -> ConnectedPair:
    """Estimates of E(O_i O_j) for a connected pair: unit i of `layer` (>= 1) and unit j
    of `layer - 1`, which feeds it through w_ij (Eq. 120-124).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> pair = A.connected_pair(net, x, de.Dropout(0.5), 1, 0, 1)
    >>> np.round(pair.W_i, 4), np.round(pair.W_ij, 4), pair.gate_square
    (array([0.2957]), array([0.3542]), 0.5)
    """
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
    # the gated input g_j = delta_j O_j (dropout), O_j or 1 (dropin), O_j (no gate):
    # E(g_j) is the factor the ensemble network multiplies w_ij by, and
    # E(g_j O_j) = a E(O_j^2) + b E(O_j) enters Eq. 123's second term
    a, b = _gate_moments(kind, p[layer], n_out, n_in, i, j)
    gated = a * Wj + b
    Ui = np.asarray(U[layer][:, i], np.float64)
    Wi = np.asarray(W[layer][:, i], np.float64)
    U_ij = Ui - w * gated
    W_ij = transfer(f, U_ij[:, None])[0][:, 0]
    dsigma = transfer(f, Ui[:, None])[3][:, 0]
    dsigma_ij = transfer(f, U_ij[:, None])[3][:, 0]
    taylor = Wi - dsigma * w * gated
    lam_sigma = _lambda_sigma(f, W_ij) if f.name == "logistic" else None
    return ConnectedPair(Wi, Wj, W_ij, taylor, W_ij * Wj, Wi * Wj, w, dsigma_ij, lam_sigma, a, b)


def _gate_moments(kind, p_layer, n_out: int, n_in: int, i: int, j: int):
    """(a, b) with E(g_j) = a E(O_j) + b and E(g_j O_j) = a E(O_j^2) + b E(O_j) for the
    gated input g_j of connection j -> i: the gate is drawn independently of O_j."""
    if kind == GateKind.units:
        return float(np.broadcast_to(p_layer, (n_in,))[j]), 0.0
    if kind == GateKind.connections:
        return float(np.broadcast_to(p_layer, (n_out * n_in,))[i * n_in + j]), 0.0
    if kind == GateKind.dropin:  # O_j with probability 1 - r, the constant 1 with probability r
        r = float(np.broadcast_to(p_layer, (n_in,))[j])
        return 1.0 - r, r
    return 1.0, 0.0


def _lambda_sigma(f, W_ij):
    """The paper's refinement of sigma' = lambda sigma (1 - sigma) (Section 9.6, after Eq.
    123): lambda sigma where sigma is near 0, lambda (1 - sigma) where it is near 1, with
    E(sigma) ~ W_ij. W_ij = 1/2 is the point where the two are equal."""
    return f.lam * np.minimum(W_ij, 1 - W_ij)


#: Estimates of E(O_j O_j) = E(O_j^2) that Section 9.6 offers: Eq. 117 (W_j) and Eq. 118 (W_j^2).
E_OjOj_ESTIMATES = ("eq117", "eq118")
#: Estimates of E(sigma'(A)), A = the sum of unit i without j: sigma'(U_ij) (Eq. 220 applied
#: to A), or the paper's refinement lambda W_ij / lambda (1 - W_ij).
DSIGMA_ESTIMATES = ("sigma_prime", "lambda_sigma")


def _per_input(x, n: int, name: str) -> np.ndarray:
    """An array of one value per input (or a scalar), finite, as float64."""
    try:
        a = np.asarray(x, np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real array of one value per input, got {type(x).__name__}") from None
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n):
        raise ValueError(f"{name} must be a scalar or have shape ({n},) (one value per input), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return np.broadcast_to(a, (n,))


def eq123_second_term(pair: ConnectedPair, E_OjOj="eq118", dsigma="sigma_prime") -> np.ndarray:
    """The second term of Eq. 123, the term in sigma' that Eq. 124 drops.

    Eq. 120 expands O_i around A = sum_{k != j} w_ik delta_k O_k, the sum of unit i
    without unit j:  O_i ~ sigma(A) + sigma'(A) w_ij g_j  (g_j = delta_j O_j under
    dropout). Multiplying by O_j and taking expectations, with A independent of O_j,

        E(O_i O_j) ~ E(sigma(A)) E(O_j) + E(sigma'(A)) w_ij E(g_j O_j)        (Eq. 123)
                   ~ W_ij W_j          + E(sigma'(A)) w_ij p_j E(O_j O_j)

    (E(sigma(A)) ~ W_ij by Eq. 121; under dropout E(g_j O_j) = p_j E(O_j^2) since the
    coin is drawn independently of O_j). The paper prints E(sigma(.)) in the second term;
    the expansion (Eq. 120) and the text after it ("it neglects a term in sigma'") give
    E(sigma'(A)), which is what is computed here. Eq. 124 keeps the first term only.

    Parameters
    ----------
    pair : ConnectedPair
        From ``connected_pair`` (holds W_j, W_ij, w_ij, the gate's moments, sigma').
    E_OjOj : "eq118", "eq117" or array (n_inputs,)
        The estimate of E(O_j O_j): "eq118" W_j^2 (Var(O_j) ~ 0, the better one at the
        beginning and end of learning per Section 9.6), "eq117" W_j (Var(O_j) ~
        W_j(1 - W_j)), or given values (e.g. measured, or Appendix C's estimate).
    dsigma : "sigma_prime", "lambda_sigma" or array (n_inputs,)
        The estimate of E(sigma'(A)): "sigma_prime" sigma'(U_ij) = sigma'(E(A)) (the
        approximation E(sigma'(S)) ~ sigma'(E(S)) of Eq. 220), "lambda_sigma" the paper's
        refinement sigma' ~ lambda sigma near 0, lambda (1 - sigma) near 1, with E(sigma)
        replaced by W_ij or 1 - W_ij (logistic units only), or given values (e.g. the exact
        E(sigma'(S_i)) of the network with w_ij = 0).

    Returns
    -------
    array (n_inputs,): E(sigma'(A)) w_ij (a E(O_j O_j) + b W_j), with (a, b) the gate's
    moments (``pair.gate_square``, ``pair.gate_mean``; (p_j, 0) under dropout).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> pair = A.connected_pair(net, x, de.Dropout(0.5), 1, 0, 1)
    >>> np.round(A.eq123_second_term(pair), 4)
    array([-0.0365])
    """
    if not isinstance(pair, ConnectedPair):
        raise TypeError(f"pair must be a ConnectedPair (from connected_pair), got {type(pair).__name__}")
    n = pair.W_j.shape[0]
    E_jj = _E_OjOj(pair, E_OjOj, n)
    slope = _dsigma(pair, dsigma, n)
    return slope * pair.w_ij * (pair.gate_square * E_jj + pair.gate_mean * pair.W_j)


def _E_OjOj(pair, E_OjOj, n):
    if isinstance(E_OjOj, str):
        if E_OjOj == "eq118":
            return pair.W_j ** 2
        if E_OjOj == "eq117":
            return pair.W_j
        raise ValueError(f"E_OjOj must be one of {E_OjOj_ESTIMATES} or an array of one value per input, "
                         f"got {E_OjOj!r}")
    return _per_input(E_OjOj, n, "E_OjOj")


def _dsigma(pair, dsigma, n):
    if isinstance(dsigma, str):
        if dsigma == "sigma_prime":
            return pair.dsigma_ij
        if dsigma == "lambda_sigma":
            if pair.lambda_sigma_ij is None:
                raise ValueError("dsigma='lambda_sigma' is the paper's refinement for logistic units "
                                 "(sigma' = lambda sigma (1 - sigma)); unit i's transfer is not logistic")
            return pair.lambda_sigma_ij
        raise ValueError(f"dsigma must be one of {DSIGMA_ESTIMATES} or an array of one value per input, "
                         f"got {dsigma!r}")
    return _per_input(dsigma, n, "dsigma")


def eprod_eq123(pair: ConnectedPair, E_OjOj="eq118", dsigma="sigma_prime") -> np.ndarray:
    """E(O_i O_j) by Eq. 123 with both terms: W_ij W_j + E(sigma'(A)) w_ij p_j E(O_j O_j).

    Eq. 124 (``pair.eprod``) plus ``eq123_second_term(pair, E_OjOj, dsigma)``; see there
    for the derivation and the parameters. Returns an array (n_inputs,).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> pair = A.connected_pair(net, x, de.Dropout(0.5), 1, 0, 1)
    >>> np.round(A.eprod_eq123(pair), 4)
    array([0.1751])
    """
    return pair.eprod + eq123_second_term(pair, E_OjOj, dsigma)
