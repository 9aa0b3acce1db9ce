"""Interop with GIMP 2.10 (batch mode): GIMP flattens our PSDs like we do.

Skipped when ``gimp-console`` is absent (``apt-get install gimp``). Measured with
GIMP 2.10.34: the Photoshop modes divide, subtract, linear burn, vivid/linear/pin
light and hard mix, clipping masks, group masks and the fill and shape layers we
convert from Photoshop files match exactly (within 1/255) where the layers are
opaque. GIMP's own limits, each shown by a test below: its PSD import composites
semi-transparent pixels of dodge/burn/addition/divide/subtract/linear burn/linear
light layers differently (up to 105/255 at soft edges), and maps hue, saturation,
colour, luminosity, soft light and darker/lighter colour to formulas of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from io_samples import blob, gradient

from editor.core.document import Document
from editor.core.layers import GroupLayer, RasterLayer
from editor.io.flatten import flatten
from editor.io.psd import load_psd, save_psd
from editor.io.raster import load_image

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not shutil.which("gimp-console"), reason="gimp-console absent")]
TOLERANCE = 2
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "psd"
#: modes GIMP's PSD import draws as we (and Photoshop) do, for opaque layers
SAME_MODES = ["normal", "multiply", "screen", "overlay", "darken", "lighten", "color-dodge", "color-burn",
              "hard-light", "difference", "exclusion", "addition", "divide", "subtract", "linear-burn",
              "vivid-light", "linear-light", "pin-light", "hard-mix"]
#: modes GIMP maps to formulas of its own
OWN_FORMULA_MODES = ["soft-light", "hue", "saturation", "color", "luminosity"]


def gimp_flatten(src: Path, dst: Path) -> np.ndarray:
    """GIMP's flattening of ``src`` (visible layers merged, alpha kept), as RGBA."""
    home = Path(tempfile.gettempdir()) / "layerbrush-tests-gimp-home"  # keep GIMP's config out of ~
    home.mkdir(exist_ok=True)
    script = (f'(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "{src}" "{src}"))) '
              f'(layer (car (gimp-image-merge-visible-layers image CLIP-TO-IMAGE)))) '
              f'(file-png-save-defaults RUN-NONINTERACTIVE image layer "{dst}" "{dst}") (gimp-quit 0))')
    result = subprocess.run(["gimp-console", "-i", "-d", "-f", "-b", script], capture_output=True, text=True,
                            env=dict(os.environ, HOME=str(home)), timeout=240)
    assert dst.exists(), f"GIMP wrote nothing (rc {result.returncode}): {result.stderr[-2000:]}"
    return _visible(load_image(dst))


def _visible(rgba: np.ndarray) -> np.ndarray:
    out = rgba.astype(int)
    out[out[..., 3] == 0] = 0
    return out


def modes_document(modes, opaque: bool = True, solid=None) -> Document:
    """A tile per mode over a gradient: opaque gradients, one ``solid`` colour, or
    soft-edged discs."""
    doc = Document(32 * len(modes), 32)
    doc.add_layer(RasterLayer("backdrop", gradient(32, 32 * len(modes))))
    for i, mode in enumerate(modes):
        if solid is not None:
            pixels = np.zeros((32, 32, 4), np.uint8)
            pixels[:] = tuple(solid) + (255,)
        else:
            pixels = gradient(32, 32, seed=i + 1) if opaque else blob(32, 32, (40 + i * 8, 200 - i * 7, 120))
        doc.add_layer(RasterLayer(mode, pixels, offset=(32 * i, 0), blend_mode=mode))
    return doc


def _per_tile(diff: np.ndarray, n: int) -> list[int]:
    return [int(diff[:, 32 * i : 32 * (i + 1)].max()) for i in range(n)]


def test_gimp_flattens_our_psd_modes_like_we_do(tmp_path):
    doc = modes_document(SAME_MODES)
    save_psd(doc, tmp_path / "m.psd")
    diff = np.abs(gimp_flatten(tmp_path / "m.psd", tmp_path / "m.png") - _visible(flatten(doc)))
    assert max(_per_tile(diff, len(SAME_MODES))) <= TOLERANCE, dict(zip(SAME_MODES, _per_tile(diff, len(SAME_MODES))))


def test_gimp_uses_formulas_of_its_own_for_some_modes(tmp_path):
    # GIMP's limit: even for opaque layers these differ by 28/255 (soft light) to
    # 133/255 (hue)
    doc = modes_document(OWN_FORMULA_MODES)
    save_psd(doc, tmp_path / "o.psd")
    diff = np.abs(gimp_flatten(tmp_path / "o.psd", tmp_path / "o.png") - _visible(flatten(doc)))
    assert min(_per_tile(diff, len(OWN_FORMULA_MODES))) > 8


def test_gimp_weighs_darker_and_lighter_colour_by_another_luminance(tmp_path):
    # GIMP's limit: where the two colours are close in Photoshop's luminosity
    # (0.3/0.59/0.11), GIMP's weights pick the other one (7% of this picture)
    doc = modes_document(["darker-color", "lighter-color"], solid=(40, 200, 120))
    save_psd(doc, tmp_path / "d.psd")
    diff = np.abs(gimp_flatten(tmp_path / "d.psd", tmp_path / "d.png") - _visible(flatten(doc))).max(axis=2)
    assert 0.01 < (diff > TOLERANCE).mean() < 0.2


def test_gimp_composites_soft_edges_of_some_modes_differently(tmp_path):
    # GIMP's limit: the same modes match where the layer is opaque and differ where
    # it is partly transparent
    modes = ["color-dodge", "divide", "subtract"]
    doc = modes_document(modes, opaque=False)
    save_psd(doc, tmp_path / "s.psd")
    diff = np.abs(gimp_flatten(tmp_path / "s.psd", tmp_path / "s.png") - _visible(flatten(doc))).max(axis=2)
    alpha = np.concatenate([layer.pixels[..., 3] for layer in doc.layers[1:]], axis=1)
    assert diff[alpha == 255].max() <= TOLERANCE
    assert diff[(alpha > 0) & (alpha < 255)].max() > 20


def test_gimp_draws_our_clipping_and_group_masks_like_we_do(tmp_path):
    doc = Document(64, 32)
    doc.add_layer(RasterLayer("backdrop", gradient(32, 64)))
    base = np.zeros((32, 64, 4), np.uint8)
    base[:, :32] = (0, 0, 255, 255)
    doc.add_layer(RasterLayer("base", base))
    doc.add_layer(RasterLayer("clip", blob(32, 64, (255, 0, 0)), clipped=True))
    group = GroupLayer("masked group")
    doc.add_layer(group)
    doc.add_layer(RasterLayer("green", blob(32, 64, (0, 255, 0))), parent=group)
    mask = np.zeros((32, 64), np.uint8)
    mask[:, 40:] = 255
    group.mask = mask
    save_psd(doc, tmp_path / "c.psd")
    diff = np.abs(gimp_flatten(tmp_path / "c.psd", tmp_path / "c.png") - _visible(flatten(doc)))
    assert diff.max() <= TOLERANCE


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PSD corpus not present")
@pytest.mark.parametrize("name", ["layers/solid-color-fill.psd", "gradient-fill.psb", "layers/shape-layer.psd"])
def test_gimp_draws_converted_fill_and_shape_layers_like_we_do(tmp_path, name):
    doc = load_psd(CORPUS / name)
    save_psd(doc, tmp_path / "f.psd")
    diff = np.abs(gimp_flatten(tmp_path / "f.psd", tmp_path / "f.png") - _visible(flatten(doc)))
    assert diff.max() <= TOLERANCE
