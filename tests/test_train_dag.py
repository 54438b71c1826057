"""Training networks with skip connections (Eq. 21, 166, 172-175): the Trainer's gradient
against finite differences and against the exact expected dropout gradient, written here
from the equations with NumPy alone; checkpoints; learning."""
import itertools

import numpy as np
import pytest

import dropengine as de

F = {"logistic": lambda s: 1 / (1 + np.exp(-s)), "tanh": np.tanh, "linear": lambda s: s}


def _dag(rng, transfers=("logistic", "tanh", "softmax")):
    # Layer 2 from the input and layer 1; layer 3 from the input and layer 2 (layer 1
    # feeds layer 2 only): every hidden layer's error comes from one or two layers.
    W = [rng.normal(size=(3, 3)) * 0.8, {0: rng.normal(size=(3, 3)) * 0.8, 1: rng.normal(size=(3, 3)) * 0.8},
         {0: rng.normal(size=(3, 3)) * 0.8, 2: rng.normal(size=(3, 3)) * 0.8}]
    b = [rng.normal(size=3) * 0.3 for _ in range(3)]
    return de.Network(W, b, transfer=list(transfers), dtype=np.float64)


def _loss(net, masks, x, y):
    """Cross entropy of one example through the subnetwork `masks` (one 0/1 vector per
    source layer, shared by all of the layer's outgoing connections, Eq. 22)."""
    out = [np.asarray(x, dtype=np.float64)]
    for h in range(1, net.n_layers + 1):
        S = net.biases[h - 1].copy()
        for l, W in net.layer_weights(h).items():
            S = S + W @ (masks[l] * out[l])
        name = net.transfers[h - 1].name
        if name == "softmax":
            e = np.exp(S - S.max())
            out.append(e / e.sum())
        else:
            out.append(F[name](S))
    return -np.log(out[-1][y])


def _with(net, h, l, idx, d):
    W = [dict(net.layer_weights(k)) for k in range(1, net.n_layers + 1)]
    W[h - 1][l] = W[h - 1][l].copy()
    W[h - 1][l][idx] += d
    return de.Network(W, list(net.biases), transfer=[f.name for f in net.transfers], dtype=np.float64)


def _core_block(gW, net, h, l):
    _, blocks = net.input_weights(h)
    (off, n), = [(o, n) for s, o, n in blocks if s == l]
    return gW[h - 1][:, off:off + n]


def test_gradient_through_skip_connections_equals_finite_differences():
    rng = np.random.default_rng(1)
    net = _dag(rng)
    X, y = rng.uniform(size=(5, 3)), rng.integers(0, 3, 5)
    tr = de.Trainer(net, de.NoGate(), loss="cross_entropy", batch_size=5)
    gW, gb, loss = tr.gradient(X, y)
    ones = [np.ones(3)] * 3
    assert loss == pytest.approx(sum(_loss(net, ones, x, t) for x, t in zip(X, y)), rel=1e-12)
    eps = 1e-6
    for h in (1, 2, 3):
        for l in net.sources(h):
            g = _core_block(gW, net, h, l)
            for idx in np.ndindex(3, 3):
                up = np.mean([_loss(_with(net, h, l, idx, eps), ones, x, t) for x, t in zip(X, y)])
                dn = np.mean([_loss(_with(net, h, l, idx, -eps), ones, x, t) for x, t in zip(X, y)])
                assert g[idx] == pytest.approx((up - dn) / (2 * eps), abs=1e-8), (h, l, idx)


