"""Conversions between numpy RGBA arrays (straight alpha, the document's format) and QImage."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """A QImage owning a copy of HxWx4 uint8 straight RGBA."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an HxWx4 uint8 array, got shape {rgba.shape}")
    h, w = rgba.shape[:2]
    # The constructor borrows the buffer; .copy() detaches so the array may go away.
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def qimage_to_rgba(image: QImage) -> np.ndarray:
    """HxWx4 uint8 straight RGBA copied out of any QImage."""
    if image.isNull():
        raise ValueError("the image is empty")
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : 4 * w].reshape(h, w, 4).copy()


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """Straight -> premultiplied RGBA (uint8), rounding to nearest."""
    out = rgba.copy()
    a = rgba[..., 3:4].astype(np.uint16)
    out[..., :3] = ((rgba[..., :3].astype(np.uint16) * a + 127) // 255).astype(np.uint8)
    return out


class DisplayBuffer:
    """A premultiplied RGBA image of the whole document that the canvas paints.

    The numpy array and the QImage share memory, so updating a dirty rectangle is a
    slice assignment; the QImage never detaches because it is only read.
    """

    def __init__(self, width: int, height: int) -> None:
        self.array = np.zeros((max(height, 1), max(width, 1), 4), np.uint8)
        h, w = self.array.shape[:2]
        self.image = QImage(self.array.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied)

    @property
    def size(self) -> tuple[int, int]:
        return self.array.shape[1], self.array.shape[0]

    def write(self, x: int, y: int, rgba: np.ndarray) -> None:
        """Copy straight RGBA ``rgba`` to document position (x, y)."""
        h, w = rgba.shape[:2]
        self.array[y:y + h, x:x + w] = premultiply(rgba)


def checker_pixmap(cell: int = 8, light: tuple = (255, 255, 255), dark: tuple = (204, 204, 204)) -> QPixmap:
    """A 2x2-cell tile for painting a transparency checkerboard."""
    pm = QPixmap(2 * cell, 2 * cell)
    pm.fill(QColor(*dark))
    p = QPainter(pm)
    p.fillRect(0, 0, cell, cell, QColor(*light))
    p.fillRect(cell, cell, cell, cell, QColor(*light))
    p.end()
    return pm
