"""Photoshop (.psd) import and export through psd-tools.

Import keeps pixel layers (type and smart-object layers come in as their
stored raster pixels), groups (pass-through or isolated), names, visibility,
opacity, every Photoshop blend mode, clipping masks, offsets and layer masks
(including disabled ones, with their density; Photoshop masks have no
"inverted" flag). What only a renderer can turn into pixels is drawn by
psd-tools at the document size and kept as a pixel layer under its Photoshop
name, with a warning saying it was converted: fill layers (solid colour,
gradient, pattern), shape layers, and layers with effects, a vector mask or
fill opacity. Adjustment layers psd-tools can apply (curves, levels,
brightness/contrast, exposure, hue/saturation, invert, posterize, threshold)
become "<name> (applied)": the composite below them with the adjustment
applied, as pixels (a snapshot: editing the layers below does not update it).
Other adjustments become hidden, empty, clearly named placeholder groups.
Every such change is reported in ``warnings``. Lab files are refused; CMYK,
grayscale, duotone (as its grayscale ink), 16- and 32-bit files are converted
to 8-bit RGB, with a warning; multichannel files open as their merged image.

Export (psd-tools 1.26 can write layered files) writes 8-bit RGBA with the
same tree: pixel layers at their offsets, groups, names, visibility, opacity,
blend modes, clipping and layer masks with their disabled flag, group masks
included (psd-tools 1.26 needs a work-around for those; the file is read back to
check, and if it does not parse the group masks are left out with a warning).
An inverted mask is written
inverted (Photoshop has no flag for it). Diffusion brush and generated layers
become plain pixel layers (their parameters live only in .ora). The merged
preview image is rendered by psd-tools' own compositor when saving.
"""

from __future__ import annotations

import copy
import functools
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
    "DIVIDE": "divide",
    "SUBTRACT": "subtract",
    "LINEAR_BURN": "linear-burn",
    "VIVID_LIGHT": "vivid-light",
    "LINEAR_LIGHT": "linear-light",
    "PIN_LIGHT": "pin-light",
    "HARD_MIX": "hard-mix",
    "DARKER_COLOR": "darker-color",
    "LIGHTER_COLOR": "lighter-color",
    "DISSOLVE": "dissolve",
}
_TO_PSD = {v: k for k, v in _MODES.items()}
#: Estimated bytes psd-tools may allocate while reading one layer.
_ALLOC_BYTES = limits.MAX_PIXELS * 8


# ------------------------------------------------------------------ reading
#: ``Document.metadata`` key: {layer id: what was converted} for the layers made
#: from what Photoshop draws itself (fills, shapes, effects, adjustments)
CONVERTED_KEY = "photoshop_conversions"
#: psd-tools layer kinds drawn from a description rather than stored pixels
_FILL_KINDS = {"solidcolorfill": "solid colour fill", "gradientfill": "gradient fill", "patternfill": "pattern fill"}
#: kinds whose stored raster pixels are the layer
_PIXEL_KINDS = ("pixel", "type", "smartobject")


def _mode(psd_layer, warnings: list[str]) -> str:
    name = getattr(psd_layer.blend_mode, "name", str(psd_layer.blend_mode))
    mode = _MODES.get(name)
    if mode is None:
        warnings.append(f"layer {_name(psd_layer)!r}: blend mode {name} is not supported, using normal")
        return "normal"
    return mode


