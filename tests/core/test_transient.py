"""history.transient(layer): live values without history, one step (or none) at the end."""
from __future__ import annotations

import numpy as np
import pytest

from editor.core import Document, LayerLockedError, RasterLayer
from editor.core.layers import BrushLayer
from editor.core.params import BrushParams


def _doc():
    doc = Document(16, 16)
    layer = RasterLayer.blank(16, 16, "a")
    doc.add_layer(layer)
    return doc, layer


def test_intermediate_values_are_not_history_and_the_end_is_one_step():
    doc, layer = _doc()
    steps = len(doc.history)
    seen = []
    layer.events.opacity.connect(seen.append)
    with doc.history.transient(layer) as edit:
        for v in (0.9, 0.7, 0.4, 0.25):
            edit.set("opacity", v)
            assert layer.opacity == v and len(doc.history) == steps  # live, no step yet
    assert seen == [0.9, 0.7, 0.4, 0.25]
    assert len(doc.history) == steps + 1 and doc.history.labels[-1] == "a: opacity"
    doc.history.undo()
    assert layer.opacity == 1.0  # straight back to before the drag
    doc.history.redo()
    assert layer.opacity == 0.25


def test_unchanged_or_cancelled_records_nothing():
    doc, layer = _doc()
    steps = len(doc.history)
    with doc.history.transient(layer) as edit:
        edit.set("opacity", 0.5)
        edit.set("opacity", 1.0)  # back where it started
    assert len(doc.history) == steps
    edit = doc.history.transient(layer)
    edit.set("opacity", 0.3)
    edit.set("visible", False)
    edit.cancel()
    assert layer.opacity == 1.0 and layer.visible and len(doc.history) == steps
    with pytest.raises(RuntimeError):
        edit.set("opacity", 0.2)
    with pytest.raises(KeyError):
        with doc.history.transient(layer) as edit:
            edit.set("opacity", 0.1)
            raise KeyError("the drag broke")
    assert layer.opacity == 1.0 and len(doc.history) == steps


def test_several_properties_are_one_step_and_checks_apply():
    doc = Document(8, 8)
    layer = BrushLayer("b", region=np.zeros((8, 8), np.uint8))
    doc.add_layer(layer)
    steps = len(doc.history)
    before = (layer.params, layer.pixels, layer.offset)
    with doc.history.transient(layer, label="Preview") as edit:
        edit.set("params", BrushParams(prompt="x"))
        edit.set("pixels", np.full((2, 2, 4), 9, np.uint8))
        edit.set("offset", (3, 4))
    assert len(doc.history) == steps + 1 and doc.history.labels[-1] == "Preview"
    doc.history.undo()
    assert layer.params == before[0] and np.array_equal(layer.pixels, before[1]) and layer.offset == before[2]
    with pytest.raises(ValueError, match="no settable property"):
        doc.history.transient(layer).set("kind", "raster")
    layer.locked = True
    with pytest.raises(LayerLockedError):
        doc.history.transient(layer).set("pixels", np.zeros((1, 1, 4), np.uint8))
