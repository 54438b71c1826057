"""exact.linear_moments on networks with skip connections (Eq. 21-26) against a brute
force written from the equations: every configuration of the Bernoulli gates is
enumerated and propagated in NumPy float64, weighted by its probability.

The brute force reads only plain arrays (the weights as dicts {l: W_hl} and the gate
probabilities); it uses none of the package's helpers.
"""
import numpy as np
import pytest

import dropengine as de
from dropengine.exact import linear_moments


# --- the brute force ---------------------------------------------------------------------
def all_configurations(probs):
    """Rows of 0/1 over the coins and the probability of each row."""
    probs = np.asarray(probs, np.float64)
    n = probs.size
    d = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    weight = np.prod(np.where(d == 1, probs, 1 - probs), axis=1)
    return d.astype(np.float64), weight


def brute_force(layers, biases, x, kind, keep=None, keep_bias=None):
    """E and the covariance of the units S^1..S^L (concatenated) for one input x.

    layers[h - 1] = {l: W_hl}; biases[h - 1] an array or None.
    kind "units": keep[l] (n_l,) is P(delta_j^l = 1), one coin per unit of source layer
      l shared by all its outgoing connections (Eq. 22); one coin per layer for the bias.
    kind "dropin": keep[l] (n_l,) is the rate: unit j of layer l is replaced by 1.
    kind "connections": keep[h - 1] = {l: (n_h, n_l)}, one coin per connection (Eq. 23)
      and per unit's bias.
    kind "none": no coins.
    """
    L = len(layers)
    widths = [x.size] + [next(iter(layers[h].values())).shape[0] for h in range(L)]
    probs, where = [], {}  # where[address] = column of its coin

    def coin(address, p):
        where[address] = len(probs)
        probs.append(p)

    if kind in ("units", "dropin"):
        for l in range(L):
            for j in range(widths[l]):
                coin(("unit", l, j), keep[l][j] if kind == "units" else 1 - keep[l][j])
    if kind == "connections":
        for h in range(1, L + 1):
            for l, P in keep[h - 1].items():
                for i in range(widths[h]):
                    for j in range(widths[l]):
                        coin(("conn", h, l, i, j), P[i, j])
    for h in range(1, L + 1):
        if biases[h - 1] is None or kind in ("none", "dropin"):
            continue
        if kind == "units":
            coin(("bias", h), keep_bias[h - 1])
        else:
            for i in range(widths[h]):
                coin(("bias", h, i), keep_bias[h - 1])
    d, weight = all_configurations(probs)
    M = d.shape[0]
    out = {0: np.broadcast_to(x, (M, x.size))}
    for h in range(1, L + 1):
        S = np.zeros((M, widths[h]))
        for l, W in layers[h - 1].items():
            a = out[l]
            if kind == "units":
                delta = d[:, [where[("unit", l, j)] for j in range(widths[l])]]
                S += (delta * a) @ W.T
            elif kind == "dropin":
                delta = d[:, [where[("unit", l, j)] for j in range(widths[l])]]
                S += (delta * a + (1 - delta)) @ W.T
            elif kind == "connections":
                delta = np.stack([d[:, [where[("conn", h, l, i, j)] for j in range(widths[l])]]
                                  for i in range(widths[h])], axis=1)  # (M, n_h, n_l)
                S += np.einsum("mij,ij,mj->mi", delta, W, a)
            else:
                S += a @ W.T
        b = biases[h - 1]
        if b is not None:
            if kind == "units":
                S += d[:, [where[("bias", h)]]] * b
            elif kind == "connections":
                S += d[:, [where[("bias", h, i)] for i in range(widths[h])]] * b
            else:
                S += b
        out[h] = S
    Z = np.concatenate([out[h] for h in range(1, L + 1)], axis=1)
    E = weight @ Z
    D = Z - E
    return E, D.T @ (weight[:, None] * D)


