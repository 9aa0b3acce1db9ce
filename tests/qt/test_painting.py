"""Painting tools on the real canvas: brush, eraser, mask, selection clipping, eyedropper, fill."""
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from qt_helpers import drag


def setup_brush(window, size=8, color=(255, 0, 0), hardness=1.0):
    s = window.settings
    s.size, s.hardness, s.opacity = size, hardness, 1.0
    s.foreground = QColor(*color)
    window.tools.activate("brush")


def test_stroke_paints_along_the_path_only_as_one_step(window):
    setup_brush(window)
    layer = window.document.active_layer
    steps = len(window.document.history.labels)
    drag(window.canvas, [(30, 40), (150, 40)])
    a = layer.pixels[..., 3]
    assert (a[40, 35:146] == 255).all()
    assert (layer.pixels[40, 35:146, :3] == (255, 0, 0)).all()
    assert a[:30].max() == 0 and a[51:].max() == 0  # far from the line: untouched
    assert a[:, :24].max() == 0 and a[:, 157:].max() == 0
    assert len(window.document.history.labels) == steps + 1
    # The canvas shows it (premultiplied red over white background -> red).
    shown = window.canvas.displayed_rgba()
    assert tuple(shown[40, 90]) == (255, 0, 0, 255)


def test_undo_redo_a_stroke(window, qtbot):
    setup_brush(window)
    layer = window.document.active_layer
    drag(window.canvas, [(20, 20), (120, 90)])
    painted = layer.pixels.copy()
    assert painted[..., 3].any()
    window.actions["undo"].trigger()
    assert not layer.pixels[..., 3].any()
    window.actions["redo"].trigger()
    assert np.array_equal(layer.pixels, painted)


def test_eraser_removes_paint(window):
    layer = window.document.layers[0]  # the white background
    window.document.active_layer = layer
    window.settings.size = 10
    window.settings.hardness = 1.0
    window.tools.activate("eraser")
    drag(window.canvas, [(10, 100), (190, 100)])
    assert (layer.pixels[100, 20:180, 3] == 0).all()
    assert (layer.pixels[50, :, 3] == 255).all()


def test_rect_selection_clips_painting(window):
    window.tools.activate("select-rect")
    drag(window.canvas, [(50, 20), (100, 80)])
    sel = window.document.selection
    assert sel is not None and sel[50, 75] == 255 and sel[50, 20] == 0 and sel[50, 150] == 0
    setup_brush(window, size=10)
    layer = window.document.active_layer
    drag(window.canvas, [(10, 50), (190, 50)])
    a = layer.pixels[..., 3]
    assert (a[50, 52:98] == 255).all()
    assert a[:, :49].max() == 0 and a[:, 101:].max() == 0
    # A click deselects.
    window.tools.activate("select-rect")
    drag(window.canvas, [(10, 10), (10, 10)])
    assert window.document.selection is None


def test_ellipse_and_freehand_selection_with_shift_m_cycle(window, qtbot):
    window.activateWindow()
    window.canvas.setFocus()
    window.tools.activate("brush")
    window.actions["key-M"].trigger()
    assert window.tools.active.id == "select-rect"
    window.actions["key-shift-M"].trigger()
    assert window.tools.active.id == "select-ellipse"
    drag(window.canvas, [(40, 40), (120, 100)])
    sel = window.document.selection
    assert sel[70, 80] == 255 and sel[41, 41] == 0  # the corner of the box is outside the ellipse
    window.actions["key-shift-M"].trigger()
    assert window.tools.active.id == "select-freehand"
    drag(window.canvas, [(10, 10), (60, 10), (60, 60), (10, 60)], steps=4)
    sel = window.document.selection
    assert sel[30, 30] == 255 and sel[100, 150] == 0


def test_selection_feather_softens_the_edge(window):
    window.settings.feather = 6
    window.tools.activate("select-rect")
    drag(window.canvas, [(50, 40), (150, 110)])
    sel = window.document.selection
    assert sel[75, 100] == 255 and sel[75, 5] == 0
    assert 0 < sel[75, 50] < 255  # the edge is soft


def test_mask_painting_hides_the_layer_there(window):
    doc = window.document
    layer = doc.active_layer
    layer.pixels[:] = (0, 0, 255, 255)  # an opaque blue layer over the white background
    doc.notify_pixels(layer, doc.rect)
    window.layers_panel.buttons["mask"].click()
    assert layer.mask is not None and (layer.mask == 255).all()
    assert window.session.paint_target == "mask"
    setup_brush(window, size=10, color=(0, 0, 0))  # black paints "hide"
    drag(window.canvas, [(20, 75), (180, 75)])
    assert (layer.mask[75, 30:170] == 0).all() and (layer.mask[20] == 255).all()
    assert (layer.pixels[..., 2] == 255).all()  # pixels untouched: masks are non-destructive
    comp = window.session.compositor.render()
    assert tuple(comp[75, 100]) == (255, 255, 255, 255)
    assert tuple(comp[20, 100]) == (0, 0, 255, 255)
    # The mask brush with Alt paints it back.
    window.tools.activate("mask-brush")
    drag(window.canvas, [(20, 75), (180, 75)], modifier=Qt.KeyboardModifier.AltModifier)
    assert (layer.mask[75, 30:170] == 0).all()
    drag(window.canvas, [(20, 75), (180, 75)])
    assert (layer.mask[75, 30:170] == 255).all()


