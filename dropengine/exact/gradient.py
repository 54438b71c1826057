"""Exact dropout gradients and the adaptive regularisation they carry (Section 11.2-11.4).

The expectation over every subnetwork of the dropout gradient, E(dE_D/dw), beside the
gradient of the ensemble network, dE_ENS/dw, and the paper's decompositions of their
difference: w Var(alpha) + Cov(alpha, beta) for linear networks (Eq. 147, 155) and the
approximation of Eq. 164 for a logistic layer. Subnetworks are enumerated with NumPy,
all at once, so this is for small networks (the gate count is limited); chains and
networks with skip connections (Eq. 21-23) alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .._reference import transfer
from .._validation import as_count, as_real_array
from .. import _engine as engine
from .._engine import LOSSES, GateKind
from ..gates import refuse_continuous, refuse_mixed

__all__ = ["dropout_gradient", "DropoutGradient", "LOSSES"]
# The losses are the trainer's (_engine.LOSSES): squared 1/2 sum (t - O)^2 (Eq. 55, 142);
# relative_entropy -sum t log O + (1 - t) log(1 - O) for logistic outputs (Eq. 156);
# cross_entropy -sum t log O for a softmax output.


@dataclass(frozen=True)
class DropoutGradient:
    """Gradients per input; lists over layers of arrays (n_inputs, n_out, n_in) for the
    weights and (n_inputs, n_out) for the biases (None where a layer has no bias).

    In a network with skip connections, layer h's weight gradients are over its
    concatenated input, as ``net.input_weights(h)`` lays it out: arrays (n_inputs, n_h,
    n_cat), n_cat the sum of n_l over the sources of layer h, columns offset..offset + n_l
    - 1 holding the gradient of W_hl for each block (l, offset, n_l) of
    ``net.input_weights(h)[1]``. A chain's layer is its matrix, as before.

    ``expected``, ``expected_bias``   E(dE_D/dw) over all subnetworks (Eq. 146, 154, 161)
    ``ensemble``, ``ensemble_bias``   dE_ENS/dw of the ensemble network (Eq. 144, 153, 159)
    ``w_var_alpha``, ``cov_alpha_beta``  for linear networks with the squared loss, the two
        terms of Eq. 155, summed over output units: expected = ensemble + both, exactly
        (for one layer Cov(alpha, beta) = 0 and w Var(alpha) = w I^2 Var(delta), Eq. 147).
        Also for linear DAGs, where the derivation carries over (S = alpha w + beta with
        alpha, beta free of w: a path crosses a connection at most once); None otherwise
    ``approx_164``  for one logistic layer with the relative entropy, the approximation
        dE_ENS/dw + lam sigma'(U) w Var(delta I) of Eq. 164 (sigma' = W (1 - W)); None
        otherwise, in particular for every DAG (a DAG has at least two layers)
    ``n_subnetworks``  how many subnetworks were enumerated
    """

    expected: list
    expected_bias: list
    ensemble: list
    ensemble_bias: list
    w_var_alpha: Optional[list]
    cov_alpha_beta: Optional[list]
    approx_164: Optional[list]
    n_subnetworks: int


def _layout(net):
    """Per receiving layer k (``weights[k]``, layer h = k + 1): its weights over the
    concatenation of its sources' outputs, as float64, and the blocks (l, offset, n_l)
    of ``Network.input_weights``. A chain's layer is its matrix with the one block
    (k, 0, n_k), so a chain is computed exactly as it always was."""
    if net.is_chain:
        return [(np.asarray(W, np.float64), [(k, 0, W.shape[1])]) for k, W in enumerate(net.weights)]
    return [(np.asarray(W, np.float64), blocks) for W, blocks in
            (net.input_weights(h) for h in range(1, net.n_layers + 1))]


def _sites(net, kind, p, keep_bias, layout):
    """Free gates (0 < p < 1) and the fixed ones, as (what, layer, index, p): unit gates
    ("unit", l, j) over the units of source layer l, one per unit shared by all its
    receivers (Eq. 22; a layer that feeds no other has none), connection gates
    ("conn", k, e) over the flat (n_out, n_cat) connections into weights[k] (Eq. 23), and
    bias gates ("bias", k, i) (i = -1: one for the layer, under unit dropout)."""
    free, fixed = [], []
    feeding = {l for _, blocks in layout for l, _, _ in blocks}
    for h, ((W, _), b) in enumerate(zip(layout, net.biases)):
        n_out, n_in = W.shape
        if kind == GateKind.none:
            continue
        if kind == GateKind.connections:
            pv = np.broadcast_to(p[h], (n_out * n_in,))
            cells = [("conn", h, e, pv[e]) for e in range(n_out * n_in)]
            if b is not None:
                cells += [("bias", h, i, keep_bias[h]) for i in range(n_out)]
        else:
            n_units = net.sizes[h]
            pv = np.broadcast_to(p[h], (n_units,))
            cells = [("unit", h, j, pv[j]) for j in range(n_units)] if h in feeding else []
            if b is not None and kind == GateKind.units:
                cells.append(("bias", h, -1, keep_bias[h]))
        for c in cells:
            (free if 0 < c[3] < 1 else fixed).append(c)
    return free, fixed


def _masks(net, kind, p, keep_bias, n_free_max, layout):
    """Gate values for every configuration (rows) and their probabilities: per index k,
    "unit" (C, n_k) over the units of layer k (0 = the input), "conn" (C, n_out, n_cat)
    and "bias" (C, n_out) of the connections into weights[k].

    Row 0 of the returned 'expected' masks holds the gate expectations, which turn the
    same propagation into the ensemble network (Eq. 24, 26, 54, 167).
    """
    free, fixed = _sites(net, kind, p, keep_bias, layout)
    n = len(free)
    if 2**n > n_free_max:
        raise ValueError(f"max_subnetworks: the gate induces 2^{n} subnetworks, more than max_subnetworks = "
                         f"{n_free_max}; dropout_gradient enumerates them all (use a smaller network)")
    C = 2**n
    bits = ((np.arange(C)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    probs = np.array([c[3] for c in free])
    P = np.prod(np.where(bits > 0, probs, 1 - probs), axis=1) if n else np.ones(1)

    def fresh(C_):
        out = []
        for h, (W, _) in enumerate(layout):
            n_out, n_in = W.shape
            unit = np.ones((C_, net.sizes[h]))
            conn = np.ones((C_, n_out, n_in)) if kind == GateKind.connections else None
            out.append({"unit": unit, "conn": conn, "bias": np.ones((C_, n_out))})
        if kind == GateKind.dropin:  # the mask selects "set to 1": 0 unless drawn
            for m in out:
                m["unit"][:] = 0.0
        return out

    def put(masks, cell, value):
        what, h, e, _ = cell
        m = masks[h]
        if what == "unit":
            m["unit"][:, e] = value
        elif what == "conn":
            n_in = m["conn"].shape[2]
            m["conn"][:, e // n_in, e % n_in] = value
        elif e < 0:
            m["bias"][:] = value[:, None] if np.ndim(value) else value
        else:
            m["bias"][:, e] = value

    sampled, expected = fresh(C), fresh(1)
    for cell in fixed:
        put(sampled, cell, float(cell[3] >= 1))
        put(expected, cell, float(cell[3] >= 1))
    for k, cell in enumerate(free):
        put(sampled, cell, bits[:, k])
        put(expected, cell, np.array([cell[3]]))
    return sampled, P, expected, C


def _forward(net, kind, x, masks, layout):
    """Gated propagation of one input for every configuration: per receiving layer the
    gated inputs y (C, n_cat) over the concatenation of its sources, the sums S and the
    outputs O (Eq. 21-23). A unit's gate multiplies its output once, for every receiver."""
    C = masks[0]["unit"].shape[0]
    outs = [np.broadcast_to(x, (C, x.size))]  # O^0 = the input, O^1, ...
    gated = {}

    def y_of(l):  # the gated outputs of layer l, shared by every layer it feeds (Eq. 22)
        if l not in gated:
            m, a = masks[l]["unit"], outs[l]
            gated[l] = m + (1 - m) * a if kind == GateKind.dropin else m * a
        return gated[l]

    ys, Ss, Os, dOs = [], [], [], []
    for h, ((W, blocks), b, f) in enumerate(zip(layout, net.biases, net.transfers)):
        m = masks[h]
        y = y_of(blocks[0][0]) if len(blocks) == 1 else np.concatenate([y_of(l) for l, _, _ in blocks], axis=1)
        S = np.einsum("cij,cj->ci", m["conn"] * W, y) if kind == GateKind.connections else y @ W.T
        if b is not None:
            S = S + m["bias"] * np.asarray(b, np.float64)
        O, _, _, dO = transfer(f, S)
        ys.append(y), Ss.append(S), Os.append(O), dOs.append(dO)
        outs.append(O)
    return ys, Ss, Os, dOs


