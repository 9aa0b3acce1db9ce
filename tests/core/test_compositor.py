import numpy as np
import pytest

from editor.core import Compositor, Document, GroupLayer, RasterLayer, Rect

from core_reference import composite_pixel, to_unit


def solid(color, w=8, h=8, **kw):
    px = np.zeros((h, w, 4), np.uint8)
    px[:] = color
    return RasterLayer(kw.pop("name", "L"), px, **kw)


def test_empty_document_is_transparent():
    out = Compositor(Document(5, 4)).render()
    assert out.shape == (4, 5, 4) and out.dtype == np.uint8 and not out.any()


def test_offsets_clip_outside_document_but_keep_pixels():
    doc = Document(8, 8)
    layer = doc.add_layer(solid((10, 20, 30, 255), 6, 6, offset=(5, -2)))
    comp = Compositor(doc)
    out = comp.render()
    assert (out[0:4, 5:8] == (10, 20, 30, 255)).all()
    assert not out[4:, :].any() and not out[:, :5].any()
    doc.set_layer_property(layer, "offset", (0, 0))
    out = comp.render()
    assert (out[0:6, 0:6] == (10, 20, 30, 255)).all() and not out[6:].any() and not out[:, 6:].any()
    assert layer.pixels.shape == (6, 6, 4)


def test_render_rect():
    doc = Document(8, 8)
    doc.add_layer(solid((1, 2, 3, 255), 4, 4, offset=(2, 2)))
    comp = Compositor(doc)
    part = comp.render(Rect(1, 1, 3, 3))
    assert part.shape == (3, 3, 4)
    assert not part[0].any() and (part[1:, 1:] == (1, 2, 3, 255)).all()
    assert comp.render(Rect(6, 6, 10, 10)).shape == (2, 2, 4)


def test_isolated_group_blends_as_one():
    back = (200, 100, 50, 255)
    child = (100, 150, 250, 255)
    doc = Document(4, 4)
    doc.add_layer(solid(back, 4, 4))
    g = doc.add_layer(GroupLayer("g", isolated=True))
    doc.add_layer(solid(child, 4, 4, blend_mode="multiply"), parent=g)
    comp = Compositor(doc)
    # inside an isolated group the multiply child sits on transparency -> shows as is
    assert tuple(comp.render()[0, 0]) == child
    doc.set_layer_property(g, "isolated", False)  # pass-through: multiplies the backdrop
    exp = composite_pixel("multiply", to_unit(back), to_unit(child))
    assert tuple(comp.render()[0, 0]) == tuple(round(v * 255) for v in exp)
    doc.set_layer_property(g, "blend_mode", "screen")  # ignored by pass-through
    assert tuple(comp.render()[0, 0]) == tuple(round(v * 255) for v in exp)
    doc.set_layer_property(g, "isolated", True)
    exp = composite_pixel("screen", to_unit(back), to_unit(child))
    assert np.abs(comp.render()[0, 0].astype(int) - [round(v * 255) for v in exp]).max() <= 1


def test_group_opacity_mask_visibility():
    doc = Document(4, 1)
    doc.add_layer(solid((0, 0, 0, 255), 4, 1))
    g = doc.add_layer(GroupLayer("g", opacity=0.5))
    a = doc.add_layer(solid((255, 255, 255, 255), 4, 1), parent=g)
    comp = Compositor(doc)
    assert tuple(comp.render()[0, 0]) == (128, 128, 128, 255)
    g.mask = np.array([[255, 0, 255, 0]], np.uint8)
    out = comp.render()
    assert out[0, :, 0].tolist() == [128, 0, 128, 0]
    g.mask_inverted = True
    assert comp.render()[0, :, 0].tolist() == [0, 128, 0, 128]
    # pass-through fades between backdrop and result
    doc.set_layer_property(g, "isolated", False)
    assert comp.render()[0, :, 0].tolist() == [0, 128, 0, 128]
    g.visible = False
    assert comp.render()[0, :, 0].tolist() == [0, 0, 0, 0]
    g.visible = True
    a.visible = False
    assert comp.render()[0, :, 0].tolist() == [0, 0, 0, 0]


def test_group_mask_outside_extent_hides():
    doc = Document(4, 1)
    g = doc.add_layer(GroupLayer("g", mask=np.full((1, 2), 255, np.uint8), offset=(1, 0)))
    doc.add_layer(solid((255, 0, 0, 255), 4, 1), parent=g)
    assert Compositor(doc).render()[0, :, 3].tolist() == [0, 255, 255, 0]


