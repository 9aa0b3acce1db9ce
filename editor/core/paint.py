"""Painting: round soft brush strokes on layer pixels, masks or the selection; flood
fill; eyedropper. A stroke is one history step holding only its bounding box."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .commands import PixelCommand
from .document import Document
from .errors import LayerLockedError
from .geometry import Rect
from .layers import Layer, RasterLayer

TARGETS = ("pixels", "mask", "selection", "region")
_SAVE_TILE = 128


def _check_color(color) -> tuple[int, int, int, int]:
    try:
        values = [int(v) for v in color]
    except (TypeError, ValueError):
        raise ValueError(f"brush color must be 3 or 4 integers 0..255, got {color!r}") from None
    if len(values) == 3:
        values.append(255)
    if len(values) != 4 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"brush color must be 3 or 4 integers 0..255, got {color!r}")
    return tuple(values)  # type: ignore[return-value]


@dataclass(frozen=True)
class Brush:
    """A round brush. ``size``: diameter in pixels; ``hardness`` 0..1: the fraction of
    the radius painted at full strength before the soft falloff; ``opacity`` 0..1: the
    most a stroke adds (dabs of one stroke do not build up beyond it); ``spacing``:
    distance between dabs as a fraction of the diameter. For masks and the selection
    the colour's red channel is the grey value painted."""

    size: float = 20.0
    hardness: float = 0.8
    opacity: float = 1.0
    color: tuple = (0, 0, 0, 255)
    erase: bool = False
    spacing: float = 0.15
    pressure_size: bool = True
    pressure_opacity: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.size, (int, float)) and 0 < self.size <= 5000):
            raise ValueError(f"brush size must be a number in (0, 5000], got {self.size!r}")
        if not 0.0 <= float(self.hardness) <= 1.0:
            raise ValueError(f"brush hardness must be in 0..1, got {self.hardness!r}")
        if not 0.0 <= float(self.opacity) <= 1.0:
            raise ValueError(f"brush opacity must be in 0..1, got {self.opacity!r}")
        if not 0.01 <= float(self.spacing) <= 10.0:
            raise ValueError(f"brush spacing must be in 0.01..10, got {self.spacing!r}")
        object.__setattr__(self, "color", _check_color(self.color))

    def dab_mask(self, cx: float, cy: float, pressure: float = 1.0) -> tuple[Rect, np.ndarray]:
        """Coverage (float32 0..1) of one dab centred at document point (cx, cy), and
        the rect it covers. Pixel (i, j) is sampled at its centre (i + 0.5, j + 0.5)."""
        pressure = min(max(float(pressure), 0.0), 1.0)
        radius = self.size * 0.5 * (pressure if self.pressure_size else 1.0)
        radius = max(radius, 0.5)
        x0, y0 = math.floor(cx - radius - 1), math.floor(cy - radius - 1)
        x1, y1 = math.ceil(cx + radius + 1), math.ceil(cy + radius + 1)
        xs = np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - cx)
        ys = np.arange(y0, y1, dtype=np.float32) + np.float32(0.5 - cy)
        dist = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
        inner = radius * float(self.hardness)
        # falloff from the hard core to the rim; a hard edge gets one pixel of
        # antialiasing centred on the rim
        if radius - inner >= 1.0:
            start, width = inner, radius - inner
        else:
            start, width = radius - 0.5, 1.0
        t = np.clip((dist - np.float32(start)) / np.float32(width), 0.0, 1.0)
        cov = 1.0 - t * t * (3.0 - 2.0 * t)  # smoothstep
        if self.pressure_opacity:
            cov *= pressure
        return Rect(x0, y0, x1 - x0, y1 - y0), cov.astype(np.float32, copy=False)


