"""The working window of an AI edit: the part of the canvas the model sees, and at what size.

The model always sees a picture of about its own training resolution: the region's bounds
plus context, downscaled when larger than the native size, enlarged (capped) when smaller.
The window stays centred on the region: near the canvas edge it reaches past it and the
part outside is filled by mirroring (models draw an object centred in the picture they see;
measured on the demo model, a region in a corner of its window gets a background gradient
instead of the prompted shape).
The window depends on the region and the canvas only, so the work for an edit is
proportional to the edit, never to the canvas.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import Rect

#: the working window's long side is at most this many times its short side
MAX_ASPECT = 2.0


@dataclass(frozen=True)
class WorkWindow:
    """rect: the window in document pixels; work_w x work_h: the size the model works at."""

    rect: Rect
    work_w: int
    work_h: int

    @property
    def scale(self) -> float:
        """Working pixels per document pixel (geometric mean of both axes)."""
        return math.sqrt(self.work_w * self.work_h / max(1, self.rect.w * self.rect.h))


def region_bounds(region: np.ndarray, origin: tuple[int, int] = (0, 0)) -> Rect:
    """Bounding rectangle of the nonzero pixels of an HxW mask (offset by ``origin``)."""
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return Rect.empty()
    cols = np.flatnonzero(region[rows[0]: rows[-1] + 1].any(axis=0))
    return Rect(int(cols[0]) + origin[0], int(rows[0]) + origin[1], int(cols[-1] - cols[0] + 1),
                int(rows[-1] - rows[0] + 1))


def band_pixels(native_size: int) -> int:
    """The feathered band's dilation in working pixels: 16 at 512."""
    return max(2, round(native_size / 32))


def choose_window(bounds: Rect, canvas_w: int, canvas_h: int, *, native: int, grid: int, context: float = 1.6,
                  max_upscale: float = 2.0, max_tiles: int = 1) -> WorkWindow:
    """The window for a region with these bounds on a canvas of this size (see the module doc).

    max_tiles > 1: a long region (a strip along a canvas edge, a long stroke) gets a work area
    of up to max_tiles native areas, one per MAX_ASPECT of its length, which the engine
    denoises in native-size tiles, instead of the whole strip being shrunk into one native
    picture. The window itself (what the model sees of the picture around it) is the same."""
    bounds = Rect.coerce(bounds).intersect(Rect(0, 0, canvas_w, canvas_h))
    if bounds.is_empty:
        raise ValueError("the region is empty: nothing to render")
    if native <= 0 or grid <= 0:
        raise ValueError(f"native size and grid must be positive, got {native} and {grid}")
    # The band grows the region by band_pixels at working scale; leave room for it plus context.
    min_side = native / max(1.0, max_upscale)
    w = max(bounds.w * context, min_side)
    h = max(bounds.h * context, min_side)
    # Very elongated windows are widened on the short side (more context, a picture-like shape).
    if w > h * MAX_ASPECT:
        h = w / MAX_ASPECT
    elif h > w * MAX_ASPECT:
        w = h / MAX_ASPECT
    w, h = min(canvas_w, math.ceil(w)), min(canvas_h, math.ceil(h))
    rect = Rect(_centre(bounds.x, bounds.w, w, canvas_w), _centre(bounds.y, bounds.h, h, canvas_h), w, h)
    tiles = min(float(max(1, int(max_tiles))), max(1.0, max(bounds.w, bounds.h) / min(bounds.w, bounds.h) / MAX_ASPECT))
    scale = min(max_upscale, native * math.sqrt(tiles) / math.sqrt(w * h))
    work_w = max(grid, round(w * scale / grid) * grid)
    work_h = max(grid, round(h * scale / grid) * grid)
    return WorkWindow(rect, int(work_w), int(work_h))


def _centre(lo: int, size: int, length: int, limit: int) -> int:
    """Start of a span of ``length`` centred on [lo, lo + size); it may reach past [0, limit)
    by less than its length (the whole span when it covers the canvas)."""
    if length >= limit:
        return 0
    return int(lo + size // 2 - length // 2)


def crop_mirrored(image: np.ndarray, rect: Rect) -> np.ndarray:
    """``image[rect]`` where the parts of ``rect`` outside the image are mirrored from inside."""
    rect = Rect.coerce(rect)
    h, w = image.shape[:2]
    inner = rect.intersect(Rect(0, 0, w, h))
    part = image[inner.slices]
    pads = (inner.y - rect.y, rect.y + rect.h - inner.y - inner.h, inner.x - rect.x, rect.x + rect.w - inner.x - inner.w)
    if not any(pads):
        return np.ascontiguousarray(part)
    if part.size == 0:
        raise ValueError(f"window {tuple(rect)} lies outside the {w}x{h} image")
    # reflect needs a pad smaller than the part; repeat the mirroring for larger ones
    out = part
    while any(pads):
        step = [min(p, max(0, (out.shape[0] if i < 2 else out.shape[1]) - 1)) for i, p in enumerate(pads)]
        if not any(step):
            step = list(pads)
            mode = "edge"
        else:
            mode = "reflect"
        widths = ((step[0], step[1]), (step[2], step[3])) + ((0, 0),) * (out.ndim - 2)
        out = np.pad(out, widths, mode=mode)
        pads = tuple(p - s for p, s in zip(pads, step))
    return np.ascontiguousarray(out)


def clip_to_canvas(rgba: np.ndarray, offset: tuple[int, int], width: int, height: int):
    """(pixels, offset) of the part of ``rgba`` placed at ``offset`` that lies on a width x
    height canvas (a window centred near the edge reaches past it)."""
    x, y = int(offset[0]), int(offset[1])
    h, w = rgba.shape[:2]
    keep = Rect(x, y, w, h).intersect(Rect(0, 0, width, height))
    if (keep.x, keep.y, keep.w, keep.h) == (x, y, w, h):
        return rgba, (x, y)
    if keep.is_empty:
        return np.zeros((0, 0) + rgba.shape[2:], rgba.dtype), (0, 0)
    return np.ascontiguousarray(rgba[keep.y - y: keep.y1 - y, keep.x - x: keep.x1 - x]), (keep.x, keep.y)
