"""Trainer at the edges (issue 15): damaged checkpoints, schedules that cannot be stored,
divergence, two threads on one trainer, Ctrl-C in the bookkeeping, loader fuzz."""
import json
import signal
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dropengine as de
from dropengine import _engine

KEYS = ("W0", "vW0", "b0", "vb0", "W1", "vW1", "b1", "vb1")


def small_task(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6)), rng.integers(0, 3, n)


def small_trainer(**kw):
    net = de.Network.random([6, 5, 3], ["logistic", "softmax"], seed=0, dtype=np.float64)
    opts = dict(learning_rate=0.3, momentum=0.5, batch_size=16, seed=4)
    opts.update(kw)
    return de.Trainer(net, de.Dropout([0.8, 0.5]), **opts)


@pytest.fixture
def ckpt(tmp_path):
    """A checkpoint one and a half epochs in, with nonzero velocities."""
    X, y = small_task()
    tr = small_trainer()
    tr.fit(X, y, 1, X_test=X, y_test=y)
    tr.run_batches(X, y, 2)
    return tr.save(tmp_path / "good.npz")


def rewrite(path, out, **changes):
    z = dict(np.load(path))
    for k, v in changes.items():
        if v is None:
            del z[k]
        else:
            z[k] = v
    np.savez(out, **z)
    return out


# ---- 1. every array of a checkpoint is checked on load -------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_truncated_array_is_refused_naming_it(ckpt, tmp_path, key):
    """Truncated to one value, an array was accepted and the core read past its end."""
    z = np.load(ckpt)
    bad = rewrite(ckpt, tmp_path / "bad.npz", **{key: z[key].reshape(-1)[:1].copy()})
    with pytest.raises(ValueError, match=f"'{key}'"):
        de.Trainer.load(bad)


@pytest.mark.parametrize("change,match", [
    (dict(vW0=lambda a: np.where(a == a.flat[0], np.nan, a)), "'vW0' must be finite"),
    (dict(vb1=lambda a: a.astype(np.float32)), "'vb1' must have dtype float64"),
    (dict(W1=lambda a: a.T.copy()), "'W1' must have shape"),
    (dict(position=lambda a: np.array([1.0, 2.0, 3.0])), "position"),
    (dict(position=lambda a: np.array([5, 0, 2])), "position"),
    (dict(has_bias=lambda a: a.astype(np.int64)), "has_bias"),
])
def test_bad_arrays_are_refused_naming_them(ckpt, tmp_path, change, match):
    z = np.load(ckpt)
    bad = rewrite(ckpt, tmp_path / "bad.npz", **{k: f(z[k]) for k, f in change.items()})
    with pytest.raises(ValueError, match=match):
        de.Trainer.load(bad)


@pytest.mark.parametrize("key,value,match", [
    ("key", [1, 2, 3], "key"),
    ("key", [2**32, 0], "key"),
    ("partial_epoch", {"loss": 1.0}, "partial_epoch"),
    ("gate", {"kind": "spikes"}, "gate"),
])
def test_bad_settings_are_refused_naming_them(ckpt, tmp_path, key, value, match):
    z = np.load(ckpt)
    s = json.loads(str(z["settings"]))
    s[key] = value
    bad = rewrite(ckpt, tmp_path / "bad.npz", settings=np.array(json.dumps(s)))
    with pytest.raises(ValueError, match=match):
        de.Trainer.load(bad)


def test_load_builds_the_core_once(ckpt, monkeypatch):
    built = []

    make = _engine.trainer

    def counting(*args, **kwargs):
        built.append(1)
        return make(*args, **kwargs)

    monkeypatch.setattr(_engine, "trainer", counting)
    back = de.Trainer.load(ckpt)
    assert len(built) == 1
    assert back.position == (1, 2, 6)


def test_format_is_versioned_and_the_old_one_still_loads(ckpt, tmp_path):
    """The 'callable' schedule entry came with format /2; files in /1 still load."""
    assert str(np.load(ckpt)["format"]) == "dropengine.Trainer/2"
    old = rewrite(ckpt, tmp_path / "old.npz", format=np.array("dropengine.Trainer/1"))
    a, b = de.Trainer.load(ckpt), de.Trainer.load(old)
    X, y = small_task()
    a.fit(X, y, 3)
    b.fit(X, y, 3)
    for u, v in zip(a.network.weights, b.network.weights):
        np.testing.assert_array_equal(u, v)


