"""Issue 15, the edges of the PyTorch conversion, the command line and the file writer:
a conversion that cannot be represented is refused, a state_dict keeps its layer order,
old PyTorch loaders are refused, and the command never answers with a traceback, a late
failure or an unreadable-mode file, whatever files it is given."""
import contextlib
import io
import os
import stat
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dropengine as de
from dropengine import _io
from dropengine.cli import main
from dropengine.torch import from_torch  # imports torch only when called

try:
    import torch
    nn = torch.nn
except ImportError:  # the torch cases skip themselves below
    torch = nn = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch")


def _run(argv):
    """(status, stdout, stderr) of the command run in-process; any exception escapes."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def _one_line_error(err, command):
    err = err.strip()
    return err.startswith(f"dropengine {command}: error:") and "\n" not in err and "Traceback" not in err


# --- 1. dropout on a layer's sums ------------------------------------------------------

def _pre_activation_model(act, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5), act, nn.Linear(4, 2), nn.Sigmoid()).double()


@needs_torch
@pytest.mark.parametrize("act", ["Sigmoid", "Tanh", "Softplus", "Softmax"])
def test_dropout_on_sums_before_a_non_homogeneous_activation_is_refused(act):
    """Dropout between a Linear and a Sigmoid drops terms of f(S/q), which no gate on the
    next layer's inputs reproduces (sampled means were off by 0.11 against train mode)."""
    module = getattr(nn, act)(dim=-1) if act == "Softmax" else getattr(nn, act)()
    with pytest.raises(ValueError, match=rf"model\[1\].*Dropout.*{act}.*sums"):
        from_torch(_pre_activation_model(module))
    # a named Sequential: the error names the module, not only its index
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(3, 3)), ("drop", nn.Dropout(0.2)),
                                       ("act", getattr(nn, act)(dim=-1) if act == "Softmax" else getattr(nn, act)()),
                                       ("out", nn.Linear(3, 1))]))
    with pytest.raises(ValueError, match=r"model\[1\] \('drop'\)"):
        from_torch(named)


@needs_torch
@pytest.mark.parametrize("act", ["ReLU", "Identity", None])
def test_dropout_on_sums_before_relu_or_identity_matches_torch_train_mode(act):
    """ReLU and Identity are positively homogeneous with f(0) = 0, so for d in {0, 1}
    f(d S / q) = d f(S) / q: dropout of the sums is dropout of the outputs, and the
    conversion is exact. Checked against PyTorch's train mode (fixed seeds, 5 standard
    errors on the mean and on the second moment of every output)."""
    torch.manual_seed(5)
    layers = [nn.Linear(5, 4), nn.Dropout(0.4)] + ([getattr(nn, act)()] if act else []) + \
        [nn.Linear(4, 3), nn.Tanh(), nn.Dropout(0.3), nn.Linear(3, 2)]
    model = nn.Sequential(*layers).double().train()
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(2.0)
                m.bias.add_(0.3)
    from test_torch import train_mode_and_engine  # needs torch: imported once the test runs

    n = 20_000
    outs, st_ = train_mode_and_engine(model, np.random.default_rng(6).uniform(-1, 1, size=(3, 5)), n, 7, 8)
    se = np.sqrt(outs.var(axis=0) / n + st_.var[-1] / n)
    assert np.all(np.abs(outs.mean(axis=0) - st_.E[-1]) <= 5 * se)
    # the second moment: its standard error from the fourth moment of the torch samples
    m2_torch = (outs ** 2).mean(axis=0)
    m2_engine = st_.var[-1] + st_.E[-1] ** 2
    se2 = np.sqrt(2 * (outs ** 2).var(axis=0) / n)
    assert np.all(np.abs(m2_torch - m2_engine) <= 5 * se2)


@needs_torch
def test_float32_weights_that_overflow_when_divided_by_the_keep_probability_are_refused():
    """W / q of a float32 weight near its maximum is beyond float32: Inf must not be stored."""
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(2, 1))
    with torch.no_grad():
        model[1].weight.fill_(3e38)
    with pytest.raises(ValueError, match=r"model\[1\].*float32"):
        from_torch(model)
    net, _ = from_torch(model, dtype=np.float64)
    assert np.all(net.weights[0] == np.float64(np.float32(3e38)) / 0.5)
    with pytest.raises(ValueError, match=r"fc\.weight.*float32"):
        from_torch({"fc.weight": model[1].weight.detach()}, keep=0.5)


# --- 2. state_dict layer order -----------------------------------------------------------

class _Many(nn.Module if nn is not None else object):
    def __init__(self, sizes):
        super().__init__()
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            setattr(self, f"fc{k}", nn.Linear(a, b))