# --- networks ----------------------------------------------------------------------------
def make_layers(sizes, sources, seed):
    """{l: W_hl} per layer h, sources[h - 1] listing the source layers of h."""
    rng = np.random.default_rng(seed)
    return [{l: rng.normal(0, 1, size=(sizes[h], sizes[l])) for l in srcs} for h, srcs in enumerate(sources, 1)]


# 3-3-2-2 with the input feeding every layer; the example (layer 3 from 1 and 2,
# so layer 1's coins reach layers 2 and 3); a layer (2) that feeds no other layer.
TOPOLOGIES = {
    "input_feeds_every_layer": ((3, 3, 2, 2), [[0], [0, 1], [0, 1, 2]]),
    "issue_example": ((3, 3, 2, 2), [[0], [0, 1], [1, 2]]),
    "dangling_layer": ((2, 3, 2, 1), [[0], [0, 1], [0, 1]]),
}


def network(sizes, sources, bias, seed=1):
    layers = make_layers(sizes, sources, seed)
    rng = np.random.default_rng(seed + 100)
    biases = [rng.normal(0, 1, size=sizes[h]) if bias else None for h in range(1, len(sizes))]
    return layers, biases, de.Network(layers, biases, "linear", dtype=np.float64)


INPUTS = np.array([[0.7, -1.3, 0.4], [1.1, 0.2, -0.6]])


def check(m, layers, biases, X, kind, keep=None, keep_bias=None):
    for b, x in enumerate(X):
        E, C = brute_force(layers, biases, x, kind, keep, keep_bias)
        np.testing.assert_allclose(np.concatenate([e[b] for e in m.E]), E, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.concatenate([v[b] for v in m.var]), np.diag(C), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m.cov[b], C, rtol=1e-12, atol=1e-12)


# --- unit dropout, dropin, no gate ---------------------------------------------------------
@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
@pytest.mark.parametrize("bias", [False, True])
def test_unit_dropout_per_unit_keeps(topology, bias):
    sizes, sources = TOPOLOGIES[topology]
    layers, biases, net = network(sizes, sources, bias)
    rng = np.random.default_rng(7)
    keep = [rng.uniform(0.2, 0.95, size=n) for n in sizes[:-1]]
    keep_bias = [0.6, 0.8, 0.3]
    m = linear_moments(net, INPUTS[:, :sizes[0]], de.Dropout(keep, keep_bias=keep_bias))
    check(m, layers, biases, INPUTS[:, :sizes[0]], "units", keep, keep_bias)


def test_unit_dropout_scalar_keep_covaries_across_skip_paths():
    sizes, sources = TOPOLOGIES["input_feeds_every_layer"]
    layers, biases, net = network(sizes, sources, True)
    keep = [np.full(n, 0.5) for n in sizes[:-1]]
    m = linear_moments(net, INPUTS, de.Dropout(0.5))
    check(m, layers, biases, INPUTS, "units", keep, [1.0, 1.0, 1.0])
    # The input's coins reach layers 1 and 3 directly: their units covary, unlike a
    # chain's first layer against an input-independent term.
    assert np.abs(m.cov[0, :3, 5:]).max() > 1e-3


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_dropin(topology):
    sizes, sources = TOPOLOGIES[topology]
    layers, biases, net = network(sizes, sources, True)
    rng = np.random.default_rng(8)
    rate = [rng.uniform(0.05, 0.6, size=n) for n in sizes[:-1]]
    m = linear_moments(net, INPUTS[:, :sizes[0]], de.Dropin(rate))
    check(m, layers, biases, INPUTS[:, :sizes[0]], "dropin", rate)


@pytest.mark.parametrize("gate", [None, de.NoGate()])
def test_no_gate(gate):
    sizes, sources = TOPOLOGIES["input_feeds_every_layer"]
    layers, biases, net = network(sizes, sources, True)
    m = linear_moments(net, INPUTS, gate)
    check(m, layers, biases, INPUTS, "none")
    assert np.all(m.cov == 0)


# --- connection dropout --------------------------------------------------------------------
# 2-2-1-1 with the input feeding every layer: 13 connections and 3 biases, 2^16 subnetworks.
CONN_SIZES, CONN_SOURCES = (2, 2, 1, 1), [[0], [0, 1], [0, 1, 2]]


