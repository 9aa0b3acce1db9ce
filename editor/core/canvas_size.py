"""Growing or cropping the canvas on any side, as one history step.

Layers keep their pixels: each moves by (left, top) so the picture stays where it was, and
the document-size arrays (brush regions, the selection) are padded with 0 or cropped.
"""
from __future__ import annotations

import numpy as np

from .commands import CallbackCommand
from .layers import BrushLayer, GeneratedLayer

#: the largest side a canvas may get (as large as the biggest PSD, .psb aside)
MAX_SIDE = 30000


def resize_canvas(doc, *, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0,
                  label: str = "Canvas Size") -> None:
    """Add ``left``/``top``/``right``/``bottom`` pixels on each side (negative: crop)."""
    left, top, right, bottom = (_int(v, n) for v, n in ((left, "left"), (top, "top"), (right, "right"),
                                                          (bottom, "bottom")))
    width, height = doc.width + left + right, doc.height + top + bottom
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"the canvas would be {width}x{height} pixels; each side must lie in 1..{MAX_SIDE}")
    if (left, top, right, bottom) == (0, 0, 0, 0):
        return
    old = _snapshot(doc)
    new = _moved(old, left, top, width, height)
    _apply(doc, new)
    nbytes = sum(a.nbytes for s in (old, new) for a in s["arrays"].values() if a is not None)
    doc.history.push(CallbackCommand(label, lambda: _apply(doc, old), lambda: _apply(doc, new), nbytes))


def _int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name} must be a whole number of pixels, got {value!r}")
    return int(value)


def _snapshot(doc) -> dict:
    layers = list(doc.walk())
    return {
        "size": (doc.width, doc.height),
        "offsets": {l.id: l.offset for l in layers},
        "arrays": {l.id: l.region for l in layers if isinstance(l, BrushLayer)} | {"": doc.selection},
        "boxes": {l.id: l.params for l in layers if isinstance(l, GeneratedLayer)},
        "layers": layers,
    }


def _moved(old: dict, dx: int, dy: int, width: int, height: int) -> dict:
    return {
        "size": (width, height),
        "offsets": {k: (x + dx, y + dy) for k, (x, y) in old["offsets"].items()},
        "arrays": {k: None if a is None else _shift(a, dx, dy, width, height) for k, a in old["arrays"].items()},
        "boxes": {k: p.replace(box=(p.box[0] + dx, p.box[1] + dy, p.box[2], p.box[3]))
                  for k, p in old["boxes"].items()},
        "layers": old["layers"],
    }


def _shift(arr: np.ndarray, dx: int, dy: int, width: int, height: int) -> np.ndarray:
    """A document-size mask placed on the new canvas (0 where it is new)."""
    out = np.zeros((height, width), arr.dtype)
    h, w = arr.shape
    x0, y0 = max(0, dx), max(0, dy)
    x1, y1 = min(width, w + dx), min(height, h + dy)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = arr[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    return out


def _apply(doc, state: dict) -> None:
    doc.width, doc.height = state["size"]
    selection = state["arrays"][""]
    doc._selection = None  # the old one no longer fits; set below through the checked setter
    for layer in state["layers"]:
        layer.offset = state["offsets"][layer.id]
        if layer.id in state["arrays"]:
            layer.region = state["arrays"][layer.id]
        if layer.id in state["boxes"]:
            layer.params = state["boxes"][layer.id]
    doc.selection = selection
    doc.events.structure_changed.emit()
    doc.events.dirty.emit(doc.rect, None)