def _through_transfer(f, O, dO, g):
    """dL/dS from dL/dO through O = f(S): elementwise, or the softmax Jacobian (Eq. 43)."""
    if f.name == "softmax":
        return f.lam * O * (g - (O * g).sum(axis=1, keepdims=True))
    return g * dO


def _backward(net, kind, masks, ys, Os, dOs, gS, layout):
    """Gradients of the loss for every configuration, given dL/dS of the output layer:
    per layer over its concatenated input (C, n_out, n_cat). The error of a unit sums
    what comes back from every layer it feeds (Eq. 169, 173)."""
    L = net.n_layers
    gW, gb = [None] * L, [None] * L
    gO = [None] * (L + 1)  # dL/dO^l, summed over the receivers of layer l
    for h in range(L - 1, -1, -1):
        W, blocks = layout[h]
        m = masks[h]
        if h < L - 1:  # layer h + 1's error: from the layers it feeds (none: no gradient)
            ga = gO[h + 1] if gO[h + 1] is not None else np.zeros_like(Os[h])
            gS = _through_transfer(net.transfers[h], Os[h], dOs[h], ga)
        if kind == GateKind.connections:
            gW[h] = gS[:, :, None] * m["conn"] * ys[h][:, None, :]
        else:
            gW[h] = gS[:, :, None] * ys[h][:, None, :]
        if net.biases[h] is not None:
            gb[h] = gS * m["bias"]
        if all(l == 0 for l, _, _ in blocks):
            continue
        gy = np.einsum("ci,cij->cj", gS, m["conn"] * W) if kind == GateKind.connections else gS @ W
        for l, off, n in blocks:
            if l == 0:
                continue
            g = gy if len(blocks) == 1 else gy[:, off:off + n]
            u = masks[l]["unit"]  # ones under connection dropout
            g = g * ((1 - u) if kind == GateKind.dropin else u)
            gO[l] = g if gO[l] is None else gO[l] + g
    return gW, gb


