"""The sampler against brute-force enumeration of every subnetwork (stochastic tests:
fixed seeds, tolerance 5 Monte Carlo standard errors computed from the exact moments)."""
import numpy as np
import pytest

import dropengine as de
from bruteforce import enumerate_exact
from conftest import TRANSFERS, small_net

N = 20_000
Z = 5.0  # standard errors

GATES = {
    "units-0.5": de.Dropout(keep=0.5, on="units"),
    "units-mixed": de.Dropout(keep=[[0.9, 0.3, 0.6], [0.25, 0.8]], on="units", keep_bias=0.7),
    "connections": de.Dropout(keep=[0.6, np.array([[0.5, 0.9], [0.2, 0.7]])], on="connections", keep_bias=0.8),
    "dropin": de.Dropin(rate=[[0.1, 0.3, 0.2], 0.25]),
}


@pytest.mark.parametrize("gate_name", list(GATES))
@pytest.mark.parametrize("f", TRANSFERS, ids=lambda f: repr(f))
def test_sampler_matches_exact_enumeration(f, gate_name):
    """Stochastic: E, Var, G, G', NWGM, E(S), Var(S), E(sigma') within 5 SE of the exact values."""
    net = small_net([de.Logistic(), f])
    gate = GATES[gate_name]
    x = np.array([0.7, -1.2, 0.4])
    ex = enumerate_exact(net, x, gate)
    st = de.sample(net, x, gate, N, seed=7)
    for h in range(net.n_layers):
        def check(name, got, want, var):
            se = np.sqrt(np.maximum(var, 0) / N) + 1e-12
            np.testing.assert_array_less(np.abs(got - want), Z * se + 1e-9,
                                         err_msg=f"{name}[{h}] (stochastic test, {Z} SE, seed 7)")
        check("E", st.E[h][0], ex["E"][h], ex["var"][h])
        check("var", st.var[h][0], ex["var"][h], ex["mu4"][h] - ex["var"][h] ** 2)
        check("E_S", st.E_S[h][0], ex["E_S"][h], ex["var_S"][h])
        if net.transfers[h].bounded01:
            check("log G", st.log_G[h][0], np.log(ex["G"][h]), ex["var_logO"][h])
            check("log Gc", st.log_Gc[h][0], np.log(ex["Gc"][h]), ex["var_logOc"][h])
        if net.transfers[h].name == "logistic":
            # NWGM = logistic(log G - log G'), whose slope is at most 1/4.
            check("nwgm", st.nwgm[h][0], ex["nwgm"][h], ex["var_logit"][h] / 16)


@pytest.mark.parametrize("gate_name", ["units-0.5", "units-mixed", "connections"])
def test_first_layer_ensemble_equals_nwgm_exactly(gate_name):
    """Eq. 39: for logistic units fed by the input, NWGM = sigma(E(S)) = the ensemble W."""
    net = small_net([de.Logistic(c=1.7, lam=0.8), de.Softmax(lam=1.3)])
    x = np.array([0.3, 1.1, -0.6])
    gate = GATES[gate_name]
    ex = enumerate_exact(net, x, gate)
    U, W = de.ensemble(net, x, gate)
    np.testing.assert_allclose(ex["nwgm"][0], W[0][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ex["E_S"][0], U[0][0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("on", ["units", "connections"])
def test_softmax_nwgm_is_softmax_of_expected_sums(on):
    """Eq. 47: a single layer of normalized exponential units, NWGM(O_i) = softmax(lam E(S))_i."""
    net = de.Network([np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 0.1]])],
                     [np.array([0.1, -0.2, 0.3])], de.Softmax(lam=0.9))
    gate = de.Dropout(keep=[np.array([0.3, 0.6, 0.8])] if on == "units" else 0.6, on=on, keep_bias=0.5)
    x = np.array([1.0, -0.5, 0.75])
    ex = enumerate_exact(net, x, gate)
    U, W = de.ensemble(net, x, gate)
    np.testing.assert_allclose(ex["nwgm"][0], W[0][0], rtol=1e-12)
    # normalized over units, not per unit
    np.testing.assert_allclose(ex["nwgm"][0].sum(), 1.0, rtol=1e-12)


def test_uniform_half_linear_unit_eq5():
    """Eq. 5: with p = 0.5 the mean output of a linear unit is sum w_i I_i / 2."""
    w = np.array([[0.3, -1.2, 2.5, 0.7]])
    x = np.array([1.0, 2.0, -1.0, 0.5])
    net = de.Network([w], None, "linear")
    ex = enumerate_exact(net, x, de.Dropout(0.5))
    assert ex["n_configs"] == 16
    np.testing.assert_allclose(ex["E"][0], (w @ x) / 2, rtol=1e-15)
    U, _ = de.ensemble(net, x, de.Dropout(0.5))
    np.testing.assert_allclose(U[0][0], (w @ x) / 2, rtol=1e-15)


def test_sampled_nwgm_is_logistic_of_sampled_mean_sum():
    """Eq. 39 holds for the sampled distribution too: nwgm = sigma(lam E_S - log c) to rounding."""
    f = de.Logistic(c=0.5, lam=1.7)
    net = small_net([f, "logistic"], sizes=(5, 4, 3))
    st = de.sample(net, np.ones(5), de.Dropout(0.6), 3000, seed=3)
    z = f.lam * st.E_S[0] - np.log(f.c)
    np.testing.assert_allclose(st.nwgm[0], 1 / (1 + np.exp(-z)), rtol=1e-12)


def test_paper_section8_example():
    """Section 8 example: O = (0.622459, 0.731059), P = 1/2 each."""
    # Two subnetworks of one logistic unit with S = 0.5 and S = 1.0, gate keeps w2 half the time.
    net = de.Network([np.array([[0.5, 0.5]])], None, "logistic")
    ex = enumerate_exact(net, np.array([1.0, 1.0]), de.Dropout(keep=[np.array([1.0, 0.5])]))
    np.testing.assert_allclose(ex["E"][0], [0.676759], atol=1e-6)
    np.testing.assert_allclose(ex["G"][0], [0.674577], atol=1e-6)
    np.testing.assert_allclose(ex["Gc"][0], [0.318648], atol=1e-6)
    np.testing.assert_allclose(ex["nwgm"][0], [0.679179], atol=1e-6)
    st = de.sample(net, np.array([1.0, 1.0]), de.Dropout(keep=[np.array([1.0, 0.5])]), 100_000, seed=11)
    se = np.sqrt(ex["var"][0] / 100_000)
    assert abs(st.E[0][0, 0] - 0.676759) < Z * se[0] + 1e-6
