"""Expand Canvas tool: drag a canvas edge (or corner) outward; on release the canvas grows
there and the new area is generated from the picture around it (an expand layer)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from ..tools.base import PointerEvent, Tool

#: how near an edge (screen pixels) a press grabs it
GRAB_PX = 24


class ExpandTool(Tool):
    id = "ai-expand"
    name = "Expand Canvas"
    shortcut = ""
    cursor = Qt.CursorShape.SizeAllCursor

    def __init__(self, host) -> None:
        super().__init__(host)
        self.verbs = None  # set by AiVerbs
        self._edges: tuple[bool, bool, bool, bool] | None = None  # left, top, right, bottom
        self._start = None
        self._amounts = (0, 0, 0, 0)

    def press(self, ev: PointerEvent) -> None:
        doc = self.document
        grab = GRAB_PX / max(self.host.canvas.scale, 1e-6)
        edges = (abs(ev.x) <= grab, abs(ev.y) <= grab, abs(ev.x - doc.width) <= grab, abs(ev.y - doc.height) <= grab)
        if not any(edges):
            self.host.show_message("Drag an edge or a corner of the canvas outward to expand it")
            return
        self._edges, self._start, self._amounts = edges, (ev.x, ev.y), (0, 0, 0, 0)

    def move(self, ev: PointerEvent) -> None:
        if self._edges is None:
            return
        dx, dy = ev.x - self._start[0], ev.y - self._start[1]
        left, top, right, bottom = self._edges
        self._amounts = (max(0, round(-dx)) if left else 0, max(0, round(-dy)) if top else 0,
                         max(0, round(dx)) if right else 0, max(0, round(dy)) if bottom else 0)
        self.host.canvas.update()
        self.host.show_message("Expand by " + ", ".join(f"{n} {s}" for n, s in zip(
            self._amounts, ("left", "top", "right", "bottom")) if n), 2000)

    def release(self, ev: PointerEvent) -> None:
        if self._edges is None:
            return
        self.move(ev)
        amounts, self._edges = self._amounts, None
        self.host.canvas.update()
        if any(amounts) and self.verbs is not None:
            self.verbs.change_canvas(*amounts, ai_fill=True, prompt=self.verbs.typed_prompt())

    def cancel(self) -> None:
        self._edges = None
        self.host.canvas.update()

    def draw_overlay(self, painter: QPainter, canvas) -> None:
        if self._edges is None or not any(self._amounts):
            return
        left, top, right, bottom = self._amounts
        doc = self.document
        painter.save()
        painter.setTransform(canvas.view_transform(), True)
        painter.setBrush(QColor(80, 140, 255, 50))
        painter.setPen(QPen(QColor(80, 140, 255), 0, Qt.PenStyle.DashLine))
        painter.drawRect(QRectF(-left, -top, doc.width + left + right, doc.height + top + bottom))
        painter.restore()
