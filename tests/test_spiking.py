"""Stochastic spiking networks (Section 10.1): firing rates against exact enumeration of
all spike configurations, Eq. 130-138, and the variance regimes of spiking vs dropout."""
import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dropengine import exact
from dropengine._reference import transfer
from dropengine.spiking import simulate, three_networks

Z = 5.0  # standard errors


def exact_spiking(net, x, r, on):
    """E(O) of every layer over all spike configurations of the hidden layers (which
    spike with size r; the input and the output do not), by brute force."""
    out = [np.zeros(n) for n in net.sizes[1:]]

    def forward(h, a, prob):
        W, b, f = np.asarray(net.weights[h], np.float64), net.biases[h], net.transfers[h]
        if h > 0 and on == "connections":  # one coin per connection of layer h
            n_out, n_in = W.shape
            for bits in itertools.product((0, 1), repeat=n_out * n_in):
                m = np.array(bits, float).reshape(n_out, n_in)
                p = np.prod(np.where(m > 0, a, 1 - a))
                S = (W * m * r) @ np.ones(n_in) + (0 if b is None else b)
                _step(h, S, prob * p, f)
        elif h > 0:
            for bits in itertools.product((0, 1), repeat=a.size):
                d = np.array(bits, float)
                p = np.prod(np.where(d > 0, a, 1 - a))
                S = W @ (r * d) + (0 if b is None else b)
                _step(h, S, prob * p, f)
        else:
            S = W @ a + (0 if b is None else b)
            _step(h, S, prob, f)

    def _step(h, S, prob, f):
        O = transfer(f, S[None, :])[0][0]
        out[h] += prob * O
        if h + 1 < net.n_layers:
            forward(h + 1, O, prob)

    forward(0, np.asarray(x, np.float64), 1.0)
    return out


@pytest.mark.parametrize("on", ["units", "connections"])
def test_firing_rates_equal_exact_enumeration(on):
    net = de.Network.random([3, 3, 2, 2], "logistic", seed=1, dtype=np.float64, scale=1.5)
    X = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.7]])
    r = 0.8
    run = simulate(net, X, de.Spikes(r, on=on), 20_000, seed=2)
    for row, x in enumerate(X):
        want = exact_spiking(net, x, r, on)
        for h in range(3):
            se = run.stats.sem[h][row]
            assert np.all(np.abs(run.stats.E[h][row] - want[h]) <= Z * se + 1e-12), (h, row)


@pytest.mark.parametrize("on", ["units", "connections"])
def test_mean_spike_is_r_times_mean_rate(on):
    """E(Delta) = r E(O) (Eq. 130, 131) within 5 standard errors."""
    net = de.Network.random([6, 5, 4, 3], "logistic", seed=3, dtype=np.float64, scale=1.5)
    X = np.random.default_rng(4).normal(size=(3, 6))
    r = 0.6
    run = simulate(net, X, de.Spikes(r, on=on), 20_000, seed=5)
    n = run.stats.n_samples
    for h in (1, 2):
        pred = r * run.stats.E[h - 1]
        se = np.sqrt(run.var_delta[h] / n) + np.sqrt(r**2 * run.stats.var[h - 1] / n)
        assert np.all(np.abs(run.E_delta[h] - pred) <= Z * se)


def test_variances_eq136_eq138_and_deterministic_predictions():
    net = de.Network.random([8, 6, 5, 3], "logistic", seed=6, dtype=np.float64, scale=1.2)
    X = np.random.default_rng(7).normal(size=(4, 8))
    r, n = 0.7, 40_000
    t = three_networks(net, X, r=r, n_samples=n, seed=8)
    for k in range(2):
        # Tolerances from the standard errors: a variance estimate of values in [0, r]
        # has SE <= sqrt(E(X^4)/n) <= r sqrt(E(X^2)/n); the formulas inherit the SE of E(O).
        q, vq = t.spiking.stats.E[k], t.spiking.stats.var[k]
        tol = Z * r**2 * (np.sqrt(q / n) + np.sqrt(vq / n))
        assert np.all(np.abs(t.var_spiking[k] - t.eq136[k]) <= tol)  # Eq. 136
        qd, vd = t.dropout.E[k], t.dropout.var[k]
        tol = Z * (np.sqrt(r * qd / n) + 2 * r * np.sqrt(vd / n))
        assert np.all(np.abs(t.var_dropout[k] - t.eq138[k]) <= tol)  # Eq. 138
    # deterministic propagation predicts both stochastic networks (Eq. 130-134)
    for h in range(3):
        assert t.error_spiking[h] < 0.03 and t.error_dropout[h] < 0.03
    assert t.error_spiking[0] < 1e-12 and t.error_dropout[0] < 1e-12  # the first layer is not gated


