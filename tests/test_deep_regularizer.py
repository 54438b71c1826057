"""Section 11.5 exactly, on small deep logistic networks with every layer gated.

Criteria, fixed from the paper's reasoning before any number was measured:

C1  top layer: Eq. 177 linearises sigma in w_ij delta_j O_j, so w A is the first-order part
    of E(dE_D/dw) - dE_ENS/dw and what is left is second order. With small weights (the
    start of learning, Sections 8, 11.7) or keep near 1, Eq. 179 and Eq. 181 must be closer
    to the exact gradient than dE_ENS/dw alone.
C2  lower layers: "with approximations, similar results appear to be true for deeper
    layers" (Eq. 183-188): in the same regimes Eq. 188 must be closer than dE_ENS/dw alone.
C3  Eq. 183's independence assumption is "increasingly accurate for units closer to the
    input layer": its relative error must not grow from one lower layer to the one below.
Eq. 182 is given no criterion: it rests on E(O O) ~ W (Eq. 117), which Section 9.6 calls a
rough upper bound, poor at the start of learning.
"""
import itertools

import numpy as np
import pytest

import dropengine as de
from dropengine.analysis import deep_regularizer


def make(sizes, scale, seed):
    rng = np.random.default_rng(seed)
    net = de.Network([rng.normal(0, scale, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])], None, "logistic",
                     dtype=np.float64)
    X = rng.random((3, sizes[0]))
    T = rng.integers(0, 2, (3, sizes[-1])).astype(float)
    return net, X, T


# (sizes, weight scale, keep per layer, seed): all layers gated, keep < 1 everywhere
SMALL = {"3-4-3-1 small": ((3, 4, 3, 1), 0.25, [0.8, 0.5, 0.5], 1),
         "2-3-3-2-1 small": ((2, 3, 3, 2, 1), 0.25, [0.8, 0.5, 0.5, 0.5], 2),
         "3-4-3-1 keep 0.9": ((3, 4, 3, 1), 1.0, [0.9, 0.9, 0.9], 3)}
LARGE = {"2-3-3-2-1 large": ((2, 3, 3, 2, 1), 2.0, [0.8, 0.5, 0.5, 0.5], 4)}


def brute_force(net, X, T, keep):
    """E(dE_D/dw) by plain loops over every mask (Eq. 172-175), and Var(delta_j O_j)."""
    Ws = [np.asarray(w, np.float64) for w in net.weights]
    sizes = net.sizes
    gates = [(h, j) for h in range(len(Ws)) for j in range(sizes[h])]
    grads = [np.zeros((len(X),) + w.shape) for w in Ws]
    m1 = [np.zeros((len(X), n)) for n in sizes[:-1]]
    m2 = [np.zeros((len(X), n)) for n in sizes[:-1]]
    for n, (x, t) in enumerate(zip(X, T)):
        for bits in itertools.product((0, 1), repeat=len(gates)):
            prob, d = 1.0, [np.zeros(k) for k in sizes[:-1]]
            for (h, j), b in zip(gates, bits):
                pk = np.broadcast_to(keep[h], (sizes[h],))[j]
                prob *= pk if b else 1 - pk
                d[h][j] = b
            O, ys, Os = x, [], []
            for h, W in enumerate(Ws):
                ys.append(d[h] * O)
                O = 1 / (1 + np.exp(-(W @ ys[-1])))
                Os.append(O)
            gS = O - t  # Eq. 174, lam = 1
            for h in range(len(Ws) - 1, -1, -1):
                grads[h][n] += prob * np.outer(gS, ys[h])
                m1[h][n] += prob * ys[h]
                m2[h][n] += prob * ys[h] ** 2
                if h:
                    gS = (Ws[h].T @ gS) * d[h] * Os[h - 1] * (1 - Os[h - 1])
    return grads, [b - a * a for a, b in zip(m1, m2)]


@pytest.mark.parametrize("name", list(SMALL) + list(LARGE))
def test_exact_gradient_matches_brute_force(name):
    sizes, scale, keep, seed = {**SMALL, **LARGE}[name]
    net, X, T = make(sizes, scale, seed)
    r = deep_regularizer(net, X, T, keep)
    assert r.n_subnetworks == 2 ** sum(sizes[:-1])
    grads, var_dO = brute_force(net, X, T, keep)
    for t, g in zip(r.layers, grads):
        np.testing.assert_allclose(t.exact, g, rtol=1e-12, atol=1e-12 * np.abs(g).max())
    # Eq. 181's coefficient lam sigma'(U_i) Var(delta_j O_j), with the brute-force variance
    top = r.layers[-1]
    W = np.asarray(net.weights[-1])
    ens = top.ensemble
    s1 = (top.approx["eq181"] - ens) / W
    u_prime = s1[..., :1] / var_dO[-1][:, None, :1]
    np.testing.assert_allclose(s1, u_prime * var_dO[-1][:, None, :], rtol=1e-12)


@pytest.mark.parametrize("name", list(SMALL))
def test_c1_top_layer_eq181_helps(name):
    sizes, scale, keep, seed = SMALL[name]
    e = deep_regularizer(*make(sizes, scale, seed), keep).layers[-1].rel_error
    assert e["eq181"] < e["ensemble"], e


