"""Networks as DAGs (issue 17, Eq. 21): the representation, its checks, its file, the gates
on it, and the clear refusal of the engines that compute chains only."""
import numpy as np
import pytest

import dropengine as de
from dropengine import exact

RNG = np.random.default_rng(3)
W1, W20, W21 = RNG.normal(size=(3, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
W31, W32 = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 2))
B = [RNG.normal(size=3), None, RNG.normal(size=2)]


@pytest.fixture
def net():
    # The example: layer 2 from the input and layer 1, layer 3 from layers 1 and 2.
    return de.Network([W1, {0: W20, 1: W21}, {1: W31, 2: W32}], B, transfer=["logistic", "logistic", "softmax"],
                      dtype=np.float64)


X = np.array([[0.1, 0.5, -0.3]])


# --- representation ---------------------------------------------------------------------
def test_sources_and_shapes(net):
    assert not net.is_chain
    assert [net.sources(h) for h in (1, 2, 3)] == [(0,), (0, 1), (1, 2)]
    assert net.sizes == (3, 3, 2, 2) and net.n_layers == 3 and net.n_in == 3
    assert "sources={2: (0, 1), 3: (1, 2)}" in repr(net)
    for bad in (0, 4, 1.0, True):
        with pytest.raises(ValueError, match="h must be a layer 1..3"):
            net.sources(bad)


def test_weights_of_a_dag_layer_are_a_read_only_mapping(net):
    assert isinstance(net.weights[0], np.ndarray)
    w = net.weights[1]
    assert sorted(w) == [0, 1] and np.array_equal(w[0], W20) and np.array_equal(w[1], W21)
    with pytest.raises(TypeError):
        w[2] = W20
    with pytest.raises(ValueError):
        w[0][0, 0] = 1.0
    lw = net.layer_weights(3)
    assert sorted(lw) == [1, 2] and np.array_equal(lw[2], W32) and not lw[1].flags.writeable


def test_input_weights_is_the_concatenated_view(net):
    W, blocks = net.input_weights(3)
    assert blocks == [(1, 0, 3), (2, 3, 2)]
    assert np.array_equal(W, np.hstack([W31, W32])) and not W.flags.writeable
    # What a core computes with it: S^3 = W_cat [O^1; O^2].
    o1, o2 = RNG.normal(size=3), RNG.normal(size=2)
    np.testing.assert_allclose(W @ np.concatenate([o1, o2]), W31 @ o1 + W32 @ o2, rtol=1e-14)
    W1_, blocks1 = net.input_weights(1)
    assert W1_ is net.weights[0] and blocks1 == [(0, 0, 3)]


def test_a_chain_is_what_it_was():
    chain = de.Network([W1, W20], dtype=np.float64)
    assert chain.is_chain and all(isinstance(w, np.ndarray) for w in chain.weights)
    assert repr(chain) == "Network(3-3-2, transfer=[logistic, logistic], dtype=float64)"
    assert chain.sources(2) == (1,)
    same = de.Network([{0: chain.weights[0]}, {1: chain.weights[1]}], dtype=np.float64)
    assert same.is_chain and repr(same) == repr(chain)


def test_random_with_skips():
    a = de.Network.random([3, 4, 2], seed=1, dtype=np.float64)
    b = de.Network.random([3, 4, 2], seed=1, dtype=np.float64, skips=[])
    rng = np.random.default_rng(1)  # a chain's draws: W then b, per layer, scale 1/sqrt(n_in)
    assert np.array_equal(a.weights[0], rng.normal(0, 1 / np.sqrt(3), size=(4, 3)))
    assert all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))
    d = de.Network.random([3, 4, 2, 2], seed=1, skips=[(0, 2), (0, 3), (1, 3)])
    assert [d.sources(h) for h in (1, 2, 3)] == [(0,), (0, 1), (0, 1, 2)]
    for skips in ([(1, 2)], [(0, 4)], [(2, 1)], [3]):
        with pytest.raises(ValueError, match="skips"):
            de.Network.random([3, 4, 2, 2], skips=skips)


