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
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

import dropengine as de
from dropengine import exact

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


@given(keep=st.one_of(FUZZ, near_valid(st.sampled_from([(), (3,), (4,), (2, 3)]), lo=-0.5, hi=1.5),
                      st.floats(allow_nan=True)))
def test_keep(keep):
    for on in ("units", "connections"):
        gate = outcome(lambda: de.Dropout(keep, on=on), "keep")
        if gate is None:
            continue
        st_ = outcome(lambda: de.sample(NET, X, gate, 32, seed=2), "keep")
        if st_ is not None:
            assert st_.E[1].shape == (2, 2)
            assert np.all((st_.E[1] >= 0) & (st_.E[1] <= 1))


@given(rate=st.one_of(FUZZ, st.floats(allow_nan=True)))
def test_dropin_rate(rate):
    gate = outcome(lambda: de.Dropin(rate), "rate")
    if gate is not None:
        outcome(lambda: de.sample(NET, X, gate, 16, seed=3), "rate")


# Valid counts stay small (a valid 10^12-sample request would just run for hours); the
# huge ones are all above the documented limits and must be refused.
@given(value=st.one_of(FUZZ, st.integers(-10, 300), st.integers(2**48 + 1, 10**30), st.floats()))
def test_counts_and_options(value):
    outcome(lambda: de.sample(NET, X, GATE, value, seed=1), "n_samples")
    outcome(lambda: de.sample(NET, X, GATE, 8, seed=value), "seed")
    outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, threads=value), "threads")
    outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, first_sample=value), "first_sample")
    outcome(lambda: de.sample(NET, X, GATE, 8, seed=1, max_record_bytes=value, record=[0]), "max_record_bytes")
    outcome(lambda: exact.enumerate(NET, X, GATE, max_subnetworks=value), "max_subnetworks")


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


@given(b=st.one_of(FUZZ, near_valid(st.sampled_from([(4,), (3,), (0,), (4, 1)]))))
def test_network_biases(b):
    net = outcome(lambda: de.Network([np.ones((4, 3)), np.ones((2, 4))], [b, None]), "biases")
    if net is not None:
        de.forward(net, X)


@given(t=st.one_of(WRONG, st.sampled_from(["logistic", "sigmoid", "", "softmax", "linear"]),
                   st.builds(de.Logistic, c=st.floats(0, 3), lam=st.floats(0.1, 3))))
def test_transfer(t):
    def make():
        return de.Network([np.ones((4, 3)), np.ones((2, 4))], transfer=t)
    outcome(make, "transfer")


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


@given(r=st.one_of(FUZZ, st.floats(allow_nan=True)), layers=st.one_of(st.none(), st.lists(st.integers(-1, 3), max_size=3),
                                                                      WRONG))
def test_spikes(r, layers):
    for on in ("units", "connections"):
        sp = outcome(lambda: de.Spikes(r, on=on, layers=layers), ("r", "layers"))
        if sp is not None:
            got = outcome(lambda: de.sample(NET32, np.full((1, 3), 0.5), sp, 16, seed=1), ("r", "layers"))
            if got is not None and _largest(r) < 1e6:
                assert np.all((got.E[1] >= 0) & (got.E[1] <= 1))  # (huge spikes may overflow S: IEEE)
