"""An independent brute-force oracle for dropout on layered networks with skip connections.

Written from the paper's equations with NumPy and itertools only. From dropengine it
reads nothing but plain attributes of a ``Network`` (``weights``, ``biases``,
``transfers``: each transfer's ``name`` and its parameters ``c``, ``lam``,
``threshold``, ``slope``); it uses none of the package's helpers (no gate resolution,
no reference transfer, no statistics code), so an error shared with the package would
have to be made twice, independently.

Networks (Eq. 21): layer h = 1..L receives from source layers l < h (0 = the input),
S^h = sum_{l in sources(h)} W_hl y^l + b^h and O^h = f_h(S^h), y^l the gated outputs of
layer l (O^0 = the input x).

Gates, as ``OracleGate(kind, keep, keep_bias)``, or as a list with one ``OracleGate``
per entry (a network mixing kinds: entry e's own kind and values, see ``expand_gate``):

- ``"units"`` (Eq. 6, 13, 22): ``keep[l]`` over the units of layer l = 0..L-1, a scalar
  or one value per unit. ONE selector delta_j^l per unit and sample, shared by all of
  unit j's outgoing connections, into whichever layers they go: y_j^l = delta_j^l O_j^l.
  A layer's bias (Eq. 9-10) is one more unit, gated by one selector per sample and layer
  with probability ``keep_bias[h - 1]``.
- ``"connections"`` (Eq. 14, 23): ``keep[h - 1]`` over the connections into layer h: a
  scalar, a vector over the concatenated inputs (one keep per sending unit, still one
  selector per connection), a matrix (n_h, sum of n_l) over the concatenated inputs
  (sources in increasing l), or a dict {l: scalar, (n_l,) or (n_h, n_l)}. One selector
  per connection delta_ij^{hl}: S_i^h = sum_l sum_j delta_ij^{hl} w_ij^{hl} O_j^l. Each
  unit's bias is its own connection, with probability ``keep_bias[h - 1]``.
- ``"dropin"`` (Section 11.6): ``keep[l]`` holds the RATE: with that probability unit j
  of layer l is set to 1 (y_j^l = 1), else passed unchanged (y_j^l = O_j^l); one
  selector per unit and sample shared by every receiver, like dropout. Biases are not
  gated (the package's convention: Dropin has no keep_bias).
- ``"none"``: no selectors.

Selectors with probability 0 or 1 are fixed and not branched on; every other selector
of the network is free, and ``exact_moments`` visits each of the 2^(free) configurations
N with its probability P(N) = prod_k p_k^delta_k (1 - p_k)^(1 - delta_k) (Eq. 7). A
unit selector exists only where the unit has an outgoing connection (Eq. 22 names
delta_j^l only on connections), so a layer that feeds no other layer adds no selectors.
"""
from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

__all__ = ["OracleGate", "read_network", "expand_gate", "entry_kinds", "transfer", "exact_moments", "ensemble_eq167",
           "free_selectors"]


class OracleGate(NamedTuple):
    """A gate as plain values: kind in {"units", "connections", "dropin", "none"}; keep
    (dropin: rate) and keep_bias as described in the module docstring."""

    kind: str
    keep: object = 1.0
    keep_bias: object = 1.0


# --- the network, as plain float64 arrays ------------------------------------------------
class Plain(NamedTuple):
    layers: list     # per layer h = 1..L: [(l, W_hl float64 (n_h, n_l)), ...], l increasing
    biases: list     # per layer: float64 (n_h,) or None
    sizes: list      # [n_0, n_1, ..., n_L]
    transfers: list  # per layer: (name, {"c", "lam", "threshold", "slope"})


