"""AI layers on a region, one per verb (BRUSH_VERBS): how each is made from the document.

The window, the scripting API and the command line make them here, so a fill, a removal, a
variation or an expanded strip is the same layer wherever it was asked for. Each is a
BrushLayer (its parameters, verb included, saved in the .ora); the render path renders it.
"""
from __future__ import annotations

import numpy as np

from .canvas_size import resize_canvas
from .layers import BrushLayer, GroupLayer, Layer
from .params import BRUSH_VERBS, BrushParams

_TITLES = {"paint": "Brush", "fill": "Fill", "remove": "Remove", "vary": "Vary", "expand": "Expand"}


def layer_name(verb: str, prompt: str = "") -> str:
    """'Fill: a red fox', 'Remove', ...: what the layers panel shows for a new layer."""
    title = _TITLES[verb]
    return f"{title}: {prompt.strip()[:40]}" if prompt.strip() else title


def check_region(doc, mask) -> np.ndarray:
    """``mask`` as a document-size HxW uint8 array (bool accepted), or a ValueError naming it."""
    region = np.asarray(mask)
    if region.dtype == bool:
        region = region.astype(np.uint8) * 255
    if region.shape != (doc.height, doc.width) or region.dtype != np.uint8:
        raise ValueError(f"mask must be a {doc.height}x{doc.width} uint8 array (the document size), "
                         f"got {region.dtype} {region.shape}")
    return np.ascontiguousarray(region)


def make_layer(doc, verb: str, mask, prompt: str, profile, *, seed: int = 0, strength: float | None = None,
               steps: int | None = None, guidance: float | None = None, negative_prompt: str = "",
               name: str | None = None, loras=None) -> BrushLayer:
    """A new, stale layer of ``verb`` on ``mask`` (not yet added to ``doc``); what is not given
    comes from the model ``profile`` (editor.core.profiles), and ``loras`` None from the
    document's LoRA list. ``mask`` None: no region yet (the
    user paints it with the region tool)."""
    if verb not in BRUSH_VERBS:
        raise ValueError(f"verb must be one of {', '.join(BRUSH_VERBS)}, got {verb!r}")
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a string, got {type(prompt).__name__}")
    region = None if mask is None else check_region(doc, mask)
    if region is not None and not region.any():
        raise ValueError("the mask is empty: select or paint where the layer should work first")
    params = profile.verb_defaults(verb, prompt)
    params.update({k: v for k, v in {"strength": strength, "steps": steps, "guidance": guidance}.items()
                   if v is not None})
    return BrushLayer(name or layer_name(verb, prompt), np.zeros((1, 1, 4), np.uint8),
                      params=BrushParams(prompt=prompt, negative_prompt=negative_prompt, seed=int(seed),
                                         verb=verb, loras=tuple(doc.default_loras if loras is None else loras),
                                         **params),
                      region=None if region is None else region.copy(),
                      state="stale" if region is not None else "done")


def add_above(doc, layer: BrushLayer, anchor: Layer | None = None, parent: GroupLayer | None = None,
              label: str | None = None) -> BrushLayer:
    """Add ``layer`` right above ``anchor`` (default: on top of ``parent``) as one step."""
    if anchor is not None and anchor.parent is not None:
        index = anchor.parent.children.index(anchor) + 1
        doc.add_layer(layer, parent=anchor.parent, index=index, label=label or f"Add {layer.name}")
    else:
        doc.add_layer(layer, parent=parent, label=label or f"Add {layer.name}")
    doc.active_layer = layer
    return layer


def layer_region(doc, layer: Layer) -> np.ndarray:
    """Document-size mask (255) of where ``layer`` has visible pixels: what Vary re-imagines."""
    out = np.zeros((doc.height, doc.width), np.uint8)
    pixels = getattr(layer, "pixels", None)
    if pixels is None:  # a group: everything its layers cover
        for child in getattr(layer, "children", ()):
            out = np.maximum(out, layer_region(doc, child))
        return out
    alpha = pixels[..., 3]
    mask = layer.effective_mask()
    if mask is not None and mask.shape == alpha.shape:
        alpha = np.minimum(alpha, mask)
    x, y = layer.offset
    h, w = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(doc.width, x + w), min(doc.height, y + h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = np.where(alpha[y0 - y:y1 - y, x0 - x:x1 - x] > 0, 255, 0)
    return out


def new_area(doc, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    """Mask of the canvas ``resize_canvas`` added (the document is already the new size)."""
    out = np.full((doc.height, doc.width), 255, np.uint8)
    old_w, old_h = doc.width - left - right, doc.height - top - bottom
    x0, y0 = max(0, left), max(0, top)
    out[y0:max(y0, top + old_h), x0:max(x0, left + old_w)] = 0
    return out


def expand(doc, profile, *, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0, prompt: str = "",
           seed: int = 0, ai_fill: bool = True) -> BrushLayer | None:
    """Canvas Size: grow (or crop) the canvas and, with ``ai_fill``, add a stale expand layer on
    the new area, as one history step; returns the layer (None when nothing new to fill)."""
    with doc.history.group("Expand Canvas" if ai_fill else "Canvas Size"):
        resize_canvas(doc, left=left, top=top, right=right, bottom=bottom)
        area = new_area(doc, left, top, right, bottom)
        if not (ai_fill and area.any()):
            return None
        return add_above(doc, make_layer(doc, "expand", area, prompt, profile, seed=seed), None, None)
