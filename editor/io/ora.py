"""OpenRaster (.ora), the native project format.

Layout written (OpenRaster 0.0.6, readable by Krita, MyPaint and GIMP):

- ``mimetype`` first and STORED, containing ``image/openraster``;
- ``stack.xml``: nested ``<stack>`` groups (``isolation`` isolate = isolated,
  auto = pass-through), ``<layer>`` with name, visibility, opacity,
  ``composite-op`` (``svg:*``), absolute document ``x``/``y``, ``selected``
  (the active layer) and ``edit-locked``; plus ``layerbrush:id`` and
  ``layerbrush:kind`` attributes (namespace :data:`stack_xml.NS`);
- ``data/<n>.png``: each raster layer's pixels, ``mergedimage.png`` (the full
  composite) and ``Thumbnails/thumbnail.png`` (at most 256 px);
- ``layerbrush/layers.json``: what plain OpenRaster cannot express, by layer id:
  layer kind, masks (enabled, inverted), group offsets and "render together" flags, brush and generated
  layer parameters, render state, brush regions, the selection and metadata;
  with the PNGs it names under ``layerbrush/`` (masks, unmasked pixels,
  regions, selection).

Masks. Plain OpenRaster has no layer masks, so for other programs to show the
right composite, a raster layer with an active mask is written to
``data/*.png`` with the mask already applied to its alpha; its unmasked pixels
go to ``layerbrush/pixels/<n>.png`` and the mask to ``layerbrush/masks/<n>.png``
(entries are numbered; ``layers.json`` maps layer ids to them).
``layers.json`` records the SHA-256 of the baked ``data`` PNG: if another
program rewrote that PNG, we load the PNG as it now is and drop the mask (its
effect is already in the pixels). A mask on a group cannot be baked into
anything; other programs show such a group unmasked (``mergedimage.png`` is
still right), and we restore the mask from ``layerbrush/``.

Reading accepts files from other programs: nested stacks, stack offsets,
hidden layers, ``selected``, unknown composite ops (loaded as normal, with a
warning), missing thumbnail or merged image, and MyPaint's background layer
(its ``mypaint:background-tile`` repeated over the whole canvas).

Clipping. A clipped layer carries ``layerbrush:clipped="true"``; Photoshop
modes outside OpenRaster's set are written under Krita's names
(``krita:divide``, ...), which Krita reads. Every problem with the file raises
:class:`FileFormatError`; see :mod:`editor.io.archive` and :mod:`editor.io.limits`
for the defences against hostile archives.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from editor.core.blend import BLEND_MODES, MODE_FROM_OP
from editor.core.document import Document
from editor.core.compositor import render_layers
from editor.core.layers import BrushLayer, GeneratedLayer, GroupLayer, Layer, RasterLayer, clip_base
from editor.core.params import BRUSH_STATES, BaseParams, BrushParams, RgbaParams

from . import limits, raster
from .archive import SafeArchive
from .atomic import write_file
from .errors import FileFormatError
from .flatten import flatten
from .stack_xml import NORMAL_OP, StackEntry, StackImage, build_stack, parse_stack

MIMETYPE = b"image/openraster"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SIDECAR = "layerbrush/layers.json"
SIDECAR_FORMAT = "layerbrush"
SIDECAR_VERSION = 1
THUMBNAIL_MAX = 256
#: Total decoded pixels of all images in one file (4 GiB as RGBA).
MAX_TOTAL_PIXELS = 4 * limits.MAX_PIXELS
#: PNG zlib level. Measured on a noisy 2048x2048 layer: level 1 encodes in 1.75 s
#: (5.6 MB), 3 in 2.2 s (5.3 MB), 6 in 7.4 s (4.8 MB); saves (and autosaves) favour speed.
PNG_LEVEL = 1


# ------------------------------------------------------------------ writing
class _Writer:
    """Collects archive entries; PNGs are encoded on a thread pool (Pillow's
    encoder releases the GIL), so saving uses every core."""

    def __init__(self, pool: ThreadPoolExecutor, copy: bool = False):
        self.pool = pool
        self.copy = copy  # copy arrays before encoding: the document may change meanwhile
        self.entries: list[tuple[str, Future | bytes, int]] = []
        self.sidecar_layers: dict = {}
        self.counter = 0
        self.ids: dict[int, str] = {}
        #: (dict, key, entry name): dict[key] = sha256 of that entry's bytes, once encoded
        self.hash_fixups: list[tuple[dict, str, str]] = []

    def add(self, name: str, data: bytes, compress: int = zipfile.ZIP_STORED) -> str:
        self.entries.append((name, data, compress))
        return name

    def png(self, name: str, arr: np.ndarray) -> str:
        future = self.pool.submit(raster.encode_png, arr.copy() if self.copy else arr, compress_level=PNG_LEVEL)
        self.entries.append((name, future, zipfile.ZIP_STORED))
        return name

    def resolved(self) -> list[tuple[str, bytes, int]]:
        out = [(n, d.result() if isinstance(d, Future) else d, c) for n, d, c in self.entries]
        by_name = {n: d for n, d, _ in out}
        for target, key, name in self.hash_fixups:
            target[key] = hashlib.sha256(by_name[name]).hexdigest()
        return out


def _baked(layer: RasterLayer) -> np.ndarray:
    """Pixels with the effective mask multiplied into alpha, and for a clipped layer
    its base's alpha too (what other programs, which know neither, should see)."""
    mask = layer.effective_mask()
    base = clip_base(layer)
    if mask is None and base is None:
        return layer.pixels
    out = layer.pixels.copy()
    if mask is not None:
        alpha = out[..., 3].astype(np.uint16) * mask.astype(np.uint16)
        out[..., 3] = ((alpha + 127) // 255).astype(np.uint8)
    if base is not None and out.size:
        shape = render_layers([base], layer.bounds())[..., 3] if base.visible else 0
        alpha = out[..., 3].astype(np.uint16) * np.asarray(shape, np.uint16)
        out[..., 3] = ((alpha + 127) // 255).astype(np.uint8)
    return out


def _file_id(layer: Layer, w: _Writer) -> str:
    """The id written for a layer: its own, unless unsafe in a file (then a fresh one)."""
    fid = w.ids.get(id(layer))
    if fid is None:
        fid = layer.id if _ID.fullmatch(layer.id) else uuid.uuid4().hex
        w.ids[id(layer)] = fid
    return fid


def _entry_for(layer: Layer, w: _Writer, active: Layer | None) -> StackEntry:
    meta: dict = {"kind": layer.kind}
    fid = _file_id(layer, w)
    entry = StackEntry(
        is_stack=isinstance(layer, GroupLayer),
        name=layer.name,
        visible=layer.visible,
        opacity=layer.opacity,
        composite_op=BLEND_MODES[layer.blend_mode],
        selected=layer is active,
        locked=layer.locked,
        extra={"id": fid, "kind": layer.kind, **({"clipped": "true"} if layer.clipped else {})},
    )
    w.counter += 1
    n = w.counter  # entry names use a counter: ids come from files and need not be path-safe
    if layer.mask is not None and layer.mask.size:
        src = w.png(f"layerbrush/masks/{n:04d}.png", layer.mask)
        meta["mask"] = {"src": src, "enabled": layer.mask_enabled, "inverted": layer.mask_inverted}
    if isinstance(layer, GroupLayer):
        entry.isolation = "isolate" if layer.isolated else "auto"
        meta["offset"] = list(layer.offset)
        if layer.render_together:
            meta["render_together"] = True
        entry.children = [_entry_for(c, w, active) for c in layer.children]
    else:
        assert isinstance(layer, RasterLayer)
        entry.x, entry.y = layer.offset
        baked = _baked(layer)
        if baked.size == 0:
            # PNG can't hold 0x0: other programs get one transparent pixel.
            baked = np.zeros((1, 1, 4), np.uint8)
            meta["empty"] = True
        entry.src = w.png(f"data/layer{n:04d}.png", baked)
        if baked is not layer.pixels and not meta.get("empty"):
            meta["unmasked"] = {"src": w.png(f"layerbrush/pixels/{n:04d}.png", layer.pixels)}
            w.hash_fixups.append((meta["unmasked"], "baked_sha256", entry.src))
        if isinstance(layer, (BrushLayer, GeneratedLayer)):
            meta["params"] = layer.params.to_dict()
            # A render in flight is not part of the file: it reopens stale.
            meta["state"] = "stale" if layer.state == "rendering" else layer.state
            meta["error"] = layer.error
        if type(layer) is RasterLayer and layer.generated_from is not None:
            meta["generated_from"] = layer.generated_from.to_dict()
        if isinstance(layer, BrushLayer) and layer.region is not None:
            meta["region"] = w.png(f"layerbrush/regions/{n:04d}.png", layer.region)
    w.sidecar_layers[fid] = meta
    return entry


def _base_params(meta: dict, reader, name: str):
    data = meta.get("generated_from")
    if data is None:
        return None
    try:
        return BaseParams.from_dict(data)
    except (TypeError, ValueError) as exc:
        reader.warnings.append(f"layer {name!r}: its generation parameters are unreadable ({exc}); "
                               "brushes on it re-noise the picture instead")
        return None


def _json_safe(metadata: dict) -> dict:
    out = {}
    for key, value in metadata.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue  # runtime-only values (objects) are not saved
        out[str(key)] = value
    return out


def _thumbnail(rgba: np.ndarray) -> np.ndarray:
    h, w = rgba.shape[:2]
    scale = min(1.0, THUMBNAIL_MAX / max(w, h))
    if scale >= 1.0:
        return rgba
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgba).resize(size, Image.Resampling.LANCZOS))


