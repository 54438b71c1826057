"""Fuzzing the public API (hypothesis): random shapes (zero-size included), dtypes (int,
bool, float16, complex, object), values (NaN, +-Inf, huge, negative probabilities),
non-contiguous and read-only arrays, and wrong types. The only outcomes allowed: a
correct result (equal to the call on the canonical float array) or a ValueError /
TypeError / MemoryError whose message names the argument.

Profiles (tests/conftest.py): "ci" is derandomized and runs by default; "long" runs many
more examples: `pytest tests/test_fuzz.py --hypothesis-profile=long` (bench/fuzz_long.sh).
"""
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

import dropengine as de
from dropengine import exact
from dropengine._reference import sample_reference, transfer as ref_transfer
from dropengine._validation import seed_key

ALLOWED = (ValueError, TypeError, MemoryError)
NUMERIC = [np.int8, np.int64, np.uint16, np.bool_, np.float16, np.float32, np.float64, np.complex128]


@st.composite
def any_array(draw, max_dims=3, max_side=4):
    """An array of any dtype and shape, possibly non-contiguous or read-only."""
    dtype = draw(st.sampled_from(NUMERIC + [object]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    if dtype is object:
        a = draw(hnp.arrays(object, shape, elements=st.one_of(st.none(), st.integers(-3, 3), st.floats(),
                                                                  st.text(max_size=2))))
    else:
        a = draw(hnp.arrays(dtype, shape))
    if a.ndim and draw(st.booleans()):
        a = a[::-1]
    if a.ndim >= 2 and draw(st.booleans()):
        a = a.T
    if draw(st.booleans()):
        a.setflags(write=False)
    return a


@st.composite
def near_valid(draw, shape, lo=-3.0, hi=3.0):
    """An array of the right shape with extreme values mixed in."""
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int64]))
    if dtype == np.int64:
        elements = st.integers(-3, 3)
    else:
        huge = float(np.finfo(dtype).max)
        special = st.sampled_from([np.nan, np.inf, -np.inf, huge, -huge, 0.0])
        elements = st.one_of(st.floats(lo, hi, width=16 if dtype == np.float16 else 64), special)
    return draw(hnp.arrays(dtype, shape, elements=elements))


WRONG = st.one_of(st.none(), st.text(max_size=3), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                  st.lists(st.lists(st.floats(), max_size=3), max_size=3), st.complex_numbers(), st.booleans())
FUZZ = st.one_of(any_array(), WRONG)


def outcome(fn, name):
    """The result, or None after an allowed error that names `name` (or one of several)."""
    names = (name,) if isinstance(name, str) else name
    try:
        return fn()
    except ALLOWED as exc:
        assert any(n in str(exc) for n in names), f"{type(exc).__name__} does not name {names}: {exc}"
        return None


def canonical(x, dtype):
    with np.errstate(all="ignore"):
        return np.ascontiguousarray(np.asarray(x, dtype=dtype))


NET = de.Network.random([3, 4, 2], ["tanh", "logistic"], seed=0, dtype=np.float64)
NET32 = de.Network.random([3, 4, 2], ["logistic", "softmax"], seed=1, dtype=np.float32)
LIN = de.Network.random([3, 3, 2], "linear", seed=2, dtype=np.float64)
X = np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.5]])
GATE = de.Dropout(0.5)


Z = 5.0  # standard errors
KNET = de.Network.random([3, 3, 2], ["tanh", "logistic"], seed=0, dtype=np.float64)  # 2^15 connection subnetworks


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _within_exact(st, ex, n, widths, atol=1e-12):
    """Monte Carlo E and Var of every layer within Z standard errors of the exact values.
    SE(E) = sqrt(Var/n) with the exact Var. For outputs in a range of width R the
    fourth central moment is at most R^2 Var, so SE(sample Var) <= R sqrt(Var/n); the
    estimator's bias Var/n is added."""
    for h, R in enumerate(widths):
        se = np.sqrt(ex.var[h] / n)
        assert np.all(np.abs(st.E[h] - ex.E[h]) <= Z * se + atol), (h, st.E[h], ex.E[h], se)
        assert np.all(np.abs(st.var[h] - ex.var[h]) <= Z * R * se + ex.var[h] / n + atol), (h, st.var[h], ex.var[h])


