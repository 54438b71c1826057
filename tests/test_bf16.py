"""sample(..., precision="bf16"): the opt-in bfloat16 products (issue 18).

The twin (dropengine._reference.sample_reference with bf16=True) rounds W and the gated
float32 inputs of layers 2..L to bfloat16 and multiplies exactly; the engine then differs
only by its float32 sums, so the float32 tolerance of test_reference_twin applies. The
shift of E against float32 is the option's cost: it must stay well below one standard
error of the run (here below 1 SE for every unit, and below 0.25 SE on average).
"""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import dropengine as de
from dropengine import _reference as R
from dropengine._validation import seed_key
from conftest import small_net

TOL32 = dict(rtol=2e-5, atol=2e-6)  # test_reference_twin's float32 tolerance
GATES = [de.NoGate(), de.Dropout([0.8, np.linspace(0.2, 0.9, 33), 0.5], keep_bias=0.7), de.Dropin(rate=0.2),
         de.Dropout([0.8, 0.5, 0.5], on="connections")]


def _net32(sizes=(9, 33, 17, 4), transfer=("relu", "logistic", "softmax")):
    return small_net(list(transfer), dtype=np.float32, sizes=sizes)


@pytest.mark.parametrize("gate", GATES, ids=repr)
@pytest.mark.parametrize("n_samples", [1, 64, 130])
def test_bf16_matches_twin(gate, n_samples):
    net = _net32()
    X = np.random.default_rng(0).normal(size=(3, 9)).astype(np.float32)
    X[:, 2] = 0
    st = de.sample(net, X, gate, n_samples, seed=7, record=[0, 1, 2], first_sample=3, precision="bf16")
    key = seed_key(7)[:2]
    S, O = R.sample_reference(net, X, gate, n_samples, key, first_sample=3, bf16=True)
    for h in range(3):
        np.testing.assert_allclose(st.records[h], O[h], **TOL32, err_msg=f"layer {h + 1}")
    # The first layer's inputs are data and stay float32: the same bits as without bf16.
    plain = de.sample(net, X, gate, n_samples, seed=7, record=[0, 1, 2], first_sample=3)
    np.testing.assert_array_equal(st.records[0], plain.records[0])
    if not isinstance(gate, de.Dropout) or gate.on == "units":
        # The rounding is visible: the twin without it is far outside the tolerance, so
        # the comparison above would catch a product that ignored the option.
        _, O32 = R.sample_reference(net, X, gate, n_samples, key, first_sample=3)
        assert np.max(np.abs(O32[2] - O[2]) / (TOL32["atol"] + TOL32["rtol"] * np.abs(O[2]))) > 10
    else:  # connection gates keep float32 products
        np.testing.assert_array_equal(st.records[2], plain.records[2])


def test_bf16_bits_are_the_same_at_every_simd_level():
    """The emulated product (generic, AVX2, AVX-512 without BF16) and vdpbf16ps give the
    same bits (bf16_impl.h: exact products, the same order of float32 additions). The
    first layer stays float32, where FMA contraction differs between levels: its weights
    and inputs are multiples of 2^-6 and 1/2, so that its sums are exact at every level;
    and ReLU units, since the float32 logistic's last bit differs between levels."""
    prog = ("import numpy as np, dropengine as de, hashlib;"
            "r = np.random.default_rng(1);"
            "W = [np.round(r.normal(0, 0.3, s) * 64) / 64 for s in ((96, 40), (130, 96), (5, 130))];"
            "net = de.Network([w.astype(np.float32) for w in W], transfer=['relu', 'relu', 'linear']);"
            "X = (r.integers(0, 3, (4, 40)) / 2).astype(np.float32);"
            "st = de.sample(net, X, de.Dropout([0.8, 0.5, 0.5]), 300, seed=5, precision='bf16', record=[0, 1, 2]);"
            "print(de.build_info()['simd'], de.build_info()['bf16'],"
            " hashlib.sha256(np.concatenate([o.ravel() for o in st.records.values()]).tobytes()).hexdigest())")
    seen = {}
    for level in ("generic", "avx2", "avx512"):
        env = dict(os.environ, DROPENGINE_SIMD=level)
        out = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(os.path.abspath(__file__))).stdout.split()
        seen[(out[0], out[1])] = out[2]
    assert len(set(seen.values())) == 1, seen
    if de.build_info()["bf16"] == "avx512_bf16":
        assert ("avx512", "avx512_bf16") in seen and ("generic", "emulated") in seen


def test_bf16_shift_of_E_is_well_below_one_standard_error():
    net = de.Network.random([100, 300, 300, 300, 10], "logistic", seed=0, dtype=np.float32)
    X = np.random.default_rng(2).random((5, 100), dtype=np.float32)
    gate = de.Dropout([0.8, 0.5, 0.5, 0.5])
    n = 10_000
    a = de.sample(net, X, gate, n, seed=11)
    b = de.sample(net, X, gate, n, seed=11, precision="bf16")
    np.testing.assert_array_equal(a.E[0], b.E[0])  # the first layer stays float32
    for h in range(1, 4):
        z = np.abs(b.E[h] - a.E[h]) / np.sqrt(a.var[h] / n)
        assert z.max() < 1.0 and z.mean() < 0.25, (h, z.max(), z.mean())
        assert z.max() > 0  # and the option did change the products


