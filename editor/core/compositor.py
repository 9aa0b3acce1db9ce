"""Turns the layer tree into one image, incrementally.

Buffers are channel-first float32 premultiplied RGBA, (4, h, w), so every numpy
operation runs over contiguous planes. Work is split into tiles of ``TILE``
pixels; inside a tile each layer is cropped to the cells that hold any pixels
(see ``occupancy``), so transparent areas cost nothing. Renders of several tiles
spread them over ``THREADS`` threads (numpy releases the GIL in its loops). A
Compositor is meant for one thread at a time (the GUI thread).

Caches (all invalidated from ``document.events``):
- the projection: the last composite as uint8, recomputed only where ``dirty``
  reported a change;
- "below": like Krita, the float composite of the top-level layers under the
  active layer's top-level ancestor. Painting on the active layer then
  recomposites only that layer and those above it;
- ``render_below`` results for the last few layers asked (brush layer sources).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .blend import blend_into, dissolve_alpha
from .document import Document
from .geometry import Rect
from .layers import GroupLayer, Layer, RasterLayer
from .occupancy import Occupancy

TILE = 256
#: the "below" cache costs 16 bytes per document pixel; above this size it is not kept
BELOW_CACHE_MAX_PIXELS = 4096 * 4096
#: threads for renders of several tiles (numpy releases the GIL inside its loops)
THREADS = min(os.cpu_count() or 1, 4)
_OPAQUE = np.float32(1.0 - 1e-6)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _for_each(fn, pieces) -> None:
    """Run ``fn`` on every piece; tiles are independent, so big renders use threads."""
    global _pool
    pieces = list(pieces)
    # waking threads costs more than a small update (a dab) saves, on a busy machine
    if THREADS < 2 or len(pieces) < 4 or sum(p.area for p in pieces) < 4 * TILE * TILE:
        for piece in pieces:
            fn(piece)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="compositor")
    for _ in _pool.map(fn, pieces):  # re-raises the first error
        pass
_INV255 = np.float32(1.0 / 255.0)


def to_premultiplied(rgba: np.ndarray) -> np.ndarray:
    """uint8 straight RGBA (h, w, 4) -> float32 premultiplied, channel-first (4, h, w)."""
    s = np.moveaxis(rgba, 2, 0).astype(np.float32, order="C")
    s *= _INV255
    s[:3] *= s[3]
    return s


def to_straight_u8(buf: np.ndarray, opaque: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """float32 premultiplied (4, h, w) -> uint8 straight RGBA (h, w, 4), rounded."""
    return _store_u8(buf.copy(), opaque, out)


def _store_u8(buf: np.ndarray, opaque: bool, out: np.ndarray | None = None) -> np.ndarray:
    """Like ``to_straight_u8`` but overwrites ``buf`` (saves a copy per tile)."""
    if not opaque:
        a = buf[3]
        rgb = buf[:3]
        np.divide(rgb, a, out=rgb, where=a > 0.0)
        rgb[:, a <= 0.0] = 0.0
    buf *= 255.0
    buf += 0.5
    np.clip(buf, 0.0, 255.0, out=buf)
    if out is None:
        out = np.empty(buf.shape[1:] + (4,), np.uint8)
    # one plane at a time: a strided write per plane beats a 3-D transposing copy
    for c in range(4):
        out[..., c] = buf[c]
    return out


class _Buf:
    """A premultiplied buffer over a document rect and what is known about it."""

    __slots__ = ("data", "rect", "empty", "opaque")

    def __init__(self, data: np.ndarray, rect: Rect, empty: bool, opaque: bool = False) -> None:
        self.data, self.rect, self.empty, self.opaque = data, rect, empty, opaque

    def view(self, rect: Rect) -> np.ndarray:
        return self.data[:, rect.y - self.rect.y : rect.y1 - self.rect.y, rect.x - self.rect.x : rect.x1 - self.rect.x]


def _tiles(rect: Rect):
    """``rect`` cut along the global ``TILE`` grid."""
    for y in range(rect.y - rect.y % TILE, rect.y1, TILE):
        for x in range(rect.x - rect.x % TILE, rect.x1, TILE):
            piece = Rect(x, y, TILE, TILE).intersect(rect)
            if not piece.is_empty:
                yield piece


def _merge_rects(rects: list[Rect]) -> list[Rect]:
    """Merge overlapping rects so no pixel is recomputed twice."""
    out: list[Rect] = []
    for r in rects:
        merged = True
        while merged:
            merged = False
            for i, o in enumerate(out):
                if o.intersects(r):
                    r = r.union(out.pop(i))
                    merged = True
                    break
        out.append(r)
    # a long list of small rects costs more in Python than one bounding box of pixels
    if len(out) > 64:
        box = out[0]
        for r in out[1:]:
            box = box.union(r)
        return [box]
    return out


class Compositor:
    """Renders a document incrementally; listens to its events until ``close()``."""

    _skip_brush = False  # set while render_source draws

    def __init__(self, document: Document, *, below_cache: bool = True) -> None:
        self.document = document
        self._use_below = below_cache
        self._cache: np.ndarray | None = None  # uint8 straight RGBA, document size
        self._dirty: list[Rect] = []
        self._occ: dict[str, Occupancy] = {}
        self._occ_lock = threading.Lock()
        self._below: np.ndarray | None = None  # float (4, H, W)
        self._below_split: Layer | None = None
        self._below_valid = self._below_empty = self._below_opaque = np.zeros((0, 0), bool)
        # (layer id, with brush layers) -> [u8 image, valid tiles], for render_below: only the
        # tiles asked for are computed, so a brush's source costs its window, not the canvas
        self._stops: "OrderedDict[tuple[str, bool], list]" = OrderedDict()
        self._order: dict[int, int] | None = None
        self._stop: Layer | None = None
        self._edits_above = False
        ev = document.events
        ev.dirty.connect(self._on_dirty)
        ev.pixels_changed.connect(self._on_pixels)
        ev.structure_changed.connect(self._on_structure)
        ev.active_changed.connect(self._on_active)

    def close(self) -> None:
        """Stop listening to the document and drop the caches."""
        ev = self.document.events
        ev.dirty.disconnect(self._on_dirty)
        ev.pixels_changed.disconnect(self._on_pixels)
        ev.structure_changed.disconnect(self._on_structure)
        ev.active_changed.disconnect(self._on_active)
        self.invalidate()

    # ---------------------------------------------------------------- events
    def _on_dirty(self, rect: Rect, layer: Layer | None = None) -> None:
        rect = rect.clip(self.document.width, self.document.height)
        if rect.is_empty:
            return
        if self._cache is not None:
            self._dirty.append(rect)
        if layer is None or self._top_index(layer) < self._split_index():
            if self._below is not None:
                self._below_valid[rect.y // TILE : -(-rect.y1 // TILE), rect.x // TILE : -(-rect.x1 // TILE)] = False
        else:
            # an edit at or above the split (a slider on the active layer): the next
            # render may be large, and filling the cache then pays off on the one after
            self._edits_above = True
        for (stop_id, brush_layers), entry in self._stops.items():
            if layer is None or (
                (brush_layers or layer.kind != "brush") and self._affects_below(layer, stop_id)
            ):
                entry[1][rect.y // TILE: -(-rect.y1 // TILE), rect.x // TILE: -(-rect.x1 // TILE)] = False

    def _on_pixels(self, layer: Layer, rect: Rect) -> None:
        occ = self._occ.get(layer.id)
        if occ is not None and isinstance(layer, RasterLayer) and occ.matches(layer.pixels):
            occ.refresh(rect.translate(-layer.offset[0], -layer.offset[1]))

    def _on_structure(self) -> None:
        self._below = None
        self._stops.clear()
        self._order = None
        live = {layer.id for layer in self.document.walk()}
        for key in [k for k in self._occ if k not in live]:
            del self._occ[key]

    def _on_active(self, layer: Layer | None) -> None:
        if self._below is not None and self._split_layer() is not self._below_split:
            self._below = None

    def invalidate(self, rect: Rect | None = None) -> None:
        """Force recomputation of ``rect`` (or drop every cache)."""
        if rect is None:
            self._cache = None
            self._dirty.clear()
            self._occ.clear()
            self._below = None
            self._stops.clear()
            self._order = None
        else:
            self._on_dirty(Rect.coerce(rect))

    # ---------------------------------------------------------------- public
    def render(self, rect: Rect | None = None) -> np.ndarray:
        """HxWx4 uint8 straight RGBA of the document, or of ``rect`` (clipped to it)."""
        doc = self.document
        full = doc.rect
        rect = full if rect is None else Rect.coerce(rect).intersect(full)
        if self._cache is None or self._cache.shape[:2] != (doc.height, doc.width):
            self._cache = np.zeros((doc.height, doc.width, 4), np.uint8)
            self._dirty = [full]
        if self._dirty:
            dirty, self._dirty = _merge_rects(self._dirty), []
            for d in dirty:
                self._compute_into(d, self._cache)
            self._edits_above = False
        if rect.is_empty:
            return np.zeros((max(rect.h, 0), max(rect.w, 0), 4), np.uint8)
        return self._cache[rect.slices].copy()

    def render_below(self, layer: Layer, rect: Rect | None = None, *, brush_layers: bool = True) -> np.ndarray:
        """Composite of everything under ``layer``, as the user sees it with ``layer``
        and all layers above it hidden; document size (or ``rect``). With
        ``brush_layers=False`` diffusion brush layers are left out too. Cached for the
        last few layers asked, updated from document events."""
        doc = self.document
        if layer.document is not doc or layer is doc.root:
            raise ValueError(f"{layer!r} is not in this document")
        full = doc.rect
        rect = full if rect is None else Rect.coerce(rect).intersect(full)
        key = (layer.id, brush_layers)
        entry = self._stops.get(key)
        if entry is None or entry[0].shape[:2] != (doc.height, doc.width):
            # np.zeros maps pages lazily: tiles never asked for cost no memory
            grid = (-(-doc.height // TILE), -(-doc.width // TILE))
            entry = [np.zeros((doc.height, doc.width, 4), np.uint8), np.zeros(grid, bool)]
            self._stops[key] = entry
            while len(self._stops) > 4:
                self._stops.popitem(last=False)
        self._stops.move_to_end(key)
        if rect.is_empty:
            return np.zeros((max(rect.h, 0), max(rect.w, 0), 4), np.uint8)
        image, valid = entry
        ty, tx = slice(rect.y // TILE, -(-rect.y1 // TILE)), slice(rect.x // TILE, -(-rect.x1 // TILE))
        todo = [Rect(x * TILE, y * TILE, TILE, TILE).intersect(full)
                for y, x in np.argwhere(~valid[ty, tx]) + (ty.start, tx.start)]
        if todo:
            self._stop, self._skip_brush = layer, not brush_layers

            def draw(piece: Rect) -> None:
                buf = _Buf(np.zeros((4, piece.h, piece.w), np.float32), piece, empty=True)
                self._draw_children(doc.root, buf)
                _store_u8(buf.data, buf.opaque, image[piece.slices])

            try:
                _for_each(draw, todo)
            finally:
                self._stop, self._skip_brush = None, False
            valid[ty, tx] = True
        return image[rect.slices].copy()

    def render_source(self, layer: Layer) -> np.ndarray:
        """The source of a diffusion brush layer: ``render_below(layer)`` without any
        brush layer (brush layers never see each other). Document size, cached."""
        return self.render_below(layer, brush_layers=False)

    # ---------------------------------------------------------------- projection
    def _compute_into(self, rect: Rect, out: np.ndarray) -> None:
        root = self.document.root
        split = self._split_index() if self._use_below and self._below_ok() else 0
        # Small updates (painting) and edits above the split fill the "below" cache
        # tile by tile; other big renders (opening, edits below) use the tiles already
        # there but do not spend a 16-byte/pixel copy filling it.
        build = rect.area <= 4 * TILE * TILE or self._edits_above
        if split > 0 and not self._prepare_below(build):
            split = 0

        def draw(piece: Rect) -> None:
            buf = self._start_from_below(piece, split, build) if split > 0 else None
            if buf is None:
                buf = _Buf(np.zeros((4, piece.h, piece.w), np.float32), piece, empty=True)
                self._draw_children(root, buf)
            else:
                self._draw_children(root, buf, start=split)
            _store_u8(buf.data, buf.opaque, out[piece.slices])

        _for_each(draw, _tiles(rect))

    def _prepare_below(self, build: bool) -> bool:
        """Make sure the "below" cache matches the split (allocating it only if
        ``build``); False when there is none to use."""
        doc = self.document
        split_layer = self._split_layer()
        current = (self._below is not None and self._below.shape[1:] == (doc.height, doc.width)
                   and self._below_split is split_layer)
        if current:
            return True
        if not build:
            return False
        gh, gw = -(-doc.height // TILE), -(-doc.width // TILE)
        self._below = np.empty((4, doc.height, doc.width), np.float32)
        self._below_split = split_layer
        self._below_valid = np.zeros((gh, gw), bool)
        self._below_empty = np.zeros((gh, gw), bool)
        self._below_opaque = np.zeros((gh, gw), bool)
        return True

    def _start_from_below(self, piece: Rect, split: int, build: bool) -> _Buf | None:
        """A buffer for ``piece`` (inside one tile) holding the composite of the top-level
        layers under the split; computes and keeps that tile of the cache if ``build``.
        None when the tile is not cached and ``build`` is False. Call ``_prepare_below``
        first (tiles may then run in parallel: each touches only its own tile)."""
        doc = self.document
        ty, tx = piece.y // TILE, piece.x // TILE
        tile = Rect(tx * TILE, ty * TILE, TILE, TILE).clip(doc.width, doc.height)
        if not self._below_valid[ty, tx]:
            if not build:
                return None
            buf = _Buf(np.zeros((4, tile.h, tile.w), np.float32), tile, empty=True)
            self._draw_children(doc.root, buf, stop_index=split)
            self._below[:, tile.y : tile.y1, tile.x : tile.x1] = buf.data
            self._below_valid[ty, tx] = True
            self._below_empty[ty, tx] = buf.empty
            self._below_opaque[ty, tx] = buf.opaque
            if piece == tile:
                return buf
        data = self._below[:, piece.y : piece.y1, piece.x : piece.x1].copy()
        return _Buf(data, piece, empty=bool(self._below_empty[ty, tx]), opaque=bool(self._below_opaque[ty, tx]))

    def _below_ok(self) -> bool:
        doc = self.document
        return doc.width * doc.height <= BELOW_CACHE_MAX_PIXELS

    def _split_layer(self) -> Layer | None:
        """The top-level layer holding the active layer (None: no active layer)."""
        layer = self.document.active_layer
        if layer is None or layer.document is not self.document:
            return None
        while layer.parent is not self.document.root:
            layer = layer.parent
        return layer

    def _split_index(self) -> int:
        top = self._split_layer()
        if top is None:
            return 0
        children = self.document.root.children
        index = children.index(top)
        # a clipped layer draws with its base: split below the whole stack
        while index > 0 and children[index].clipped:
            index -= 1
        return index

    def _top_index(self, layer: Layer) -> int:
        root = self.document.root
        node = layer
        while node.parent is not None and node.parent is not root:
            node = node.parent
        if node.parent is not root:
            return -1  # not in the document (just removed): treat as below everything
        return root.children.index(node)

    def _affects_below(self, layer: Layer, stop_id: str) -> bool:
        """Can a change of ``layer`` alter ``render_below(stop)``?"""
        stop = self.document.find(stop_id)
        if stop is None:
            return True
        if self._order is None:
            self._order = {id(l): i for i, l in enumerate(self.document.walk())}
        pos = self._order.get(id(layer))
        if pos is None:
            return True
        return pos < self._order[id(stop)] or any(g is layer for g in stop.ancestors())

    # ---------------------------------------------------------------- drawing
    def _draw_children(self, group: GroupLayer, buf: _Buf, start: int = 0, stop_index: int | None = None) -> bool:
        """Blend ``group``'s children (from ``start``) over ``buf``. Returns True when the
        ``render_below`` stop layer was reached (nothing at or above it is drawn)."""
        children = group.children if stop_index is None else group.children[:stop_index]
        return self._draw_list(children[start:], buf)

    def _draw_list(self, children, buf: _Buf) -> bool:
        stop = self._stop
        children = list(children)
        i, n = 0, len(children)
        while i < n:
            child = children[i]
            # a base and the clipped layers right above it draw as one stack
            j = i + 1
            while j < n and children[j].clipped:
                j += 1
            clips, i = children[i + 1 : j], j
            if child is stop:
                return True
            if (self._skip_brush and child.kind == "brush") or not child.visible:
                # clipped layers show nothing without their base
                if stop is not None and (_holds(child, stop) or any(_holds(c, stop) for c in clips)):
                    return True
                continue
            if self._skip_brush:
                clips = [c for c in clips if c.kind != "brush" or _holds(c, stop)]
            # (clipped layers with no pixels leave the base as it is: a pass-through
            # base keeps blending straight onto the backdrop)
            if any(_holds(c, stop) or (c.visible and not c.bounds().is_empty) for c in clips):
                if self._draw_clip_stack(child, clips, buf):
                    return True
            elif isinstance(child, GroupLayer):
                if self._draw_group(child, buf):
                    return True
            elif isinstance(child, RasterLayer):
                self._draw_raster(child, buf)
            if stop is not None and any(_holds(c, stop) for c in clips):
                return True
        return False

    def _draw_clip_stack(self, base: Layer, clips: list[Layer], buf: _Buf) -> bool:
        """Photoshop's clipping mask: ``base`` drawn alone (its own opacity and mode
        left out), each clipped layer blended on it keeping the base's alpha
        (source-atop with the clipped layer's mode, opacity and mask), then the
        whole stack blended with the base's opacity and mode. Returns True when
        the ``render_below`` stop was reached."""
        stop = self._stop
        region = base.bounds().intersect(buf.rect)
        if region.is_empty:
            return stop is not None and (_holds(base, stop) or any(_holds(c, stop) for c in clips))
        inner = _Buf(np.zeros((4, region.h, region.w), np.float32), region, empty=True)
        if isinstance(base, GroupLayer):
            stopped = self._draw_group(base, inner, opacity=1.0)
        elif isinstance(base, RasterLayer):
            stopped = False
            self._draw_raster(base, inner, opacity=1.0)
        else:
            stopped = False
        if not stopped and not inner.empty:
            for clip in clips:
                if clip is stop:
                    stopped = True
                    break
                if not clip.visible:
                    continue
                stopped = self._draw_clipped(clip, inner)
                if stopped:
                    break
        if not inner.empty:
            self._blend_buffer(inner, buf, base.opacity, base.blend_mode)
        return stopped

    def _draw_clipped(self, layer: Layer, inner: _Buf) -> bool:
        """Blend ``layer`` onto ``inner`` inside ``inner``'s alpha (source-atop)."""
        if isinstance(layer, GroupLayer):
            layer_buf = _Buf(np.zeros_like(inner.data), inner.rect, empty=True)
            stopped = self._draw_group(layer, layer_buf)
            if layer_buf.empty:
                return stopped
            src = layer_buf.data
            a = src[3]
            cs = np.zeros_like(src[:3])
            np.divide(src[:3], a, out=cs, where=a > 0.0)
            np.clip(cs, 0.0, 1.0, out=cs)
            _atop(inner.data, cs, a, layer.blend_mode)
            return stopped
        if isinstance(layer, RasterLayer):
            source = self._raster_source(layer, inner.rect)
            if source is not None:
                sub, cs, a = source
                cs *= _INV255
                _atop(inner.view(sub), cs, a, layer.blend_mode)
        return False

    def _raster_source(self, layer: RasterLayer, rect: Rect):
        """(document rect, straight colour 0..255 (3, h, w), alpha 0..1 with opacity and
        mask) of ``layer`` inside ``rect``, or None where it has nothing there."""
        opacity = layer.opacity
        if opacity <= 0.0:
            return None
        lb = layer.bounds()
        inter = lb.intersect(rect)
        if inter.is_empty:
            return None
        local, _ = self._occupancy(layer).crop(inter.translate(-lb.x, -lb.y))
        if local.is_empty:
            return None
        s = np.moveaxis(layer.pixels[local.slices], 2, 0).astype(np.float32, order="C")
        a = s[3]
        mask = layer.effective_mask()
        if mask is not None:
            a *= np.float32(opacity / 65025.0)
            a *= mask[local.slices]
        else:
            a *= np.float32(opacity / 255.0)
        sub = local.translate(lb.x, lb.y)
        if layer.blend_mode == "dissolve":
            a[...] = dissolve_alpha(a, sub.x, sub.y)
        return sub, s[:3], a

    def _blend_buffer(self, inner: _Buf, buf: _Buf, factor, mode: str) -> None:
        """Blend the premultiplied ``inner`` (inside ``buf``'s rect) onto ``buf``
        scaled by ``factor`` (opacity, scalar or per pixel) with ``mode``."""
        region = inner.rect
        src = inner.data
        scalar_one = np.isscalar(factor) and factor == 1.0
        if not scalar_one:
            src *= factor
        if mode == "dissolve":
            a = src[3]
            kept = dissolve_alpha(a, region.x, region.y)
            np.divide(src[:3], a, out=src[:3], where=a > 0.0)
            src[:3] *= kept
            src[3] = kept
            mode = "normal"
        dst = buf.view(region)
        if buf.empty:
            dst[...] = src
            buf.empty = False
            buf.opaque = inner.opaque and region == buf.rect and scalar_one
            return
        a = src[3]
        if mode == "normal":
            dst *= 1.0 - a
            dst += src
        else:
            cs = np.zeros_like(src[:3])
            np.divide(src[:3], a, out=cs, where=a > 0.0)
            np.clip(cs, 0.0, 1.0, out=cs)
            blend_into(dst, cs, a.copy(), mode, buf.opaque or bool(dst[3].min() >= _OPAQUE))

    def _occupancy(self, layer: RasterLayer) -> Occupancy:
        occ = self._occ.get(layer.id)
        if occ is None or not occ.matches(layer.pixels):
            with self._occ_lock:  # tiles drawn in parallel build it once
                occ = self._occ.get(layer.id)
                if occ is None or not occ.matches(layer.pixels):
                    occ = Occupancy(layer.pixels)
                    self._occ[layer.id] = occ
        return occ

    def _draw_raster(self, layer: RasterLayer, buf: _Buf, opacity: float | None = None) -> None:
        opacity = layer.opacity if opacity is None else opacity
        if opacity <= 0.0:
            return
        lb = layer.bounds()
        inter = lb.intersect(buf.rect)
        if inter.is_empty:
            return
        local, src_opaque = self._occupancy(layer).crop(inter.translate(-lb.x, -lb.y))
        if local.is_empty:
            return
        sub = local.translate(lb.x, lb.y)
        mask = layer.effective_mask()
        dst = buf.view(sub)
        covers = sub == buf.rect
        mode = layer.blend_mode
        if src_opaque and mask is None and opacity >= 1.0 and (mode == "normal" or buf.empty):
            # every source alpha is 1: the result is the source itself
            block = layer.pixels[local.slices]
            for c in range(3):
                np.multiply(block[..., c], _INV255, out=dst[c])
            dst[3] = 1.0
            buf.empty = False
            buf.opaque = buf.opaque or covers
            return
        s = np.moveaxis(layer.pixels[local.slices], 2, 0).astype(np.float32, order="C")  # planar, 0..255
        a = s[3]
        if mask is not None:
            a *= np.float32(opacity / 65025.0)
            a *= mask[local.slices]
        else:
            a *= np.float32(opacity / 255.0)
        if mode == "dissolve":
            a[...] = dissolve_alpha(a, sub.x, sub.y)
            mode = "normal"
        cs = s[:3]
        covers_opaque = src_opaque and mask is None and opacity >= 1.0 and covers
        if buf.empty:
            # source-over onto transparency yields the source, whatever the blend mode
            cs *= a * _INV255
            dst[:3] = cs
            dst[3] = a
            buf.empty = False
            buf.opaque = covers_opaque
            return
        if mode == "normal":
            cs *= a * _INV255  # premultiply and scale in one pass
            one_minus = 1.0 - a
            dst[:3] *= one_minus
            dst[:3] += cs
            if not buf.opaque:
                dst[3] *= one_minus
                dst[3] += a
        else:
            cs *= _INV255
            opaque = buf.opaque or bool(dst[3].min() >= _OPAQUE)
            blend_into(dst, cs, a, mode, opaque)
        if covers_opaque:
            buf.opaque = True

    def _group_factor(self, group: GroupLayer, rect: Rect, opacity: float | None = None) -> np.ndarray | float:
        """Opacity times effective mask over ``rect`` (scalar when there is no mask)."""
        opacity = group.opacity if opacity is None else opacity
        mask = group.effective_mask()
        if mask is None:
            return opacity
        mrect = Rect.of_array(mask, group.offset)
        out = np.zeros((rect.h, rect.w), np.float32)
        inter = mrect.intersect(rect)
        if not inter.is_empty:
            out[inter.translate(-rect.x, -rect.y).slices] = mask[inter.translate(-mrect.x, -mrect.y).slices]
            out *= np.float32(opacity / 255.0)
        return out

    def _draw_group(self, group: GroupLayer, buf: _Buf, opacity: float | None = None) -> bool:
        stop = self._stop
        holds_stop = stop is not None and _contains(group, stop)
        region = group.bounds().intersect(buf.rect)
        mask = group.effective_mask()
        if mask is not None:
            region = region.intersect(Rect.of_array(mask, group.offset))
        if region.is_empty or ((group.opacity if opacity is None else opacity) <= 0.0 and not holds_stop):
            return holds_stop
        factor = self._group_factor(group, region, opacity)
        if group.isolated:
            inner = _Buf(np.zeros((4, region.h, region.w), np.float32), region, empty=True)
            stopped = self._draw_children(group, inner)
            if not inner.empty:
                self._blend_buffer(inner, buf, factor, group.blend_mode)
            return stopped
        # pass-through: the children blend straight onto the backdrop; opacity and
        # mask fade between the backdrop and that result
        if np.isscalar(factor) and factor == 1.0:
            return self._draw_children(group, buf)
        dst = buf.view(region)
        before = dst.copy()
        view = _Buf(dst, region, empty=buf.empty, opaque=buf.opaque)
        stopped = self._draw_children(group, view)
        if not view.empty:
            dst -= before
            dst *= factor
            dst += before
            buf.empty = False
        return stopped


def render_layers(layers, rect: Rect) -> np.ndarray:
    """Composite ``layers`` (bottom -> top, as siblings of one isolated group, each with
    its own visibility, opacity, mode and mask) over transparency, in ``rect``
    (document coordinates, not clipped to any document). HxWx4 uint8 straight."""
    rect = Rect.coerce(rect)
    drawer = Compositor.__new__(Compositor)
    drawer._occ, drawer._occ_lock, drawer._stop = {}, threading.Lock(), None
    layers = list(layers)
    out = np.zeros((max(rect.h, 0), max(rect.w, 0), 4), np.uint8)

    def draw(piece: Rect) -> None:
        buf = _Buf(np.zeros((4, piece.h, piece.w), np.float32), piece, empty=True)
        drawer._draw_list(layers, buf)
        _store_u8(buf.data, buf.opaque, out[piece.translate(-rect.x, -rect.y).slices])

    _for_each(draw, _tiles(rect))
    return out


def _contains(group: GroupLayer, layer: Layer) -> bool:
    return any(node is group for node in layer.ancestors())


def _holds(layer: Layer, stop: Layer | None) -> bool:
    """Is ``stop`` this layer or inside it?"""
    return stop is not None and (layer is stop or (isinstance(layer, GroupLayer) and _contains(layer, stop)))


def _atop(dst: np.ndarray, cs: np.ndarray, a: np.ndarray, mode: str) -> None:
    """Source-atop of a straight-colour source (``cs`` (3, h, w) in 0..1, alpha ``a``)
    onto premultiplied ``dst`` (4, h, w) in place: the colour becomes
    Cb + a (B(Cb, Cs) - Cb), the alpha stays the backdrop's."""
    ab = dst[3]
    straight = np.zeros((4,) + ab.shape, np.float32)
    np.divide(dst[:3], ab, out=straight[:3], where=ab > 0.0)
    np.clip(straight[:3], 0.0, 1.0, out=straight[:3])
    straight[3] = 1.0
    blend_into(straight, cs, a, mode, opaque=True)
    np.multiply(straight[:3], ab, out=dst[:3])
