"""Photoshop (.psd) import and export through psd-tools.

Import keeps pixel layers (type, shape and smart-object layers come in as their
stored raster pixels), groups (pass-through or isolated), names, visibility,
opacity, blend modes, offsets and layer masks (including disabled ones;
Photoshop masks have no "inverted" flag). Adjustment and fill layers, clipping
masks, layer effects and modes without an OpenRaster equivalent (linear burn,
vivid light, dissolve, ...) are not supported: such layers load as normal
pixel layers or are skipped, each with a warning.

Export (psd-tools 1.26 can write layered files) writes 8-bit RGBA with the
same tree: pixel layers at their offsets, groups, names, visibility, opacity,
blend modes and layer masks with their disabled flag (not group masks:
psd-tools 1.26 writes them unreadably, so they are left out with a warning).
An inverted mask is written
inverted (Photoshop has no flag for it). Diffusion brush and generated layers
become plain pixel layers (their parameters live only in .ora). The merged
preview image is rendered by psd-tools' own compositor when saving.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from editor.core.document import Document
from editor.core.layers import GroupLayer, Layer, RasterLayer

from . import limits
from .atomic import write_file
from .errors import FileFormatError

_MODES = {
    "NORMAL": "normal",
    "MULTIPLY": "multiply",
    "SCREEN": "screen",
    "OVERLAY": "overlay",
    "DARKEN": "darken",
    "LIGHTEN": "lighten",
    "COLOR_DODGE": "color-dodge",
    "COLOR_BURN": "color-burn",
    "HARD_LIGHT": "hard-light",
    "SOFT_LIGHT": "soft-light",
    "DIFFERENCE": "difference",
    "EXCLUSION": "exclusion",
    "LINEAR_DODGE": "addition",
    "HUE": "hue",
    "SATURATION": "saturation",
    "COLOR": "color",
    "LUMINOSITY": "luminosity",
}
_TO_PSD = {v: k for k, v in _MODES.items()}
#: Estimated bytes psd-tools may allocate while reading one layer.
_ALLOC_BYTES = limits.MAX_PIXELS * 8


# ------------------------------------------------------------------ reading
def _mode(psd_layer, warnings: list[str]) -> str:
    name = getattr(psd_layer.blend_mode, "name", str(psd_layer.blend_mode))
    mode = _MODES.get(name)
    if mode is None:
        warnings.append(f"layer {psd_layer.name!r}: blend mode {name} is not supported, using normal")
        return "normal"
    return mode


def _mask_array(psd_layer, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The layer mask as HxW uint8 covering ``box`` (left, top, width, height)."""
    mask = psd_layer.mask
    if mask is None or mask.width <= 0 or mask.height <= 0:
        return None
    img = mask.topil()
    if img is None:
        return None
    left, top, w, h = box
    out = np.full((h, w), int(mask.background_color) & 0xFF, np.uint8)
    arr = np.asarray(img.convert("L"))
    x0, y0 = mask.left - left, mask.top - top
    xs0, ys0 = max(0, -x0), max(0, -y0)
    xd0, yd0 = max(0, x0), max(0, y0)
    cw = min(arr.shape[1] - xs0, w - xd0)
    ch = min(arr.shape[0] - ys0, h - yd0)
    if cw > 0 and ch > 0:
        out[yd0 : yd0 + ch, xd0 : xd0 + cw] = arr[ys0 : ys0 + ch, xs0 : xs0 + cw]
    return out


def _name(psd_layer) -> str:
    # Krita ends its Unicode layer names with a NUL.
    return str(psd_layer.name).rstrip("\x00")


def _convert(psd_layer, doc: Document, warnings: list[str], budget: list[int]) -> Layer | None:
    common = dict(name=_name(psd_layer), visible=bool(psd_layer.visible), opacity=psd_layer.opacity / 255.0)
    if getattr(psd_layer, "clipping", False):
        warnings.append(f"layer {psd_layer.name!r}: clipping masks are not supported")
    if psd_layer.is_group():
        name = getattr(psd_layer.blend_mode, "name", "")
        passthrough = name == "PASS_THROUGH"
        group = GroupLayer(
            isolated=not passthrough,
            blend_mode="normal" if passthrough else _mode(psd_layer, warnings),
            **common,
        )
        for child in psd_layer:
            layer = _convert(child, doc, warnings, budget)
            if layer is not None:
                group._insert(len(group.children), layer)
        mask = _mask_array(psd_layer, (0, 0, doc.width, doc.height))
        if mask is not None:
            group.mask = mask
            group.mask_enabled = not psd_layer.mask.disabled
        return group
    if psd_layer.kind in ("adjustment", "solidcolorfill", "gradientfill", "patternfill"):
        warnings.append(f"layer {psd_layer.name!r}: {psd_layer.kind} layers are not supported, skipped")
        return None
    w, h = psd_layer.width, psd_layer.height
    if w <= 0 or h <= 0:
        pixels = np.zeros((0, 0, 4), np.uint8)
        left, top = 0, 0
    else:
        problem = limits.size_problem(w, h)
        if problem:
            raise ValueError(f"layer {psd_layer.name!r}: {problem}")
        budget[0] -= w * h
        if budget[0] < 0:
            raise ValueError("layers exceed the total pixel budget")
        img = psd_layer.topil()
        if img is None:
            warnings.append(f"layer {psd_layer.name!r}: has no pixel data, skipped")
            return None
        pixels = np.array(img.convert("RGBA"), np.uint8)
        left, top = psd_layer.left, psd_layer.top
    if psd_layer.kind not in ("pixel", "type", "shape", "smartobject"):
        warnings.append(f"layer {psd_layer.name!r}: {psd_layer.kind} layer loaded as pixels")
    layer = RasterLayer(pixels=pixels, offset=(left, top), blend_mode=_mode(psd_layer, warnings), **common)
    if psd_layer.has_mask():
        mask = _mask_array(psd_layer, (left, top, pixels.shape[1], pixels.shape[0]))
        if mask is not None:
            layer.mask = mask
            layer.mask_enabled = not psd_layer.mask.disabled
    return layer