def _equals_twin(st, net, gate, n, seed, first_sample=0):
    """The engine's statistics are those of the NumPy twin's raw samples (same Philox draws)."""
    k0, k1, _ = seed_key(seed)
    _, O = sample_reference(net, X, gate, n, (k0, k1), first_sample=first_sample)
    for h, Oh in enumerate(O):
        np.testing.assert_allclose(st.E[h], Oh.mean(1), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(st.var[h], Oh.var(1), rtol=1e-9, atol=1e-14)
    return O


def _same_stats(a, b):
    for name in ("E", "var", "E_S"):
        for u, v in zip(getattr(a, name), getattr(b, name)):
            assert_array_equal(u, v)


@pytest.mark.parametrize("net", [NET, NET32], ids=["f64", "f32"])
@given(x=st.one_of(FUZZ, near_valid(st.sampled_from([(3,), (2, 3), (0, 3), (1, 3)]))))
def test_inputs(net, x):
    for fn in (lambda v: de.sample(net, v, GATE, 64, seed=1), lambda v: exact.enumerate(net, v, GATE)):
        got = outcome(lambda: fn(x), "inputs")
        if got is not None:
            _same_stats(got, fn(canonical(x, net.dtype)))
    got = outcome(lambda: de.ensemble(net, x, GATE), "inputs")
    if got is not None:
        U, W = de.ensemble(net, canonical(x, net.dtype), GATE)
        for a, b in zip(got[1], W):
            assert_array_equal(a, b)


VALID_P = st.one_of(st.floats(0, 1), hnp.arrays(np.float64, st.sampled_from([(), (3,)]), elements=st.floats(0, 1)),
                    st.lists(st.floats(0, 1), min_size=2, max_size=2))


@given(keep=st.one_of(FUZZ, near_valid(st.sampled_from([(), (3,), (4,), (2, 3)]), lo=-0.5, hi=1.5),
                      st.floats(allow_nan=True), VALID_P, VALID_P))
@example(keep=0.8)
@example(keep=np.array([0.2, 0.5, 0.9]))
@example(keep=[0.3, 1.0])
def test_keep(keep):
    """A keep the gate accepts is the keep used: on a 3-3-2 network (keep per unit of
    shape (3,) fits both layers) E and Var over 2000 samples lie within 5 SE of exact
    enumeration under that keep, and equal the NumPy twin's statistics."""
    n = 2000
    for on in ("units", "connections"):
        gate = outcome(lambda: de.Dropout(keep, on=on), "keep")
        if gate is None:
            continue
        st_ = outcome(lambda: de.sample(KNET, X, gate, n, seed=2), "keep")
        if st_ is None:
            continue
        assert st_.E[1].shape == (2, 2) and st_.n_samples == n
        _within_exact(st_, exact.enumerate(KNET, X, gate), n, widths=(2.0, 1.0))  # tanh, logistic
        _equals_twin(st_, KNET, gate, n, seed=2)


CONNECTIONS_KEEP_ONE = """
import numpy as np, dropengine as de
net = de.Network.random([3, 3, 2], ["tanh", "logistic"], seed=0, dtype=np.float64)
X = np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.5]])
gate = de.Dropout([0.3, 1.0], on="connections")
got = de.sample(net, X, gate, 20_000, seed=2, input_stats=True)
want = de.exact.enumerate(net, X, gate)
z = max(float(np.max(np.abs(g - w) / np.sqrt(v / 20_000 + 1e-30))) for g, w, v in zip(got.E, want.E, want.var))
print(z)
"""


def test_connection_dropout_with_an_ungated_layer():
    """Dropout(on="connections") with keep 1 on some layer (found by test_keep) killed the
    interpreter (the ungated layer's packed weights were never built); in a child process
    so that a regression fails this test rather than the run. E within 5 exact SE."""
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", CONNECTIONS_KEEP_ONE], capture_output=True, text=True, timeout=120,
                       cwd="/")
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert float(p.stdout.strip()) < 5.0


