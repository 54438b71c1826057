"""The C++ engines (sample, ensemble, exact.enumerate) on networks with skip connections
(Eq. 21-26, 167), against the independent brute force of ``dag_oracle``.

Every case runs on DAGs and, with the same weights, on a chain written twice (as plain
matrices and as dicts {h - 1: W}): the chain cases check the oracle against engines that
are known good, the DAG cases check the engines. Gates: unit dropout with per-unit keeps
(bias gated and not, some units fixed), connection dropout (per connection, per sending
unit, one keep per layer at 1/2 and not), dropin, no gate; every transfer function.
"""
import functools

import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from conftest import TRANSFERS
from dag_oracle import OracleGate, ensemble_eq167, exact_moments, free_selectors

# --- networks ------------------------------------------------------------------------------
SIZES = (2, 3, 2, 2)
# sources[h - 1]: the layers l < h that layer h receives from (0 = the input).
TOPOLOGIES = {
    "dag-skips": [[0], [0, 1], [0, 1, 2]],  # the input feeds every layer; layer 1 feeds layer 3
    "dag-branch": [[0], [0], [1, 2]],  # layer 2 reads the input only (no h - 1); layer 3 joins both
    "dag-dangling": [[0], [0, 1], [0, 1]],  # layer 2 feeds no layer: an output beside layer 3
    "chain-dicts": [[0], [1], [2]],  # a chain written as {h - 1: W}
    "chain": [[0], [1], [2]],  # the same chain as plain matrices
}
DAGS = [t for t in TOPOLOGIES if t.startswith("dag")]
# A layer that feeds no other layer has no unit selectors (Eq. 22): how an engine counts
# its subnetworks is a convention, so the count is checked only where no layer dangles.

TRANSFER_CASES = {repr(f): [f, f, f] for f in TRANSFERS}
TRANSFER_CASES["mixed"] = [de.Tanh(lam=0.7), de.Softmax(lam=1.2), de.Logistic(c=2.0, lam=1.5)]

X = np.array([[0.7, -1.2], [1.5, 0.3]])
PAIRS = [((0, 0), (2, 1)), ((1, 1), (2, 0)), ((0, 2), (1, 0)), ((2, 0), (2, 1)), ((0, 1), (0, 1))]


def plain_form(topology: str, h: int) -> bool:
    """Whether layer h is given as a plain matrix (and its connection keeps in plain form)."""
    return topology == "chain" or (h == 1 and topology != "chain-dicts")


def make_net(topology: str, transfers, dtype=np.float64) -> de.Network:
    rng = np.random.default_rng(21)  # the same draws for every topology: chain == chain-dicts
    weights, biases = [], []
    for h, srcs in enumerate(TOPOLOGIES[topology], 1):
        Wl = {l: rng.normal(0.0, 1.0, size=(SIZES[h], SIZES[l])) for l in srcs}
        weights.append(Wl[h - 1] if plain_form(topology, h) else Wl)
        biases.append(rng.normal(0.0, 0.5, size=SIZES[h]))
    if topology == "dag-branch":
        biases[1] = None  # a layer without a bias
    return de.Network(weights, biases, transfers, dtype=dtype)


# --- gates ---------------------------------------------------------------------------------
def _mixed_connection_keeps(topology: str) -> list:
    """Per layer, per source: a vector over the sender's units (one free keep), a matrix
    with one free and one always-dropped connection, or a scalar 1: every form a user can
    give, at most ~13 free selectors."""
    keep = []
    for h, srcs in enumerate(TOPOLOGIES[topology], 1):
        forms = {}
        for t, l in enumerate(srcs):
            if t % 3 == 0:
                v = np.ones(SIZES[l])
                v[0] = 0.6
                forms[l] = v
            elif t % 3 == 1:
                m = np.ones((SIZES[h], SIZES[l]))
                m[0, 0], m[-1, -1] = 0.35, 0.0
                forms[l] = m
            else:
                forms[l] = 1.0
        keep.append(forms[h - 1] if plain_form(topology, h) else forms)
    return keep


GATES = {
    "units": lambda t: OracleGate("units", [[0.8, 0.4], [0.6, 0.3, 0.9], [0.5, 0.7]], [0.7, 0.9, 0.6]),
    "units-half": lambda t: OracleGate("units", 0.5, 0.5),
    "units-fixed": lambda t: OracleGate("units", [[1.0, 0.5], [0.0, 0.6, 1.0], 0.5], 1.0),
    "connections": lambda t: OracleGate("connections", _mixed_connection_keeps(t), [1.0, 0.8, 0.6]),
    # one keep for a layer: p = 1/2 (the core's one-bit draws) and p = 0.3 (16-bit draws)
    "connections-half": lambda t: OracleGate("connections", [1.0, 0.5, 1.0], 1.0),
    "connections-scalar": lambda t: OracleGate("connections", [1.0, 1.0, 0.3], [1.0, 1.0, 0.6]),
    "dropin": lambda t: OracleGate("dropin", [[0.1, 0.3], [0.2, 0.0, 0.4], 0.25]),
    "none": lambda t: OracleGate("none"),
}