def test_render_below_for_brush_sources():
    doc = Document(2, 1)
    bottom = doc.add_layer(solid((10, 10, 10, 255), 2, 1))
    g = doc.add_layer(GroupLayer("g"))
    mid = doc.add_layer(solid((200, 0, 0, 255), 1, 1), parent=g)
    top = doc.add_layer(solid((0, 200, 0, 255), 2, 1), parent=g)
    above = doc.add_layer(solid((0, 0, 200, 255), 2, 1))
    comp = Compositor(doc)
    assert comp.render()[0, 0].tolist() == [0, 0, 200, 255]
    assert comp.render_below(bottom).tolist() == [[[0, 0, 0, 0], [0, 0, 0, 0]]]
    assert comp.render_below(top)[0].tolist() == [[200, 0, 0, 255], [10, 10, 10, 255]]
    assert comp.render_below(above)[0].tolist() == [[0, 200, 0, 255]] * 2
    assert comp.render_below(g)[0].tolist() == [[10, 10, 10, 255]] * 2
    with pytest.raises(ValueError, match="not in this document"):
        comp.render_below(solid((0, 0, 0, 0)))


def _random_doc(rng, w=40, h=30):
    doc = Document(w, h)
    modes = ["normal", "multiply", "screen", "overlay", "difference", "soft-light", "hue", "addition"]
    g = GroupLayer("g", isolated=False, opacity=0.8)
    for i in range(6):
        lw, lh = rng.integers(5, 40), rng.integers(5, 30)
        px = rng.integers(0, 256, size=(lh, lw, 4), dtype=np.uint8)
        layer = RasterLayer(f"l{i}", px, blend_mode=modes[i % len(modes)],
                            offset=(int(rng.integers(-10, 30)), int(rng.integers(-10, 20))),
                            opacity=float(rng.uniform(0.3, 1)))
        if i == 3:
            layer.mask = rng.integers(0, 256, size=(lh, lw), dtype=np.uint8)
        doc.add_layer(layer, parent=g if i in (2, 4) and g.parent else None)
        if i == 1:
            doc.add_layer(g)
    return doc


def test_incremental_render_matches_fresh_render(rng):
    doc = _random_doc(rng)
    comp = Compositor(doc)
    comp.render()
    layers = [l for l in doc.walk() if isinstance(l, RasterLayer)]
    for step in range(25):
        layer = layers[step % len(layers)]
        kind = step % 5
        if kind == 0:
            r = Rect(0, 0, min(4, layer.width), min(3, layer.height))
            doc.set_pixels(layer, r, rng.integers(0, 256, size=(r.h, r.w, 4), dtype=np.uint8))
        elif kind == 1:
            doc.set_layer_property(layer, "offset", (int(rng.integers(-5, 30)), int(rng.integers(-5, 20))))
        elif kind == 2:
            doc.set_layer_property(layer, "opacity", float(rng.uniform(0, 1)))
        elif kind == 3:
            doc.move_layer(layer, None, int(rng.integers(0, len(doc.layers))))
        else:
            doc.history.undo()
        assert np.array_equal(comp.render(), Compositor(doc).render()), step
    doc.history.jump(0)
    assert not comp.render().any()


def test_render_source_leaves_brush_layers_out_and_stays_cached():
    from editor.core import BrushLayer

    doc = Document(4, 1)
    base = doc.add_layer(solid((10, 20, 30, 255), 4, 1))
    other = doc.add_layer(BrushLayer("other", np.full((1, 4, 4), 200, np.uint8)))
    mine = doc.add_layer(BrushLayer("mine", np.zeros((1, 4, 4), np.uint8)))
    comp = Compositor(doc)
    assert comp.render_source(mine)[0, 0].tolist() == [10, 20, 30, 255]
    assert comp.render_below(mine)[0, 0].tolist() != [10, 20, 30, 255]  # sees the other brush
    calls = []
    original = comp._draw_children
    comp._draw_children = lambda *a, **k: calls.append(1) or original(*a, **k)
    doc.set_pixels(other, Rect(0, 0, 4, 1), np.zeros((1, 4, 4), np.uint8))
    comp.render_source(mine)
    assert calls == []  # another brush layer changing does not touch the source
    doc.set_pixels(base, Rect(0, 0, 1, 1), np.full((1, 1, 4), 255, np.uint8))
    assert comp.render_source(mine)[0].tolist()[:2] == [[255, 255, 255, 255], [10, 20, 30, 255]]
    assert calls


def test_strided_and_empty_pixel_arrays():
    from editor.core import BrushLayer

    big = np.zeros((8, 8, 4), np.uint8)
    big[::2, ::2] = (1, 2, 3, 255)
    doc = Document(4, 4)
    doc.add_layer(RasterLayer("strided", big[::2, ::2]))  # a non-contiguous view
    doc.add_layer(BrushLayer("not rendered yet"))  # 0x0 pixels
    out = Compositor(doc).render()
    assert (out == (1, 2, 3, 255)).all()


def test_threaded_render_matches_single_thread(monkeypatch):
    from editor.core import compositor as compositor_module

    rng = np.random.default_rng(5)
    doc = Document(700, 600)
    for i, mode in enumerate(["normal", "multiply", "overlay", "hue"]):
        px = rng.integers(0, 256, size=(500, 600, 4), dtype=np.uint8)
        doc.add_layer(RasterLayer(f"l{i}", px, blend_mode=mode, offset=(i * 30, i * 20)))
    threaded = Compositor(doc).render()
    monkeypatch.setattr(compositor_module, "THREADS", 1)
    single = Compositor(doc).render()
    assert np.array_equal(threaded, single)
