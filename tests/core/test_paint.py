import numpy as np
import pytest

from editor.core import Compositor, Document, GroupLayer, LayerLockedError, RasterLayer, Rect
from editor.core.paint import Brush, Stroke, fill, flood_mask, pick_color
from editor.core.selection import rect_mask


@pytest.fixture
def canvas():
    doc = Document(64, 48)
    layer = doc.add_layer(RasterLayer.blank(64, 48, "paint"))
    return doc, layer


def test_dab_profile_hardness_and_pressure():
    hard = Brush(size=20, hardness=1.0)
    rect, cov = hard.dab_mask(10.0, 10.0)
    assert rect.contains(Rect(0, 0, 20, 20))
    assert cov.max() == 1.0 and cov.min() == 0.0
    area_hard = cov.sum()
    assert abs(area_hard - np.pi * 100) < 15  # antialiased disc of radius 10
    soft = Brush(size=20, hardness=0.0)
    _, cov_soft = soft.dab_mask(10.0, 10.0)
    assert cov_soft.sum() < area_hard * 0.7
    _, cov_small = hard.dab_mask(10.0, 10.0, pressure=0.5)
    assert abs(cov_small.sum() - np.pi * 25) < 10
    _, cov_light = Brush(size=20, hardness=1.0, pressure_size=False, pressure_opacity=True).dab_mask(10, 10, 0.5)
    assert cov_light.max() == pytest.approx(0.5)


def test_brush_validation():
    with pytest.raises(ValueError, match="size"):
        Brush(size=0)
    with pytest.raises(ValueError, match="hardness"):
        Brush(hardness=2)
    with pytest.raises(ValueError, match="color"):
        Brush(color=(1, 2))
    with pytest.raises(ValueError, match="color"):
        Brush(color=(300, 0, 0))


def test_stroke_paints_spaced_dabs_and_is_one_step(canvas):
    doc, layer = canvas
    seen = []
    doc.events.pixels_changed.connect(lambda l, r: seen.append(r))
    stroke = Stroke(doc, layer, Brush(size=8, hardness=1.0, color=(255, 0, 0)))
    stroke.dab(5, 20)
    for x in range(10, 60, 10):
        stroke.dab(x, 20)
    assert len(seen) >= 5
    rect = stroke.end()
    assert rect == Rect(1, 16, 53, 8)
    assert (layer.pixels[20, 5:51] == (255, 0, 0, 255)).all()  # continuous line, no gaps
    assert layer.pixels[10, :, 3].max() == 0
    assert doc.history.labels[-1] == "Brush stroke" and len(doc.history) == 2
    step = doc.history.steps[-1]
    assert step.before.shape[:2] == (8, 53)  # only the stroke's bounding box is stored
    doc.history.undo()
    assert layer.pixels.max() == 0
    doc.history.redo()
    assert layer.pixels[20, 30, 0] == 255


def test_opacity_does_not_build_up_within_a_stroke(canvas):
    doc, layer = canvas
    stroke = Stroke(doc, layer, Brush(size=10, hardness=1.0, opacity=0.5, color=(0, 0, 255), spacing=0.05))
    for _ in range(3):
        stroke.dab(20, 20)
        stroke.dab(21, 20)
    stroke.end()
    assert layer.pixels[20, 20, 3] == 128
    s2 = Stroke(doc, layer, Brush(size=10, hardness=1.0, opacity=0.5, color=(0, 0, 255)))
    s2.dab(20, 20)
    s2.end()
    assert layer.pixels[20, 20, 3] == 192  # a second stroke adds on top: 0.5 + 0.5 * 128/255


def test_eraser_and_cancel(canvas):
    doc, layer = canvas
    layer.pixels[:] = (10, 20, 30, 255)
    stroke = Stroke(doc, layer, Brush(size=6, hardness=1.0, erase=True))
    stroke.dab(30, 30)
    assert layer.pixels[30, 30, 3] == 0 and tuple(layer.pixels[30, 30, :3]) == (10, 20, 30)
    stroke.cancel()
    assert layer.pixels[30, 30, 3] == 255 and len(doc.history) == 1