def test_quick_mask_paints_the_selection(window):
    window.actions["quick-mask"].trigger()
    assert window.session.paint_target == "selection"
    setup_brush(window, size=10, color=(255, 255, 255))
    drag(window.canvas, [(20, 30), (180, 30)])
    sel = window.document.selection
    assert (sel[30, 30:170] == 255).all() and sel[100].max() == 0


def test_eyedropper_picks_the_visible_colour(window):
    doc = window.document
    layer = doc.active_layer
    layer.pixels[10:60, 10:60] = (10, 200, 30, 255)
    doc.notify_pixels(layer, doc.rect)
    window.tools.activate("eyedropper")
    drag(window.canvas, [(30, 30), (30, 30)])
    assert window.settings.foreground == QColor(10, 200, 30)
    drag(window.canvas, [(150, 120), (150, 120)])
    assert window.settings.foreground == QColor(255, 255, 255)


def test_fill_floods_the_contiguous_area(window):
    doc = window.document
    layer = doc.active_layer
    layer.pixels[:, 100] = (0, 0, 0, 255)  # a wall splitting the layer in two
    doc.notify_pixels(layer, doc.rect)
    window.settings.foreground = QColor(0, 255, 0)
    window.settings.opacity = 1.0
    window.tools.activate("fill")
    steps = len(doc.history.labels)
    drag(window.canvas, [(40, 40), (40, 40)])
    assert (layer.pixels[:, :100] == (0, 255, 0, 255)).all()
    assert (layer.pixels[:, 101:, 3] == 0).all()
    assert (layer.pixels[:, 100] == (0, 0, 0, 255)).all()
    assert doc.history.labels[-1] == "Fill" and len(doc.history.labels) == steps + 1


def test_locked_layer_refuses_paint_with_a_message(window):
    doc = window.document
    layer = doc.active_layer
    doc.set_layer_property(layer, "locked", True)
    setup_brush(window)
    drag(window.canvas, [(20, 20), (100, 20)])
    assert not layer.pixels[..., 3].any()
    assert "locked" in window.statusBar().currentMessage()


def test_move_tool_drags_the_layer_in_one_step(window):
    doc = window.document
    layer = doc.active_layer
    window.tools.activate("move")
    steps = len(doc.history.labels)
    drag(window.canvas, [(50, 50), (70, 60), (80, 65)])
    assert layer.offset == (30, 15)
    assert len(doc.history.labels) == steps + 1
    doc.history.undo()
    assert layer.offset == (0, 0)


_DEVICES = {}


def _tablet(canvas, kind, x, y, pressure, end="Pen"):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent
    from PySide6.QtWidgets import QApplication
    dev = _DEVICES.get(end)
    if dev is None:
        dev = _DEVICES[end] = QPointingDevice(
            f"test {end}", 77 + len(_DEVICES), QInputDevice.DeviceType.Stylus, getattr(QPointingDevice.PointerType, end),
            QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 3)
    pos = canvas.doc_to_widget(QPointF(x + 0.5, y + 0.5))
    btn = Qt.MouseButton.LeftButton
    ev = QTabletEvent(kind, dev, pos, canvas.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                      Qt.KeyboardModifier.NoModifier, btn, btn)
    QApplication.sendEvent(canvas, ev)


def _tablet_stroke(canvas, y, pressure, end="Pen"):
    from PySide6.QtCore import QEvent
    _tablet(canvas, QEvent.Type.TabletPress, 20, y, pressure, end)
    for x in range(20, 181, 5):
        _tablet(canvas, QEvent.Type.TabletMove, x, y, pressure, end)
    _tablet(canvas, QEvent.Type.TabletRelease, 180, y, pressure, end)


def test_pen_pressure_sets_the_brush_size(window):
    setup_brush(window, size=30)
    window.settings.pressure_size = True
    layer = window.document.active_layer
    _tablet_stroke(window.canvas, 40, 1.0)
    _tablet_stroke(window.canvas, 110, 0.25)
    a = layer.pixels[..., 3]
    heavy = int((a[:, 100] > 0)[:75].sum())
    light = int((a[:, 100] > 0)[75:].sum())
    assert heavy >= 25 and 0 < light <= heavy // 2


def test_pen_eraser_end_erases_with_the_brush_tool(window):
    layer = window.document.layers[0]  # white background
    window.document.active_layer = layer
    setup_brush(window, size=10)
    _tablet_stroke(window.canvas, 60, 1.0, end="Eraser")
    assert window.tools.active.id == "brush"
    assert (layer.pixels[60, 30:170, 3] == 0).all() and (layer.pixels[20, :, 3] == 255).all()


def test_magic_wand_selects_the_contiguous_colour(window):
    doc = window.document
    layer = doc.active_layer
    layer.pixels[20:60, 20:80] = (255, 0, 0, 255)
    layer.pixels[100:120, 100:150] = (255, 0, 0, 255)  # same colour, not connected
    doc.notify_pixels(layer, doc.rect)
    window.actions["key-W"].trigger()
    assert window.tools.active.id == "select-color"
    drag(window.canvas, [(30, 30), (30, 30)])
    sel = doc.selection
    assert (sel[20:60, 20:80] == 255).all() and sel[110, 120] == 0 and sel[10, 10] == 0
    # Shift adds the other patch.
    drag(window.canvas, [(110, 105), (110, 105)], modifier=Qt.KeyboardModifier.ShiftModifier)
    assert doc.selection[110, 120] == 255 and doc.selection[30, 30] == 255