def read_network(net) -> Plain:
    """The network's weights as {l: W_hl} per layer, biases, widths and transfer parameters.
    ``net.weights[k]`` is a matrix (fed by layer k) or a mapping {l: W_hl}."""
    layers = []
    for k, w in enumerate(net.weights):
        pairs = sorted((int(l), W) for l, W in w.items()) if isinstance(w, Mapping) else [(k, w)]
        layers.append([(l, np.array(W, dtype=np.float64)) for l, W in pairs])
    biases = [None if b is None else np.array(b, dtype=np.float64) for b in net.biases]
    sizes = [layers[0][0][1].shape[1]] + [ps[0][1].shape[0] for ps in layers]  # layer 1 reads only the input
    transfers = [(f.name, {p: float(getattr(f, p)) for p in ("c", "lam", "threshold", "slope") if hasattr(f, p)})
                 for f in net.transfers]
    return Plain(layers, biases, sizes, transfers)


# --- transfer functions, from their definitions --------------------------------------------
def _logsumexp(z, axis=-1):
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))).squeeze(axis)


def transfer(name: str, prm: dict, S: np.ndarray):
    """(O, log O, log(1 - O), dO/dS) for sums S of shape (M, n), float64.

    log O and log(1 - O) are the terms of G and G' (Eq. 35, 36). For functions whose
    outputs leave [0, 1] (linear, tanh, relu, softplus) they are the plain logarithms,
    NaN where the argument is negative and -inf where it is 0: G and G' are defined on
    [0, 1] only (Section 8), and the package reports NaN / 0 there rather than refusing.
    dO/dS is sigma'(S) of Eq. 220; for softmax the diagonal lam O_i (1 - O_i).
    """
    S = np.asarray(S, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if name == "linear":  # O = S
            O = S.copy()
            return O, np.log(O), np.log1p(-O), np.ones_like(S)
        if name == "logistic":  # Eq. 27: O = 1 / (1 + c exp(-lam S)), c >= 0
            c, lam = prm["c"], prm["lam"]
            if c == 0:  # O = 1 for every S
                return np.ones_like(S), np.zeros_like(S), np.full_like(S, -np.inf), np.zeros_like(S)
            z = lam * S - np.log(c)
            # log O = -log(1 + e^-z), log(1 - O) = -log(1 + e^z): no cancellation near 0 or 1
            logO, logOc = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
            O = 1.0 / (1.0 + np.exp(-z))
            return O, logO, logOc, lam * O * (1.0 - O)
        if name == "tanh":  # O = tanh(lam S)
            O = np.tanh(prm["lam"] * S)
            return O, np.log(O), np.log1p(-O), prm["lam"] * (1.0 - O**2)
        if name == "relu":  # Eq. 69: 0 for S <= t, else slope (S - t)
            t, a = prm["threshold"], prm["slope"]
            O = np.where(S <= t, 0.0, a * (S - t))
            return O, np.log(O), np.log1p(-O), np.where(S <= t, 0.0, a)
        if name == "softplus":  # Eq. 76: O = log(1 + e^(lam S)) / lam
            lam = prm["lam"]
            O = np.logaddexp(0.0, lam * S) / lam
            return O, np.log(O), np.log1p(-O), 1.0 / (1.0 + np.exp(-lam * S))
        if name == "softmax":  # Eq. 43: O_i = e^(lam S_i) / sum_j e^(lam S_j), over the layer
            z = prm["lam"] * S
            logZ = _logsumexp(z)[..., None]
            logO = z - logZ
            n = z.shape[-1]
            # log(1 - O_i) = log(sum_{j != i} e^(z_j)) - log Z: no cancellation when O_i ~ 1
            others = np.stack([_logsumexp(np.where(np.arange(n) == i, -np.inf, z)) for i in range(n)], axis=-1)
            logOc = others - logZ
            O = np.exp(logO)
            return O, logO, logOc, prm["lam"] * O * (1.0 - O)
    raise ValueError(f"the oracle does not know the transfer function {name!r}")


# --- gates, expanded from their short forms -------------------------------------------------
def _per_layer(value, L: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * L


def _entries(plain: Plain, gate) -> list:
    """[(kind, keep, keep_bias)] per entry e = 0..L-1. An ``OracleGate`` gives every entry
    its kind; a list of ``OracleGate`` (one network mixing kinds) gives entry e the kind
    and the values of its e-th item, whose keep and keep_bias are that entry's own values
    (not per-layer lists)."""
    L = len(plain.layers)
    if isinstance(gate, OracleGate):
        keep, kb = _per_layer(gate.keep, L), _per_layer(gate.keep_bias, L)
        assert len(keep) == L and len(kb) == L, "one keep entry per layer"
        return [(gate.kind, keep[e], kb[e]) for e in range(L)]
    assert len(gate) == L, "one gate per layer"
    return [(g.kind, g.keep, g.keep_bias) for g in gate]


def expand_gate(plain: Plain, gate):
    """Per entry e = 0..L-1: (kind, probabilities, bias keep of layer e + 1).

    An entry of kind units / dropin gates the units of layer e, wherever they go
    (probabilities (n_e,): keep, or the dropin rate); an entry of kind connections gates
    the connections into layer h = e + 1 from all its sources (probabilities {l: (n_h, n_l)})
    and the biases of layer h. When a skip connection from layer l into layer h meets a
    units entry l and a connections entry h - 1, both selectors apply (independent draws
    multiply). Bias keeps are 1 where biases are not gated (dropin, none).
    """
    n = plain.sizes
    out = []
    for e, (kind, k, kb) in enumerate(_entries(plain, gate)):
        if kind not in ("units", "connections", "dropin", "none"):
            raise ValueError(f"unknown gate kind {kind!r}")
        if kind == "none":
            out.append((kind, None, 1.0))
        elif kind in ("units", "dropin"):
            probs = np.broadcast_to(np.asarray(k, np.float64), (n[e],)).copy()
            out.append((kind, probs, 1.0 if kind == "dropin" else float(kb)))
        else:
            h, pairs = e + 1, plain.layers[e]
            widths = [(l, W.shape[1]) for l, W in pairs]
            if isinstance(k, Mapping):
                assert sorted(k) == [l for l, _ in widths], "one entry per source layer"
                # a vector over a source's units is one keep per sending unit: broadcast over rows
                probs = {l: np.broadcast_to(np.asarray(k[l], np.float64), (n[h], w)).copy() for l, w in widths}
            else:
                cat = np.broadcast_to(np.asarray(k, np.float64), (n[h], sum(w for _, w in widths)))
                cols = np.cumsum([0] + [w for _, w in widths])
                probs = {l: cat[:, a:b].copy() for (l, _), a, b in zip(widths, cols[:-1], cols[1:])}
            out.append((kind, probs, float(kb)))
    return out


# --- the selectors ------------------------------------------------------------------------
def _selectors(plain: Plain, gate):
    """Every selector of the network as (address, probability of 1), addresses:
    ("unit", l, j); ("conn", h, l, i, j); ("bias", h) (units) or ("bias", h, i) (connections)."""
    entries = expand_gate(plain, gate)
    feeding = {l for pairs in plain.layers for l, _ in pairs}  # layers with outgoing connections
    out = []
    for e, (kind, probs, kb) in enumerate(entries):
        h = e + 1
        if kind in ("units", "dropin") and e in feeding:
            out += [(("unit", e, j), float(probs[j])) for j in range(plain.sizes[e])]
        elif kind == "connections":
            for l, Phl in probs.items():
                out += [(("conn", h, l, i, j), float(Phl[i, j]))
                        for i in range(Phl.shape[0]) for j in range(Phl.shape[1])]
        b = plain.biases[e]
        if b is not None and kind == "units":
            out.append((("bias", h), kb))
        elif b is not None and kind == "connections":
            out += [(("bias", h, i), kb) for i in range(b.size)]
    return out


def free_selectors(net, gate) -> int:
    """How many selectors have 0 < p < 1: the network has 2^this configurations."""
    return sum(0.0 < p < 1.0 for _, p in _selectors(read_network(net), gate))


@functools.lru_cache(maxsize=32)
def _all_bits(n: int) -> np.ndarray:
    """Every 0/1 row of length n (2^n rows), read-only."""
    bits = np.array(list(itertools.product((0.0, 1.0), repeat=n)), dtype=np.float64).reshape(2**n, n)
    bits.flags.writeable = False
    return bits


def _configurations(selectors, max_free: int):
    """(value of each selector per configuration {address: (M,) or scalar}, P (M,))."""
    free = [(a, p) for a, p in selectors if 0.0 < p < 1.0]
    if len(free) > max_free:
        raise ValueError(f"{len(free)} free selectors: 2^{len(free)} configurations is more than the oracle visits")
    bits = _all_bits(len(free))
    p = np.array([q for _, q in free], dtype=np.float64)
    P = np.prod(np.where(bits == 1.0, p, 1.0 - p), axis=1) if free else np.ones(1)
    value = {a: (1.0 if p >= 1.0 else 0.0) for a, p in selectors if not 0.0 < p < 1.0}
    value.update({a: bits[:, k] for k, (a, _) in enumerate(free)})
    return value, P


def _propagate(plain: Plain, x: np.ndarray, kinds, value, M: int):
    """S^h and O^h (M, n_h) of every layer in every configuration (Eq. 21-23); kinds: the
    kind of every entry (a single kind: the same for all)."""
    L = len(plain.layers)
    kinds = [kinds] * L if isinstance(kinds, str) else list(kinds)
    O = {0: np.broadcast_to(np.asarray(x, np.float64), (M, plain.sizes[0]))}
    S_all, O_all = [], []

    def column(address):
        return np.broadcast_to(value[address], (M,))

    for h in range(1, L + 1):
        n_h = plain.sizes[h]
        S = np.zeros((M, n_h))
        for l, W in plain.layers[h - 1]:
            y = O[l]
            if kinds[l] in ("units", "dropin"):  # the sender's selector (Eq. 22); dropin: set to 1
                d = np.stack([column(("unit", l, j)) for j in range(plain.sizes[l])], axis=1)
                y = d * y if kinds[l] == "units" else np.where(d == 1.0, 1.0, y)
            if kinds[h - 1] == "connections":  # each connection's own selector (Eq. 23)
                D = np.stack([np.stack([column(("conn", h, l, i, j)) for j in range(plain.sizes[l])], axis=1)
                              for i in range(n_h)], axis=1)  # (M, n_h, n_l)
                S += np.einsum("mij,ij,mj->mi", D, W, y)
            else:
                S += y @ W.T
        b = plain.biases[h - 1]
        if b is not None:
            if kinds[h - 1] == "units":  # one selector for the layer's bias
                S += column(("bias", h))[:, None] * b
            elif kinds[h - 1] == "connections":  # one per unit's bias
                S += np.stack([column(("bias", h, i)) for i in range(n_h)], axis=1) * b
            else:
                S += b
        name, prm = plain.transfers[h - 1]
        O[h] = transfer(name, prm, S)[0]
        S_all.append(S)
        O_all.append(O[h])
    return S_all, O_all


def entry_kinds(plain: Plain, gate) -> list:
    """The kind of every entry."""
    return [kind for kind, _, _ in _entries(plain, gate)]


# --- exact statistics -----------------------------------------------------------------------
def exact_moments(net, x, gate, *, max_free: int = 18) -> dict:
    """Exact statistics of every non-input unit for one input x over all 2^(free)
    configurations of the selectors.

    Per layer h (lists indexed h - 1), arrays (n_h,):
      E, var                 E(O) = sum_N P(N) O(N) (Eq. 2, 7), Var(O)
      E_S, var_S             the same for the sums S
      E_dsigma               E(sigma'(S)) (Eq. 220)
      G, Gc, log_G, log_Gc   G = prod_N O(N)^P(N), G' = prod_N (1 - O(N))^P(N) (Eq. 35, 36)
      nwgm                   G / (G + G') (Eq. 37); for a softmax layer G_i / sum_k G_k over
                             the layer's units (Eq. 44), as the package defines it
                             (SampleStats.nwgm, exact.enumerate's docstring); G' of a softmax
                             unit is still prod_N (1 - O_i(N))^P(N)
      mu4, var_logO, var_logOc, var_logit
                             fourth central moment of O and variances of log O, log(1 - O)
                             and log O - log(1 - O): standard errors of sampled estimates
    and over all units concatenated in layer order: cov_O, cov_S (N, N); n_configs, P_total.
    """
    plain = read_network(net)
    value, P = _configurations(_selectors(plain, gate), max_free)
    S_all, O_all = _propagate(plain, np.asarray(x, np.float64), entry_kinds(plain, gate), value, P.size)
    out = {k: [] for k in ("E", "var", "E_S", "var_S", "E_dsigma", "G", "Gc", "log_G", "log_Gc", "nwgm",
                           "mu4", "var_logO", "var_logOc", "var_logit")}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for (name, prm), S, O in zip(plain.transfers, S_all, O_all):
            _, lo, loc, d = transfer(name, prm, S)
            E = P @ O
            out["E"].append(E)
            out["var"].append(P @ (O - E) ** 2)
            out["mu4"].append(P @ (O - E) ** 4)
            ES = P @ S
            out["E_S"].append(ES)
            out["var_S"].append(P @ (S - ES) ** 2)
            out["E_dsigma"].append(P @ d)
            lg, lgc = P @ lo, P @ loc
            out["log_G"].append(lg)
            out["log_Gc"].append(lgc)
            out["G"].append(np.exp(lg))
            out["Gc"].append(np.exp(lgc))
            out["var_logO"].append(P @ (lo - lg) ** 2)
            out["var_logOc"].append(P @ (loc - lgc) ** 2)
            out["var_logit"].append(P @ ((lo - loc) - (lg - lgc)) ** 2)
            if name == "softmax":  # Eq. 44: G_i / sum_k G_k, in logs (no underflow)
                m = np.max(lg)
                e = np.exp(lg - m)
                out["nwgm"].append(e / e.sum())
            else:  # Eq. 37: G / (G + G') = 1 / (1 + G'/G)
                out["nwgm"].append(1.0 / (1.0 + np.exp(lgc - lg)))
        Oc = np.concatenate(O_all, axis=1)
        Sc = np.concatenate(S_all, axis=1)
        for key, Z in (("cov_O", Oc), ("cov_S", Sc)):
            D = Z - P @ Z
            out[key] = D.T @ (P[:, None] * D)
    out["n_configs"] = P.size
    out["P_total"] = P.sum()
    return out


def ensemble_eq167(net, x, gate):
    """The ensemble network (Eq. 24, 26, 167) on a DAG, for one input x: per layer U^h, W^h.

    U^h = sum_{l in sources(h)} (P_hl * W_hl) E(y^l) + p_b b^h and W^h = f_h(U^h),
    W^0 = x, where E(y^l) is the expected gated output with W^l in place of O^l:
    p^l * W^l under a units entry l (Eq. 167), (1 - r^l) W^l + r^l under a dropin entry
    (the package's convention: the unit's expectation E(delta 1 + (1 - delta) O) with O
    replaced by W), W^l itself otherwise; P_hl the keeps of a connections entry h - 1
    (Eq. 26), all ones otherwise (the selectors are independent, so the expectations
    multiply). p_b = keep_bias under a units or connections entry h - 1, else 1.
    """
    plain = read_network(net)
    entries = expand_gate(plain, gate)
    Wv = {0: np.asarray(x, np.float64)}
    U_all, W_all = [], []
    for h in range(1, len(plain.layers) + 1):
        U = np.zeros(plain.sizes[h])
        for l, W in plain.layers[h - 1]:
            kind_l, probs_l, _ = entries[l]
            y = probs_l * Wv[l] if kind_l == "units" else (
                (1.0 - probs_l) * Wv[l] + probs_l if kind_l == "dropin" else Wv[l])
            kind_h, probs_h, _ = entries[h - 1]
            U += ((probs_h[l] * W) if kind_h == "connections" else W) @ y
        if plain.biases[h - 1] is not None:
            U += entries[h - 1][2] * plain.biases[h - 1]
        name, prm = plain.transfers[h - 1]
        Wv[h] = transfer(name, prm, U[None, :])[0][0]
        U_all.append(U)
        W_all.append(Wv[h])
    return U_all, W_all