def test_first_layer_receiving_spikes_W_equals_nwgm():
    """Eq. 132-134: in the first layer that receives spikes, W = sigma(E(S)) = NWGM(O)
    exactly (exact enumeration), and the engine's NWGM agrees within sampling error."""
    net = de.Network.random([3, 4, 2], "logistic", seed=9, dtype=np.float64, scale=1.5)
    x = np.array([[0.2, -0.4, 1.1]])
    r = 0.9
    _, W = de.ensemble(net, x, de.Spikes(r))
    # exact NWGM over the 2^4 spike configurations of layer 0
    O0 = transfer(net.transfers[0], (x @ net.weights[0].T + net.biases[0]))[0][0]
    lg, lgc = np.zeros(2), np.zeros(2)
    for bits in itertools.product((0, 1), repeat=4):
        d = np.array(bits, float)
        p = np.prod(np.where(d > 0, O0, 1 - O0))
        _, lo, loc, _ = transfer(net.transfers[1], (net.weights[1] @ (r * d) + net.biases[1])[None, :])
        lg += p * lo[0]
        lgc += p * loc[0]
    assert_allclose(1 / (1 + np.exp(lgc - lg)), W[1][0], rtol=1e-12)
    n = 50_000
    run = simulate(net, x, de.Spikes(r), n, seed=10)
    # logistic: NWGM = sigma(mean S) (Eq. 59), so by the delta method its SE is
    # NWGM (1 - NWGM) SE(mean S), SE(mean S) = sqrt(Var(S) / n)
    nw = run.stats.nwgm[1][0]
    se = nw * (1 - nw) * np.sqrt(run.stats.var_S[1][0] / n)
    assert np.all(np.abs(nw - W[1][0]) <= Z * se), (nw, W[1][0], se)


@pytest.mark.parametrize("r, scale, spiking_larger", [(0.9, -4.0, True), (0.1, 4.0, False)])
def test_variance_regimes(r, scale, spiking_larger):
    """r > O: the spiking signal varies more than the dropout signal; r < O: less (Section 10.1)."""
    W1 = np.full((3, 2), scale)
    net = de.Network([W1, np.ones((2, 3))], None, de.Logistic(), dtype=np.float64)  # O ~ sigma(+-4)
    X = np.ones((1, 2)) * 0.5
    t = three_networks(net, X, r=r, n_samples=20_000, seed=11)
    O = t.spiking.stats.E[0]
    assert np.all((r > O) == spiking_larger)
    assert np.all((t.var_spiking[0] > t.var_dropout[0]) == spiking_larger)


def test_bit_identical_for_any_thread_count():
    net = de.Network.random([10, 8, 6, 3], "logistic", seed=12)
    X = np.random.default_rng(13).uniform(size=(2, 10)).astype(np.float32)
    for on in ("units", "connections"):
        runs = [simulate(net, X, de.Spikes(0.5, on=on, layers=[0, 1, 2]), 300, seed=14, threads=t) for t in (1, 2, 3)]
        for r in runs[1:]:
            for k in r.stats._acc:
                assert np.array_equal(r.stats._acc[k], runs[0].stats._acc[k])
            assert all(np.array_equal(a, b) for a, b in zip(r.E_delta, runs[0].E_delta))


def test_errors():
    net = de.Network.random([3, 3, 2], ["tanh", "logistic"], seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="logistic or softmax"):
        simulate(net, np.ones((1, 3)), de.Spikes(1.0))
    lnet = de.Network.random([3, 3, 2], "logistic", seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="probabilities"):
        simulate(lnet, np.full((1, 3), 2.0), de.Spikes(1.0, layers=[0]))
    with pytest.raises(ValueError, match="r"):
        de.Spikes(-1.0)
    with pytest.raises(ValueError, match="layers"):
        simulate(lnet, np.ones((1, 3)), de.Spikes(1.0, layers=[5]))
    with pytest.raises(ValueError, match="gate"):
        exact.enumerate(lnet, np.ones((1, 3)), de.Spikes(1.0))
    with pytest.raises(TypeError, match="spikes"):
        simulate(lnet, np.ones((1, 3)), de.Dropout(0.5))


