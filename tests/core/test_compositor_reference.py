"""The tiled, cached compositor against a per-pixel plain-Python reference of the whole
tree (groups isolated and pass-through, opacity, masks, offsets, hidden layers)."""

import numpy as np
import pytest

from editor.core import Compositor, Document, GroupLayer, RasterLayer, Rect
from editor.core import compositor as compositor_module
from editor.core import occupancy as occupancy_module
from editor.core.layers import GroupLayer as _G

from core_reference import composite_pixel

MODES = ["normal", "multiply", "screen", "overlay", "darken", "lighten", "color-dodge", "color-burn",
         "hard-light", "soft-light", "difference", "exclusion", "addition", "hue", "saturation", "color",
         "luminosity"]


def _mask_value(layer, x, y):
    m = layer.effective_mask()
    if m is None:
        return 1.0
    mx, my = x - layer.offset[0], y - layer.offset[1]
    if 0 <= my < m.shape[0] and 0 <= mx < m.shape[1]:
        return m[my, mx] / 255.0
    return 0.0


def _premul(p):
    return (p[0] * p[3], p[1] * p[3], p[2] * p[3], p[3])


def _straight(p):
    a = p[3]
    return (0.0, 0.0, 0.0, 0.0) if a <= 0 else (p[0] / a, p[1] / a, p[2] / a, a)


def _ref_children(children, x, y, backdrop):
    for child in children:
        if not child.visible:
            continue
        if isinstance(child, _G):
            w = child.opacity * _mask_value(child, x, y)
            if child.isolated:
                inner = _ref_children(child.children, x, y, (0.0, 0.0, 0.0, 0.0))
                inner = inner[:3] + (inner[3] * w,)
                backdrop = composite_pixel(child.blend_mode, backdrop, inner)
            else:
                result = _ref_children(child.children, x, y, backdrop)
                b, r = _premul(backdrop), _premul(result)
                backdrop = _straight(tuple(bb + (rr - bb) * w for bb, rr in zip(b, r)))
        else:
            lx, ly = x - child.offset[0], y - child.offset[1]
            if not (0 <= ly < child.pixels.shape[0] and 0 <= lx < child.pixels.shape[1]):
                continue
            px = child.pixels[ly, lx] / 255.0
            a = px[3] * child.opacity * _mask_value(child, x, y)
            backdrop = composite_pixel(child.blend_mode, backdrop, (px[0], px[1], px[2], a))
    return backdrop


def reference_render(doc):
    out = np.zeros((doc.height, doc.width, 4), np.uint8)
    for y in range(doc.height):
        for x in range(doc.width):
            p = _ref_children(doc.layers, x, y, (0.0, 0.0, 0.0, 0.0))
            out[y, x] = [round(v * 255) for v in p]
    return out


def random_tree(rng, w=20, h=14):
    doc = Document(w, h)

    def layer(i):
        lw, lh = int(rng.integers(3, w + 6)), int(rng.integers(3, h + 6))
        px = rng.integers(0, 256, size=(lh, lw, 4), dtype=np.uint8)
        px[..., 3][rng.random((lh, lw)) < 0.3] = 0  # holes
        if rng.random() < 0.3:
            px[..., 3] = 255
        kw = dict(blend_mode=str(rng.choice(MODES)), opacity=float(rng.choice([1.0, rng.uniform(0.2, 1)])),
                  offset=(int(rng.integers(-4, w - 2)), int(rng.integers(-4, h - 2))))
        if rng.random() < 0.3:
            kw["mask"] = rng.integers(0, 256, size=(lh, lw), dtype=np.uint8)
            kw["mask_inverted"] = bool(rng.random() < 0.5)
        if rng.random() < 0.1:
            kw["visible"] = False
        return RasterLayer(f"l{i}", px, **kw)

    base = np.zeros((h, w, 4), np.uint8)
    base[..., :3] = rng.integers(0, 256, size=(h, w, 3))
    base[..., 3] = 255 if rng.random() < 0.7 else rng.integers(0, 256, size=(h, w))
    doc.add_layer(RasterLayer("base", base))
    for i in range(3):
        doc.add_layer(layer(i))
    for gi, isolated in enumerate((True, False)):
        g = GroupLayer(f"g{gi}", isolated=isolated, opacity=float(rng.choice([1.0, 0.6])),
                       blend_mode=str(rng.choice(MODES)))
        if rng.random() < 0.5:
            g.mask = rng.integers(0, 256, size=(h - 2, w - 3), dtype=np.uint8)
            g.offset = (1, 1)
        doc.add_layer(g)
        for i in range(2):
            doc.add_layer(layer(10 * gi + i), parent=g)
        if gi == 0:
            inner = doc.add_layer(GroupLayer("nested", isolated=bool(rng.random() < 0.5)), parent=g)
            doc.add_layer(layer(99), parent=inner)
    doc.add_layer(layer(50))
    return doc


