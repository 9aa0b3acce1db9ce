"""A transparent widget over the canvas: the generation box, with a checkerboard and
progress while a layer is being generated there."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from editor.core.geometry import Rect
from editor.ui.qimage import checker_pixmap



class BoxOverlay(QWidget):
    """Draws ``box`` (document Rect or None); while ``busy`` fills it with a checkerboard
    and shows ``progress`` (0..1) and ``text``."""

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.setObjectName("ai-box-overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.box: Rect | None = None
        self.busy = False
        self.progress = 0.0
        self.text = ""
        self._checker = QBrush(checker_pixmap(light=(190, 190, 190), dark=(235, 235, 235)))
        self.setGeometry(canvas.rect())
        canvas.installEventFilter(self)
        canvas.zoom_changed.connect(lambda _z: self.update())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.canvas and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.canvas.rect())
        return False

    def show_box(self, box: Rect | None, busy: bool = False, progress: float = 0.0, text: str = "") -> None:
        self.box, self.busy, self.progress, self.text = box, busy, progress, text
        self.setVisible(box is not None)
        self.raise_()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.box is None:
            return
        r: QRectF = self.canvas.doc_rect_to_widget(self.box)
        p = QPainter(self)
        if self.busy:
            p.fillRect(r, self._checker)
            bar = QRectF(r.left(), r.bottom() - 6, r.width() * max(0.0, min(self.progress, 1.0)), 6)
            p.fillRect(bar, QColor(40, 120, 255))
        pen = QPen(QColor(40, 120, 255), 1, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(r.adjusted(0, 0, -1, -1))
        if self.text:
            p.setPen(QColor(20, 20, 20))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, self.text)
        p.end()