@given(rate=st.one_of(FUZZ, st.floats(allow_nan=True), st.floats(0, 1), st.floats(0, 1)))
@example(rate=0.2)
@example(rate=np.float32(0.6))
def test_dropin_rate(rate):
    """A rate the gate accepts is the rate used: the gated inputs of layer 0 average
    x + r (1 - x) and those of layer 1 r + (1 - r) E(O^0) (within 5 SE, exact SE), and
    the outputs' E and Var lie within 5 SE of exact enumeration (20000 samples)."""
    n = 20_000
    gate = outcome(lambda: de.Dropin(rate), "rate")
    if gate is None:
        return
    got = outcome(lambda: de.sample(NET, X, gate, n, seed=3, input_stats=True), "rate")
    if got is None:
        return
    r = float(np.float64(rate))
    ex = exact.enumerate(NET, X, gate)
    # layer 0: the input x_j, or 1 with probability r
    want0 = X + r * (1 - X)
    se0 = np.sqrt(r * (1 - r)) * np.abs(1 - X) / np.sqrt(n)
    assert np.all(np.abs(got.E_in[0] - want0) <= Z * se0 + 1e-12), (got.E_in[0], want0)
    # layer 1: O^0_j (tanh), or 1 with probability r
    want1 = r + (1 - r) * ex.E[0]
    var1 = r + (1 - r) * (ex.var[0] + ex.E[0] ** 2) - want1**2
    assert np.all(np.abs(got.E_in[1] - want1) <= Z * np.sqrt(np.maximum(var1, 0) / n) + 1e-12), (got.E_in[1], want1)
    _within_exact(got, ex, n, widths=(2.0, 1.0))
    _equals_twin(got, NET, gate, n, seed=3)


# Valid counts stay small (a valid 10^12-sample request would just run for hours); the
# huge ones are all above the documented limits and must be refused.
@given(value=st.one_of(FUZZ, st.integers(-10, 300), st.integers(2**48 + 1, 10**30), st.floats()))
@example(value=100)  # enumeration refused (2^7 > 100)
@example(value=128)  # exactly enough
@example(value=None)
def test_counts_and_options(value):
    """Each option is refused exactly where documented, and otherwise does what was
    asked: n_samples samples per input, the Philox key of `seed`, the same bits for any
    `threads`, samples numbered from `first_sample` (all three against the NumPy twin),
    raw records of the asked shape unless above `max_record_bytes`, and enumeration
    refused iff the 2^7 subnetworks exceed `max_subnetworks`."""
    ok = _is_int(value)
    got = outcome(lambda: de.sample(NET, X, GATE, value, seed=1), "n_samples")
    assert (got is not None) == (ok and 1 <= value <= 2**48)
    if got is not None:
        assert got.n_samples == value and np.array_equal(got.count, [value, value])
        _equals_twin(got, NET, GATE, value, seed=1)

    got = outcome(lambda: de.sample(NET, X, GATE, 8, seed=value), "seed")
    assert (got is not None) == (value is None or (ok and value >= 0))  # None: fresh entropy
    if got is not None:
        _equals_twin(got, NET, GATE, 8, seed=got.seed_entropy if value is None else value)

    one = de.sample(NET, X, GATE, 8, seed=1, threads=1)
    got = outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, threads=value), "threads")
    assert (got is not None) == (value is None or (ok and 1 <= value <= 4096))  # None: all cores
    if got is not None:
        assert all(np.array_equal(got._acc[k], one._acc[k], equal_nan=True) for k in one._acc)  # (log of tanh < 0: NaN)

    got = outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, first_sample=value), "first_sample")
    assert (got is not None) == (ok and 0 <= value <= 2**48 - 8)
    if got is not None:
        assert got.n_samples == 8
        _equals_twin(got, NET, GATE, 8, seed=1, first_sample=value)

    need = X.shape[0] * 8 * NET.sizes[1] * 8  # bytes of float64 raw outputs of layer 0
    got = outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, max_record_bytes=value, record=[0]), "max_record_bytes")
    assert (got is not None) == (ok and value >= need)
    if got is not None:
        O = _equals_twin(got, NET, GATE, 8, seed=1)
        assert list(got.records) == [0] and got.records[0].shape == (2, 8, 4)
        np.testing.assert_allclose(got.records[0], O[0], rtol=1e-14, atol=1e-15)

    got = outcome(lambda: exact.enumerate(NET, X, GATE, max_subnetworks=value), "max_subnetworks")
    assert (got is not None) == (ok and value >= 2**7)  # 3 + 4 gated units
    if got is not None:
        assert got.exact and got.n_samples == 2**7
        full = exact.enumerate(NET, X, GATE)
        for k in full._acc:
            np.testing.assert_allclose(got._acc[k], full._acc[k], rtol=1e-12, atol=1e-15)