EQ179_KEEP09 = pytest.mark.xfail(strict=True, reason=(
    "finding: on 3-4-3-1, weights N(0, 1), keep 0.9, Eq. 179 errs by 0.0639 (relative) against 0.0214 for "
    "dE_ENS/dw alone (Eq. 181: 0.0048). Its A = lam(E(sigma'(S_ij)) p E(OO) - sigma'(U) p^2 W^2) mixes the "
    "expansion points S_ij and U and does not vanish at p = 1 (test_keep_one)"))


@pytest.mark.parametrize("name", [n if "0.9" not in n else pytest.param(n, marks=EQ179_KEEP09) for n in SMALL])
def test_c1_top_layer_eq179_helps(name):
    sizes, scale, keep, seed = SMALL[name]
    e = deep_regularizer(*make(sizes, scale, seed), keep).layers[-1].rel_error
    assert e["eq179"] < e["ensemble"], e


C2_FAILS = {
    "3-4-3-1 small": "layer 0: Eq. 188 errs by 0.0686 against 0.0684 for dE_ENS/dw alone (layer 1: 0.07376 vs "
                     "0.07384); ||w A|| is 1.5% of ||E(dE_D/dw) - dE_ENS/dw||",
    "2-3-3-2-1 small": "layers 0, 2: Eq. 188 errs by 0.010055 and 0.0089974 against 0.0097875 and 0.0089957 "
                       "for dE_ENS/dw alone (layer 1: 0.012127 vs 0.012136)",
    "3-4-3-1 keep 0.9": "layer 1: Eq. 188 errs by 0.0201 against 0.0182 for dE_ENS/dw alone (layer 0: 0.0143 "
                        "vs 0.0273)",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=f"finding: {why}"))
                                  for n, why in C2_FAILS.items()])
def test_c2_lower_layers_regulariser_helps(name):
    sizes, scale, keep, seed = SMALL[name]
    for t in deep_regularizer(*make(sizes, scale, seed), keep).layers[:-1]:
        assert t.rel_error["eq188"] < t.rel_error["ensemble"], (t.layer, t.rel_error)


def test_keep_one_consistency():
    """Without dropout E(dE_D/dw) = dE_ENS/dw exactly; Eq. 181, 183, 187, 188 reduce to it
    (their corrections carry Var(delta O) = 0), while Eq. 179, 182 and 186 keep a spurious term."""
    net, X, T = make((3, 4, 3, 1), 1.0, 3)
    r = deep_regularizer(net, X, T, [1.0, 1.0, 1.0])
    for t in r.layers:
        np.testing.assert_allclose(t.exact, t.ensemble, rtol=1e-13, atol=1e-16)
        for k in ("eq181",) if t.top else ("eq183", "eq187", "eq188"):
            assert t.rel_error[k] < 1e-14, (t.layer, k)
        for k in ("eq179", "eq182") if t.top else ("eq186",):
            assert t.rel_error[k] > 0.05, (t.layer, k)


@pytest.mark.parametrize("name", ["3-4-3-1 small", "2-3-3-2-1 small"])
def test_c3_independence_improves_towards_the_input(name):
    sizes, scale, keep, seed = SMALL[name]
    lower = deep_regularizer(*make(sizes, scale, seed), keep).layers[:-1]
    errs = [t.rel_error["eq183"] for t in lower]
    assert all(a <= b for a, b in zip(errs, errs[1:])), errs


def test_report_and_A():
    r = deep_regularizer(*make(*LARGE["2-3-3-2-1 large"][:2], 4), LARGE["2-3-3-2-1 large"][2])
    text = r.format()
    assert "layer 3 (top)" in text and "A[eq188]" in text and "A[effective]" in text
    for t in r.layers:
        assert set(t.A) == ({"eq179", "eq181", "eq182"} if t.top else {"eq188"})
        for a in t.A.values():
            assert a.shape == t.exact.shape and np.isfinite(a).all()
    assert (r.layers[-1].A["eq181"] >= 0).all()  # lam sigma' Var >= 0: a true decay at the top


@pytest.mark.parametrize("args,err,match", [
    (dict(keep=[0.5, 0.5]), ValueError, "keep"),
    (dict(keep=[0.5, 1.5, 0.5]), ValueError, r"keep\[1\]"),
    (dict(keep=[0.0, 0.5, 0.5]), ValueError, r"keep\[0\]"),
    (dict(targets=np.full((3, 1), 2.0)), ValueError, "targets"),
    (dict(inputs=np.ones((3, 2))), ValueError, "inputs"),
    (dict(net="net"), TypeError, "net"),
    (dict(max_subnetworks=100), ValueError, "max_subnetworks"),
])
def test_bad_input(args, err, match):
    net, X, T = make((3, 4, 3, 1), 0.5, 0)
    kw = {**dict(net=net, inputs=X, targets=T, keep=[0.8, 0.5, 0.5]), **args}
    with pytest.raises(err, match=match):
        deep_regularizer(kw.pop("net"), kw.pop("inputs"), kw.pop("targets"), kw.pop("keep"), **kw)


def test_tanh_layer_refused():
    net = de.Network([np.ones((2, 2)), np.ones((1, 2))], None, ["tanh", "logistic"])
    with pytest.raises(ValueError, match="logistic"):
        deep_regularizer(net, np.ones((1, 2)), np.ones((1, 1)), [0.5, 0.5])