# ---- 2. a callable schedule is required again ---------------------------------------
def test_callable_schedule_must_be_passed_again(tmp_path):
    X, y = small_task()
    halve = lambda e: 0.5 ** e  # noqa: E731
    tr = small_trainer(schedule=halve)
    tr.fit(X, y, 2, checkpoint=tmp_path / "c.npz")
    assert json.loads(str(np.load(tmp_path / "c.npz")["settings"]))["schedule"] == "callable"
    with pytest.raises(ValueError, match="schedule"):
        de.Trainer.load(tmp_path / "c.npz")
    back = de.Trainer.load(tmp_path / "c.npz", schedule=halve)
    assert back.learning_rate_at(2) == pytest.approx(0.3 / 4)
    back.fit(X, y, 3)
    tr.fit(X, y, 3)
    assert back.history["learning_rate"] == tr.history["learning_rate"]
    for u, v in zip(tr.network.weights, back.network.weights):
        np.testing.assert_array_equal(u, v)


# ---- 3. settings are plain Python values from the start -----------------------------
def test_numpy_schedule_parameters_are_stored(tmp_path):
    X, y = small_task()
    tr = small_trainer(schedule=("exponential", np.float32(0.5), np.int64(1)), momentum=np.float32(0.5),
                       seed=np.int64(4))
    tr.fit(X, y, 2, checkpoint=tmp_path / "c.npz")
    assert tr.schedule == ("exponential", 0.5, 1) and type(tr.schedule[1]) is float
    back = de.Trainer.load(tmp_path / "c.npz")
    assert back.schedule == tr.schedule and back.seed == 4 and type(back.seed) is int
    assert [back.learning_rate_at(e) for e in range(4)] == [tr.learning_rate_at(e) for e in range(4)]


def test_unstorable_schedule_fails_at_construction(tmp_path):
    from fractions import Fraction
    tr = small_trainer(schedule=("inverse", Fraction(1, 2)))  # a Real: kept as the float 0.5
    assert tr.schedule == ("inverse", 0.5) and type(tr.schedule[1]) is float
    assert de.Trainer.load(tr.save(tmp_path / "c.npz")).schedule == ("inverse", 0.5)
    with pytest.raises(TypeError, match="schedule"):
        small_trainer(schedule=("inverse", "2"))
    with pytest.raises(ValueError, match="tau"):
        small_trainer(schedule=("inverse", np.float64(np.inf)))


# ---- 4. divergence stops fit ----------------------------------------------------------
def diverging(schedule):
    rng = np.random.default_rng(0)
    X, T = rng.random((64, 4)), rng.random((64, 2))
    net = de.Network.random([4, 3, 2], "linear", seed=0, dtype=np.float64)
    return de.Trainer(net, None, loss="squared", learning_rate=0.01, batch_size=8, seed=0, schedule=schedule), X, T


def first_bad_minibatch(schedule):
    """The oracle: step the core one minibatch at a time and look."""
    tr, X, T = diverging(schedule)
    while True:
        e, b, _ = tr._core.position()
        pr = tr._core.run(X, None, T, tr.learning_rate_at(e), 1)
        finite = all(np.isfinite(a).all() for a in tr._core.get_layer(0) + tr._core.get_layer(1))
        if not (finite and np.isfinite(pr["loss_sum"])):
            return e, b