@needs_torch
def test_state_dict_with_ten_or_more_layers_keeps_its_order():
    """fc1 ... fc11 of equal sizes: any order chains, so only the state_dict's own order
    (registration order) can be right; a name sort gave fc1, fc10, fc11, fc2 ..."""
    torch.manual_seed(0)
    model = _Many([3] * 12).double()
    net, _ = from_torch(model.state_dict(), transfer="tanh")
    assert net.n_layers == 11
    for k, W in enumerate(net.weights, start=1):
        np.testing.assert_array_equal(W, getattr(model, f"fc{k}").weight.detach().numpy())


@needs_torch
def test_scrambled_state_dict_uses_the_one_consistent_order():
    """A hand-built dict in scrambled order whose shapes chain only in the names' natural
    order (fc1, fc2, ..., fc10): that order is used, with a warning saying so."""
    torch.manual_seed(1)
    sizes = list(range(2, 14))  # 11 layers, every shape different
    sd = _Many(sizes).double().state_dict()
    keys = list(sd)
    order = np.random.default_rng(0).permutation(len(keys) // 2)
    scrambled = {}
    for i in order:
        scrambled[keys[2 * i]] = sd[keys[2 * i]]
        scrambled[keys[2 * i + 1]] = sd[keys[2 * i + 1]]
    with pytest.warns(UserWarning, match="natural order"):
        net, _ = from_torch(scrambled, transfer="logistic")
    assert net.sizes == tuple(sizes)
    for k, W in enumerate(net.weights, start=1):
        np.testing.assert_array_equal(W, sd[f"fc{k}.weight"].numpy())


@needs_torch
def test_state_dict_without_a_consistent_chain_names_the_keys():
    sd = {"a.weight": torch.zeros(3, 2), "b.weight": torch.zeros(4, 5), "c.weight": torch.zeros(2, 7)}
    with pytest.raises(ValueError, match=r"a\.weight.*\(3, 2\).*b\.weight.*\(4, 5\)"):
        from_torch(sd)


# --- 3. PyTorch older than 2.6 --------------------------------------------------------------

def test_the_torch_extra_requires_a_safe_loader():
    import tomllib

    extra = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    spec = extra["project"]["optional-dependencies"]["torch"]
    assert spec == ["torch>=2.6"]


@needs_torch
@pytest.mark.parametrize("version", ["2.5.1+cpu", "2.0.0", "1.13.1"])
def test_torch_older_than_2_6_refuses_to_load_files(tmp_path, monkeypatch, version):
    """CVE-2025-32434: torch.load(weights_only=True) can run code before 2.6.0."""
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(3, 2)).double().state_dict(), tmp_path / "sd.pth")
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    monkeypatch.setattr(torch, "__version__", version)
    rc, out, err = _run(["ensemble", str(tmp_path / "sd.pth"), str(tmp_path / "x.npy"), "--out",
                         str(tmp_path / "o.npz"), "--quiet"])
    assert rc == 2 and _one_line_error(err, "ensemble") and "2.6" in err and "CVE-2025-32434" in err
    assert not (tmp_path / "o.npz").exists()
    monkeypatch.setattr(torch, "__version__", "2.6.0")
    assert _run(["ensemble", str(tmp_path / "sd.pth"), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "o.npz"), "--quiet"])[0] == 0