def ora_bytes(document: Document, composite: np.ndarray | None = None) -> bytes:
    """The complete .ora file for ``document`` as bytes.

    ``composite``: the document's flattened image if the caller already has it
    (the editor's compositor cache), saving one full render.
    """
    return _collect(document, composite, copy=False)()


def ora_snapshot(document: Document, composite: np.ndarray | None = None) -> Callable[[], bytes]:
    """Capture ``document`` now and return ``finish() -> bytes`` (the .ora file), which may
    run on another thread while the document changes: pixel arrays are copied here (a
    memory copy) and encoded in the background, so only the copy blocks the caller."""
    return _collect(document, composite, copy=True)


def _collect(document: Document, composite: np.ndarray | None, copy: bool) -> Callable[[], bytes]:
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    try:
        w = _Writer(pool, copy=copy)
        stack_root = StackEntry(is_stack=True, isolation="isolate")
        stack_root.children = [_entry_for(c, w, document.active_layer) for c in document.root.children]
        stack = build_stack(StackImage(document.width, document.height, stack_root))
        sidecar = {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            "document": {
                "metadata": _json_safe(getattr(document, "metadata", {}) or {}),
                "active": _file_id(document.active_layer, w) if document.active_layer is not None else None,
                "selection": None,
                "default_loras": [list(item) for item in getattr(document, "default_loras", ())],
            },
            "layers": w.sidecar_layers,
        }
        if document.selection is not None:
            sidecar["document"]["selection"] = w.png("layerbrush/selection.png", document.selection)
        # Flatten here while the pool encodes the layers.
        if composite is None:
            composite = flatten(document)
        w.png("mergedimage.png", composite)
        w.png("Thumbnails/thumbnail.png", _thumbnail(composite))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise

    def finish() -> bytes:
        try:
            entries = w.resolved()
        finally:
            pool.shutdown()
        order = {"mergedimage.png": 0, "Thumbnails/thumbnail.png": 1}
        entries.sort(key=lambda e: order.get(e[0], 2 if e[0].startswith("data/") else 3))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            z.writestr("stack.xml", stack, compress_type=zipfile.ZIP_DEFLATED)
            for name, data, compress in entries:
                z.writestr(name, data, compress_type=compress)
            z.writestr(SIDECAR, json.dumps(sidecar, indent=1), compress_type=zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    return finish


def save_ora(document: Document, path: str | os.PathLike, *, composite: np.ndarray | None = None) -> None:
    """Save atomically as OpenRaster; the previous file survives any failure.

    ``composite``: see :func:`ora_bytes`.
    """
    path = Path(path)
    data = ora_bytes(document, composite)
    write_file(path, data)


# ------------------------------------------------------------------ reading
def _tiled_background(entry: StackEntry, reader: "_Reader", pixels: np.ndarray):
    """MyPaint's background layer: its tile repeated over the whole canvas (the
    ``src`` PNG may cover only part of it). Returns pixels and their x, y."""
    if not reader.archive.has(entry.background_tile):
        reader.warnings.append(
            f"layer {entry.name!r}: background tile {entry.background_tile!r} is missing; using its image"
        )
        return pixels, entry.x, entry.y
    tile = reader.image(entry.background_tile)
    width, height = reader.canvas
    if tile.size == 0:
        return pixels, entry.x, entry.y
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width]), 0, 0


