import numpy as np
import pytest

from editor.core import Compositor, Document, GroupLayer, LayerLockedError, RasterLayer
from editor.core.selection import rect_mask


def solid(color, w, h, name="L", **kw):
    px = np.zeros((h, w, 4), np.uint8)
    px[:] = color
    return RasterLayer(name, px, **kw)


def test_duplicate_is_a_deep_copy_above(doc):
    a = doc.add_layer(solid((1, 2, 3, 255), 4, 4, "a", mask=np.full((4, 4), 7, np.uint8)))
    b = doc.add_layer(solid((0, 0, 0, 255), 4, 4, "b"))
    dup = doc.duplicate_layer(a)
    assert doc.layers == [a, dup, b] and dup.name == "a copy" and dup.id != a.id
    assert dup.pixels is not a.pixels and (dup.pixels == a.pixels).all() and dup.mask[0, 0] == 7
    assert doc.active_layer is dup
    doc.history.undo()
    assert doc.layers == [a, b]


def test_merge_down_matches_the_composite_and_keeps_outside_pixels():
    doc = Document(10, 10)
    below = doc.add_layer(solid((200, 0, 0, 255), 6, 6, "below", offset=(-2, -2)))
    top = doc.add_layer(solid((0, 0, 200, 128), 8, 4, "top", offset=(5, 5), blend_mode="screen",
                              opacity=0.8, mask=np.full((4, 8), 200, np.uint8)))
    before = Compositor(doc).render()
    merged = doc.merge_down(top)
    assert doc.layers == [merged] and merged.name == "below"
    assert merged.offset == (-2, -2) and merged.pixels.shape == (11, 15, 4)  # union, beyond the canvas
    after = Compositor(doc).render()
    assert np.abs(after.astype(int) - before.astype(int)).max() <= 1
    assert doc.history.labels[-1] == "Merge top down"
    doc.history.undo()
    assert doc.layers == [below, top]
    with pytest.raises(ValueError, match="no layer below"):
        doc.merge_down(below)
    g = doc.add_layer(GroupLayer("g"))
    with pytest.raises(ValueError, match="group"):
        doc.merge_down(g)


def test_flatten_is_the_composite():
    doc = Document(8, 8)
    doc.add_layer(solid((10, 200, 30, 255), 8, 8))
    g = doc.add_layer(GroupLayer("g", opacity=0.5))
    doc.add_layer(solid((250, 0, 0, 255), 4, 4, blend_mode="multiply"), parent=g)
    before = Compositor(doc).render()
    flat = doc.flatten()
    assert doc.layers == [flat] and (flat.pixels == before).all()
    doc.history.undo()
    assert len(doc.layers) == 2


def test_masks_add_apply_delete(doc):
    layer = doc.add_layer(solid((9, 9, 9, 255), 32, 24, offset=(2, 0)))
    doc.selection = rect_mask(32, 24, (0, 0, 12, 24))
    mask = doc.add_mask(layer, from_selection=True)
    assert mask.shape == (24, 32) and mask[0, 9] == 255 and mask[0, 10] == 0  # document x 12 = layer x 10
    with pytest.raises(ValueError, match="already has a mask"):
        doc.add_mask(layer)
    doc.set_layer_property(layer, "mask_inverted", True)
    doc.apply_mask(layer)
    assert layer.mask is None and layer.pixels[0, 9, 3] == 0 and layer.pixels[0, 10, 3] == 255
    assert doc.history.labels[-1] == "Apply mask of L"
    doc.history.undo()
    assert layer.mask is not None and layer.pixels[0, 9, 3] == 255
    doc.delete_mask(layer)
    assert layer.mask is None
    with pytest.raises(ValueError, match="no mask"):
        doc.apply_mask(layer)
    g = doc.add_layer(GroupLayer("g"))
    assert doc.add_mask(g).shape == (24, 32)
    with pytest.raises(ValueError, match="no pixels"):
        doc.apply_mask(g)
    doc.add_mask(layer)
    doc.set_layer_property(layer, "locked", True)
    with pytest.raises(LayerLockedError):
        doc.apply_mask(layer)


def test_new_group_wraps_layers_in_order(doc):
    a, b, c = (doc.add_layer(solid((0, 0, 0, 255), 2, 2, n)) for n in "abc")
    g = doc.new_group("grp", [c, a])
    assert doc.layers == [b, g] and g.children == [a, c]
    assert doc.history.labels[-1] == "New group grp" and doc.active_layer is g
    doc.history.undo()
    assert doc.layers == [a, b, c] and a.parent is doc.root
    empty = doc.new_group()
    assert doc.layers[-1] is empty and empty.children == []
