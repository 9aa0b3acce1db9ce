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
