import numpy as np
import pytest

from editor.core import (
    BrushLayer,
    BrushParams,
    Document,
    GeneratedLayer,
    GroupLayer,
    LayerLockedError,
    RasterLayer,
    Rect,
    RgbaParams,
)


def test_layers_tree_walk_find_and_active(doc, make_layer):
    a = doc.add_layer(make_layer("a"))
    g = doc.add_layer(GroupLayer("g"))
    b = doc.add_layer(make_layer("b"), parent=g)
    c = doc.add_layer(make_layer("c"), index=0)
    assert doc.layers == [c, a, g]
    assert [l.name for l in doc.walk()] == ["c", "a", "b", "g"]
    assert doc.find(b.id) is b and doc.find("nope") is None
    assert doc.active_layer is c
    assert b.document is doc and b.parent is g and a.parent is doc.root
    assert b in doc and make_layer("x") not in doc
    assert b.path == (2, 0)


def test_events_announce_changes(doc, make_layer):
    seen = []
    doc.events.structure_changed.connect(lambda: seen.append("structure"))
    doc.events.layer_changed.connect(lambda layer, name: seen.append((layer.name, name)))
    doc.events.pixels_changed.connect(lambda layer, rect: seen.append(("pixels", layer.name, rect)))
    doc.events.active_changed.connect(lambda layer: seen.append(("active", layer.name)))
    doc.events.selection_changed.connect(lambda: seen.append("selection"))
    layer = doc.add_layer(make_layer("a", offset=(3, 4)))
    assert seen == ["structure", ("active", "a")]
    seen.clear()
    doc.set_layer_property(layer, "opacity", 0.25)
    layer.visible = False
    doc.set_pixels(layer, Rect(1, 1, 2, 2), np.zeros((2, 2, 4), np.uint8))
    doc.selection = np.zeros((24, 32), np.uint8)
    assert seen == [("a", "opacity"), ("a", "visible"), ("pixels", "a", Rect(4, 5, 2, 2)), "selection"]


def test_layer_events_per_property(make_layer):
    layer = make_layer()
    got = []
    layer.events.opacity.connect(got.append)
    layer.events.name.connect(got.append)
    layer.opacity = 0.5
    layer.opacity = 0.5  # unchanged: no event
    layer.name = "renamed"
    assert got == [0.5, "renamed"]


@pytest.mark.parametrize(
    "prop, value, message",
    [
        ("opacity", 1.5, "opacity must be in 0..1"),
        ("opacity", "x", "opacity must be a number"),
        ("blend_mode", "glow", "unknown blend mode 'glow'"),
        ("offset", (1,), "offset must be a pair"),
        ("name", 3, "layer name must be a string"),
        ("pixels", np.zeros((4, 4, 3), np.uint8), "HxWx4 uint8"),
        ("mask", np.zeros((5, 5), np.uint8), "must be 32x24"),
        ("mask", np.zeros((24, 32), np.float32), "HxW uint8"),
    ],
)
def test_bad_values_give_clear_errors(doc, make_layer, prop, value, message):
    layer = doc.add_layer(make_layer())
    with pytest.raises(ValueError, match=message):
        doc.set_layer_property(layer, prop, value)
    assert len(doc.history) == 1


def test_set_pixels_stores_only_changed_rect(doc, make_layer):
    layer = doc.add_layer(make_layer(color=(0, 0, 0, 255)))
    new = layer.pixels[0:10, 0:10].copy()
    new[2:4, 5:6] = (9, 9, 9, 255)
    changed = doc.set_pixels(layer, Rect(0, 0, 10, 10), new, "dab")
    assert changed == Rect(5, 2, 1, 2)
    step = doc.history.steps[-1]
    assert step.before.shape == (2, 1, 4) and step.nbytes == 16
    assert (layer.pixels[2:4, 5, :3] == 9).all()
    doc.history.undo()
    assert (layer.pixels[..., :3] == 0).all()
    doc.history.redo()
    assert (layer.pixels[2:4, 5, 0] == 9).all()
    # nothing changed -> no step
    assert doc.set_pixels(layer, Rect(0, 0, 10, 10), layer.pixels[:10, :10].copy()).is_empty
    assert doc.history.labels == ["Add L", "dab"]