def test_divergence_stops_fit_with_the_last_good_state(tmp_path):
    jump = lambda e: 1.0 if e < 2 else 5000.0  # noqa: E731  (learning rate 50 from epoch 2)
    tr, X, T = diverging(jump)
    path = tmp_path / "c.npz"
    with pytest.raises(de.training.TrainingDiverged, match="epoch 2, minibatch") as info:
        tr.fit(X, T, 10, checkpoint=path)
    assert isinstance(info.value, FloatingPointError)
    assert (info.value.epoch, info.value.minibatch) == first_bad_minibatch(jump)
    assert tr.position[:2] == (info.value.epoch, info.value.minibatch)
    assert all(np.isfinite(w).all() for w in tr.network.weights + tr.network.biases)
    assert len(tr.history["epoch"]) == 2
    back = de.Trainer.load(path, schedule=jump)  # the last good checkpoint: end of epoch 2
    assert back.position == (2, 0, 16) and back.history["epoch"] == [1, 2]
    # the state left is the one before the bad minibatch: the same step fails again
    with pytest.raises(de.training.TrainingDiverged) as again:
        tr.run_batches(X, T, 1)
    assert (again.value.epoch, again.value.minibatch) == (info.value.epoch, info.value.minibatch)


# ---- 5. one thread at a time ----------------------------------------------------------
def test_second_thread_is_refused_while_fit_runs():
    rng = np.random.default_rng(0)
    X, y = rng.random((2000, 50)), rng.integers(0, 4, 2000)
    net = de.Network.random([50, 60, 4], ["logistic", "softmax"], seed=0, dtype=np.float64)
    tr = de.Trainer(net, de.Dropout(0.5), batch_size=20, seed=1, threads=1)
    inside, done, errors = threading.Event(), threading.Event(), []

    def progress(row):  # runs inside fit, holding the trainer
        inside.set()
        done.wait(60)

    def fitting():
        try:
            tr.fit(X, y, 2, progress=progress)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
            inside.set()

    th = threading.Thread(target=fitting)
    th.start()
    try:
        assert inside.wait(60)
        calls = {"predict": lambda: tr.predict(X[:5]), "fit": lambda: tr.fit(X, y, 3),
                 "gradient": lambda: tr.gradient(X[:5], y[:5]), "save": lambda: tr.save("unused.npz"),
                 "run_batches": lambda: tr.run_batches(X, y, 1), "error": lambda: tr.error(X, y),
                 "network": lambda: tr.network, "position": lambda: tr.position}
        for name, call in calls.items():
            with pytest.raises(RuntimeError, match="in use by another thread"):
                call()
    finally:
        done.set()
        th.join(120)
    assert not errors and tr.epoch == 2
    tr.predict(X[:5])  # free again


# ---- 6. Ctrl-C during the end-of-epoch bookkeeping ------------------------------------
class _Tripwire(dict):
    """A progress dict from the core that sends SIGINT when the bookkeeping reads it: an
    interrupt landing after the core's last poll."""

    def __getitem__(self, k):
        if k == "loss_sum" and self["epoch_done"]:
            signal.raise_signal(signal.SIGINT)
        return dict.__getitem__(self, k)


class _CoreProxy:
    def __init__(self, core):
        self._c = core

    def __getattr__(self, name):
        return getattr(self._c, name)

    def run(self, *args):
        return _Tripwire(self._c.run(*args))


def test_interrupt_during_bookkeeping_keeps_the_epoch(tmp_path):
    X, y = small_task()
    tr = small_trainer()
    tr.fit(X, y, 1)
    tr._core = _CoreProxy(tr._core)
    path = tmp_path / "c.npz"
    with pytest.raises(KeyboardInterrupt):
        tr.fit(X, y, 5, X_test=X, y_test=y, checkpoint=path)
    assert tr.position == (2, 0, 8)
    assert tr.history["epoch"] == [1, 2] and np.isfinite(tr.history["test_error"][1])
    back = de.Trainer.load(path)
    assert back.position == (2, 0, 8) and back.history["train_loss"] == tr.history["train_loss"]


def test_interrupt_during_test_evaluation_keeps_the_test_error(tmp_path, monkeypatch):
    X, y = small_task()
    tr = small_trainer()
    real = tr._error

    def evaluate(*a):
        signal.raise_signal(signal.SIGINT)
        return real(*a)

    monkeypatch.setattr(tr, "_error", evaluate)
    with pytest.raises(KeyboardInterrupt):
        tr.fit(X, y, 3, X_test=X, y_test=y, checkpoint=tmp_path / "c.npz")
    assert tr.history["epoch"] == [1] and np.isfinite(tr.history["test_error"][0])
    assert de.Trainer.load(tmp_path / "c.npz").history["test_error"] == tr.history["test_error"]