# --- 4. unexpected errors --------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    net = de.Network.random([4, 3, 2], ["logistic", "softmax"], seed=0, dtype=np.float64)
    net_path = net.save(tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", np.random.default_rng(1).uniform(size=(3, 4)))
    return str(net_path), str(tmp_path / "x.npy"), tmp_path


@pytest.mark.parametrize("exc, status", [(RuntimeError("core: something broke\nin two lines"), 1),
                                         (AssertionError("invariant"), 1), (KeyboardInterrupt(), 130)])
def test_unexpected_errors_are_one_line_with_a_status(files, monkeypatch, exc, status):
    net_path, x, tmp = files

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(de, "sample", boom)
    rc, out, err = _run(["sample", net_path, x, "--out", str(tmp / "o.npz"), "--quiet"])
    assert rc == status, err
    assert "\n" not in err.strip() and "Traceback" not in err and err.startswith("dropengine sample:")
    if status == 1:
        assert type(exc).__name__ in err and "internal error" in err
    assert not (tmp / "o.npz").exists()


# --- 5. --out checked first ------------------------------------------------------------------

@pytest.mark.parametrize("command", ["sample", "ensemble", "enumerate"])
@pytest.mark.parametrize("where", ["missing-dir", "parent-is-file", "is-a-dir"])
def test_unwritable_out_is_refused_before_any_work(files, monkeypatch, command, where):
    """Fails even as root: a path under a missing folder, under a regular file, or a folder."""
    net_path, x, tmp = files
    (tmp / "plain").write_text("x")
    (tmp / "adir.npz").mkdir()
    out = {"missing-dir": tmp / "nope" / "o.npz", "parent-is-file": tmp / "plain" / "o.npz",
           "is-a-dir": tmp / "adir.npz"}[where]
    calls = []

    def work(*a, **k):
        calls.append(1)
        raise AssertionError("work started")

    import dropengine.exact as ex
    for mod, name in [(de, "sample"), (de, "ensemble"), (ex, "enumerate")]:
        monkeypatch.setattr(mod, name, work)
    rc, _, err = _run([command, net_path, x, "--out", str(out), "--quiet"])
    assert rc == 2 and _one_line_error(err, command) and "--out" in err, err
    assert calls == []
    assert sorted(p.name for p in tmp.iterdir()) == ["adir.npz", "net.npz", "plain", "x.npy"]


# --- 6. atomic writes: mode and durable rename -------------------------------------------------

@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield 0o022
    finally:
        os.umask(old)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_atomic_writes_get_the_mode_open_would_give(tmp_path, umask):
    p = _io.write_text_atomic(tmp_path / "a.txt", "one")
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
    os.umask(0o027)
    p = _io.save_npz_atomic(tmp_path / "b.npz", {"a": np.zeros(2)})
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    # replacing a file keeps its mode, whatever the umask
    os.chmod(p, 0o604)
    os.umask(0o077)
    _io.save_npz_atomic(p, {"a": np.ones(2)})
    assert stat.S_IMODE(p.stat().st_mode) == 0o604 and np.load(p)["a"][0] == 1


@pytest.mark.skipif(sys.platform == "win32", reason="directories cannot be fsynced there")
def test_atomic_write_fsyncs_the_directory_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file"))
        return real_fsync(fd)

    def replace(a, b):
        events.append("replace")
        return real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _io.write_text_atomic(tmp_path / "a.txt", "x")
    assert events == ["fsync-file", "replace", "fsync-dir"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# --- 7. fuzzing the command's input files -------------------------------------------------------

TRANSFERS = ["logistic", "tanh", "relu", "linear", "softmax", "softplus"]

NET_DAMAGE = ["none", "drop-key", "extra-key", "format", "dtype", "shape", "nan", "inf", "huge", "n_layers", "transfers",
              "truncate", "garbage", "object", "zero-d", "empty"]
X_DAMAGE = ["none", "dtype", "shape", "zero-d", "one-d", "three-d", "no-rows", "nan", "inf", "huge", "truncate",
            "object", "npz-extra", "npz-missing", "npz-named"]


def _weird(draw, like):
    """A replacement for an array: another dtype, rank or content."""
    kind = draw(st.sampled_from(["int", "bool", "complex", "str", "uint8", "float16", "0-d", "3-d", "empty",
                                 "transposed", "bytes"]))
    a = np.asarray(like)
    return {"int": lambda: a.astype(np.int64), "bool": lambda: a > 0, "complex": lambda: a + 1j,
            "str": lambda: a.astype(str), "uint8": lambda: np.abs(a * 100).astype(np.uint8),
            "float16": lambda: a.astype(np.float16), "0-d": lambda: np.array(1.5),
            "3-d": lambda: a.reshape((1,) + a.shape), "empty": lambda: np.zeros((0,) + a.shape[1:]),
            "transposed": lambda: a.T.copy(), "bytes": lambda: np.frombuffer(a.tobytes(), np.uint8)}[kind]()


@st.composite
def cli_case(draw):
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    transfers = draw(st.lists(st.sampled_from(TRANSFERS), min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    net = de.Network.random(sizes, transfers, seed=draw(st.integers(0, 3)), dtype=dtype)
    arrays = {"format": np.array("dropengine.Network/1"), "n_layers": np.array(net.n_layers),
              "transfers": np.array([f.spec() for f in net.transfers], dtype=np.float64)}
    for h, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"W{h}"], arrays[f"b{h}"] = np.array(w), np.array(b)
    nd = draw(st.sampled_from(NET_DAMAGE))
    key = draw(st.sampled_from(sorted(k for k in arrays if k != "format")))
    h = draw(st.integers(0, net.n_layers - 1))
    if nd == "drop-key":
        del arrays[key]
    elif nd == "extra-key":
        arrays[draw(st.sampled_from(["W9", "b9", "junk", f"b{net.n_layers}"]))] = np.ones(3)
    elif nd == "format":
        arrays["format"] = draw(st.sampled_from([np.array("dropengine.Network/2"), np.array(b"dropengine.Network/1"),
                                                 np.array(1.0), np.array(["dropengine.Network/1"] * 2)]))
    elif nd in ("dtype", "shape"):
        arrays[key] = _weird(draw, arrays[key])
    elif nd in ("nan", "inf", "huge"):
        value = {"nan": np.nan, "inf": -np.inf, "huge": draw(st.sampled_from([1e39, -3.5e38, 1e300, 1e20]))}[nd]
        w = arrays[f"W{h}"].astype(np.float64)  # float64 can hold 1e39, so it reaches the loader as such
        w.flat[draw(st.integers(0, w.size - 1))] = value
        arrays[f"W{h}"] = w
    elif nd == "n_layers":
        arrays["n_layers"] = np.array(draw(st.sampled_from([0, -1, 7, 2**40, 2**63 - 1, 1.5, np.nan])))
    elif nd == "transfers":
        t = arrays["transfers"].copy()
        t.flat[draw(st.integers(0, t.size - 1))] = draw(st.sampled_from([np.nan, 1e300, -1, 99, 0.5, -1e10]))
        arrays["transfers"] = t
    elif nd == "object":
        arrays[key] = np.array([None, 1], dtype=object)
    elif nd == "zero-d":
        arrays[key] = np.array(3.0)
    elif nd == "empty":
        arrays[f"W{h}"] = np.zeros((0, arrays[f"W{h}"].shape[1]))
    n_in = net.n_in
    X = np.random.default_rng(0).uniform(size=(draw(st.integers(1, 3)), n_in))
    xd = draw(st.sampled_from(X_DAMAGE))
    if xd == "dtype":
        X = _weird(draw, X)
    elif xd == "shape":
        X = np.ones((2, n_in + draw(st.integers(1, 3))))
    elif xd == "zero-d":
        X = np.array(0.5)
    elif xd == "one-d":
        X = X[0]
    elif xd == "three-d":
        X = X.reshape((1,) + X.shape)
    elif xd == "no-rows":
        X = np.zeros((0, n_in))
    elif xd in ("nan", "inf", "huge"):
        X = X.copy()
        X.flat[0] = {"nan": np.nan, "inf": np.inf, "huge": draw(st.sampled_from([1e39, 1e300, -1e300]))}[xd]
    elif xd == "object":
        X = np.array([[None] * n_in], dtype=object)
    return dict(arrays=arrays, net_damage=nd, net_cut=draw(st.floats(0, 1)), X=X, x_damage=xd,
                x_cut=draw(st.floats(0, 1)), x_npz=draw(st.booleans()),
                command=draw(st.sampled_from(["sample", "ensemble", "enumerate"])),
                keep=draw(st.sampled_from([None, None, None, "0.5", "1", "0.8,0.5", "0", "nan", "1e400"])))


def _write_npz(path, arrays):
    with open(path, "wb") as f:  # np.savez would refuse nothing but object arrays need pickles
        np.savez(f, **arrays)


def _truncate(path, frac):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * frac)])