class Stroke:
    """One stroke of ``brush`` on ``layer``'s pixels or mask (``target``), on a brush layer's
    region (``"region"``, document coordinates; a layer without one gets an empty one), or on
    the document selection (``target="selection"``, layer None). Dabs show immediately
    (``pixels_changed`` / ``selection_changed`` / ``layer_changed(layer, "region")``);
    ``end()`` pushes one history step holding only the changed rectangle, ``cancel()``
    restores what was there. When the document has a selection, painting pixels or a mask is
    limited to it."""

    def __init__(self, document: Document, layer: Layer | None, brush: Brush, *, target: str = "pixels",
                 label: str | None = None) -> None:
        if target not in TARGETS:
            raise ValueError(f"paint target must be one of {TARGETS}, got {target!r}")
        self.document, self.layer, self.brush, self.target = document, layer, brush, target
        self.label = label or ("Erase" if brush.erase else "Brush stroke")
        if target == "selection":
            if document.selection is None:
                raise ValueError("there is no selection to paint; create one first")
            self._offset = (0, 0)
        else:
            if layer is None or layer not in document:
                raise ValueError(f"{layer!r} is not a layer of this document")
            if layer.locked:
                raise LayerLockedError(layer)
            if target == "pixels" and not isinstance(layer, RasterLayer):
                raise ValueError(f"{layer.name!r} has no pixels to paint (it is a {layer.kind})")
            if target == "mask" and layer.mask is None:
                raise ValueError(f"layer {layer.name!r} has no mask to paint")
            self._offset = layer.offset
        self._created = False
        if target == "region":
            if getattr(layer, "kind", None) != "brush":
                raise ValueError(f"{layer.name!r} has no brush region to paint (it is a {layer.kind})")
            self._offset = (0, 0)  # a region is document-sized
            if layer.region is None:
                # set without history; end() records None -> the painted region as the step
                layer.region = np.zeros((document.height, document.width), np.uint8)
                self._created = True
        self._array = self._target_array()
        self._orig: np.ndarray | None = None
        self._cov: np.ndarray | None = None
        self._touched = Rect(0, 0, 0, 0)
        self._last: tuple[float, float, float] | None = None
        self._carry = 0.0
        self._done = False

    def _target_array(self) -> np.ndarray:
        if self.target == "selection":
            return self.document.selection
        if self.target == "region":
            return self.layer.region
        return self.layer.pixels if self.target == "pixels" else self.layer.mask

    # ------------------------------------------------------------------ dabs
    def dab(self, x: float, y: float, pressure: float = 1.0) -> Rect:
        """Paint from the previous point to (x, y) (document coordinates), dabbing every
        ``spacing * size`` pixels. Returns the document rect that changed."""
        if self._done:
            raise RuntimeError("this stroke has ended")
        if self._target_array() is not self._array:
            raise RuntimeError("the painted array was replaced during the stroke")
        x, y, pressure = float(x), float(y), float(pressure)
        points = []
        if self._last is None:
            points.append((x, y, pressure))
        else:
            lx, ly, lp = self._last
            dist = math.hypot(x - lx, y - ly)
            step = max(self.brush.spacing * self.brush.size * max(min(pressure, lp), 0.1)
                       if self.brush.pressure_size else self.brush.spacing * self.brush.size, 0.5)
            pos = step - self._carry
            while pos <= dist:
                t = pos / dist
                points.append((lx + (x - lx) * t, ly + (y - ly) * t, lp + (pressure - lp) * t))
                pos += step
            self._carry = dist - (pos - step) if points else self._carry + dist
        self._last = (x, y, pressure)
        changed = Rect(0, 0, 0, 0)
        for px, py, pp in points:
            changed = changed.union(self._stamp(px, py, pp))
        if not changed.is_empty:
            self._announce(changed)
        return changed.translate(*self._offset) if not changed.is_empty else changed

    def _stamp(self, x: float, y: float, pressure: float) -> Rect:
        """Apply one dab; returns the rect changed in target-array coordinates."""
        arr = self._array
        rect, cov = self.brush.dab_mask(x - self._offset[0], y - self._offset[1], pressure)
        inter = rect.clip(arr.shape[1], arr.shape[0])
        if inter.is_empty:
            return inter
        if self._orig is None:
            # Untouched pages of np.empty/np.zeros cost no memory: a stroke holds about
            # what it touched, saved tile by tile before the first change there.
            self._orig = np.empty_like(arr)
            self._cov = np.zeros(arr.shape[:2], np.float32)
            self._saved = np.zeros((-(-arr.shape[0] // _SAVE_TILE), -(-arr.shape[1] // _SAVE_TILE)), bool)
        self._save(inter)
        cov = cov[inter.translate(-rect.x, -rect.y).slices]
        acc = self._cov[inter.slices]
        np.maximum(acc, cov, out=acc)
        self._touched = self._touched.union(inter)
        self._render(inter)
        return inter

    def _save(self, rect: Rect) -> None:
        """Keep the original of every tile ``rect`` touches that is not kept yet."""
        t = _SAVE_TILE
        ty0, tx0, ty1, tx1 = rect.y // t, rect.x // t, -(-rect.y1 // t), -(-rect.x1 // t)
        todo = ~self._saved[ty0:ty1, tx0:tx1]
        if not todo.any():
            return
        for ty, tx in zip(*np.nonzero(todo)):
            sl = (slice((ty0 + ty) * t, (ty0 + ty + 1) * t), slice((tx0 + tx) * t, (tx0 + tx + 1) * t))
            self._orig[sl] = self._array[sl]
        self._saved[ty0:ty1, tx0:tx1] = True

    def _strength(self, rect: Rect) -> np.ndarray:
        """Per-pixel amount of paint in ``rect``: stroke coverage x opacity x selection."""
        a = self._cov[rect.slices] * np.float32(self.brush.opacity)
        sel = self.document.selection
        if self.target not in ("selection", "region") and sel is not None:
            doc_rect = rect.translate(*self._offset)
            inside = doc_rect.clip(self.document.width, self.document.height)
            factor = np.zeros((rect.h, rect.w), np.float32)
            if not inside.is_empty:
                factor[inside.translate(-doc_rect.x, -doc_rect.y).slices] = sel[inside.slices] * np.float32(1 / 255)
            a *= factor
        return a

    def _render(self, rect: Rect) -> None:
        """Recompute ``rect`` of the target from the stroke's start and its coverage."""
        orig = self._orig[rect.slices]
        out = self._array[rect.slices]
        a = self._strength(rect)
        if self.target == "pixels":
            o = orig.astype(np.float32)
            a0 = o[..., 3] * np.float32(1 / 255)
            if self.brush.erase:
                out[..., :3] = orig[..., :3]
                out[..., 3] = np.rint(o[..., 3] * (1.0 - a))
                return
            color = np.array(self.brush.color, np.float32)
            a *= color[3] / 255.0
            ao = a + a0 * (1.0 - a)
            w_old = a0 * (1.0 - a)
            with np.errstate(divide="ignore", invalid="ignore"):
                rgb = (color[:3] * a[..., None] + o[..., :3] * w_old[..., None]) / ao[..., None]
            rgb = np.where(ao[..., None] > 0, rgb, o[..., :3])
            out[..., :3] = np.clip(np.rint(rgb), 0, 255)
            out[..., 3] = np.clip(np.rint(ao * 255.0), 0, 255)
        else:
            value = 0.0 if self.brush.erase else float(self.brush.color[0])
            o = orig.astype(np.float32)
            out[...] = np.clip(np.rint(o + (value - o) * a), 0, 255)

    def _announce(self, rect: Rect) -> None:
        if self.target == "selection":
            self.document.events.selection_changed.emit()
        elif self.target == "region":
            self.document.notify_region(self.layer, rect)
        else:
            self.document.notify_pixels(self.layer, rect.translate(*self._offset))

    # ------------------------------------------------------------------ finish
    def end(self) -> Rect:
        """Finish: push one history step for the changed bounding box (document coords)."""
        if self._done:
            return Rect(0, 0, 0, 0)
        self._done = True
        if self._created:
            return self._end_created()
        if self._orig is None or self._touched.is_empty:
            return Rect(0, 0, 0, 0)
        r = self._touched
        self._save(r)  # tiles of the bounding box no dab touched are unchanged
        before, after = self._orig[r.slices], self._array[r.slices]
        diff = before != after
        if diff.ndim == 3:
            diff = diff.any(axis=2)
        rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
        self._cov = None
        if rows.size == 0:
            self._orig = None
            return Rect(0, 0, 0, 0)
        tight = Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1).translate(r.x, r.y)
        cmd = PixelCommand(self.document, self.layer, self.target, tight,
                           self._orig[tight.slices].copy(), self._array[tight.slices].copy(), self.label)
        self._orig = None
        self.document.history.push(cmd)
        return tight.translate(*self._offset)

    def _end_created(self) -> Rect:
        """The first stroke of a layer without region: one step from None to what was painted
        (the array is the layer's own; later strokes record their rectangles against it)."""
        self._orig = self._cov = None
        region, touched = self.layer.region, self._touched
        self.layer.region = None
        if touched.is_empty or not region.any():
            return Rect(0, 0, 0, 0)
        self.document.set_layer_property(self.layer, "region", region, label=self.label)
        return touched

    def cancel(self) -> None:
        """Undo what this stroke painted; nothing goes to the history."""
        if self._done:
            return
        self._done = True
        if self._created:
            self._orig = self._cov = None
            self.layer.region = None
            return
        if self._orig is not None and not self._touched.is_empty:
            r = self._touched
            self._save(r)
            self._array[r.slices] = self._orig[r.slices]
            self._announce(r)
        self._orig = self._cov = None


# ---------------------------------------------------------------------- flood fill
def flood_mask(rgba: np.ndarray, x: int, y: int, tolerance: int = 32, contiguous: bool = True) -> np.ndarray:
    """Boolean HxW mask of the pixels like ``rgba[y, x]`` (every channel within
    ``tolerance``), connected to (x, y) (4-neighbours) unless ``contiguous`` is False."""
    h, w = rgba.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"fill point ({x}, {y}) is outside the {w}x{h} image")
    tolerance = int(tolerance)
    if not 0 <= tolerance <= 255:
        raise ValueError(f"tolerance must be in 0..255, got {tolerance}")
    seed = rgba[y, x].astype(np.int16)
    similar = (np.abs(rgba.astype(np.int16) - seed) <= tolerance).all(axis=2)
    if not contiguous:
        return similar
    return _connected(similar, x, y)


def _connected(mask: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 4-connected component of ``mask`` holding (x, y), found over row runs
    (far fewer than pixels, so the Python loop stays short)."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    sr, sc = np.nonzero(d == 1)
    er, ec = np.nonzero(d == -1)
    # runs are [sc, ec) on row sr, sorted by row then column
    row_first = np.searchsorted(sr, np.arange(h + 1))
    seed = next(i for i in range(row_first[y], row_first[y + 1]) if sc[i] <= x < ec[i])
    seen = np.zeros(len(sr), bool)
    seen[seed] = True
    stack = [seed]
    out = np.zeros((h, w), bool)
    while stack:
        i = stack.pop()
        r, a, b = sr[i], sc[i], ec[i]
        out[r, a:b] = True
        for nr in (r - 1, r + 1):
            if 0 <= nr < h:
                lo, hi = row_first[nr], row_first[nr + 1]
                if lo == hi:
                    continue
                # runs on row nr overlapping [a, b): start < b and end > a
                j0 = lo + np.searchsorted(ec[lo:hi], a, side="right")
                j1 = lo + np.searchsorted(sc[lo:hi], b, side="left")
                for j in range(j0, j1):
                    if not seen[j]:
                        seen[j] = True
                        stack.append(j)
    return out


def fill(document: Document, layer: Layer | None, x: float, y: float, color, *, tolerance: int = 32,
         target: str = "pixels", contiguous: bool = True, sample_composite: bool = False,
         compositor=None, label: str = "Fill") -> Rect:
    """Flood-fill from document point (x, y) with ``color`` on ``layer``'s pixels (or
    its mask / the selection with the colour's red channel as grey). The area is the
    similar colours of the layer (or of the composite when ``sample_composite``; pass
    the ``compositor``), limited to the selection when painting pixels or a mask.
    One history step; returns the changed document rect."""
    if target not in TARGETS:
        raise ValueError(f"fill target must be one of {TARGETS}, got {target!r}")
    color = _check_color(color)
    if target == "selection":
        arr, offset = document.selection, (0, 0)
        if arr is None:
            raise ValueError("there is no selection to fill; create one first")
    else:
        if layer is None or layer not in document:
            raise ValueError(f"{layer!r} is not a layer of this document")
        if layer.locked:
            raise LayerLockedError(layer)
        arr = layer.pixels if target == "pixels" else layer.mask
        if arr is None:
            raise ValueError(f"layer {layer.name!r} has no {target} to fill")
        offset = layer.offset
    lx, ly = math.floor(x) - offset[0], math.floor(y) - offset[1]
    h, w = arr.shape[:2]
    if not (0 <= lx < w and 0 <= ly < h):
        return Rect(0, 0, 0, 0)
    if sample_composite:
        if compositor is None:
            raise ValueError("sample_composite needs the compositor")
        region = Rect(offset[0], offset[1], w, h).clip(document.width, document.height)
        src = np.zeros((h, w, 4), np.uint8)
        src[region.translate(-offset[0], -offset[1]).slices] = compositor.render(region)
    elif arr.ndim == 2:
        src = np.repeat(arr[..., None], 4, axis=2)
    else:
        src = arr
    region_mask = flood_mask(src, lx, ly, tolerance, contiguous)
    strength = region_mask.astype(np.float32)
    sel = document.selection
    if target != "selection" and sel is not None:
        doc_rect = Rect(offset[0], offset[1], w, h)
        inside = doc_rect.clip(document.width, document.height)
        factor = np.zeros((h, w), np.float32)
        factor[inside.translate(-offset[0], -offset[1]).slices] = sel[inside.slices] / 255.0
        strength *= factor
    rows, cols = np.flatnonzero(strength.any(axis=1)), np.flatnonzero(strength.any(axis=0))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    box = Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    s = strength[box.slices]
    old = arr[box.slices].astype(np.float32)
    if arr.ndim == 3:
        a = s * (color[3] / 255.0)
        a0 = old[..., 3] / 255.0
        ao = a + a0 * (1 - a)
        with np.errstate(divide="ignore", invalid="ignore"):
            rgb = (np.array(color[:3], np.float32) * a[..., None] + old[..., :3] * (a0 * (1 - a))[..., None]) / ao[..., None]
        rgb = np.where(ao[..., None] > 0, rgb, old[..., :3])
        new = np.empty(old.shape, np.uint8)
        new[..., :3] = np.clip(np.rint(rgb), 0, 255)
        new[..., 3] = np.clip(np.rint(ao * 255), 0, 255)
    else:
        new = np.clip(np.rint(old + (color[0] - old) * s), 0, 255).astype(np.uint8)
    changed = document.set_pixels(layer if target != "selection" else None, box, new, label, target=target)
    return changed.translate(*offset) if not changed.is_empty else changed


# ---------------------------------------------------------------------- eyedropper
def pick_color(source, x: float, y: float, radius: int = 0) -> tuple[int, int, int, int] | None:
    """The colour at document point (x, y), averaged over a (2 radius + 1) square.
    ``source``: a Compositor (samples the image as shown) or a RasterLayer (its own
    pixels). None outside. Colours are averaged premultiplied so transparent pixels
    do not darken the result."""
    cx, cy = math.floor(x), math.floor(y)
    r = max(int(radius), 0)
    want = Rect(cx - r, cy - r, 2 * r + 1, 2 * r + 1)
    if isinstance(source, RasterLayer):
        bounds = source.bounds()
        area = want.intersect(bounds)
        if area.is_empty:
            return None
        px = source.pixels[area.translate(-bounds.x, -bounds.y).slices]
    else:
        doc = source.document
        area = want.clip(doc.width, doc.height)
        if area.is_empty:
            return None
        px = source.render(area)
    px = px.reshape(-1, 4).astype(np.float64)
    a = px[:, 3]
    total_a = a.sum()
    if total_a == 0:
        return (0, 0, 0, 0)
    rgb = (px[:, :3] * a[:, None]).sum(axis=0) / total_a
    return (*(int(round(v)) for v in rgb), int(round(a.mean())))