# --- checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("weights,exc,match", [
    ([W1, {2: W21}], ValueError, r"weights\[1\]\[2\]: layer 2 can receive only from layers 0..1"),
    ([{1: W1}], ValueError, r"weights\[0\]\[1\]"),
    ([W1, {0: W20, -1: W21}], ValueError, r"weights\[1\]\[-1\]"),
    ([W1, {}], ValueError, r"weights\[1\] is an empty dict"),
    ([W1, {"0": W20}], TypeError, r"weights\[1\]: source layers are ints"),
    ([W1, {0.0: W20}], TypeError, r"weights\[1\]: source layers are ints"),
    ([W1, {True: W20}], TypeError, r"weights\[1\]: source layers are ints"),
    ([W1, {0: W20, 1: np.ones((3, 3))}], ValueError, r"weights\[1\]\[1\] has shape \(3, 3\), but layer 2 has 2"),
    ([W1, {0: W20, 1: np.ones((2, 4))}], ValueError, r"weights\[1\]\[1\] has shape \(2, 4\).*source layer 1 has 3"),
    ([W1, {0: np.ones((2, 2)), 1: W21}], ValueError, r"weights\[1\]\[0\].*source layer 0 has 3"),
    ([W1, {0: np.ones(3), 1: W21}], ValueError, r"weights\[1\]\[0\] must be 2-dimensional"),
    ([W1, {0: np.full((2, 3), np.nan), 1: W21}], ValueError, r"weights\[1\]\[0\] must be finite"),
    ([W1, {0: np.zeros((2, 0)), 1: W21}], ValueError, r"weights\[1\]\[0\] must have shape"),
    ([W1, {0: "W", 1: W21}], TypeError, r"weights\[1\]\[0\]"),
])
def test_bad_dag_weights_name_the_entry(weights, exc, match):
    with pytest.raises(exc, match=match):
        de.Network(weights)


def test_bad_biases_and_float32_overflow_of_a_dag_entry():
    with pytest.raises(ValueError, match=r"biases\[1\] must have shape \(2,\)"):
        de.Network([W1, {0: W20, 1: W21}], [None, np.ones(3)])
    with pytest.raises(ValueError, match=r"weights\[1\]\[1\] \(layer 1\) must be finite within the range of float32"):
        de.Network([W1, {0: W20, 1: np.full((2, 3), 1e39)}], dtype=np.float32)


# --- files ------------------------------------------------------------------------------
def test_save_load_round_trip(net, tmp_path):
    path = net.save(tmp_path / "dag.npz")
    with np.load(path) as z:
        assert str(z["format"]) == "dropengine.NetworkDAG/1"
        assert sorted(z.files) == ["W0_0", "W1_0", "W1_1", "W2_1", "W2_2", "b0", "b2", "format", "n_layers",
                                   "transfers"]
    back = de.Network.load(path)
    assert repr(back) == repr(net)
    for h in (1, 2, 3):
        assert back.sources(h) == net.sources(h)
        assert all(np.array_equal(back.layer_weights(h)[l], w) for l, w in net.layer_weights(h).items())
    assert back.biases[1] is None and np.array_equal(back.biases[2], net.biases[2])


def test_chain_files_keep_their_format(tmp_path):
    chain = de.Network([W1, W20], [None, np.ones(2)], dtype=np.float64)
    with np.load(chain.save(tmp_path / "c.npz")) as z:
        assert str(z["format"]) == "dropengine.Network/1"
        assert z.files == ["format", "n_layers", "transfers", "W0", "W1", "b1"]


def _damaged(net, tmp_path, drop=(), **extra):
    with np.load(net.save(tmp_path / "good.npz")) as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    arrays.update(extra)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("drop,extra,match", [
    (("W1_0", "W1_1"), {}, "lacks the weights of layer 2"),
    ((), {"W1_2": np.ones((2, 2))}, r"weights\[1\]\[2\]"),
    ((), {"W5_0": np.ones((2, 3))}, "unexpected entry 'W5_0'"),
    ((), {"W1_01": np.ones((2, 3))}, "unexpected entry 'W1_01'"),
    ((), {"extra": np.ones(1)}, "unexpected entry 'extra'"),
    (("W2_2",), {"W2_2": np.ones((2, 5))}, r"weights\[2\]\[2\] has shape \(2, 5\)"),
    (("W1_0",), {"W1_0": np.array([["a", "b", "c"]] * 2)}, r"weights\[1\]\[0\]"),
    (("n_layers",), {"n_layers": np.array(2.0)}, "n_layers"),
])
def test_damaged_dag_file_is_refused(net, tmp_path, drop, extra, match):
    with pytest.raises(ValueError, match="does not hold a valid network: .*" + match):
        de.Network.load(_damaged(net, tmp_path, drop, **extra))


# --- gates on a DAG ---------------------------------------------------------------------
def test_unit_keep_is_per_source_layer(net):
    kind, p, kb = de.Dropout([0.8, np.array([0.1, 0.2, 0.3]), 0.5], keep_bias=0.9).resolve(net)
    assert kind == "units" and kb == [0.9] * 3
    assert [a.tolist() for a in p] == [[0.8], [0.1, 0.2, 0.3], [0.5]]
    with pytest.raises(ValueError, match=r"keep\[2\] must be a scalar or shape \(2,\)"):
        de.Dropout([0.8, 0.5, np.ones(3)]).resolve(net)


