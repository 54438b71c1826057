"""Bad input gets a clear ValueError/TypeError naming the argument, before any work."""
import numpy as np
import pytest

import dropengine as de
from conftest import small_net


@pytest.fixture
def net():
    return small_net(["logistic", "softmax"], sizes=(3, 4, 2))


X = np.array([[0.1, 0.2, 0.3]])


@pytest.mark.parametrize("keep,match", [
    (1.5, "keep"), (-0.1, "keep"), (np.nan, "keep"), ([0.5], "one entry per layer"),
    ([0.5, np.array([0.5, 2.0, 0.5, 0.5])], r"keep\[1\]"), ([np.ones(5), 0.5], r"keep\[0\]"),
])
def test_bad_keep(net, keep, match):
    with pytest.raises(ValueError, match=match):
        de.sample(net, X, de.Dropout(keep), 10, seed=0)


def test_bad_gate_kind(net):
    with pytest.raises(ValueError, match="on"):
        de.Dropout(0.5, on="weights")
    with pytest.raises(TypeError, match="gate"):
        de.sample(net, X, "dropout", 10)
    with pytest.raises(TypeError, match="keep"):
        de.Dropout(True)
    with pytest.raises(ValueError, match="keep_bias"):
        de.sample(net, X, de.Dropout(0.5, keep_bias=2.0), 10)
    with pytest.raises(ValueError, match="rate"):
        de.Dropin(rate=-1)


def test_mismatched_layers():
    with pytest.raises(ValueError, match=r"weights\[1\] has n_in = 3"):
        de.Network([np.ones((4, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"biases\[0\]"):
        de.Network([np.ones((4, 3))], [np.ones(3)])
    with pytest.raises(ValueError, match=r"weights\[0\] must be 2-dimensional"):
        de.Network([np.ones(3)])
    with pytest.raises(ValueError, match="at least one"):
        de.Network([])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_and_inputs(net, bad):
    W = np.ones((2, 3))
    W[0, 1] = bad
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        de.Network([W])
    with pytest.raises(ValueError, match=r"biases\[0\] must be finite"):
        de.Network([np.ones((2, 3))], [np.array([0.0, bad])])
    with pytest.raises(ValueError, match="inputs must be finite"):
        de.sample(net, np.array([[0.0, bad, 1.0]]), de.Dropout(0.5), 10)


def test_wrong_input_width(net):
    with pytest.raises(ValueError, match="inputs must have 3 columns"):
        de.sample(net, np.ones((2, 4)), de.Dropout(0.5), 10)
    with pytest.raises(ValueError, match="inputs must have 3 columns"):
        de.ensemble(net, np.ones((2, 4)), de.Dropout(0.5))
    with pytest.raises(ValueError, match="inputs must be"):
        de.sample(net, np.ones((2, 3, 1)), de.Dropout(0.5), 10)


@pytest.mark.parametrize("dtype", [complex, object, bool, str])
def test_wrong_input_dtype(net, dtype):
    with pytest.raises(TypeError, match="inputs"):
        de.sample(net, np.ones((1, 3)).astype(dtype), de.Dropout(0.5), 10)


@pytest.mark.parametrize("n,exc", [(0, ValueError), (-5, ValueError), (2.5, TypeError), ("10", TypeError),
                                   (True, TypeError)])
def test_bad_sample_counts(net, n, exc):
    with pytest.raises(exc, match="n_samples"):
        de.sample(net, X, de.Dropout(0.5), n)


def test_bad_transfers():
    with pytest.raises(ValueError, match="unknown transfer"):
        de.Network([np.ones((2, 3))], transfer="sigmoidal")
    with pytest.raises(ValueError, match="c must be >= 0"):
        de.Logistic(c=-1.0)
    with pytest.raises(ValueError, match="lam must be finite"):
        de.Logistic(lam=np.inf)
    with pytest.raises(TypeError, match="transfer"):
        de.Network([np.ones((2, 3))], transfer=3)
    with pytest.raises(ValueError, match="one transfer or a list of 1"):
        de.Network([np.ones((2, 3))], transfer=["linear", "linear"])


def test_bad_seed_threads_pairs_record(net):
    g = de.Dropout(0.5)
    with pytest.raises(ValueError, match="seed"):
        de.sample(net, X, g, 10, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        de.sample(net, X, g, 10, seed=1.5)
    with pytest.raises(ValueError, match="threads"):
        de.sample(net, X, g, 10, threads=0)
    with pytest.raises(ValueError, match=r"pairs\[0\]"):
        de.sample(net, X, g, 10, pairs=[((0, 9), (1, 0))])
    with pytest.raises(ValueError, match=r"record\[0\]"):
        de.sample(net, X, g, 10, record=[5])


def test_record_memory_guard_refuses_before_allocation(net):
    with pytest.raises(MemoryError, match="max_record_bytes"):
        de.sample(net, np.ones((1000, 3)), de.Dropout(0.5), 10**9, record=[0])


def test_network_load_validates(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(p, format=np.array("dropengine.Network/1"), n_layers=np.array(1),
             transfers=np.zeros((1, 5)), W0=np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        de.Network.load(p)
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="not a dropengine network"):
        de.Network.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="cannot read"):
        de.Network.load(tmp_path / "missing.npz")


def test_merge_checks(net):
    a = de.sample(net, X, de.Dropout(0.5), 10, seed=1)
    b = de.sample(net, np.ones((2, 3)), de.Dropout(0.5), 10, seed=1)
    with pytest.raises(ValueError, match="other"):
        a.merge(b)
    with pytest.raises(TypeError, match="other"):
        a.merge(3)


@pytest.mark.parametrize("layout", ["fortran", "strided", "int", "float32-into-float64", "1d"])
def test_layouts_give_identical_results(net, layout):
    base = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]])
    ref = de.sample(net, base, de.Dropout(0.5), 50, seed=3)
    if layout == "fortran":
        Xl = np.asfortranarray(base)
    elif layout == "strided":
        Xl = np.zeros((4, 6))
        Xl[::2, ::2] = base
        Xl = Xl[::2, ::2]
    elif layout == "int":
        base = np.array([[1, -1, 2], [1, 0, -3]])
        ref = de.sample(net, base.astype(float), de.Dropout(0.5), 50, seed=3)
        Xl = base
    elif layout == "float32-into-float64":
        base = base.astype(np.float32)
        ref = de.sample(net, base.astype(np.float64), de.Dropout(0.5), 50, seed=3)
        Xl = base
    else:
        ref = de.sample(net, base[:1], de.Dropout(0.5), 50, seed=3)
        Xl = base[0]
    got = de.sample(net, Xl, de.Dropout(0.5), 50, seed=3)
    assert got._acc["mean"].tobytes() == ref._acc["mean"].tobytes()


def test_zero_inputs_give_empty_statistics(net):
    st = de.sample(net, np.zeros((0, 3)), de.Dropout(0.5), 10)
    assert st.E[0].shape == (0, 4)


def test_huge_random_network_is_refused_before_allocation():
    with pytest.raises(MemoryError, match="sizes"):
        de.Network.random([10**6, 10**6, 10], "logistic")


def test_threads_upper_bound():
    net = de.Network.random([3, 2], "logistic", seed=0)
    with pytest.raises(ValueError, match="threads"):
        de.sample(net, np.ones(3), de.Dropout(0.5), 8, seed=0, threads=10**9)
