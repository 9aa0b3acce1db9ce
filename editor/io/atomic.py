"""Atomic file replacement: a failed save never damages the previous file.

The new content goes to a temporary file in the target's folder (same file
system, so the rename is atomic), is flushed and fsynced, then renamed over the
target with os.replace; the folder is fsynced so the rename itself survives a
crash. On any error the temporary file is removed and the old file is intact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import FileFormatError


def _fsync_dir(folder: Path) -> None:
    # Directories can't be opened on Windows; there the rename is durable enough.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _target_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it atomically replaces ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    mode = _target_mode(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``; an OS error becomes a FileFormatError
    naming the file, and the previous file is left whole."""
    try:
        with atomic_write(path) as f:
            f.write(data)
    except OSError as e:
        raise FileFormatError(Path(path), f"cannot write ({e.strerror or e})") from None
