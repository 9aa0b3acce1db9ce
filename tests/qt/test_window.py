"""Window basics: title, shortcuts, zoom and pan, history panel, worker access."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from qt_helpers import H, W, drag, widget_point


def test_title_shows_file_name_and_modified_mark(window, tmp_path):
    assert window.windowTitle().startswith("Untitled —")
    window.layers_panel.buttons["add"].click()
    assert window.windowTitle().startswith("Untitled* —")
    window.document.history.undo()
    assert window.windowTitle().startswith("Untitled —")
    window.layers_panel.buttons["add"].click()
    assert window.save_as(tmp_path / "pic.ora")
    assert window.windowTitle().startswith("pic.ora —")


def _key(window, key, mod=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(window.canvas, key, mod)


@pytest.fixture
def focused(window, qtbot):
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: window.canvas.hasFocus(), timeout=2000)
    return window


def test_tool_shortcuts(focused):
    w = focused
    for key, tool in ((Qt.Key.Key_E, "eraser"), (Qt.Key.Key_V, "move"), (Qt.Key.Key_I, "eyedropper"),
                      (Qt.Key.Key_G, "fill"), (Qt.Key.Key_M, "select-rect"), (Qt.Key.Key_B, "brush")):
        _key(w, key)
        assert w.tools.active.id == tool, key
    _key(w, Qt.Key.Key_M)
    _key(w, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    assert w.tools.active.id == "select-ellipse"
    _key(w, Qt.Key.Key_B)
    _key(w, Qt.Key.Key_M)  # M returns to the last selection tool used
    assert w.tools.active.id == "select-ellipse"


def test_colour_and_size_shortcuts(focused):
    w = focused
    w.settings.foreground = QColor(255, 0, 0)
    w.settings.background = QColor(0, 0, 255)
    _key(w, Qt.Key.Key_X)
    assert w.settings.foreground == QColor(0, 0, 255) and w.settings.background == QColor(255, 0, 0)
    w.settings.size = 20
    _key(w, Qt.Key.Key_BracketRight)
    assert w.settings.size > 20
    _key(w, Qt.Key.Key_BracketLeft)
    _key(w, Qt.Key.Key_BracketLeft)
    assert w.settings.size < 20
    assert w.tool_options.size.value() == round(w.settings.size)


def test_undo_redo_shortcuts(focused):
    w = focused
    w.layers_panel.buttons["add"].click()
    n = len(w.document.layers)
    _key(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(w.document.layers) == n - 1
    _key(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(w.document.layers) == n


def test_zoom_fit_and_100_percent(focused):
    w = focused
    c = w.canvas
    _key(w, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    fit_scale = c.scale
    assert W * fit_scale <= c.width() and H * fit_scale <= c.height()
    assert W * fit_scale > c.width() * 0.8 or H * fit_scale > c.height() * 0.8
    _key(w, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert c.zoom == 1.0
    centre = c.doc_to_widget(QPointF(W / 2, H / 2))
    assert abs(centre.x() - c.width() / 2) < 1 and abs(centre.y() - c.height() / 2) < 1
    assert w.zoom_label.text() == "100%"


def test_wheel_zooms_around_the_cursor(window, qtbot):
    c = window.canvas
    anchor = c.doc_to_widget(QPointF(50, 40))
    before = c.zoom
    c.zoom_by(2.0, anchor)
    assert c.zoom == pytest.approx(before * 2)
    after = c.widget_to_doc(anchor)
    assert after.x() == pytest.approx(50) and after.y() == pytest.approx(40)


def test_middle_button_pans(window):
    c = window.canvas
    start = c.doc_to_widget(QPointF(0, 0))
    p0 = QPoint(300, 300)
    QTest.mousePress(c, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, p0)
    QTest.mouseMove(c, QPoint(340, 320))
    QTest.mouseRelease(c, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(340, 320))
    moved = c.doc_to_widget(QPointF(0, 0)) - start
    assert (round(moved.x()), round(moved.y())) == (40, 20)
    assert not window.document.active_layer.pixels[..., 3].any()  # panning never paints


def test_space_drag_pans_instead_of_painting(focused):
    w = focused
    c = w.canvas
    start = c.doc_to_widget(QPointF(0, 0))
    QTest.keyPress(c, Qt.Key.Key_Space)
    drag(c, [(20, 20), (60, 50)])
    QTest.keyRelease(c, Qt.Key.Key_Space)
    assert not w.document.active_layer.pixels[..., 3].any()
    assert c.doc_to_widget(QPointF(0, 0)) != start


def test_status_bar_shows_cursor_position_and_colour(window):
    c = window.canvas
    QTest.mouseMove(c, widget_point(c, 12, 34))
    assert window.pos_label.text() == "12, 34"
    QTest.mouseMove(c, widget_point(c, -4, 34))
    assert window.pos_label.text() == "-4, 34"
    window.settings.foreground = QColor(1, 2, 3)
    assert "#010203" in window.color_label.text()


def test_history_panel_lists_steps_and_jumps(window):
    panel = window.history_panel
    window.layers_panel.buttons["add"].click()
    window.layers_panel.buttons["add"].click()
    assert panel.list.count() == 3  # initial state + 2 steps
    assert panel.list.item(1).text().startswith("Add")
    panel.list.itemClicked.emit(panel.list.item(0))
    assert len(window.document.layers) == 2
    assert panel.list.currentRow() == 0
    panel.jump(2)
    assert len(window.document.layers) == 4


def test_extension_points(window):
    from PySide6.QtWidgets import QLabel

    from editor.ui.tools.base import Tool

    dock = window.add_dock("ai", "AI", QLabel("hello"))
    assert window.docks["ai"] is dock and dock.toggleViewAction() in window.menu("Window").actions()
    hits = []
    window.add_action("Layer/AI", "ai-thing", "Do AI thing", lambda: hits.append(1))
    window.actions["ai-thing"].trigger()
    assert hits == [1]

    class Probe(Tool):
        id, name, shortcut = "probe", "Probe", "P"
    window.register_tool(Probe)
    window.actions["key-P"].trigger()
    assert window.tools.active.id == "probe"


def test_worker_results_reach_the_gui_thread(window, qtbot):
    from editor.worker import Job
    with qtbot.waitSignal(window.worker.finished, timeout=5000) as blocker:
        window.worker.submit(Job("layer", lambda progress, cancelled: np.ones(3)))
    assert blocker.args[0] == "layer" and blocker.args[1].sum() == 3


def test_checkerboard_under_transparency_and_brush_outline(window, qtbot):
    doc = window.document
    doc.set_layer_property(doc.layers[0], "visible", False)  # now everything is transparent
    c = window.canvas
    img = c.grab().toImage()
    inside = c.doc_to_widget(QPointF(4, 4)).toPoint()
    shades = {img.pixelColor(inside.x() + dx, inside.y()).red() for dx in range(0, 24)}
    assert shades == {204, 255}  # light and dark checker cells
    outside = c.doc_to_widget(QPointF(-20, -20)).toPoint()
    assert img.pixelColor(outside) == QColor(58, 58, 62)
    # Brush outline: a circle of the brush size around the pointer.
    window.settings.size = 40
    window.tools.activate("brush")
    QTest.mouseMove(c, widget_point(c, 100, 75))
    img = c.grab().toImage()
    centre = c.doc_to_widget(QPointF(100, 75))
    ring = [img.pixelColor(int(centre.x() + 20 + d), int(centre.y())) for d in range(-3, 4)]
    assert any(col.red() not in (204, 255) for col in ring)  # the outline is drawn over the checker
    assert img.pixelColor(int(centre.x() + 10), int(centre.y())).red() in (204, 255)  # inside: untouched


def test_rotated_view_maps_strokes_and_keys(focused):
    from qt_helpers import widget_point
    w = focused
    c = w.canvas
    _key(w, Qt.Key.Key_6)
    _key(w, Qt.Key.Key_6)
    assert c.rotation == 30
    _key(w, Qt.Key.Key_5)
    assert c.rotation == 0
    c.set_rotation(90)
    p = QPointF(37.25, 81.5)
    back = c.widget_to_doc(c.doc_to_widget(p))
    assert back.x() == pytest.approx(37.25) and back.y() == pytest.approx(81.5)
    # Turned 90° clockwise: a stroke along the document x axis runs down the screen.
    w.settings.size, w.settings.hardness = 6, 1.0
    w.tools.activate("brush")
    layer = w.document.active_layer
    a, b = widget_point(c, 40, 75), widget_point(c, 160, 75)
    assert abs(a.x() - b.x()) <= 1  # the document's horizontal is vertical on screen
    from qt_helpers import drag
    drag(c, [(40, 75), (160, 75)])
    alpha = layer.pixels[..., 3]
    assert (alpha[75, 45:155] > 0).all() and alpha[:60].max() == 0
    _key(w, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)  # fit works rotated: the whole page shows
    corners = [c.doc_to_widget(QPointF(x, y)) for x in (0, W) for y in (0, H)]
    assert all(0 <= q.x() <= c.width() and 0 <= q.y() <= c.height() for q in corners)
