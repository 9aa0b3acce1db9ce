"""Selection masks (HxW uint8, 255 = selected): shapes, feather, invert, by colour.
Shapes are antialiased: edge pixels get their covered fraction."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from .geometry import Rect

#: sub-rows per pixel row when rasterising polygons (horizontal coverage is exact)
_POLY_SUBROWS = 4


def _check_size(width: int, height: int) -> tuple[int, int]:
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"mask size must be positive, got {width}x{height}")
    return width, height


def rect_mask(width: int, height: int, rect) -> np.ndarray:
    """``rect`` (Rect or (x, y, w, h), may extend outside) selected."""
    width, height = _check_size(width, height)
    out = np.zeros((height, width), np.uint8)
    r = Rect.coerce(rect).clip(width, height)
    if not r.is_empty:
        out[r.slices] = 255
    return out


def ellipse_mask(width: int, height: int, rect) -> np.ndarray:
    """The ellipse inscribed in ``rect``, antialiased (4x4 samples per edge pixel)."""
    width, height = _check_size(width, height)
    r = Rect.coerce(rect)
    out = np.zeros((height, width), np.uint8)
    box = r.clip(width, height)
    if box.is_empty or r.w <= 0 or r.h <= 0:
        return out
    cx, cy = r.x + r.w / 2.0, r.y + r.h / 2.0
    rx, ry = r.w / 2.0, r.h / 2.0
    n = 4
    offs = (np.arange(n, dtype=np.float32) + 0.5) / n
    xs = (np.arange(box.x, box.x1, dtype=np.float32)[:, None] + offs[None, :] - cx) / rx  # (w, n)
    ys = (np.arange(box.y, box.y1, dtype=np.float32)[:, None] + offs[None, :] - cy) / ry  # (h, n)
    # inside when x^2 + y^2 <= 1, counted over the n x n samples of each pixel
    inside = (ys[:, None, :, None] ** 2 + xs[None, :, None, :] ** 2) <= 1.0  # (h, w, n, n)
    out[box.slices] = np.rint(inside.mean(axis=(2, 3)) * 255).astype(np.uint8)
    return out


def polygon_mask(width: int, height: int, points: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """A closed polygon (freehand lasso) filled with the even-odd rule, antialiased.
    ``points``: (x, y) in document coordinates; at least three."""
    width, height = _check_size(width, height)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}")
    if not np.isfinite(pts).all():
        raise ValueError("polygon points must be finite numbers")
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    sub = _POLY_SUBROWS
    ymin = max(int(math.floor(pts[:, 1].min())), 0)
    ymax = min(int(math.ceil(pts[:, 1].max())), height)
    cov = np.zeros((height, width + 1), np.float64)
    if ymax <= ymin:
        return np.zeros((height, width), np.uint8)
    # sample rows at sub-row centres
    sy = ymin + (np.arange((ymax - ymin) * sub) + 0.5) / sub
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    rows_i, xs_i = [], []
    for e in np.flatnonzero(hi > lo):  # horizontal edges never cross a sample row
        k0 = np.searchsorted(sy, lo[e], side="left")
        k1 = np.searchsorted(sy, hi[e], side="left")
        if k1 <= k0:
            continue
        ys = sy[k0:k1]
        t = (ys - y0[e]) / (y1[e] - y0[e])
        rows_i.append(np.arange(k0, k1))
        xs_i.append(x0[e] + t * (x1[e] - x0[e]))
    if not rows_i:
        return np.zeros((height, width), np.uint8)
    rows = np.concatenate(rows_i)
    xs = np.concatenate(xs_i)
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    # even-odd: consecutive crossings on one sample row pair up into spans
    starts, ends, srow = xs[0::2], xs[1::2], rows[0::2]
    keep = srow == rows[1::2] if len(rows) % 2 == 0 else None
    if keep is None:  # numerically odd count: drop the last crossing
        starts, ends, srow = starts[:-1], ends, srow[:-1]
        keep = srow == rows[1::2]
    starts, ends, srow = starts[keep], ends[keep], srow[keep]
    starts = np.clip(starts, 0, width)
    ends = np.clip(ends, 0, width)
    ok = ends > starts
    starts, ends, srow = starts[ok], ends[ok], srow[ok]
    prow = ymin + srow // sub
    weight = 1.0 / sub
    # exact horizontal coverage: full pixels via a difference array, partial ends added
    fa, fb = np.floor(starts).astype(int), np.floor(ends).astype(int)
    same = fa == fb
    np.add.at(cov, (prow[same], fa[same]), (ends[same] - starts[same]) * weight)
    d = ~same
    np.add.at(cov, (prow[d], fa[d]), (fa[d] + 1 - starts[d]) * weight)
    np.add.at(cov, (prow[d], np.minimum(fb[d], width)), (ends[d] - fb[d]) * weight)
    diff = np.zeros((height, width + 2), np.float64)
    np.add.at(diff, (prow[d], fa[d] + 1), weight)
    np.add.at(diff, (prow[d], fb[d]), -weight)
    cov += np.cumsum(diff, axis=1)[:, : width + 1]
    return np.clip(np.rint(cov[:, :width] * 255), 0, 255).astype(np.uint8)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(int(math.ceil(3 * sigma)), 1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _blur_axis(img: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Convolve along ``axis`` with zeros outside (FFT for long kernels)."""
    n = img.shape[axis]
    r = len(kernel) // 2
    if len(kernel) <= 33:
        out = np.zeros_like(img)
        for i, k in enumerate(kernel):
            shift = i - r
            src = [slice(None)] * 2
            dst = [slice(None)] * 2
            if shift >= 0:
                src[axis], dst[axis] = slice(shift, n), slice(0, n - shift)
            else:
                src[axis], dst[axis] = slice(0, n + shift), slice(-shift, n)
            out[tuple(dst)] += k * img[tuple(src)]
        return out
    size = 1 << int(math.ceil(math.log2(n + len(kernel))))
    f = np.fft.rfft(img, size, axis=axis)
    kf = np.fft.rfft(kernel.astype(np.float64), size)
    shape = [1, 1]
    shape[axis] = -1
    res = np.fft.irfft(f * kf.reshape(shape), size, axis=axis)
    idx = [slice(None)] * 2
    idx[axis] = slice(r, r + n)
    return res[tuple(idx)].astype(np.float32)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soften a mask's edges with a separable Gaussian blur (sigma = radius / 2);
    outside the image counts as unselected."""
    _check_mask(mask)
    radius = float(radius)
    if radius < 0:
        raise ValueError(f"feather radius must be >= 0, got {radius}")
    if radius == 0 or not mask.any():
        return mask.copy()
    sigma = radius / 2.0
    kernel = _gaussian_kernel(sigma)
    r = len(kernel) // 2
    # only the area near selected pixels changes; blur just that
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    box = Rect.from_bounds(int(cols[0]) - r, int(rows[0]) - r, int(cols[-1]) + 1 + r, int(rows[-1]) + 1 + r).clip(w, h)
    img = mask[box.slices].astype(np.float32)
    img = _blur_axis(_blur_axis(img, kernel, 0), kernel, 1)
    out = np.zeros_like(mask)
    out[box.slices] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def invert(mask: np.ndarray) -> np.ndarray:
    _check_mask(mask)
    return 255 - mask


def color_mask(rgba: np.ndarray, x: int, y: int, tolerance: int = 32, *, contiguous: bool = False) -> np.ndarray:
    """Select by colour: pixels whose every channel is within ``tolerance`` of the
    colour at (x, y) (only those connected to it when ``contiguous``)."""
    from .paint import flood_mask

    if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError("color_mask needs an HxWx4 uint8 image")
    return flood_mask(rgba, int(x), int(y), tolerance, contiguous).astype(np.uint8) * np.uint8(255)


def combine(current: np.ndarray | None, new: np.ndarray, mode: str = "replace") -> np.ndarray:
    """Combine a new selection with the current one: replace, add, subtract, intersect."""
    _check_mask(new)
    if mode == "replace" or (current is None and mode in ("add", "replace")):
        return new.copy()
    if current is None:
        current = np.full_like(new, 255)  # no selection means everything
    if current.shape != new.shape:
        raise ValueError(f"selection sizes differ: {current.shape} vs {new.shape}")
    if mode == "add":
        return np.maximum(current, new)
    if mode == "subtract":
        return np.minimum(current, 255 - new)
    if mode == "intersect":
        return np.minimum(current, new)
    raise ValueError(f"unknown selection mode {mode!r}; expected replace, add, subtract or intersect")


def bounds(mask: np.ndarray) -> Rect:
    """Bounding rect of the selected (non-zero) pixels; empty if none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    return Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _check_mask(mask) -> None:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.dtype != np.uint8:
        desc = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else repr(type(mask))
        raise ValueError(f"a selection mask must be an HxW uint8 array, got {desc}")
