"""Autosave snapshots: write, list, load, clear."""

from __future__ import annotations

import gc

import pytest

from editor.io import recovery
from editor.io.errors import FileFormatError


@pytest.fixture(autouse=True)
def recovery_folder(tmp_path, monkeypatch):
    folder = tmp_path / "recovery"
    monkeypatch.setenv(recovery.ENV_VAR, str(folder))
    return folder


def test_folder_follows_env(recovery_folder):
    assert recovery.recovery_dir() == recovery_folder


def test_default_folder_is_per_user(monkeypatch):
    monkeypatch.delenv(recovery.ENV_VAR)
    assert "layerbrush" in str(recovery.recovery_dir()).lower()


def test_write_list_load_clear(doc, recovery_folder):
    assert recovery.list_recoverable() == []
    entry = recovery.write_recovery(doc, source_path="/art/cat.ora")
    assert entry.path.parent == recovery_folder and entry.title == "cat.ora"
    # a second autosave of the same document replaces its snapshot
    doc.layers[0].name = "renamed"
    again = recovery.write_recovery(doc, source_path="/art/cat.ora")
    assert again.key == entry.key
    (listed,) = recovery.list_recoverable()
    assert listed.source_path == "/art/cat.ora" and listed.key == entry.key
    restored = recovery.load_recovery(listed)
    assert restored.layers[0].name == "renamed"
    assert [l.id for l in restored.walk()] == [l.id for l in doc.walk()]
    recovery.clear_recovery(doc)
    assert recovery.list_recoverable() == []
    assert list(recovery_folder.iterdir()) == []


def test_several_documents_newest_first(doc):
    from io_samples import rich_document

    other = rich_document(with_ai=False)
    a = recovery.write_recovery(doc)
    b = recovery.write_recovery(other, title="Other")
    assert a.key != b.key
    listed = recovery.list_recoverable()
    assert [e.key for e in listed] == [b.key, a.key]
    assert listed[0].title == "Other" and listed[1].title == "Untitled"
    recovery.clear_all_recovery()
    assert recovery.list_recoverable() == []


def test_damaged_sidecar_still_listed_and_damaged_snapshot_raises(doc, recovery_folder):
    entry = recovery.write_recovery(doc)
    (recovery_folder / f"{entry.key}.json").write_text("{broken")
    (listed,) = recovery.list_recoverable()
    assert listed.source_path is None and listed.saved_at > 0
    entry.path.write_bytes(b"PK\x03\x04 cut off")
    with pytest.raises(FileFormatError):
        recovery.load_recovery(listed)
    recovery.clear_recovery(listed)
    assert recovery.list_recoverable() == []


def test_clear_unknown_document_is_harmless(doc):
    recovery.clear_recovery(doc)
    with pytest.raises(ValueError):
        recovery.clear_recovery("../../etc")


def test_key_is_released_with_the_document():
    from io_samples import rich_document

    d = rich_document(with_ai=False)
    key = recovery.recovery_key(d)
    assert recovery.recovery_key(d) == key
    del d
    gc.collect()
    assert key not in recovery._keys.values()
