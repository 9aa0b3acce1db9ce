"""PSD files written by Photoshop (the shared corpus): fill, shape and adjustment
layers, clipping, colour modes. Skipped when the corpus is absent."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from editor.core.layers import GroupLayer, RasterLayer
from editor.io.errors import FileFormatError
from editor.io.flatten import flatten
from editor.io.psd import load_psd

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "psd"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PSD corpus not present")


def _mean_diff(doc, name) -> float:
    """Mean abs difference (0..255) from Photoshop's merged image, both on white."""
    from psd_tools import PSDImage

    ref = np.array(PSDImage.open(CORPUS / name).topil().convert("RGBA"), np.float64)
    ours = flatten(doc).astype(np.float64)

    def on_white(x):
        return x[..., :3] * x[..., 3:] / 255 + 255 * (1 - x[..., 3:] / 255)

    return float(np.abs(on_white(ours) - on_white(ref)).mean())


def _open(name):
    warnings: list[str] = []
    return load_psd(CORPUS / name, warnings), warnings


def test_adjustment_layers_never_load_as_empty_pixel_layers():
    for name in ("adjustments/curves_grayscale.psd", "adjustments/levels_grayscale.psd", "layers/photo-filter.psd",
                 "adjustments/invert_rgb.psd", "layers/color-balance.psd"):
        from psd_tools import PSDImage
        from psd_tools.api.layers import AdjustmentLayer

        adjustments = [l.name for l in PSDImage.open(CORPUS / name).descendants() if isinstance(l, AdjustmentLayer)]
        assert adjustments, name
        doc, warnings = _open(name)
        for adj in adjustments:
            (layer,) = [l for l in doc.walk() if l.name.startswith(adj + " (")]
            assert (isinstance(layer, RasterLayer) and layer.pixels.size) or (
                isinstance(layer, GroupLayer) and not layer.visible), (name, layer.name)
            assert any(w.startswith(f"layer {adj!r}: ") and "adjustment" in w for w in warnings), (name, adj)


def test_an_adjustment_psd_tools_applies_is_applied():
    doc, warnings = _open("adjustments/curves_grayscale.psd")
    names = [l.name for l in doc.walk()]
    assert "Curves 1 (applied)" in names and "Curves 1" not in names
    from editor.io.psd import CONVERTED_KEY

    applied = next(l for l in doc.walk() if l.name == "Curves 1 (applied)")
    assert doc.metadata[CONVERTED_KEY][applied.id] == "curves adjustment applied (a snapshot of the layers below)"
    assert any("'Curves 1': curves adjustment applied" in w for w in warnings)
    assert _mean_diff(doc, "adjustments/curves_grayscale.psd") < 1
    # before adjustments were applied this file was 31/255 off
    for layer in doc.walk():
        if layer.name.endswith("(applied)"):
            layer.visible = False
    assert _mean_diff(doc, "adjustments/curves_grayscale.psd") > 10


def test_an_adjustment_psd_tools_cannot_apply_is_a_hidden_named_placeholder():
    doc, warnings = _open("layers/photo-filter.psd")
    (layer,) = doc.layers
    assert isinstance(layer, GroupLayer) and not layer.children and layer.visible is False
    assert layer.name == "Photo Filter 1 (photofilter adjustment, not applied)"
    assert warnings == ["layer 'Photo Filter 1': photofilter adjustment layers cannot be applied; "
                        "kept as a hidden empty placeholder group"]


def test_fill_layer_becomes_a_document_size_pixel_layer_with_its_colour():
    doc, warnings = _open("layers/solid-color-fill.psd")
    (layer,) = doc.layers
    assert layer.name == "Color Fill 1" and layer.pixels.shape == (32, 32, 4) and layer.offset == (0, 0)
    assert warnings == ["layer 'Color Fill 1': solid colour fill layer, layer mask converted to pixels"]
    # marked as converted (the Layers panel's tooltip says so)
    from editor.io.psd import CONVERTED_KEY

    assert doc.metadata[CONVERTED_KEY] == {layer.id: "solid colour fill layer, layer mask converted to pixels"}
    assert _mean_diff(doc, "layers/solid-color-fill.psd") < 0.5


@pytest.mark.parametrize("name", ["layers-minimal/gradient-fill.psd", "unicode_pathname.psb"])
def test_files_with_only_a_fill_layer_open(name):
    doc, warnings = _open(name)
    assert doc.layers and all(isinstance(l, RasterLayer) and l.pixels.size for l in doc.layers)
    assert flatten(doc)[..., 3].any()
    assert any(re.search("fill layer.* converted to pixels", w) for w in warnings)


def test_shape_layers_are_kept_with_their_pixels_and_clipping():
    doc, warnings = _open("clipping-mask.psd")
    names = {l.name: l for l in doc.walk()}
    assert names["Shape 2"].clipped is True and names["Shape 1"].clipped is False
    assert any(w.startswith("layer 'Shape 1': shape layer") and w.endswith("converted to pixels") for w in warnings)
    assert _mean_diff(doc, "clipping-mask.psd") < 3


def test_without_the_drawing_packages_layers_are_skipped_with_a_warning(monkeypatch):
    import editor.io.psd as psd_module

    def missing(*args, **kwargs):
        raise ImportError("Gradient fills require: scipy")

    monkeypatch.setattr(psd_module, "_rendered_pixels", missing)
    monkeypatch.setattr(psd_module, "_applied_adjustment", missing)
    doc, warnings = _open("adjustments/adjustment_backdrop_test.psd")
    assert "layer 'Gradient Fill 1': gradient fill layer need scipy to be drawn, skipped" in warnings
    assert any("curves adjustment layers need scipy to be applied" in w for w in warnings)


def test_mask_density_is_applied():
    doc, _ = _open("mask-density-layermask.psd")
    assert _mean_diff(doc, "mask-density-layermask.psd") < 3


def test_colour_modes_say_how_they_were_converted():
    _, warnings = _open("adjustments/invert_cmyk.psd")
    assert "CMYK PSD: converted to RGB with its ICC profile" in warnings
    _, warnings = _open("16bit5x5.psb")
    assert "16-bit PSD: converted to 8 bits per channel" in warnings
    _, warnings = _open("colormodes/4x4_8bit_duotone.psd")
    assert any(w.startswith("duotone PSD") for w in warnings)


def test_lab_files_are_refused_clearly(tmp_path):
    from psd_tools import PSDImage

    src = PSDImage.open(CORPUS / "colormodes/4x4_8bit_rgb.psd")
    src._record.header.color_mode = 9  # LAB: no Lab file in the corpus
    path = tmp_path / "lab.psd"
    src.save(path)
    with pytest.raises(FileFormatError, match="Lab colour PSDs are not supported"):
        load_psd(path)


def test_psb_files_open_from_the_dialog_extensions_and_by_content():
    from editor.io.project import OPEN_EXTENSIONS, open_document

    assert ".psb" in OPEN_EXTENSIONS
    doc = open_document(CORPUS / "layers/pattern-fill.psb")
    assert doc.layers and flatten(doc)[..., 3].any()
