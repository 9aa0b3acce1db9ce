"""Layer operations of the Layers panel and menus, each one history step.

They only use the document's editing methods, so undo, events and widgets follow
for free. No Qt here: these work on any Document.
"""
from __future__ import annotations

import numpy as np

from editor.core.compositor import Compositor
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


def _insert_point(doc: Document) -> tuple[GroupLayer | None, int | None]:
    """Where a new layer goes: just above the active layer, in its group."""
    active = doc.active_layer
    if active is None or active.parent is None:
        return None, None
    parent = active.parent
    return (None if parent is doc.root else parent), parent.children.index(active) + 1


def add_raster_layer(doc: Document, name: str | None = None, rgba: np.ndarray | None = None,
                     offset: tuple[int, int] = (0, 0)) -> RasterLayer:
    """A new layer above the active one: transparent document-size, or ``rgba`` at ``offset``."""
    if rgba is None:
        rgba = np.zeros((doc.height, doc.width, 4), np.uint8)
    layer = RasterLayer(name or unique_name(doc, "Layer"), rgba, offset=offset)
    parent, index = _insert_point(doc)
    doc.add_layer(layer, parent, index)
    return layer


def add_group(doc: Document, name: str | None = None) -> GroupLayer:
    """A new empty group above the active layer."""
    group = GroupLayer(name or unique_name(doc, "Group"))
    parent, index = _insert_point(doc)
    doc.add_layer(group, parent, index)
    return group


def group_active(doc: Document) -> GroupLayer | None:
    """Put the active layer into a new group at its place (one step)."""
    layer = doc.active_layer
    if layer is None:
        return add_group(doc)
    parent = layer.parent
    index = parent.children.index(layer)
    with doc.history.group(f"Group {layer.name}"):
        group = GroupLayer(unique_name(doc, "Group"))
        doc.add_layer(group, None if parent is doc.root else parent, index + 1)
        doc.move_layer(layer, group, 0)
    doc.active_layer = group
    return group


def duplicate_layer(doc: Document, layer: Layer) -> Layer:
    copy = layer.copy(name=unique_name(doc, f"{layer.name} copy"))
    parent = layer.parent
    doc.add_layer(copy, None if parent is doc.root else parent, parent.children.index(layer) + 1,
                  label=f"Duplicate {layer.name}")
    return copy


def delete_layer(doc: Document, layer: Layer) -> None:
    doc.remove_layer(layer, label=f"Delete {layer.name}")


def render_layers(doc: Document, layers: list[Layer], rect: Rect) -> np.ndarray:
    """Composite copies of ``layers`` (bottom -> top) alone on transparency, cropped to ``rect``."""
    tmp = Document(doc.width, doc.height)
    for layer in layers:
        tmp.root._insert(len(tmp.root.children), layer.copy())
    comp = Compositor(tmp)
    try:
        return comp.render(rect)
    finally:
        comp.close()


def layer_image(doc: Document, layer: Layer) -> tuple[np.ndarray, Rect]:
    """What ``layer`` looks like on its own (mask and opacity applied), cropped to its
    bounds inside the document: for copying and dragging a layer out."""
    rect = layer.bounds().intersect(doc.rect)
    if rect.is_empty:
        return np.zeros((1, 1, 4), np.uint8), Rect(0, 0, 1, 1)
    probe = layer.copy()
    probe.visible = True
    probe.blend_mode = "normal"  # alone on transparency a blend mode means nothing
    tmp = Document(doc.width, doc.height)
    tmp.root._insert(0, probe)
    comp = Compositor(tmp)
    try:
        return comp.render(rect), rect
    finally:
        comp.close()


def merge_down(doc: Document, layer: Layer) -> RasterLayer:
    """Merge ``layer`` into the layer below it in its group (one step)."""
    parent = layer.parent
    index = parent.children.index(layer)
    if index == 0:
        raise ValueError(f"layer {layer.name!r} has no layer below it to merge into")
    below = parent.children[index - 1]
    if layer.locked or below.locked:
        raise ValueError(f"cannot merge: {'this' if layer.locked else 'the lower'} layer is locked")
    rect = layer.bounds().union(below.bounds()).intersect(doc.rect)
    if rect.is_empty:
        rect = Rect(0, 0, 1, 1)
    visible = [lay for lay in (below, layer) if lay.visible]
    rgba = render_layers(doc, visible, rect) if visible else np.zeros((rect.h, rect.w, 4), np.uint8)
    merged = RasterLayer(below.name, rgba, offset=(rect.x, rect.y))
    where = None if parent is doc.root else parent
    with doc.history.group(f"Merge {layer.name} down"):
        doc.remove_layer(layer)
        doc.remove_layer(below)
        doc.add_layer(merged, where, index - 1)
    doc.active_layer = merged
    return merged


def flatten_image(doc: Document) -> RasterLayer:
    """Replace every layer with one holding the composite (one step)."""
    comp = Compositor(doc)
    try:
        rgba = comp.render()
    finally:
        comp.close()
    flat = RasterLayer("Background", rgba)
    with doc.history.group("Flatten image"):
        for layer in list(doc.layers):
            doc.remove_layer(layer)
        doc.add_layer(flat)
    doc.active_layer = flat
    return flat


def add_mask(doc: Document, layer: Layer, from_selection: bool = True) -> None:
    """Give ``layer`` a mask: the selection if there is one (and asked), else all visible."""
    if layer.mask is not None:
        raise ValueError(f"layer {layer.name!r} already has a mask")
    if isinstance(layer, RasterLayer):
        h, w = layer.height, layer.width
    else:
        h, w = doc.height, doc.width
    mask = np.full((h, w), 255, np.uint8)
    sel = doc.selection
    if from_selection and sel is not None:
        ox, oy = layer.offset
        dst = Rect(0, 0, w, h)
        src = dst.translate(ox, oy).intersect(doc.rect)
        mask[:] = 0
        if not src.is_empty:
            mask[src.translate(-ox, -oy).slices] = sel[src.slices]
    doc.set_layer_property(layer, "mask", mask, label=f"Add mask to {layer.name}")


def remove_mask(doc: Document, layer: Layer) -> None:
    doc.set_layer_property(layer, "mask", None, label=f"Remove mask of {layer.name}")


def clear_in_selection(doc: Document, layer: Layer) -> Rect:
    """Make the selected pixels of ``layer`` transparent (the Delete key); one step."""
    if not isinstance(layer, RasterLayer):
        raise ValueError(f"layer {layer.name!r} has no pixels to clear")
    ox, oy = layer.offset
    sel = doc.selection
    local = Rect(0, 0, layer.width, layer.height)
    if sel is None:
        region = local
    else:
        region = local.translate(ox, oy).intersect(doc.rect).translate(-ox, -oy)
    if region.is_empty:
        return region
    new = layer.pixels[region.slices].copy()
    if sel is None:
        new[...] = 0
    else:
        weight = sel[region.translate(ox, oy).slices].astype(np.uint16)
        new[..., 3] = ((new[..., 3].astype(np.uint16) * (255 - weight) + 127) // 255).astype(np.uint8)
    return doc.set_pixels(layer, region, new, label="Clear")
