"""Autosave and crash recovery.

The UI calls :func:`write_recovery` on a timer for each open, modified
document, :func:`list_recoverable` at start to offer recovery, and
:func:`clear_recovery` after a clean save or close; a recovered document keeps its
snapshot (:func:`adopt_recovery`) until it is autosaved again or saved. Recovery files are
ordinary .ora files (written atomically) in :func:`recovery_dir`, each with a
small JSON sidecar naming the document's own file and the time of the
snapshot. ``LAYERBRUSH_RECOVERY_DIR`` overrides the folder (tests, portable
installs).

Example::

    entry = write_recovery(doc, source_path="~/art/cat.ora")
    ...  # next start, after a crash
    for entry in list_recoverable():
        doc = load_recovery(entry)
"""

from __future__ import annotations

import json
import os
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from editor.core.document import Document

from .atomic import write_file
from .errors import FileFormatError

ENV_VAR = "LAYERBRUSH_RECOVERY_DIR"
_SUFFIX = ".ora"
_INFO_SUFFIX = ".json"

# One recovery key per live document object, so repeated autosaves overwrite
# the same file. Keyed by id() because documents need not be hashable.
_keys: dict[int, str] = {}


@dataclass(frozen=True)
class RecoveryEntry:
    """One recoverable snapshot."""

    key: str
    path: Path  # the .ora snapshot
    source_path: str | None  # the file the document was opened from / saved to, if any
    saved_at: float  # time.time() of the snapshot
    title: str


def recovery_dir() -> Path:
    """Folder holding recovery snapshots (created on demand)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_state_dir("layerbrush", appauthor=False)) / "recovery"


def recovery_key(document: Document) -> str:
    """The stable key of ``document`` for this process."""
    ident = id(document)
    key = _keys.get(ident)
    if key is None:
        key = uuid.uuid4().hex
        _keys[ident] = key
        weakref.finalize(document, _keys.pop, ident, None)
    return key


def adopt_recovery(document: Document, entry: RecoveryEntry) -> None:
    """Make ``entry``'s snapshot the recovery file of ``document`` (the document recovered
    from it): the snapshot stays on disk until the next autosave replaces it or a save or
    close clears it, so a second crash right after recovering loses nothing."""
    if not entry.key.isalnum():
        raise ValueError(f"invalid recovery key {entry.key!r}")
    old = _keys.get(id(document))
    if old is None:
        weakref.finalize(document, _keys.pop, id(document), None)
    _keys[id(document)] = entry.key


def write_recovery(
    document: Document,
    *,
    source_path: str | os.PathLike | None = None,
    title: str | None = None,
    composite=None,
) -> RecoveryEntry:
    """Snapshot ``document`` into the recovery folder (atomic; replaces its previous snapshot).

    ``composite``: the flattened document if the caller has it cached (saves a render).
    This blocks until the file is written; the editor uses :func:`snapshot_recovery`.
    """
    return snapshot_recovery(document, source_path=source_path, title=title, composite=composite)()


def snapshot_recovery(
    document: Document,
    *,
    source_path: str | os.PathLike | None = None,
    title: str | None = None,
    composite=None,
) -> Callable[[], RecoveryEntry]:
    """Capture ``document`` now (a copy of its pixels) and return ``write() -> RecoveryEntry``,
    which encodes and writes the snapshot and may run on another thread while the user
    keeps editing: PNG encoding a large document takes seconds."""
    from .ora import ora_snapshot

    folder = recovery_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileFormatError(folder, f"cannot create recovery folder ({e.strerror or e})") from None
    key = recovery_key(document)
    path = folder / f"{key}{_SUFFIX}"
    finish = ora_snapshot(document, composite=composite)
    source = os.fspath(source_path) if source_path is not None else None
    title = title or (Path(source).name if source else "Untitled")

    def write() -> RecoveryEntry:
        write_file(path, finish())
        entry = RecoveryEntry(key=key, path=path, source_path=source, saved_at=time.time(), title=title)
        info = {"source_path": entry.source_path, "saved_at": entry.saved_at, "title": entry.title}
        write_file(folder / f"{key}{_INFO_SUFFIX}", json.dumps(info).encode("utf-8"))
        return entry

    return write


def list_recoverable() -> list[RecoveryEntry]:
    """Snapshots left in the recovery folder, newest first (skips damaged sidecars)."""
    folder = recovery_dir()
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob(f"*{_SUFFIX}"):
        key = path.stem
        info: dict = {}
        try:
            info = json.loads((folder / f"{key}{_INFO_SUFFIX}").read_text("utf-8"))
            if not isinstance(info, dict):
                info = {}
        except (OSError, ValueError):
            pass
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        saved_at = info.get("saved_at")
        source = info.get("source_path")
        title = info.get("title")
        out.append(
            RecoveryEntry(
                key=key,
                path=path,
                source_path=source if isinstance(source, str) else None,
                saved_at=float(saved_at) if isinstance(saved_at, (int, float)) else mtime,
                title=title if isinstance(title, str) else "Untitled",
            )
        )
    out.sort(key=lambda e: e.saved_at, reverse=True)
    return out


def load_recovery(entry: RecoveryEntry) -> Document:
    """Open a snapshot (raises FileFormatError if it is damaged)."""
    from .ora import load_ora

    return load_ora(entry.path)


def _remove(folder: Path, key: str) -> None:
    for suffix in (_SUFFIX, _INFO_SUFFIX):
        try:
            (folder / f"{key}{suffix}").unlink()
        except FileNotFoundError:
            pass


def clear_recovery(target: Document | RecoveryEntry | str) -> None:
    """Delete the snapshot of a document (after a clean save or close), an entry, or a key."""
    if isinstance(target, RecoveryEntry):
        key = target.key
    elif isinstance(target, str):
        key = target
    else:
        key = _keys.get(id(target))
        if key is None:
            return
    if not key.isalnum():
        raise ValueError(f"invalid recovery key {key!r}")
    _remove(recovery_dir(), key)


def clear_all_recovery() -> None:
    """Delete every snapshot (the user declined recovery)."""
    for entry in list_recoverable():
        _remove(entry.path.parent, entry.key)
