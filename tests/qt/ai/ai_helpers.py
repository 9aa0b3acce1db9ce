"""Helpers for driving the AI features of the real window."""
from __future__ import annotations

import time

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from qt_helpers import drag, widget_point

RENDER_TIMEOUT = 60_000


def new_brush(win, prompt: str = "a red apple", box=(30, 30, 70, 70), steps: int = 2, guidance: float = 0.0):
    """New brush layer through the action, prompt typed in the dock, box dragged on the canvas."""
    ai = win.ai
    win.actions["ai-new-brush"].trigger()
    layer = win.document.active_layer
    dock = ai.brush_dock
    dock.steps.setValue(steps)
    dock.guidance.setValue(guidance)
    dock.prompt.setText(prompt)
    dock.prompt.editingFinished.emit()
    ai.brush_dock.mode_buttons["box"].click()
    x0, y0, x1, y1 = box
    drag(win.canvas, [(x0, y0), (x1, y1)])
    return layer


def wait_done(qtbot, win, layer, timeout=RENDER_TIMEOUT):
    settle(qtbot, win, timeout)
    assert layer.state == "done", layer.error


def settle(qtbot, win, timeout=RENDER_TIMEOUT):
    """Wait until the engine is idle and no brush render is scheduled (the controller's
    ``idle`` signal; a result that schedules more work is followed by another one)."""
    ctrl = win.ai.controller
    deadline = time.monotonic() + timeout / 1000
    while not ctrl.is_idle():
        left_ms = int((deadline - time.monotonic()) * 1000)
        assert left_ms > 0, "the engine did not become idle in time"
        with qtbot.waitSignal(ctrl.idle, timeout=left_ms):
            pass


def outside_band(region: np.ndarray, radius: int = 10) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(region, kernel) == 0


def alt_wheel(canvas, x, y, delta=-120):
    pos = QPointF(widget_point(canvas, x, y))
    ev = QWheelEvent(pos, QPointF(canvas.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, delta),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.AltModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, ev)
    return ev


def on_doc(layer, doc) -> np.ndarray:
    """A layer's pixels (stored cropped at an offset) placed on a document-size canvas."""
    out = np.zeros((doc.height, doc.width, 4), np.uint8)
    h, w = layer.pixels.shape[:2]
    x, y = layer.offset
    out[y:y + h, x:x + w] = layer.pixels
    return out