def _mask_array(psd_layer, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The layer mask as HxW uint8 covering ``box`` (left, top, width, height), with
    Photoshop's mask density applied."""
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
    density = _mask_density(psd_layer)
    if density < 255:
        # density lifts what the mask hides: 255 - (255 - m) * density
        out = (255 - ((255 - out.astype(np.uint32)) * density + 127) // 255).astype(np.uint8)
    return out


def _mask_density(psd_layer) -> int:
    # Photoshop falls back on the vector mask's density when the user mask has none
    params = getattr(psd_layer.mask, "parameters", None)
    if params is None:
        return 255
    value = getattr(params, "user_mask_density", None)
    if value is None:
        value = getattr(params, "vector_mask_density", None)
    return 255 if value is None else int(value)


def _name(psd_layer) -> str:
    # Krita ends its Unicode layer names with a NUL.
    return str(psd_layer.name).rstrip("\x00")


def _is_adjustment(psd_layer) -> bool:
    from psd_tools.api.layers import AdjustmentLayer

    return isinstance(psd_layer, AdjustmentLayer)


def _render_reasons(psd_layer) -> list[str]:
    """What in ``psd_layer`` only a renderer can turn into pixels (empty: its stored
    pixels are the layer)."""
    reasons = []
    if psd_layer.kind in _FILL_KINDS:
        reasons.append(_FILL_KINDS[psd_layer.kind] + " layer")
    elif psd_layer.kind == "shape":
        reasons.append("shape layer")
    if psd_layer.has_effects():
        reasons.append("layer effects")
    if psd_layer.has_vector_mask() and psd_layer.kind in _PIXEL_KINDS:
        # (a shape layer's vector mask is its shape, drawn above)
        reasons.append("vector mask")
    if getattr(psd_layer, "fill_opacity", 255) != 255:
        reasons.append("fill opacity")
    return reasons


class _Alone:
    """Context for rendering one layer by itself through psd-tools: full opacity and
    not clipped (we keep opacity and clipping as properties). Its layer mask stays
    on: psd-tools knows when a stored mask is really the rasterised vector mask or
    the shape again, and which density applies. psd-tools marks a document edited
    when a property changes, which makes later renders redraw vectors; the flag is
    put back afterwards."""

    def __init__(self, psd, layer) -> None:
        self.psd, self.layer = psd, layer

    def __enter__(self):
        layer = self.layer
        self.saved = (layer.opacity, layer.clipping, getattr(self.psd, "_updated", None))
        layer.opacity = 255
        layer.clipping = False
        return self

    def __exit__(self, *exc) -> None:
        layer = self.layer
        opacity, clipping, updated = self.saved
        layer.opacity = opacity
        layer.clipping = clipping
        if updated is not None:
            self.psd._updated = updated


@functools.lru_cache(maxsize=8)
def _icc_transform(icc: bytes, mode: str):
    """A little-cms transform from the file's profile to sRGB, built once per
    profile (psd-tools builds one per image, which is most of the cost of small
    layers). None when little-cms cannot build it."""
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.buildTransform(src, ImageCms.createProfile("sRGB"), mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _rgba(psd, draw) -> np.ndarray | None:
    """``draw(apply_icc)`` (a psd-tools topil/composite call) as straight RGBA uint8,
    converted to sRGB with the file's ICC profile as psd-tools does, but with the
    transform cached. CMYK (where psd-tools also moves the alpha) stays with it."""
    from psd_tools.constants import ColorMode, Resource

    icc = psd.image_resources.get_data(Resource.ICC_PROFILE) if Resource.ICC_PROFILE in psd.image_resources else None
    if not icc or psd.color_mode not in (ColorMode.RGB, ColorMode.GRAYSCALE):
        img = draw(True)
        return None if img is None else np.array(img.convert("RGBA"), np.uint8)
    img = draw(False)
    if img is None:
        return None
    base = {"RGBA": "RGB", "LA": "L"}.get(img.mode, img.mode)
    transform = _icc_transform(bytes(icc), base) if base in ("RGB", "L") else None
    if transform is None:
        img = draw(True)
        return None if img is None else np.array(img.convert("RGBA"), np.uint8)
    from PIL import ImageCms

    alpha = img.getchannel("A") if "A" in img.getbands() else None
    out = ImageCms.applyTransform(img.convert(base) if img.mode != base else img, transform)
    if alpha is not None:
        out.putalpha(alpha)
    return np.array(out.convert("RGBA"), np.uint8)


def _missing(error: ImportError) -> str:
    """Which optional package psd-tools asked for (its drawing needs scipy and aggdraw)."""
    text = str(error)
    found = [name for name in ("scipy", "aggdraw") if name in text]
    return " and ".join(found or ["psd-tools[composite]"])


def _rendered_pixels(psd, psd_layer) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The layer drawn by psd-tools (fill, shape, effects, vector mask, fill
    opacity) over the part of the document it can reach, with that part's top-left
    corner; None when it draws nothing."""
    # psd-tools trusts a pixel layer's stored pixels to include its vector mask
    # unless asked to redraw; Photoshop does not store them that way
    force = psd_layer.kind in _PIXEL_KINDS and psd_layer.has_vector_mask()
    box = _reach(psd, psd_layer)
    if box is None:
        return None
    with _Alone(psd, psd_layer):
        pixels = _rgba(psd, lambda icc: psd_layer.composite(
            viewport=box, layer_filter=lambda x: x is psd_layer, force=force, apply_icc=icc))
    return None if pixels is None else (pixels, (box[0], box[1]))


#: pixels around a shape's box that its own (non-effect) stroke may reach
_STROKE_MARGIN = 16


def _reach(psd, psd_layer) -> tuple[int, int, int, int] | None:
    """The part of the document ``psd_layer`` can paint: all of it when it has
    effects (shadows and glows reach far), else its box plus a stroke margin."""
    left, top, right, bottom = psd.viewbox
    if psd_layer.has_effects():
        return psd.viewbox
    x0, y0, x1, y1 = psd_layer.bbox
    if x1 <= x0 or y1 <= y0:
        return psd.viewbox
    m = _STROKE_MARGIN
    box = (max(left, x0 - m), max(top, y0 - m), min(right, x1 + m), min(bottom, y1 + m))
    return box if box[2] > box[0] and box[3] > box[1] else None


def _below_filter(psd, target, *, include_target: bool = True, leave_out=None):
    """A psd-tools layer filter: visible layers under ``target`` in stacking order,
    and ``target`` itself (unless not ``include_target``); ``leave_out`` (a layer)
    and what it holds are left out too."""
    below = set()
    for layer in psd.descendants():
        if layer is target:
            break
        below.add(id(layer))
    if leave_out is not None:
        below.discard(id(leave_out))
        if leave_out.is_group():
            below -= {id(x) for x in leave_out.descendants()}
    return lambda x: (include_target and x is target) or (id(x) in below and x.visible)


def _context_composite(psd, target, layer_filter) -> np.ndarray | None:
    """Straight RGBA uint8 of ``layer_filter``'s layers composited in ``target``'s
    context (its nearest isolated group, else the document), document size."""
    context = _isolated_context(psd, target)
    saved = getattr(psd, "_updated", None)
    try:
        return _rgba(psd, lambda icc: context.composite(viewport=psd.viewbox, layer_filter=layer_filter,
                                                        apply_icc=icc))
    finally:
        if saved is not None:
            psd._updated = saved


def _isolated_context(psd, target):
    """What ``target`` is composited inside: its nearest isolated group, else the document."""
    node = target.parent
    while node is not None and node is not psd:
        if node.is_group() and getattr(node.blend_mode, "name", "") != "PASS_THROUGH":
            return node
        node = node.parent
    return psd


def _applied_adjustment(psd, psd_layer) -> np.ndarray | None:
    """The composite under ``psd_layer`` with the adjustment applied by psd-tools
    (mask, opacity and clipping included), document size; None where psd-tools
    cannot apply this kind of adjustment."""
    from psd_tools.composite.adjustments import ADJUSTMENT_FUNC
    from psd_tools.constants import ColorMode

    if psd_layer.kind not in ADJUSTMENT_FUNC or getattr(psd_layer, "_data", True) is None:
        return None
    if psd.color_mode not in (ColorMode.RGB, ColorMode.GRAYSCALE, ColorMode.CMYK):
        return None
    return _context_composite(psd, psd_layer, _below_filter(psd, psd_layer))


def _adjustment_layer(psd, psd_layer, common: dict, warnings: list[str]) -> Layer:
    name, kind = _name(psd_layer), psd_layer.kind
    try:
        pixels, why = _applied_adjustment(psd, psd_layer), "cannot be applied"
    except ImportError as e:
        pixels, why = None, f"need {_missing(e)} to be applied"
    if pixels is None:
        warnings.append(f"layer {name!r}: {kind} adjustment layers {why}; kept as a hidden empty placeholder group")
        common = dict(common, name=f"{name} ({kind} adjustment, not applied)", visible=False)
        return GroupLayer(**common)
    warnings.append(
        f"layer {name!r}: {kind} adjustment applied to the layers below it and kept as pixels "
        f"(editing those layers will not update it)"
    )
    # The applied result replaces what is below: normal mode, full opacity, no mask
    # (all already in the pixels).
    common = dict(common, name=f"{name} (applied)", opacity=1.0)
    if ((pixels[..., 3] > 0) & (pixels[..., 3] < 255)).any() and _clipping_fits_better(psd, psd_layer, pixels):
        # Over a semi-transparent backdrop, a normal layer adds to its alpha. Clipped
        # to the layer below, an opaque layer replaces the colour and keeps that
        # layer's alpha: exact when that layer is the whole backdrop.
        pixels[..., 3][pixels[..., 3] > 0] = 255
        common["clipped"] = True
    return RasterLayer(pixels=pixels, offset=(0, 0), blend_mode="normal", **common)


def _on_white(rgba: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:4] / 255.0
    return rgba[..., :3] * a + 255.0 * (1.0 - a)


def _clipping_fits_better(psd, psd_layer, target: np.ndarray) -> bool:
    """Would the applied adjustment ``target`` (over a partly transparent backdrop)
    come out closer as an opaque layer clipped to the layer below than as a normal
    layer? Both results are worked out from psd-tools composites."""
    parent = psd_layer.parent
    siblings = list(parent) if parent is not None else []
    if psd_layer not in siblings:
        return False
    below = [l for l in siblings[: siblings.index(psd_layer)] if not _is_adjustment(l)]
    if not below or not below[-1].visible or below[-1].opacity != 255:
        return False
    base = below[-1]
    backdrop = _context_composite(psd, psd_layer, _below_filter(psd, psd_layer, include_target=False))
    under_base = _context_composite(psd, base, _below_filter(psd, base, include_target=False))
    inside = {id(x) for x in base.descendants()} if base.is_group() else set()
    saved = getattr(psd, "_updated", None)
    try:
        alone = _rgba(psd, lambda icc: base.composite(
            viewport=psd.viewbox, layer_filter=lambda x: x is base or (id(x) in inside and x.visible), apply_icc=icc))
    finally:
        if saved is not None:
            psd._updated = saved
    if backdrop is None or alone is None or not alone[..., 3].any():
        return False
    if (alone[..., 3][backdrop[..., 3] > 0] > 0).all():
        return True  # the base reaches wherever the backdrop has pixels
    t = target.astype(np.float64)
    ta, ba = t[..., 3:4] / 255.0, backdrop[..., 3:4] / 255.0
    # normal: the target (alpha = backdrop alpha) over the backdrop
    out_a = ta + ba * (1 - ta)
    out_c = (t[..., :3] * ta + backdrop[..., :3] * ba * (1 - ta)) / np.maximum(out_a, 1e-9)
    normal = np.concatenate([out_c, out_a * 255], axis=2)
    # clipped: the target's colour inside the base, over what lies under the base
    aa = alone[..., 3:4] / 255.0
    ub = np.zeros_like(t) if under_base is None else under_base.astype(np.float64)
    ua = ub[..., 3:4] / 255.0
    clip_a = aa + ua * (1 - aa)
    clip_c = (t[..., :3] * aa + ub[..., :3] * ua * (1 - aa)) / np.maximum(clip_a, 1e-9)
    clipped = np.concatenate([clip_c, clip_a * 255], axis=2)
    err_normal = np.abs(_on_white(normal) - _on_white(t)).mean()
    err_clipped = np.abs(_on_white(clipped) - _on_white(t)).mean()
    return bool(err_clipped < err_normal)


def _convert(psd_layer, doc: Document, warnings: list[str], budget: list[int], psd) -> Layer | None:
    name = _name(psd_layer)
    common = dict(name=name, visible=bool(psd_layer.visible), opacity=psd_layer.opacity / 255.0)
    if psd_layer.is_group():
        mode_name = getattr(psd_layer.blend_mode, "name", "")
        passthrough = mode_name == "PASS_THROUGH"
        if psd_layer.has_effects():
            warnings.append(f"group {name!r}: layer effects on groups are not supported, left out")
        if psd_layer.has_vector_mask():
            warnings.append(f"group {name!r}: vector masks on groups are not supported, left out")
        fill = getattr(psd_layer, "fill_opacity", 255)
        if fill != 255:
            # a group draws nothing of its own but its effects: without effects, its
            # fill opacity fades its content like opacity
            common["opacity"] *= fill / 255.0
            warnings.append(f"group {name!r}: fill opacity {round(fill / 2.55)}% folded into its opacity")
        group = GroupLayer(
            isolated=not passthrough,
            blend_mode="normal" if passthrough else _mode(psd_layer, warnings),
            **common,
        )
        for child in psd_layer:
            layer = _convert(child, doc, warnings, budget, psd)
            if layer is not None:
                group._insert(len(group.children), layer)
        mask = _mask_array(psd_layer, (0, 0, doc.width, doc.height))
        if mask is not None:
            group.mask = mask
            group.mask_enabled = not psd_layer.mask.disabled
        return _clip(group, psd_layer)
    if _is_adjustment(psd_layer):
        # kept clipped so that the clipped layers above it stay in their stack
        layer = _clip(_adjustment_layer(psd, psd_layer, common, warnings), psd_layer)
        applied = isinstance(layer, RasterLayer)
        _mark(doc, layer, f"{psd_layer.kind} adjustment " + ("applied (a snapshot of the layers below)"
                                                             if applied else "not applied (placeholder)"))
        return layer
    reasons = _render_reasons(psd_layer)
    if reasons:
        budget[0] -= doc.width * doc.height
        if budget[0] < 0:
            raise ValueError("layers exceed the total pixel budget")
        try:
            rendered = _rendered_pixels(psd, psd_layer)
        except ImportError as e:
            warnings.append(f"layer {name!r}: {', '.join(reasons)} need {_missing(e)} to be drawn, skipped")
            return None
        if rendered is None:
            warnings.append(f"layer {name!r}: {', '.join(reasons)} could not be drawn, skipped")
            return None
        pixels, (left, top) = rendered
        if psd_layer.has_mask() and not psd_layer.mask.disabled:
            reasons.append("layer mask")
        warnings.append(f"layer {name!r}: {', '.join(reasons)} converted to pixels")
        layer = RasterLayer(pixels=pixels, offset=(left, top), blend_mode=_mode(psd_layer, warnings), **common)
        _mark(doc, layer, f"{', '.join(reasons)} converted to pixels")
        return _clip(layer, psd_layer)
    w, h = psd_layer.width, psd_layer.height
    if w <= 0 or h <= 0:
        pixels = np.zeros((0, 0, 4), np.uint8)  # an empty layer: nothing lost
        left, top = 0, 0
    else:
        problem = limits.size_problem(w, h)
        if problem:
            raise ValueError(f"layer {name!r}: {problem}")
        budget[0] -= w * h
        if budget[0] < 0:
            raise ValueError("layers exceed the total pixel budget")
        pixels = _rgba(psd, lambda icc: psd_layer.topil(apply_icc=icc))
        if pixels is None:
            warnings.append(f"layer {name!r}: has no pixel data, skipped")
            return None
        left, top = psd_layer.left, psd_layer.top
    if psd_layer.kind not in _PIXEL_KINDS:
        warnings.append(f"layer {name!r}: {psd_layer.kind} layer loaded as pixels")
    layer = RasterLayer(pixels=pixels, offset=(left, top), blend_mode=_mode(psd_layer, warnings), **common)
    if psd_layer.has_mask() and layer.pixels.size:
        mask = _mask_array(psd_layer, (left, top, layer.pixels.shape[1], layer.pixels.shape[0]))
        if mask is not None:
            layer.mask = mask
            layer.mask_enabled = not psd_layer.mask.disabled
    return _clip(layer, psd_layer)


def _mark(doc: Document, layer: Layer, what: str) -> None:
    """Remember that ``layer`` was converted (the Layers panel shows it)."""
    doc.metadata.setdefault(CONVERTED_KEY, {})[layer.id] = what


def _clip(layer: Layer, psd_layer) -> Layer:
    if getattr(psd_layer, "clipping", False) and hasattr(layer, "clipped"):
        layer.clipped = True
    return layer


def _check_color_mode(path: Path, psd, warnings: list[str]) -> None:
    """Refuse what cannot be shown as RGB; say how the rest is converted."""
    from psd_tools.constants import ColorMode

    mode = psd.color_mode
    if mode == ColorMode.LAB:
        raise FileFormatError(path, "Lab colour PSDs are not supported; convert the file to RGB in Photoshop first")
    if mode == ColorMode.DUOTONE:
        warnings.append("duotone PSD: shown as its grayscale ink values (the duotone inks are not applied)")
    elif mode == ColorMode.CMYK:
        warnings.append("CMYK PSD: converted to RGB" + (" with its ICC profile" if _has_icc(psd) else " without a profile"))
        if any(getattr(l.blend_mode, "name", "NORMAL") not in ("NORMAL", "PASS_THROUGH") for l in psd.descendants()):
            warnings.append("CMYK PSD: blend modes are computed on the RGB colours, so they differ from "
                            "Photoshop's blending of the CMYK inks")
    if psd.depth in (16, 32):
        warnings.append(f"{psd.depth}-bit PSD: converted to 8 bits per channel")


def _has_icc(psd) -> bool:
    from psd_tools.constants import Resource

    return Resource.ICC_PROFILE in psd.image_resources


def load_psd(path: str | os.PathLike, warnings: list[str] | None = None) -> Document:
    """Open a PSD or PSB as a layered document; ``warnings`` collects what was
    converted or left out."""
    from psd_tools import PSDImage
    from psd_tools.constants import ColorMode

    path = Path(path)
    warnings = warnings if warnings is not None else []
    try:
        psd = PSDImage.open(path, max_alloc_bytes=_ALLOC_BYTES)
        problem = limits.size_problem(psd.width, psd.height)
        if problem:
            raise FileFormatError(path, problem)
        _check_color_mode(path, psd, warnings)
        doc = Document(psd.width, psd.height)
        budget = [4 * limits.MAX_PIXELS]
        # Photoshop itself shows a multichannel document's merged image, not its layers.
        multichannel = psd.color_mode == ColorMode.MULTICHANNEL
        if multichannel and len(psd):
            warnings.append("multichannel PSD: opened as its merged image (one layer; the layers are not read)")
        for psd_layer in [] if multichannel else psd:
            layer = _convert(psd_layer, doc, warnings, budget, psd)
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
def _write(layer: Layer, parent, warnings: list[str], group_masks: bool = True) -> None:
    from psd_tools.constants import BlendMode

    opacity = int(round(layer.opacity * 255))
    if isinstance(layer, GroupLayer):
        mode = BlendMode.PASS_THROUGH if not layer.isolated else BlendMode[_TO_PSD[layer.blend_mode]]
        group = parent.create_group(name=layer.name, opacity=opacity, blend_mode=mode)
        for child in layer.children:
            _write(child, group, warnings, group_masks)
        target, box = group, layer.offset
    else:
        assert isinstance(layer, RasterLayer)
        if layer.kind in ("brush", "generated"):
            warnings.append(f"layer {layer.name!r}: {layer.kind} layer saved as plain pixels "
                            f"(its prompt and settings are kept only in .ora)")
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
    if layer.clipped:
        target.clipping = True
    if layer.mask is None or not layer.mask.size:
        return
    if isinstance(layer, GroupLayer):
        if not group_masks:
            warnings.append(f"group {layer.name!r}: group masks are not written to PSD")
            return
        # psd-tools 1.26 shares one channel list between a group and its closing
        # divider record, so a mask added to the group lands in both and the file
        # no longer parses; give the divider its own list first.
        bounding = getattr(target, "_bounding_channels", None)
        if bounding is not None and bounding is getattr(target, "_channels", None):
            target._bounding_channels = copy.deepcopy(bounding)
    data = 255 - layer.mask if layer.mask_inverted else layer.mask
    mask = target.create_mask(Image.fromarray(np.ascontiguousarray(data), "L"), top=box[1], left=box[0])
    mask.disabled = not layer.mask_enabled


def _build(document: Document, warnings: list[str], group_masks: bool) -> bytes:
    from psd_tools import PSDImage

    psd = PSDImage.new("RGBA", (document.width, document.height), color=(0, 0, 0, 0))
    for layer in document.layers:
        _write(layer, psd, warnings, group_masks)
    if group_masks and hasattr(psd, "_update_record"):
        psd._update_record()  # the record tree is rebuilt from the layers, dividers included
    buf = io.BytesIO()
    psd.save(buf)
    return buf.getvalue()


def _readable(data: bytes) -> bool:
    from psd_tools import PSDImage

    try:
        psd = PSDImage.open(io.BytesIO(data))
        for layer in psd.descendants():
            if layer.is_group() and layer.has_mask():
                layer.mask.topil()
        return True
    except Exception:  # noqa: BLE001 - any failure means "write it the safe way"
        return False


def psd_bytes(document: Document, warnings: list[str] | None = None) -> bytes:
    """The document as PSD file bytes."""
    warnings = warnings if warnings is not None else []
    has_group_masks = any(isinstance(l, GroupLayer) and l.mask is not None for l in document.walk())
    attempt: list[str] = []
    data = _build(document, attempt, group_masks=True)
    if has_group_masks and not _readable(data):
        # a psd-tools version that writes group masks wrongly: leave them out, say so
        attempt = []
        data = _build(document, attempt, group_masks=False)
    warnings.extend(attempt)
    return data


def save_psd(document: Document, path: str | os.PathLike, warnings: list[str] | None = None) -> None:
    """Save atomically as a layered PSD."""
    path = Path(path)
    data = psd_bytes(document, warnings)
    write_file(path, data)