@pytest.mark.parametrize("on", ["units", "connections"])
def test_async_rates_equal_exact_enumeration_for_one_spiking_layer(on):
    """Asynchronous updates: with one spiking layer, every update of a receiving neuron
    sees an exact draw of the spike configuration, so its time-averaged rate is the exact
    E(O). The time averages of one chain are autocorrelated, so the SE comes from batch
    means over K independent chains (seeds): SE = sd(chain means) / sqrt(K); 5 SE."""
    net = de.Network.random([3, 4, 2], "logistic", seed=15, dtype=np.float64, scale=1.5)
    X = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.7]])
    r, K, sweeps = 0.8, 30, 1_000
    runs = [de.spiking.simulate_async(net, X, de.Spikes(r, on=on), sweeps, seed=16 + k) for k in range(K)]
    E = np.array([run.stats.E[1] for run in runs])          # (K, n_inputs, n_out)
    Ed = np.array([run.E_delta[1] for run in runs])         # (K, n_inputs, n_in)
    for row, x in enumerate(X):
        want = exact_spiking(net, x, r, on)
        se = E[:, row].std(0, ddof=1) / np.sqrt(K)
        assert np.all(np.abs(E[:, row].mean(0) - want[1]) <= Z * se + 1e-12), (E[:, row].mean(0), want[1], se)
        for run in runs:  # the first layer is deterministic
            assert_allclose(run.stats.E[0][row], want[0], rtol=1e-12)
        # firing rates over time: E(Delta) = r E(O) (Eq. 130, 131)
        se_d = Ed[:, row].std(0, ddof=1) / np.sqrt(K)
        assert np.all(np.abs(Ed[:, row].mean(0) - r * want[0]) <= Z * se_d), (Ed[:, row].mean(0), r * want[0], se_d)


def test_async_is_reproducible_and_validates():
    net = de.Network.random([5, 4, 3], "logistic", seed=17, dtype=np.float64)
    X = np.random.default_rng(18).normal(size=(3, 5))
    a = de.spiking.simulate_async(net, X, de.Spikes(0.5), 200, seed=19, threads=1)
    b = de.spiking.simulate_async(net, X, de.Spikes(0.5), 200, seed=19, threads=3)
    for k in a.stats._acc:
        assert np.array_equal(a.stats._acc[k], b.stats._acc[k])
    soft = de.Network.random([5, 4, 3], ["logistic", "softmax"], seed=17, dtype=np.float64)
    with pytest.raises(ValueError, match="softmax"):
        de.spiking.simulate_async(soft, X, de.Spikes(0.5), 10, seed=1)
    with pytest.raises(ValueError, match="n_sweeps"):
        de.spiking.simulate_async(net, X, de.Spikes(0.5), 0, seed=1)


@pytest.mark.parametrize("on", ["units"])
def test_async_with_a_skip_connection_matches_the_exact_expectation(on):
    # Eq. 21 with spikes: the output receives the (non-spiking) input directly and the
    # hidden layer's spikes. (Connection-specific spikes are set per receiving layer, so
    # there the input block would spike too: drawn once per chain, a different law.) Layer 1 is deterministic, so the stationary E(O) of the
    # output is the average of sigma(W_20 x + W_21 Delta + b) over the spike patterns.
    rng = np.random.default_rng(21)
    W1, W20, W21 = rng.normal(size=(3, 2)) * 1.5, rng.normal(size=(2, 2)), rng.normal(size=(2, 3)) * 1.5
    b1, b2 = rng.normal(size=3), rng.normal(size=2)
    net = de.Network([W1, {0: W20, 1: W21}], [b1, b2], "logistic", dtype=np.float64)
    x, r, K = np.array([0.4, -0.8]), 0.8, 30
    O1 = 1 / (1 + np.exp(-(W1 @ x + b1)))
    want = np.zeros(2)
    shape = (2, 3) if on == "connections" else (3,)
    for bits in itertools.product((0, 1), repeat=int(np.prod(shape))):
        d = np.array(bits, float).reshape(shape)
        P = np.prod(np.where(d > 0, np.broadcast_to(O1, shape), 1 - np.broadcast_to(O1, shape)))
        S = W20 @ x + ((W21 * d * r).sum(1) if on == "connections" else W21 @ (r * d)) + b2
        want += P / (1 + np.exp(-S))
    runs = [de.spiking.simulate_async(net, x[None], de.Spikes(r, on=on), 1000, seed=30 + k) for k in range(K)]
    E = np.array([run.stats.E[1][0] for run in runs])
    se = E.std(0, ddof=1) / np.sqrt(K)
    assert np.all(np.abs(E.mean(0) - want) <= Z * se), (E.mean(0), want, se)
    for run in runs:
        assert_allclose(run.stats.E[0][0], O1, rtol=1e-12)
        # The output's signals over its concatenated input: the input as it is, then r O1 on average.
        assert_allclose(run.E_delta[1][0][:2], x, rtol=1e-12)
