"""exact.dropout_gradient on networks with skip connections (Eq. 21-23, 146, 154, 155, 161,
166), against the independent brute force of ``dag_oracle`` and against the Trainer.

(a) E(dE_D/dw) equals central finite differences of the exact expected loss, which the
    oracle enumerates from the equations (E of the squared error from E(O) and Var(O);
    of the relative entropy and the cross entropy from E(log O) and E(log(1 - O)));
(b) it is the mean of the Trainer's dropout gradients over many minibatch steps, within
    5 standard errors;
(c) the ensemble gradient equals finite differences of the ensemble network's loss
    (``de.ensemble``, Eq. 167);
(d) for linear DAGs, Eq. 155's terms w Var(alpha) and Cov(alpha, beta) equal those of the
    oracle's configurations, alpha = dS/dw read off as S(w + 1) - S(w).
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dag_oracle import OracleGate, _configurations, _propagate, _selectors, exact_moments, free_selectors, \
    read_network
from dropengine.exact import dropout_gradient

SIZES = (2, 3, 2, 2)
TOPOLOGIES = {
    "skips": [[0], [0, 1], [0, 1, 2]],  # the input feeds every layer; layer 1 feeds layers 2 and 3
    "branch": [[0], [0], [1, 2]],  # layer 2 reads the input only; layer 3 joins layers 1 and 2
    "dangling": [[0], [0, 1], [0, 1]],  # layer 2 feeds no layer: no coins, no error
}
X = np.array([[0.7, -1.2], [1.5, 0.3]])


def make_net(topology, transfers, sizes=SIZES, seed=21, bias_none=()):
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for h, srcs in enumerate(TOPOLOGIES[topology], 1):
        weights.append({l: rng.normal(0.0, 0.9, size=(sizes[h], sizes[l])) for l in srcs})
        biases.append(None if h in bias_none else rng.normal(0.0, 0.5, size=sizes[h]))
    return de.Network(weights, biases, transfers, dtype=np.float64)


def rebuild(net, h, l=None, idx=None, d=0.0):
    """net with d added to W_hl[idx] (l given) or to b^h[idx] (l None)."""
    Ws = [{s: np.array(W) for s, W in net.layer_weights(k).items()} for k in range(1, net.n_layers + 1)]
    bs = [None if b is None else np.array(b) for b in net.biases]
    if l is None:
        bs[h - 1][idx] += d
    else:
        Ws[h - 1][l][idx] += d
    return de.Network(Ws, bs, list(net.transfers), dtype=np.float64)


def params(net):
    """Every weight (h, l, idx) and bias (h, None, i) of the network."""
    for h in range(1, net.n_layers + 1):
        for l, W in net.layer_weights(h).items():
            for idx in np.ndindex(*W.shape):
                yield h, l, idx
        if net.biases[h - 1] is not None:
            for i in range(net.biases[h - 1].size):
                yield h, None, i


def block(g_layer, net, h, l):
    """The columns of W_hl in a gradient over layer h's concatenated input."""
    (off, n), = [(o, n) for s, o, n in net.input_weights(h)[1] if s == l]
    return g_layer[..., off:off + n]


def loss_of(O, logO, logOc, t, loss):
    if loss == "squared":
        return 0.5 * np.sum((t - O) ** 2)
    if loss == "relative_entropy":
        return -np.sum(t * logO + (1 - t) * logOc)
    return -np.sum(t * logO)


def expected_loss(net, x, t, ogate, loss):
    """The exact expected loss over every subnetwork, from the oracle's moments."""
    m = exact_moments(net, x, ogate)
    E, var = m["E"][-1], m["var"][-1]
    if loss == "squared":  # E[1/2 sum (t - O)^2] = 1/2 sum Var(O) + (t - E O)^2
        return 0.5 * np.sum(var + (t - E) ** 2)
    return loss_of(None, m["log_G"][-1], m["log_Gc"][-1], t, loss)  # E log O, E log(1 - O)


def ensemble_loss(net, x, t, gate, loss):
    W = de.ensemble(net, x[None], gate)[1][-1][0]
    if loss == "squared":
        return loss_of(W, None, None, t, loss)
    return loss_of(W, np.log(W), np.log1p(-W), t, loss)


def finite_differences(fun, net, eps=1e-5):
    """{(h, l, idx): central difference of fun(network)} over every parameter."""
    return {p: (fun(rebuild(net, *p, eps)) - fun(rebuild(net, *p, -eps))) / (2 * eps) for p in params(net)}