def test_set_pixels_validates(doc, make_layer):
    layer = doc.add_layer(make_layer())
    with pytest.raises(ValueError, match="not inside"):
        doc.set_pixels(layer, Rect(30, 0, 5, 5), np.zeros((5, 5, 4), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        doc.set_pixels(layer, Rect(0, 0, 5, 5), np.zeros((4, 5, 4), np.uint8))
    with pytest.raises(ValueError, match="has no mask"):
        doc.set_pixels(layer, Rect(0, 0, 5, 5), np.zeros((5, 5), np.uint8), target="mask")
    with pytest.raises(ValueError, match="no selection"):
        doc.set_pixels(None, Rect(0, 0, 5, 5), np.zeros((5, 5), np.uint8), target="selection")


def test_locked_layer_refuses_pixel_edits(doc, make_layer):
    layer = doc.add_layer(make_layer(locked=True))
    with pytest.raises(LayerLockedError, match="locked"):
        doc.set_pixels(layer, Rect(0, 0, 2, 2), np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(LayerLockedError):
        doc.set_layer_property(layer, "pixels", np.zeros((2, 2, 4), np.uint8))
    doc.set_layer_property(layer, "visible", False)  # properties still editable
    assert not layer.visible


def test_mask_and_selection_targets(doc, make_layer):
    layer = doc.add_layer(make_layer())
    doc.set_layer_property(layer, "mask", np.full((24, 32), 255, np.uint8))
    doc.set_pixels(layer, Rect(0, 0, 4, 4), np.zeros((4, 4), np.uint8), target="mask")
    assert layer.mask[:4, :4].max() == 0
    doc.set_selection(np.zeros((24, 32), np.uint8))
    doc.set_pixels(None, Rect(1, 1, 2, 2), np.full((2, 2), 255, np.uint8), target="selection")
    assert doc.selection.sum() == 4 * 255
    doc.history.undo()
    assert doc.selection.sum() == 0
    doc.history.undo()
    assert doc.selection is None
    with pytest.raises(ValueError, match="24x32 uint8"):
        doc.selection = np.zeros((3, 3), np.uint8)


def test_remove_and_move_layers_undo(doc, make_layer):
    a, b, c = (doc.add_layer(make_layer(n)) for n in "abc")
    g = doc.add_layer(GroupLayer("g"))
    doc.move_layer(a, g, 0)
    assert doc.layers == [b, c, g] and g.children == [a]
    doc.move_layer(c, None, 0)
    assert doc.layers == [c, b, g]
    doc.remove_layer(b)
    assert doc.layers == [c, g]
    doc.history.jump(4)
    assert doc.layers == [a, b, c, g]
    doc.history.jump(len(doc.history))
    assert doc.layers == [c, g] and g.children == [a]
    with pytest.raises(ValueError, match="inside itself"):
        doc.move_layer(g, g, 0)
    with pytest.raises(ValueError, match="not in this document"):
        doc.remove_layer(b)


def test_removing_active_layer_picks_neighbour(doc, make_layer):
    a = doc.add_layer(make_layer("a"))
    b = doc.add_layer(make_layer("b"))
    assert doc.active_layer is b
    doc.remove_layer(b)
    assert doc.active_layer is a
    doc.remove_layer(a)
    assert doc.active_layer is None


def test_ai_layers_and_params():
    p = BrushParams(prompt="a cat", seed=3, strength=0.5)
    layer = BrushLayer("brush", params=p, region=np.zeros((4, 4), np.uint8))
    assert layer.kind == "brush" and layer.state == "stale" and layer.pixels.shape == (0, 0, 4)
    assert BrushParams.from_dict(p.to_dict()) == p
    got = []
    layer.events.state.connect(got.append)
    layer.state = "done"
    assert got == ["done"]
    with pytest.raises(ValueError, match="state must be one of"):
        layer.state = "weird"
    with pytest.raises(ValueError, match="strength must be in"):
        BrushParams(strength=2)
    with pytest.raises(ValueError, match="seed must be an integer"):
        BrushParams(seed="x")
    g = GeneratedLayer("gen", params=RgbaParams(prompt="a hat", box=(1, 2, 3, 4), mode="joint"))
    assert g.params.box == (1, 2, 3, 4) and g.kind == "generated"
    assert RgbaParams.from_dict(g.params.to_dict()) == g.params
    with pytest.raises(ValueError, match="mode must be one of"):
        RgbaParams(mode="x")
    copy = layer.copy()
    assert copy.id != layer.id and copy.params == layer.params and copy.region is not layer.region


def test_document_rejects_bad_size():
    with pytest.raises(ValueError, match="positive"):
        Document(0, 10)