def test_selection_limits_painting_and_layer_offset(canvas):
    doc, layer = canvas
    doc.set_layer_property(layer, "offset", (10, 0))
    doc.selection = rect_mask(64, 48, (0, 0, 32, 48))
    stroke = Stroke(doc, layer, Brush(size=20, hardness=1.0, color=(0, 255, 0)))
    stroke.dab(32, 20)  # document x 32 = layer x 22
    stroke.end()
    assert layer.pixels[20, 21, 3] == 255  # document x 31: inside the selection
    assert layer.pixels[20, 22, 3] == 0  # document x 32: outside


def test_paint_mask_and_selection_targets(canvas):
    doc, layer = canvas
    layer.pixels[:] = (9, 9, 9, 255)
    doc.add_mask(layer)
    s = Stroke(doc, layer, Brush(size=10, hardness=1.0, color=(0, 0, 0)), target="mask")
    s.dab(20, 20)
    s.end()
    assert layer.mask[20, 20] == 0 and layer.mask[0, 0] == 255
    out = Compositor(doc).render()
    assert out[20, 20, 3] == 0 and out[0, 0, 3] == 255 and layer.pixels[20, 20, 3] == 255
    doc.set_selection(np.zeros((48, 64), np.uint8))
    changed = []
    doc.events.selection_changed.connect(lambda: changed.append(1))
    s = Stroke(doc, None, Brush(size=10, hardness=1.0, color=(255, 255, 255)), target="selection")
    s.dab(40, 30)
    s.end()
    assert doc.selection[30, 40] == 255 and changed
    doc.history.undo()
    assert doc.selection.max() == 0


def test_stroke_refuses_bad_targets(canvas):
    doc, layer = canvas
    with pytest.raises(ValueError, match="no mask"):
        Stroke(doc, layer, Brush(), target="mask")
    with pytest.raises(ValueError, match="no selection"):
        Stroke(doc, None, Brush(), target="selection")
    g = doc.add_layer(GroupLayer("g"))
    with pytest.raises(ValueError, match="no pixels"):
        Stroke(doc, g, Brush())
    doc.set_layer_property(layer, "locked", True)
    with pytest.raises(LayerLockedError):
        Stroke(doc, layer, Brush())
    with pytest.raises(LayerLockedError):
        fill(doc, layer, 1, 1, (0, 0, 0))


def test_flood_mask_connectivity_and_tolerance():
    img = np.zeros((6, 8, 4), np.uint8)
    img[:, 4] = (255, 255, 255, 255)  # a wall
    img[0, 0] = (20, 0, 0, 0)
    m = flood_mask(img, 1, 1, tolerance=0)
    assert m[:, :4].sum() == 23 and not m[:, 4:].any()
    m = flood_mask(img, 1, 1, tolerance=20)
    assert m[:, :4].all()
    assert flood_mask(img, 1, 1, tolerance=0, contiguous=False)[:, 5:].all()
    # a U shape: connected around the bend
    u = np.zeros((5, 5, 4), np.uint8)
    u[0:4, 2] = 255
    assert flood_mask(u, 0, 0, 0)[0, 4]
    with pytest.raises(ValueError, match="outside"):
        flood_mask(img, 9, 0)


def test_fill_respects_selection_and_is_one_step(canvas):
    doc, layer = canvas
    doc.selection = rect_mask(64, 48, (0, 0, 64, 10))
    changed = fill(doc, layer, 5, 5, (255, 255, 0, 255), tolerance=0)
    assert changed == Rect(0, 0, 64, 10)
    assert (layer.pixels[:10] == (255, 255, 0, 255)).all() and layer.pixels[10:].max() == 0
    assert doc.history.labels[-1] == "Fill"


def test_pick_color(canvas):
    doc, layer = canvas
    layer.pixels[0:2, 0:2] = (200, 100, 0, 255)
    comp = Compositor(doc)
    assert pick_color(comp, 0.5, 0.5) == (200, 100, 0, 255)
    assert pick_color(comp, 1, 1, radius=1) == (200, 100, 0, 113)  # 4 of 9 pixels opaque
    assert pick_color(layer, 0, 0) == (200, 100, 0, 255)
    assert pick_color(comp, -5, 0) is None


