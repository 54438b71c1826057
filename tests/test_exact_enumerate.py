"""dropengine.exact.enumerate against a plain brute-force NumPy enumerator, the paper's
closed forms (Eq. 5, 33, 39) and the Monte Carlo sampler."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from bruteforce import enumerate_exact
from conftest import TRANSFERS, small_net
from dropengine.exact import enumerate as enumerate_subnetworks
from dropengine import exact
from dropengine.exact import n_subnetworks

FIELDS = ("E", "var", "E_S", "var_S", "E_dsigma", "G", "Gc", "nwgm")

GATES = {
    "units-0.5": de.Dropout(keep=0.5, on="units"),
    "units-mixed": de.Dropout(keep=[[0.9, 0.3, 0.6], [0.25, 0.8]], on="units", keep_bias=0.7),
    "units-fixed": de.Dropout(keep=[[1.0, 0.0, 0.6], 0.5], on="units", keep_bias=0.4),
    "connections-0.5": de.Dropout(keep=0.5, on="connections", keep_bias=0.5),
    "connections-mixed": de.Dropout(keep=[0.6, np.array([[0.5, 0.9], [0.2, 0.7]])], on="connections",
                                    keep_bias=0.8),
    "dropin": de.Dropin(rate=[[0.1, 0.3, 0.2], 0.25]),
}
X = np.array([[0.7, -1.2, 0.4], [1.5, 0.3, -0.8]])
# Float64 rounding: the oracle sums up to 2^14 weighted terms naively, so its own error
# reaches ~1e-13 of the largest term; both sides agree to that.
RTOL, ATOL = 1e-12, 1e-13


def _check_against_oracle(net, gate, X, pairs=()):
    st = enumerate_subnetworks(net, X, gate, pairs=pairs or None)
    assert st.exact and np.all(st.count > 1 - 1e-12) and np.all(st.count < 1 + 1e-12)
    for row, x in enumerate(X):
        ex = enumerate_exact(net, x, gate, pairs)
        assert st.n_samples == ex["n_configs"]
        for name in FIELDS:
            for h in range(net.n_layers):
                got, want = getattr(st, name)[h][row], ex[name][h]
                assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=f"{name}[{h}]")
        if pairs:
            assert_allclose(st.cov[row], ex["cov"], rtol=RTOL, atol=ATOL)
        assert np.all(st.sem[0] == 0)


@pytest.mark.parametrize("gate_name", list(GATES))
@pytest.mark.parametrize("f", TRANSFERS, ids=repr)
def test_equals_bruteforce(f, gate_name):
    """Every field equals the brute-force enumerator to float64 rounding, any transfer."""
    if gate_name.startswith("connections"):  # 2-2-2 keeps the oracle at 2^12 configurations
        net = small_net([de.Logistic(), f], sizes=(2, 2, 2))
        _check_against_oracle(net, GATES[gate_name], X[:, :2])
    else:
        net = small_net([de.Logistic(), f])
        _check_against_oracle(net, GATES[gate_name], X)


@pytest.mark.parametrize("gate_name", ["units-mixed", "connections-mixed", "dropin"])
def test_pair_covariances_equal_bruteforce(gate_name):
    n_in = 2 if gate_name.startswith("connections") else 3
    net = small_net([de.Tanh(), de.Logistic()], sizes=(n_in, 2, 2))
    pairs = [((0, 0), (0, 1)), ((0, 1), (1, 0)), ((1, 0), (1, 1)), ((1, 1), (1, 1))]
    _check_against_oracle(net, GATES[gate_name], X[:, :n_in], pairs)


def test_float32_network_is_enumerated_in_float64():
    net32 = small_net([de.Logistic(), de.Logistic()], dtype=np.float32)
    net64 = de.Network([w.astype(np.float64) for w in net32.weights],
                       [b.astype(np.float64) for b in net32.biases], net32.transfers)
    a = enumerate_subnetworks(net32, X, GATES["units-mixed"])
    b = enumerate_subnetworks(net64, X, GATES["units-mixed"])
    for h in range(2):
        assert_allclose(a.E[h], b.E[h], rtol=1e-6)  # only the inputs were rounded to float32


def test_no_gate_is_the_deterministic_network():
    net = small_net([de.Logistic(), de.Softmax()])
    st = enumerate_subnetworks(net, X, None)
    assert st.n_samples == 1
    U, W = de.forward(net, X)
    for h in range(2):
        assert_allclose(st.E[h], W[h], rtol=1e-15)
        assert_allclose(st.var[h], 0, atol=0)


def test_eq5_halving_the_weights():
    """Eq. 5: with p = 1/2 on every input, E(S) = sum_i (w_i / 2) I_i, exactly."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(1, 14))
    I = rng.normal(size=(3, 14))
    net = de.Network([w], None, de.Linear())
    st = enumerate_subnetworks(net, I, de.Dropout(0.5))
    assert st.n_samples == 2**14
    assert_allclose(st.E_S[0][:, 0], I @ (w[0] / 2), rtol=1e-14, atol=1e-15)
    # Eq. 11: Var(S) = sum w^2 p q I^2
    assert_allclose(st.var_S[0][:, 0], (I**2) @ (w[0] ** 2 / 4), rtol=1e-13)


