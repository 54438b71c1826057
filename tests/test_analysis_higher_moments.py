"""Section 9.6's Eq. 123 with its second term (the term in sigma' that Eq. 124 drops) and
Appendix C (Eq. 212-218), against exact enumeration of small networks."""
import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dropengine import analysis as A
from dropengine.analysis import higher_moments as H
from dropengine.exact import enumerate as enumerate_subnetworks

LOGISTIC = de.Logistic(c=1.5, lam=2.0)  # c, lambda != 1 so that a misplaced c or lambda shows


def _with_weight(net, layer, i, j, w):
    Ws = [m.copy() for m in net.weights]
    Ws[layer][i, j] = w
    return de.Network(Ws, net.biases, net.transfers)


# --- Section 9.6, Eq. 123 ---------------------------------------------------------------

@pytest.mark.parametrize("gate", [de.Dropout([1.0, 0.6]), de.Dropin([0.0, 0.3])], ids=["dropout", "dropin"])
def test_eq123_second_term_is_the_first_order_term_in_w_ij(gate):
    """Eq. 120 is a first-order expansion in w_ij: with the exact E(sigma'(A)) and E(O_j^2)
    put into the second term, the error of Eq. 123 shrinks like w_ij^2 (quartered when
    w_ij halves) while that of Eq. 124, which drops the term, shrinks like w_ij (halved).
    The input is ungated, so that A (unit i without j) is independent of O_j, as Eq. 123
    assumes; exact enumeration gives every expectation."""
    base = de.Network.random([5, 4, 3], LOGISTIC, seed=3, dtype=np.float64, scale=0.8)
    X = np.random.default_rng(4).normal(size=(3, 5))
    layer, i, j = 1, 2, 1
    pair = [((1, i), (0, j))]
    without = enumerate_subnetworks(_with_weight(base, layer, i, j, 0.0), X, gate, pairs=pair)
    E_dsigma_A = without.E_dsigma[1][:, i]  # with w_ij = 0, S_i is A exactly
    E_OjOj = without.var[0][:, j] + without.E[0][:, j] ** 2  # O_j does not depend on w_ij
    errors = {"eq123": [], "eq124": []}
    for w in (0.04, 0.02, 0.01):
        net = _with_weight(base, layer, i, j, w)
        exact = enumerate_subnetworks(net, X, gate, pairs=pair).E_prod[:, 0]
        cp = A.connected_pair(net, X, gate, layer, i, j)
        # both sides minus the w_ij = 0 value, so that only the w_ij-dependence is compared
        # (E(sigma(A)) E(O_j) is exact there, where Eq. 121's W_ij is an approximation)
        d_exact = exact - without.E_prod[:, 0]
        errors["eq123"].append(np.abs(d_exact - A.eq123_second_term(cp, E_OjOj, E_dsigma_A)))
        errors["eq124"].append(np.abs(d_exact))
    for key, order in (("eq123", 4.0), ("eq124", 2.0)):
        e = np.array(errors[key])
        assert np.all(e[1:] > 0)
        ratio = e[:-1] / e[1:]
        assert np.all(np.abs(ratio - order) < 0.2 * order), (key, ratio)


def test_eq123_estimates_of_dsigma_and_E_OjOj():
    net = de.Network.random([5, 4, 3], LOGISTIC, seed=7, dtype=np.float64, scale=0.8)
    X = np.random.default_rng(8).normal(size=(4, 5))
    p = 0.6
    cp = A.connected_pair(net, X, de.Dropout(p), layer=1, i=0, j=2)
    lam = LOGISTIC.lam
    # sigma'(U_ij) = lambda W_ij (1 - W_ij) for the logistic with any c
    assert_allclose(cp.dsigma_ij, lam * cp.W_ij * (1 - cp.W_ij), rtol=1e-12)
    w = net.weights[1][0, 2]
    assert_allclose(A.eq123_second_term(cp), cp.dsigma_ij * w * p * cp.W_j ** 2, rtol=1e-12)  # Eq. 118
    assert_allclose(A.eq123_second_term(cp, "eq117"), cp.dsigma_ij * w * p * cp.W_j, rtol=1e-12)  # Eq. 117
    # the refinement: lambda W_ij below 1/2, lambda (1 - W_ij) above
    ref = A.eq123_second_term(cp, dsigma="lambda_sigma") / (w * p * cp.W_j ** 2)
    assert_allclose(ref, np.where(cp.W_ij <= 0.5, lam * cp.W_ij, lam * (1 - cp.W_ij)), rtol=1e-12)
    assert_allclose(A.eprod_eq123(cp, 0.3, 0.1), cp.eprod + 0.1 * w * p * 0.3, rtol=1e-12)
    # to first order in w_ij, Eq. 123 with Var(O_j) ~ 0 (Eq. 118) is W_i W_j (Eq. 119):
    # W_i ~ W_ij + sigma' w_ij p_j W_j (Eq. 122)
    assert_allclose(A.eprod_eq123(cp), cp.eprod_independent, atol=5 * (w * p) ** 2)


