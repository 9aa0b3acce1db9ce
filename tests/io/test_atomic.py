"""Saving is atomic: a failure at any point leaves the previous file whole."""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

import editor.io.atomic as atomic
import editor.io.ora as ora
from editor.io.atomic import atomic_write
from editor.io.errors import FileFormatError
from editor.io.ora import load_ora, save_ora
from editor.io.project import save_document


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    with atomic_write(p) as f:
        f.write(b"new")
    assert p.read_bytes() == b"new"
    assert p.stat().st_mode & 0o777 == 0o640
    assert _leftovers(tmp_path) == []


def test_exception_inside_leaves_old_file(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(p) as f:
        f.write(b"half of the new")
        raise RuntimeError("writer died")
    assert p.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_ora_writer_failing_midway_keeps_previous_file(tmp_path, doc, monkeypatch):
    path = tmp_path / "a.ora"
    save_ora(doc, path)
    before = path.read_bytes()
    doc.layers[0].name = "changed"

    real = atomic.atomic_write  # every writer saves through editor.io.atomic.write_file

    @contextlib.contextmanager
    def failing(target):
        with real(target) as f:
            class Half:
                def write(self, data):
                    f.write(data[: len(data) // 2])  # part of the archive reaches the disk
                    raise OSError(28, "No space left on device")
            yield Half()

    monkeypatch.setattr(atomic, "atomic_write", failing)
    with pytest.raises(FileFormatError, match="No space left"):
        save_ora(doc, path)
    assert path.read_bytes() == before
    assert load_ora(path).layers[0].name == "background"
    assert _leftovers(tmp_path) == []


def test_fsync_or_rename_failure_keeps_previous_file(tmp_path, doc, monkeypatch):
    path = tmp_path / "a.ora"
    save_ora(doc, path)
    before = path.read_bytes()
    for name in ("fsync", "replace"):
        with monkeypatch.context() as m:
            def boom(*a, **k):
                raise OSError(5, f"{name} failed")
            m.setattr(atomic.os, name, boom)
            with pytest.raises(FileFormatError, match=f"{name} failed"):
                save_ora(doc, path)
        assert path.read_bytes() == before
        assert _leftovers(tmp_path) == []


def test_encoder_failure_before_writing_touches_nothing(tmp_path, doc, monkeypatch):
    path = tmp_path / "a.ora"
    save_ora(doc, path)
    before = path.read_bytes()

    def broken(*a, **k):
        raise MemoryError("out of memory while encoding")

    monkeypatch.setattr(ora.raster, "encode_png", broken)
    with pytest.raises(MemoryError):
        save_ora(doc, path)
    assert path.read_bytes() == before


def test_every_format_saves_atomically(tmp_path, doc, monkeypatch):
    for ext in (".ora", ".psd", ".png", ".jpg", ".webp", ".tif"):
        path = tmp_path / f"x{ext}"
        path.write_bytes(b"previous")
        with monkeypatch.context() as m:
            def boom(*a, **k):
                raise OSError(5, "disk gone")
            m.setattr(atomic.os, "replace", boom)
            with pytest.raises(FileFormatError):
                save_document(doc, path)
        assert path.read_bytes() == b"previous", ext
        save_document(doc, path)
        assert path.read_bytes() != b"previous"
    assert _leftovers(tmp_path) == []


def test_unwritable_folder_gives_file_format_error(tmp_path, doc):
    with pytest.raises(FileFormatError, match="nofolder"):
        save_document(doc, tmp_path / "nofolder" / "a.ora")


def _killed_save_leftover(folder, name, age_s=3600.0):
    """A temporary as a save killed half-way leaves it (created the same way), aged."""
    import tempfile
    import time

    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.write(fd, b"half a file")
    os.close(fd)
    past = time.time() - age_s
    os.utime(tmp, (past, past))
    return tmp


def test_saving_removes_stale_temporaries_of_that_file_only(tmp_path, doc):
    path = tmp_path / "art.ora"
    stale = _killed_save_leftover(tmp_path, "art.ora")
    fresh = _killed_save_leftover(tmp_path, "art.ora", age_s=0)  # maybe a save still running
    other = _killed_save_leftover(tmp_path, "other.ora")
    lookalike = tmp_path / ".art.ora.notours.tmp"
    lookalike.write_bytes(b"someone else's")
    os.utime(lookalike, (0, 0))
    save_ora(doc, path)
    left = set(_leftovers(tmp_path))
    assert os.path.basename(stale) not in left
    assert {os.path.basename(fresh), os.path.basename(other), lookalike.name} <= left
    assert load_ora(path).width == doc.width


def test_opening_removes_stale_temporaries(tmp_path, doc):
    from editor.io.project import open_document

    path = tmp_path / "art.ora"
    save_ora(doc, path)
    stale = _killed_save_leftover(tmp_path, "art.ora")
    open_document(path)
    assert not os.path.exists(stale)


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_saving_over_a_symlink_writes_through_to_the_target(tmp_path, doc):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "art.ora"
    target.write_bytes(b"old content")
    os.chmod(target, 0o600)
    link = tmp_path / "link.ora"
    link.symlink_to(target)
    save_document(doc, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_ora(target).width == doc.width  # the target has the new content
    assert target.stat().st_mode & 0o777 == 0o600
    assert _leftovers(tmp_path) == [] and _leftovers(real_dir) == []


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_failed_save_through_a_symlink_keeps_the_target_whole(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    link = tmp_path / "l.bin"
    link.symlink_to(target)
    with pytest.raises(RuntimeError), atomic_write(link) as f:
        f.write(b"half")
        raise RuntimeError("writer died")
    assert link.is_symlink() and target.read_bytes() == b"old"


def test_hard_links_keep_the_old_version_and_are_counted(tmp_path):
    """Chosen: a save stays atomic, so the other names of a hard-linked file keep the
    previous version; other_hard_links tells the window to say so."""
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    twin = tmp_path / "twin.bin"
    os.link(path, twin)
    assert atomic.other_hard_links(path) == 1
    atomic.write_file(path, b"new")
    assert path.read_bytes() == b"new" and twin.read_bytes() == b"old"
    assert atomic.other_hard_links(path) == 0 and atomic.other_hard_links(tmp_path / "none") == 0
