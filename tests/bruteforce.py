"""Brute-force exact enumeration of every dropout subnetwork of a small network.

The oracle for the sampler: each configuration of the Bernoulli selectors is visited
with its probability P(N), and E, Var, G, G', NWGM (Eq. 35-37) and the moments of
S and log O are formed as weighted sums. Exponential in the number of gates; fine for
networks with up to ~16 of them.
"""
import itertools

import numpy as np

from dropengine._reference import transfer
from dropengine._engine import GateKind, gate_spec


def enumerate_exact(net, x, gate, pairs=()):
    """Exact distribution moments for one input x. Returns dict of per-layer lists, and
    under "cov" the covariance of each pair ((h_a, i_a), (h_b, i_b)) of outputs."""
    kind, p, keep_bias, *_ = gate_spec(gate, net)
    x = np.asarray(x, dtype=np.float64)
    sites = []  # (layer, kind, index, probability of 1)
    for h, (W, b) in enumerate(zip(net.weights, net.biases)):
        n_out, n_in = W.shape
        pv = np.broadcast_to(p[h], (n_out * n_in,) if kind == GateKind.connections else (n_in,)) if p[h].size == 1 else p[h]
        if kind in (GateKind.units, GateKind.dropin):
            sites += [(h, "unit", j, pv[j]) for j in range(n_in)]
        elif kind == GateKind.connections:
            sites += [(h, "conn", e, pv[e]) for e in range(n_out * n_in)]
        if b is not None and kind == GateKind.units:
            sites.append((h, "bias", 0, keep_bias[h]))
        if b is not None and kind == GateKind.connections:
            sites += [(h, "bias", i, keep_bias[h]) for i in range(n_out)]
    # Sites with probability 0 or 1 are deterministic: do not branch on them.
    free = [k for k, st in enumerate(sites) if 0 < st[3] < 1]
    acc = []
    for bits in itertools.product((0, 1), repeat=len(free)):
        delta = np.array([1.0 if st[3] >= 1 else 0.0 for st in sites])
        delta[free] = bits
        P = np.prod([sites[k][3] if bit else 1 - sites[k][3] for k, bit in zip(free, bits)])
        S_all, O_all = _propagate(net, x, kind, sites, delta)
        acc.append((P, S_all, O_all))
    out = {k: [] for k in ("E", "var", "G", "Gc", "nwgm", "E_S", "var_S", "E_dsigma",
                           "var_logO", "var_logOc", "var_logit", "mu4")}
    Ps = np.array([a[0] for a in acc])
    for h, f in enumerate(net.transfers):
        S = np.stack([a[1][h] for a in acc])
        O = np.stack([a[2][h] for a in acc])
        _, lo, loc, d = transfer(f, S)
        w = Ps[:, None]
        E = (w * O).sum(0)
        with np.errstate(invalid="ignore"):
            lg, lgc = (w * lo).sum(0), (w * loc).sum(0)
            out["var_logO"].append((w * (lo - lg) ** 2).sum(0))
            out["var_logOc"].append((w * (loc - lgc) ** 2).sum(0))
            out["var_logit"].append((w * ((lo - loc) - (lg - lgc)) ** 2).sum(0))
        out["E"].append(E)
        out["var"].append((w * (O - E) ** 2).sum(0))
        out["mu4"].append((w * (O - E) ** 4).sum(0))
        out["G"].append(np.exp(lg))
        out["Gc"].append(np.exp(lgc))
        if f.name == "softmax":  # Eq. 44: normalized over the layer's units
            out["nwgm"].append(np.exp(lg) / np.exp(lg).sum())
        else:  # Eq. 37
            out["nwgm"].append(np.exp(lg) / (np.exp(lg) + np.exp(lgc)))
        ES = (w * S).sum(0)
        out["E_S"].append(ES)
        out["var_S"].append((w * (S - ES) ** 2).sum(0))
        out["E_dsigma"].append((w * d).sum(0))
    out["n_configs"] = len(acc)
    cov = []
    for (ha, ia), (hb, ib) in pairs:
        Oa = np.array([a[2][ha][ia] for a in acc])
        Ob = np.array([a[2][hb][ib] for a in acc])
        cov.append((Ps * (Oa - (Ps * Oa).sum()) * (Ob - (Ps * Ob).sum())).sum())
    out["cov"] = np.array(cov)
    return out


def _propagate(net, x, kind, sites, delta):
    a = x.copy()
    S_all, O_all = [], []
    for h, (W, b, f) in enumerate(zip(net.weights, net.biases, net.transfers)):
        W = W.astype(np.float64)
        n_out, n_in = W.shape
        mine = [(st, d) for st, d in zip(sites, delta) if st[0] == h]
        unit = np.ones(n_in)
        conn = np.ones(n_out * n_in)
        bias = np.ones(n_out)
        for (_, what, idx, _), d in mine:
            if what == "unit":
                unit[idx] = d
            elif what == "conn":
                conn[idx] = d
            elif kind == GateKind.units:  # one bias gate for the layer
                bias[:] = d
            else:
                bias[idx] = d
        if kind == GateKind.dropin:  # dropin: a selected unit is set to 1 (Section 11.6)
            a_in = np.where(unit > 0, 1.0, a)
        else:
            a_in = a * unit
        S = (conn.reshape(n_out, n_in) * W) @ a_in
        if b is not None:
            S = S + bias * b.astype(np.float64)
        O = transfer(f, S[None, :])[0][0]
        S_all.append(S)
        O_all.append(O)
        a = O
    return S_all, O_all
