"""Interop with a real client: Krita flattens our .ora like we do, and we open
Krita's .ora with the same composite.

Skipped when ``krita`` or ``xvfb-run`` is absent (``apt-get install krita xvfb``).
Measured with Krita 5.1.5: every separable and non-separable mode we write
matches within 4/255 (most within 2), except ``svg:exclusion``, which Krita composites with a
different formula (up to 68/255 off on a plain gradient), so exclusion is not
used here. Group masks are not expressible in OpenRaster (see editor.io.ora),
so the documents here have none; raster masks are baked and do match.

PSD: Krita 5.1.5 ignores a group's opacity when it imports a PSD, even one
Krita wrote itself (tests/io/data/krita_written.psd flattens up to 40/255 off
in Krita, right in Layerbrush), so the PSD check uses groups at full opacity.

Photoshop's modes (divide, subtract, linear burn, vivid/linear/pin light, hard mix)
match within 2/255 in .ora (Krita's names) and .psd. Darker/lighter colour differ on
near-ties only (Krita's luma weights). Clipping: in .ora Krita shows the baked
clipped layers right; it ignores a PSD's clipping flags (shown by a test). Fill and
shape layers converted from Photoshop files match in both formats.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from io_samples import blob, gradient, rich_document

from editor.core.document import Document
from editor.core.layers import GroupLayer, RasterLayer
from editor.io.flatten import flatten
from editor.io.ora import load_ora, save_ora
from editor.io.psd import save_psd
from editor.io.raster import load_image

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not (shutil.which("krita") and shutil.which("xvfb-run")), reason="krita/xvfb-run absent"),
]
#: 8-bit rounding differs; colour-burn's division amplifies it to 4/255 near black.
TOLERANCE = 4


@pytest.fixture(scope="module")
def krita_home():
    """A HOME for Krita kept between test runs (in the temp folder, not the user's
    home): Krita's first start in a fresh HOME builds its resource cache (~40 s)."""
    home = Path(tempfile.gettempdir()) / "layerbrush-tests-krita-home"
    home.mkdir(exist_ok=True)
    return home


def krita_export(src, dst, home):
    env = dict(os.environ, HOME=str(home))  # keep Krita's config out of the user's home
    env.pop("QT_QPA_PLATFORM", None)  # tests set offscreen; Krita needs the X server xvfb-run gives it
    for _attempt in range(2):
        result = subprocess.run(
            ["xvfb-run", "-a", "krita", str(src), "--export", "--export-filename", str(dst)],
            env=env, capture_output=True, text=True, timeout=240,
        )
        # xvfb-run -a can race another X server starting at the same moment: retry once
        if dst.exists() or "could not connect to display" not in result.stderr:
            break
    assert dst.exists(), f"Krita wrote nothing (rc {result.returncode}): {result.stderr[-2000:]}"


def modes_document(group_opacity: float = 0.7) -> Document:
    """One layer per blend mode over a half-transparent backdrop, plus baked masks."""
    modes = ["darken", "lighten", "color-dodge", "color-burn", "hard-light", "soft-light", "addition",
             "hue", "saturation", "color", "luminosity", "multiply", "screen", "overlay", "difference"]
    doc = Document(160, 96)
    doc.add_layer(RasterLayer("backdrop", gradient(96, 160, alpha=200)))
    for i, mode in enumerate(modes):
        x, y = (i % 5) * 32, (i // 5) * 32
        doc.add_layer(RasterLayer(mode, blob(32, 32, (40 + i * 12, 200 - i * 9, 90 + i * 5)), offset=(x, y),
                                  blend_mode=mode, opacity=0.9))
    group = GroupLayer("masked group content", isolated=True, opacity=group_opacity)
    doc.add_layer(group)
    masked = RasterLayer("masked", gradient(40, 40, seed=4), offset=(60, 40))
    doc.add_layer(masked, parent=group)
    masked.mask = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (40, 1))
    return doc


@pytest.mark.parametrize("make", [lambda: rich_document(with_ai=False), modes_document], ids=["rich", "modes"])
def test_krita_flattens_our_file_like_we_do(tmp_path, krita_home, make):
    doc = make()
    save_ora(doc, tmp_path / "ours.ora")
    krita_export(tmp_path / "ours.ora", tmp_path / "krita.png", krita_home)
    theirs = load_image(tmp_path / "krita.png").astype(int)
    diff = np.abs(theirs - flatten(doc))
    assert diff.max() <= TOLERANCE, f"max diff {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"


def test_we_open_krita_written_ora_with_the_same_composite(tmp_path, krita_home):
    doc = rich_document(with_ai=False)
    save_ora(doc, tmp_path / "ours.ora")
    krita_export(tmp_path / "ours.ora", tmp_path / "krita.ora", krita_home)
    warnings: list[str] = []
    back = load_ora(tmp_path / "krita.ora", warnings)
    assert warnings == []
    assert [(l.name, l.visible, l.blend_mode, l.offset) for l in back.walk()] == [
        (l.name, l.visible, l.blend_mode, l.offset) for l in doc.walk()]
    assert np.abs(flatten(back).astype(int) - flatten(doc)).max() <= TOLERANCE


