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
    result = subprocess.run(
        ["xvfb-run", "-a", "krita", str(src), "--export", "--export-filename", str(dst)],
        env=env, capture_output=True, text=True, timeout=240,
    )
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