def de_gate(g: OracleGate):
    """The package's gate with the same values as the oracle's."""
    if g.kind == "none":
        return None
    if g.kind == "dropin":
        return de.Dropin(rate=g.keep)
    return de.Dropout(keep=g.keep, on=g.kind, keep_bias=g.keep_bias)


@functools.lru_cache(maxsize=None)
def case(topology: str, gate_name: str, transfer_id: str):
    """(net, oracle gate, the oracle's moments per input row), computed once per case."""
    net = make_net(topology, TRANSFER_CASES[transfer_id])
    g = GATES[gate_name](topology)
    return net, g, [exact_moments(net, x, g) for x in X]


def params(topologies=tuple(TOPOLOGIES), gates=tuple(GATES)):
    return [pytest.param(t, g, f, id=f"{t}-{g}-{f}") for t in topologies for g in gates for f in TRANSFER_CASES]


# --- the oracle checks itself ------------------------------------------------------------------
@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("gate_name", list(GATES))
def test_oracle_is_small_and_its_probabilities_sum_to_one(topology, gate_name):
    net, g, ex = case(topology, gate_name, "mixed")
    assert free_selectors(net, g) <= 16  # keeps the brute force fast
    for e in ex:
        assert e["n_configs"] == 2 ** free_selectors(net, g)
        assert abs(e["P_total"] - 1.0) < 1e-12


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("gate_name", list(GATES))
def test_oracle_nwgm_is_the_transfer_of_the_mean_sum(topology, gate_name):
    """Eq. 39, 47: for logistic units NWGM(O) = sigma(E(S)), for a softmax layer NWGM(O_i)
    = softmax(lam E(S))_i, under any distribution of S, in any layer: a check of the
    oracle's G, G' and NWGM that does not involve the package."""
    f_log, f_soft = de.Logistic(c=2.0, lam=1.5), de.Softmax(lam=1.2)
    ex = case(topology, gate_name, "mixed")[2]
    for e in ex:
        z = f_soft.lam * e["E_S"][1]
        assert_allclose(e["nwgm"][1], np.exp(z - z.max()) / np.exp(z - z.max()).sum(), rtol=1e-12)
        assert_allclose(e["nwgm"][2], 1 / (1 + f_log.c * np.exp(-f_log.lam * e["E_S"][2])), rtol=1e-12)


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("gate_name", list(GATES))
def test_oracle_ensemble_is_the_mean_of_a_linear_network(topology, gate_name):
    """Eq. 24, 26: in a linear network (chain or DAG) E(S^h) is the ensemble network's
    U^h in every layer: the oracle's Eq. 167 recursion against its own enumeration."""
    net, g, ex = case(topology, gate_name, repr(de.Linear()))
    for x, e in zip(X, ex):
        U, W = ensemble_eq167(net, x, g)
        for h in range(3):
            assert_allclose(U[h], e["E_S"][h], rtol=1e-12, atol=1e-13)
            assert_allclose(W[h], U[h], rtol=0)


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("gate_name", list(GATES))
def test_oracle_equals_linear_moments(topology, gate_name):
    """The oracle against exact.linear_moments (Eq. 15-26), which handles DAGs today:
    E, Var and every covariance of a linear network's units."""
    net, g, ex = case(topology, gate_name, repr(de.Linear()))
    m = de.exact.linear_moments(net, X, de_gate(g))
    for row, e in enumerate(ex):
        for h in range(3):
            assert_allclose(m.E[h][row], e["E_S"][h], rtol=1e-12, atol=1e-12, err_msg=f"E[{h}]")
            assert_allclose(m.var[h][row], e["var_S"][h], rtol=1e-12, atol=1e-12, err_msg=f"var[{h}]")
            assert_allclose(m.E[h][row], e["E"][h], rtol=1e-12, atol=1e-12)
        assert_allclose(m.cov[row], e["cov_S"], rtol=1e-12, atol=1e-12)


# --- exact.enumerate -------------------------------------------------------------------------
FIELDS = ("E", "var", "E_S", "var_S", "E_dsigma", "G", "Gc", "log_G", "log_Gc", "nwgm")


