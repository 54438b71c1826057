"""One network, several gate kinds: ``de.Gates([...])`` (issue "General networks").

Entry l of a Gates holds one gate: a unit kind gates the units of layer l wherever they
go (Eq. 22), a connection kind the connections into layer l + 1 (Eq. 23); on a skip
connection both may apply. Oracles: the independent brute force of ``dag_oracle`` (each
entry's kind and values, written from the equations), the NumPy twin (same Philox
draws), ``exact.linear_moments`` in closed form for the continuous kinds, and the
whole-network gates themselves (an entry draws what the same gate draws on that layer).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dropengine import _reference as R
from dropengine._validation import seed_key

from dag_oracle import OracleGate, exact_moments, free_selectors
from test_dag_engines import (PAIRS, SIZES, TOPOLOGIES, TRANSFER_CASES, X, Z, assert_ensemble_equals_eq167,
                              assert_enumerate_equals_oracle, assert_sample_agrees_with_oracle, make_net)

ACC = ("count", "mean", "m2", "slog", "slogc", "mean_S", "m2_S", "mean_dO", "comoment")


# --- mixes of Bernoulli kinds, entry by entry, with the oracle's twin ---------------------------
def _few_free(shape, free, value):
    """A keep matrix of ones with `free` cells at `value` (few free selectors)."""
    m = np.ones(shape)
    m.flat[sorted({f % m.size for f in free})] = value
    return m


def _cat_width(topology, h):
    return sum(SIZES[l] for l in TOPOLOGIES[topology][h - 1])


MIXES = {
    # units on the input (and its bias gate), connections into layer 2 (which, in the
    # DAGs, also carry the input's skip: both gates apply there), dropin on layer 2
    "units-connections-dropin": lambda t: [
        OracleGate("units", [0.8, 0.4], 0.7),
        OracleGate("connections", _few_free((SIZES[2], _cat_width(t, 2)), [0, 3, 7], 0.6), 0.5),
        OracleGate("dropin", [0.3, 0.1]),
    ],
    # connections into layer 1, units on layer 1, none on layer 2
    "connections-units-none": lambda t: [
        OracleGate("connections", _few_free((SIZES[1], SIZES[0]), [1, 4], 0.35), 0.8),
        OracleGate("units", [0.6, 0.3, 0.9], 0.6),
        OracleGate("none"),
    ],
    # in dag-branch layer 1 feeds layer 3 only, whose connections are gated: a unit gate
    # of layer 1 is applied where the connection gates are (enumeration flips it there)
    "none-units-connections": lambda t: [
        OracleGate("none"),
        OracleGate("units", [0.6, 0.3, 0.9], 0.7),
        OracleGate("connections", _few_free((SIZES[3], _cat_width(t, 3)), [1, 4, 8], 0.45), 0.6),
    ],
    # dropin on the input, none, connections into layer 3 (from every source in dag-skips)
    "dropin-none-connections": lambda t: [
        OracleGate("dropin", [0.2, 0.45]),
        OracleGate("none"),
        OracleGate("connections", _few_free((SIZES[3], _cat_width(t, 3)), [0, 2, 5, 6], 0.5), 0.4),
    ],
}


def de_entry(g: OracleGate):
    if g.kind == "none":
        return None
    if g.kind == "dropin":
        return de.Dropin(rate=g.keep)
    return de.Dropout(keep=g.keep, on=g.kind, keep_bias=g.keep_bias)


def de_gates(entries):
    return de.Gates([de_entry(g) for g in entries])


@functools.lru_cache(maxsize=None)
def case(topology, mix, transfer_id):
    net = make_net(topology, TRANSFER_CASES[transfer_id])
    g = MIXES[mix](topology)
    return net, g, [exact_moments(net, x, g) for x in X]


def params(transfers=tuple(TRANSFER_CASES)):
    return [pytest.param(t, m, f, id=f"{t}-{m}-{f}") for t in TOPOLOGIES for m in MIXES for f in transfers]


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("mix", list(MIXES))
def test_oracle_mix_is_small_and_complete(topology, mix):
    net, g, ex = case(topology, mix, "mixed")
    assert 3 <= free_selectors(net, g) <= 16
    for e in ex:
        assert e["n_configs"] == 2 ** free_selectors(net, g)
        assert abs(e["P_total"] - 1.0) < 1e-12


@pytest.mark.parametrize("topology, mix, transfer_id", params())
def test_enumerate_equals_oracle(topology, mix, transfer_id):
    """Every statistic and the pair covariances, to float64 rounding (1e-12)."""
    net, g, ex = case(topology, mix, transfer_id)
    assert_enumerate_equals_oracle(net, de_gates(g), ex)


@pytest.mark.parametrize("topology, mix, transfer_id", params(("mixed", repr(de.Logistic()))))
def test_sample_agrees_with_oracle(topology, mix, transfer_id):
    """Stochastic, fixed seed: within 5 standard errors (test_dag_engines' check)."""
    net, g, ex = case(topology, mix, transfer_id)
    assert_sample_agrees_with_oracle(net, de_gates(g), ex)


@pytest.mark.parametrize("topology, mix, transfer_id", params())
def test_ensemble_equals_eq167(topology, mix, transfer_id):
    net, g, _ = case(topology, mix, transfer_id)
    assert_ensemble_equals_eq167(net, de_gates(g), g)


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("mix", list(MIXES))
def test_linear_moments_equal_oracle(topology, mix):
    """Eq. 15-26 with per-entry kinds, including the covariances across layers."""
    net, g, ex = case(topology, mix, repr(de.Linear()))
    m = de.exact.linear_moments(net, X, de_gates(g))
    for row, e in enumerate(ex):
        for h in range(3):
            assert_allclose(m.E[h][row], e["E_S"][h], rtol=1e-12, atol=1e-12)
            assert_allclose(m.var[h][row], e["var_S"][h], rtol=1e-12, atol=1e-12)
        assert_allclose(m.cov[row], e["cov_S"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("mix", list(MIXES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sampler_matches_the_twin_sample_by_sample(topology, mix, dtype):
    net = make_net(topology, TRANSFER_CASES["mixed"], dtype=dtype)
    gate = de_gates(MIXES[mix](topology))
    n, first_sample, first_input = 70, 2**32 - 5, 3
    st = de.sample(net, X, gate, n, seed=7, record=[0, 1, 2], first_sample=first_sample, first_input=first_input)
    _, O = R.sample_reference(net, X, gate, n, seed_key(7)[:2], first_sample=first_sample, first_input=first_input)
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for h in range(3):
        assert_allclose(st.records[h], O[h], **tol, err_msg=f"layer {h}")


# --- an entry draws what the same gate draws on its own -------------------------------------------
def _same_bits(a, b):
    return all(a._acc[k].tobytes() == b._acc[k].tobytes() for k in ACC)


@pytest.mark.parametrize("topology", ["dag-skips", "chain"])
@pytest.mark.parametrize("whole", [
    de.Dropout(0.7, keep_bias=0.8), de.Dropout(0.5, on="connections"), de.Dropout(0.3, on="connections", keep_bias=0.6),
    de.Dropin(0.2), de.GaussianGate(1.0, 0.6), de.GaussianGate(0.9, 0.4, on="connections"), de.AdditiveNoise(0.3),
    de.WeightNoise(0.2)], ids=repr)
def test_gates_of_one_kind_give_the_whole_gates_bits(topology, whole):
    """Gates([g, g, g]) is g: the same streams, addresses and arithmetic, bit for bit."""
    net = make_net(topology, TRANSFER_CASES["mixed"], dtype=np.float32)
    a = de.sample(net, X, whole, 300, seed=5, pairs=PAIRS)
    b = de.sample(net, X, de.Gates([whole] * 3), 300, seed=5, pairs=PAIRS)
    assert _same_bits(a, b)
    Ua, Wa = de.ensemble(net, X, whole)
    Ub, Wb = de.ensemble(net, X, de.Gates([whole] * 3))
    for h in range(3):
        assert np.array_equal(Ua[h], Ub[h]) and np.array_equal(Wa[h], Wb[h])


def test_an_entry_alone_draws_what_its_layer_draws_in_the_mix():
    """Gates([g0, None, None]) and Gates([g0, g1, g2]) agree on layer 1 bit for bit in a
    chain (layer 1 sees only entry 0's draws): the entries do not disturb each other."""
    net = make_net("chain", TRANSFER_CASES["mixed"], dtype=np.float32)
    g0 = de.Dropout(0.6)
    alone = de.sample(net, X, de.Gates([g0, None, None]), 400, seed=11)
    mixed = de.sample(net, X, de.Gates([g0, de.GaussianGate(1.0, 0.5), de.Dropout(0.5, on="connections")]), 400,
                      seed=11)
    for name in ("E", "var", "E_S", "var_S"):
        assert np.array_equal(getattr(alone, name)[0], getattr(mixed, name)[0])
    assert not np.array_equal(alone.E[1], mixed.E[1])


def test_thread_count_and_split_runs_give_the_same_bits():
    net = make_net("dag-skips", TRANSFER_CASES["mixed"], dtype=np.float32)
    gate = de.Gates([de.GaussianGate(1.0, 0.5), de.Dropout(0.6, on="connections", keep_bias=0.7), de.Dropin(0.2)])
    one, two = (de.sample(net, X, gate, 700, seed=42, threads=t, pairs=PAIRS) for t in (1, 2))
    assert _same_bits(one, two)
    n = 4 * de.build_info()["block_samples"]
    whole = de.sample(net, X, gate, n, seed=9, pairs=PAIRS)
    a = de.sample(net, X, gate, n // 2, seed=9, pairs=PAIRS)
    b = de.sample(net, X, gate, n // 2, seed=9, pairs=PAIRS, first_sample=n // 2)
    assert _same_bits(a.merge(b), whole)


# --- continuous entries ----------------------------------------------------------------------
CONTINUOUS_MIXES = {
    "gaussian-units-connections-additive": lambda: de.Gates(
        [de.GaussianGate(1.0, 0.5), de.Dropout(0.6, on="connections", keep_bias=0.8), de.AdditiveNoise(0.3)]),
    "weightnoise-dropout-gaussianconn": lambda: de.Gates(
        [de.WeightNoise(0.3), de.Dropout([0.4, 0.7, 0.9]), de.GaussianGate(0.9, 0.4, on="connections")]),
    "dropin-gaussian-none": lambda: de.Gates([de.Dropin(0.25), de.GaussianGate(1.2, [0.2, 0.6, 0.3]), None]),
}


@pytest.mark.parametrize("topology", ["dag-skips", "dag-branch", "chain"])
@pytest.mark.parametrize("mix", list(CONTINUOUS_MIXES))
def test_continuous_mix_agrees_with_linear_moments(topology, mix):
    """Linear network: sampled E(S), Var(S) and the covariances across layers within 5
    standard errors of the closed form (the standard error of a covariance from the
    fourth moments of the sample itself)."""
    net = make_net(topology, [de.Linear()] * 3)
    gate = CONTINUOUS_MIXES[mix]()
    n = 40_000
    rec = de.sample(net, X, gate, n, seed=17, record=[0, 1, 2]).records  # (inputs, n, n_h)
    m = de.exact.linear_moments(net, X, gate)
    for row in range(len(X)):
        S = np.concatenate([rec[h][row] for h in range(3)], axis=1)
        mu = S.mean(axis=0)
        D = S - mu
        C = D.T @ D / n
        E = np.concatenate([m.E[h][row] for h in range(3)])
        var = np.diag(m.cov[row])
        assert np.all(np.abs(mu - E) <= Z * np.sqrt(var / n) + 1e-10 * (1 + np.abs(E))), (mu, E)  # + rounding of the mean
        se_C = np.sqrt(np.maximum((D**2).T @ (D**2) / n - C**2, 0) / n)
        assert np.all(np.abs(C - m.cov[row]) <= Z * se_C + Z**2 * np.sqrt(np.outer(var, var)) / n + 1e-10)


def test_continuous_mix_nwgm_is_the_logistic_of_the_mean_sum():
    """Eq. 39 holds for any distribution: NWGM from the samples equals sigma(E(S)) from
    the same samples, to rounding."""
    net = make_net("dag-skips", [de.Logistic()] * 3)
    st = de.sample(net, X, CONTINUOUS_MIXES["gaussian-units-connections-additive"](), 5000, seed=3)
    for h in range(3):
        assert_allclose(st.nwgm[h], 1 / (1 + np.exp(-st.E_S[h])), rtol=1e-9)


@pytest.mark.parametrize("mix", list(CONTINUOUS_MIXES))
def test_continuous_mix_matches_the_twin(mix):
    net = make_net("dag-skips", TRANSFER_CASES["mixed"])
    gate = CONTINUOUS_MIXES[mix]()
    st = de.sample(net, X, gate, 90, seed=8, record=[0, 1, 2], first_sample=11)
    _, O = R.sample_reference(net, X, gate, 90, seed_key(8)[:2], first_sample=11)
    for h in range(3):
        assert_allclose(st.records[h], O[h], rtol=1e-12, atol=1e-13)


def test_ensemble_of_a_continuous_mix_scales_by_the_means():
    """E(delta) = mean for Gaussian entries, 0-mean noise leaves the plain product, keep
    for dropout entries (Eq. 167 with each entry's expectation)."""
    net = make_net("dag-skips", [de.Linear()] * 3)
    gate = CONTINUOUS_MIXES["weightnoise-dropout-gaussianconn"]()
    U, _ = de.ensemble(net, X, gate)
    m = de.exact.linear_moments(net, X, gate)
    for h in range(3):
        assert_allclose(U[h], m.E[h], rtol=1e-12, atol=1e-12)


# --- training ------------------------------------------------------------------------------
def test_trainer_learns_with_a_mix_and_its_checkpoint_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    Xt = rng.normal(size=(400, 2))
    y = (Xt[:, 0] * Xt[:, 1] > 0).astype(np.int64)
    net = de.Network.random([2, 16, 16, 2], ["tanh", "tanh", "softmax"], skips=[(0, 2), (0, 3)], seed=1,
                            dtype=np.float64)
    gate = de.Gates([de.Dropout(0.9), de.GaussianGate(1.0, 0.3), de.Dropout(0.8, on="connections")])
    tr = de.Trainer(net, gate, loss="cross_entropy", learning_rate=0.1, batch_size=20, seed=4, momentum=0.9)
    before = tr.error(Xt, y)
    tr.fit(Xt, y, epochs=30)
    after = tr.error(Xt, y)
    assert after < 0.5 * before and after < 0.2, (before, after)
    path = tmp_path / "mix.npz"
    tr.save(path)
    back = de.Trainer.load(path)
    assert repr(back.gate) == repr(tr.gate)
    tr.fit(Xt, y, epochs=1)
    back.fit(Xt, y, epochs=1)
    for h in range(1, 4):  # resumed from the checkpoint: the same draws, the same weights
        assert np.array_equal(tr.network.input_weights(h)[0], back.network.input_weights(h)[0])


def test_trainer_step_of_a_chain_mix_equals_the_one_kind_gates_per_layer():
    """A chain whose entries are all unit dropout at different keeps trains bit for bit
    as Dropout(keep=[...]) (the same draws, the same arithmetic)."""
    rng = np.random.default_rng(1)
    Xt, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    net = de.Network.random([4, 8, 6, 3], ["logistic", "tanh", "softmax"], seed=2)
    keep = [0.9, 0.6, 0.7]
    a = de.Trainer(net, de.Dropout(keep), loss="cross_entropy", learning_rate=0.05, batch_size=10, seed=3)
    b = de.Trainer(net, de.Gates([de.Dropout(k) for k in keep]), loss="cross_entropy", learning_rate=0.05, batch_size=10, seed=3)
    a.fit(Xt, y, epochs=2)
    b.fit(Xt, y, epochs=2)
    for wa, wb in zip(a.network.weights, b.network.weights):
        assert np.array_equal(wa, wb)


# --- errors -------------------------------------------------------------------------------------
def test_bad_gates_are_refused_with_a_clear_message():
    net = make_net("dag-skips", TRANSFER_CASES["mixed"])
    with pytest.raises(TypeError, match="one gate"):
        de.Gates(de.Dropout(0.5))
    with pytest.raises(TypeError, match=r"gates\[1\].*spikes"):
        de.Gates([None, de.Spikes(), None])
    with pytest.raises(TypeError, match=r"gates\[0\].*nest"):
        de.Gates([de.Gates([None]), None, None])
    with pytest.raises(TypeError, match=r"gates\[2\].*str"):
        de.Gates([None, None, "dropout"])
    with pytest.raises(ValueError, match=r"one entry per layer \(3\), got 2"):
        de.sample(net, X, de.Gates([None, None]), 10)
    with pytest.raises(ValueError, match=r"gates\[1\]\.keep"):
        de.sample(net, X, de.Gates([None, de.Dropout([0.5, 0.5]), None]), 10)  # layer 1 has 3 units
    with pytest.raises(ValueError, match="continuous"):
        de.exact.enumerate(net, X, de.Gates([None, de.GaussianGate(1.0, 0.5), None]))
    with pytest.raises(ValueError, match="exact.dropout_gradient: a Gates mix of kinds is not supported"):
        de.exact.dropout_gradient(net, X, np.zeros((2, 2)), de.Gates([de.Dropout(0.5)] * 3))
