"""Layer operations built from the document's editing methods; each is one history
step. ``Document`` exposes them as methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

from .geometry import Rect
from .layers import GroupLayer, Layer, RasterLayer

if TYPE_CHECKING:
    from .document import Document


def _position(layer: Layer) -> tuple[GroupLayer, int]:
    return layer.parent, layer.parent.children.index(layer)


def _parent_arg(doc: "Document", group: GroupLayer) -> GroupLayer | None:
    return None if group is doc.root else group


def duplicate_layer(doc: "Document", layer: Layer, name: str | None = None) -> Layer:
    """A deep copy (new ids) placed just above ``layer``; becomes active."""
    doc._check_layer(layer)
    parent, index = _position(layer)
    copy = layer.copy(name if name is not None else f"{layer.name} copy")
    return doc.add_layer(copy, _parent_arg(doc, parent), index + 1, label=f"Duplicate {layer.name}")


def merge_down(doc: "Document", layer: Layer) -> RasterLayer:
    """Merge ``layer`` into the raster layer just below it.

    The result keeps the lower layer's name, opacity, blend mode, visibility and lock;
    its pixels are the lower layer's (mask applied) with ``layer`` blended on top
    using ``layer``'s mode, opacity and mask, over the union of both extents (nothing
    outside the document is lost). Exact when the lower layer is normal at full
    opacity, as in other editors."""
    doc._check_layer(layer)
    parent, index = _position(layer)
    if index == 0:
        raise ValueError(f"layer {layer.name!r} has no layer below it to merge into")
    below = parent.children[index - 1]
    for lyr in (layer, below):
        if not isinstance(lyr, RasterLayer):
            raise ValueError(f"cannot merge {lyr.name!r}: it is a {lyr.kind}, not a raster layer")
    if not layer.visible:
        raise ValueError(f"layer {layer.name!r} is hidden; show it or delete it instead of merging")
    from .compositor import render_layers

    base = RasterLayer(below.name, below.pixels, offset=below.offset, mask=below.mask,
                       mask_enabled=below.mask_enabled, mask_inverted=below.mask_inverted)
    top = RasterLayer(layer.name, layer.pixels, offset=layer.offset, opacity=layer.opacity,
                      blend_mode=layer.blend_mode, mask=layer.mask, mask_enabled=layer.mask_enabled,
                      mask_inverted=layer.mask_inverted)
    rect = below.bounds().union(layer.bounds())
    pixels = render_layers([base, top], rect) if not rect.is_empty else np.zeros((0, 0, 4), np.uint8)
    merged = RasterLayer(below.name, pixels, offset=(rect.x, rect.y), opacity=below.opacity,
                         blend_mode=below.blend_mode, visible=below.visible, locked=below.locked)
    with doc.history.group(f"Merge {layer.name} down"):
        doc.remove_layer(layer)
        doc.remove_layer(below)
        doc.add_layer(merged, _parent_arg(doc, parent), index - 1)
    return merged


def flatten(doc: "Document", name: str = "Background") -> RasterLayer:
    """Replace every layer by one document-size layer holding the composite."""
    from .compositor import render_layers

    pixels = render_layers(list(doc.layers), doc.rect)
    flat = RasterLayer(name, pixels)
    with doc.history.group("Flatten image"):
        for layer in list(doc.layers):
            doc.remove_layer(layer)
        doc.add_layer(flat)
    return flat


def add_mask(doc: "Document", layer: Layer, *, fill: int = 255, from_selection: bool = False) -> np.ndarray:
    """Give ``layer`` a mask: all ``fill`` (255 reveals all), or the document selection
    (outside it hidden). A raster layer's mask has its pixels' size; a group's covers
    the document from the group's offset."""
    doc._check_layer(layer)
    if layer.mask is not None:
        raise ValueError(f"layer {layer.name!r} already has a mask")
    if not 0 <= int(fill) <= 255:
        raise ValueError(f"mask fill must be 0..255, got {fill}")
    if isinstance(layer, RasterLayer):
        h, w = layer.pixels.shape[:2]
    else:
        w, h = doc.width, doc.height
    if from_selection and doc.selection is not None:
        mask = np.zeros((h, w), np.uint8)
        area = Rect(layer.offset[0], layer.offset[1], w, h)
        inside = area.clip(doc.width, doc.height)
        if not inside.is_empty:
            mask[inside.translate(-area.x, -area.y).slices] = doc.selection[inside.slices]
    else:
        mask = np.full((h, w), int(fill), np.uint8)
    doc.set_layer_property(layer, "mask", mask, label=f"Add mask to {layer.name}")
    return mask


def delete_mask(doc: "Document", layer: Layer) -> None:
    doc._check_layer(layer)
    if layer.mask is None:
        raise ValueError(f"layer {layer.name!r} has no mask to delete")
    doc.set_layer_property(layer, "mask", None, label=f"Delete mask of {layer.name}")


def apply_mask(doc: "Document", layer: Layer) -> None:
    """Bake the mask (as shown: inverted if so, nothing if disabled) into the layer's
    alpha and remove it. Groups have no pixels to bake into."""
    doc._check_layer(layer)
    if layer.mask is None:
        raise ValueError(f"layer {layer.name!r} has no mask to apply")
    if not isinstance(layer, RasterLayer):
        raise ValueError(f"cannot apply the mask of {layer.name!r}: a {layer.kind} has no pixels")
    effective = layer.effective_mask()
    with doc.history.group(f"Apply mask of {layer.name}"):
        if effective is not None and layer.pixels.size:
            new = layer.pixels.copy()
            a = new[..., 3].astype(np.uint16) * effective.astype(np.uint16)
            new[..., 3] = ((a + 127) // 255).astype(np.uint8)
            doc.set_pixels(layer, Rect.of_array(new), new, "Apply mask")
        doc.set_layer_property(layer, "mask", None)


def new_group(doc: "Document", name: str = "Group", layers: Iterable[Layer] = (), *,
              parent: GroupLayer | None = None, index: int | None = None, isolated: bool = True) -> GroupLayer:
    """A new group; ``layers`` (siblings, any order) move into it keeping their order,
    and the group takes the place of the topmost of them."""
    layers = list(layers)
    for layer in layers:
        doc._check_layer(layer)
    group = GroupLayer(name, isolated=isolated)
    with doc.history.group(f"New group {name}"):
        if layers:
            parents = {id(l.parent) for l in layers}
            if len(parents) != 1:
                raise ValueError("layers to group must share one parent")
            host = layers[0].parent
            layers.sort(key=host.children.index)
            top_index = host.children.index(layers[-1])
            doc.add_layer(group, _parent_arg(doc, host), top_index + 1)
            for i, layer in enumerate(layers):
                doc.move_layer(layer, group, i)
        else:
            doc.add_layer(group, parent, index)
    doc.active_layer = group
    return group
