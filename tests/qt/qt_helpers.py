"""Helpers for the Qt tests: a recording dialogs object, a small document, mouse drags."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from editor.core.document import Document
from editor.core.layers import RasterLayer

W, H = 200, 150


class RecordingDialogs:
    """Stands in for the modal dialogs: records what the window shows, answers as told."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.save_answer = "discard"
        self.recover_answer = True
        self.recover_asked = []
        self.new_size_asked = []
        self.next_save_path = None
        self.next_open_path = None

    def error(self, title, text):
        self.errors.append((title, text))

    def info(self, title, text):
        self.infos.append((title, text))

    def ask_save_changes(self, name):
        return self.save_answer

    def ask_recover(self, entries):
        self.recover_asked.append(list(entries))
        return self.recover_answer

    def open_path(self):
        return self.next_open_path

    def open_paths(self, title=""):
        return [self.next_open_path] if self.next_open_path else []

    def save_path(self, title="", suggested="", file_filter=""):
        return self.next_save_path

    def ask_new_size(self, width, height, note=""):
        self.new_size_asked.append((width, height, note))
        return (width, height)


def make_document() -> Document:
    doc = Document(W, H)
    white = np.full((H, W, 4), 255, np.uint8)
    doc.root._insert(0, RasterLayer("Background", white))
    paint = RasterLayer("Paint", np.zeros((H, W, 4), np.uint8))
    doc.root._insert(1, paint)
    doc.active_layer = paint
    return doc


def widget_point(canvas, x: float, y: float) -> QPoint:
    """The canvas widget position of document point (x, y) (pixel centres: +0.5)."""
    p = canvas.doc_to_widget(QPointF(x + 0.5, y + 0.5))
    return QPoint(math.floor(p.x()), math.floor(p.y()))


def drag(canvas, points, modifier=Qt.KeyboardModifier.NoModifier, steps: int = 8):
    """Press at the first document point, move through the others, release at the last."""
    wp = [widget_point(canvas, x, y) for x, y in points]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, modifier, wp[0])
    prev = wp[0]
    for p in wp[1:]:
        for i in range(1, steps + 1):
            q = prev + (p - prev) * (i / steps)
            QTest.mouseMove(canvas, q)
        prev = p
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, modifier, wp[-1])
