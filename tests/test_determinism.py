"""Same seed, same bits: any thread count, runs split and merged, save/load."""
import hashlib

import numpy as np
import pytest

import dropengine as de
from conftest import small_net

FIELDS = ("count", "mean", "m2", "slog", "slogc", "mean_S", "m2_S", "mean_dO", "comoment")


def bits(st):
    return {k: st._acc[k].tobytes() for k in FIELDS}


@pytest.fixture(scope="module")
def setup():
    net = de.Network.random([20, 16, 12, 4], ["logistic", "relu", "softmax"], seed=5, dtype=np.float32)
    X = np.random.default_rng(2).random((3, 20)).astype(np.float32)
    return net, X


@pytest.mark.parametrize("gate", [de.Dropout([0.8, 0.5, 0.5]), de.Dropout(0.6, on="connections"), de.Dropin(0.1)],
                         ids=repr)
def test_thread_count_does_not_change_bits(setup, gate):
    net, X = setup
    pairs = [((0, 1), (0, 2)), ((0, 3), (2, 1))]
    runs = [de.sample(net, X, gate, 700, seed=42, threads=t, pairs=pairs) for t in (1, 2, 3)]
    assert bits(runs[0]) == bits(runs[1]) == bits(runs[2])


def test_split_halves_merge_to_the_same_bits(setup):
    net, X = setup
    gate = de.Dropout([0.8, 0.5, 0.5])
    pairs = [((0, 1), (1, 2))]
    B = de.build_info()["block_samples"]
    n = 2 * 4 * B  # each half covers 4 = 2^2 whole blocks
    whole = de.sample(net, X, gate, n, seed=9, pairs=pairs)
    a = de.sample(net, X, gate, n // 2, seed=9, pairs=pairs)
    b = de.sample(net, X, gate, n // 2, seed=9, pairs=pairs, first_sample=n // 2)
    assert bits(a.merge(b)) == bits(whole)


def test_unaligned_split_merges_to_rounding(setup):
    net, X = setup
    gate = de.Dropout([0.8, 0.5, 0.5])
    whole = de.sample(net, X, gate, 1000, seed=9)
    a = de.sample(net, X, gate, 377, seed=9)
    b = de.sample(net, X, gate, 623, seed=9, first_sample=377)
    m = a.merge(b)
    for k in FIELDS:
        np.testing.assert_allclose(m._acc[k], whole._acc[k], rtol=1e-12, atol=1e-12)


def test_split_over_inputs_matches(setup):
    net, X = setup
    gate = de.Dropout([0.8, 0.5, 0.5])
    whole = de.sample(net, X, gate, 300, seed=4)
    part = de.sample(net, X[1:], gate, 300, seed=4, first_input=1)
    for k in FIELDS:
        assert whole._acc[k][1:].tobytes() == part._acc[k].tobytes()


def test_seed_sequence_and_int_seed_agree(setup):
    net, X = setup
    a = de.sample(net, X, de.Dropout(0.5), 100, seed=123)
    b = de.sample(net, X, de.Dropout(0.5), 100, seed=np.random.SeedSequence(123))
    c = de.sample(net, X, de.Dropout(0.5), 100, seed=124)
    assert bits(a) == bits(b)
    assert bits(a)["mean"] != bits(c)["mean"]


def test_fresh_entropy_is_recorded(setup):
    net, X = setup
    a = de.sample(net, X, de.Dropout(0.5), 100)
    b = de.sample(net, X, de.Dropout(0.5), 100, seed=np.random.SeedSequence(a.seed_entropy))
    assert bits(a) == bits(b)


def test_save_load_roundtrip(setup, tmp_path):
    net, X = setup
    st = de.sample(net, X, de.Dropout(0.5), 200, seed=1, pairs=[((0, 0), (1, 1))])
    path = st.save(tmp_path / "st.npz")
    st2 = de.SampleStats.load(path)
    assert bits(st2) == bits(st)
    assert st2.softmax_layers == st.softmax_layers
    np.testing.assert_array_equal(st2.nwgm[2], st.nwgm[2])
    path = net.save(tmp_path / "net")
    net2 = de.Network.load(path)
    assert bits(de.sample(net2, X, de.Dropout(0.5), 200, seed=1, pairs=[((0, 0), (1, 1))])) == bits(st)


# Golden hash of a short run: fails when the random stream or the reduction changes.
# When that is intended, bump kStreamVersion (cpp/include/dropengine/rng_streams.h)
# and update GOLDEN_HASH together. (It assumes IEEE float64 and x86-64.) One hash per
# dispatched level (build_info()["simd"]): the AVX2/AVX-512 products fuse multiply-adds
# (ARCHITECTURE.md, Floating point), so a float64 sum of the portable level can differ in
# its last bit; within a level the bits are fixed. Version 4: the float64 logistic.
GOLDEN_HASH = {"generic": "8c896077ec6c8cb8c023555fae1931006b445ce31be58b84fd1e604a06c23b43",
               "avx2": "2dc02e46dc15d8884bce9d951ecce3a07c3351faf575d8a5f9c8364ed01a6d33",
               "avx512": "2dc02e46dc15d8884bce9d951ecce3a07c3351faf575d8a5f9c8364ed01a6d33"}


def golden_hash(gate, W0=np.arange(12.0).reshape(4, 3) / 10 - 0.5, b0=(0.1, -0.1, 0.2, 0.0)):
    """SHA-256 of the statistics of 500 samples of a fixed 3-4-2 logistic network."""
    net = de.Network([W0, np.arange(8.0).reshape(2, 4) / 8 - 0.5], [np.array(b0), None], ["logistic", "logistic"],
                     dtype=np.float64)
    st = de.sample(net, np.array([[1.0, -0.5, 0.25]]), gate, 500, seed=2014)
    return hashlib.sha256(b"".join(bits(st)[k] for k in FIELDS)).hexdigest()


def test_golden_hash():
    h = golden_hash(de.Dropout([0.7, 0.5], keep_bias=0.5))
    assert de.build_info()["stream_version"] == 4
    assert h == GOLDEN_HASH[de.build_info()["simd"]], h


# Stream version 2 added one random bit per connection for connection gates at keep 1/2.
# (Connection gates sum each row in one order on every level: one hash.)
GOLDEN_HASH_CONNECTIONS = "827dbe64179a7ed62b946d75bb2075a88fbf3f7922d8efee6a81ab2a74353796"


def test_golden_hash_connections():
    h = golden_hash(de.Dropout(0.5, on="connections"))
    assert h == GOLDEN_HASH_CONNECTIONS, h


# Stream version 3: connection-specific spikes draw 8 bits per connection (ties settled by
# 24 more). Weights are multiples of 1/8, so every sum S is exact in any order and the
# hash depends on the draws alone (and on the float64 logistic, as above).
GOLDEN_HASH_SPIKES = "b4818b45d911f3302794a6b57934fff46022803887e07e43441d16ac2465db1f"


def test_golden_hash_spikes():
    h = golden_hash(de.Spikes(1.0, on="connections"), W0=np.arange(12.0).reshape(4, 3) / 8 - 0.75,
                    b0=(0.125, -0.125, 0.25, 0.0))
    assert h == GOLDEN_HASH_SPIKES, h
