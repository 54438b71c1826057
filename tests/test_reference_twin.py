"""The engine against its plain NumPy twin (dropengine._reference), same Philox draws."""
import numpy as np
import pytest

import dropengine as de
from dropengine import _reference as R
from dropengine._engine import GateKind
from dropengine._validation import seed_key
from conftest import TRANSFERS, small_net

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

KAT = [  # Random123 known-answer vectors: counter, key -> output
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("c,k,want", KAT)
def test_philox_known_answers(c, k, want):
    assert de._engine.philox4x32_10(c, k) == want
    assert tuple(int(v) for v in R.philox4x32_10(*c, *k)) == want


GATES = [de.NoGate(), de.Dropout(0.5), de.Dropout([np.linspace(0.1, 0.9, 7), 0.3, 0.8], keep_bias=0.6),
         de.Dropout([0.7, 0.5, 0.9], on="connections", keep_bias=0.4), de.Dropin(rate=0.2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gate", GATES, ids=repr)
@pytest.mark.parametrize("n_samples", [1, 3, 64, 130])
def test_samples_and_statistics_match_reference(dtype, gate, n_samples):
    net = small_net(["relu", "logistic", "softmax"], dtype=dtype, sizes=(7, 5, 6, 3))
    X = np.random.default_rng(0).normal(size=(3, 7)).astype(dtype)
    X[:, 2] = 0  # exact zeros are skipped by the kernel
    st = de.sample(net, X, gate, n_samples, seed=99, record=[0, 1, 2], first_sample=5, first_input=2)
    k0, k1, _ = seed_key(99)
    S, O = R.sample_reference(net, X, gate, n_samples, (k0, k1), first_sample=5, first_input=2)
    for h in range(3):
        np.testing.assert_allclose(st.records[h], O[h], **TOL[dtype])
    ref = R.stats_reference(net, S, O)
    for name in ("E", "var", "G", "Gc", "nwgm", "E_S", "var_S", "E_dsigma"):
        for h in range(3):
            got, want = getattr(st, name)[h], ref[name][h]
            np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=f"{name}[{h}]")


@pytest.mark.parametrize("sizes", [(37, 9, 4), (150, 20, 3)], ids=["37-9-4", "150-20-3"])
def test_one_bit_connection_gates_match_reference(sizes):
    """Stream version 2: keep = 1/2 on connections uses one bit per connection; rows
    start at every bit offset (n_in not a multiple of 128) and the SIMD path covers them."""
    net = small_net(["logistic", "logistic"], dtype=np.float32, sizes=sizes)
    X = np.random.default_rng(1).normal(size=(2, sizes[0])).astype(np.float32)
    gate = de.Dropout(0.5, on="connections")
    st = de.sample(net, X, gate, 20, seed=7, record=[0, 1])
    k0, k1, _ = seed_key(7)
    S, O = R.sample_reference(net, X, gate, 20, (k0, k1))
    for h in range(2):
        np.testing.assert_allclose(st.records[h], O[h], **TOL[np.float32])
    kept = R.draw_bits((k0, k1), R.STREAM["connections"], 0, 0, range(20), range(sizes[0] * sizes[1]))
    assert abs(kept.mean() - 0.5) < 5 * 0.5 / np.sqrt(kept.size)  # a fair coin


@pytest.mark.parametrize("f", TRANSFERS, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transfer_matches_reference(f, dtype):
    S = np.concatenate([np.linspace(-30, 30, 61), [0.0, 1e-8, -1e-8, 50.0, -50.0]]).reshape(6, 11).astype(dtype)
    got = de._engine.transfer(f, S)
    want = R.transfer(f, S)
    for g, w, name in zip(got, want, ("O", "logO", "logOc", "dO")):
        if name.startswith("log") and not f.bounded01:
            # For tanh, relu, ... the logs come from O itself, so a 1-ulp difference of O
            # near 0 or 1 is amplified: compare O and 1 - O instead.
            g, w = np.exp(g), np.exp(w)
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-15, err_msg=name)


def test_logistic_logs_keep_precision_at_saturation():
    """log(1 - O) comes from S, not from O rounded to 1 (G' of Eq. 36 stays exact)."""
    O, lo, loc, d = de._engine.transfer(de.Logistic(), np.array([[40.0]], np.float32))
    assert O[0, 0] == 1.0
    np.testing.assert_allclose(loc[0, 0], -40.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ensemble_matches_reference(dtype):
    net = small_net(["tanh", "logistic", "softmax"], dtype=dtype, sizes=(7, 5, 6, 3))
    X = np.random.default_rng(1).normal(size=(4, 7))
    for gate in GATES:
        kind, p, kb, *_ = de._engine.gate_spec(gate, net)
        U, W = de.ensemble(net, X, gate)
        a = X
        for h, (Wh, bh, f) in enumerate(zip(net.weights, net.biases, net.transfers)):
            Wh = Wh.astype(np.float64)
            n_out, n_in = Wh.shape
            if kind == GateKind.units:
                a = a * np.broadcast_to(p[h], (n_in,))
            elif kind == GateKind.dropin:
                r = np.broadcast_to(p[h], (n_in,))
                a = (1 - r) * a + r
            if kind == GateKind.connections:
                u = a @ (Wh * np.broadcast_to(p[h], (n_out * n_in,)).reshape(n_out, n_in)).T
            else:
                u = a @ Wh.T
            u = u + (kb[h] if kind in (GateKind.units, GateKind.connections) else 1.0) * bh
            a = R.transfer(f, u)[0]
            np.testing.assert_allclose(U[h], u, **TOL[dtype])
            np.testing.assert_allclose(W[h], a, **TOL[dtype])


def test_forward_is_ensemble_without_gate():
    net = small_net(["relu", "linear"], sizes=(4, 3, 2))
    X = np.arange(8.0).reshape(2, 4)
    S, O = de.forward(net, X)
    a = X
    for h, (W, b) in enumerate(zip(net.weights, net.biases)):
        s = a @ W.T + b
        np.testing.assert_allclose(S[h], s, rtol=1e-14)
        a = np.maximum(s - 0.0, 0) if h == 0 else s
        np.testing.assert_allclose(O[h], a, rtol=1e-14)


def test_sixteen_bit_connection_gates_with_ties_match_reference():
    """Stream version 2, one keep p != 1/2 per layer: 16-bit draws, and the rare ties
    (a draw equal to the threshold's top 16 bits) settled by 16 more bits, exactly as the
    NumPy twin does. 1.2 million draws make ties certain."""
    net = small_net(["logistic", "logistic"], dtype=np.float32, sizes=(300, 200, 3))
    X = np.random.default_rng(2).uniform(size=(1, 300)).astype(np.float32)
    gate = de.Dropout(0.7, on="connections")
    st = de.sample(net, X, gate, 20, seed=8, record=[0])
    k0, k1, _ = seed_key(8)
    S, O = R.sample_reference(net, X, gate, 20, (k0, k1))
    np.testing.assert_allclose(st.records[0], O[0], **TOL[np.float32])
    e = np.arange(300 * 200, dtype=np.uint64)
    words = R.draw_words((k0, k1), R.STREAM["connections"], 0, 0, range(20), e >> np.uint64(1)).astype(np.uint64)
    u = (words >> (np.uint64(16) * (e & np.uint64(1)))[None, :]) & np.uint64(0xFFFF)
    assert (u == np.uint64(int(R.keep_threshold(0.7)) >> 16)).sum() >= 3  # the tie path ran


@pytest.mark.parametrize("r", [1.0, "per_connection"])
def test_connection_spikes_match_reference_with_ties(r):
    """Connection-specific firing (Spike stream): 8-bit draws against the top 8 bits of
    each unit's threshold, ties (1 in 256) settled by 24 more bits, replayed by the NumPy
    twin sample by sample. 4 x 60,000 coins make ties certain; units saturated at O = 1
    (threshold 2^32) take the capped-threshold path and must always fire."""
    base = small_net(["logistic", "logistic", "linear"], sizes=(50, 300, 200, 4))
    Ws, bs = [w.copy() for w in base.weights], [b.copy() for b in base.biases]
    Ws[0][:5], bs[0][:5] = 0.0, 60.0  # O = 1 exactly in float64: five units that always fire
    net = de.Network(Ws, bs, ["logistic", "logistic", "linear"])
    X = np.random.default_rng(3).uniform(size=(2, 50))
    rr = 1.0 if r == 1.0 else np.random.default_rng(4).uniform(0.2, 1.0, size=(200, 300))
    gate = de.Spikes(rr, on="connections", layers=[1])
    st = de.sample(net, X, gate, 4, seed=11, record=[1, 2], input_stats=True)
    k0, k1, _ = seed_key(11)
    S, O = R.sample_reference(net, X, gate, 4, (k0, k1))
    np.testing.assert_allclose(st.records[1], O[1], **TOL[np.float64])
    np.testing.assert_allclose(st.records[2], O[2], **TOL[np.float64])
    # the spikes each unit of layer 0 sends, mean over its outgoing connections and samples
    e = np.arange(200 * 300, dtype=np.uint64)
    r_ij = np.broadcast_to(rr, (200, 300))
    for x in range(2):
        thr = R.keep_threshold(O[0][x]).astype(np.uint64)
        fire = R.draw_spike8((k0, k1), 1, x, range(4), 300, e, thr).reshape(4, 200, 300)
        np.testing.assert_allclose(st.E_in[1][x], (fire * r_ij).mean(axis=(0, 1)), rtol=1e-12)
        words = R.draw_words((k0, k1), R.STREAM["spike"], 1, x, range(4), e >> np.uint64(2)).astype(np.uint64)
        u = (words >> (np.uint64(8) * (e & np.uint64(3)))[None, :]) & np.uint64(0xFF)
        hi = np.minimum(thr[:, (e % np.uint64(300)).astype(np.intp)] >> np.uint64(24), np.uint64(255))
        assert (u == hi).sum() >= 100  # the tie path ran
        assert fire[:, :, :5].all()  # saturated units always fire


def test_global_spikes_match_reference():
    """Global firing (Spike stream, word j of unit j): the NumPy twin replays every spike."""
    net = small_net(["logistic", "logistic", "linear"], sizes=(20, 30, 25, 3))
    X = np.random.default_rng(5).uniform(size=(2, 20))
    gate = de.Spikes([0.0, 0.7, np.linspace(0.1, 1.0, 25)], on="units", layers=[1, 2])
    st = de.sample(net, X, gate, 6, seed=12, record=[1, 2])
    k0, k1, _ = seed_key(12)
    S, O = R.sample_reference(net, X, gate, 6, (k0, k1))
    np.testing.assert_allclose(st.records[1], O[1], **TOL[np.float64])
    np.testing.assert_allclose(st.records[2], O[2], **TOL[np.float64])
