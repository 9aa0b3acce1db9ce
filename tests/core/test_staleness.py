"""The staleness policy (editor.core.staleness) without Qt: which brush layers a change touches."""
from __future__ import annotations

import numpy as np

from editor.core import staleness as st
from editor.core.document import Document
from editor.core.geometry import Rect
from editor.core.layers import BrushLayer, RasterLayer


def _region(doc, x, y, w, h):
    r = np.zeros((doc.height, doc.width), np.uint8)
    r[y:y + h, x:x + w] = 255
    return r


def _doc():
    doc = Document(200, 100)
    bg = RasterLayer.blank(200, 100, "bg")
    doc.add_layer(bg)
    left = BrushLayer("left", region=_region(doc, 10, 10, 30, 30))
    doc.add_layer(left)
    top = RasterLayer.blank(200, 100, "top")
    doc.add_layer(top)
    right = BrushLayer("right", region=_region(doc, 150, 10, 30, 30))
    doc.add_layer(right)
    windows = {left.id: Rect(0, 0, 60, 60), right.id: Rect(130, 0, 70, 60)}
    return doc, bg, left, top, right, windows


def test_pixels_below_touch_only_the_windows_they_reach():
    doc, bg, left, top, right, windows = _doc()
    assert st.stale_for_pixels(doc, bg, Rect(5, 5, 4, 4), windows) == [left]
    assert st.stale_for_pixels(doc, bg, Rect(140, 20, 4, 4), windows) == [right]
    assert st.stale_for_pixels(doc, bg, Rect(80, 80, 4, 4), windows) == []
    assert st.stale_for_pixels(doc, bg, None, windows) == [left, right]
    # a layer above a brush layer is not its source
    assert st.stale_for_pixels(doc, top, Rect(5, 5, 4, 4), windows) == []
    assert st.stale_for_pixels(doc, top, Rect(140, 20, 4, 4), windows) == [right]
    # never rendered: any change below counts
    assert st.stale_for_pixels(doc, bg, Rect(80, 80, 4, 4), {}) == [left, right]
    # a brush layer's own pixels are its result
    assert st.stale_for_pixels(doc, left, None, windows) == []


def test_properties():
    doc, bg, left, top, right, windows = _doc()
    assert st.stale_for_property(doc, left, "params", windows) == [left]
    assert st.stale_for_property(doc, left, "region", windows) == [left]
    for name in ("visible", "opacity", "blend_mode", "name", "state", "pixels"):
        assert st.stale_for_property(doc, left, name, windows) == [], name
    assert st.stale_for_property(doc, top, "opacity", windows) == [right]
    assert st.stale_for_property(doc, bg, "visible", windows) == [left, right]
    assert st.stale_for_property(doc, bg, "name", windows) == []
    assert st.stale_for_property(doc, bg, "locked", windows) == []


def test_structure_changes_count_only_the_sources():
    doc, bg, left, top, right, windows = _doc()
    first = st.stale_for_structure(doc, {})
    assert first.new == [left, right] and first.stale == [left, right] and first.gone == []
    sigs = first.signatures
    assert sigs[left.id] == (bg.id,) and sigs[right.id] == (bg.id, top.id)
    # moving a brush layer among brush layers only: no source changes
    doc.move_layer(right, index=2)  # now bg, left, right, top
    change = st.stale_for_structure(doc, sigs)
    assert change.stale == [right] and change.new == []  # top is no longer below right
    sigs = change.signatures
    doc.move_layer(left, index=2)  # bg, right, left, top: both still see only bg
    change = st.stale_for_structure(doc, sigs)
    assert change.stale == []
    gone_id = left.id
    doc.remove_layer(left)
    change = st.stale_for_structure(doc, change.signatures)
    assert change.gone == [gone_id] and change.stale == []


def test_a_new_layer_without_region_or_done_is_not_stale():
    doc = Document(50, 50)
    empty = BrushLayer("empty")
    doc.add_layer(empty)
    done = BrushLayer("done", region=np.full((50, 50), 255, np.uint8), state="done")
    doc.add_layer(done)
    change = st.stale_for_structure(doc, {})
    assert change.new == [empty, done] and change.stale == []


def test_a_layer_of_another_document_touches_nothing():
    doc, bg, left, top, right, windows = _doc()
    other = RasterLayer.blank(10, 10, "elsewhere")
    assert st.stale_for_pixels(doc, other, None, windows) == []