# ---- 8. loader fuzz ---------------------------------------------------------------------
def _mutations():
    array_keys = st.sampled_from(KEYS + ("position", "transfers", "has_bias"))
    values = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e300, 1e30, 0.0, 2**40, -1])
    dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.bool_, np.complex128, np.uint64])
    setting_keys = st.sampled_from(["loss", "batch_size", "learning_rate", "schedule", "momentum", "weight_decay",
                                    "max_norm", "backward", "gate", "partial_epoch", "seed", "key", "dtype"])
    json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) |
                               st.floats(allow_nan=True) | st.text(max_size=5),
                               lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                               max_leaves=6)
    return st.one_of(
        st.tuples(st.just("truncate"), array_keys, st.integers(0, 5)),
        st.tuples(st.just("flatten"), array_keys, st.none()),
        st.tuples(st.just("dtype"), array_keys, dtypes),
        st.tuples(st.just("value"), array_keys, values),
        st.tuples(st.just("delete"), st.sampled_from(KEYS + ("position", "transfers", "has_bias", "settings",
                                                             "history", "format")), st.none()),
        st.tuples(st.just("extra"), st.sampled_from(["W2", "junk", "vW9"]), st.none()),
        st.tuples(st.just("setting"), setting_keys, json_values),
        st.tuples(st.just("drop_setting"), setting_keys, st.none()),
        st.tuples(st.just("settings_text"), st.sampled_from(["settings", "history"]),
                  st.sampled_from(["", "{", "[" * 5000, "null", "1e999", '{"a": NaN}', "\u00ff"])),
        st.tuples(st.just("history"), st.sampled_from(["epoch", "test_error", "measurements"]), json_values),
    )


def _apply(z, mutation):
    kind, key, arg = mutation
    if kind == "truncate":
        z[key] = z[key].reshape(-1)[:arg].copy()
    elif kind == "flatten":
        z[key] = z[key].reshape(-1).copy()
    elif kind == "dtype":
        z[key] = z[key].astype(arg)
    elif kind == "value":
        if z[key].size == 0:
            return
        a = z[key].astype(np.result_type(z[key].dtype, type(arg)) if z[key].dtype.kind != "b" else np.float64)
        a.reshape(-1)[0] = arg
        z[key] = a
    elif kind == "delete":
        z.pop(key)
    elif kind == "extra":
        z[key] = np.ones(3)
    elif kind in ("setting", "drop_setting", "history"):
        name = "history" if kind == "history" else "settings"
        try:
            s = json.loads(str(z[name]))
        except (ValueError, RecursionError):
            return  # an earlier mutation already broke it
        if not isinstance(s, dict):
            return
        if kind == "drop_setting":
            s.pop(key, None)
        else:
            s[key] = arg
        z[name] = np.array(json.dumps(s))
    elif kind == "settings_text":
        z[key] = np.array(arg)


@settings(derandomize=True, max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations=st.lists(_mutations(), min_size=1, max_size=3))
def test_fuzzed_checkpoints_give_documented_errors_only(ckpt, tmp_path, mutations):
    z = dict(np.load(ckpt))
    for m in mutations:
        target = {"setting": "settings", "drop_setting": "settings", "history": "history"}.get(m[0], m[1])
        if target in z or m[0] == "extra":
            _apply(z, m)
    bad = tmp_path / "fuzz.npz"
    np.savez(bad, **z)
    try:
        tr = de.Trainer.load(bad, schedule=(lambda e: 1.0) if "callable" in str(z.get("settings", "")) else None)
    except (ValueError, TypeError):
        return
    X, y = small_task()
    try:
        pr = tr.run_batches(X, y, 1)
    except (ValueError, TypeError, de.training.TrainingDiverged):
        return  # e.g. a position past the end of X's epoch, or weights that overflow: named errors
    assert np.isfinite(pr["loss_sum"])
    assert all(np.isfinite(w).all() for w in tr.network.weights)
