"""Region dabs go through editor.core.paint in the real window: one undo step per stroke that
holds only the stroke's rectangle; undo and redo are exact."""
from __future__ import annotations

import numpy as np
from ai_helpers import settle
from qt_helpers import drag

from editor.core.commands import PixelCommand


def _brush(win):
    win.actions["ai-new-brush"].trigger()
    layer = win.document.active_layer
    win.ai.brush_dock.mode_buttons["paint"].click()
    win.ai.brush_dock.size.setValue(8)
    return layer


def test_region_strokes_are_one_step_each_holding_their_rectangle(qtbot, ai_window):
    win = ai_window
    doc = win.document
    layer = _brush(win)
    drag(win.canvas, [(20, 20), (40, 24), (60, 28)])
    assert layer.region is not None and layer.region.any()
    first = layer.region.copy()
    steps = len(doc.history)
    array = layer.region
    drag(win.canvas, [(30, 90), (50, 95), (70, 100)])
    assert layer.region is array  # dabs painted in place
    assert len(doc.history) == steps + 1 and doc.history.labels[-1] == "Paint brush region"
    cmd = doc.history.steps[-1]
    assert isinstance(cmd, PixelCommand) and cmd.target == "region"
    r = cmd.rect
    assert r.w < 60 and r.h < 30  # the stroke's rectangle, not the region
    assert cmd.nbytes == 2 * r.w * r.h < layer.region.nbytes // 4
    second = layer.region.copy()
    assert not np.array_equal(first, second)
    win.ai.brush_dock.mode_buttons["erase"].click()
    drag(win.canvas, [(40, 22), (44, 22)])
    erased = layer.region.copy()
    assert not np.array_equal(erased, second)
    win.actions["undo"].trigger()
    assert np.array_equal(layer.region, second)
    doc.history.undo()
    assert np.array_equal(layer.region, first)
    doc.history.undo()
    assert layer.region is None or not layer.region.any()
    doc.history.redo()
    doc.history.redo()
    assert np.array_equal(layer.region, second)
    doc.history.redo()
    assert np.array_equal(layer.region, erased)
    settle(qtbot, win)


def test_box_drag_records_only_what_changed(qtbot, ai_window):
    win = ai_window
    doc = win.document
    layer = _brush(win)
    drag(win.canvas, [(20, 20), (30, 22)])  # a small painted stroke first
    painted = layer.region.copy()
    win.ai.brush_dock.mode_buttons["box"].click()
    steps = len(doc.history)
    drag(win.canvas, [(60, 60), (100, 90), (80, 80)])
    assert len(doc.history) == steps + 1
    cmd = doc.history.steps[-1]
    assert isinstance(cmd, PixelCommand) and cmd.target == "region"
    boxed = layer.region.copy()
    assert boxed[70, 70] == 255 and boxed[85, 95] == 0 and not boxed[:40].any()  # replaced the stroke
    doc.history.undo()
    assert np.array_equal(layer.region, painted)
    doc.history.redo()
    assert np.array_equal(layer.region, boxed)
    settle(qtbot, win)