def compare(grad_w, grad_b, net, fd, n, atol):
    for (h, l, idx), want in fd.items():
        got = grad_b[h - 1][n][idx] if l is None else block(grad_w[h - 1][n], net, h, l)[idx]
        assert got == pytest.approx(want, abs=atol), ((h, l, idx), got, want)


# --- gates: the package's and the oracle's, side by side -------------------------------
def connection_keeps(net, seed=5, n_free=9):
    """Per layer {l: (n_h, n_l)} keeps: n_free connections free (0 < p < 1), the others
    fixed at 1 or 0, so that the subnetworks stay few enough to enumerate."""
    rng = np.random.default_rng(seed)
    shapes = [(h, l, net.layer_weights(h)[l].shape) for h in range(1, net.n_layers + 1) for l in net.sources(h)]
    cells = [(k, idx) for k, (_, _, s) in enumerate(shapes) for idx in np.ndindex(*s)]
    keeps = [np.where(rng.uniform(size=s) < 0.15, 0.0, 1.0) for _, _, s in shapes]
    for c in rng.choice(len(cells), n_free, replace=False):
        k, idx = cells[c]
        keeps[k][idx] = rng.uniform(0.2, 0.9)
    out = [{} for _ in range(net.n_layers)]
    for (h, l, _), K in zip(shapes, keeps):
        out[h - 1][l] = K
    return out


def gates(net, kind):
    """(package gate, oracle gate) of one kind on net."""
    if kind == "units":
        keep = [np.array([0.8, 0.4]), np.array([0.6, 1.0, 0.3]), 0.7]
        return de.Dropout(keep, keep_bias=[0.9, 0.5, 0.6]), OracleGate("units", keep, [0.9, 0.5, 0.6])
    if kind == "units-nobias":
        return de.Dropout([0.8, 0.5, 0.6]), OracleGate("units", [0.8, 0.5, 0.6], 1.0)
    if kind == "connections":
        keep = connection_keeps(net)
        kb = [1.0, 0.7, 0.5]  # two free bias gates in each of layers 2 and 3
        return de.Dropout(keep, on="connections", keep_bias=kb), OracleGate("connections", keep, kb)
    if kind == "dropin":
        rate = [0.2, np.array([0.1, 0.3, 0.25]), 0.15]
        return de.Dropin(rate), OracleGate("dropin", rate)
    return de.NoGate(), OracleGate("none")


LOSS_CASES = {  # loss -> transfers
    "squared": ["tanh", "logistic", "linear"],
    "relative_entropy": ["logistic", "tanh", "logistic"],
    "cross_entropy": ["logistic", "softplus", "softmax"],
}


def targets(loss, rng, n=2):
    T = rng.uniform(0.1, 0.9, size=(n, SIZES[-1]))
    return T / T.sum(1, keepdims=True) if loss == "cross_entropy" else T


# --- (a) and (c): finite differences of the exact expected loss and of the ensemble loss --
@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("kind", ["units", "connections", "dropin", "none"])
@pytest.mark.parametrize("loss", list(LOSS_CASES))
def test_expected_and_ensemble_gradients_equal_finite_differences(topology, kind, loss):
    net = make_net(topology, LOSS_CASES[loss], bias_none=(2,) if topology == "branch" else ())
    gate, ogate = gates(net, kind)
    T = targets(loss, np.random.default_rng(3))
    g = dropout_gradient(net, X, T, gate, loss=loss)
    assert g.n_subnetworks == de.exact.n_subnetworks(net, gate) == 2 ** free_selectors(net, ogate)
    for h in range(1, 4):
        assert g.expected[h - 1].shape == (2,) + net.input_weights(h)[0].shape
    assert g.w_var_alpha is None and g.cov_alpha_beta is None and g.approx_164 is None
    for n, (x, t) in enumerate(zip(X, T)):
        fd = finite_differences(lambda m: expected_loss(m, x, t, ogate, loss), net)
        compare(g.expected, g.expected_bias, net, fd, n, atol=1e-7)
        fd = finite_differences(lambda m: ensemble_loss(m, x, t, gate, loss), net)
        compare(g.ensemble, g.ensemble_bias, net, fd, n, atol=1e-7)
    if kind == "none":  # one subnetwork: the ensemble network is the network
        for a, b in zip(g.expected, g.ensemble):
            assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_a_layer_that_feeds_no_other_gets_no_coins_and_no_gradient():
    net = make_net("dangling", LOSS_CASES["squared"])
    gate, ogate = gates(net, "units")
    g = dropout_gradient(net, X, targets("squared", np.random.default_rng(0)), gate)
    # coins: the units of layers 0 and 1 (2 + 2 of them free) and the three bias coins;
    # layer 2's units feed nothing, so its keeps (0.7) add none
    assert g.n_subnetworks == 2**7 == de.exact.n_subnetworks(net, gate) == 2 ** free_selectors(net, ogate)
    assert not g.expected[1].any() and not g.expected_bias[1].any() and not g.ensemble[1].any()