@given(pairs=st.one_of(FUZZ, st.lists(st.tuples(st.tuples(st.integers(-1, 2), st.integers(-1, 5)),
                                                   st.tuples(st.integers(-1, 2), st.integers(-1, 5))),
                                         max_size=3)))
def test_pairs(pairs):
    got = outcome(lambda: de.sample(NET, X, GATE, 32, seed=1, pairs=pairs), "pairs")
    if got is not None:
        n = 0 if pairs is None else len(pairs)
        assert got.cov.shape == (2, n)
        assert exact.enumerate(NET, X, GATE, pairs=pairs).cov.shape == (2, n)


@given(record=st.one_of(FUZZ, st.lists(st.integers(-2, 3), max_size=3)))
def test_record(record):
    got = outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, record=record), "record")
    if got is not None:
        assert set(got.records) == set([] if record is None else list(record))


@given(w=st.one_of(FUZZ, near_valid(st.sampled_from([(4, 3), (0, 3), (4,), (2, 2, 2)]))))
def test_network_weights(w):
    net = outcome(lambda: de.Network([w, np.ones((2, 4))]), "weights")
    if net is not None:
        assert np.array_equal(net.weights[0], canonical(w, net.dtype))
        de.sample(net, np.ones((1, net.n_in)), GATE, 8, seed=1)


def _numpy_forward(Ws, bs, fs, x):
    """Plain NumPy forward pass in float64 with the transfer formulas written out."""
    a = np.asarray(x, np.float64)
    for W, b, f in zip(Ws, bs, fs):
        S = a @ np.asarray(W, np.float64).T + (0 if b is None else np.asarray(b, np.float64))
        if f == "tanh":
            a = np.tanh(S)
        elif f == "linear":
            a = S
        elif f == "softmax":
            e = np.exp(S - S.max(-1, keepdims=True))
            a = e / e.sum(-1, keepdims=True)
        else:  # ("logistic", c, lam)
            _, c, lam = f
            a = 1 / (1 + c * np.exp(-lam * S))
    return a


@given(b=st.one_of(FUZZ, near_valid(st.sampled_from([(4,), (3,), (0,), (4, 1)])),
                   hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64]), 4,
                              elements=st.integers(-3, 3) | st.floats(-3, 3, width=32))))
@example(b=np.array([0.5, -1.0, 2.0, 0.0]))
@example(b=np.array([1, -2, 0, 3], dtype=np.int8))
def test_network_biases(b):
    """Accepted biases are stored as given (cast to the network's dtype) and used: the
    forward pass equals a NumPy forward pass with them."""
    Ws = [np.linspace(-1, 1, 12).reshape(4, 3), np.linspace(0.5, -0.7, 8).reshape(2, 4)]
    net = outcome(lambda: de.Network(Ws, [b, None]), "biases")
    if net is not None:
        want_b = None if b is None else canonical(b, net.dtype)  # None: no bias
        assert (net.biases[0] is None if b is None else np.array_equal(net.biases[0], want_b)) and net.biases[1] is None
        _, O = de.forward(net, X)
        want = _numpy_forward(Ws, [want_b, None], [("logistic", 1.0, 1.0)] * 2, X)
        np.testing.assert_allclose(O[1], want, rtol=1e-12 if net.dtype == np.float64 else 1e-6, atol=1e-15)


@given(t=st.one_of(WRONG, st.sampled_from(["logistic", "sigmoid", "", "softmax", "linear"]),
                   st.builds(de.Logistic, c=st.floats(0, 3), lam=st.floats(0.1, 3))))
