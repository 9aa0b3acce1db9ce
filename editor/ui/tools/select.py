"""Selection tools: rectangle, ellipse, freehand (lasso), with feather.

Shift adds to the selection, Alt subtracts, Shift+Alt intersects. A click without
a drag deselects. Shapes are rasterised antialiased by Qt, so edges are smooth.
The magic wand selects by colour (the active layer's, contiguous, within the fill
tolerance).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF

from editor.core.layers import RasterLayer
from editor.core.selection import color_mask, combine, feather

from .base import PointerEvent, Tool

_MOD = Qt.KeyboardModifier


def rasterize(path: QPainterPath, width: int, height: int) -> np.ndarray:
    """An HxW uint8 mask of ``path`` (document coordinates), antialiased."""
    img = QImage(width, height, QImage.Format.Format_Grayscale8)
    img.fill(0)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.fillPath(path, QColor(255, 255, 255))
    p.end()
    bpl = img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=bpl * height).reshape(height, bpl)[:, :width].copy()


def combine_mode(modifiers) -> str:
    """Photoshop convention: Shift adds, Alt subtracts, both intersect."""
    add, sub = bool(modifiers & _MOD.ShiftModifier), bool(modifiers & _MOD.AltModifier)
    return "intersect" if add and sub else "add" if add else "subtract" if sub else "replace"


class _SelectTool(Tool, ABC):
    label = "Select"

    def __init__(self, host) -> None:
        super().__init__(host)
        self._points: list[QPointF] = []

    @abstractmethod
    def shape(self, points: list[QPointF]) -> QPainterPath:
        """The selection outline for the dragged points."""

    def is_shape(self, points: list[QPointF], box: QRectF) -> bool:
        """False for a click (which deselects)."""
        return len(points) >= 2 and box.width() >= 1 and box.height() >= 1

    def press(self, ev: PointerEvent) -> None:
        self._points = [ev.pos]
        self._modifiers = ev.modifiers

    def move(self, ev: PointerEvent) -> None:
        if self._points:
            self._add_point(ev.pos)
            self.host.canvas.update()

    def _add_point(self, p: QPointF) -> None:
        if len(self._points) < 2:
            self._points.append(p)
        else:
            self._points[-1] = p

    def release(self, ev: PointerEvent) -> None:
        if not self._points:
            return
        self._add_point(ev.pos)
        points, self._points = self._points, []
        self.host.canvas.update()
        doc = self.document
        path = self.shape(points)
        box = path.boundingRect()
        if not self.is_shape(points, box):
            if doc.selection is not None and not (self._modifiers & (_MOD.ShiftModifier | _MOD.AltModifier)):
                doc.set_selection(None, "Deselect")
            return
        mask = rasterize(path, doc.width, doc.height)
        radius = self.settings.feather
        if radius > 0:
            mask = feather(mask, radius)
        doc.set_selection(combine(doc.selection, mask, combine_mode(self._modifiers)), self.label)

    def cancel(self) -> None:
        self._points = []
        self.host.canvas.update()

    def draw_overlay(self, painter: QPainter, canvas) -> None:
        if len(self._points) < 2:
            return
        painter.save()
        painter.setTransform(canvas.view_transform(), True)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(80, 140, 255, 40))
        painter.setPen(QPen(QColor(80, 140, 255), 0, Qt.PenStyle.DashLine))
        painter.drawPath(self.shape(self._points))
        painter.restore()


class RectSelectTool(_SelectTool):
    id = "select-rect"
    name = "Rectangle Select"
    shortcut = "M"
    label = "Rectangle select"

    def shape(self, points):
        path = QPainterPath()
        path.addRect(QRectF(points[0], points[-1]).normalized())
        return path


class EllipseSelectTool(_SelectTool):
    id = "select-ellipse"
    name = "Ellipse Select"
    shortcut = "M"
    label = "Ellipse select"

    def shape(self, points):
        path = QPainterPath()
        path.addEllipse(QRectF(points[0], points[-1]).normalized())
        return path


class FreehandSelectTool(_SelectTool):
    id = "select-freehand"
    name = "Freehand Select"
    shortcut = "M"
    label = "Freehand select"

    def _add_point(self, p: QPointF) -> None:
        last = self._points[-1]
        if abs(p.x() - last.x()) + abs(p.y() - last.y()) >= 1.0:
            self._points.append(p)

    def is_shape(self, points, box) -> bool:
        return len(points) >= 3 and super().is_shape(points, box)

    def shape(self, points):
        path = QPainterPath()
        path.addPolygon(QPolygonF(points))
        path.closeSubpath()
        return path


class MagicWandTool(Tool):
    """Select the contiguous area of similar colour in the active layer (W)."""

    id = "select-color"
    name = "Select by Colour"
    shortcut = "W"

    def press(self, ev: PointerEvent) -> None:
        doc = self.document
        x, y = int(np.floor(ev.x)), int(np.floor(ev.y))
        if not (0 <= x < doc.width and 0 <= y < doc.height):
            return
        layer = doc.active_layer
        if isinstance(layer, RasterLayer):
            # The layer's pixels, placed in document space (transparent outside it).
            src = np.zeros((doc.height, doc.width, 4), np.uint8)
            area = layer.bounds().intersect(doc.rect)
            if not area.is_empty:
                src[area.slices] = layer.pixels[area.translate(-layer.offset[0], -layer.offset[1]).slices]
        else:
            src = self.host.session.compositor.render()
        mask = color_mask(src, x, y, self.settings.tolerance, contiguous=True)
        if self.settings.feather > 0:
            mask = feather(mask, self.settings.feather)
        doc.set_selection(combine(doc.selection, mask, combine_mode(ev.modifiers)), "Select by colour")
