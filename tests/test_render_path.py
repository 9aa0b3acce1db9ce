"""The one render path (editor.render_path) shared by the window, the API and the CLI."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from editor import api
from editor.core.compositor import Compositor
from editor.core.profiles import DEMO, SD15
from editor.engine.testing import tiny_model, tiny_model_dir  # noqa: F401  (fixtures)
from editor.render_path import brush_window, build_brush_request


def test_request_holds_only_the_window_on_a_large_canvas():
    doc = api.new_document(4096, 4096)
    doc.add_raster_layer("picture", np.full((4096, 4096, 4), 200, np.uint8))
    region = np.zeros((4096, 4096), np.uint8)
    region[2000:2064, 3000:3064] = 255
    layer = doc.add_brush_layer(region, "a red circle")
    comp = Compositor(doc.core)
    try:
        req = build_brush_request(doc.core, layer, DEMO, comp)
    finally:
        comp.close()
    win = brush_window(doc.core, layer, DEMO)
    assert req.source.shape[:2] == req.region.shape == (win.rect.h, win.rect.w)
    assert win.rect.w <= 256 and req.work_size == (256, 256)  # enlarged to the native size
    assert req.origin == (win.rect.x, win.rect.y)
    assert req.region.sum() == region.sum()  # the whole region is in the window
    assert (layer.params.steps, layer.params.strength) == (DEMO.steps, DEMO.strength)  # profile defaults


def test_brush_layers_never_see_each_other():
    doc = api.new_document(256, 256)
    picture = np.full((256, 256, 4), 120, np.uint8)
    picture[..., 3] = 255
    doc.add_raster_layer("picture", picture)
    region = np.zeros((256, 256), np.uint8)
    region[64:192, 64:192] = 255
    below = doc.add_brush_layer(region, "a red circle")
    below.pixels = np.full((256, 256, 4), 255, np.uint8)  # as if rendered white, fully opaque
    top = doc.add_brush_layer(region, "a blue square")
    comp = Compositor(doc.core)
    try:
        req = build_brush_request(doc.core, top, SD15, comp)
    finally:
        comp.close()
    assert (req.source == 120).all()


FRESH = textwrap.dedent("""
    import sys, numpy as np
    from editor import api
    model = api.load_model(sys.argv[1], "cpu")
    doc = api.open_document(sys.argv[2])
    api.render_layers(doc, model, all_layers=True)
    np.save(sys.argv[3], doc.render())
""")


def test_generated_base_rerenders_identically_after_reopening_in_a_fresh_process(tiny_model, tiny_model_dir,
                                                                                 tmp_path):
    size = 512  # the tiny model's native size: the window is the whole picture at scale 1
    doc = api.new_document(size, size)
    base = doc.add_base_layer(tiny_model, "a red cat", seed=4, steps=4)
    region = np.zeros((size, size), np.uint8)
    region[120:420, 100:400] = 255
    doc.add_brush_layer(region, "a blue dog", seed=2, steps=2, model=tiny_model)
    assert api.render_layers(doc, tiny_model) == 1
    shown = doc.render()
    path = tmp_path / "gen.ora"
    doc.save(path)
    out = tmp_path / "again.npy"
    subprocess.run([sys.executable, "-c", FRESH, str(tiny_model_dir), str(path), str(out)], check=True,
                   timeout=300)
    assert np.array_equal(np.load(out), shown)
    # the generation parameters are what makes it so: without them the picture is re-noised
    reopened = api.open_document(path)
    assert reopened.layers[0].generated_from == base.generated_from
    reopened.layers[0].generated_from = None
    reopened.save(tmp_path / "plain.ora")
    subprocess.run([sys.executable, "-c", FRESH, str(tiny_model_dir), str(tmp_path / "plain.ora"), str(out)],
                   check=True, timeout=300)
    assert not np.array_equal(np.load(out), shown)
