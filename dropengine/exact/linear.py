"""Exact moments of linear dropout networks (Eq. 15-20, 24-26): no enumeration; Bernoulli
gates and the continuous ones (Gaussian gates, additive and weight noise) in closed form."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import _engine as engine
from ..gates import CONTINUOUS_GATES, Gates

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

    Continuous gates enter through the first two moments of their noise, which is
    independent of everything before it (the only assumption of Eq. 54):

    - ``GaussianGate(on="units")``: y_j = delta_j a_j, delta_j ~ N(m_j, s_j^2) shared by
      the unit's outgoing connections: the unit-dropout formulas with p -> m and the coin
      variance p q E[a^2] -> s^2 E[a^2] (E(delta^2) = m^2 + s^2):
      E(y) = m E(a), Cov(y, z) = m Cov(a, z), Cov(y) = (m m^T) * Cov(a) + diag(s^2 E[a^2]).
    - ``AdditiveNoise``: y_j = a_j + eps_j, eps_j ~ N(0, s_j^2): E(y) = E(a),
      Cov(y, z) = Cov(a, z), Cov(y) = Cov(a) + diag(s^2).
    - ``GaussianGate(on="connections")``: S_i = sum_j W_ij delta_ij a_j, independent
      delta_ij ~ N(M_ij, S_ij^2): the connection formulas with P -> M and
      P (1 - P) -> S^2: E(S) = (W M) E(a), Cov(S) = (W M) Cov(a) (W M)^T
      + diag(sum_j W_ij^2 S_ij^2 E[a_j^2]).
    - ``WeightNoise``: S_i = sum_j (W_ij + eps_ij) a_j, eps_ij ~ N(0, S_ij^2): E(S) = W E(a),
      Cov(S, z) = W Cov(a, z), Cov(S) = W Cov(a) W^T + diag(sum_j S_ij^2 E[a_j^2]).

    Biases get no noise under the continuous gates. Only the first two moments of each
    gate enter, so ``GaussianGate(1, sqrt((1 - p) / p))`` and inverted dropout (Dropout(p)
    with the weights divided by p) have the same moments here.

    Parameters
    ----------
    net : Network whose every layer is Linear (a chain or a DAG)
    inputs : array (n_inputs, n_in)
    gate : Dropout, Dropin, GaussianGate, AdditiveNoise, WeightNoise, Gates, NoGate or None
        A ``Gates`` mix takes each entry's formulas above: a unit kind at entry l on the
        outputs of layer l, a connection kind at entry h - 1 on the connections into
        layer h; where both meet on a skip connection their gates are independent and the
        formulas compose.

    Returns
    -------
    LinearMoments. Values too large for float64 overflow to Inf/NaN as in IEEE
    arithmetic (like the C++ engine), without warnings.

    Examples
    --------
    One linear unit S = w_1 delta_1 I_1 + w_2 delta_2 I_2 with keep 1/2: E(S) = p sum w I and
    Var(S) = p (1 - p) sum w^2 I^2 (Eq. 11, 12):

    >>> import numpy as np, dropengine as de
    >>> net = de.Network([np.array([[1.0, 2.0]])], transfer="linear")
    >>> lm = de.exact.linear_moments(net, np.array([[1.0, 1.0]]), de.Dropout(0.5))
    >>> lm.E[0], lm.var[0]
    (array([[1.5]]), array([[1.25]]))
    """
    engine.check_net(net)
    bad = [h for h, f in enumerate(net.transfers) if f.name != "linear"]
    if bad:
        raise ValueError(f"net: linear_moments needs linear units in every layer; layer {bad[0]} is "
                         f"{net.transfers[bad[0]]!r} (use dropengine.exact.enumerate or sample)")
    X = np.asarray(engine.as_inputs(net, inputs), dtype=np.float64)
    kinds, p, keep_bias, mean = _resolve(gate, net)
    last_use = _last_use(net)
    _check_memory(X.shape[0], sum(net.sizes[1:]), _most_live(net, last_use))
    with np.errstate(over="ignore", invalid="ignore"):
        return _recursion(net, X, kinds, p, keep_bias, mean, last_use)


def _resolve(gate, net) -> tuple:
    """(kind name per entry, values per entry, keep_bias, means per entry or None): the
    Bernoulli gates' keep probabilities or rates, the continuous gates' standard deviations."""
    L = net.n_layers
    if isinstance(gate, CONTINUOUS_GATES):
        kind, std, _, mean = gate.resolve(net)
        return [kind] * L, std, [], mean
    if isinstance(gate, Gates):
        _, p, keep_bias, mean, kinds = gate.resolve(net)
        return kinds, p, keep_bias, mean
    spec = engine.gate_spec(gate, net, allow_spikes=False)
    return [spec.kind.name] * L, spec.p, spec.keep_bias, None


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


