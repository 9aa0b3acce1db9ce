"""The document: the one source of truth for layers, selection and history."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
from psygnal import Signal, SignalGroup

from .commands import (
    AddLayerCommand,
    CallbackCommand,
    MoveLayerCommand,
    PixelCommand,
    RemoveLayerCommand,
    SetPropertyCommand,
    SetSelectionCommand,
)
from .errors import LayerLockedError
from .geometry import Rect
from .history import History
from .layers import GroupLayer, Layer, RasterLayer, _same, settable_properties
from .params import check_loras

#: properties whose change alters the composite (others are bookkeeping)
_COMPOSITE_PROPS = frozenset(
    {"visible", "opacity", "blend_mode", "offset", "mask", "mask_enabled", "mask_inverted", "isolated", "pixels",
     "clipped"}
)


class DocumentEvents(SignalGroup):
    #: (layer, rect in document coordinates) a layer's pixels or mask pixels changed
    pixels_changed = Signal(object, object)
    #: layers were added, removed or moved
    structure_changed = Signal()
    #: (layer, property name) a layer property changed
    layer_changed = Signal(object, str)
    #: (layer or None)
    active_changed = Signal(object)
    selection_changed = Signal()
    #: (brush layer, rect in document coordinates) its region changed in place there
    region_changed = Signal(object, object)
    #: (rect in document coordinates, layer or None) the composite may have changed
    #: there because of ``layer``; slots may take only the rect
    dirty = Signal(object, object)
    #: (name) a document-wide setting changed (``"default_loras"``)
    settings_changed = Signal(str)


class Document:
    """A layered image of ``width`` x ``height`` pixels."""

    def __init__(self, width: int, height: int, *, history_limit_bytes: int = 1 << 30) -> None:
        width, height = int(width), int(height)
        if width <= 0 or height <= 0:
            raise ValueError(f"document size must be positive, got {width}x{height}")
        self.width = width
        self.height = height
        self.events = DocumentEvents()
        self.root = GroupLayer("root", isolated=True)
        self.root._document = self
        self.metadata: dict[str, Any] = {}
        self.history = History(history_limit_bytes)
        self._active: Layer | None = None
        self._selection: np.ndarray | None = None
        self._default_loras: tuple[tuple[str, float], ...] = ()

    # ------------------------------------------------------------ basics
    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def rect(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    @property
    def layers(self) -> list[Layer]:
        """Top-level layers, bottom -> top (the root group's children; do not mutate)."""
        return self.root.children

    def walk(self) -> Iterator[Layer]:
        """Every layer depth-first, bottom -> top (a group after its children)."""
        return self.root.walk()

    def find(self, layer_id: str) -> Layer | None:
        for layer in self.walk():
            if layer.id == layer_id:
                return layer
        return None

    def __contains__(self, layer: Layer) -> bool:
        return isinstance(layer, Layer) and layer.document is self and layer is not self.root

    # ------------------------------------------------------------ active / selection
    @property
    def active_layer(self) -> Layer | None:
        return self._active

    @active_layer.setter
    def active_layer(self, layer: Layer | None) -> None:
        if layer is not None and layer not in self:
            raise ValueError(f"{layer!r} is not in this document")
        if layer is self._active:
            return
        self._active = layer
        self.events.active_changed.emit(layer)

    @property
    def selection(self) -> np.ndarray | None:
        """HxW uint8 (255 = selected) in document size, or None (everything)."""
        return self._selection

    @selection.setter
    def selection(self, mask: np.ndarray | None) -> None:
        if mask is not None:
            if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.shape != (self.height, self.width):
                desc = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else repr(type(mask))
                raise ValueError(f"selection must be a {self.height}x{self.width} uint8 array, got {desc}")
        self._selection = mask
        self.events.selection_changed.emit()

    def set_selection(self, mask: np.ndarray | None, label: str = "Select") -> None:
        """Replace the selection (None = select all) as one history step."""
        old = self._selection
        self.selection = mask
        self.history.push(SetSelectionCommand(self, old, mask, label))

    @property
    def default_loras(self) -> tuple[tuple[str, float], ...]:
        """The document's LoRA list, ``((path, weight), ...)``: new AI layers and generations
        start with it (each layer then keeps its own copy, saved with it)."""
        return self._default_loras

    def set_default_loras(self, loras, label: str = "Document LoRAs") -> None:
        """Replace the document's LoRA list as one history step (checked like a layer's)."""
        new, old = check_loras(loras, "document"), self._default_loras
        if new == old:
            return

        def apply(value):
            self._default_loras = value
            self.events.settings_changed.emit("default_loras")

        apply(new)
        self.history.push(CallbackCommand(label, undo=lambda: apply(old), redo=lambda: apply(new)))

    # ------------------------------------------------------------ editing (one step each)
    def add_layer(self, layer: Layer, parent: GroupLayer | None = None, index: int | None = None,
                  label: str | None = None) -> Layer:
        """Insert ``layer`` into ``parent`` (default: top level) at ``index`` (default: top)."""
        parent = self._check_parent(parent)
        if not isinstance(layer, Layer):
            raise TypeError(f"add_layer needs a Layer, got {layer!r}")
        if layer.parent is not None or layer is self.root:
            raise ValueError(f"{layer!r} is already in a layer tree")
        index = len(parent.children) if index is None else self._check_index(index, len(parent.children))
        self._attach(layer, parent, index)
        self.history.push(AddLayerCommand(self, layer, parent, index, label or f"Add {layer.name}"))
        self.active_layer = layer
        return layer

    def remove_layer(self, layer: Layer, label: str | None = None) -> None:
        self._check_layer(layer)
        parent = layer.parent
        index = parent.children.index(layer)
        self._detach(layer)
        self.history.push(RemoveLayerCommand(self, layer, parent, index, label or f"Remove {layer.name}"))

    def move_layer(self, layer: Layer, parent: GroupLayer | None = None, index: int | None = None,
                   label: str | None = None) -> None:
        """Move ``layer`` to position ``index`` of ``parent``'s children (counted after removal)."""
        self._check_layer(layer)
        parent = self._check_parent(parent)
        if isinstance(layer, GroupLayer) and (parent is layer or parent in set(layer.walk())):
            raise ValueError(f"cannot move group {layer.name!r} inside itself")
        old_parent, old_index = layer.parent, layer.parent.children.index(layer)
        count = len(parent.children) - (1 if parent is old_parent else 0)
        index = count if index is None else self._check_index(index, count)
        if parent is old_parent and index == old_index:
            return
        self._move(layer, parent, index)
        self.history.push(
            MoveLayerCommand(self, layer, old_parent, old_index, parent, index, label or f"Move {layer.name}")
        )

    def set_layer_property(self, layer: Layer, name: str, value: Any, merge_key: Any = None,
                           label: str | None = None) -> None:
        """Set one property as a history step; consecutive calls with the same
        ``merge_key`` (not None) on the same layer and property merge into one step."""
        self._check_layer(layer)
        if name not in settable_properties(layer):
            raise ValueError(f"{type(layer).__name__} has no settable property {name!r}")
        if name in ("pixels", "mask") and layer.locked:
            raise LayerLockedError(layer)
        old = getattr(layer, name)
        setattr(layer, name, value)
        new = getattr(layer, name)
        if _same(old, new):
            return
        pretty = name.replace("_", " ")
        self.history.push(SetPropertyCommand(layer, name, old, new, label or f"{layer.name}: {pretty}", merge_key))

    def set_pixels(self, layer: Layer | None, rect: Rect, new_pixels: np.ndarray, label: str = "Edit pixels",
                   target: str = "pixels") -> Rect:
        """Write ``new_pixels`` into ``rect`` of a layer's pixels (``target="pixels"``), its
        mask (``"mask"``) or the document selection (``"selection"``, layer None).
        ``rect`` is in the target array's coordinates (layer-local for layers). Only the
        bounding box of what actually changed is stored; returns it (empty: no step)."""
        arr = self._target_array(layer, target)
        rect = Rect.coerce(rect)
        bounds = Rect(0, 0, arr.shape[1], arr.shape[0])
        if rect.is_empty or not bounds.contains(rect):
            raise ValueError(f"rect {rect} is not inside the {target} of size {bounds.w}x{bounds.h}")
        new_pixels = np.asarray(new_pixels)
        expected = (rect.h, rect.w) + arr.shape[2:]
        if new_pixels.shape != expected or new_pixels.dtype != np.uint8:
            raise ValueError(f"new {target} must be a uint8 array of shape {expected}, got "
                             f"{new_pixels.dtype} {new_pixels.shape}")
        before = arr[rect.slices]
        diff = before != new_pixels
        if diff.ndim == 3:
            diff = diff.any(axis=2)
        changed = _bbox(diff)
        if changed.is_empty:
            return changed
        inner = changed.slices
        sub = changed.translate(rect.x, rect.y)
        cmd = PixelCommand(self, layer, target, sub, before[inner].copy(), new_pixels[inner].copy(), label)
        self._write_pixels(layer, target, sub, cmd.after)
        self.history.push(cmd)
        return sub

    # ------------------------------------------------------------ layer operations
    def duplicate_layer(self, layer: Layer, name: str | None = None) -> Layer:
        from . import layer_ops

        return layer_ops.duplicate_layer(self, layer, name)

    def merge_down(self, layer: Layer) -> RasterLayer:
        from . import layer_ops

        return layer_ops.merge_down(self, layer)

    def flatten(self, name: str = "Background") -> RasterLayer:
        from . import layer_ops

        return layer_ops.flatten(self, name)

    def add_mask(self, layer: Layer, *, fill: int = 255, from_selection: bool = False) -> np.ndarray:
        from . import layer_ops

        return layer_ops.add_mask(self, layer, fill=fill, from_selection=from_selection)

    def delete_mask(self, layer: Layer) -> None:
        from . import layer_ops

        layer_ops.delete_mask(self, layer)

    def apply_mask(self, layer: Layer) -> None:
        from . import layer_ops

        layer_ops.apply_mask(self, layer)

    def new_group(self, name: str = "Group", layers=(), *, parent: GroupLayer | None = None,
                  index: int | None = None, isolated: bool = True) -> GroupLayer:
        from . import layer_ops

        return layer_ops.new_group(self, name, layers, parent=parent, index=index, isolated=isolated)

    # ------------------------------------------------------------ low level (no history)
    def _check_parent(self, parent: GroupLayer | None) -> GroupLayer:
        if parent is None:
            return self.root
        if not isinstance(parent, GroupLayer) or (parent is not self.root and parent not in self):
            raise ValueError(f"{parent!r} is not a group of this document")
        return parent

    def _check_layer(self, layer: Layer) -> None:
        if layer not in self:
            raise ValueError(f"{layer!r} is not in this document")

    @staticmethod
    def _check_index(index: int, count: int) -> int:
        index = int(index)
        if index < 0:
            index += count + 1
        if not 0 <= index <= count:
            raise IndexError(f"layer index {index} out of range 0..{count}")
        return index

    def _target_array(self, layer: Layer | None, target: str) -> np.ndarray:
        if target == "selection":
            if self._selection is None:
                raise ValueError("there is no selection to edit; set one first")
            return self._selection
        self._check_layer(layer)
        if layer.locked:
            raise LayerLockedError(layer)
        if target == "pixels":
            if not isinstance(layer, RasterLayer):
                raise ValueError(f"{layer!r} has no pixels")
            return layer.pixels
        if target == "mask":
            if layer.mask is None:
                raise ValueError(f"layer {layer.name!r} has no mask")
            return layer.mask
        if target == "region":
            if getattr(layer, "kind", None) != "brush" or layer.region is None:
                raise ValueError(f"layer {layer.name!r} has no brush region")
            return layer.region
        raise ValueError(f"unknown pixel target {target!r}; expected 'pixels', 'mask', 'region' or 'selection'")

    def _write_pixels(self, layer: Layer | None, target: str, rect: Rect, data: np.ndarray) -> None:
        """Copy ``data`` into the target array in place and announce it."""
        if target == "selection":
            self._selection[rect.slices] = data
            self.events.selection_changed.emit()
            return
        if target == "region":
            layer.region[rect.slices] = data
            self.notify_region(layer, rect)
            return
        arr = layer.pixels if target == "pixels" else layer.mask
        arr[rect.slices] = data
        self.notify_pixels(layer, rect.translate(*layer.offset))

    def notify_region(self, layer: Layer, rect: Rect) -> None:
        """Announce an in-place change of a brush layer's region in ``rect`` (document
        coordinates): ``region_changed(layer, rect)``, then ``layer.events.region`` and
        ``layer_changed(layer, "region")`` as when the region is replaced (it is not drawn in
        the composite, so nothing is dirty)."""
        self.events.region_changed.emit(layer, rect)
        layer.events.region.emit(layer.region)
        self.events.layer_changed.emit(layer, "region")

    def notify_pixels(self, layer: Layer, rect: Rect) -> None:
        """Announce an in-place change of ``layer``'s pixels or mask in ``rect``
        (document coordinates). Painting tools call this for live feedback."""
        self.events.pixels_changed.emit(layer, rect)
        if layer.is_effectively_visible():
            self.events.dirty.emit(rect, layer)

    # Called by layers when a property changes (any path: commands, scripts, io).
    def _layer_prop_changed(self, layer: Layer, name: str, old: Any) -> None:
        self.events.layer_changed.emit(layer, name)
        if name in _COMPOSITE_PROPS and (name == "visible" or layer.is_effectively_visible()):
            rect = layer.bounds()
            if name == "clipped" and layer.parent is not None:
                # the layers clipped above it change base too
                rect = rect.union(_clip_area(layer.parent))
            if name == "offset":
                rect = rect.union(rect.translate(old[0] - layer.offset[0], old[1] - layer.offset[1]))
            self.events.dirty.emit(rect, layer)

    def _pixels_changed(self, layer: Layer, rect: Rect) -> None:
        self.notify_pixels(layer, rect)

    def _attach(self, layer: Layer, parent: GroupLayer, index: int) -> None:
        parent._insert(index, layer)
        self.events.structure_changed.emit()
        self.events.dirty.emit(layer.bounds().union(_clip_area(parent)), layer)

    def _detach(self, layer: Layer) -> None:
        parent = layer.parent
        index = parent._remove(layer)
        clip_area = _clip_area(parent)
        if self._active is not None and (self._active is layer or self._active.document is not self):
            siblings = parent.children
            fallback = siblings[index - 1] if index > 0 and siblings else (siblings[0] if siblings else None)
            if fallback is None and parent is not self.root:
                fallback = parent
            self.active_layer = fallback
        self.events.structure_changed.emit()
        self.events.dirty.emit(layer.bounds().union(clip_area), layer)

    def _move(self, layer: Layer, parent: GroupLayer, index: int) -> None:
        old = layer.parent
        old._remove(layer)
        parent._insert(index, layer)
        self.events.structure_changed.emit()
        self.events.dirty.emit(layer.bounds().union(_clip_area(old)).union(_clip_area(parent)), layer)

    def __repr__(self) -> str:
        return f"<Document {self.width}x{self.height}, {sum(1 for _ in self.walk())} layers>"


def _clip_area(group: GroupLayer) -> Rect:
    """Where a change in ``group``'s children can re-base clipped layers: all of its
    children's area if any child is clipped, else nothing."""
    if any(child.clipped for child in group.children):
        out = Rect.empty()
        for child in group.children:
            out = out.union(child.bounds())
        return out
    return Rect.empty()


def _bbox(mask: np.ndarray) -> Rect:
    """Bounding rect of the True cells of a 2-D boolean array."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    return Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
