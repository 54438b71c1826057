"""Atomic file writing: a crash never leaves a corrupt file where a good one was."""
from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

import numpy as np


def _create_beside(path: Path):
    """(fd, name) of a new temporary file beside `path`. A new file gets the mode a plain
    open() would give it (0666 less the umask, which os.open applies), not mkstemp's 0600;
    a replaced file keeps its own mode. The temporary file is never more open than that."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f"{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666 if mode is None else 0o600)
        except FileExistsError:
            continue
        if mode is not None and hasattr(os, "fchmod"):
            try:
                os.fchmod(fd, mode)
            except BaseException:
                os.close(fd)
                os.unlink(tmp)
                raise
        return fd, tmp
    raise FileExistsError(f"could not create a temporary file beside {str(path)!r}")


def _sync_dir(folder: Path) -> None:
    """Makes a rename in `folder` durable. Best effort: some platforms and filesystems
    cannot sync a directory, and by now the new file is complete and in place, so failing
    the save here would report a loss that did not happen."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def write_atomic(path, write) -> Path:
    """Calls write(binary file) on a temporary file beside `path`, syncs it, renames it
    over `path` and syncs the folder: readers see the old file or the new one, never a
    torn one, and after a power loss the rename is not undone."""
    path = Path(path)
    fd, tmp = _create_beside(path)
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
    _sync_dir(path.parent)
    return path


def check_writable(path, name: str) -> Path:
    """Raises ValueError naming `name` unless a file can be written at `path` the way
    write_atomic does it (a temporary file beside it, then a rename): checked before a
    long computation rather than after it."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name}: {str(path)!r} is a folder; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ValueError(f"{name}: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)
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