def test_dropout_gradient_is_unbiased_for_the_exact_expected_gradient():
    # E over subnetworks of dE/dw (Eq. 172-175) by enumerating the 2^9 unit coins of the
    # three source layers, as finite differences of the exact expected loss; the trainer's
    # gradient averaged over K minibatch steps must agree within 5 standard errors.
    rng = np.random.default_rng(2)
    net = _dag(rng)
    x, y = rng.uniform(size=3), 1
    keep = [0.8, 0.6, 0.7]
    patterns = []
    for bits in itertools.product((0, 1), repeat=9):
        m = [np.array(bits[3 * l:3 * l + 3], dtype=float) for l in range(3)]
        P = np.prod([keep[l] if m[l][j] else 1 - keep[l] for l in range(3) for j in range(3)])
        patterns.append((P, m))

    def expected(n):
        return sum(P * _loss(n, m, x, y) for P, m in patterns)

    tr = de.Trainer(net, de.Dropout(keep), loss="cross_entropy", batch_size=1)
    K = 3000
    grads = [tr.gradient(x[None], [y], step=s)[0] for s in range(K)]
    eps = 1e-6
    for h, l, idx in [(1, 0, (0, 1)), (2, 0, (2, 2)), (2, 1, (1, 0)), (3, 0, (0, 0)), (3, 2, (2, 1)), (3, 2, (1, 1))]:
        exact = (expected(_with(net, h, l, idx, eps)) - expected(_with(net, h, l, idx, -eps))) / (2 * eps)
        g = np.array([_core_block(gW, net, h, l)[idx] for gW in grads])
        se = g.std(ddof=1) / np.sqrt(K)
        assert abs(g.mean() - exact) < 5 * se + 1e-9, (h, l, idx, g.mean(), exact, se)


def test_network_and_checkpoint_keep_the_skip_connections(tmp_path):
    rng = np.random.default_rng(3)
    net = _dag(rng)
    X, y = rng.uniform(size=(40, 3)), rng.integers(0, 3, 40)
    tr = de.Trainer(net, de.Dropout([0.9, 0.7, 0.7]), loss="cross_entropy", batch_size=8, learning_rate=0.2,
                    momentum=0.5, seed=4)
    tr.fit(X, y, 2)
    got = tr.network
    assert [got.sources(h) for h in (1, 2, 3)] == [(0,), (0, 1), (0, 2)]
    path = tr.save(tmp_path / "ck.npz")
    again = de.Trainer.load(path)
    tr.fit(X, y, 4)
    again.fit(X, y, 4)
    for h in (1, 2, 3):
        for l in net.sources(h):
            np.testing.assert_array_equal(tr.network.layer_weights(h)[l], again.network.layer_weights(h)[l])
    # A chain's checkpoint is what it always was (format /2, no sources entry).
    chain = de.Trainer(de.Network.random([3, 4, 3], ["logistic", "softmax"], seed=0), de.Dropout(0.8),
                       loss="cross_entropy")
    z = np.load(chain.save(tmp_path / "chain.npz"))
    assert str(z["format"]) == "dropengine.Trainer/2" and "sources" not in z.files


@pytest.mark.parametrize("gate,backward", [(de.Dropout([0.8, 0.5, 0.5]), None), (de.Dropin(0.1), None),
                                           (de.Dropout(0.7, on="connections"), None),
                                           (de.Dropout([0.8, 0.5, 0.5]), "backpercolation")])
def test_a_dag_learns_a_separable_problem(gate, backward):
    # Three Gaussian blobs: every gate and backward mode must bring the training error
    # from chance to well below it (the criterion: < 1/3 of the start error).
    rng = np.random.default_rng(6)
    centers = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])
    y = rng.integers(0, 3, 600)
    X = centers[y] + rng.normal(size=(600, 3)) * 0.5
    net = de.Network.random([3, 8, 8, 3], ["logistic", "logistic", "softmax"], seed=1, skips=[(0, 2), (0, 3), (1, 3)])
    kw = {} if backward is None else {"backward": backward}
    tr = de.Trainer(net, gate, loss="cross_entropy", batch_size=20, learning_rate=0.5, momentum=0.5, seed=2, **kw)
    start = np.mean(tr.predict(X).argmax(1) != y)
    tr.fit(X, y, 15)
    err = np.mean(tr.predict(X).argmax(1) != y) if not isinstance(gate, de.Dropout) or gate.on == "units" else \
        tr.history["train_error"][-1]
    assert err < start / 3, (start, err)
