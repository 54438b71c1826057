"""Atomic file writing: a crash never leaves a corrupt file where a good one was."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def write_atomic(path, write) -> Path:
    """Calls write(binary file) on a temporary file beside `path`, syncs it, and renames
    it over `path`: readers see the old file or the new one, never a torn one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_npz_atomic(path, arrays: dict) -> Path:
    """Writes `arrays` to `path` (.npz, uncompressed), atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return write_atomic(path, lambda f: np.savez(f, **arrays))


def write_text_atomic(path, text: str) -> Path:
    """Writes text (UTF-8) to `path`, atomically."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def load_npz(path, name: str = "path") -> dict:
    """Loads an .npz without pickles (allow_pickle=False: untrusted files cannot run code)."""
    try:
        # Our own handle: np.load does not close it when a damaged zip fails to parse.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # any parse failure of an untrusted file (zip, header, EOF, pickles)
        raise ValueError(f"{name}: cannot read {str(path)!r} as an .npz file: {exc}") from None
