"""Clipping masks: a layer clipped to the unclipped sibling below it (its base)."""

import numpy as np

from editor.core import Compositor, Document, GroupLayer, RasterLayer
from editor.core.blend import composite_over


def solid(color, w=8, h=8, **kw):
    px = np.zeros((h, w, 4), np.uint8)
    px[:] = color
    return RasterLayer(kw.pop("name", "L"), px, **kw)


def half_base(color=(0, 0, 255, 255), **kw):
    """An 8x8 layer with pixels only in its left half."""
    layer = solid(color, **kw)
    layer.pixels[:, 4:] = 0
    return layer


def test_clipped_layer_shows_only_inside_its_base():
    doc = Document(8, 8)
    doc.add_layer(half_base(name="base"))
    doc.add_layer(solid((255, 0, 0, 255), name="clip", clipped=True))
    out = Compositor(doc).render()
    assert (out[:, :4] == (255, 0, 0, 255)).all()
    assert not out[:, 4:].any()


def test_unclipping_shows_the_whole_layer_again():
    doc = Document(8, 8)
    doc.add_layer(half_base(name="base"))
    clip = doc.add_layer(solid((255, 0, 0, 255), name="clip", clipped=True))
    comp = Compositor(doc)
    comp.render()
    doc.set_layer_property(clip, "clipped", False)
    assert (comp.render() == (255, 0, 0, 255)).all()
    doc.history.undo()
    assert not comp.render()[:, 4:].any()


def test_base_opacity_and_mode_apply_to_the_stack():
    # Photoshop's "blend clipped layers as group": the base's opacity fades the
    # whole stack, clipped layers at full strength inside it
    doc = Document(8, 8)
    doc.add_layer(solid((255, 255, 255, 255), name="bg"))
    doc.add_layer(half_base((0, 0, 255, 255), name="base", opacity=0.5, blend_mode="multiply"))
    doc.add_layer(solid((0, 255, 0, 128), name="clip", clipped=True))
    out = Compositor(doc).render().astype(int)
    # stack alone: green at a=128/255 atop blue, then multiplied onto white at 50%
    a = 128 / 255
    stack = np.array([0.0, a, 1 - a])
    expected = 255 * (1 - 0.5 + 0.5 * stack)
    assert np.abs(out[:, :4, :3] - expected).max() <= 1
    assert (out[:, 4:] == 255).all()


def test_clipped_layers_blend_with_their_own_mode_and_keep_base_alpha():
    doc = Document(8, 8)
    base = doc.add_layer(solid((200, 100, 50, 128), name="base"))
    doc.add_layer(solid((128, 128, 128, 255), name="mul", clipped=True, blend_mode="multiply"))
    doc.add_layer(solid((0, 0, 0, 255), name="hidden", clipped=True, visible=False))
    out = Compositor(doc).render().astype(int)
    assert (out[..., 3] == 128).all()
    assert np.abs(out[0, 0, :3] - np.array([200, 100, 50]) * 128 / 255).max() <= 1
    # a clipped layer at half opacity mixes halfway inside the base
    doc.add_layer(solid((255, 255, 255, 255), name="white", clipped=True, opacity=0.5))
    out2 = Compositor(doc).render().astype(int)
    assert (out2[..., 3] == 128).all()
    assert np.abs(out2[0, 0, :3] - (out[0, 0, :3] + 255) / 2).max() <= 1
    assert base.clipped is False


def test_hidden_base_hides_its_clipped_layers():
    doc = Document(8, 8)
    doc.add_layer(half_base(name="base", visible=False))
    doc.add_layer(solid((255, 0, 0, 255), name="clip", clipped=True))
    assert not Compositor(doc).render().any()


def test_clipped_bottom_layer_is_drawn_as_unclipped():
    doc = Document(4, 4)
    doc.add_layer(solid((9, 8, 7, 255), 4, 4, clipped=True))
    assert (Compositor(doc).render() == (9, 8, 7, 255)).all()


def test_group_as_base_and_group_clipped():
    doc = Document(8, 8)
    group = doc.add_layer(GroupLayer("g"))
    doc.add_layer(half_base(name="in group"), parent=group)
    clip_group = doc.add_layer(GroupLayer("clip group", clipped=True))
    doc.add_layer(solid((0, 255, 0, 255), name="green"), parent=clip_group)
    out = Compositor(doc).render()
    assert (out[:, :4] == (0, 255, 0, 255)).all() and not out[:, 4:].any()


def test_painting_with_the_clipped_layer_active_uses_the_below_cache_correctly():
    doc = Document(300, 300)
    doc.add_layer(solid((255, 255, 255, 255), 300, 300, name="bg"))
    base = doc.add_layer(solid((0, 0, 255, 255), 100, 100, name="base", offset=(10, 10)))
    clip = doc.add_layer(solid((255, 0, 0, 255), 300, 300, name="clip", clipped=True))
    doc.active_layer = clip
    comp = Compositor(doc)
    first = comp.render()
    assert (first[50, 50] == (255, 0, 0, 255)).all() and (first[200, 200] == 255).all()
    clip.pixels[40:60, 40:60] = (0, 255, 0, 255)
    doc.notify_pixels(clip, clip.bounds())
    out = comp.render()
    assert (out[50, 50] == (0, 255, 0, 255)).all() and (out[200, 200] == 255).all()
    assert np.array_equal(out, Compositor(doc, below_cache=False).render())
    assert base.clipped is False


def test_render_below_a_clipped_layer_includes_its_base_only():
    doc = Document(8, 8)
    doc.add_layer(half_base(name="base"))
    c1 = doc.add_layer(solid((255, 0, 0, 255), name="c1", clipped=True))
    c2 = doc.add_layer(solid((0, 255, 0, 255), name="c2", clipped=True))
    comp = Compositor(doc)
    below = comp.render_below(c2)
    assert (below[:, :4] == (255, 0, 0, 255)).all() and not below[:, 4:].any()
    assert (comp.render_below(c1)[:, :4] == (0, 0, 255, 255)).all()


def test_copy_keeps_clipped():
    layer = solid((1, 2, 3, 4), clipped=True)
    assert layer.copy().clipped is True


def test_removing_or_unclipping_a_base_re_bases_the_clipped_layers_above_it():
    doc = Document(16, 16)
    doc.add_layer(solid((0, 0, 255, 255), 16, 16, name="big base"))
    small = doc.add_layer(solid((0, 255, 0, 255), 4, 4, name="small base", offset=(0, 0)))
    doc.add_layer(solid((255, 0, 0, 255), 16, 16, name="clip", clipped=True))
    comp = Compositor(doc)
    out = comp.render()
    assert (out[:4, :4] == (255, 0, 0, 255)).all() and (out[8, 8] == (0, 0, 255, 255)).all()
    # clipping the small base too: "clip" now clips to the big base, everywhere
    doc.set_layer_property(small, "clipped", True)
    assert np.array_equal(comp.render(), Compositor(doc, below_cache=False).render())
    assert (comp.render()[8, 8] == (255, 0, 0, 255)).all()
    doc.history.undo()
    assert (comp.render()[8, 8] == (0, 0, 255, 255)).all()
    doc.remove_layer(small)
    assert (comp.render()[8, 8] == (255, 0, 0, 255)).all()
    doc.history.undo()
    assert (comp.render()[8, 8] == (0, 0, 255, 255)).all()
