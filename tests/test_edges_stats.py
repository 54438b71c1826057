"""Trust at the edges of statistics, sampling and networks (issue 15): files that load
must be safe to use, merges must not count the same samples twice, sizes the core
cannot count are refused, Dask runs do not drown the scheduler in futures, and float32
networks never hold an Inf.

The loader fuzz runs derandomized with DROPENGINE_FUZZ_EXAMPLES examples (80 by
default); bench/fuzz_long.sh runs it long and random.
"""
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dropengine as de
from dropengine import distributed as dd
from dropengine._validation import seed_key
from dropengine.stats import Coverage, OverlapWarning

NET = de.Network.random([3, 4, 2], ["tanh", "logistic"], seed=0, dtype=np.float64)
X = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]])
GATE = de.Dropout(0.5)
PAIRS = [((0, 1), (1, 0))]

_LONG = "DROPENGINE_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(derandomize=not _LONG, max_examples=int(os.environ.get("DROPENGINE_FUZZ_EXAMPLES", 80)),
                deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                      HealthCheck.function_scoped_fixture])


def stats(n=64, seed=1, **kw):
    return de.sample(NET, X, GATE, n, seed=seed, pairs=PAIRS, **kw)


def arrays_of(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def craft(tmp_path, name="x.npz", base=None, drop=(), **changes):
    """A statistics file as `save` writes it, with entries changed or removed."""
    z = arrays_of(base or stats(record=[1]).save(tmp_path / "good.npz"))
    z.update(changes)
    for k in drop:
        z.pop(k)
    np.savez(tmp_path / name, **z)
    return tmp_path / name


# --- 1. SampleStats.load validates what merge and the core rely on -----------------------

SEGFAULT_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import dropengine as de

    net = de.Network.random([3, 4, 2], seed=0)
    st = de.sample(net, np.ones((2, 3)), de.Dropout(0.5), 64, seed=1, pairs=[((0, 0), (1, 1))])
    z = dict(np.load(st.save(sys.argv[1] + "/good.npz")))
    z["pairs"] = np.array([[0, 10**9]], np.int64)
    np.savez(sys.argv[1] + "/bad.npz", **z)
    try:
        bad = de.SampleStats.load(sys.argv[1] + "/bad.npz")
        bad.merge(bad)
        print("merged")
    except ValueError as e:
        print("ValueError:", e)
    # A hand-altered object never reaches the core either.
    st.pairs = np.array([[0, -(2**40)]], np.int64)
    try:
        st.merge(de.sample(net, np.ones((2, 3)), de.Dropout(0.5), 64, seed=2, pairs=[((0, 0), (1, 1))]))
        print("merged")
    except ValueError as e:
        print("ValueError:", e)
""")


def test_merge_of_a_file_with_out_of_range_pairs_is_refused_not_a_crash(tmp_path):
    """The issue's SIGSEGV (pairs naming unit 10^9, then merge), run in a child process so
    that a crash cannot take pytest down."""
    r = subprocess.run([sys.executable, "-c", SEGFAULT_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)  # not the source folder: no compiled module there
    assert r.returncode == 0, f"exit {r.returncode} (-11 is SIGSEGV): {r.stderr[-2000:]}"
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("ValueError:") and "pairs" in line for line in lines), r.stdout


BAD_ENTRIES = {
    "pair beyond the units": (dict(pairs=np.array([[0, 6]])), "pairs"),
    "negative pair": (dict(pairs=np.array([[-1, 0]])), "pairs"),
    "float pairs": (dict(pairs=np.array([[0.0, 1.0]])), "pairs"),
    "pairs of 3": (dict(pairs=np.array([[0, 1, 2]])), "pairs"),
    "negative count": (dict(acc_count=np.array([-64.0, -64.0])), "count"),
    "NaN count": (dict(acc_count=np.array([np.nan, 64.0])), "count"),
    "zero count": (dict(acc_count=np.array([0.0, 0.0])), "count"),
    "fractional count": (dict(acc_count=np.array([63.5, 63.5])), "count"),
    "counts differ per input": (dict(acc_count=np.array([64.0, 32.0])), "count"),
    "softmax list too short": (dict(softmax_layers=np.array([False])), "softmax_layers"),
    "softmax list of ints": (dict(softmax_layers=np.array([0, 1])), "softmax_layers"),
    "record of the wrong shape": (dict(record_1=np.zeros((2, 63, 2))), "records"),
    "record of a missing layer": (dict(record_7=np.zeros((2, 64, 2))), "record"),
    "provenance of another count": (dict(provenance=np.array([[1, 2, 0, 2, 0, 65]])), "provenance"),
    "provenance of other inputs": (dict(provenance=np.array([[1, 2, 0, 3, 0, 64]])), "provenance"),
    "provenance beyond 2^48": (dict(provenance=np.array([[1, 2, 0, 2, 2**48, 2**48 + 64]])), "provenance"),
    "provenance of floats": (dict(provenance=np.array([[1.0, 2, 0, 2, 0, 64]])), "provenance"),
    "exact without subnetworks": (dict(exact=np.array(True), acc_count=np.array([1.0, 1.0]),
                                       n_subnetworks=np.array(0)), "n_subnetworks"),
    "sampled with subnetworks": (dict(n_subnetworks=np.array(5)), "n_subnetworks"),
    "extra entry": (dict(junk=np.zeros(3)), "junk"),
    "complex mean": (dict(acc_mean=np.zeros((2, 6), complex)), "acc_mean"),
    "0-d layer sizes": (dict(layer_sizes=np.array(6)), "layer_sizes"),
    "zero-size layer": (dict(layer_sizes=np.array([6, 0])), "layer_sizes"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_load_refuses_each_bad_entry_naming_it(tmp_path, case):
    changes, match = BAD_ENTRIES[case]
    path = craft(tmp_path, **changes)
    with pytest.raises(ValueError, match=match):
        de.SampleStats.load(path)


@pytest.mark.parametrize("key", ["pairs", "acc_count", "acc_comoment", "layer_sizes", "softmax_layers"])
def test_load_refuses_a_missing_entry(tmp_path, key):
    with pytest.raises(ValueError, match=f"missing entries.*{key}"):
        de.SampleStats.load(craft(tmp_path, drop=[key]))


def test_statistics_built_by_hand_are_checked():
    good = stats()
    acc = dict(good._acc)
    with pytest.raises(ValueError, match="pairs"):
        de.SampleStats(acc, good.layer_sizes, [[0, 99]])
    with pytest.raises(ValueError, match="softmax_layers"):
        de.SampleStats(acc, good.layer_sizes, good.pairs, softmax_layers=[True])
    bad = stats()
    bad._acc["count"] = -bad._acc["count"]
    with pytest.raises(ValueError, match="self: count"):
        bad.merge(stats(seed=2))
    with pytest.raises(ValueError, match="other: count"):
        stats(seed=2).merge(bad)


# --- 2. merges know what they merge -----------------------------------------------------

def test_merging_the_same_samples_twice_is_refused():
    a = stats(100)
    with pytest.raises(ValueError, match="other: .*overlap.*counted|other: .*count them twice"):
        a.merge(a)
    with pytest.raises(ValueError, match="twice"):
        a.merge(stats(100, first_sample=50))  # samples 50..99 in both
    with pytest.raises(ValueError, match="twice"):
        stats(64, first_sample=64).merge(stats(200))  # the later range inside the earlier


def test_allow_overlap_merges_with_a_warning():
    a = stats(100)
    with pytest.warns(OverlapWarning, match="twice"):
        m = a.merge(a, allow_overlap=True)
    assert m.n_samples == 200
    np.testing.assert_allclose(m.E[1], a.E[1], rtol=1e-12)
    # the very flaw the refusal guards against: standard errors about sqrt(2) too small
    np.testing.assert_allclose(m.sem[1], a.sem[1] * np.sqrt(99 / 199), rtol=1e-10)
    with pytest.raises(TypeError, match="allow_overlap"):
        a.merge(a, allow_overlap="yes")


def test_disjoint_ranges_merge_and_keep_their_union():
    key = seed_key(1)[:2]
    a, b, c = stats(100), stats(100, first_sample=100), stats(64, first_sample=1000)
    ab = a.merge(b)
    assert ab.provenance == (Coverage(key, (0, 2), (0, 200)),)
    abc = c.merge(ab)  # no longer one range: both kept
    assert abc.provenance == (Coverage(key, (0, 2), (0, 200)), Coverage(key, (0, 2), (1000, 1064)))
    assert abc.n_samples == 264
    with pytest.raises(ValueError, match="twice"):
        abc.merge(stats(10, first_sample=1050))
    filled = abc.merge(stats(800, first_sample=200))
    assert filled.provenance == (Coverage(key, (0, 2), (0, 1064)),)
    whole = stats(1064)
    np.testing.assert_allclose(filled.E[0], whole.E[0], rtol=1e-12)
    np.testing.assert_allclose(filled.cov, whole.cov, rtol=1e-10, atol=1e-15)


def test_other_seeds_and_other_inputs_merge_freely():
    a = stats(100, seed=1)
    m = a.merge(stats(100, seed=2))
    assert m.n_samples == 200 and len(m.provenance) == 2
    shifted = stats(100, seed=1, first_input=2)  # other global inputs: other draws
    assert a.merge(shifted).n_samples == 200


def test_provenance_round_trips_and_old_files_still_merge(tmp_path):
    a = stats(100, first_sample=7, first_input=3, record=[0])
    back = de.SampleStats.load(a.save(tmp_path / "a.npz"))
    assert back.provenance == a.provenance == (Coverage(seed_key(1)[:2], (3, 5), (7, 107)),)
    np.testing.assert_array_equal(back.records[0], a.records[0])
    with pytest.raises(ValueError, match="twice"):
        back.merge(a)
    # A file written before provenance was recorded: unknown, so merged as before.
    old = de.SampleStats.load(craft(tmp_path, base=tmp_path / "a.npz", drop=["provenance", "record_0"]))
    assert old.provenance is None
    m = old.merge(old)
    assert m.provenance is None and m.n_samples == 200


def test_distributed_result_carries_the_whole_range():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        got = dd.sample(NET, X, GATE, 640, seed=1, client=client, chunk_samples=128, chunk_inputs=1, pairs=PAIRS)
    assert got.provenance == (Coverage(seed_key(1)[:2], (0, 2), (0, 640)),)
    np.testing.assert_allclose(got.E[1], stats(640).E[1], rtol=1e-12)
    with pytest.raises(ValueError, match="twice"):
        got.merge(stats(64, first_sample=600))
    assert got.merge(stats(64, first_sample=640)).n_samples == 704


# --- 3. sizes the core cannot count -----------------------------------------------------

def test_inputs_times_samples_beyond_the_core_is_refused():
    net = de.Network.random([1, 1], seed=0)
    X = np.zeros((2**21, 1), np.float32)
    with pytest.raises(ValueError, match="n_samples"):
        de.sample(net, X, de.Dropout(0.5), 2**48, seed=0)
    with pytest.raises(ValueError, match="n_samples"):
        de.sample(net, X[: 2**15], de.Dropout(0.5), 2**48 - 5, first_sample=5, seed=0)


# --- 4. Dask task counts ----------------------------------------------------------------

class _NoSubmitClient:
    """Stands in for a Client: any submission means the run was not refused up front."""

    def scheduler_info(self):
        return {"workers": {"a": {}, "b": {}}}

    def submit(self, *a, **k):
        raise AssertionError("submitted")

    def scatter(self, *a, **k):
        raise AssertionError("submitted")


def test_dask_task_count_is_refused_before_submitting():
    with pytest.raises(MemoryError, match="chunk_samples.*max_tasks"):
        dd.sample(NET, X, GATE, 10**9, seed=1, client=_NoSubmitClient(), chunk_samples=64)
    with pytest.raises(MemoryError, match="chunk_inputs"):
        dd.sample(NET, np.zeros((10**6, 3)), GATE, 1024, seed=1, client=_NoSubmitClient(), chunk_samples=1024,
                  chunk_inputs=1)
    with pytest.raises(AssertionError, match="submitted"):  # under a raised limit, it goes ahead
        dd.sample(NET, X, GATE, 64 * 1000, seed=1, client=_NoSubmitClient(), chunk_samples=64, max_tasks=1000)
    assert dd.DEFAULT_MAX_TASKS == 100_000


# --- 5. float32 networks hold no Inf ---------------------------------------------------

@pytest.mark.parametrize("where", ["weight", "bias"])
def test_float32_network_refuses_values_that_cast_to_inf(tmp_path, where):
    W, b = np.array([[1.0, 2.0]]), np.array([0.5])
    (W if where == "weight" else b)[0] = 1e39
    name = r"weights\[0\]" if where == "weight" else r"biases\[0\]"
    with pytest.raises(ValueError, match=name + r".*layer 0.*float32"):
        de.Network([W], [b], dtype=np.float32)
    with pytest.raises(ValueError, match=name + r".*layer 0.*float32"):
        de.Network([W.astype(np.float32)] if where == "bias" else [W], [b], dtype=np.float32)
    net = de.Network([W], [b], dtype=np.float64)  # fits float64: kept
    assert de.Network.load(net.save(tmp_path / "n.npz")).weights[0][0, 0] == W[0, 0]


# --- 6. loader fuzz ----------------------------------------------------------------------

ALLOWED = (ValueError, TypeError)
REPLACEMENTS = st.one_of(
    st.sampled_from([np.array(3), np.array(2**62), np.array(-1), np.array(np.nan), np.array("x"), np.array(b"x"),
                     np.array(True), np.zeros(0), np.zeros((0, 2)), np.array([np.inf, -np.inf]),
                     np.array([[2**62, 0]]), np.array([[0, 2**40]], np.uint64), np.array([1 + 2j])]),
    st.builds(lambda n, v: np.full(n, v), st.integers(0, 5), st.sampled_from([0, 1, -1, 0.5, np.nan, 2**31])),
)


STATS_KEYS = ["format", "layer_sizes", "pairs", "softmax_layers", "exact", "n_subnetworks", "provenance",
              "record_1", "acc_count", "acc_mean", "acc_m2", "acc_slog", "acc_slogc", "acc_mean_S", "acc_m2_S",
              "acc_mean_dO", "acc_comoment"]
NET_KEYS = ["format", "n_layers", "transfers", "W0", "W1", "b0", "b1"]


@st.composite
def mutations(draw, keys):
    """A list of (kind, key, arg, replacement) edits of an .npz's entries."""
    kinds = st.sampled_from(["drop", "extra", "replace", "dtype", "truncate", "extend", "nan", "huge", "0d",
                             "transpose", "format", "widen"])
    return draw(st.lists(st.tuples(kinds, st.sampled_from(keys), st.integers(0, 2**16), REPLACEMENTS),
                         min_size=1, max_size=3))


def apply(z: dict, edits) -> dict:
    with warnings.catch_warnings():  # the edits overflow casts on purpose
        warnings.simplefilter("ignore")
        return _apply(dict(z), edits)


def _apply(z: dict, edits) -> dict:
    for kind, key, k, new in edits:
        if kind == "extra":
            z[f"extra{k % 3}"] = new
            continue
        if kind == "format":
            z["format"] = np.array(["dropengine.Network/1", "dropengine.SampleStats/1", "", "x"][k % 4])
            continue
        if key not in z:
            continue
        a = z[key]
        if kind == "drop":
            del z[key]
        elif kind == "replace":
            z[key] = new
        elif kind == "dtype":
            to = [np.int8, np.uint64, np.float16, np.float32, np.bool_, np.complex64, "U3"][k % 7]
            try:
                z[key] = a.astype(to)
            except (ValueError, TypeError, OverflowError):  # e.g. the format tag as int8
                z[key] = new
        elif kind == "truncate":
            z[key] = a.reshape(-1)[: k % (a.size + 1)]
        elif kind == "extend":
            z[key] = np.concatenate([a.reshape(-1), a.reshape(-1)[:1], np.zeros(k % 3, a.dtype)])
        elif kind == "nan" and a.dtype.kind == "f" and a.size:
            a = a.copy()
            a.reshape(-1)[k % a.size] = [np.nan, np.inf, -np.inf, 1e300][k % 4]
            z[key] = a
        elif kind == "widen" and a.dtype.kind in "iuf" and a.size:  # beyond float32 in a float64 entry
            a = a.astype(np.float64)
            a.reshape(-1)[k % a.size] = [1e39, -1e39, 1e300, 3e38][k % 4]
            z[key] = a
        elif kind == "huge" and a.dtype.kind in "iu" and a.size:
            a = a.astype(np.int64)
            a.reshape(-1)[k % a.size] = [2**62, -(2**62), 2**31, -1][k % 4]
            z[key] = a
        elif kind == "0d" and a.size:
            z[key] = a.reshape(-1)[0]
        elif kind == "transpose" and a.ndim >= 2:
            z[key] = a.T
    return z


def _write(z: dict, where: str) -> Path:
    path = Path(where) / "f.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.savez(path, **z)
    return path


STATS_FILES = {}


def _stats_file(kind: str) -> dict:
    """Valid files to corrupt: sampled (pairs, provenance, records), exact, and old (no provenance)."""
    if kind not in STATS_FILES:
        with tempfile.TemporaryDirectory() as d:
            if kind == "sampled":
                s = stats(64, record=[1])
            elif kind == "exact":  # the layout exact.enumerate writes: probabilities summing to 1
                s = stats(64)
                s = de.SampleStats(dict(s._acc, count=np.ones(2)), s.layer_sizes, s.pairs, exact=True,
                                   n_subnetworks=64)
            else:
                s = stats(64)
            z = arrays_of(s.save(Path(d) / "s.npz"))
            if kind == "old":
                z.pop("provenance")
            STATS_FILES[kind] = z
    return STATS_FILES[kind]


def _use_stats(s: de.SampleStats, mean_was_finite: bool):
    """What a user does with loaded statistics: only documented errors, or sound numbers."""
    n = s.count
    assert np.isfinite(n).all() and (n > 0).all()
    for name in ("E", "var", "sem", "E_S", "var_S", "E_dsigma", "log_G", "log_Gc"):
        got = getattr(s, name)
        assert [g.shape for g in got] == [(s.n_inputs, m) for m in s.layer_sizes], name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(s.nwgm) == len(s.layer_sizes)
    assert s.cov.shape == (s.n_inputs, len(s.pairs)) and s.E_prod.shape == s.cov.shape
    if mean_was_finite:
        assert all(np.isfinite(e).all() for e in s.E)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        try:
            m = s.merge(s, allow_overlap=True)
        except ValueError as exc:  # exact statistics of a whole enumeration: probability 2 is refused
            assert s.exact and "probability" in str(exc)
        else:
            np.testing.assert_allclose(m.count, 2 * s.count, rtol=1e-12)
    if s.n_inputs:
        fresh = de.sample(NET, X[: s.n_inputs] if s.n_inputs <= 2 else np.zeros((s.n_inputs, 3)), GATE, 64,
                          seed=99, pairs=PAIRS)
        try:
            m = s.merge(fresh)
        except ValueError as exc:
            assert str(exc).startswith("other:"), exc
        else:
            np.testing.assert_allclose(m.count, s.count + 64, rtol=1e-12)


@FUZZ
@given(kind=st.sampled_from(["sampled", "exact", "old"]), edits=mutations(STATS_KEYS))
@example(kind="sampled", edits=[("replace", "pairs", 0, np.array([[0, 2**40]], np.uint64))])  # the SIGSEGV
def test_fuzz_sample_stats_load(kind, edits):
    z = _stats_file(kind)
    bad = apply(z, edits)
    with tempfile.TemporaryDirectory() as d:
        path = _write(bad, d)
        try:
            s = de.SampleStats.load(path)
        except ALLOWED as exc:
            assert "path" in str(exc), exc
            return
        mean = bad.get("acc_mean")
        _use_stats(s, mean is not None and mean.dtype.kind == "f" and np.isfinite(mean).all())
        try:
            again = de.SampleStats.load(s.save(Path(d) / "again.npz"))  # what loads, saves and reloads
        except ALLOWED as exc:
            raise AssertionError(f"a loaded file does not survive save and load: {exc}") from None
        assert again.provenance == s.provenance and again.n_samples == s.n_samples


NET_FILES = {}


def _net_file(kind: str) -> dict:
    if kind not in NET_FILES:
        net = {"f32": de.Network.random([3, 4, 2], ["relu", "softmax"], seed=1),
               "f64-nobias": de.Network.random([3, 2], "tanh", seed=2, bias=False, dtype=np.float64)}[kind]
        with tempfile.TemporaryDirectory() as d:
            NET_FILES[kind] = arrays_of(net.save(Path(d) / "n.npz"))
    return NET_FILES[kind]


@FUZZ
@given(kind=st.sampled_from(["f32", "f64-nobias"]), edits=mutations(NET_KEYS))
@example(kind="f32", edits=[("widen", "b1", 0, np.array(3))])  # a float64 bias of 1e39 in a float32 network
def test_fuzz_network_load(kind, edits):
    z = _net_file(kind)
    with tempfile.TemporaryDirectory() as d:
        try:
            net = de.Network.load(_write(apply(z, edits), d))
        except ALLOWED as exc:
            assert "path" in str(exc), exc
            return
        assert all(np.isfinite(w).all() for w in net.weights)
        assert all(b is None or np.isfinite(b).all() for b in net.biases)
        Xn = np.linspace(-1, 1, 2 * net.n_in).reshape(2, net.n_in)
        for s in range(10):
            got = de.sample(net, Xn, de.Dropout(0.5), 10, seed=s)
            assert got.n_samples == 10 and [e.shape for e in got.E] == [(2, n) for n in net.sizes[1:]]
        back = de.Network.load(net.save(Path(d) / "again.npz"))
        assert all(np.array_equal(a, b) for a, b in zip(back.weights, net.weights))
