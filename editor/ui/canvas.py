"""The canvas: paints the composite over a checkerboard, zooms, pans, feeds tools.

Zoom is in document pixels per *device* pixel, so 100% shows one image pixel per
screen pixel on high-DPI displays too; widget (logical) coordinates map to the
document with ``scale = zoom / devicePixelRatio``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QCursor,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPointingDevice,
    QPolygonF,
    QRegion,
    QTransform,
    QBitmap,
)
from PySide6.QtWidgets import QWidget

from editor.core.geometry import Rect

from .qimage import DisplayBuffer, checker_pixmap
from .tools.base import PointerEvent

if TYPE_CHECKING:
    from .session import Session
    from .tool_settings import ToolSettings
    from .tools.base import ToolRegistry

ZOOM_MIN, ZOOM_MAX = 0.02, 64.0
WHEEL_STEP = 1.25
BACKGROUND = QColor(58, 58, 62)



class Canvas(QWidget):
    """Shows the session's document and turns pointer input into tool events."""

    zoom_changed = Signal(float)
    rotation_changed = Signal(float)
    #: document position under the pointer (floats), or None when it left the canvas
    cursor_moved = Signal(object)
    #: local files dropped on the canvas, with the document position of the drop
    files_dropped = Signal(list, QPointF)
    #: an image (no file) dropped on the canvas
    image_dropped = Signal(QImage, QPointF)

    def __init__(self, session: "Session", settings: "ToolSettings", tools: "ToolRegistry",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.tools = tools
        self.setObjectName("canvas")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking)
        self.setMinimumSize(200, 150)
        self._checker = QBrush(checker_pixmap())
        self._zoom = 1.0
        self._angle = 0.0
        self._origin = QPointF(0, 0)
        self._needs_fit = True
        self._pending = Rect.empty()
        self._buffer: DisplayBuffer | None = None
        self._selection_path: QPainterPath | None = None
        self._hover: QPointF | None = None  # widget coordinates
        self._pan_from: QPointF | None = None
        self._space = False
        self._stroking = False
        self._stroke_tool = None
        self._ants_phase = 0
        self._ants = QTimer(self)
        self._ants.setInterval(150)
        self._ants.timeout.connect(self._march)
        self._doc = None
        session.document_replaced.connect(self._attach)
        settings.changed.connect(self._on_settings)
        tools.active_changed.connect(self._on_tool)
        self._attach(session.document)

    # ------------------------------------------------------------ document
    def _attach(self, doc) -> None:
        if self._doc is not None:
            self._doc.events.dirty.disconnect(self._on_dirty)
            self._doc.events.structure_changed.disconnect(self._on_structure)
            self._doc.events.selection_changed.disconnect(self._on_selection)
            tool = self._stroke_tool or self.tools.active
            if tool is not None:
                tool.cancel()
            self._stroking, self._stroke_tool = False, None
        self._doc = doc
        doc.events.dirty.connect(self._on_dirty)
        doc.events.structure_changed.connect(self._on_structure)
        doc.events.selection_changed.connect(self._on_selection)
        self._buffer = DisplayBuffer(doc.width, doc.height)
        self._pending = doc.rect
        self._on_selection()
        self._needs_fit = True
        if self.isVisible():
            self.fit()
        self.update()

    def _on_dirty(self, rect: Rect) -> None:
        rect = rect.intersect(self._doc.rect)
        if rect.is_empty:
            return
        self._pending = self._pending.union(rect)
        self.update(self.doc_rect_to_widget(rect).toAlignedRect().adjusted(-2, -2, 2, 2))

    def _on_structure(self) -> None:
        doc = self._doc
        if self._buffer is None or self._buffer.size != (doc.width, doc.height):
            self._buffer = DisplayBuffer(doc.width, doc.height)
            self._pending = doc.rect
            self.update()

    def _on_selection(self) -> None:
        sel = self._doc.selection
        self._selection_path = None if sel is None else _outline_path(sel)
        if self._selection_path is not None:
            self._ants.start()
        else:
            self._ants.stop()
        self.update()

    def _march(self) -> None:
        self._ants_phase = (self._ants_phase + 1) % 8
        if self._selection_path is not None:
            self.update(self.doc_rect_to_widget(self._path_bounds()).toAlignedRect().adjusted(-3, -3, 3, 3))

    def _path_bounds(self) -> Rect:
        r = self._selection_path.boundingRect()
        return Rect(int(r.x()), int(r.y()), int(r.width()) + 1, int(r.height()) + 1)

    def flush(self) -> None:
        """Bring the display buffer up to date with the document (done before painting)."""
        if self._pending.is_empty or self._buffer is None:
            return
        rect = self._pending.intersect(self._doc.rect)
        self._pending = Rect.empty()
        if not rect.is_empty:
            self._buffer.write(rect.x, rect.y, self.session.compositor.render(rect))

    def displayed_rgba(self) -> np.ndarray:
        """The premultiplied pixels the canvas shows (after flushing): for tests and screenshots."""
        self.flush()
        return self._buffer.array.copy()

    # ------------------------------------------------------------ view transform
    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def rotation(self) -> float:
        """View rotation in degrees, clockwise."""
        return self._angle

    @property
    def scale(self) -> float:
        """Widget (logical) pixels per document pixel."""
        return self._zoom / self.devicePixelRatioF()

    def _linear(self) -> QTransform:
        """Document -> widget without the translation: rotate(scale(p))."""
        t = QTransform()
        t.rotate(self._angle)
        t.scale(self.scale, self.scale)
        return t

    def view_transform(self) -> QTransform:
        """Document -> widget coordinates (use with ``painter.setTransform`` in overlays)."""
        t = QTransform()
        t.translate(self._origin.x(), self._origin.y())
        t.rotate(self._angle)
        t.scale(self.scale, self.scale)
        return t

    def doc_to_widget(self, p: QPointF) -> QPointF:
        return self.view_transform().map(QPointF(p))

    def widget_to_doc(self, p: QPointF) -> QPointF:
        inverse, _ok = self.view_transform().inverted()
        return inverse.map(QPointF(p))

    def doc_rect_to_widget(self, rect: Rect) -> QRectF:
        """The widget rect covering document ``rect`` (its bounding box when rotated)."""
        return self.view_transform().mapRect(QRectF(rect.x, rect.y, rect.w, rect.h))

    def _keep(self, doc_pt: QPointF, anchor: QPointF) -> None:
        """Choose the origin so that ``doc_pt`` shows at widget point ``anchor``."""
        self._origin = QPointF(anchor) - self._linear().map(QPointF(doc_pt))

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the document point under ``anchor`` (widget coords) in place."""
        zoom = min(max(zoom, ZOOM_MIN), ZOOM_MAX)
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else QPointF(anchor)
        doc_pt = self.widget_to_doc(anchor)
        self._zoom = zoom
        self._keep(doc_pt, anchor)
        self._needs_fit = False
        self.zoom_changed.emit(zoom)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self._zoom * factor, anchor)

    def set_rotation(self, degrees: float, anchor: QPointF | None = None) -> None:
        """Rotate the view (not the image) about ``anchor`` (default: the view centre)."""
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else QPointF(anchor)
        doc_pt = self.widget_to_doc(anchor)
        self._angle = ((degrees + 180.0) % 360.0) - 180.0
        self._keep(doc_pt, anchor)
        self.rotation_changed.emit(self._angle)
        self.update()

    def rotate_by(self, degrees: float) -> None:
        self.set_rotation(self._angle + degrees)

    def fit(self) -> None:
        """Fit the whole (possibly rotated) document in the view, centred (Ctrl+0)."""
        doc = self._doc
        margin = 16
        w, h = max(self.width() - 2 * margin, 1), max(self.height() - 2 * margin, 1)
        turn = QTransform()
        turn.rotate(self._angle)
        box = turn.mapRect(QRectF(0, 0, doc.width, doc.height))
        scale = min(w / box.width(), h / box.height())
        self._zoom = min(max(scale * self.devicePixelRatioF(), ZOOM_MIN), ZOOM_MAX)
        self._center()
        self._needs_fit = False
        self.zoom_changed.emit(self._zoom)
        self.update()

    def actual_size(self) -> None:
        """100%: one document pixel per device pixel, centred (Ctrl+1)."""
        self._zoom = 1.0
        self._center()
        self._needs_fit = False
        self.zoom_changed.emit(self._zoom)
        self.update()

    def _center(self) -> None:
        self._keep(QPointF(self._doc.width / 2, self._doc.height / 2), QPointF(self.width() / 2, self.height() / 2))
        if self._angle == 0:
            # Whole pixels: at 100% every document pixel then lands exactly on a screen pixel.
            self._origin = QPointF(round(self._origin.x()), round(self._origin.y()))

    def pan(self, dx: float, dy: float) -> None:
        self._origin += QPointF(dx, dy)
        self.update()

    # ------------------------------------------------------------ painting
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._needs_fit:
            self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._needs_fit:
            self.fit()

    def paintEvent(self, event) -> None:
        self.flush()
        p = QPainter(self)
        exposed = QRectF(event.rect())
        p.fillRect(exposed, BACKGROUND)
        view = self.view_transform()
        page = QPainterPath()
        page.addPolygon(view.map(QPolygonF(QRectF(0, 0, self._doc.width, self._doc.height))))
        p.setBrushOrigin(self._origin)
        p.fillPath(page, self._checker)  # widget-space cells: the same size at any zoom
        # Draw only the exposed document pixels, aligned to whole pixels.
        inverse, _ok = view.inverted()
        area = inverse.mapRect(exposed)
        src = Rect.from_bounds(int(np.floor(area.left())), int(np.floor(area.top())),
                               int(np.ceil(area.right())), int(np.ceil(area.bottom())))
        src = src.intersect(self._doc.rect)
        if not src.is_empty:
            p.save()
            smooth = self._zoom < 1.0 or self._angle % 90 != 0
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            p.setTransform(view)
            r = QRectF(src.x, src.y, src.w, src.h)
            p.drawImage(r, self._buffer.image, r)
            p.restore()
        self._paint_selection(p)
        tool = self.tools.active
        if tool is not None:
            tool.draw_overlay(p, self)
            if tool.outline and self._hover is not None and self._pan_from is None:
                self._paint_outline(p)
        p.end()

    def _paint_selection(self, p: QPainter) -> None:
        if self._selection_path is None:
            return
        p.save()
        p.setTransform(self.view_transform())
        for color, offset in ((QColor(0, 0, 0), 0), (QColor(255, 255, 255), 4)):
            pen = QPen(color, 0)  # cosmetic: one device pixel wide at any zoom
            pen.setDashPattern([4, 4])
            pen.setDashOffset(self._ants_phase + offset)
            p.setPen(pen)
            p.drawPath(self._selection_path)
        p.restore()

    def brush_outline_rect(self) -> QRectF:
        """Widget rect of the brush outline circle at the pointer."""
        d = self.settings.size * self.scale
        c = self._hover or QPointF()
        return QRectF(c.x() - d / 2, c.y() - d / 2, d, d)

    def _paint_outline(self, p: QPainter) -> None:
        r = self.brush_outline_rect()
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(0, 0, 0, 160), 1.5))
        p.drawEllipse(r)
        p.setPen(QPen(QColor(255, 255, 255, 200), 0.75))
        p.drawEllipse(r)

    def _update_outline(self, old: QPointF | None) -> None:
        tool = self.tools.active
        if tool is None or not tool.outline:
            return
        for c in (old, self._hover):
            if c is not None:
                d = self.settings.size * self.scale / 2 + 4
                self.update(QRectF(c.x() - d, c.y() - d, 2 * d, 2 * d).toAlignedRect())

    def _on_settings(self, name: str) -> None:
        if name == "size":
            self.update()

    def _on_tool(self, tool_id: str) -> None:
        tool = self.tools.active
        self.setCursor(QCursor(tool.cursor))
        self.update()

    # ------------------------------------------------------------ input
    def _pointer(self, pos: QPointF, pressure: float, button, modifiers) -> PointerEvent:
        d = self.widget_to_doc(pos)
        return PointerEvent(d.x(), d.y(), float(pressure), button, modifiers)

    def _panning_press(self, button, pos: QPointF) -> bool:
        if button == Qt.MouseButton.MiddleButton or (self._space and button == Qt.MouseButton.LeftButton):
            self._pan_from = QPointF(pos)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        return False

    def _end_pan(self) -> None:
        self._pan_from = None
        tool = self.tools.active
        self.setCursor(Qt.CursorShape.OpenHandCursor if self._space else QCursor(tool.cursor if tool else Qt.CursorShape.ArrowCursor))

    def _set_hover(self, pos: QPointF | None) -> None:
        old, self._hover = self._hover, pos
        self._update_outline(old)
        self.cursor_moved.emit(None if pos is None else self.widget_to_doc(pos))

    def _press(self, pos: QPointF, pressure: float, button, modifiers, eraser_end: bool = False) -> None:
        self.setFocus()
        if self._panning_press(button, pos):
            return
        tool = self.tools.active
        if eraser_end and tool is not None and tool.id == "brush":
            tool = self.tools.get("eraser")  # the pen's eraser end erases, as in other editors
        if button == Qt.MouseButton.LeftButton and tool is not None:
            self._stroking = True
            self._stroke_tool = tool
            self._run_tool(tool.press, self._pointer(pos, pressure, button, modifiers))

    def _move(self, pos: QPointF, pressure: float, buttons, modifiers) -> None:
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = QPointF(pos)
            self.pan(delta.x(), delta.y())
            return
        self._set_hover(QPointF(pos))
        tool = self._stroke_tool if self._stroking else self.tools.active
        if tool is None:
            return
        ev = self._pointer(pos, pressure, Qt.MouseButton.NoButton, modifiers)
        self._run_tool(tool.move if self._stroking else tool.hover, ev)

    def _release(self, pos: QPointF, pressure: float, button, modifiers) -> None:
        if self._pan_from is not None and button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._end_pan()
            return
        tool = self._stroke_tool
        if button == Qt.MouseButton.LeftButton and self._stroking and tool is not None:
            self._stroking = False
            self._stroke_tool = None
            self._run_tool(tool.release, self._pointer(pos, pressure, button, modifiers))

    def _run_tool(self, handler, ev: PointerEvent) -> None:
        try:
            handler(ev)
        except Exception as exc:  # a tool error must not kill the event loop
            tool = self._stroke_tool or self.tools.active
            self._stroking, self._stroke_tool = False, None
            tool.cancel()
            self.tools.host.show_error("Tool error", str(exc))

    def mousePressEvent(self, event) -> None:
        self._press(event.position(), 1.0, event.button(), event.modifiers())

    def mouseMoveEvent(self, event) -> None:
        self._move(event.position(), 1.0, event.buttons(), event.modifiers())

    def mouseReleaseEvent(self, event) -> None:
        self._release(event.position(), 1.0, event.button(), event.modifiers())

    def tabletEvent(self, event) -> None:
        # Accepting stops Qt from synthesising the matching mouse event.
        t, pos, pressure = event.type(), event.position(), event.pressure()
        if t == QEvent.Type.TabletPress:
            eraser = event.pointerType() == QPointingDevice.PointerType.Eraser
            self._press(pos, pressure, event.button(), event.modifiers(), eraser)
        elif t == QEvent.Type.TabletMove:
            self._move(pos, pressure, event.buttons(), event.modifiers())
        elif t == QEvent.Type.TabletRelease:
            self._release(pos, pressure, event.button(), event.modifiers())
        event.accept()

    def leaveEvent(self, event) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            pd = event.pixelDelta()
            self.pan(pd.x(), pd.y())
        else:
            self.zoom_by(WHEEL_STEP ** (delta / 120.0), event.position())
        event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            if self._pan_from is None:
                self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() == Qt.Key.Key_Escape and self.tools.active is not None:
            (self._stroke_tool or self.tools.active).cancel()
            self._stroking, self._stroke_tool = False, None
            self.update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self._end_pan()
            return
        super().keyReleaseEvent(event)

    # ------------------------------------------------------------ drops
    def dragEnterEvent(self, event) -> None:
        md = event.mimeData()
        if md.hasUrls() or md.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        md = event.mimeData()
        pos = self.widget_to_doc(event.position())
        files = [Path(u.toLocalFile()) for u in md.urls() if u.isLocalFile()]
        if files:
            self.files_dropped.emit(files, pos)
        elif md.hasImage():
            self.image_dropped.emit(QImage(md.imageData()), pos)
        else:
            return
        event.acceptProposedAction()


def _outline_path(selection: np.ndarray) -> QPainterPath | None:
    """The outline of a selection mask (>= 50%) as a path in document coordinates."""
    on = selection >= 128
    if not on.any():
        return None
    h, w = on.shape
    padded = np.zeros((h, (w + 31) // 32 * 32), bool)  # rows of whole 32-bit words
    padded[:, :w] = on
    bits = np.packbits(padded, axis=1, bitorder="big")
    img = QImage(bits.data, w, h, bits.shape[1], QImage.Format.Format_Mono).copy()
    img.setColorTable([0xFFFFFFFF, 0xFF000000])
    # Black (1) bits form the region; QRegion(QBitmap) keeps the set pixels.
    region = QRegion(QBitmap.fromImage(img))
    path = QPainterPath()
    path.addRegion(region)
    return path.simplified()