def test_krita_flattens_our_psd_like_we_do(tmp_path, krita_home):
    doc = modes_document(group_opacity=1.0)
    save_psd(doc, tmp_path / "ours.psd")
    krita_export(tmp_path / "ours.psd", tmp_path / "krita.png", krita_home)
    diff = np.abs(load_image(tmp_path / "krita.png").astype(int) - flatten(doc))
    assert diff.max() <= TOLERANCE, f"max diff {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"


# ----------------------------------------------------------- Photoshop modes, clipping, fill layers
#: the Photoshop modes with one formula everywhere (dissolve's noise is each program's own)
PHOTOSHOP_MODES = ["divide", "subtract", "linear-burn", "vivid-light", "linear-light", "pin-light", "hard-mix"]
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "psd"


def photoshop_modes_document(modes) -> Document:
    doc = Document(32 * len(modes), 32)
    doc.add_layer(RasterLayer("backdrop", gradient(32, 32 * len(modes))))
    for i, mode in enumerate(modes):
        doc.add_layer(RasterLayer(mode, blob(32, 32, (40 + i * 20, 200 - i * 15, 120)), offset=(32 * i, 0),
                                  blend_mode=mode))
    return doc


def clipping_document() -> Document:
    """A base covering the left half, two layers clipped to it (normal, and multiply
    at 60%): the base at full opacity in normal mode, as other programs can show."""
    doc = Document(64, 32)
    doc.add_layer(RasterLayer("backdrop", gradient(32, 64)))
    base = np.zeros((32, 64, 4), np.uint8)
    base[:, :32] = (0, 0, 255, 255)
    doc.add_layer(RasterLayer("base", base))
    doc.add_layer(RasterLayer("clip", blob(32, 64, (255, 0, 0)), clipped=True))
    doc.add_layer(RasterLayer("clip2", blob(32, 64, (0, 255, 0)), clipped=True, blend_mode="multiply", opacity=0.6))
    return doc


def _visible(rgba: np.ndarray) -> np.ndarray:
    """RGBA with the colour of fully transparent pixels zeroed (it shows nowhere)."""
    out = rgba.astype(int)
    out[out[..., 3] == 0] = 0
    return out


def _krita_diff(doc, tmp_path, krita_home, ext):
    """Krita's flattening of ``doc`` saved as ``ext``, and its difference from ours."""
    path = tmp_path / f"ours.{ext}"
    (save_ora if ext == "ora" else save_psd)(doc, path)
    krita_export(path, tmp_path / "krita.png", krita_home)
    theirs = _visible(load_image(tmp_path / "krita.png"))
    return theirs, np.abs(theirs - _visible(flatten(doc)))


@pytest.mark.parametrize("ext", ["ora", "psd"])
def test_krita_draws_the_photoshop_modes_like_we_do(tmp_path, krita_home, ext):
    # in .ora they travel under Krita's own names (krita:divide, ...)
    _, diff = _krita_diff(photoshop_modes_document(PHOTOSHOP_MODES), tmp_path, krita_home, ext)
    assert diff.max() <= TOLERANCE, f"max diff {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"


@pytest.mark.parametrize("ext", ["ora", "psd"])
def test_krita_darker_and_lighter_colour_differ_only_on_near_ties(tmp_path, krita_home, ext):
    # Krita weighs luma 0.299/0.587/0.114 where Photoshop (and we, matching its
    # merged images in the corpus) use 0.3/0.59/0.11: pixels whose two colours are
    # almost equally light pick the other colour there (1 pixel of 2048 here).
    _, diff = _krita_diff(photoshop_modes_document(["darker-color", "lighter-color"]), tmp_path, krita_home, ext)
    off = diff.max(axis=2) > TOLERANCE
    assert off.mean() < 0.002, off.sum()


def test_krita_draws_our_ora_clipping_like_we_do(tmp_path, krita_home):
    # Krita ignores layerbrush:clipped but gets the clipped layers cut to the base
    _, diff = _krita_diff(clipping_document(), tmp_path, krita_home, "ora")
    assert diff.max() <= TOLERANCE


def test_krita_ignores_psd_clipping(tmp_path, krita_home):
    # Krita 5.1.5 reads a PSD's clipped layers as ordinary layers: its render is ours
    # with clipping switched off (the file itself is right: we and psd-tools read
    # the clipping back, see test_psd.py)
    doc = clipping_document()
    theirs, diff = _krita_diff(doc, tmp_path, krita_home, "psd")
    assert diff.max() > 100
    for layer in doc.layers:
        layer.clipped = False
    assert np.abs(theirs - _visible(flatten(doc))).max() <= TOLERANCE


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PSD corpus not present")
@pytest.mark.parametrize("name", ["layers/solid-color-fill.psd", "gradient-fill.psb", "layers/pattern-fill.psb",
                                  "layers/shape-layer.psd"])
@pytest.mark.parametrize("ext", ["ora", "psd"])
def test_krita_draws_converted_fill_and_shape_layers_like_we_do(tmp_path, krita_home, name, ext):
    from editor.io.psd import load_psd

    doc = load_psd(CORPUS / name)
    _, diff = _krita_diff(doc, tmp_path, krita_home, ext)
    assert diff.max() <= TOLERANCE, f"max diff {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"