# --- (b): the Trainer's dropout gradients average to the exact expected gradient ----------
@pytest.mark.parametrize("kind, topology, loss", [("units-nobias", "skips", "cross_entropy"),
                                                  ("units-nobias", "branch", "squared"),
                                                  ("connections", "skips", "relative_entropy"),
                                                  ("dropin", "skips", "squared"),
                                                  ("dropin", "dangling", "cross_entropy")])
def test_the_trainers_gradient_is_unbiased_for_the_expected_gradient(kind, topology, loss):
    net = make_net(topology, LOSS_CASES[loss])
    gate, _ = gates(net, kind)
    if kind == "connections":  # the Trainer does not gate biases
        gate = de.Dropout(gate.keep, on="connections")
    T = targets(loss, np.random.default_rng(4))
    g = dropout_gradient(net, X, T, gate, loss=loss)
    tr = de.Trainer(net, gate, loss=loss, batch_size=2, seed=11)
    K = 3000
    steps = [tr.gradient(X, T, step=s) for s in range(K)]
    for h in range(3):
        for got, want in ((np.stack([s[0][h] for s in steps]), g.expected[h].mean(0)),
                          (np.stack([s[1][h] for s in steps]), g.expected_bias[h].mean(0))):
            se = got.std(0, ddof=1) / np.sqrt(K)
            assert got.shape[1:] == want.shape
            assert np.all(np.abs(got.mean(0) - want) <= 5 * se + 1e-12), (h, got.mean(0), want, se)
    # not vacuous: the gradients vary between steps, and the ensemble gradient is not E
    assert np.stack([s[0][2] for s in steps]).std(0).max() > 1e-3
    assert max(np.abs(a - b).max() for a, b in zip(g.expected, g.ensemble)) > 1e-4


# --- (d): Eq. 155 on linear DAGs ----------------------------------------------------------
def oracle_linear_terms(net, x, ogate, h, l, idx):
    """w Var(alpha) and Cov(alpha, beta) of Eq. 155 for w = W_hl[idx], summed over the
    output units, from the oracle's configurations: S is linear in w, so alpha = S(w + 1)
    - S(w) per configuration and beta = S - alpha w (Eq. 151)."""
    def outputs(n):
        value, P = _configurations(_selectors(read_network(n), ogate), 18)
        return _propagate(read_network(n), x, ogate.kind, value, P.size)[0][-1], P

    S, P = outputs(net)
    S1, _ = outputs(rebuild(net, h, l, idx, 1.0))
    w = net.layer_weights(h)[l][idx]
    alpha = S1 - S
    beta = S - alpha * w
    Ea, Eb = P @ alpha, P @ beta
    return np.sum(w * (P @ (alpha - Ea) ** 2)), np.sum(P @ ((alpha - Ea) * (beta - Eb)))


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("kind", ["units", "connections", "dropin"])
def test_eq155_on_linear_dags(topology, kind):
    net = make_net(topology, "linear")
    gate, ogate = gates(net, kind)
    T = targets("squared", np.random.default_rng(6))
    g = dropout_gradient(net, X, T, gate)
    for h in range(3):
        want = g.ensemble[h] + g.w_var_alpha[h] + g.cov_alpha_beta[h]
        assert_allclose(g.expected[h], want, rtol=1e-12, atol=1e-13 * np.abs(want).max())
    for n, x in enumerate(X):
        for h, l, idx in params(net):
            if l is None:
                continue
            wva, cab = oracle_linear_terms(net, x, ogate, h, l, idx)
            assert block(g.w_var_alpha[h - 1][n], net, h, l)[idx] == pytest.approx(wva, rel=1e-9, abs=1e-12)
            assert block(g.cov_alpha_beta[h - 1][n], net, h, l)[idx] == pytest.approx(cab, rel=1e-9, abs=1e-12)
    if topology != "dangling":  # the skip paths make Cov(alpha, beta) real
        assert max(np.abs(c).max() for c in g.cov_alpha_beta) > 1e-3