@example(t="softmax")
@example(t="linear")
@example(t="logistic")
@example(t="sigmoid")
@example(t=de.Logistic(c=0.5, lam=2.0))
def test_transfer(t):
    """An accepted transfer is the one applied: the forward pass equals a NumPy forward
    pass with the transfer's formula (logistic with its c and lam, softmax, linear)."""
    Ws = [np.linspace(-1, 1, 12).reshape(4, 3), np.linspace(0.5, -0.7, 8).reshape(2, 4)]
    bs = [np.array([0.1, -0.2, 0.3, 0.0]), np.array([0.05, -0.05])]
    net = outcome(lambda: de.Network(Ws, bs, transfer=t), "transfer")
    expected = {"logistic": ("logistic", 1.0, 1.0), "softmax": "softmax", "linear": "linear"}
    assert (net is not None) == (isinstance(t, de.Logistic) or (isinstance(t, str) and t in expected))
    if net is not None:
        f = ("logistic", t.c, t.lam) if isinstance(t, de.Logistic) else expected[t]
        _, O = de.forward(net, X)
        np.testing.assert_allclose(O[0], _numpy_forward(Ws[:1], bs[:1], [f], X), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(O[1], _numpy_forward(Ws, bs, [f, f], X), rtol=1e-12, atol=1e-15)


@given(c=st.one_of(st.floats(), WRONG), lam=st.one_of(st.floats(), WRONG))
def test_transfer_parameters(c, lam):
    outcome(lambda: de.Logistic(c=c), "c")
    outcome(lambda: de.Logistic(lam=lam), "lam")
    outcome(lambda: de.Softmax(lam=lam), "lam")


@given(x=st.one_of(FUZZ, near_valid(st.sampled_from([(2, 3), (3,)]))))
def test_linear_moments(x):
    got = outcome(lambda: exact.linear_moments(LIN, x, GATE), "inputs")
    if got is not None:
        want = exact.linear_moments(LIN, canonical(x, np.float64), GATE)
        assert_array_equal(got.cov, want.cov)


@given(t=st.one_of(FUZZ, near_valid(st.sampled_from([(2, 2), (2,), (2, 3)]))))
def test_dropout_gradient_targets(t):
    got = outcome(lambda: exact.dropout_gradient(NET, X, t, GATE), "targets")
    if got is not None:
        assert got.expected[0].shape == (2, 4, 3)


@given(other=st.one_of(WRONG, st.just(0)))
def test_merge_wrong_type(other):
    s = de.sample(NET, X, GATE, 8, seed=1)
    outcome(lambda: s.merge(other), "other")


@given(blob=st.binary(max_size=300), keep_zip_header=st.booleans())
def test_load_garbage_files(tmp_path_factory, blob, keep_zip_header):
    """Any bytes on disk: load raises ValueError naming the path, never anything else."""
    path = tmp_path_factory.mktemp("garbage") / "x.npz"
    good = NET.save(tmp_path_factory.mktemp("good") / "net.npz").read_bytes()
    path.write_bytes((good[:200] if keep_zip_header else b"") + blob)
    outcome(lambda: de.Network.load(path), "path")
    outcome(lambda: de.SampleStats.load(path), "path")


@given(key=st.sampled_from(["format", "n_layers", "W0", "transfers", "b0"]), value=any_array())
def test_load_tampered_network(tmp_path_factory, key, value):
    """A well-formed .npz with one field replaced by anything: ValueError naming the path."""
    d = tmp_path_factory.mktemp("tampered")
    arrays = dict(np.load(NET.save(d / "net.npz")))
    if value.dtype == object:
        return  # np.savez would pickle it; a pickled array is refused on load (allow_pickle=False)
    arrays[key] = value
    np.savez(d / "bad.npz", **arrays)
    got = outcome(lambda: de.Network.load(d / "bad.npz"), "path")
    if got is not None:
        de.forward(got, np.ones((1, got.n_in)))


@given(O=st.one_of(FUZZ, near_valid(st.sampled_from([(4,), (2, 3), (3, 0), (2, 2, 2)]), lo=-0.25, hi=1.25)),
       axis=st.one_of(st.integers(-4, 4), WRONG))
def test_analysis_summary(O, axis):
    from dropengine import analysis

    got = outcome(lambda: analysis.summary(O, None, axis), ("O", "axis"))
    if got is not None:
        want = analysis.summary_numpy(canonical(O, np.float64), None, axis)
        np.testing.assert_allclose(got.E, want.E, rtol=1e-12, atol=1e-15)


@given(P=st.one_of(FUZZ, near_valid(st.sampled_from([(3,), (2,), (3, 1)]), lo=-0.5, hi=1.5)))
def test_analysis_weights(P):
    from dropengine import analysis

    got = outcome(lambda: analysis.summary(np.array([[0.2, 0.4, 0.9]]), P, 1), "P")
    if got is not None:
        w = np.full(3, 1 / 3) if P is None else canonical(P, np.float64)
        np.testing.assert_allclose(got.E, 0.2 * w[0] + 0.4 * w[1] + 0.9 * w[2], rtol=1e-12)


def _largest(r):
    items = r if isinstance(r, (list, tuple)) else [r]
    return max([float(np.max(np.abs(np.asarray(v, dtype=np.float64)), initial=0.0)) for v in items], default=0.0)


def _bits(k):
    return ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(np.float64)


def exact_spikes(net, x, gate):
    """Exact E and Var of every layer over all spike configurations, by brute force in
    float64: a spiking unit j with output a_j sends r_j with probability a_j (one coin per
    unit, or per connection i <- j with size r_ij)."""
    L = net.n_layers
    spiking = set(range(1, L) if gate.layers is None else gate.layers)
    rs = list(gate.r) if isinstance(gate.r, (list, tuple)) else [gate.r] * L
    prob, a = np.ones(1), np.asarray(x, np.float64)[None, :]
    E, var = [], []
    for h, (W, b, f) in enumerate(zip(net.weights, net.biases, net.transfers)):
        W = np.asarray(W, np.float64)
        n_out, n_in = W.shape
        if h in spiking:
            if gate.on == "units":
                d = _bits(n_in)                                                       # (M, n_in)
                P = np.prod(np.where(d[None] > 0, a[:, None, :], 1 - a[:, None, :]), -1)  # (K, M)
                S = (d * np.broadcast_to(np.asarray(rs[h], np.float64), (n_in,))) @ W.T   # (M, n_out)
            else:
                m = _bits(n_out * n_in).reshape(-1, n_out, n_in)
                P = np.prod(np.where(m[None] > 0, a[:, None, None, :], 1 - a[:, None, None, :]), (-2, -1))
                S = np.einsum("mij,ij->mi", m, W * np.broadcast_to(np.asarray(rs[h], np.float64), (n_out, n_in)))
            prob = (prob[:, None] * P).reshape(-1)
            S = np.broadcast_to(S[None], (P.shape[0],) + S.shape).reshape(-1, n_out)
        else:
            S = a @ W.T
        if b is not None:
            S = S + np.asarray(b, np.float64)
        O = ref_transfer(f, S)[0]
        keep = prob > 0
        prob, O = prob[keep], O[keep]
        E.append(prob @ O)
        var.append(np.maximum(prob @ O**2 - E[-1] ** 2, 0))
        a = O
    return E, var


@given(r=st.one_of(FUZZ, st.floats(allow_nan=True), st.floats(0, 2), st.floats(0, 2)),
       layers=st.one_of(st.none(), st.lists(st.integers(-1, 3), max_size=3), WRONG, st.lists(st.integers(0, 1), max_size=2)))
@example(r=0.8, layers=None)
@example(r=1.5, layers=[0, 1])
@example(r=[np.array([0.5, 1.0, 0.2]), 0.7], layers=[0, 1])
def test_spikes(r, layers):
    """Accepted spike sizes and layers are the ones simulated: E and Var of both layers
    over 4000 samples lie within 5 SE of exact enumeration of the spike configurations."""
    n = 4000
    x = np.full((1, 3), 0.5)
    for on in ("units", "connections"):
        sp = outcome(lambda: de.Spikes(r, on=on, layers=layers), ("r", "layers"))
        if sp is None:
            continue
        got = outcome(lambda: de.sample(NET32, x, sp, n, seed=1), ("r", "layers"))
        rmax = _largest(r)
        if got is None or rmax >= 1e6:  # (huge spikes may overflow S: IEEE)
            continue
        E, var = exact_spikes(NET32, x[0], sp)
        atol = 1e-6 * (1 + rmax)  # float32 sums of spikes of size up to rmax
        for h in range(2):
            se = np.sqrt(var[h] / n)
            assert np.all(np.abs(got.E[h][0] - E[h]) <= Z * se + atol), (on, h, got.E[h][0], E[h], se)
            assert np.all(np.abs(got.var[h][0] - var[h]) <= Z * se + var[h] / n + atol), (on, h, got.var[h][0], var[h])