class _Reader:
    #: (width, height) of the document being read
    canvas: tuple[int, int] | None = None

    def __init__(self, archive: SafeArchive, warnings: list[str] | None):
        self.archive = archive
        self.path = archive.path
        self.warnings = warnings if warnings is not None else []
        self.pixel_budget = MAX_TOTAL_PIXELS

    def image(self, name: str) -> np.ndarray:
        data = self.archive.read(name)
        rgba = raster.decode(
            data, f"{self.path} ({name})", formats=("PNG",), max_pixels=self.pixel_budget
        )
        self.pixel_budget -= rgba.shape[0] * rgba.shape[1]
        return rgba

    def grey(self, name: str, shape: tuple[int, int] | None, what: str) -> np.ndarray:
        data = self.archive.read(name)
        label = f"{self.path} ({name})"
        # Stored as 8-bit grey: decoded straight to one channel (not RGBA, 4x the memory).
        grey = raster.decode(data, label, formats=("PNG",), max_pixels=self.pixel_budget, grey=True)
        if shape is not None and grey.shape != shape:
            raise FileFormatError(
                self.path, f"{what} {name!r} is {grey.shape[1]}x{grey.shape[0]}, expected "
                f"{shape[1]}x{shape[0]}"
            )
        return grey


def _sidecar(archive: SafeArchive) -> dict:
    if not archive.has(SIDECAR):
        return {}
    raw = archive.read(SIDECAR, limits.MAX_TEXT_BYTES)
    try:
        # Python's JSON reads Infinity, NaN and 1e999 as floats no size or offset can take.
        data = json.loads(raw.decode("utf-8"), parse_constant=_not_a_number, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FileFormatError(archive.path, f"invalid {SIDECAR} ({e})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != SIDECAR_FORMAT
        or not isinstance(data.get("layers", {}), dict)
        or not isinstance(data.get("document", {}), dict)
    ):
        raise FileFormatError(archive.path, f"{SIDECAR} is not a Layerbrush layer file")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FileFormatError(
            archive.path, f"{SIDECAR} has no valid version number (found {version!r}, expected 1 to "
            f"{SIDECAR_VERSION}): the file is damaged or was not written by Layerbrush"
        )
    if version > SIDECAR_VERSION:
        raise FileFormatError(
            archive.path, f"{SIDECAR} version {version} is newer than this Layerbrush (it reads up to "
            f"version {SIDECAR_VERSION}): open it with a newer Layerbrush"
        )
    return data


def _offset(value) -> tuple[int, int]:
    """A group offset from layers.json, in the range stack.xml allows for positions."""
    x, y = value
    if not all(isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 10 * limits.MAX_SIDE for v in (x, y)):
        raise ValueError(f"offset {value!r} is not a pair of integers within ±{10 * limits.MAX_SIDE}")
    return x, y


def _not_a_number(name: str):
    raise ValueError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def _blend_mode(op: str, name: str, warnings: list[str]) -> str:
    mode = MODE_FROM_OP.get(op)
    if mode is None:
        warnings.append(f"layer {name!r}: composite op {op!r} is not supported, using normal")
        return "normal"
    return mode


def _meta_error(reader: _Reader, layer_name: str, e: Exception) -> FileFormatError:
    return FileFormatError(reader.path, f"{SIDECAR}: bad data for layer {layer_name!r} ({e})")


def _build(entry: StackEntry, reader: _Reader, layers_meta: dict, seen: set[str]) -> Layer:
    lid = entry.extra.get("id")
    if not lid or lid in seen or not _ID.fullmatch(lid):
        lid = None  # absent (other programs), duplicated or odd: give it a fresh id
    meta = layers_meta.get(lid, {}) if lid else {}
    if not isinstance(meta, dict):
        meta = {}
    common = dict(
        visible=entry.visible,
        opacity=entry.opacity,
        blend_mode=_blend_mode(entry.composite_op, entry.name, reader.warnings),
        locked=entry.locked,
        clipped=entry.extra.get("clipped") == "true",
        id=lid,
    )
    kind = meta.get("kind")
    try:
        if entry.is_stack:
            # isolation="auto" with opacity < 1 or a non-normal op is isolated per the spec.
            isolated = (
                entry.isolation == "isolate" or entry.opacity < 1.0 or entry.composite_op != NORMAL_OP
            )
            if kind == "group":
                isolated = entry.isolation == "isolate"  # ours: trust the flag as written
            offset = _offset(meta.get("offset", (0, 0)))
            layer: Layer = GroupLayer(entry.name, isolated=isolated, offset=offset,
                                      render_together=meta.get("render_together") is True, **common)
            seen.add(layer.id)
            for child in entry.children:
                layer._insert(len(layer.children), _build(child, reader, layers_meta, seen))
        else:
            assert entry.src is not None
            if not reader.archive.has(entry.src):
                raise FileFormatError(
                    reader.path, f"layer {entry.name!r} refers to missing file {entry.src!r}"
                )
            pixels = reader.image(entry.src)
            if entry.background_tile and reader.canvas is not None:
                pixels, entry.x, entry.y = _tiled_background(entry, reader, pixels)
            unmasked = meta.get("unmasked")
            drop_mask = False
            if isinstance(unmasked, dict):
                baked = hashlib.sha256(reader.archive.read(entry.src)).hexdigest()
                if baked == unmasked.get("baked_sha256"):
                    pixels = reader.image(str(unmasked["src"]))
                else:
                    drop_mask = True
                    reader.warnings.append(
                        f"layer {entry.name!r} was edited by another program; its mask is "
                        "already applied to its pixels"
                    )
            if meta.get("empty") is True and pixels.shape[:2] == (1, 1) and not pixels.any():
                pixels = np.zeros((0, 0, 4), np.uint8)
            common["offset"] = (entry.x, entry.y)
            if kind == "brush":
                region = None
                if meta.get("region"):
                    region = reader.grey(str(meta["region"]), None, "brush region")
                state = meta.get("state", "stale")
                layer = BrushLayer(
                    entry.name,
                    pixels,
                    params=BrushParams.from_dict(meta.get("params", {})),
                    region=region,
                    state=state if state in BRUSH_STATES else "stale",
                    error=meta.get("error"),
                    **common,
                )
            elif kind == "generated":
                state = meta.get("state", "stale")
                layer = GeneratedLayer(
                    entry.name,
                    pixels,
                    params=RgbaParams.from_dict(meta.get("params", {})),
                    state=state if state in BRUSH_STATES else "stale",
                    error=meta.get("error"),
                    **common,
                )
            else:
                layer = RasterLayer(entry.name, pixels, generated_from=_base_params(meta, reader, entry.name),
                                    **common)
            if drop_mask:
                meta = {k: v for k, v in meta.items() if k != "mask"}
        mask = meta.get("mask")
        if isinstance(mask, dict):
            shape = None if entry.is_stack else layer.pixels.shape[:2]
            layer.mask = reader.grey(str(mask["src"]), shape, "mask")
            layer.mask_enabled = bool(mask.get("enabled", True))
            layer.mask_inverted = bool(mask.get("inverted", False))
    except FileFormatError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise _meta_error(reader, entry.name, e) from None
    seen.add(layer.id)
    return layer


def _find_selected(entry: StackEntry, layers: list[Layer]) -> Layer | None:
    # Entries and built layers are walked in the same order.
    for e, layer in zip(entry.walk(), layers):
        if e.selected:
            return layer
    return None


def _walk_built(group: GroupLayer):
    for child in group.children:
        yield child
        if isinstance(child, GroupLayer):
            yield from _walk_built(child)


def _layer_images(stack, layers_meta: dict):
    """The names of the layer images the reader will decode, one per decode (a file named
    by several layers counts each time: each becomes its own pixels)."""
    for entry in stack.root.walk():
        if entry.is_stack or not entry.src:
            continue
        yield entry.src
        meta = layers_meta.get(entry.extra.get("id")) if entry.extra.get("id") else None
        unmasked = meta.get("unmasked") if isinstance(meta, dict) else None
        if isinstance(unmasked, dict) and isinstance(unmasked.get("src"), str):
            yield unmasked["src"]


def _check_pixel_total(archive: SafeArchive, stack, layers_meta: dict, budget: int) -> None:
    """Refuse a file whose layer images add up to more than ``budget`` pixels, from their
    PNG headers, before any of them is decoded (decoding first held gigabytes before the
    budget ran out). Entries that are missing or no PNG are left to the reader's messages."""
    total, sizes = 0, {}
    for name in _layer_images(stack, layers_meta):
        if name not in sizes:
            size = raster.png_size(archive.read_head(name, 24)) if archive.has(name) else None
            sizes[name] = size[0] * size[1] if size else 0
        total += sizes[name]
    if total > budget:
        raise FileFormatError(
            archive.path, f"its layers add up to {total / 1e6:,.0f} Mpx, over the pixel budget of "
            f"{budget / 1e6:,.0f} Mpx for one file (nothing was decoded)"
        )


def load_ora(path: str | os.PathLike, warnings: list[str] | None = None) -> Document:
    """Open an OpenRaster file. Problems that don't stop loading go to ``warnings``."""
    path = Path(path)
    with SafeArchive(path) as archive:
        first = archive.first_name()
        if archive.has("mimetype"):
            mimetype = archive.read("mimetype", 1024).strip()
            if mimetype != MIMETYPE:
                raise FileFormatError(
                    path, f"not an OpenRaster file (mimetype {mimetype[:40]!r})"
                )
            if first != "mimetype":
                warnings is not None and warnings.append("mimetype is not the first entry")
        if not archive.has("stack.xml"):
            raise FileFormatError(path, "not an OpenRaster file (no stack.xml)")
        stack = parse_stack(archive.read("stack.xml", limits.MAX_TEXT_BYTES), path)
        side = _sidecar(archive)
        reader = _Reader(archive, warnings)
        reader.canvas = (stack.width, stack.height)
        layers_meta = side.get("layers", {})
        _check_pixel_total(archive, stack, layers_meta, reader.pixel_budget)
        doc = Document(stack.width, stack.height)
        seen: set[str] = set()
        top = [_build(child, reader, layers_meta, seen) for child in stack.root.children]
        for layer in top:
            doc.root._insert(len(doc.root.children), layer)
        doc_meta = side.get("document", {})
        try:
            if isinstance(doc_meta.get("metadata"), dict):
                doc.metadata.update(doc_meta["metadata"])
            if doc_meta.get("default_loras"):
                doc.set_default_loras(doc_meta["default_loras"])
                doc.history.clear()  # an opened file starts with an empty history
            if doc_meta.get("selection"):
                doc.selection = reader.grey(
                    str(doc_meta["selection"]), (stack.height, stack.width), "selection"
                )
        except (ValueError, TypeError, OverflowError) as e:
            raise FileFormatError(path, f"{SIDECAR}: bad document data ({e})") from None
        active = doc.find(doc_meta["active"]) if doc_meta.get("active") else None
        if active is None:
            active = _find_selected(stack.root, list(_walk_built(doc.root)))
        if active is None and doc.root.children:
            active = doc.root.children[-1]
        if active is not None:
            doc.active_layer = active
    return doc
