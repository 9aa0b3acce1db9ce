"""PSD import and export through psd-tools."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import blob, gradient

from editor.core.document import Document
from editor.core.layers import GroupLayer, RasterLayer
from editor.io.flatten import flatten
from editor.io.project import open_document, save_document
from editor.io.psd import load_psd, save_psd


def _tree(doc):
    return [(type(l).__name__, l.name, l.visible, round(l.opacity * 255), l.blend_mode, l.offset,
             getattr(l, "isolated", None)) for l in doc.walk()]


def test_round_trip_keeps_layers_groups_and_properties(tmp_path):
    doc = Document(64, 48)
    doc.add_layer(RasterLayer("bg", gradient(48, 64)))
    g = GroupLayer("pass", isolated=False)
    doc.add_layer(g)
    a = RasterLayer("mul", blob(20, 30, (200, 50, 20)), offset=(5, 7), opacity=0.5, blend_mode="multiply")
    doc.add_layer(a, parent=g)
    a.mask = np.tile(np.arange(30, dtype=np.uint8) * 8, (20, 1))
    iso = GroupLayer("iso", isolated=True, opacity=0.6, blend_mode="screen", visible=False)
    doc.add_layer(iso)
    b = RasterLayer("off", blob(10, 10, (0, 0, 255)), offset=(-3, 40), blend_mode="addition")
    doc.add_layer(b, parent=iso)
    b.mask = np.full((10, 10), 100, np.uint8)
    b.mask_enabled = False
    for mode in ("overlay", "difference", "color-dodge", "luminosity"):
        doc.add_layer(RasterLayer(mode, blob(8, 8, (90, 90, 90)), offset=(30, 10), blend_mode=mode))
    save_psd(doc, tmp_path / "a.psd")
    warnings: list[str] = []
    back = open_document(tmp_path / "a.psd", warnings)
    assert warnings == []
    assert _tree(back) == _tree(doc)
    for x, y in zip(doc.walk(), back.walk()):
        if isinstance(x, RasterLayer):
            assert np.array_equal(x.pixels, y.pixels), x.name
        assert (x.mask is None) == (y.mask is None), x.name
        if x.mask is not None:
            assert np.array_equal(x.mask, y.mask) and x.mask_enabled == y.mask_enabled
    assert np.abs(flatten(back).astype(int) - flatten(doc)).max() <= 2


def test_inverted_mask_is_written_inverted(tmp_path):
    doc = Document(8, 8)
    layer = RasterLayer("a", gradient(8, 8))
    doc.add_layer(layer)
    layer.mask = np.tile(np.arange(8, dtype=np.uint8) * 30, (8, 1))
    layer.mask_inverted = True
    save_psd(doc, tmp_path / "i.psd")
    back = load_psd(tmp_path / "i.psd").layers[0]
    assert back.mask_inverted is False and np.array_equal(back.mask, 255 - layer.mask)
    assert np.abs(flatten(load_psd(tmp_path / "i.psd")).astype(int) - flatten(doc)).max() <= 1


def test_rich_document_saves_as_psd(tmp_path, doc):
    from editor.io.psd import save_psd

    warnings: list[str] = []
    save_psd(doc, tmp_path / "r.psd", warnings)
    assert warnings == [
        "layer 'brush': brush layer saved as plain pixels (its prompt and settings are kept only in .ora)",
        "layer 'generated': generated layer saved as plain pixels (its prompt and settings are kept only in .ora)",
    ]
    back = load_psd(tmp_path / "r.psd")
    group = next(l for l in back.walk() if l.name == "isolated group")
    source = next(l for l in doc.walk() if l.name == "isolated group")
    assert np.array_equal(group.mask, source.mask)
    assert [l.name for l in back.walk()] == [l.name for l in doc.walk()]
    masked = next(l for l in back.walk() if l.name == "masked")
    assert masked.mask is not None
    save_document(doc, tmp_path / "r2.psd")  # the project-level entry point too
    assert load_psd(tmp_path / "r2.psd").size == doc.size


def test_every_photoshop_blend_mode_loads_as_ours(tmp_path):
    from psd_tools import PSDImage
    from psd_tools.constants import BlendMode
    from PIL import Image

    psd = PSDImage.new("RGBA", (8, 8))
    psd.create_pixel_layer(Image.fromarray(gradient(8, 8)), name="vivid", blend_mode=BlendMode.VIVID_LIGHT)
    psd.save(tmp_path / "v.psd")
    warnings: list[str] = []
    doc = load_psd(tmp_path / "v.psd", warnings)
    assert doc.layers[0].blend_mode == "vivid-light" and warnings == []
    from editor.io.psd import _MODES

    assert set(BlendMode.__members__) - set(_MODES) == {"PASS_THROUGH"}


def test_flat_psd_opens_as_one_layer(tmp_path):
    from psd_tools import PSDImage
    from PIL import Image

    PSDImage.frompil(Image.fromarray(gradient(6, 9)).convert("RGB")).save(tmp_path / "f.psd")
    doc = load_psd(tmp_path / "f.psd")
    assert doc.size == (9, 6) and len(doc.layers) == 1
    assert np.array_equal(doc.layers[0].pixels[..., :3], gradient(6, 9)[..., :3])


def test_empty_layer(tmp_path):
    doc = Document(8, 8)
    doc.add_layer(RasterLayer("empty"))
    save_psd(doc, tmp_path / "e.psd")
    assert load_psd(tmp_path / "e.psd").layers[0].pixels.shape == (0, 0, 4)


def test_opens_psd_written_by_krita():
    """tests/io/data/krita_written.psd: Krita 5.1.5 exported our rich document
    (without masks) as PSD: groups incl. pass-through, hidden layer, offsets
    partly off-canvas, opacity, multiply/screen/overlay/difference."""
    from pathlib import Path

    from editor.io.raster import load_image

    data = Path(__file__).parent / "data"
    warnings: list[str] = []
    doc = load_psd(data / "krita_written.psd", warnings)
    assert warnings == []
    names = [l.name for l in doc.walk()]
    assert names == ["background", "multiply blob", "hidden", "in group", "screen in group", "overlay inner",
                     "pass-through", "isolated group", "difference edge"]
    passthrough = next(l for l in doc.walk() if l.name == "pass-through")
    assert passthrough.isolated is False
    hidden = next(l for l in doc.walk() if l.name == "hidden")
    assert hidden.visible is False and hidden.offset == (30, 20)
    expected = load_image(data / "krita_written_expected.png").astype(int)
    assert np.abs(flatten(doc).astype(int) - expected).max() <= 2


def test_photoshop_only_modes_and_clipping_round_trip(tmp_path):
    from editor.core.blend import BLEND_MODES

    doc = Document(16, 16)
    doc.add_layer(RasterLayer("bg", gradient(16, 16)))
    modes = list(BLEND_MODES)[17:]
    for mode in modes:
        doc.add_layer(RasterLayer(mode, blob(8, 8, (90, 140, 200)), offset=(4, 4), blend_mode=mode))
    doc.add_layer(RasterLayer("clipped", blob(16, 16, (255, 0, 0)), clipped=True))
    save_psd(doc, tmp_path / "m.psd")
    warnings: list[str] = []
    back = load_psd(tmp_path / "m.psd", warnings)
    assert warnings == []
    assert [l.blend_mode for l in back.layers][1:-1] == modes
    assert [l.clipped for l in back.layers] == [False] * (len(modes) + 1) + [True]
    assert np.abs(flatten(back).astype(int) - flatten(doc)).max() <= 2
    from psd_tools import PSDImage

    psd = PSDImage.open(tmp_path / "m.psd")
    assert [l.blend_mode.name for l in psd][1:4] == ["DIVIDE", "SUBTRACT", "LINEAR_BURN"]
    assert list(psd)[-1].clipping is True


def test_group_masks_are_written_and_read_back(tmp_path):
    doc = Document(32, 16)
    doc.add_layer(RasterLayer("bg", gradient(16, 32)))
    group = GroupLayer("masked", isolated=False, offset=(4, 2))
    doc.add_layer(group)
    doc.add_layer(RasterLayer("red", blob(16, 32, (255, 0, 0))), parent=group)
    mask = np.zeros((12, 20), np.uint8)
    mask[:, :10] = 255
    mask[:, 10:15] = 90
    group.mask = mask
    warnings: list[str] = []
    save_psd(doc, tmp_path / "g.psd", warnings)
    assert warnings == []
    back = load_psd(tmp_path / "g.psd")
    g = back.layers[1]
    assert g.name == "masked" and g.isolated is False
    # read back at the document size: the same mask where it was, hidden elsewhere
    expected = np.zeros((16, 32), np.uint8)
    expected[2:14, 4:24] = mask
    assert np.array_equal(g.mask, expected)
    assert np.abs(flatten(back).astype(int) - flatten(doc)).max() <= 1


def test_group_masks_left_out_with_a_warning_when_the_file_would_not_parse(tmp_path, monkeypatch):
    import editor.io.psd as psd_module

    doc = Document(8, 8)
    group = GroupLayer("g")
    doc.add_layer(group)
    doc.add_layer(RasterLayer("x", blob(8, 8, (0, 255, 0))), parent=group)
    group.mask = np.full((8, 8), 200, np.uint8)
    monkeypatch.setattr(psd_module, "_readable", lambda data: False)
    warnings: list[str] = []
    save_psd(doc, tmp_path / "g.psd", warnings)
    assert warnings == ["group 'g': group masks are not written to PSD"]
    assert load_psd(tmp_path / "g.psd").layers[0].mask is None
