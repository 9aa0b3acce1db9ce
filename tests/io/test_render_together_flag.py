"""The group flag "render together" (regions in one pass): history-recorded, kept in the .ora,
invisible to other programs' part of the file."""
from __future__ import annotations

import zipfile

import numpy as np

from editor.core.document import Document
from editor.core.layers import BrushLayer, GroupLayer
from editor.io.ora import load_ora, save_ora


def _doc():
    doc = Document(32, 32)
    group = doc.new_group("regions")
    doc.add_layer(BrushLayer("a", region=np.zeros((32, 32), np.uint8)), parent=group)
    return doc, group


def test_flag_is_an_undoable_property():
    doc, group = _doc()
    assert group.render_together is False
    doc.set_layer_property(group, "render_together", True)
    assert group.render_together is True
    doc.history.undo()
    assert group.render_together is False
    doc.history.redo()
    assert group.render_together is True
    assert group.copy().render_together is True


def test_flag_round_trips_through_ora_and_stays_out_of_stack_xml(tmp_path):
    doc, group = _doc()
    doc.set_layer_property(group, "render_together", True)
    other = doc.new_group("plain")
    path = tmp_path / "f.ora"
    save_ora(doc, path)
    back = load_ora(path)
    groups = {g.name: g for g in back.walk() if isinstance(g, GroupLayer)}
    assert groups["regions"].render_together is True
    assert groups[other.name].render_together is False
    with zipfile.ZipFile(path) as z:
        assert b"render" not in z.read("stack.xml")  # other programs see a plain group