@pytest.fixture(params=[(4, 2), (256, 32)], ids=["tiny-tiles", "default-tiles"])
def tiles(request, monkeypatch):
    tile, cell = request.param
    monkeypatch.setattr(compositor_module, "TILE", tile)
    monkeypatch.setattr(occupancy_module, "CELL", cell)
    return tile


@pytest.mark.parametrize("seed", range(6))
def test_tree_matches_reference(seed, tiles):
    rng = np.random.default_rng(seed)
    doc = random_tree(rng)
    got = Compositor(doc).render().astype(int)
    exp = reference_render(doc).astype(int)
    # compare premultiplied (straight colour of nearly transparent pixels is noise)
    diff = np.abs(got[..., :3] * got[..., 3:] - exp[..., :3] * exp[..., 3:]) / 255.0
    assert np.abs(got[..., 3] - exp[..., 3]).max() <= 1
    assert diff.max() <= 1.5, np.unravel_index(diff.argmax(), diff.shape)


def test_render_below_matches_reference_with_layers_hidden(tiles):
    rng = np.random.default_rng(7)
    doc = random_tree(rng)
    comp = Compositor(doc)
    for stop in list(doc.walk()):
        ref_doc_hidden = []
        order = list(doc.walk())
        idx = order.index(stop)
        for lyr in order[idx:]:
            if stop not in [lyr] and any(a is lyr for a in stop.ancestors()):
                continue  # ancestors of stop stay (their siblings below stop show)
            ref_doc_hidden.append((lyr, lyr.visible))
            lyr._visible = False
        try:
            exp = reference_render(doc).astype(int)
        finally:
            for lyr, v in ref_doc_hidden:
                lyr._visible = v
        got = comp.render_below(stop).astype(int)
        diff = np.abs(got[..., :3] * got[..., 3:] - exp[..., :3] * exp[..., 3:]) / 255.0
        assert np.abs(got[..., 3] - exp[..., 3]).max() <= 1, stop
        assert diff.max() <= 1.5, stop


def test_caches_follow_edits(tiles):
    """Dabs, property changes, moves and undo on a document whose active layer sits in
    the middle (so the 'below' cache is used) keep the incremental result equal to a
    fresh render without caches."""
    rng = np.random.default_rng(3)
    doc = random_tree(rng, 24, 18)
    comp = Compositor(doc)
    rasters = [l for l in doc.walk() if isinstance(l, RasterLayer)]
    stop = rasters[3]
    comp.render()
    comp.render_below(stop)
    for step in range(30):
        doc.active_layer = rasters[(step // 6) % len(rasters)]
        layer = rasters[int(rng.integers(0, len(rasters)))]
        kind = step % 6
        if kind in (0, 1, 2):  # live painting: in place + notify, then a small render
            r = Rect(int(rng.integers(0, max(layer.width - 2, 1))), int(rng.integers(0, max(layer.height - 2, 1))), 2, 2)
            r = r.clip(layer.width, layer.height)
            if r.is_empty:
                continue
            layer.pixels[r.slices] = rng.integers(0, 256, size=(r.h, r.w, 4), dtype=np.uint8)
            doc.notify_pixels(layer, r.translate(*layer.offset))
            comp.render(r.translate(*layer.offset))
        elif kind == 3:
            doc.set_layer_property(layer, "offset", (int(rng.integers(-3, 20)), int(rng.integers(-3, 14))))
        elif kind == 4:
            doc.set_layer_property(layer, "opacity", float(rng.uniform(0, 1)))
        else:
            doc.history.undo()
        fresh = Compositor(doc, below_cache=False)
        assert np.abs(comp.render().astype(int) - fresh.render().astype(int)).max() <= 1, step
        assert np.abs(comp.render_below(stop).astype(int) - fresh.render_below(stop).astype(int)).max() <= 1, step


def test_pixels_outside_the_document_are_kept():
    doc = Document(4, 4)
    px = np.zeros((4, 8, 4), np.uint8)
    px[:, 6:] = (255, 0, 0, 255)  # right part starts outside the canvas
    layer = doc.add_layer(RasterLayer("wide", px))
    comp = Compositor(doc)
    assert comp.render()[..., 3].max() == 0
    doc.set_layer_property(layer, "offset", (-4, 0))
    assert (comp.render()[:, 2:] == (255, 0, 0, 255)).all()


def test_occupancy_follows_notified_in_place_edits():
    doc = Document(300, 300)
    layer = doc.add_layer(RasterLayer.blank(300, 300))
    comp = Compositor(doc)
    assert comp.render().max() == 0
    layer.pixels[280:290, 280:290] = (0, 255, 0, 255)
    doc.notify_pixels(layer, Rect(280, 280, 10, 10))
    out = comp.render(Rect(270, 270, 30, 30))
    assert (out[10:20, 10:20] == (0, 255, 0, 255)).all()
