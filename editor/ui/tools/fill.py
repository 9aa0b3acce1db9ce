"""Fill (paint bucket): flood the similar-coloured area under the pointer.

The area is contiguous pixels of the active layer within the tolerance of the
clicked colour, limited to the selection. Painting the mask or the selection (quick
mask) fills with the foreground colour's grey value instead.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.core.layers import RasterLayer

from .base import PointerEvent, Tool


def flood_region(rgba: np.ndarray, x: int, y: int, tolerance: int) -> np.ndarray:
    """HxW uint8 (255 inside) of the pixels connected to (x, y) whose RGBA channels
    all lie within ``tolerance`` of that pixel's."""
    diff = np.abs(rgba.astype(np.int16) - rgba[y, x].astype(np.int16)).max(axis=2)
    similar = (diff <= tolerance).astype(np.uint8)
    _, labels = cv2.connectedComponents(similar, connectivity=4)
    return np.where(labels == labels[y, x], 255, 0).astype(np.uint8)


def over(dst: np.ndarray, color: tuple[int, int, int, int], weight: np.ndarray) -> np.ndarray:
    """Straight-alpha ``color`` composited over ``dst`` with per-pixel ``weight`` (0..1)."""
    src_a = (color[3] / 255.0) * weight
    dst_f = dst.astype(np.float32) / 255.0
    dst_a = dst_f[..., 3]
    out_a = src_a + dst_a * (1 - src_a)
    rgb = np.asarray(color[:3], np.float32) / 255.0
    num = rgb * src_a[..., None] + dst_f[..., :3] * (dst_a * (1 - src_a))[..., None]
    out_rgb = np.divide(num, out_a[..., None], out=np.zeros_like(num), where=out_a[..., None] > 0)
    out = np.concatenate([out_rgb, out_a[..., None]], axis=2)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


class FillTool(Tool):
    id = "fill"
    name = "Fill"
    shortcut = "G"

    def press(self, ev: PointerEvent) -> None:
        doc = self.document
        target = self.host.session.paint_target
        layer = doc.active_layer
        x, y = math.floor(ev.x), math.floor(ev.y)
        if target == "selection":
            self._fill_gray(None, "selection", np.full((doc.height, doc.width), 255, np.uint8), (0, 0))
            return
        if layer is None:
            self.host.show_message("No active layer to fill")
            return
        if not isinstance(layer, RasterLayer):
            self.host.show_message(f"{layer.name!r} is a group: choose a layer to fill")
            return
        ox, oy = layer.offset
        lx, ly = x - ox, y - oy
        if not (0 <= lx < layer.width and 0 <= ly < layer.height):
            return
        region = flood_region(layer.pixels, lx, ly, self.settings.tolerance)
        region = self._clip_to_selection(region, (ox, oy))
        if target == "mask":
            self._fill_gray(layer, "mask", region, (ox, oy))
            return
        box = _bbox(region)
        if box.is_empty:
            return
        weight = region[box.slices].astype(np.float32) / 255.0 * self.settings.opacity
        new = over(layer.pixels[box.slices], self.settings.foreground_rgba(), weight)
        doc.set_pixels(layer, box, new, label="Fill")

    def _clip_to_selection(self, region: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
        sel = self.document.selection
        if sel is None:
            return region
        h, w = region.shape
        local = Rect(offset[0], offset[1], w, h)
        inside = local.intersect(self.document.rect)
        clipped = np.zeros_like(region)
        if not inside.is_empty:
            part = inside.translate(-offset[0], -offset[1])
            clipped[part.slices] = (region[part.slices].astype(np.uint16) * sel[inside.slices] // 255).astype(np.uint8)
        return clipped

    def _fill_gray(self, layer, target: str, region: np.ndarray, offset) -> None:
        doc = self.document
        if target == "mask" and layer.mask is None:
            self.host.show_message(f"Layer {layer.name!r} has no mask")
            return
        arr = doc.selection if target == "selection" else layer.mask
        box = _bbox(region)
        if box.is_empty:
            return
        value = self.settings.foreground.lightness()
        w = region[box.slices].astype(np.float32) / 255.0 * self.settings.opacity
        cur = arr[box.slices].astype(np.float32)
        new = np.round(cur + (value - cur) * w).astype(np.uint8)
        doc.set_pixels(layer, box, new, label="Fill mask" if target == "mask" else "Fill selection",
                       target=target)


def _bbox(mask: np.ndarray) -> Rect:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    return Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