def assert_enumerate_equals_oracle(net, gate, ex):
    """exact.enumerate of `gate` against the oracle's moments `ex` (one dict per row of X):
    the subnetwork count, every statistic and the covariances of PAIRS, to 1e-12."""
    st = de.exact.enumerate(net, X, gate, pairs=PAIRS)
    assert st.exact
    assert_allclose(st.count, 1.0, rtol=0, atol=1e-12)
    # A layer feeding no other has no unit coins (Eq. 22): the count is the oracle's.
    assert st.n_samples == ex[0]["n_configs"]
    assert de.exact.n_subnetworks(net, gate) == ex[0]["n_configs"]
    offsets = np.cumsum((0,) + SIZES[1:])
    for row, e in enumerate(ex):
        for name in FIELDS:
            for h in range(3):
                assert_allclose(getattr(st, name)[h][row], e[name][h], rtol=1e-12, atol=1e-13, equal_nan=True,
                                err_msg=f"{name}[{h}], input {row}")
        want = [e["cov_O"][offsets[ha] + ia, offsets[hb] + ib] for (ha, ia), (hb, ib) in PAIRS]
        assert_allclose(st.cov[row], want, rtol=1e-12, atol=1e-13, equal_nan=True, err_msg="cov")


@pytest.mark.parametrize("topology, gate_name, transfer_id", params())
def test_enumerate_equals_oracle(topology, gate_name, transfer_id):
    """exact.enumerate: every statistic, and the covariances of pairs joined by skip
    paths, equal the brute force to float64 rounding (1e-12)."""
    net, g, ex = case(topology, gate_name, transfer_id)
    assert_enumerate_equals_oracle(net, de_gate(g), ex)


# --- sample --------------------------------------------------------------------------------
N = 20_000
Z = 5.0  # standard errors


def assert_sample_agrees_with_oracle(net, gate, ex):
    """Stochastic, fixed seed: E and E(S) within 5 of the sample's own standard errors
    (sqrt(Var / n)); Var, log G, log G' and the logistic NWGM within 5 standard errors
    of their estimators (from the oracle's fourth moment and log variances)."""
    st = de.sample(net, X, gate, N, seed=2014)
    for row, e in enumerate(ex):
        for h, f in enumerate(net.transfers):
            def check(name, got, want, var, bias=0.0):
                se = np.sqrt(np.maximum(var, 0.0) / N)
                bound = Z * se + bias + 1e-12 * (1 + np.abs(want))
                assert np.all(np.abs(got - want) <= bound), (
                    f"{name}[{h}] input {row} (stochastic, {Z} SE, seed 2014): got {got}, want {want}, "
                    f"|diff| {np.abs(got - want)} > {bound}")

            check("E", st.E[h][row], e["E"][h], st.var[h][row])
            check("E_S", st.E_S[h][row], e["E_S"][h], st.var_S[h][row])
            # The sample variance is taken about the sample mean: var_hat = mean((O - E)^2)
            # - (mean(O) - E)^2. The first term has variance (mu4 - Var^2) / n, which is 0
            # when (O - E)^2 is constant (one coin at p = 1/2); the second is at most
            # (Z SE(E))^2 = Z^2 Var / n.
            check("var", st.var[h][row], e["var"][h], e["mu4"][h] - e["var"][h] ** 2,
                  bias=Z**2 * e["var"][h] / N)
            if f.bounded01:  # G and G' are defined for outputs in [0, 1] (Section 8)
                check("log G", st.log_G[h][row], e["log_G"][h], e["var_logO"][h])
                check("log Gc", st.log_Gc[h][row], e["log_Gc"][h], e["var_logOc"][h])
            if f.name == "logistic":  # NWGM = sigma(log G - log G'), slope <= 1/4
                check("nwgm", st.nwgm[h][row], e["nwgm"][h], e["var_logit"][h] / 16)


@pytest.mark.parametrize("topology, gate_name, transfer_id", params())
def test_sample_agrees_with_oracle(topology, gate_name, transfer_id):
    net, g, ex = case(topology, gate_name, transfer_id)
    assert_sample_agrees_with_oracle(net, de_gate(g), ex)


# --- ensemble --------------------------------------------------------------------------------
def assert_ensemble_equals_eq167(net, gate, oracle_gate):
    """The ensemble network (Eq. 24, 26, 167) of `gate` equals the oracle's recursion."""
    U, W = de.ensemble(net, X, gate)
    for row, x in enumerate(X):
        Uo, Wo = ensemble_eq167(net, x, oracle_gate)
        for h in range(3):
            assert_allclose(U[h][row], Uo[h], rtol=1e-12, atol=1e-13, err_msg=f"U[{h}]")
            assert_allclose(W[h][row], Wo[h], rtol=1e-12, atol=1e-13, err_msg=f"W[{h}]")
    return U, W


@pytest.mark.parametrize("topology, gate_name, transfer_id", params())
def test_ensemble_equals_eq167(topology, gate_name, transfer_id):
    """The ensemble network (Eq. 24, 26, 167) equals the oracle's recursion on the DAG."""
    net, g, _ = case(topology, gate_name, transfer_id)
    U, W = assert_ensemble_equals_eq167(net, de_gate(g), g)
    if g.kind == "none":  # forward is the ensemble without a gate
        S, O = de.forward(net, X)
        for h in range(3):
            assert np.array_equal(S[h], U[h]) and np.array_equal(O[h], W[h])