def test_lambda_sigma_refinement_near_0_and_1():
    """Where unit i is saturated, sigma' = lambda sigma (1 - sigma) ~ lambda sigma (near 0)
    or lambda (1 - sigma) (near 1). The refinement replaces E(sigma(A)) by W_ij, so against
    the exact E(sigma'(A)) (enumeration of the network with w_ij = 0, where S_i = A) its
    error is at most lambda |W_ij - E(sigma(A))| + lambda E(sigma(A)^2) near 0 (since
    lambda sigma - sigma' = lambda sigma^2), and with (1 - sigma) for sigma near 1."""
    base = de.Network.random([5, 4, 3], LOGISTIC, seed=3, dtype=np.float64, scale=0.5)
    X = np.random.default_rng(4).normal(size=(4, 5))
    gate = de.Dropout([1.0, 0.5])
    i, j, lam = 2, 1, LOGISTIC.lam
    for shift in (-3.0, 3.0):
        bs = [b.copy() for b in base.biases]
        bs[1][i] += shift  # lambda = 2: U_i moves by 6, W_i to about 0.01 or 0.99
        net = de.Network(base.weights, bs, base.transfers)
        cp = A.connected_pair(net, X, gate, 1, i, j)
        near = np.minimum(cp.W_ij, 1 - cp.W_ij)
        assert np.all(near < 0.02)
        # within the factor 1 / (1 - near) of sigma'(U_ij) = lambda W_ij (1 - W_ij)
        assert_allclose(cp.lambda_sigma_ij, cp.dsigma_ij / (1 - near), rtol=1e-12)
        ex = enumerate_subnetworks(_with_weight(net, 1, i, j, 0.0), X, gate)
        E_sigma, E_sigma2, E_dsigma = ex.E[1][:, i], ex.var[1][:, i] + ex.E[1][:, i] ** 2, ex.E_dsigma[1][:, i]
        if shift < 0:  # near 0: E(sigma^2)
            gap = E_sigma2
        else:  # near 1: E((1 - sigma)^2)
            gap = 1 - 2 * E_sigma + E_sigma2
        bound = lam * np.abs(cp.W_ij - E_sigma) + lam * gap
        assert np.all(np.abs(cp.lambda_sigma_ij - E_dsigma) <= bound * (1 + 1e-9))


def test_eq123_argument_errors():
    net = de.Network.random([4, 3, 2], "logistic", seed=1, dtype=np.float64)
    X = np.ones((2, 4))
    cp = A.connected_pair(net, X, de.Dropout(0.5), 1, 0, 0)
    with pytest.raises(ValueError, match="E_OjOj"):
        A.eq123_second_term(cp, "eq119")
    with pytest.raises(ValueError, match="E_OjOj"):
        A.eq123_second_term(cp, np.ones(3))
    with pytest.raises(ValueError, match="dsigma"):
        A.eq123_second_term(cp, dsigma="sigma")
    with pytest.raises(ValueError, match="dsigma"):
        A.eq123_second_term(cp, dsigma=[np.nan, 0.1])
    with pytest.raises(TypeError, match="pair"):
        A.eq123_second_term((1, 2))
    tanh = de.Network(net.weights, net.biases, "tanh")
    cpt = A.connected_pair(tanh, X, de.Dropout(0.5), 1, 0, 0)
    assert cpt.lambda_sigma_ij is None
    with pytest.raises(ValueError, match="lambda_sigma.*logistic"):
        A.eq123_second_term(cpt, dsigma="lambda_sigma")
    A.eq123_second_term(cpt)  # sigma'(U_ij) exists for any elementwise transfer


# --- Appendix C ---------------------------------------------------------------------------

def _one_layer_subnetworks(seed=5, n_in=6):
    """A one-layer logistic unit without bias under input dropout (p = 1/2): every
    subnetwork's S and its probability, and the network for the engine's enumeration."""
    rng = np.random.default_rng(seed)
    Wm, x = rng.normal(0, 0.7, size=(1, n_in)), rng.normal(size=n_in)
    masks = np.array(list(itertools.product((0.0, 1.0), repeat=n_in)))
    S = masks @ (Wm[0] * x)
    P = np.full(len(S), 0.5 ** n_in)
    return de.Network([Wm], [None], LOGISTIC), x, S, P


