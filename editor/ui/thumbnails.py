"""Small previews of layers and masks for the Layers panel."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap

from .qimage import rgba_to_qimage

THUMB = 36


def _downsample(arr: np.ndarray, size: int) -> np.ndarray:
    h, w = arr.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / (size * 2))))
    return arr[::step, ::step]  # cheap pre-shrink; Qt smooths the rest


def _frame(image: QImage, size: int, highlight: bool = False) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor(200, 200, 200))
    p = QPainter(pm)
    cell = 6
    for y in range(0, size, cell):
        for x in range(0, size, cell):
            if (x // cell + y // cell) % 2 == 0:
                p.fillRect(x, y, cell, cell, QColor(255, 255, 255))
    if not image.isNull():
        scaled = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)
        p.drawImage((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    if highlight:  # this is what the brushes paint
        pen = QPen(QColor(255, 150, 40))
        pen.setWidth(3)
        p.setPen(pen)
        p.drawRect(1, 1, size - 3, size - 3)
    else:
        p.setPen(QColor(90, 90, 90))
        p.drawRect(0, 0, size - 1, size - 1)
    p.end()
    return pm


def rgba_thumbnail(rgba: np.ndarray, size: int = THUMB) -> QPixmap:
    if rgba.size == 0:
        return _frame(QImage(), size)
    return _frame(rgba_to_qimage(_downsample(rgba, size)), size)


def mask_thumbnail(mask: np.ndarray, size: int = THUMB, highlight: bool = False) -> QPixmap:
    small = np.ascontiguousarray(_downsample(mask, size))
    rgba = np.empty(small.shape + (4,), np.uint8)
    rgba[..., :3] = small[..., None]
    rgba[..., 3] = 255
    return _frame(rgba_to_qimage(rgba), size, highlight)


def lock_icon(locked: bool, size: int = 16) -> QPixmap:
    """A small padlock, drawn so no icon theme or emoji font is needed."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(60, 60, 60) if locked else QColor(170, 170, 170)
    pen = QPen(color)
    pen.setWidthF(1.6)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    # shackle: closed when locked, swung open when not
    shift = 0 if locked else 4
    p.drawArc(4 + shift, 1, 8, 10, 0, 180 * 16)
    p.drawLine(4 + shift, 6, 4 + shift, 8)
    if locked:
        p.drawLine(12, 6, 12, 8)
    p.setBrush(color)
    p.drawRoundedRect(2, 7, 12, 8, 1.5, 1.5)
    p.end()
    return pm