@pytest.mark.parametrize("halves", [True, False], ids=["halves", "gray"])
@pytest.mark.parametrize("keep", [0.5, 0.3, "per-unit"])
def test_eq33_39_nwgm_is_logistic_of_mean_sum(halves, keep):
    """Eq. 33 (p = 1/2) and Eq. 39 (any p): for a logistic layer NWGM(O) = sigma(E(S)) exactly."""
    rng = np.random.default_rng(4)
    n = 14
    keep = [rng.uniform(0.2, 0.9, n)] if keep == "per-unit" else keep
    f = de.Logistic(c=1.5, lam=0.8)
    net = de.Network([rng.normal(size=(3, n))], [rng.normal(size=3)], f)
    I = rng.normal(size=(2, n))
    st = enumerate_subnetworks(net, I, de.Dropout(keep, keep_bias=0.6), _halves=halves)
    want = 1.0 / (1.0 + 1.5 * np.exp(-0.8 * st.E_S[0]))
    assert_allclose(st.nwgm[0], want, rtol=1e-13)
    # and E(S) itself is the ensemble network's U (Eq. 7, 10)
    U, _ = de.ensemble(net, I, de.Dropout(keep, keep_bias=0.6))
    assert_allclose(st.E_S[0], U[0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("gate", [de.Dropout(0.5), de.Dropout(0.3, keep_bias=0.5), de.Dropin(0.2),
                                  de.Dropout([np.r_[np.full(8, 0.5), np.full(6, 0.7)]])],
                         ids=["0.5", "0.3-bias", "dropin", "two-values"])
def test_split_halves_route_equals_gray_code_walk(gate):
    """The fast route for one logistic layer (reference twin: the general Gray-code walk)."""
    rng = np.random.default_rng(5)
    net = de.Network([rng.normal(size=(3, 14))], [rng.normal(size=3)], de.Logistic(c=0.7, lam=1.3))
    I = rng.normal(size=(2, 14))
    fast = enumerate_subnetworks(net, I, gate)
    slow = enumerate_subnetworks(net, I, gate, _halves=False)
    for name in FIELDS + ("log_G", "log_Gc"):
        assert_allclose(getattr(fast, name)[0], getattr(slow, name)[0], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("halves", [True, False], ids=["halves", "gray"])
def test_bit_identical_for_any_thread_count(halves):
    rng = np.random.default_rng(6)
    if halves:
        net = de.Network([rng.normal(size=(2, 20))], None, de.Logistic())
        I, gate = rng.normal(size=(2, 20)), de.Dropout(0.5)
    else:
        net = small_net([de.Tanh(), de.Logistic()], sizes=(8, 6, 2))
        I, gate = rng.normal(size=(3, 8)), de.Dropout(0.6, keep_bias=0.5)
    runs = [enumerate_subnetworks(net, I, gate, threads=t, _halves=halves) for t in (1, 2, 3)]
    for r in runs[1:]:
        for k in r._acc:
            assert np.array_equal(r._acc[k], runs[0]._acc[k], equal_nan=True), k


@pytest.mark.parametrize("gate_name", ["units-mixed", "connections-mixed", "dropin"])
def test_sampler_agrees_within_five_standard_errors(gate_name):
    """Stochastic (fixed seed): Monte Carlo E within 5 SE of the exact E (SE from the exact Var)."""
    net = small_net([de.Logistic(), de.Tanh()])
    gate = GATES[gate_name]
    ex = enumerate_subnetworks(net, X, gate)
    n = 20_000
    mc = de.sample(net, X, gate, n, seed=11)
    for h in range(2):
        se = np.sqrt(ex.var[h] / n)
        assert np.all(np.abs(mc.E[h] - ex.E[h]) <= 5 * se + 1e-12)
        assert np.all(np.abs(mc.E_S[h] - ex.E_S[h]) <= 5 * np.sqrt(ex.var_S[h] / n) + 1e-12)


def test_refuses_too_many_subnetworks_before_any_work():
    net = de.Network.random([40, 30, 10], "logistic", seed=0)
    assert n_subnetworks(net, de.Dropout(0.5)) == 2**70
    with pytest.raises(ValueError, match="max_subnetworks"):
        enumerate_subnetworks(net, np.zeros(40), de.Dropout(0.5))
    small = small_net([de.Logistic(), de.Logistic()])
    with pytest.raises(ValueError, match="max_subnetworks"):
        enumerate_subnetworks(small, X, de.Dropout(0.5), max_subnetworks=16)
    st = enumerate_subnetworks(small, X, de.Dropout(0.5, keep_bias=1.0), max_subnetworks=32)
    assert st.n_samples == 32


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(inputs=np.zeros((2, 4))), ValueError, "inputs"),
    (dict(inputs="x"), TypeError, "inputs"),
    (dict(gate="dropout"), TypeError, "gate"),
    (dict(gate=de.Dropout(keep=[1.5, 0.5])), ValueError, "keep"),
    (dict(max_subnetworks=0), ValueError, "max_subnetworks"),
    (dict(max_subnetworks=2.0), TypeError, "max_subnetworks"),
    (dict(threads=0), ValueError, "threads"),
    (dict(pairs=[((0, 5), (1, 0))]), ValueError, "pairs"),
])
def test_bad_input_is_refused_clearly(kwargs, exc, match):
    net = small_net([de.Logistic(), de.Logistic()])
    args = dict(inputs=X, gate=de.Dropout(0.5))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        enumerate_subnetworks(net, args.pop("inputs"), **args)
    with pytest.raises(TypeError, match="net"):
        enumerate_subnetworks("net", X)