def test_connection_keep_is_flat_in_input_weights_order(net):
    P31, P32 = RNG.uniform(size=(2, 3)), RNG.uniform(size=(2, 2))
    kind, p, _ = de.Dropout([0.8, {0: 0.5, 1: np.array([0.1, 0.2, 0.3])}, {1: P31, 2: P32}],
                            on="connections").resolve(net)
    assert kind == "connections" and p[0].tolist() == [0.8]
    want2 = np.hstack([np.full((2, 3), 0.5), np.broadcast_to([0.1, 0.2, 0.3], (2, 3))])
    assert np.array_equal(p[1], want2.reshape(-1))
    assert np.array_equal(p[2].reshape(2, 5), np.hstack([P31, P32]))
    # A matrix over the concatenated inputs is the same thing.
    _, q, _ = de.Dropout([0.8, want2, np.hstack([P31, P32])], on="connections").resolve(net)
    assert np.array_equal(q[1], p[1]) and np.array_equal(q[2], p[2])


@pytest.mark.parametrize("keep2,match", [
    ({1: 0.5}, r"keep\[2\] must have one entry per source layer of layer 3, \[1, 2\]"),
    ({1: 0.5, 2: 0.5, 0: 0.5}, r"keep\[2\] must have one entry per source layer"),
    ({1: 0.5, 2: np.ones((2, 3))}, r"keep\[2\]\[2\] must be a scalar or shape \(2,\) or \(2, 2\)"),
    ({1: 1.5, 2: 0.5}, r"keep\[2\]\[1\] must lie in \[0, 1\]"),
    (np.ones((2, 3)), r"keep\[2\] must be a scalar or shape \(5,\) or \(2, 5\)"),
])
def test_bad_connection_keeps(net, keep2, match):
    with pytest.raises(ValueError, match=match):
        de.Dropout([0.5, 0.5, keep2], on="connections").resolve(net)


def test_spikes_resolve_on_a_dag(net):
    kind, r, _ = de.Spikes(0.5, on="connections").resolve(net)
    assert kind == "spikes_connections" and r[0].size == 0 and r[2].tolist() == [0.5]


# --- the C++ engines compute DAGs (their numbers: tests/test_dag_engines.py) -------------
REFUSAL = r"^net: networks with skip connections \(layer h receiving from layers other than h - 1\) are not supported"


def test_cpp_engines_take_dags(net):
    # The ensemble with no gate is plain propagation; sampling with no gate gives it exactly.
    U, W = de.ensemble(net, X, de.NoGate())
    _, F = de.forward(net, X)
    for w, f in zip(W, F):
        np.testing.assert_array_equal(w, f)
    st = de.sample(net, X, de.NoGate(), 64, seed=0)
    for e, f in zip(st.E, F):
        np.testing.assert_allclose(e, f, rtol=1e-15, atol=1e-15)
    assert exact.n_subnetworks(net, de.Dropout(0.5)) == 2 ** 8  # the units of layers 0, 1 and 2
    assert de.spiking.simulate(net, np.array([[0.1, 0.5, 0.3]]), de.Spikes(0.5), 64, seed=0).stats.n_samples == 64


def test_python_engines_refuse_at_their_entry(net):
    T = np.array([[0.5, 0.5]])
    from dropengine.training import regularization
    with pytest.raises(ValueError, match=REFUSAL + " by training.ensemble_loss"):
        regularization.ensemble_loss(net, X, [0], de.Dropout(0.5))
    with pytest.raises(ValueError, match=REFUSAL + " by analysis.connected_pair"):
        de.analysis.connected_pair(net, X, de.Dropout(0.5), 1, 0, 0)
    logistic = de.Network(list(net.weights), net.biases, "logistic")
    with pytest.raises(ValueError, match=REFUSAL + " by analysis.deep_regularizer"):
        de.analysis.deep_regularizer(logistic, X, T, [0.5, 0.5, 0.5])


def test_to_torch_takes_dags(net):
    # a module of Linears per source layer (round trips: tests/test_torch_fx.py)
    torch = pytest.importorskip("torch")
    from dropengine.torch import to_torch
    with torch.no_grad():
        got = to_torch(net).eval()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(got, de.forward(net, X)[1][-1], rtol=1e-13, atol=1e-15)


def test_cli_samples_a_dag_file(net, tmp_path):
    from dropengine.cli import main

    np.save(tmp_path / "x.npy", X)
    code = main(["sample", str(net.save(tmp_path / "dag.npz")), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "out.npz"), "--samples", "256", "--seed", "4"])
    assert code == 0
    st = de.SampleStats.load(tmp_path / "out.npz")
    ref = de.sample(net, X, de.Dropout(0.5), 256, seed=4)
    for a, b in zip(st.E, ref.E):
        np.testing.assert_array_equal(a, b)
