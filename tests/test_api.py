"""The scripting API: documents, layers, groups, saving, and the AI entry points on a tiny model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from editor import api
from editor.engine.testing import tiny_model, tiny_model_dir  # noqa: F401  (fixtures)


def _rgba(h, w, color, alpha=255):
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :3] = color
    out[..., 3] = alpha
    return out


def test_import_does_not_pull_torch_or_qt():
    code = "import sys, editor.api; print(any(m in sys.modules for m in ('torch', 'diffusers', 'PySide6')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_build_edit_render_save_reopen(tmp_path):
    doc = api.new_document(40, 30)
    assert doc.size == (40, 30) and doc.layers == []
    assert (doc.render() == 0).all()
    bg = doc.add_raster_layer("bg", _rgba(30, 40, (10, 20, 30)))
    group = doc.add_group("fx")
    spot = group.add_raster_layer("spot", _rgba(10, 10, (255, 255, 255)))
    spot.offset = (5, 6)
    spot.blend_mode = "screen"
    spot.opacity = 0.5
    spot.mask = np.full((10, 10), 255, np.uint8)
    inner = group.add_group("inner", isolated=False)
    inner.add_raster_layer("deep", _rgba(4, 4, (0, 255, 0)), offset=(30, 20))
    group.visible = True
    group.opacity = 0.9
    assert [type(l).__name__ for l in doc.layers] == ["RasterLayer", "Group"]
    assert doc.layers[1] == group and group.layers[0] is spot and group.layers[1] == inner
    img = doc.render()
    assert img.shape == (30, 40, 4) and img.dtype == np.uint8
    assert tuple(img[0, 0]) == (10, 20, 30, 255)
    assert img[8, 8, 0] > 100  # the screened spot brightens
    path = tmp_path / "s.ora"
    doc.save(path)
    back = api.open_document(path)
    names = [l.name for l in back.walk()]
    assert names == ["bg", "spot", "deep", "inner", "fx"]
    spot2 = back.layers[1].layers[0]
    assert (spot2.name, spot2.visible, spot2.opacity, spot2.blend_mode, spot2.offset) == (
        "spot", True, 0.5, "screen", (5, 6))
    assert spot2.pixels.shape == (10, 10, 4) and spot2.mask.shape == (10, 10)
    assert back.layers[1].layers[1].isolated is False
    assert np.array_equal(back.render(), img)
    assert bg.pixels is not None


def test_save_formats_and_export(tmp_path):
    doc = api.new_document(16, 16)
    doc.add_raster_layer("a", _rgba(16, 16, (200, 0, 0)))
    for ext in (".png", ".jpg", ".webp", ".tif", ".psd"):
        doc.save(tmp_path / f"out{ext}")
        assert api.open_document(tmp_path / f"out{ext}").size == (16, 16)
    assert [p.name for p in doc.export_layers(tmp_path / "layers")] == ["000_a.png"]


def test_bad_input_is_reported(tmp_path):
    doc = api.new_document(8, 8)
    with pytest.raises(ValueError, match="HxWx4 uint8"):
        doc.add_raster_layer("bad", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="blend mode"):
        doc.add_raster_layer("bad", _rgba(8, 8, 0), blend_mode="glow")
    with pytest.raises(ValueError, match="8x8"):
        doc.add_brush_layer(np.zeros((4, 4), np.uint8), "x")
    (tmp_path / "bad.ora").write_bytes(b"garbage")
    with pytest.raises(api.FileFormatError, match="bad.ora"):
        api.open_document(tmp_path / "bad.ora")


def test_add_layers_are_undoable_steps():
    doc = api.new_document(8, 8)
    doc.add_raster_layer("a", _rgba(8, 8, 1))
    doc.add_group("g")
    assert len(doc.layers) == 2
    doc.core.history.undo()
    assert [l.name for l in doc.layers] == ["a"]


def test_brush_layer_parameters_round_trip(tmp_path):
    doc = api.new_document(64, 64)
    region = np.zeros((64, 64), bool)
    region[10:40, 10:40] = True
    layer = doc.add_brush_layer(region, "a fox", seed=9, strength=0.7, steps=3, guidance=4.0,
                                negative_prompt="blur")
    assert layer.state == "stale" and layer.region.max() == 255
    doc.save(tmp_path / "b.ora")
    back = api.open_document(tmp_path / "b.ora").layers[0]
    assert back.params == layer.params and np.array_equal(back.region, layer.region)
    assert back.state == "stale"


@pytest.mark.slow
def test_render_layers_with_tiny_model(tiny_model, tmp_path):
    doc = api.new_document(64, 64)
    y, x = np.mgrid[0:64, 0:64]
    base = np.zeros((64, 64, 4), np.uint8)
    base[..., 0], base[..., 1], base[..., 2], base[..., 3] = x * 4, y * 4, 100, 255
    doc.add_raster_layer("photo", base)
    region = np.zeros((64, 64), np.uint8)
    region[16:48, 16:48] = 255
    brush = doc.add_brush_layer(region, "a red square", seed=1, steps=2)
    assert api.render_layers(doc, tiny_model) == 1
    assert brush.state == "done" and brush.error is None
    assert brush.pixels.shape == (64, 64, 4)
    assert brush.pixels[32, 32, 3] == 255 and brush.pixels[0, 0, 3] == 0
    assert not np.array_equal(doc.render(), base)  # the edit shows
    assert api.render_layers(doc, tiny_model) == 0  # nothing stale any more
    doc.save(tmp_path / "r.ora")
    again = api.open_document(tmp_path / "r.ora")
    assert again.layers[1].state == "done"
    assert np.array_equal(again.layers[1].pixels, brush.pixels)


@pytest.mark.slow
def test_generate_image_with_tiny_model(tiny_model):
    img = api.generate_image(tiny_model, "a hill", 64, 64, seed=3, steps=2)
    assert img.shape == (64, 64, 4) and (img[..., 3] == 255).all()
    again = api.generate_image(tiny_model, "a hill", 64, 64, seed=3, steps=2)
    assert np.array_equal(img, again)


@pytest.mark.slow
def test_generate_rgba_with_tiny_weights(tiny_model, tmp_path):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "engine" / "rgba"))
    from helpers import write_tiny_weights

    weights = write_tiny_weights(tiny_model.pipe.unet, tmp_path / "ld")
    rgba = api.generate_rgba(tiny_model, "a bottle", 64, 64, seed=1, steps=2, weights=weights)
    assert rgba.shape == (64, 64, 4) and rgba.dtype == np.uint8


def test_clipping_through_the_api(tmp_path):
    doc = api.new_document(8, 8)
    base = np.zeros((8, 8, 4), np.uint8)
    base[:, :4] = (0, 0, 255, 255)
    doc.add_raster_layer("base", base)
    clip = doc.add_raster_layer("clip", np.full((8, 8, 4), (255, 0, 0, 255), np.uint8))
    clip.clipped = True
    clip.blend_mode = "linear-light"
    out = doc.render()
    assert out[:, 4:, 3].max() == 0 and out[:, :4, 3].min() == 255
    assert doc.save(tmp_path / "c.psd") == []
    back = api.open_document(tmp_path / "c.psd")
    assert [l.clipped for l in back.layers] == [False, True] and back.layers[1].blend_mode == "linear-light"
    assert np.array_equal(back.render(), out)