def _output_delta(f, loss, S, O, dO, t):
    """dL/dS of the output layer (Eq. 144, 152, 158)."""
    if loss == "squared":
        return _through_transfer(f, O, dO, O - t)
    if loss == "relative_entropy":  # Eq. 157-158: -lam (t - O)
        return -f.lam * (t - O)
    return f.lam * (O - t)  # softmax with cross entropy


def dropout_gradient(net, inputs, targets, gate=None, loss: str = "squared", *,
                     max_subnetworks: int = 2**16) -> DropoutGradient:
    """E(dE_D/dw) over all subnetworks, the ensemble gradient, and their difference.

    For each input I with target t, every subnetwork N (probability P(N)) is propagated
    and backpropagated, and the gradients are averaged: E(dE_D/dw) = sum_N P(N)
    dE_D(N)/dw (Eq. 146, 154, 161). The ensemble gradient dE_ENS/dw is the gradient of
    the same loss for the ensemble network, whose weights are scaled by their keep
    probabilities (Eq. 142, 144, 153, 159). Their difference is the adaptive
    regularisation of Section 11:

        single linear unit   E(dE_D/dw_i) = dE_ENS/dw_i + w_i I_i^2 Var(delta_i)      (Eq. 147)
        deep linear network  E(dE_D/dw) = dE_ENS/dw + w Var(alpha) + Cov(alpha, beta)  (Eq. 155)

    with S = alpha w + beta (Eq. 151): alpha sums the paths through w, beta the others.

    Networks with skip connections (Eq. 21-23) are enumerated the same way: under unit
    gates one coin per unit of each source layer, shared by all its outgoing connections
    into any layer (Eq. 22; a layer that feeds no other has no coins, as in
    ``exact.n_subnetworks``), under connection gates one per connection of each layer's
    concatenated input (Eq. 23); the error of a unit sums what comes back from every
    layer it feeds. Weight gradients of a DAG layer are over its concatenated input
    (see ``DropoutGradient``).
    For a single logistic layer with the relative entropy, ``approx_164`` holds
    dE_ENS/dw_i + lam sigma'(U) w_i I_i^2 Var(delta_i) (Eq. 164), to compare with the
    exact ``expected``.

    Parameters
    ----------
    net : Network
    inputs : array (n_inputs, n_in)
    targets : array (n_inputs, n_out)
    gate : Dropout, Dropin, NoGate or None
    loss : "squared", "relative_entropy" (logistic outputs) or "cross_entropy" (softmax output)
    max_subnetworks : int
        The subnetworks are held in memory at once; more than this is refused.

    Returns
    -------
    DropoutGradient

    Examples
    --------
    A single linear unit with the squared error: the expected dropout gradient is the
    ensemble gradient plus the adaptive weight decay w p (1 - p) I^2 (Eq. 147):

    >>> import numpy as np, dropengine as de
    >>> net = de.Network([np.array([[1.0, -2.0, 0.5]])], transfer="linear")
    >>> x, t = np.array([[1.0, 2.0, -1.0]]), np.array([[0.3]])
    >>> g = de.exact.dropout_gradient(net, x, t, de.Dropout(0.8))
    >>> decay = net.weights[0] * 0.8 * 0.2 * x ** 2
    >>> bool(np.allclose(g.expected[0], g.ensemble[0] + decay))
    True
    """
    engine.check_net(net)
    refuse_mixed(gate, "exact.dropout_gradient")
    refuse_continuous(gate, "exact.dropout_gradient", "the gradient is averaged over Bernoulli subnetworks")
    X = np.asarray(engine.as_inputs(net, inputs), np.float64)
    T = as_real_array(targets, "targets", dtype=np.float64, ndim=(1, 2))
    T = T[None, :] if T.ndim == 1 else T
    if T.shape != (X.shape[0], net.sizes[-1]):
        raise ValueError(f"targets must have shape {(X.shape[0], net.sizes[-1])} (inputs x output units), "
                         f"got {T.shape}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    out_f = net.transfers[-1]
    if loss == "relative_entropy" and out_f.name != "logistic":
        raise ValueError(f"loss: 'relative_entropy' needs a logistic output layer, got {out_f!r}")
    if loss == "cross_entropy" and out_f.name != "softmax":
        raise ValueError(f"loss: 'cross_entropy' needs a softmax output layer, got {out_f!r}")
    max_subnetworks = as_count(max_subnetworks, "max_subnetworks")
    kind, p, keep_bias, *_ = engine.gate_spec(gate, net, allow_spikes=False)
    if kind not in (GateKind.none, GateKind.units, GateKind.connections, GateKind.dropin):
        raise ValueError(f"gate: dropout_gradient enumerates Bernoulli gates (Dropout, Dropin, NoGate); "
                         f"{type(gate).__name__} draws from a continuous distribution")
    layout = _layout(net)
    sampled, P, expected_masks, C = _masks(net, kind, p, keep_bias, max_subnetworks, layout)
    linear = loss == "squared" and all(f.name == "linear" for f in net.transfers)
    logistic_layer = (net.n_layers == 1 and out_f.name == "logistic" and loss == "relative_entropy"
                      and kind in (GateKind.units, GateKind.connections))
    L = net.n_layers
    res = {k: [[] for _ in range(L)] for k in ("exp", "expb", "ens", "ensb", "wva", "cab", "a164")}
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE Inf/NaN for huge values, as in the engine
        _accumulate(net, kind, X, T, loss, sampled, P, expected_masks, linear, logistic_layer, res, layout)
    stack = lambda v: [None if v[h][0] is None else np.stack(v[h]) for h in range(L)]  # noqa: E731
    return DropoutGradient(stack(res["exp"]), stack(res["expb"]), stack(res["ens"]), stack(res["ensb"]),
                           stack(res["wva"]) if linear else None, stack(res["cab"]) if linear else None,
                           stack(res["a164"]) if logistic_layer else None, C)


def _accumulate(net, kind, X, T, loss, sampled, P, expected_masks, linear, logistic_layer, res, layout):
    """Exact expected and ensemble gradients of every input into `res`."""
    L, out_f = net.n_layers, net.transfers[-1]
    for x, t in zip(X, T):
        ys, Ss, Os, dOs = _forward(net, kind, x, sampled, layout)
        gS = _output_delta(out_f, loss, Ss[-1], Os[-1], dOs[-1], t)
        gW, gb = _backward(net, kind, sampled, ys, Os, dOs, gS, layout)
        eys, eSs, eOs, edOs = _forward(net, kind, x, expected_masks, layout)
        egS = _output_delta(out_f, loss, eSs[-1], eOs[-1], edOs[-1], t)
        eW, eb = _backward(net, kind, expected_masks, eys, eOs, edOs, egS, layout)
        for h in range(L):
            res["exp"][h].append(np.tensordot(P, gW[h], axes=1))
            res["expb"][h].append(None if gb[h] is None else P @ gb[h])
            res["ens"][h].append(eW[h][0])
            res["ensb"][h].append(None if eb[h] is None else eb[h][0])
        if linear:
            wva, cab = _linear_terms(net, kind, sampled, P, ys, Os, dOs, Ss[-1], layout)
            for h in range(L):
                res["wva"][h].append(wva[h])
                res["cab"][h].append(cab[h])
        if logistic_layer:  # Eq. 164 with Var(delta_j I_j) = I_j^2 p q per connection
            f, W0 = out_f, np.asarray(net.weights[0], np.float64)
            Wens = eOs[0][0]
            pm = expected_masks[0]["conn"][0] if kind == GateKind.connections else expected_masks[0]["unit"][0][None, :]
            res["a164"][0].append(eW[0][0] + f.lam * (Wens * (1 - Wens))[:, None] * W0 * x**2 * pm * (1 - pm))


def _linear_terms(net, kind, masks, P, ys, Os, dOs, S_out, layout):
    """w Var(alpha) and Cov(alpha, beta) of Eq. 155, summed over the output units k:
    alpha_k = dS_k/dw in each subnetwork (backpropagation from unit k alone) and
    beta_k = S_k - alpha_k w (Eq. 151). In a DAG too S_k = alpha_k w + beta_k with alpha_k
    and beta_k free of w (a path uses a connection at most once), and E(S_k) is the
    ensemble network's output (the gates along a path are distinct and independent), so
    the derivation of Eq. 155 carries over unchanged."""
    L, K = net.n_layers, S_out.shape[1]
    wva = [0.0] * L
    cab = [0.0] * L
    for k in range(K):
        seed = np.zeros_like(S_out)
        seed[:, k] = 1.0
        alpha, _ = _backward(net, kind, masks, ys, Os, dOs, seed, layout)
        for h in range(L):
            w = layout[h][0]
            a = alpha[h]
            beta = S_out[:, k][:, None, None] - a * w
            Ea, Eb = np.tensordot(P, a, axes=1), np.tensordot(P, beta, axes=1)
            var_a = np.tensordot(P, (a - Ea) ** 2, axes=1)
            cov_ab = np.tensordot(P, (a - Ea) * (beta - Eb), axes=1)
            wva[h] = wva[h] + w * var_a
            cab[h] = cab[h] + cov_ab
    return wva, cab
