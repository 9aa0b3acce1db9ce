"""Which parts of a layer hold anything: coarse cells so compositing can skip
transparent areas without reading them."""

from __future__ import annotations

import sys

import numpy as np

from .geometry import Rect

CELL = 32
# An RGBA pixel read as one little-endian uint32 has alpha in its top byte: reducing
# contiguous uint32 words is several times faster than reducing a strided alpha plane.
_LITTLE = sys.byteorder == "little"


def _reduce_cells(v: np.ndarray, ufunc) -> np.ndarray:
    """``ufunc`` (np.maximum / np.minimum) over each CELL x CELL block of a 2-D array."""
    h, w = v.shape
    hb = h // CELL * CELL
    rows = []
    if hb:
        rows.append(ufunc.reduce(v[:hb].reshape(hb // CELL, CELL, w), axis=1))
    if hb < h:
        rows.append(ufunc.reduce(v[hb:], axis=0, keepdims=True))
    r = rows[0] if len(rows) == 1 else np.concatenate(rows)
    wb = w // CELL * CELL
    cols = []
    if wb:
        cols.append(ufunc.reduce(r[:, :wb].reshape(r.shape[0], wb // CELL, CELL), axis=2))
    if wb < w:
        cols.append(ufunc.reduce(r[:, wb:], axis=1, keepdims=True))
    return cols[0] if len(cols) == 1 else np.concatenate(cols, axis=1)


class Occupancy:
    """Per ``CELL``-pixel cell of an RGBA array: does any pixel have alpha > 0, and is
    every pixel fully opaque. Update it with ``refresh(rect)`` after editing pixels."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        h, w = pixels.shape[:2]
        self.shape = (h, w)
        gh, gw = -(-h // CELL), -(-w // CELL)
        self.any = np.zeros((gh, gw), bool)
        self.opaque = np.zeros((gh, gw), bool)
        if h and w:
            self._compute(0, 0, gh, gw)

    def matches(self, pixels: np.ndarray) -> bool:
        return pixels is self.pixels and pixels.shape[:2] == self.shape

    def refresh(self, rect: Rect) -> None:
        """Recompute the cells touching ``rect`` (layer-local coordinates)."""
        h, w = self.shape
        rect = rect.clip(w, h)
        if rect.is_empty:
            return
        self._compute(rect.y // CELL, rect.x // CELL, -(-rect.y1 // CELL), -(-rect.x1 // CELL))

    def _compute(self, cy0: int, cx0: int, cy1: int, cx1: int) -> None:
        h, w = self.shape
        block = self.pixels[cy0 * CELL : min(cy1 * CELL, h), cx0 * CELL : min(cx1 * CELL, w)]
        if _LITTLE and block.strides[2] == 1 and block.strides[1] == 4:
            words = block.view(np.uint32)[..., 0]
            self.any[cy0:cy1, cx0:cx1] = _reduce_cells(words, np.maximum) >= (1 << 24)
            self.opaque[cy0:cy1, cx0:cx1] = _reduce_cells(words, np.minimum) >= (255 << 24)
        else:
            alpha = block[..., 3]
            self.any[cy0:cy1, cx0:cx1] = _reduce_cells(alpha, np.maximum) > 0
            self.opaque[cy0:cy1, cx0:cx1] = _reduce_cells(alpha, np.minimum) == 255

    def crop(self, rect: Rect) -> tuple[Rect, bool]:
        """The part of ``rect`` (layer-local, inside the array) that may hold pixels,
        as a rect of whole cells clipped to ``rect``; and whether all of ``rect`` is opaque."""
        cy0, cx0 = rect.y // CELL, rect.x // CELL
        cy1, cx1 = -(-rect.y1 // CELL), -(-rect.x1 // CELL)
        cells = self.any[cy0:cy1, cx0:cx1]
        rows = np.flatnonzero(cells.any(axis=1))
        if rows.size == 0:
            return Rect(rect.x, rect.y, 0, 0), False
        cols = np.flatnonzero(cells.any(axis=0))
        sub = Rect.from_bounds(
            (cx0 + int(cols[0])) * CELL,
            (cy0 + int(rows[0])) * CELL,
            (cx0 + int(cols[-1]) + 1) * CELL,
            (cy0 + int(rows[-1]) + 1) * CELL,
        ).intersect(rect)
        opaque = bool(self.opaque[cy0:cy1, cx0:cx1].all())
        return sub, opaque