def test_bf16_layer_fed_by_the_input_stays_float32_in_a_dag():
    rng = np.random.default_rng(4)
    net = de.Network([rng.normal(0, 0.3, (12, 8)), {0: rng.normal(0, 0.3, (10, 8)), 1: rng.normal(0, 0.3, (10, 12))},
                      rng.normal(0, 0.3, (6, 10))], transfer="logistic", dtype=np.float32)
    X = rng.random((2, 8), dtype=np.float32)
    gate = de.Dropout([0.8, 0.5, 0.5])
    a = de.sample(net, X, gate, 200, seed=1, record=[0, 1, 2])
    b = de.sample(net, X, gate, 200, seed=1, record=[0, 1, 2], precision="bf16")
    np.testing.assert_array_equal(a.records[0], b.records[0])
    np.testing.assert_array_equal(a.records[1], b.records[1])  # sources include the input
    assert not np.array_equal(a.records[2], b.records[2])      # fed by hidden units only


def test_precision_names_the_dtype_or_bf16():
    net = _net32()
    X = np.ones((1, 9), np.float32)
    plain = de.sample(net, X, de.Dropout(0.5), 50, seed=1)
    same = de.sample(net, X, de.Dropout(0.5), 50, seed=1, precision="float32")
    for h in range(3):
        np.testing.assert_array_equal(plain.E[h], same.E[h])
    with pytest.raises(ValueError, match="precision must be None, 'float32', 'float64' or 'bf16'"):
        de.sample(net, X, None, 5, seed=1, precision="float16")
    with pytest.raises(TypeError, match="precision must be None or a string"):
        de.sample(net, X, None, 5, seed=1, precision=16)
    with pytest.raises(ValueError, match="does not match the network's dtype float32"):
        de.sample(net, X, None, 5, seed=1, precision="float64")
    net64 = small_net(["relu", "logistic", "softmax"], dtype=np.float64, sizes=(9, 33, 17, 4))
    with pytest.raises(ValueError, match="precision='bf16' needs a float32 network"):
        de.sample(net64, X.astype(np.float64), None, 5, seed=1, precision="bf16")
    big = np.full((1, 9), 3.4e38, np.float32)
    with pytest.raises(ValueError, match="inputs: precision='bf16' rounds them to bfloat16"):
        de.sample(net, big, None, 5, seed=1, precision="bf16")


def test_bf16_refuses_weights_beyond_its_range():
    net = de.Network([np.ones((3, 4), np.float32), np.full((2, 3), 3.4e38, np.float32)], transfer="logistic")
    X = np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match="beyond bfloat16's range"):
        de.sample(net, X, None, 5, seed=1, precision="bf16")


def test_bf16_threads_and_split_runs_give_the_same_bits():
    net = de.Network.random([30, 64, 64, 3], "logistic", seed=2, dtype=np.float32)
    X = np.random.default_rng(3).random((3, 30), dtype=np.float32)
    g = de.Dropout([0.8, 0.5, 0.5])
    one = de.sample(net, X, g, 200, seed=9, threads=1, precision="bf16")
    two = de.sample(net, X, g, 200, seed=9, threads=2, precision="bf16")
    parts = de.sample(net, X, g, 72, seed=9, precision="bf16").merge(
        de.sample(net, X, g, 128, seed=9, first_sample=72, precision="bf16"))
    for h in range(3):
        np.testing.assert_array_equal(one.E[h], two.E[h])
        np.testing.assert_allclose(parts.E[h], one.E[h], rtol=1e-12)
    digest = hashlib.sha256(np.concatenate([e.ravel() for e in one.E]).tobytes()).hexdigest()
    assert digest == hashlib.sha256(np.concatenate([e.ravel() for e in two.E]).tobytes()).hexdigest()


def test_bf16_statistics_say_so_and_do_not_merge_with_float32(tmp_path):
    net = _net32()
    X = np.random.default_rng(5).random((2, 9), dtype=np.float32)
    b = de.sample(net, X, de.Dropout(0.5), 64, seed=1, precision="bf16")
    f = de.sample(net, X, de.Dropout(0.5), 64, seed=1, first_sample=64)
    assert b.precision == "bf16" and f.precision is None
    with pytest.raises(ValueError, match="cannot be merged"):
        b.merge(f)
    b2 = de.sample(net, X, de.Dropout(0.5), 64, seed=1, first_sample=64, precision="bf16")
    assert b.merge(b2).precision == "bf16"
    loaded = de.SampleStats.load(b.save(tmp_path / "b.npz"))
    assert loaded.precision == "bf16"
    np.testing.assert_array_equal(loaded.E[1], b.E[1])
    assert de.SampleStats.load(f.save(tmp_path / "f.npz")).precision is None


def test_bf16_from_the_command_line(tmp_path):
    net = _net32()
    net.save(tmp_path / "net.npz")
    np.save(tmp_path / "X.npy", np.random.default_rng(6).random((2, 9), dtype=np.float32))
    from dropengine.cli import main
    out = tmp_path / "st.npz"
    assert main(["sample", str(tmp_path / "net.npz"), str(tmp_path / "X.npy"), "--keep", "0.5", "--samples", "64",
                 "--precision", "bf16", "--out", str(out), "--quiet"]) == 0
    st = de.SampleStats.load(out)
    assert st.precision == "bf16"
    want = de.sample(net, np.load(tmp_path / "X.npy"), de.Dropout(0.5), 64, seed=0, precision="bf16")
    np.testing.assert_array_equal(st.E[2], want.E[2])