def test_long_diagonal_stroke_on_a_big_layer_undoes_exactly():
    doc = Document(600, 500)
    layer = doc.add_layer(RasterLayer.blank(600, 500))
    rng = np.random.default_rng(0)
    layer.pixels[:] = rng.integers(0, 256, size=layer.pixels.shape, dtype=np.uint8)
    original = layer.pixels.copy()
    stroke = Stroke(doc, layer, Brush(size=12, hardness=0.3, opacity=0.7, color=(1, 2, 3)))
    for i in range(0, 500, 25):
        stroke.dab(i * 1.1, i, pressure=0.5 + i / 1000)
    rect = stroke.end()
    assert rect.w > 500 and rect.h > 450
    # untouched corners of the bounding box are unchanged and restored exactly
    assert (layer.pixels[450:, :40] == original[450:, :40]).all()
    doc.history.undo()
    assert (layer.pixels == original).all()
    doc.history.redo()
    assert not (layer.pixels == original).all()


# ------------------------------------------------------------------ brush regions
def _brush_doc(n=512, region=True):
    from editor.core.layers import BrushLayer

    doc = Document(n, n)
    layer = BrushLayer("brush", region=np.zeros((n, n), np.uint8) if region else None)
    doc.add_layer(layer)
    return doc, layer


def test_a_region_stroke_is_one_step_holding_only_its_rectangle():
    from editor.core.paint import Brush, Stroke

    doc, layer = _brush_doc(1024)
    layer.region[600:700, 600:700] = 255
    before = layer.region.copy()
    seen = []
    doc.events.region_changed.connect(lambda lyr, rect: seen.append(rect))
    changed = []
    doc.events.layer_changed.connect(lambda lyr, name: changed.append(name))
    steps = len(doc.history)
    array = layer.region
    stroke = Stroke(doc, layer, Brush(size=16, hardness=1.0, color=(255, 255, 255)), target="region")
    for x in range(100, 200, 5):
        stroke.dab(x, 120)
    assert layer.region is array  # painted in place, not replaced per dab
    assert seen and all(r.intersects(Rect(90, 110, 120, 20)) for r in seen) and "region" in changed
    rect = stroke.end()
    after = layer.region.copy()
    assert Rect(100, 115, 100, 10).intersect(rect) == Rect(100, 115, 100, 10) and rect.w < 130 and rect.h < 30
    # one step whose memory follows the stroke's rectangle (before + after), not the 1 MiB region
    assert len(doc.history) == steps + 1
    assert doc.history.steps[-1].nbytes == 2 * rect.w * rect.h
    doc.history.undo()
    assert np.array_equal(layer.region, before)
    doc.history.redo()
    assert np.array_equal(layer.region, after)
    assert after[120, 150] == 255 and after[650, 650] == 255 and after[300, 300] == 0


def test_region_erase_and_first_stroke_on_a_layer_without_region():
    from editor.core.paint import Brush, Stroke

    doc, layer = _brush_doc(128, region=False)
    stroke = Stroke(doc, layer, Brush(size=20, hardness=1.0, color=(255, 255, 255)), target="region")
    stroke.dab(40, 40)
    stroke.dab(80, 40)
    stroke.end()
    painted = layer.region.copy()
    assert painted[40, 60] == 255
    doc.history.undo()
    assert layer.region is None  # undone to exactly what was there
    doc.history.redo()
    assert np.array_equal(layer.region, painted)
    erase = Stroke(doc, layer, Brush(size=10, hardness=1.0, erase=True), target="region")
    erase.dab(60, 40)
    erase.end()
    assert layer.region[40, 60] == 0 and layer.region[40, 42] == 255
    doc.history.undo()
    assert np.array_equal(layer.region, painted)
    cancelled = Stroke(doc, layer, Brush(size=10), target="region")
    cancelled.dab(10, 100)
    cancelled.cancel()
    assert np.array_equal(layer.region, painted)


def test_region_target_needs_a_brush_layer():
    from editor.core.paint import Brush, Stroke

    doc = Document(32, 32)
    raster = RasterLayer.blank(32, 32, "r")
    doc.add_layer(raster)
    with pytest.raises(ValueError, match="no brush region"):
        Stroke(doc, raster, Brush(), target="region")
