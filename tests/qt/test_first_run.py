"""The first minutes with the real window at its default size: focus after Enter, room for
the docks when Generate Layer opens."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from qt_helpers import RecordingDialogs


@pytest.fixture
def default_window(qtbot):
    """The window as a user first sees it: default size, default document."""
    from editor.ui.main_window import MainWindow

    win = MainWindow(dialogs=RecordingDialogs(), autosave_ms=0)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.session.mark_saved()
    win.close()


def test_enter_in_a_prompt_gives_the_keyboard_back_to_the_canvas(qtbot, default_window):
    win = default_window
    for prompt in (win.ai.show_generate_panel().prompt, win.ai.brush_dock.prompt):
        prompt.setEnabled(True)
        prompt.setFocus()
        qtbot.waitUntil(prompt.hasFocus, timeout=2000)
        QTest.keyClicks(prompt, "a red apple")
        QTest.keyClick(prompt, Qt.Key.Key_Return)
        assert QApplication.focusWidget() is win.canvas
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_E)  # the eraser's shortcut
        assert win.tools.active.id == "eraser" and prompt.text() == "a red apple"
        win.tools.activate("brush")


def test_generate_layer_leaves_the_layers_panel_and_the_canvas_their_room(qtbot, default_window):
    win = default_window
    for _ in range(6):
        win.layers_panel.buttons["add"].click()
    QApplication.processEvents()
    view = win.layers_panel.view
    row = view.sizeHintForRow(0)
    rows_before = view.viewport().height() / row
    canvas_before = win.canvas.width()
    win.ai.show_generate_panel()
    for _ in range(5):
        QApplication.processEvents()
    dock = win.docks["ai-generate"]
    assert dock.isVisible() and win.ai.generate_panel.isVisible()
    rows = view.viewport().height() / row
    assert rows >= 6, f"the Layers panel shows {rows:.1f} rows with Generate Layer open"
    assert rows >= rows_before - 0.5
    assert win.canvas.width() >= canvas_before - 5 and win.canvas.width() >= 0.45 * win.width()
    right = dock.geometry().right()
    assert right <= win.width() and win.canvas.geometry().right() < dock.geometry().left()
    # its form scrolls rather than forcing the dock (and the window side) wider or taller
    assert dock.minimumSizeHint().width() <= 320 and dock.minimumSizeHint().height() <= 300


def test_the_tool_box_has_every_tool_and_follows_the_active_one(qtbot, default_window):
    from PySide6.QtWidgets import QToolBar, QToolButton

    win = default_window
    box = win.findChild(QToolBar, "toolbox")
    assert box is not None and box.isVisible() and box.orientation() == Qt.Orientation.Vertical
    assert win.toolBarArea(box) == Qt.ToolBarArea.LeftToolBarArea
    ids = [a.objectName().removeprefix("tool-") for a in box.actions() if a.objectName().startswith("tool-")]
    assert ids[:10] == ["brush", "eraser", "mask-brush", "select-rect", "select-ellipse", "select-freehand",
                        "select-color", "move", "eyedropper", "fill"]
    assert "ai-region" in ids  # tools registered later (AI, plugins) get buttons too
    for action in box.actions():
        assert not action.icon().isNull() and not action.icon().pixmap(24, 24).isNull()
    assert box.actions()[1].toolTip() == "Eraser (E)"

    eraser = box.findChild(QToolButton, "toolbox-eraser")
    QTest.mouseClick(eraser, Qt.MouseButton.LeftButton)
    assert win.tools.active.id == "eraser" and eraser.isChecked()
    win.canvas.setFocus()
    QTest.keyClick(win.canvas, Qt.Key.Key_V)  # a shortcut checks the tool's button
    assert win.tools.active.id == "move"
    assert box.findChild(QToolButton, "toolbox-move").isChecked() and not eraser.isChecked()
    win.menu("Window").actions()  # the tool box can be hidden from the Window menu
    assert box.toggleViewAction() in win.menu("Window").actions()


def test_a_plugin_tool_without_an_icon_gets_its_initials(default_window):
    from editor.ui.tools.base import Tool

    class Smudge(Tool):
        id, name, shortcut = "smudge-plugin", "Smudge Tool", ""

    default_window.register_tool(Smudge)
    action = default_window.actions["tool-smudge-plugin"]
    assert action in default_window.toolbox.actions() and not action.icon().isNull()
    assert action.toolTip() == "Smudge Tool"