def test_exact_statistics_save_load_and_merge_rules(tmp_path):
    net = small_net([de.Logistic(), de.Logistic()])
    st = enumerate_subnetworks(net, X, GATES["units-mixed"])
    back = de.SampleStats.load(st.save(tmp_path / "exact.npz"))
    assert back.exact and back.n_samples == st.n_samples
    assert_allclose(back.nwgm[1], st.nwgm[1], rtol=0)
    with pytest.raises(ValueError, match="exact"):
        st.merge(de.sample(net, X, GATES["units-mixed"], 10, seed=0))


def test_parts_merge_into_the_whole_enumeration():
    """part=(k, n): disjoint ranges of the code whose statistics merge into the whole."""
    rng = np.random.default_rng(12)
    for net, gate in ((de.Network([rng.normal(size=(3, 20))], None, de.Logistic()), de.Dropout(0.5)),
                      (small_net([de.Tanh(), de.Logistic()], sizes=(10, 8, 3)), de.Dropout(0.6, keep_bias=0.5))):
        Xp = rng.normal(size=(2, net.n_in))
        whole = enumerate_subnetworks(net, Xp, gate)
        K = exact.max_parts(net, gate)
        assert K == 16
        parts = [enumerate_subnetworks(net, Xp, gate, part=(k, K)) for k in range(K)]
        merged = parts[0]
        for p in parts[1:]:
            merged = merged.merge(p)
        assert merged.exact and merged.n_samples == whole.n_samples
        for name in FIELDS:
            for a, b in zip(getattr(merged, name), getattr(whole, name)):
                assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)
        with pytest.raises(ValueError, match="n_parts"):
            enumerate_subnetworks(net, Xp, gate, part=(0, 32))
        with pytest.raises(ValueError, match="part"):
            enumerate_subnetworks(net, Xp, gate, part=(16, 16))
