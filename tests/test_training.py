"""The trainer (Sections 10.2, 11) against its NumPy twin, finite differences and itself.

Oracles: dropengine.training._reference replays the engine's Philox draws in float64
(gradients of every gate, loss and backward mode; the SGD step; the example order);
finite differences of the ensemble loss (Eq. 167-171); Monte Carlo means within
standard errors (backpercolation is unbiased); bit-identity across thread counts and
across a checkpoint.
"""
import numpy as np
import pytest

import dropengine as de
from dropengine.training._reference import epoch_order_reference, gradient_reference, update_reference
from dropengine.training.regularization import ensemble_gradient, ensemble_loss, regularization_check


def small_net(top="softmax", dtype=np.float64, seed=0, sizes=(5, 7, 6, 3), hidden=("logistic", "tanh")):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(0, 0.8, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.3, o) if h != 1 else None for h, o in enumerate(sizes[1:])]
    return de.Network(Ws, bs, list(hidden) + [top], dtype=dtype)


def data(n=9, n_in=5, n_out=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


def connection_keep(seed=2):
    rng = np.random.default_rng(seed)
    return de.Dropout([0.8, rng.random((6, 7)), 0.5], on="connections")


GATES = {
    "none": lambda: None,
    "units": lambda: de.Dropout([0.8, 0.5, 0.3]),
    "units_per_unit": lambda: de.Dropout([np.linspace(0.2, 1.0, 5), 0.5, np.linspace(0.1, 0.9, 6)]),
    "dropin": lambda: de.Dropin([0.1, 0.3, 0.2]),
    "connections_half": lambda: de.Dropout(0.5, on="connections"),
    "connections_matrix": connection_keep,
}
BACKWARD = {
    "backprop": "backprop",
    "backpercolation": "backpercolation",
    "mixed": ["backpercolation", "backprop"],
    "fixed_p": [0.5, "backpercolation"],
}


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("backward", BACKWARD)
def test_gradient_equals_numpy_twin(gate, backward):
    """Every gate x backward mode: the engine's minibatch gradient is the NumPy twin's,
    draw for draw, to float64 rounding."""
    net, (X, y) = small_net(), data()
    g = GATES[gate]()
    tr = de.Trainer(net, g, seed=5, backward=BACKWARD[backward])
    for step in (0, 7):
        gW, gb, E = tr.gradient(X, y, step=step)
        rW, rb, rE = gradient_reference(net, X, y, g, (tr._k0, tr._k1), step, backward=tr.backward)
        for a, b in zip(gW + gb, rW + rb):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
        assert E == pytest.approx(rE, rel=1e-12)


@pytest.mark.parametrize("loss,top", [("cross_entropy", "softmax"), ("relative_entropy", "logistic"),
                                      ("squared", "linear"), ("squared", "softmax"), ("squared", "logistic")])
def test_losses_equal_numpy_twin(loss, top):
    net, (X, _) = small_net(top=top), data()
    rng = np.random.default_rng(3)
    T = rng.random((X.shape[0], 3)) if loss != "cross_entropy" else rng.dirichlet(np.ones(3), X.shape[0])
    g = de.Dropout([0.8, 0.5, 0.5])
    tr = de.Trainer(net, g, seed=1, loss=loss)
    gW, gb, E = tr.gradient(X, T, step=2)
    rW, rb, rE = gradient_reference(net, X, T, g, (tr._k0, tr._k1), 2, loss=loss)
    for a, b in zip(gW + gb, rW + rb):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
    assert E == pytest.approx(rE, rel=1e-12)


def test_no_dropout_gradient_is_plain_backprop():
    """Without a gate the engine's gradient is ordinary backpropagation (Eq. 169-175 with
    p = 1), checked against finite differences of the loss too."""
    net, (X, y) = small_net(), data()
    gW, gb, _ = de.Trainer(net, None).gradient(X, y)
    eGW, eGb = ensemble_gradient(net, X, y, None)
    for a, b in zip(gW + gb, eGW + eGb):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_float32_gradient_close_to_float64():
    net64, (X, y) = small_net(), data()
    net32 = de.Network(list(net64.weights), list(net64.biases), list(net64.transfers), dtype=np.float32)
    g = de.Dropout([0.8, 0.5, 0.3])
    a = de.Trainer(net32, g, seed=4).gradient(X, y, step=3)
    b = de.Trainer(net64, g, seed=4).gradient(X, y, step=3)
    for u, v in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_allclose(u, v, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("gate", ["none", "units", "dropin", "connections_matrix"])
def test_ensemble_gradient_matches_finite_differences(gate):
    """dE_ENS/dw of Eq. 168-171 against central differences of the ensemble loss."""
    net, (X, y) = small_net(), data()
    g = GATES[gate]()
    gW, gb = ensemble_gradient(net, X, y, g)
    eps = 1e-6
    for h, w in enumerate(net.weights):
        for (i, j) in [(0, 0), (w.shape[0] - 1, w.shape[1] - 1), (w.shape[0] // 2, w.shape[1] // 2)]:
            Ws = [x.copy() for x in net.weights]
            Ws[h][i, j] += eps
            up = ensemble_loss(de.Network(Ws, list(net.biases), list(net.transfers)), X, y, g)
            Ws[h][i, j] -= 2 * eps
            dn = ensemble_loss(de.Network(Ws, list(net.biases), list(net.transfers)), X, y, g)
            assert gW[h][i, j] == pytest.approx((up - dn) / (2 * eps), rel=1e-6, abs=1e-9)


def test_backpercolation_is_unbiased():
    """For a fixed forward pass (no gate), the mean of many backpercolation gradients is
    the backpropagation gradient (Section 10.2), within 5 standard errors per weight."""
    net = small_net(hidden=("logistic", "logistic"))
    X, y = data(n=4)
    bp = de.Trainer(net, None).gradient(X, y)
    tr = de.Trainer(net, None, backward="backpercolation", seed=11)
    n = 4000
    draws = [tr.gradient(X, y, step=s) for s in range(n)]
    for h in range(net.n_layers):
        G = np.stack([d[0][h] for d in draws])
        mean, se = G.mean(0), G.std(0, ddof=1) / np.sqrt(n)
        assert np.all(np.abs(mean - bp[0][h]) <= 5 * se + 1e-12), f"layer {h}"
        if h < net.n_layers - 1:
            assert np.any(se > 0), "the coins must make lower layers' gradients random"
    # The top layer sees no coin: every draw equals backpropagation there.
    np.testing.assert_array_equal(np.stack([d[0][-1] for d in draws[:5]]), np.stack([bp[0][-1]] * 5))


def test_sgd_steps_equal_numpy_twin():
    """Two minibatches of SGD with momentum, weight decay and max-norm, in the trainer's
    example order, against the twin's gradient, update and Fisher-Yates order."""
    net, (X, y) = small_net(), data(n=10)
    g = de.Dropout([0.8, 0.5, 0.3])
    opts = dict(learning_rate=0.3, momentum=0.7, weight_decay=0.01, batch_size=4, seed=9)
    for max_norm in (None, 1.0):
        tr = de.Trainer(net, g, max_norm=max_norm, **opts)
        tr.run_batches(X, y, 2)
        key = (tr._k0, tr._k1)
        order = epoch_order_reference(10, key, 0)
        Ws = [np.asarray(w, dtype=np.float64) for w in net.weights]
        bs = [np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64) for w, b in zip(Ws, net.biases)]
        V = [np.zeros_like(w) for w in Ws]
        Vb = [np.zeros_like(b) for b in bs]
        for step in range(2):
            rows = order[step * 4:(step + 1) * 4]
            cur = de.Network(Ws, [b if nb is not None else None for b, nb in zip(bs, net.biases)], list(net.transfers))
            gW, gb, _ = gradient_reference(cur, X[rows], y[rows], g, key, step)
            for h in range(3):
                Ws[h], V[h] = update_reference(Ws[h], V[h], gW[h], 0.3, 0.7, 0.01, max_norm or 0.0)
                if net.biases[h] is not None:
                    bs[h], Vb[h] = update_reference(bs[h], Vb[h], gb[h], 0.3, 0.7)
        out = tr.network
        for h in range(3):
            np.testing.assert_allclose(out.weights[h], Ws[h], rtol=1e-12, atol=1e-14)
            if net.biases[h] is not None:
                np.testing.assert_allclose(out.biases[h], bs[h], rtol=1e-12, atol=1e-14)
        if max_norm:
            assert np.linalg.norm(out.weights[0], axis=1).max() <= 1.0 + 1e-12


def test_epoch_order_is_a_permutation_per_epoch():
    key = (12345, 678)
    a, b = epoch_order_reference(50, key, 0), epoch_order_reference(50, key, 1)
    assert sorted(a) == list(range(50)) and sorted(b) == list(range(50)) and list(a) != list(b)


def paper_like(seed=0, sizes=(30, 40, 40, 4)):
    return de.Network.random(list(sizes), ["logistic", "logistic", "softmax"], seed=seed, scale=0.3)


def toy_task(n=600, n_in=30, n_out=4, seed=0):
    """Classes = the quadrant of two random projections: learnable, not trivially."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in)).astype(np.float32)
    P = rng.normal(size=(n_in, 2))
    Z = (X - 0.5) @ P
    return X, (Z[:, 0] > 0).astype(int) * 2 + (Z[:, 1] > 0).astype(int)


@pytest.mark.parametrize("gate", [None, de.Dropout([0.8, 0.5, 0.5]), de.Dropin(0.2),
                                  de.Dropout([0.9, 0.7, 0.7], on="connections")],
                         ids=["none", "units", "dropin", "connections"])
@pytest.mark.parametrize("backward", ["backprop", "backpercolation"])
def test_thread_count_does_not_change_a_bit(gate, backward):
    X, y = toy_task(n=300)
    nets = []
    for threads in (1, 2, 3):
        tr = de.Trainer(paper_like(), gate, learning_rate=0.5, momentum=0.5, batch_size=32, seed=3,
                        threads=threads, backward=backward)
        tr.fit(X, y, 2)
        nets.append(tr.network)
    for other in nets[1:]:
        for a, b in zip(nets[0].weights + nets[0].biases, other.weights + other.biases):
            np.testing.assert_array_equal(a, b)


def test_checkpoint_resume_is_bit_identical(tmp_path):
    """Stopped mid-epoch, saved, loaded in a fresh trainer and continued: the same bits
    as one uninterrupted run."""
    X, y = toy_task(n=300)
    opts = dict(learning_rate=0.5, momentum=0.9, batch_size=32, seed=7, schedule=("inverse", 2.0), max_norm=3.0)
    gate = de.Dropout([0.8, 0.5, 0.5])
    straight = de.Trainer(paper_like(), gate, **opts)
    straight.fit(X, y, 3, X_test=X[:50], y_test=y[:50])
    part = de.Trainer(paper_like(), gate, **opts)
    part.fit(X, y, 1, X_test=X[:50], y_test=y[:50])
    part.run_batches(X, y, 4)  # into epoch 2
    path = part.save(tmp_path / "ckpt.npz")
    resumed = de.Trainer.load(path)
    assert resumed.position == (1, 4, 14)
    resumed.run_batches(X, y, 100)  # to the end of epoch 2
    resumed.fit(X, y, 3, X_test=X[:50], y_test=y[:50])
    for a, b in zip(straight.network.weights + straight.network.biases,
                    resumed.network.weights + resumed.network.biases):
        np.testing.assert_array_equal(a, b)
    assert resumed.position == straight.position


def test_fit_checkpoint_holds_history(tmp_path):
    X, y = toy_task(n=200)
    tr = de.Trainer(paper_like(), de.Dropout([0.8, 0.5, 0.5]), learning_rate=0.5, batch_size=50, seed=1)
    tr.fit(X, y, 2, checkpoint=tmp_path / "c.npz", X_test=X, y_test=y)
    back = de.Trainer.load(tmp_path / "c.npz")
    assert back.history["train_loss"] == tr.history["train_loss"]
    assert back.epoch == 2
    for a, b in zip(back.network.weights, tr.network.weights):
        np.testing.assert_array_equal(a, b)


def test_training_learns_and_dropout_ensemble_predicts():
    X, y = toy_task(n=2000)
    tr = de.Trainer(paper_like(), de.Dropout([1.0, 0.8, 0.8]), learning_rate=0.1, momentum=0.9, batch_size=20,
                    seed=0, schedule=("exponential", 0.97))
    h = tr.fit(X[:1500], y[:1500], 30, X_test=X[1500:], y_test=y[1500:])
    assert h["train_loss"][-1] < 0.3 * h["train_loss"][0]
    assert h["test_error"][-1] < 0.2  # chance is 0.75
    assert len(h["epoch"]) == 30 and h["learning_rate"][1] == pytest.approx(0.1 * 0.97)


def test_backpercolation_learns():
    """Section 10.2: a noisy but unbiased backward pass still trains the network (with a
    smaller step than backpropagation: each coin passes the whole signal)."""
    X, y = toy_task(n=2000)
    tr = de.Trainer(paper_like(), None, learning_rate=0.05, momentum=0.5, batch_size=20, seed=0,
                    backward="backpercolation")
    h = tr.fit(X[:1500], y[:1500], 40, X_test=X[1500:], y_test=y[1500:])
    assert h["test_error"][-1] < 0.25  # chance is 0.75


def test_measurements_during_training():
    X, y = toy_task(n=200)
    gate = de.Dropout([0.8, 0.5, 0.5])
    tr = de.Trainer(paper_like(), gate, learning_rate=0.5, batch_size=50, seed=1)
    probes = X[:5]
    tr.fit(X, y, 2, probes=probes, measure_at=[0, 2], n_probe_samples=500)
    ms = tr.history["measurements"]
    assert [m["epoch"] for m in ms] == [0, 2]
    m = ms[-1]
    st = de.sample(tr.network, probes, gate, 500, seed=1)
    _, W = de.ensemble(tr.network, probes, gate)
    for h in range(3):
        assert m["var"][h].shape == (5, tr.network.sizes[h + 1])
        np.testing.assert_allclose(m["var"][h], st.var[h])
        np.testing.assert_allclose(m["gap"][h], W[h] * (1 - W[h]) - st.var[h])
        assert m["hist"][h].sum() == W[h].size
        assert 0 <= m["sparsity"][h] <= 1


def test_regularization_check_reports_per_layer():
    """Small weights, the paper's regime: the Monte Carlo E(dE_D/dw) is close to the
    ensemble gradient (Section 11.5), and adding the predicted decay term w A
    (Eq. 181, 188) brings the top layer closer still."""
    rng = np.random.default_rng(0)
    sizes = [6, 8, 3]
    net = de.Network([rng.normal(0, 0.5, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])], None,
                     ["logistic", "softmax"], dtype=np.float64)
    X, y = rng.random((5, 6)), rng.integers(0, 3, 5)
    rep = regularization_check(net, X, y, de.Dropout([1.0, 0.5]), n_draws=4000, n_samples=4000)
    assert [r["layer"] for r in rep] == [0, 1]
    for r in rep:
        assert r["mc"].shape == r["ens"].shape == r["decay"].shape == net.weights[r["layer"]].shape
        assert r["corr"] > 0.9
    top = rep[-1]
    assert top["rel_err_with_decay"] < top["rel_err"]


# ---- bad input -----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,err,match", [
    (dict(learning_rate=0), ValueError, "learning_rate"),
    (dict(learning_rate=-1), ValueError, "learning_rate"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(loss="hinge"), ValueError, "loss"),
    (dict(loss="relative_entropy"), ValueError, "relative_entropy"),
    (dict(max_norm=0), ValueError, "max_norm"),
    (dict(backward="backwards"), ValueError, "backward"),
    (dict(backward=[0.5]), ValueError, "one entry per hidden layer"),
    (dict(backward=1.5), ValueError, "backward"),
    (dict(schedule=("exponential", 1.5)), ValueError, "gamma"),
    (dict(schedule="fast"), TypeError, "schedule"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_bad_options(kwargs, err, match):
    with pytest.raises(err, match=match):
        de.Trainer(paper_like(), de.Dropout(0.5), **kwargs)


def test_backpercolation_needs_derivatives_at_most_one():
    net = de.Network.random([4, 5, 3], [de.Logistic(lam=5.0), "softmax"], seed=0)
    with pytest.raises(ValueError, match="lam <= 4"):
        de.Trainer(net, None, backward="backpercolation")
    de.Trainer(net, None, backward="backprop")  # fine with backpropagation
    de.Trainer(de.Network.random([4, 5, 3], [de.Logistic(lam=4.0), "softmax"], seed=0), None,
               backward="backpercolation")


def test_bad_gates_and_networks():
    with pytest.raises(TypeError, match="gate"):
        de.Trainer(paper_like(), de.Spikes(1.0))
    with pytest.raises(ValueError, match="keep_bias"):
        de.Trainer(paper_like(), de.Dropout(0.5, keep_bias=0.5))
    with pytest.raises(ValueError, match="softmax"):
        de.Trainer(de.Network.random([3, 4, 2], ["softmax", "softmax"], seed=0), None)
    with pytest.raises(TypeError, match="net"):
        de.Trainer("net.npz")


@pytest.mark.parametrize("X,y,err,match", [
    (np.ones((10, 29)), np.zeros(10, int), ValueError, "shape"),
    (np.ones(30), np.zeros(1, int), ValueError, "2-dimensional"),
    (np.array([["a"] * 30] * 10), np.zeros(10, int), TypeError, "real numbers"),
    (np.ones((10, 30)), np.full(10, 4), ValueError, "label 4 is outside"),
    (np.ones((10, 30)), np.full(10, -1), ValueError, "label -1"),
    (np.ones((10, 30)), np.zeros(9, int), ValueError, "9 labels for 10"),
    (np.ones((10, 30)), np.zeros(10), TypeError, "integer class labels"),
    (np.ones((10, 30)), np.zeros((10, 3)), ValueError, "targets"),
    (np.full((10, 30), np.nan), np.zeros(10, int), ValueError, "finite"),
])
def test_bad_data_is_refused_before_training(X, y, err, match):
    tr = de.Trainer(paper_like(), de.Dropout(0.5), seed=0)
    before = [w.copy() for w in tr.network.weights]
    with pytest.raises(err, match=match):
        tr.fit(X, y, 1)
    assert tr.position == (0, 0, 0)
    for a, b in zip(before, tr.network.weights):
        np.testing.assert_array_equal(a, b)


def test_schedule_and_train_function():
    X, y = toy_task(n=100)
    net, hist = de.train(paper_like(), X, y, de.Dropout([0.8, 0.5, 0.5]), epochs=3, learning_rate=0.4,
                         schedule=("inverse", 1.0), batch_size=25, seed=2)
    assert hist["learning_rate"] == pytest.approx([0.4, 0.2, 0.4 / 3])
    assert isinstance(net, de.Network)


@pytest.mark.parametrize("gate", ["none", "units", "units_per_unit", "dropin"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_is_the_ensemble_network(gate, dtype):
    """Trainer.predict (the packed fast path) equals dropengine.ensemble (Eq. 167)."""
    net = small_net(dtype=dtype)
    X = np.random.default_rng(0).random((300, 5))
    g = GATES[gate]()
    got = de.Trainer(net, g).predict(X)
    want = de.ensemble(net, X, g)[1][-1]
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 2e-6, atol=1e-7)
