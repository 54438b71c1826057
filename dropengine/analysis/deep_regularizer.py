"""Section 11.5 exactly: the expected dropout gradient of a small deep logistic network
beside the paper's approximations (Eq. 179, 181, 182 at the top; 183, 186-188 below)
and the adaptive weight-decay coefficient A, whose sign the paper leaves open.

Notation of Eq. 166-175: unit j of layer l is kept with probability p_j^l (selector
delta_j^l), O_i^h = sigma(S_i^h), S_i^h = sum_j w_ij^{hl} delta_j^l O_j^l; the ensemble
network has U_i^h = sum_j w_ij^{hl} p_j^l W_j^l and W_i^h = sigma(U_i^h) (Eq. 167).
Every expectation E(.) here is exact: all 2^(gates) subnetworks are enumerated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _engine as engine
from ..exact import dropout_gradient
from ..gates import Dropout
from ..network import Network

__all__ = ["deep_regularizer", "DeepRegularizer", "LayerTerms"]


@dataclass(frozen=True)
class LayerTerms:
    """One weight matrix w^{hl} (units j of layer l = layer to units i of layer h = layer + 1).

    Arrays have shape (n_inputs, n_out, n_in), one gradient per training input.

    ``exact``
        E(dE_D/dw) over all subnetworks (Eq. 172-175)
    ``ensemble``
        dE_ENS/dw of the ensemble network (Eq. 168-171)
    ``approx``
        name -> the paper's approximation (see deep_regularizer)
    ``rel_error``
        name -> ||approx - exact|| / ||exact|| (Frobenius over inputs and weights),
        with "ensemble" for the plain ensemble gradient
    ``A``
        name -> the predicted decay coefficient (Eq. 180, 188)
    ``A_effective``
        (exact - ensemble) / w: the coefficient the exact gradient implies

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> top = A.deep_regularizer(net, x, np.array([[1.0]]), [0.5, 0.5]).layers[1]
    >>> top.layer, top.exact.shape, sorted(top.approx)
    (1, (1, 1, 2), ['eq179', 'eq181', 'eq182'])
    """

    layer: int
    top: bool
    exact: np.ndarray
    ensemble: np.ndarray
    approx: dict
    rel_error: dict
    A: dict
    A_effective: np.ndarray

    def sign_of_A(self) -> dict:
        """name -> (fraction of weights/inputs with A > 0, min A, max A), "effective" included."""
        out = {k: (float((a > 0).mean()), float(a.min()), float(a.max())) for k, a in self.A.items()}
        e = self.A_effective[np.isfinite(self.A_effective)]
        out["effective"] = (float((e > 0).mean()), float(e.min()), float(e.max())) if e.size else (np.nan,) * 3
        return out


@dataclass(frozen=True)
class DeepRegularizer:
    """What ``deep_regularizer`` returns: ``layers``, one LayerTerms per weight matrix, and
    ``n_subnetworks``, how many subnetworks were enumerated.

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> r = A.deep_regularizer(net, x, np.array([[1.0]]), [0.5, 0.5])
    >>> [layer.top for layer in r.layers]
    [False, True]
    """

    layers: list
    n_subnetworks: int

    def format(self) -> str:
        """A plain-text table: relative errors and the sign of A, layer by layer."""
        lines = []
        for t in self.layers:
            errs = "  ".join(f"{k} {v:.3g}" for k, v in t.rel_error.items())
            lines.append(f"layer {t.layer}{' (top)' if t.top else ''}: rel. error {errs}")
            for k, (frac, lo, hi) in t.sign_of_A().items():
                lines.append(f"    A[{k}]: {frac:.0%} > 0, range [{lo:.3g}, {hi:.3g}]")
        return "\n".join(lines)


def _check(net, inputs, targets, keep):
    if not isinstance(net, Network):
        raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")
    engine.require_chain(net, "analysis.deep_regularizer")
    if any(f.name != "logistic" for f in net.transfers):
        raise ValueError("net: every layer must be logistic (Section 11.5), got "
                         f"{[f.name for f in net.transfers]}")
    X = np.asarray(inputs, np.float64)
    X = X[None, :] if X.ndim == 1 else X
    T = np.asarray(targets, np.float64)
    T = T[None, :] if T.ndim == 1 else T
    if X.ndim != 2 or X.shape[1] != net.sizes[0] or not np.isfinite(X).all():
        raise ValueError(f"inputs must be finite, of shape (n, {net.sizes[0]}), got {X.shape}")
    if T.shape != (X.shape[0], net.sizes[-1]) or not ((T >= 0) & (T <= 1)).all():
        raise ValueError(f"targets must lie in [0, 1], of shape {(X.shape[0], net.sizes[-1])}, got {T.shape}")
    if not isinstance(keep, (list, tuple)) or len(keep) != net.n_layers:
        raise ValueError(f"keep must be a list of {net.n_layers} keep probabilities (one per weight layer, "
                         "scalar or one per input unit)")
    p = []
    for h, k in enumerate(keep):
        v = np.broadcast_to(np.asarray(k, np.float64), (net.sizes[h],)).copy()
        if not ((v > 0) & (v <= 1)).all():
            raise ValueError(f"keep[{h}] must lie in (0, 1], got {k!r}")
        p.append(v)
    return X, T, p


def _enumerate(net, x, masks):
    """Sums S and outputs O of every subnetwork (rows) for one input (Eq. 166)."""
    Ws = [np.asarray(w, np.float64) for w in net.weights]
    bs = [np.zeros(w.shape[0]) if b is None else np.asarray(b, np.float64) for w, b in zip(Ws, net.biases)]
    O = np.broadcast_to(x, (masks[0].shape[0], x.size))
    Ss, Os = [], [O]
    for h, W in enumerate(Ws):
        S = (masks[h] * O) @ W.T + bs[h]
        O = _sig(net.transfers[h], S)[0]
        Ss.append(S), Os.append(O)
    return Ss, Os


def _sig(f, S):
    """sigma, sigma' = lam sigma (1 - sigma), sigma'' = lam^2 sigma (1 - sigma)(1 - 2 sigma) (Appendix D,
    whose printed sigma'' lacks one factor lam)."""
    o = 1.0 / (1.0 + f.c * np.exp(-f.lam * S))
    return o, f.lam * o * (1 - o), f.lam**2 * o * (1 - o) * (1 - 2 * o)


def deep_regularizer(net, inputs, targets, keep, *, max_subnetworks: int = 2**20) -> DeepRegularizer:
    """E(dE_D/dw) of a deep logistic network (relative entropy, Eq. 156) over all
    subnetworks, beside the approximations of Section 11.5, for every weight layer.

    ``keep[h]``: keep probabilities p^l of the units feeding weight layer h (scalar or
    per unit; every layer may be gated, the inputs included). Biases, if any, are never
    dropped. sigma' and sigma'' are the true derivatives of 1 / (1 + c e^{-lam S}); the
    paper's Eq. 163 and Appendix D drop a factor lam, which matters only for lam != 1.

    Top layer T (unit i, presynaptic j in layer l), with dE_ENS/dw = -lam (t_i - W_i) p_j W_j:

    * ``eq179``: dE_ENS/dw + w A,  A = lam (E(sigma'(S_ij)) p_j E(O_j O_j) - sigma'(U_i) p_j^2 W_j^2),
      S_ij = S_i - w_ij delta_j O_j, the expectations exact                           (Eq. 178-180)
    * ``eq181``: dE_ENS/dw + w A,  A = lam sigma'(U_i) Var(delta_j O_j), Var exact      (Eq. 181)
    * ``eq182``: (-lam (t_i - W_i) + lam w sigma'(U_i)(1 - p_j W_j)) p_j W_j, i.e. A =
      lam sigma'(U_i) p_j W_j (1 - p_j W_j) from E(O_j O_j) ~ W_j (Eq. 117)             (Eq. 182)

    Lower layers (unit i of hidden layer h, kept with p_i^h, feeding units k above), with
    B_i = sum_k dE_D/dS_k w_ki the error reaching i:

    * ``eq183``: E(B_i) E(delta_i sigma'(S_i) delta_j O_j), both factors exact: the
      independence assumption alone. The paper's Eq. 183 carries p_i^h twice (in E(B_i
      delta_i) and again inside the second factor); ``eq183_printed`` = p_i x ``eq183`` shows
      that reading, which cannot reduce to dE_ENS/dw at leading order, so Eq. 186-188 use one p_i
    * ``eq186``: E(B_i) p_i p_j [sigma'(U_i) E(O_j) - sigma''(U_i) p_j w E(O_j)^2
      + E(sigma''(S_ij)) w E(O_j O_j)]                                                 (Eq. 184-186)
    * ``eq187``: E(B_i) [p_i p_j E(O_j) sigma'(U_i) + p_i sigma''(U_i) w Var(delta_j O_j)]  (Eq. 187)
    * ``eq188``: dE_ENS/dw + w A,  A = (sum_k dE_ENS/dU_k w_ki) p_i sigma''(U_i) Var(delta_j O_j),
      i.e. Eq. 187 with E(dE_D/dS_k) ~ dE_ENS/dU_k and E(O_j) ~ W_j                      (Eq. 188)

    The exact gradient and the ensemble gradient come from dropengine.exact.dropout_gradient;
    the moments (E(O), E(O O), E(sigma'(S_ij)), E(sigma''(S_ij)), E(dE_D/dS)) from the same
    enumeration of masks here.

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine import analysis as A
    >>> net = de.Network.random([3, 2, 1], seed=0)
    >>> x = np.array([[1.0, 0.5, -1.0]])
    >>> r = A.deep_regularizer(net, x, np.array([[1.0]]), [0.5, 0.5])
    >>> r.n_subnetworks, len(r.layers), r.layers[0].exact.shape
    (32, 2, (1, 2, 3))
    """
    X, T, p = _check(net, inputs, targets, keep)
    L = net.n_layers
    n_gates = sum(net.sizes[:-1])
    if 2**n_gates > max_subnetworks:
        raise ValueError(f"max_subnetworks: {n_gates} gates make 2^{n_gates} subnetworks, more than {max_subnetworks}")
    g = dropout_gradient(net, X, T, Dropout([list(v) for v in p]), loss="relative_entropy",
                         max_subnetworks=max_subnetworks)
    C = 2**n_gates
    bits = ((np.arange(C)[:, None] >> np.arange(n_gates)) & 1).astype(np.float64)
    pall = np.concatenate(p)
    P = np.prod(np.where(bits > 0, pall, 1 - pall), axis=1)
    cuts = np.cumsum([0] + list(net.sizes[:-1]))
    masks = [bits[:, cuts[h]:cuts[h + 1]] for h in range(L)]
    Ws = [np.asarray(w, np.float64) for w in net.weights]
    fs = net.transfers
    approx = [dict() for _ in range(L)]
    A = [dict() for _ in range(L)]
    for x, t in zip(X, T):
        Ss, Os = _enumerate(net, x, masks)
        # the ensemble network (Eq. 167) and its backpropagated error (Eq. 169-170)
        Wn, Us = [x], []
        for h, W in enumerate(Ws):
            U = (p[h] * Wn[-1]) @ W.T + (0 if net.biases[h] is None else np.asarray(net.biases[h], np.float64))
            Us.append(U), Wn.append(_sig(fs[h], U)[0])
        dU = [None] * L
        dU[-1] = fs[-1].lam * (Wn[-1] - t)
        for h in range(L - 1, 0, -1):
            dU[h - 1] = (dU[h] @ Ws[h]) * p[h] * _sig(fs[h - 1], Us[h - 1])[1]
        # dropout backpropagated errors dE_D/dS per subnetwork (Eq. 173-174)
        gS = [None] * L
        gS[-1] = fs[-1].lam * (Os[-1] - t)
        for h in range(L - 1, 0, -1):
            gS[h - 1] = (gS[h] @ Ws[h]) * masks[h] * _sig(fs[h - 1], Ss[h - 1])[1]
        for h in range(L):
            W, ph, f = Ws[h], p[h], fs[h]
            EO, EOO = P @ Os[h], P @ Os[h] ** 2
            var_dO = ph * EOO - ph**2 * EO**2  # Var(delta_j O_j)
            Wj = Wn[h]
            _, s1U, s2U = _sig(f, Us[h])
            ens = dU[h][:, None] * (ph * Wj)[None, :]  # Eq. 168-171
            Sij = Ss[h][:, :, None] - W[None] * (masks[h] * Os[h])[:, None, :]  # S_i - w_ij delta_j O_j
            _, s1, s2 = _sig(f, Sij)
            Es1, Es2 = np.tensordot(P, s1, axes=1), np.tensordot(P, s2, axes=1)
            terms = {}
            if h == L - 1:
                lam = f.lam
                a179 = lam * (Es1 * ph * EOO - s1U[:, None] * (ph * Wj) ** 2)
                a181 = lam * s1U[:, None] * var_dO[None, :]
                a182 = lam * s1U[:, None] * (ph * Wj * (1 - ph * Wj))[None, :]
                terms = {"eq179": ens + W * a179, "eq181": ens + W * a181, "eq182": ens + W * a182}
                coefs = {"eq179": a179, "eq181": a181, "eq182": a182}
            else:
                pi = p[h + 1]
                EB = (P @ gS[h + 1]) @ Ws[h + 1]  # E(B_i) = sum_k E(dE_D/dS_k) w_ki
                _, s1S, _ = _sig(f, Ss[h])
                E_ds = np.tensordot(P, (masks[h + 1] * s1S)[:, :, None] * (masks[h] * Os[h])[:, None, :], axes=1)
                e183 = EB[:, None] * E_ds
                e186 = EB[:, None] * pi[:, None] * ph * (s1U[:, None] * EO - s2U[:, None] * ph * W * EO**2
                                                         + Es2 * W * EOO)
                e187 = EB[:, None] * (pi[:, None] * ph * EO * s1U[:, None] + pi[:, None] * s2U[:, None] * W * var_dO)
                a188 = ((dU[h + 1] @ Ws[h + 1]) * pi * s2U)[:, None] * var_dO[None, :]
                terms = {"eq183": e183, "eq183_printed": pi[:, None] * e183, "eq186": e186, "eq187": e187,
                         "eq188": ens + W * a188}
                coefs = {"eq188": a188}
            for k, v in terms.items():
                approx[h].setdefault(k, []).append(v)
            for k, v in coefs.items():
                A[h].setdefault(k, []).append(v)
            approx[h].setdefault("_ens", []).append(ens)
    layers = []
    for h in range(L):
        exact, ens_g = g.expected[h], g.ensemble[h]
        mine = np.stack(approx[h].pop("_ens"))
        if not np.allclose(mine, ens_g, rtol=1e-10, atol=1e-14):  # two derivations of Eq. 168-171 must agree
            raise RuntimeError("ensemble gradient mismatch with dropengine.exact.dropout_gradient")
        ap = {k: np.stack(v) for k, v in approx[h].items()}
        nrm = np.linalg.norm(exact)
        rel = {"ensemble": float(np.linalg.norm(ens_g - exact) / nrm)}
        rel.update({k: float(np.linalg.norm(v - exact) / nrm) for k, v in ap.items()})
        with np.errstate(divide="ignore", invalid="ignore"):
            a_eff = np.where(Ws[h] != 0, (exact - ens_g) / Ws[h], np.nan)
        layers.append(LayerTerms(h, h == L - 1, exact, ens_g, ap, rel, {k: np.stack(v) for k, v in A[h].items()},
                                 a_eff))
    return DeepRegularizer(layers, C)