def test_eq213_nwgm_of_O_and_O_to_the_k():
    net, x, S, P = _one_layer_subnetworks()
    O = 1 / (1 + LOGISTIC.c * np.exp(-LOGISTIC.lam * S))
    ex = enumerate_subnetworks(net, x[None], de.Dropout(0.5))
    assert_allclose(H.nwgm_power(O, 1, P), ex.nwgm[0][0, 0], rtol=1e-12)  # k = 1: the NWGM of Eq. 37
    for k in (2, 3):
        G, Gc = np.prod(O ** (k * P)), np.prod((1 - O ** k) ** P)
        assert_allclose(H.nwgm_power(O, k, P), G / (G + Gc), rtol=1e-12)
        # the second form of Eq. 213, 1 - O^k = (1 - O)(1 + O + ... + O^{k-1})
        geo = sum(O ** m for m in range(k))
        assert_allclose(H.nwgm_power(O, k, P), 1 / (1 + np.prod(((1 - O) * geo / O ** k) ** P)), rtol=1e-12)
    # subnetworks along another axis, equal weights by default
    O2 = np.stack([O, O[::-1]])
    assert_allclose(H.nwgm_power(O2.T, 2, axis=0), [H.nwgm_power(O, 2, P)] * 2, rtol=1e-12)


def test_eq214_from_the_sums_and_the_misprint():
    net, x, S, P = _one_layer_subnetworks(seed=6)
    c, lam = LOGISTIC.c, LOGISTIC.lam
    O = 1 / (1 + c * np.exp(-lam * S))
    assert_allclose(H.nwgm_square_logistic(S, P, c, lam), H.nwgm_power(O, 2, P), rtol=1e-12)
    # Eq. 214's middle form as printed, with O_i for O_i^2, is another number
    printed = 1 / (1 + np.prod(((1 - O) * (1 + O) / O) ** P))
    assert abs(printed - H.nwgm_power(O, 2, P)) > 1e-3


def test_eq215_216_217():
    rng = np.random.default_rng(9)
    S, P = rng.normal(size=16), rng.dirichlet(np.ones(16))
    c, lam = LOGISTIC.c, LOGISTIC.lam
    sig = lambda t: 1 / (1 + c * np.exp(-lam * t))  # noqa: E731
    # Eq. 215: NWGM(sigma(S^2)) = sigma(E(S^2)) (NWGM(sigma(f(S))) = sigma(E(f(S))))
    assert_allclose(H.nwgm_power(sig(S ** 2), 1, P), sig(P @ S ** 2), rtol=1e-12)
    # Eq. 216 inverts sigma
    assert_allclose(H.logit(sig(S), c, lam), S, rtol=1e-10, atol=1e-12)
    # Eq. 217: the series converges to Eq. 216; one term leaves an error of order eps^3
    O = np.array([0.3, 0.45, 0.55, 0.8])
    assert_allclose(H.logit_series(O, c, lam, n_terms=60), H.logit(O, c, lam), rtol=1e-12)
    eps = np.array([0.02, 0.01])
    err = np.abs(H.logit_series(0.5 + eps, c, lam) - H.logit(0.5 + eps, c, lam))
    assert_allclose(err[0] / err[1], 8.0, rtol=0.01)


@pytest.mark.parametrize("c, lam, order", [(1.0, 1.0, 16.0), (2.0, 1.5, 8.0), (0.5, 0.7, 8.0)])
def test_eq218_second_moment_converges_at_its_order(c, lam, order):
    """Eq. 218 drops terms of Eq. 217 from eps^3 on: S^2 - (a + b eps)^2 = 2 S O(eps^3), so
    the error of E(O^2) is of order eps^3 when a = log(c)/lambda != 0 (halving the weights
    divides it by 8) and of order eps^4 when c = 1 (by 16). Exact moments by enumeration;
    the bias puts E(S) at the logistic's midpoint, where Eq. 217 expands."""
    tr = de.Logistic(c=c, lam=lam)
    base = de.Network.random([8, 3], tr, seed=5, dtype=np.float64, scale=1.0)
    X = np.random.default_rng(4).normal(size=(3, 8))
    err = []
    for s in (0.01, 0.005, 0.0025):
        net = de.Network([base.weights[0] * s], [np.full(3, np.log(c) / lam)], tr)
        e = enumerate_subnetworks(net, X, de.Dropout(0.5))
        E2 = e.var[0] + e.E[0] ** 2
        err.append(np.abs(H.second_moment_eq218(e.E_S[0], e.var_S[0], e.E[0], c, lam) - E2).sum())
    ratio = np.array(err[:-1]) / np.array(err[1:])
    assert np.all(np.abs(ratio - order) < 0.15 * order), ratio


