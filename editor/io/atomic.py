"""Atomic file replacement: a failed save never damages the previous file.

The new content goes to a temporary file in the target's folder (same file
system, so the rename is atomic), is flushed and fsynced, then renamed over the
target with os.replace; the folder is fsynced so the rename itself survives a
crash. On any error the temporary file is removed and the old file is intact.

A save over a symbolic link writes through to the link's target (atomically, in the
target's folder), so the link stays a link. A hard-linked target is replaced like any
other file: its other names keep the previous version (an in-place write could tear
the file; :func:`other_hard_links` lets the caller say so). A save killed half-way
leaves its hidden temporary behind; :func:`remove_stale_temporaries` (run on every
save and on open) deletes the ones of our naming that nobody writes to any more.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import FileFormatError

#: A temporary left by a save is stale once nothing has written to it for this long
#: (a save in progress writes continuously; the largest take well under a minute).
STALE_AFTER_S = 120.0


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


def resolve_target(path: str | os.PathLike) -> Path:
    """The file a save to ``path`` writes: the final target when ``path`` is a symbolic
    link (a chain of them, or a dangling one: the file it names), else ``path`` itself."""
    path = Path(path)
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def other_hard_links(path: str | os.PathLike) -> int:
    """How many other names (hard links) the file at ``path`` has; 0 if it doesn't exist."""
    try:
        return max(0, resolve_target(path).stat().st_nlink - 1)
    except OSError:
        return 0


def _temporary_name(name: str) -> re.Pattern:
    # tempfile.mkstemp(prefix=".NAME.", suffix=".tmp") adds 8 characters from this set.
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")


def remove_stale_temporaries(path: str | os.PathLike, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the hidden ``.NAME.XXXXXXXX.tmp`` files an interrupted save of ``path`` left
    in its folder (only regular files of exactly that naming, untouched for
    ``older_than_s``). Best effort: returns what was removed, never raises."""
    target = resolve_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    pattern = _temporary_name(target.name)
    removed = []
    now = time.time()
    try:
        candidates = [folder / n for n in os.listdir(folder) if pattern.fullmatch(n)]
    except OSError:
        return removed
    for candidate in candidates:
        try:
            st = candidate.lstat()
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than_s:
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it atomically replaces ``path`` (through a
    symbolic link: its target)."""
    path = resolve_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temporaries(path)
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