def _gate_units(kind: str, p_l, m_l, n: int):
    """(alpha, beta, A, c, B) of the gate on a source layer's n units, each an array (n,):
    the gated output y of a unit with output a (independent gate) has

        E(y) = alpha E(a) + beta,   Cov(y, z) = alpha Cov(a, z)  (z computed before),
        Var(y) = alpha^2 Var(a) + A E[(a - c)^2] + B.

    Dropout y = delta a, dropin y = delta a + (1 - delta) (keep p = 1 - rate): alpha = p,
    beta = q c, A = p q; Gaussian gate y = delta a: alpha = m, A = s^2; additive noise
    y = a + eps: alpha = 1, B = s^2. Connection gates act at the receiving layer: y = a."""
    one, zero = np.ones(n), np.zeros(n)
    if kind in ("units", "dropin"):
        keep = np.broadcast_to(p_l, (n,)) if kind == "units" else 1.0 - np.broadcast_to(p_l, (n,))
        c = 0.0 if kind == "units" else 1.0
        return keep, (1 - keep) * c, keep * (1 - keep), c, zero
    if kind == "gaussian_units":
        return np.broadcast_to(m_l, (n,)), zero, np.broadcast_to(p_l, (n,)) ** 2, 0.0, zero
    if kind == "additive_noise":
        return one, zero, zero, 0.0, np.broadcast_to(p_l, (n,)) ** 2
    return one, zero, zero, 0.0, zero


def _gate_connections(kind: str, p_k, m_k, W: np.ndarray, b: np.ndarray, pb: float):
    """(factor F, C, bias variance) of the gate on the connections W of one layer: with
    S_i = sum_j W_ij g_ij a_j + b_i g_i and independent gates,

        E(S) = (W F) E(a) + pb b,
        Cov(S) = (W F) Cov(a) (W F)^T + diag(E[a^2] @ C^T + bias variance).

    Dropout (keep P): F = P, C = W^2 P (1 - P), bias b^2 pb (1 - pb); Gaussian gate
    (mean M, std S): F = M, C = W^2 S^2; weight noise (std S): F = 1, C = S^2."""
    def full(v):
        return np.broadcast_to(v, (W.size,)).reshape(W.shape)
    if kind == "connections":
        P = full(p_k)
        return P, W**2 * P * (1 - P), b**2 * pb * (1 - pb)
    if kind == "gaussian_connections":
        return full(m_k), W**2 * full(p_k) ** 2, np.zeros_like(b)
    return np.ones(W.shape), full(p_k) ** 2, np.zeros_like(b)  # weight_noise


def _recursion(net, X, kinds, p, keep_bias, mean, last_use) -> LinearMoments:
    """The joint moments of two sets of variables, grown layer by layer: the units Z
    (S^1, ..., S^h so far: the result) and the held gated outputs V (y^l of the source
    layers some later layer still receives from, in layer order). kinds[l]: entry l's
    kind; a units kind gates source layer l's outputs as they enter V, a connections kind
    the connections into layer l + 1 (both may meet on a skip connection; independent
    gates, so the formulas compose: V already holds the unit-gated y)."""
    B, L = X.shape[0], net.n_layers
    m = mean if mean is not None else [None] * L
    # V starts as the gated input y^0; nothing is random before its gates, so Cov(y^0) is
    # the gates' own variance (p q (x - c)^2 for coins) and Cov(y^0, Z) is empty.
    alpha0, beta0, A0, c0, B0 = _gate_units(kinds[0], p[0], m[0], X.shape[1])
    mu_V = alpha0 * X + beta0
    C_VV = (A0 * (X - c0) ** 2 + B0)[:, :, None] * np.eye(X.shape[1])
    C_VZ = np.zeros((B, X.shape[1], 0))
    C_ZZ = np.zeros((B, 0, 0))
    held = [(0, X.shape[1])]  # (layer l, n_l) of V's blocks, in order
    Es, vars_ = [], []
    for h in range(1, L + 1):
        W, blocks = net.input_weights(h)
        W = np.asarray(W, np.float64)
        b = net.biases[h - 1]
        b = np.zeros(W.shape[0]) if b is None else np.asarray(b, np.float64)
        kind = kinds[h - 1]  # the gate of layer h's connections and bias
        pb = keep_bias[h - 1] if keep_bias and kind in ("units", "connections") else 1.0
        start = dict(zip((l for l, _ in held), np.cumsum([0] + [n for _, n in held])))
        idx = np.concatenate([np.arange(start[l], start[l] + n) for l, _, n in blocks])
        whole = idx.size == mu_V.shape[1]  # every held block feeds h (a chain): no gather
        mu_v = mu_V if whole else mu_V[:, idx]
        C_vV = C_VV if whole else C_VV[:, idx, :]
        C_vv = C_vV if whole else C_vV[:, :, idx]
        C_vZ = C_VZ if whole else C_VZ[:, idx, :]
        if kind in ("connections", "gaussian_connections", "weight_noise"):  # Eq. 23, 26: one gate per connection (and, for coins, per unit's bias)
            F, C, bias_var = _gate_connections(kind, p[h - 1], m[h - 1], W, b, pb)
            WP = W * F
            second = np.einsum("bjj->bj", C_vv) + mu_v**2  # E[a_j^2]
            extra = second @ C.T + bias_var
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
            alpha, beta, A, c, Bn = _gate_units(kinds[h], p[h], m[h], n)
            C_yZ = alpha[:, None] * grown[:, N:, :]
            C_yV = alpha[:, None] * C_SV
            coin = A * (vars_[-1] + (mu_S - c) ** 2) + Bn  # the gate's own variance, e.g. p q E[(a - c)^2]
            C_yy = alpha[:, None] * C_SS * alpha + coin[:, :, None] * np.eye(n)
            mu_V = np.concatenate([mu_V, alpha * mu_S + beta], axis=1)
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