def test_connection_dropout_per_connection_keeps():
    layers, biases, net = network(CONN_SIZES, CONN_SOURCES, False, seed=3)
    biases[0], biases[2] = np.array([0.3, -0.8]), np.array([1.2])
    net = de.Network(layers, biases, "linear", dtype=np.float64)
    rng = np.random.default_rng(9)
    keep = [{l: rng.uniform(0.2, 0.95, size=W.shape) for l, W in layer.items()} for layer in layers]
    gate = de.Dropout([keep[0][0], keep[1], keep[2]], on="connections", keep_bias=[0.7, 1.0, 0.4])
    X = INPUTS[:, :2]
    check(linear_moments(net, X, gate), layers, biases, X, "connections", keep, [0.7, 1.0, 0.4])


def test_connection_dropout_scalar_and_per_sender_keeps():
    layers, biases, net = network(CONN_SIZES, CONN_SOURCES, True, seed=4)
    n = CONN_SIZES
    # keep[1] as a dict mixing a scalar and a vector over the senders; keep[2] a scalar.
    gate = de.Dropout([0.8, {0: 0.5, 1: np.array([0.3, 0.9])}, 0.6], on="connections", keep_bias=0.5)
    keep = [{0: np.full((n[1], n[0]), 0.8)},
            {0: np.full((n[2], n[0]), 0.5), 1: np.broadcast_to([0.3, 0.9], (n[2], n[1]))},
            {l: np.full((n[3], n[l]), 0.6) for l in (0, 1, 2)}]
    X = INPUTS[:, :2]
    check(linear_moments(net, X, gate), layers, biases, X, "connections", keep, [0.5] * 3)


# --- chains ---------------------------------------------------------------------------------
def test_chain_given_as_dicts_is_the_chain():
    rng = np.random.default_rng(11)
    Ws = [rng.normal(size=(3, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 2))]
    chain = de.Network(Ws, None, "linear", dtype=np.float64)
    as_dicts = de.Network([{h: W} for h, W in enumerate(Ws)], None, "linear", dtype=np.float64)
    assert as_dicts.is_chain and isinstance(as_dicts.weights[1], np.ndarray)
    layers = [{h: W} for h, W in enumerate(Ws)]
    cases = [(de.Dropout([0.8, 0.5, 0.6]), "units", [np.full(n, k) for n, k in zip((3, 3, 2), (0.8, 0.5, 0.6))]),
             (de.Dropout(0.7, on="connections"), "connections", [{h: np.full(W.shape, 0.7)} for h, W in enumerate(Ws)]),
             (de.Dropin(0.2), "dropin", [np.full(n, 0.2) for n in (3, 3, 2)])]
    for gate, kind, keep in cases:
        a, b = linear_moments(chain, INPUTS, gate), linear_moments(as_dicts, INPUTS, gate)
        assert np.array_equal(a.cov, b.cov)
        check(a, layers, [None] * 3, INPUTS, kind, keep)


def test_zero_weight_skip_equals_the_chain():
    """A skip whose weights are all zero adds nothing: the moments are the chain's."""
    rng = np.random.default_rng(12)
    Ws = [rng.normal(size=(3, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 2))]
    chain = de.Network(Ws, None, "linear", dtype=np.float64)
    dag = de.Network([Ws[0], {0: np.zeros((2, 3)), 1: Ws[1]}, Ws[2]], None, "linear", dtype=np.float64)
    assert not dag.is_chain
    for gate in (de.Dropout([0.8, 0.5, 0.6]), de.Dropout([0.8, {0: 0.3, 1: 0.5}, 0.6], on="connections")):
        chain_gate = gate if gate.on == "units" else de.Dropout([0.8, 0.5, 0.6], on="connections")
        a, b = linear_moments(chain, INPUTS, chain_gate), linear_moments(dag, INPUTS, gate)
        np.testing.assert_allclose(b.cov, a.cov, rtol=1e-13, atol=1e-15)
