"""Layer operations of the Layers panel and menus, each one history step.

Thin UI policy over ``editor.core.layer_ops`` (where new layers go, unique names,
what "copy a layer" means). No Qt here: these work on any Document.
"""
from __future__ import annotations

import numpy as np

from editor.core import layer_ops as core_ops
from editor.core.compositor import render_layers
from editor.core.document import Document
from editor.core.geometry import Rect
from editor.core.layers import GroupLayer, Layer, RasterLayer


def unique_name(doc: Document, base: str) -> str:
    names = {layer.name for layer in doc.walk()}
    if base not in names:
        return base
    n = 2
    while f"{base} {n}" in names:
        n += 1
    return f"{base} {n}"


def insert_point(doc: Document) -> tuple[GroupLayer | None, int | None]:
    """Where a new layer goes: just above the active layer, in its group."""
    active = doc.active_layer
    if active is None or active.parent is None:
        return None, None
    parent = active.parent
    return (None if parent is doc.root else parent), parent.children.index(active) + 1


_insert_point = insert_point  # the AI panels call it by this name


def add_raster_layer(doc: Document, name: str | None = None, rgba: np.ndarray | None = None,
                     offset: tuple[int, int] = (0, 0)) -> RasterLayer:
    """A new layer above the active one: transparent document-size, or ``rgba`` at ``offset``."""
    if rgba is None:
        rgba = np.zeros((doc.height, doc.width, 4), np.uint8)
    layer = RasterLayer(name or unique_name(doc, "Layer"), rgba, offset=offset)
    parent, index = insert_point(doc)
    doc.add_layer(layer, parent, index)
    return layer


def group_active(doc: Document) -> GroupLayer:
    """Put the active layer into a new group at its place (one step); an empty group
    above nothing when no layer is active."""
    layer = doc.active_layer
    name = unique_name(doc, "Group")
    if layer is None:
        return core_ops.new_group(doc, name)
    return core_ops.new_group(doc, name, [layer])


def duplicate_layer(doc: Document, layer: Layer) -> Layer:
    return core_ops.duplicate_layer(doc, layer, unique_name(doc, f"{layer.name} copy"))


def delete_layer(doc: Document, layer: Layer) -> None:
    doc.remove_layer(layer, label=f"Delete {layer.name}")


def merge_down(doc: Document, layer: Layer) -> RasterLayer:
    merged = core_ops.merge_down(doc, layer)
    doc.active_layer = merged
    return merged


def flatten_image(doc: Document) -> RasterLayer:
    flat = core_ops.flatten(doc)
    doc.active_layer = flat
    return flat


def add_mask(doc: Document, layer: Layer) -> None:
    """A mask from the selection if there is one, else revealing everything."""
    core_ops.add_mask(doc, layer, from_selection=doc.selection is not None)


def remove_mask(doc: Document, layer: Layer) -> None:
    core_ops.delete_mask(doc, layer)


def apply_mask(doc: Document, layer: Layer) -> None:
    core_ops.apply_mask(doc, layer)


def layer_image(doc: Document, layer: Layer) -> tuple[np.ndarray, Rect]:
    """What ``layer`` looks like on its own (mask and opacity applied, shown even if
    hidden), cropped to its bounds inside the document: for copying and dragging out."""
    rect = layer.bounds().intersect(doc.rect)
    if rect.is_empty:
        return np.zeros((1, 1, 4), np.uint8), Rect(0, 0, 1, 1)
    probe = layer.copy()
    probe.visible = True
    probe.blend_mode = "normal"  # alone on transparency a blend mode means nothing
    return render_layers([probe], rect), rect


def clear_in_selection(doc: Document, layer: Layer) -> Rect:
    """Make the selected pixels of ``layer`` transparent (the Delete key); one step.
    Without a selection the whole layer is cleared."""
    if not isinstance(layer, RasterLayer):
        raise ValueError(f"layer {layer.name!r} has no pixels to clear")
    ox, oy = layer.offset
    sel = doc.selection
    local = Rect(0, 0, layer.width, layer.height)
    region = local if sel is None else local.translate(ox, oy).intersect(doc.rect).translate(-ox, -oy)
    if region.is_empty:
        return region
    new = layer.pixels[region.slices].copy()
    if sel is None:
        new[...] = 0
    else:
        weight = sel[region.translate(ox, oy).slices].astype(np.uint16)
        new[..., 3] = ((new[..., 3].astype(np.uint16) * (255 - weight) + 127) // 255).astype(np.uint8)
    return doc.set_pixels(layer, region, new, label="Clear")
