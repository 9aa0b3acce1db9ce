"""Which diffusion brush layers a document change makes stale (numpy only, no Qt).

A brush layer's pixels follow from its parameters, its region and its source: the
composite of the non-brush layers below it (brush layers never see each other). So:

- a brush layer's own ``params`` or ``region`` changing makes it stale;
- a non-brush layer's pixels, or a property that changes how it composites
  (``SOURCE_PROPS``), make stale the brush layers above it whose window (the rectangle
  they were last rendered in, document coordinates) the change touches; a layer never
  rendered yet (no window) is stale on any change;
- a change of order makes a brush layer stale only when the set of non-brush layers below it
  changed (``below_signature``);
- a brush layer's visibility, opacity, blend mode or order is pure compositing: nothing.

The worker (editor.worker.diffusion) asks these functions and schedules the renders.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .geometry import Rect
from .layers import BrushLayer, Layer

#: properties of a non-brush layer whose change alters the sources of brush layers above it
SOURCE_PROPS = frozenset({"visible", "opacity", "blend_mode", "offset", "mask", "mask_enabled",
                          "mask_inverted", "isolated", "pixels"})
#: properties of a brush layer that change what it renders
BRUSH_PROPS = frozenset({"params", "region"})


def brush_layers(doc) -> list[BrushLayer]:
    return [layer for layer in doc.walk() if isinstance(layer, BrushLayer)]


def below_signature(doc, layer: BrushLayer) -> tuple:
    """The ids of the non-brush layers below ``layer`` (a move that keeps them leaves its source)."""
    ids = []
    for other in doc.walk():
        if other is layer:
            break
        if not isinstance(other, BrushLayer):
            ids.append(other.id)
    parent = layer.parent
    if getattr(parent, "render_together", False):  # moving into or out of a one-pass group re-renders
        ids.append(("joint", parent.id))
    return tuple(ids)


def stale_above(doc, changed: Layer, rect=None, windows: Mapping[str, Rect] | None = None) -> list[BrushLayer]:
    """The brush layers above ``changed`` whose window ``rect`` (document coordinates; None:
    anywhere) touches; those without a window in ``windows`` (never rendered) always."""
    if changed.document is not doc:
        return []
    windows = windows or {}
    rect = None if rect is None else Rect.coerce(rect)
    out, seen = [], False
    for layer in doc.walk():
        if layer is changed:
            seen = True
        elif seen and isinstance(layer, BrushLayer):
            window = windows.get(layer.id)
            if rect is None or window is None or window.intersects(rect):
                out.append(layer)
    return out


def stale_for_property(doc, layer: Layer, name: str, windows: Mapping[str, Rect] | None = None) -> list[BrushLayer]:
    """The brush layers that property ``name`` of ``layer`` changing makes stale."""
    if isinstance(layer, BrushLayer):
        return [layer] if name in BRUSH_PROPS else []
    return stale_above(doc, layer, None, windows) if name in SOURCE_PROPS else []


def stale_for_pixels(doc, layer: Layer, rect, windows: Mapping[str, Rect] | None = None) -> list[BrushLayer]:
    """The brush layers that ``layer``'s pixels (or mask) changing within ``rect`` make stale."""
    if isinstance(layer, BrushLayer):
        return []  # a brush layer's own pixels are its result, not anyone's source
    return stale_above(doc, layer, rect, windows)


@dataclass
class StructureChange:
    """What a change of the layer tree means for brush layers (see ``stale_for_structure``)."""

    stale: list = field(default_factory=list)  # brush layers to render again
    new: list = field(default_factory=list)  # brush layers seen for the first time
    gone: list = field(default_factory=list)  # ids of brush layers no longer in the document
    signatures: dict = field(default_factory=dict)  # layer id -> below_signature, for next time


def stale_for_structure(doc, signatures: Mapping[str, tuple]) -> StructureChange:
    """Compare each brush layer's ``below_signature`` with ``signatures`` (from the last call):
    a changed one is stale; a new one is stale unless it is ``done``; ids no longer present
    are ``gone``. A new layer without a region has nothing to render and is not stale."""
    change = StructureChange()
    for layer in brush_layers(doc):
        sig = below_signature(doc, layer)
        old = signatures.get(layer.id)
        change.signatures[layer.id] = sig
        if old is None:
            change.new.append(layer)
            if layer.state != "done" and has_region(layer):
                change.stale.append(layer)
        elif sig != old:
            change.stale.append(layer)
    change.gone = [k for k in signatures if k not in change.signatures]
    return change


def has_region(layer: BrushLayer) -> bool:
    return layer.region is not None and bool(layer.region.any())