@settings(derandomize=True, max_examples=40, deadline=None)
@given(case=cli_case())
def test_fuzzed_input_files_give_a_result_or_one_line_and_status_2(case):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        arrays = case["arrays"]
        _write_npz(d / "net.npz", arrays)
        if case["net_damage"] == "truncate":
            _truncate(d / "net.npz", case["net_cut"])
        elif case["net_damage"] == "garbage":
            (d / "net.npz").write_bytes(b"PK\x03\x04" + os.urandom(64))
        X, xd = case["X"], case["x_damage"]
        if case["x_npz"] or xd.startswith("npz"):
            x_path = d / "x.npz"
            content = {"inputs": X}
            if xd == "npz-extra":
                content["junk"] = np.ones(2)
            elif xd == "npz-missing":
                content = {"a": X, "b": X}
            elif xd == "npz-named":
                content = {"X": X, "other": np.zeros(1)}
            _write_npz(x_path, content)
        else:
            x_path = d / "x.npy"
            np.save(x_path, X, allow_pickle=True)
        if xd == "truncate":
            _truncate(x_path, case["x_cut"])
        out = d / "out.npz"
        argv = [case["command"], str(d / "net.npz"), str(x_path), "--out", str(out), "--quiet", "--threads", "1"]
        if case["keep"] is not None:
            argv += ["--keep", case["keep"]]
        if case["command"] == "sample":
            argv += ["--samples", "5"]
        rc, stdout, err = _run(argv)
        assert rc in (0, 2), (rc, err)
        if rc == 0:
            assert out.exists() and err == ""
        else:
            assert _one_line_error(err, case["command"]), err
            assert not out.exists()
            assert sorted(p.name for p in d.iterdir()) == sorted(["net.npz", x_path.name])

