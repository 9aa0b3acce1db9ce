"""The history commands the document pushes. Each holds only what it needs to undo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .geometry import Rect
from .history import Command
from .layers import GroupLayer, Layer

if TYPE_CHECKING:
    from .document import Document


def layer_nbytes(layer: Layer) -> int:
    """Bytes of pixel data a layer (and its children) holds."""
    total = 0
    for node in [layer, *(layer.walk() if isinstance(layer, GroupLayer) else ())]:
        for arr in (getattr(node, "_pixels", None), node._mask, getattr(node, "_region", None)):
            if isinstance(arr, np.ndarray):
                total += arr.nbytes
    return total


class AddLayerCommand(Command):
    def __init__(self, doc: "Document", layer: Layer, parent: GroupLayer, index: int, label: str) -> None:
        self.doc, self.layer, self.parent, self.index, self.label = doc, layer, parent, index, label

    def undo(self) -> None:
        self.doc._detach(self.layer)

    def redo(self) -> None:
        self.doc._attach(self.layer, self.parent, self.index)


class RemoveLayerCommand(Command):
    def __init__(self, doc: "Document", layer: Layer, parent: GroupLayer, index: int, label: str) -> None:
        self.doc, self.layer, self.parent, self.index, self.label = doc, layer, parent, index, label
        self._nbytes = layer_nbytes(layer)

    def undo(self) -> None:
        self.doc._attach(self.layer, self.parent, self.index)

    def redo(self) -> None:
        self.doc._detach(self.layer)

    @property
    def nbytes(self) -> int:
        return self._nbytes


class MoveLayerCommand(Command):
    def __init__(self, doc, layer, old_parent, old_index, new_parent, new_index, label) -> None:
        self.doc, self.layer, self.label = doc, layer, label
        self.old = (old_parent, old_index)
        self.new = (new_parent, new_index)

    def undo(self) -> None:
        self.doc._move(self.layer, *self.old)

    def redo(self) -> None:
        self.doc._move(self.layer, *self.new)


class SetPropertyCommand(Command):
    def __init__(self, layer: Layer, name: str, old: Any, new: Any, label: str, merge_key=None) -> None:
        self.layer, self.name, self.old, self.new, self.label = layer, name, old, new, label
        self.merge_key = merge_key

    def undo(self) -> None:
        setattr(self.layer, self.name, self.old)

    def redo(self) -> None:
        setattr(self.layer, self.name, self.new)

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in (self.old, self.new) if isinstance(v, np.ndarray))

    def merge(self, other: Command) -> bool:
        if (
            self.merge_key is not None
            and isinstance(other, SetPropertyCommand)
            and other.merge_key == self.merge_key
            and other.layer is self.layer
            and other.name == self.name
        ):
            self.new = other.new
            return True
        return False


class PixelCommand(Command):
    """Before/after of one rectangle of a layer's pixels, a layer's mask or the selection.

    ``rect`` is in the target array's coordinates (layer-local for layers, document
    coordinates for the selection)."""

    def __init__(self, doc: "Document", layer: Layer | None, target: str, rect: Rect,
                 before: np.ndarray, after: np.ndarray, label: str) -> None:
        self.doc, self.layer, self.target, self.rect = doc, layer, target, rect
        self.before, self.after, self.label = before, after, label

    def undo(self) -> None:
        self.doc._write_pixels(self.layer, self.target, self.rect, self.before)

    def redo(self) -> None:
        self.doc._write_pixels(self.layer, self.target, self.rect, self.after)

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


class SetSelectionCommand(Command):
    def __init__(self, doc: "Document", old, new, label: str) -> None:
        self.doc, self.old, self.new, self.label = doc, old, new, label

    def undo(self) -> None:
        self.doc.selection = self.old

    def redo(self) -> None:
        self.doc.selection = self.new

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in (self.old, self.new) if isinstance(v, np.ndarray))


class CallbackCommand(Command):
    """Undo/redo through two callables (for document-level changes such as canvas size)."""

    def __init__(self, label: str, undo, redo, nbytes: int = 0) -> None:
        self.label, self._undo, self._redo, self._nbytes = label, undo, redo, nbytes

    def undo(self) -> None:
        self._undo()

    def redo(self) -> None:
        self._redo()

    @property
    def nbytes(self) -> int:
        return self._nbytes