def test_eq218_variance_is_sharper_than_eq212_near_one_half():
    """With E(S) and Var(S) known ("additional costly information", Appendix C) and E from
    the NWGM, Eq. 218's Var(O) beats both ends of Eq. 212 for units near O = 1/2."""
    base = de.Network.random([8, 3], LOGISTIC, seed=5, dtype=np.float64, scale=0.05)
    net = de.Network(base.weights, [np.full(3, np.log(LOGISTIC.c) / LOGISTIC.lam)], LOGISTIC)
    X = np.random.default_rng(4).normal(size=(3, 8))
    e = enumerate_subnetworks(net, X, de.Dropout(0.5))
    V = e.var[0]
    est = H.variance_eq218(e.E_S[0], e.var_S[0], c=LOGISTIC.c, lam=LOGISTIC.lam)
    lo, up = H.eq212_interval(e.E[0])
    assert np.all(np.abs(est - V) < 0.1 * np.minimum(V - lo, up - V))


def test_appendix_c_argument_errors():
    with pytest.raises(ValueError, match="k must"):
        H.nwgm_power([0.2, 0.3], 0)
    with pytest.raises(ValueError, match="O must lie"):
        H.nwgm_power([0.0, 0.3], 2)
    with pytest.raises(ValueError, match="P must"):
        H.nwgm_power([0.2, 0.3], 2, P=[0.5, 0.6])
    with pytest.raises(ValueError, match="P must have shape"):
        H.nwgm_power([0.2, 0.3], 2, P=[1.0])
    with pytest.raises(ValueError, match="c must be > 0"):
        H.logit(0.3, c=0.0)
    with pytest.raises(ValueError, match="lam must be nonzero"):
        H.logit_series(0.3, lam=0.0)
    with pytest.raises(TypeError, match="lam"):
        H.logit(0.3, lam="1")
    with pytest.raises(ValueError, match="n_terms"):
        H.logit_series(0.3, n_terms=0)
    with pytest.raises(ValueError, match="var_S must be >= 0"):
        H.second_moment_eq218(0.1, -0.2, 0.5)
    with pytest.raises(ValueError, match="E must lie"):
        H.variance_eq218(0.1, 0.2, E=1.5)
    with pytest.raises(TypeError, match="E_S"):
        H.variance_eq218(object(), 0.2)
    with pytest.raises(ValueError, match="E must lie"):
        H.eq212_interval([-0.1])


# --- the report's claims (experiments.training) -------------------------------------------

def test_report_claims_for_eq123_and_appendix_c():
    """The helpers that put Eq. 123 and Eq. 218 into the training experiment, on small
    networks: every claim is a finding with a finite number, an SE and a reason for a "no";
    Eq. 218 beats Eq. 212's bounds for small weights (units near 1/2) and not for large ones
    (saturated units), as its expansion around O = 1/2 says it should."""
    from dropengine.experiments import training as T
    from dropengine.experiments.base import Result

    sizes, tr = [20, 10, 10, 10, 5], ["logistic"] * 3 + ["softmax"]
    small = de.Network.random(sizes, tr, seed=1, dtype=np.float64, scale=0.05)
    large = de.Network.random(sizes, tr, seed=2, dtype=np.float64, scale=3.0)
    X = np.random.default_rng(0).random((4, 20))
    gate = de.Dropout([0.8, 0.5, 0.5, 0.5])
    connected = [((1, 2), (0, 3)), ((2, 1), (1, 4)), ((2, 5), (1, 0))]
    st = de.sample(large, X, gate, 2000, seed=0, pairs=connected)
    eq124 = np.stack([A.connected_pair(large, X, gate, a, i, j).eprod for (a, i), (_, j) in connected], axis=1)
    res = Result("t", "t")
    T._section96_eq123(res, large, small, X, gate, connected, st.E_prod, np.abs(st.E_prod - eq124), 0.1, 2000, 0, 1)
    T._appendix_c(res, [("before", small, de.sample(small, X, gate, 2000, seed=0)), ("after", large, st)], 4)
    claims = {c.key: c for c in res.claims}
    assert set(claims) == {"eq123_term_before", "eq123_term_after", "eq123_lambda_sigma", "eq218_variance[before]",
                           "eq218_variance[after]"}
    for c in res.claims:
        assert c.kind == "finding" and np.isfinite(c.measured) and c.uncertainty > 0 and c.reason
    assert claims["eq218_variance[before]"].agrees and not claims["eq218_variance[after]"].agrees