# --- a chain stays exactly what it is ------------------------------------------------------------
ACC = ("count", "mean", "m2", "slog", "slogc", "mean_S", "m2_S", "mean_dO", "comoment")


def bits(st):
    return {k: st._acc[k].tobytes() for k in ACC}


@pytest.mark.parametrize("gate_name", list(GATES))
@pytest.mark.parametrize("transfer_id", ["mixed", repr(de.ReLU(threshold=0.1, slope=1.3))])
def test_chain_written_with_dicts_is_bit_identical(gate_name, transfer_id):
    """A chain given as dicts {h - 1: W} (and its connection keeps as dicts) is the chain:
    sample with the same seed gives the same bits, and so do ensemble and enumerate."""
    chain, g, _ = case("chain", gate_name, transfer_id)
    dicts, g_dicts, _ = case("chain-dicts", gate_name, transfer_id)
    assert chain.is_chain and dicts.is_chain
    a = de.sample(chain, X, de_gate(g), 1000, seed=5, pairs=PAIRS)
    b = de.sample(dicts, X, de_gate(g_dicts), 1000, seed=5, pairs=PAIRS)
    assert bits(a) == bits(b)
    for u, v in zip(de.ensemble(chain, X, de_gate(g)), de.ensemble(dicts, X, de_gate(g_dicts))):
        assert all(np.array_equal(p, q) for p, q in zip(u, v))
    a = de.exact.enumerate(chain, X, de_gate(g), pairs=PAIRS)
    b = de.exact.enumerate(dicts, X, de_gate(g_dicts), pairs=PAIRS)
    assert bits(a) == bits(b)


# --- determinism on a DAG (the pattern of test_determinism.py) --------------------------------
@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["float32", "float64"])
def random_dag(request):
    net = de.Network.random([6, 5, 4, 3], ["logistic", "relu", "softmax"], skips=[(0, 2), (0, 3), (1, 3)],
                            seed=5, dtype=request.param)
    assert not net.is_chain
    Xr = np.random.default_rng(2).random((3, 6)).astype(request.param)
    return net, Xr


DAG_GATES = [de.Dropout([0.8, 0.5, 0.6], keep_bias=0.7), de.Dropout(0.5), de.Dropout(0.6, on="connections"),
             de.Dropout(0.5, on="connections", keep_bias=0.5),
             de.Dropout([0.7, {0: 0.4, 1: 0.9}, {0: 0.5, 1: 0.8, 2: 0.3}], on="connections", keep_bias=0.9),
             de.Dropin(0.1)]
DAG_PAIRS = [((0, 1), (2, 2)), ((0, 3), (1, 1)), ((1, 0), (2, 0))]


@pytest.mark.parametrize("gate", DAG_GATES, ids=repr)
def test_dag_thread_count_does_not_change_bits(random_dag, gate):
    net, Xr = random_dag
    runs = [de.sample(net, Xr, gate, 700, seed=42, threads=t, pairs=DAG_PAIRS) for t in (1, 2)]
    assert bits(runs[0]) == bits(runs[1])


@pytest.mark.parametrize("gate", DAG_GATES, ids=repr)
def test_dag_split_halves_merge_to_the_same_bits(random_dag, gate):
    net, Xr = random_dag
    B = de.build_info()["block_samples"]
    n = 2 * 4 * B  # each half covers 4 = 2^2 whole blocks
    whole = de.sample(net, Xr, gate, n, seed=9, pairs=DAG_PAIRS)
    a = de.sample(net, Xr, gate, n // 2, seed=9, pairs=DAG_PAIRS)
    b = de.sample(net, Xr, gate, n // 2, seed=9, pairs=DAG_PAIRS, first_sample=n // 2)
    assert bits(a.merge(b)) == bits(whole)


def test_dag_split_over_inputs_matches(random_dag):
    net, Xr = random_dag
    gate = de.Dropout([0.8, 0.5, 0.5])
    whole = de.sample(net, Xr, gate, 300, seed=4)
    part = de.sample(net, Xr[1:], gate, 300, seed=4, first_input=1)
    for k in ACC:
        assert whole._acc[k][1:].tobytes() == part._acc[k].tobytes()


def test_dag_enumerate_bit_identical_for_any_thread_count():
    net = make_net("dag-skips", TRANSFER_CASES["mixed"])
    g = de_gate(GATES["units"]("dag-skips"))
    runs = [de.exact.enumerate(net, X, g, threads=t, pairs=PAIRS) for t in (1, 2)]
    assert bits(runs[0]) == bits(runs[1])
