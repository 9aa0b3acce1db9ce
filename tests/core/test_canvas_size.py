"""Canvas Size: the canvas grows or shrinks on any side in one undoable step, and the
picture, brush regions and the selection stay where they were."""

from __future__ import annotations

import numpy as np
import pytest

from editor.core.canvas_size import resize_canvas
from editor.core.compositor import Compositor
from editor.core.document import Document
from editor.core.layers import BrushLayer, RasterLayer
from editor.core.params import BrushParams
from editor.core.verbs import new_area


def _doc():
    doc = Document(40, 30)
    px = np.zeros((30, 40, 4), np.uint8)
    px[..., 0] = np.arange(40, dtype=np.uint8)[None, :] * 5
    px[..., 3] = 255
    doc.add_layer(RasterLayer("bg", px))
    region = np.zeros((30, 40), np.uint8)
    region[5:10, 6:12] = 255
    doc.add_layer(BrushLayer("b", np.zeros((1, 1, 4), np.uint8), params=BrushParams(), region=region))
    sel = np.zeros((30, 40), np.uint8)
    sel[1:4, 2:5] = 255
    doc.set_selection(sel)
    return doc


def test_growing_keeps_everything_in_place_and_undoes_exactly():
    doc = _doc()
    comp = Compositor(doc)
    before = comp.render().copy()
    bg, brush = doc.layers
    region, sel = brush.region.copy(), doc.selection.copy()
    resize_canvas(doc, left=7, top=3, right=5, bottom=2)
    assert doc.size == (52, 35)
    assert bg.offset == (7, 3) and brush.offset == (7, 3)
    assert brush.region.shape == (35, 52) and doc.selection.shape == (35, 52)
    np.testing.assert_array_equal(brush.region[3:33, 7:47], region)
    np.testing.assert_array_equal(doc.selection[3:33, 7:47], sel)
    after = comp.render()
    np.testing.assert_array_equal(after[3:33, 7:47], before)
    assert after[:3].max() == 0 and after[:, :7].max() == 0  # new canvas is transparent
    doc.history.undo()
    assert doc.size == (40, 30) and bg.offset == (0, 0)
    np.testing.assert_array_equal(brush.region, region)
    np.testing.assert_array_equal(doc.selection, sel)
    np.testing.assert_array_equal(comp.render(), before)
    doc.history.redo()
    assert doc.size == (52, 35) and brush.offset == (7, 3)


def test_negative_values_crop():
    doc = _doc()
    resize_canvas(doc, left=-6, top=-5)
    assert doc.size == (34, 25)
    assert doc.layers[0].offset == (-6, -5)
    assert doc.layers[1].region[0:5, 0:6].min() == 255


@pytest.mark.parametrize("kw, msg", [({"left": -40}, "0x30"), ({"right": 1.5}, "whole number"),
                                     ({"bottom": 40000}, "1..30000")])
def test_bad_sizes_are_refused_and_nothing_changes(kw, msg):
    doc = _doc()
    steps = len(doc.history.undo_stack) if hasattr(doc.history, "undo_stack") else None
    with pytest.raises(ValueError, match=msg.replace(".", r"\.")):
        resize_canvas(doc, **kw)
    assert doc.size == (40, 30)
    if steps is not None:
        assert len(doc.history.undo_stack) == steps


def test_new_area_is_the_added_strip():
    doc = Document(10, 8)
    resize_canvas(doc, left=2, bottom=3)
    area = new_area(doc, 2, 0, 0, 3)
    assert area.shape == (11, 12)
    assert area[:8, 2:].max() == 0 and area[:, :2].min() == 255 and area[8:].min() == 255