def load_psd(path: str | os.PathLike, warnings: list[str] | None = None) -> Document:
    """Open a PSD as a layered document."""
    from psd_tools import PSDImage

    path = Path(path)
    warnings = warnings if warnings is not None else []
    try:
        psd = PSDImage.open(path, max_alloc_bytes=_ALLOC_BYTES)
        problem = limits.size_problem(psd.width, psd.height)
        if problem:
            raise FileFormatError(path, problem)
        doc = Document(psd.width, psd.height)
        budget = [4 * limits.MAX_PIXELS]
        for psd_layer in psd:
            layer = _convert(psd_layer, doc, warnings, budget)
            if layer is not None:
                doc.root._insert(len(doc.root.children), layer)
        if not doc.root.children:
            # A flat PSD: its merged image is the picture.
            img = psd.topil()
            if img is None:
                raise FileFormatError(path, "PSD has neither layers nor a merged image")
            doc.root._insert(0, RasterLayer("Background", np.array(img.convert("RGBA"), np.uint8)))
    except FileFormatError:
        raise
    except FileNotFoundError:
        raise FileFormatError(path, "file not found") from None
    except MemoryError:
        raise FileFormatError(path, "not enough memory to read the PSD") from None
    except Exception as e:  # psd-tools raises many types on damaged files
        raise FileFormatError(path, f"cannot read PSD ({type(e).__name__}: {e})") from None
    if doc.root.children:
        doc.active_layer = doc.root.children[-1]
    return doc


# ------------------------------------------------------------------ writing
def _write(layer: Layer, parent, warnings: list[str]) -> None:
    from psd_tools.constants import BlendMode

    opacity = int(round(layer.opacity * 255))
    if isinstance(layer, GroupLayer):
        mode = BlendMode.PASS_THROUGH if not layer.isolated else BlendMode[_TO_PSD[layer.blend_mode]]
        group = parent.create_group(name=layer.name, opacity=opacity, blend_mode=mode)
        for child in layer.children:
            _write(child, group, warnings)
        target, box = group, None
    else:
        assert isinstance(layer, RasterLayer)
        x, y = layer.offset
        target = parent.create_pixel_layer(
            Image.fromarray(layer.pixels, "RGBA"),
            name=layer.name,
            left=x,
            top=y,
            opacity=opacity,
            blend_mode=BlendMode[_TO_PSD[layer.blend_mode]],
        )
        box = (x, y)
    target.visible = layer.visible
    if layer.mask is not None and isinstance(layer, GroupLayer):
        # psd-tools 1.26 writes a group's mask channel so that the file no longer
        # parses (seen as "58590 is not a valid Compression"); leave it out.
        warnings.append(f"group {layer.name!r}: group masks are not written to PSD")
    elif layer.mask is not None:
        data = 255 - layer.mask if layer.mask_inverted else layer.mask
        if box is None:
            box = layer.offset
        mask = target.create_mask(Image.fromarray(np.ascontiguousarray(data), "L"), top=box[1], left=box[0])
        mask.disabled = not layer.mask_enabled


def psd_bytes(document: Document, warnings: list[str] | None = None) -> bytes:
    """The document as PSD file bytes."""
    from psd_tools import PSDImage

    warnings = warnings if warnings is not None else []
    psd = PSDImage.new("RGBA", (document.width, document.height), color=(0, 0, 0, 0))
    for layer in document.layers:
        _write(layer, psd, warnings)
    buf = io.BytesIO()
    psd.save(buf)
    return buf.getvalue()


def save_psd(document: Document, path: str | os.PathLike, warnings: list[str] | None = None) -> None:
    """Save atomically as a layered PSD."""
    path = Path(path)
    data = psd_bytes(document, warnings)
    write_file(path, data)
