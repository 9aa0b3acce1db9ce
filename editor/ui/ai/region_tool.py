"""The canvas tool that edits a diffusion brush layer's region: paint, erase or drag a box.

Paint and erase are strokes of editor.core.paint (the dab machinery of pixel painting) on
the region (target "region"): dabs change the region in place, each announcing its rectangle
(the brush re-renders a preview), and the stroke is one undo step holding only the rectangle
it changed. A box drag edits in place the same way and records its rectangle on release.
Size and hardness are the brush dock's.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from editor.core.commands import PixelCommand
from editor.core.geometry import Rect
from editor.core.layers import BrushLayer
from editor.core.paint import Brush, Stroke

from ..tools.base import PointerEvent, Tool

MODES = ("paint", "erase", "box")
TINT = (255, 96, 0)
LABELS = {"paint": "Paint brush region", "erase": "Erase brush region", "box": "Box brush region"}


def _box_bounds(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Rect:
    ax, bx = sorted((int(round(x0)), int(round(x1))))
    ay, by = sorted((int(round(y0)), int(round(y1))))
    return Rect.from_bounds(max(ax, 0), max(ay, 0), min(max(bx, 0), w), min(max(by, 0), h))


class RegionTool(Tool):
    """Edits the active brush layer's region; ``mode`` is "paint", "erase" or "box"."""

    id = "ai-region"
    name = "Brush Region"
    shortcut = ""
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, host) -> None:
        super().__init__(host)
        self.mode = "paint"
        self.size = 24.0
        self.hardness = 0.7
        self._layer: BrushLayer | None = None
        self._stroke: Stroke | None = None
        self._start: QPointF | None = None
        self._hover: QPointF | None = None
        # box drags: the region before the drag (only its changed rectangles are restored),
        # whether it was None, the box shown and everything the drag touched
        self._before: np.ndarray | None = None
        self._was_none = False
        self._box_rect: Rect | None = None
        self._touched = Rect.empty()
        self._tint_key = None
        self._tint: QImage | None = None
        self._tint_buf: np.ndarray | None = None  # the premultiplied pixels behind _tint
        # region rectangles changed in place since the overlay was last brought up to date
        # (a full rebuild costs ~270 ms at 4096 px); None: nothing pending
        self._dirty: Rect | None = None
        self._watched = None

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"region tool mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    # ------------------------------------------------------------------ drag
    def press(self, ev: PointerEvent) -> None:
        layer = self.document.active_layer
        if not isinstance(layer, BrushLayer):
            self.host.show_message("Select a diffusion brush layer first (Layer > AI > New Brush Layer)")
            return
        if layer.locked:
            self.host.show_message(f"Layer {layer.name!r} is locked")
            return
        doc = self.document
        self._watch(doc)
        self._layer = layer
        self._start = ev.pos
        if self.mode == "box":
            self._was_none = layer.region is None
            if self._was_none:
                layer.region = np.zeros((doc.height, doc.width), np.uint8)  # recorded on release
            self._before = layer.region.copy()
            self._box_rect, self._touched = None, Rect.empty()
            self._box_to(ev)
        else:
            brush = Brush(size=float(self.size), hardness=float(self.hardness), color=(255, 255, 255, 255),
                          erase=self.mode == "erase", spacing=0.2, pressure_size=False)
            self._stroke = Stroke(doc, layer, brush, target="region", label=LABELS[self.mode])
            self._stroke.dab(ev.x, ev.y)
            self.host.canvas.update()

    def move(self, ev: PointerEvent) -> None:
        if self._layer is None:
            return
        self._hover = ev.pos
        if self.mode == "box" and self._stroke is None:
            self._box_to(ev)
            return
        if self._stroke is not None:
            self._stroke.dab(ev.x, ev.y)
            self.host.canvas.update()

    def release(self, ev: PointerEvent) -> None:
        if self._layer is None:
            return
        self.move(ev)
        layer, stroke = self._layer, self._stroke
        if layer.document is not self.document:
            self._reset()
            return
        if stroke is not None:
            stroke.end()  # one step: the rectangle the stroke changed
        else:
            self._end_box(layer)
        self._reset()

    def cancel(self) -> None:
        layer = self._layer
        if layer is not None and layer.document is self.document:
            if self._stroke is not None:
                self._stroke.cancel()
            elif self._before is not None:
                self._restore(layer, self._touched)
                if self._was_none:
                    layer.region = None
        self._reset()

    def _reset(self) -> None:
        self._layer = self._stroke = self._start = self._before = self._box_rect = None
        self._touched = Rect.empty()
        self._was_none = False

    def _restore(self, layer: BrushLayer, rect: Rect) -> None:
        if not rect.is_empty:
            layer.region[rect.slices] = self._before[rect.slices]

    def _box_to(self, ev: PointerEvent) -> None:
        layer, doc = self._layer, self.document
        region = layer.region
        h, w = region.shape
        additive = bool(ev.modifiers & Qt.KeyboardModifier.ShiftModifier) and not self._was_none
        changed = Rect.empty()
        if self._box_rect is None:
            if not additive and self._before.any():
                # a plain box replaces the region: clear what was there (its bounding box)
                ys, xs = np.nonzero(self._before.any(axis=1))[0], np.nonzero(self._before.any(axis=0))[0]
                changed = Rect.from_bounds(int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
                region[changed.slices] = 0
        else:
            # only the old and the new box change: put back what was under the old one
            old = self._box_rect
            region[old.slices] = self._before[old.slices] if additive else 0
            changed = old
        new = _box_bounds(self._start.x(), self._start.y(), ev.x, ev.y, w, h)
        if not new.is_empty:
            region[new.slices] = 255
        self._box_rect = new
        changed = changed.union(new)
        self._touched = self._touched.union(changed)
        if not changed.is_empty:
            doc.notify_region(layer, changed)
        self.host.canvas.update()

    def _end_box(self, layer: BrushLayer) -> None:
        doc, region, r = self.document, layer.region, self._touched
        if self._was_none:
            layer.region = None
            if region.any():
                doc.set_layer_property(layer, "region", region, label=LABELS["box"])
            return
        if r.is_empty:
            return
        before, after = self._before[r.slices], region[r.slices]
        diff = before != after
        rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
        if rows.size == 0:
            return
        tight = Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1).translate(r.x, r.y)
        doc.history.push(PixelCommand(doc, layer, "region", tight, self._before[tight.slices].copy(),
                                      region[tight.slices].copy(), LABELS["box"]))

    # ------------------------------------------------------------------ overlay upkeep
    def _watch(self, doc) -> None:
        """Follow in-place region changes (strokes, undo/redo) so the overlay redraws only them."""
        if self._watched is doc:
            return
        if self._watched is not None:
            self._watched.events.region_changed.disconnect(self._on_region_changed)
        doc.events.region_changed.connect(self._on_region_changed)
        self._watched = doc

    def _on_region_changed(self, layer, rect) -> None:
        rect = Rect.coerce(rect)
        self._dirty = rect if self._dirty is None else self._dirty.union(rect)

    def hover(self, ev: PointerEvent) -> None:
        self._hover = ev.pos
        self.host.canvas.update()

    # ------------------------------------------------------------------ overlay
    def draw_overlay(self, painter: QPainter, canvas) -> None:
        layer = self.document.active_layer
        if isinstance(layer, BrushLayer) and layer.region is not None:
            tint = self._tint_image(layer.region)
            painter.save()
            painter.setTransform(canvas.view_transform(), True)  # follows zoom, pan and rotation
            painter.drawImage(QRectF(0, 0, tint.width(), tint.height()), tint)
            painter.restore()
        if self._hover is not None and self.mode != "box":
            c = canvas.doc_to_widget(self._hover)
            r = self.size / 2.0 * canvas.scale
            painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(c, r, r)

    def _tint_image(self, region: np.ndarray) -> QImage:
        self._watch(self.document)
        key = (id(region), region.shape)
        h, w = region.shape
        dirty, self._dirty = self._dirty, None
        if key == self._tint_key and self._tint_buf is not None and self._tint_buf.shape[:2] == (h, w):
            if dirty is not None:  # the same array changed in place: redraw those pixels only
                d = dirty.clip(w, h)
                if not d.is_empty:
                    _tint_into(self._tint_buf[d.slices], region[d.slices])
            return self._tint
        self._tint_buf = np.empty((h, w, 4), np.uint8)
        _tint_into(self._tint_buf, region)
        # QImage over the buffer itself (no copy): later partial updates show at once
        self._tint = QImage(self._tint_buf.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
        self._tint_key = key
        return self._tint


def _tint_into(argb: np.ndarray, region: np.ndarray) -> None:
    """Premultiplied BGRA (Format_ARGB32_Premultiplied) of the region's orange overlay."""
    a = (region.astype(np.uint16) * 90 // 255).astype(np.uint16)
    for i, c in enumerate(TINT):
        argb[..., 2 - i] = (a * c // 255).astype(np.uint8)
    argb[..., 3] = a.astype(np.uint8)
