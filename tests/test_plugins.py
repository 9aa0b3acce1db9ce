"""The plugin API and loader (editor.plugins) and the first-party plugins, headless."""
from __future__ import annotations

import io
import json
import logging
import textwrap
import zipfile
from importlib.metadata import EntryPoint

import numpy as np
import pytest
from PIL import Image

from editor import api
from editor.core.errors import LayerLockedError
from editor.plugins import (
    ENTRY_POINT_GROUP,
    Param,
    PluginContext,
    PluginError,
    apply_filter,
    installed_plugins,
    layer_image,
    load_plugins,
    run_exporter,
    run_filter,
)
from plugins import filters as F


def rng_rgba(h=24, w=32, seed=0, opaque=False):
    rgba = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    if opaque:
        rgba[..., 3] = 255
    return rgba


# --------------------------------------------------------------------- declarations
def test_param_kinds_and_checks():
    assert Param("radius", 2.0, minimum=0, maximum=10).check(3) == 3.0
    assert isinstance(Param("n", 4, minimum=1).check(5.0), int)
    assert Param("flag", False).check(True) is True
    assert Param("mode", "a", choices=("a", "b")).check("b") == "b"
    with pytest.raises(ValueError, match="'radius' must be at most 10"):
        Param("radius", 2.0, maximum=10).check(11)
    with pytest.raises(ValueError, match="whole number"):
        Param("n", 4).check(2.5)
    with pytest.raises(ValueError, match="one of"):
        Param("mode", "a", choices=("a", "b")).check("c")
    with pytest.raises(ValueError, match="true or false"):
        Param("flag", False).check(1)
    with pytest.raises(ValueError, match="finite"):
        Param("x", 1.0).check(float("nan"))
    with pytest.raises(ValueError, match="choices"):
        Param("mode", "a")
    with pytest.raises(ValueError, match="identifier"):
        Param("two words", 1)
    with pytest.raises(ValueError, match="at least"):
        Param("n", 0, minimum=1)


def test_context_validates_registrations():
    ctx = PluginContext("demo")
    filt = ctx.add_filter("My filter", lambda rgba: rgba, params=[Param("k", 1)])
    assert filt.id == "demo:my-filter" and filt.plugin == "demo"
    assert filt.resolve({"k": 3}) == {"k": 3} and filt.resolve() == {"k": 1}
    with pytest.raises(ValueError, match="no parameter 'j'"):
        filt.resolve({"j": 1})
    with pytest.raises(ValueError, match="twice"):
        ctx.add_filter("My filter", lambda rgba: rgba)
    with pytest.raises(ValueError, match="callable"):
        ctx.add_filter("Other", 42)
    with pytest.raises(ValueError, match="share a name"):
        ctx.add_filter("Third", lambda rgba, k=1: rgba, params=[Param("k", 1), Param("k", 2)])
    assert ctx.add_exporter("Thing", lambda d, p: None, extension="TXT").extension == ".txt"
    with pytest.raises(ValueError, match="extension"):
        ctx.add_exporter("Bad", lambda d, p: None, extension="../x")
    with pytest.raises(ValueError, match="size must be"):
        ctx.add_brush_preset("Huge", size=5000)


# --------------------------------------------------------------------- loading
class FakeEntryPoint:
    """An entry point whose load() returns a given object or raises."""

    def __init__(self, name, obj=None, error=None):
        self.name, self.value, self._obj, self._error = name, f"fake_{name}:register", obj, error

    def load(self):
        if self._error:
            raise self._error
        return self._obj


def _good(context):
    context.add_filter("Good filter", F.invert_colours)


def test_first_party_plugins_come_through_entry_points():
    from importlib.metadata import entry_points

    values = {ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"plugins.filters:register", "plugins.exporters:register", "plugins.brush_presets:register"} <= values
    plugins = installed_plugins()
    assert not plugins.failures, plugins.failures
    names = {f.name for f in plugins.filters.values()}
    assert {"Gaussian blur", "Invert colours", "Desaturate"} <= names
    assert {e.name for e in plugins.exporters.values()} >= {"Layers as ZIP of PNGs", "Sprite sheet (PNG)"}
    assert plugins.brush_presets


def test_broken_plugins_are_skipped_with_a_warning(tmp_path, monkeypatch, caplog):
    module = tmp_path / "lb_test_broken_plugin.py"
    module.write_text(textwrap.dedent("""
        def register(context):
            context.add_filter("Half registered", lambda rgba: rgba)
            raise RuntimeError("boom while registering")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        EntryPoint("missing", "lb_no_such_module_anywhere:register", ENTRY_POINT_GROUP),
        EntryPoint("raises", "lb_test_broken_plugin:register", ENTRY_POINT_GROUP),
        FakeEntryPoint("not-callable", obj=42),
        FakeEntryPoint("good", obj=_good),
        FakeEntryPoint("good", obj=_good),  # a second plugin under a taken name
    ]
    with caplog.at_level(logging.WARNING, logger="editor.plugins"):
        plugins = load_plugins(eps)
    assert plugins.loaded == ["good"]
    assert [f.name for f in plugins.filters.values()] == ["Good filter"]  # nothing of "raises" kept
    failed = {f.plugin: f.error for f in plugins.failures}
    assert set(failed) == {"missing", "raises", "not-callable", "good"}
    assert "ModuleNotFoundError" in failed["missing"] and "lb_no_such_module_anywhere" in failed["missing"]
    assert failed["raises"] == "RuntimeError: boom while registering"
    assert "not a function" in failed["not-callable"]
    text = caplog.text
    for name in ("'missing'", "'raises'", "'not-callable'", "boom while registering"):
        assert name in text


def test_third_party_distribution_is_discovered(tmp_path, monkeypatch):
    """A plugin installed as its own distribution (a dist-info folder on sys.path) is
    found through the entry point group, next to the first-party ones."""
    (tmp_path / "lb_thirdparty.py").write_text(textwrap.dedent("""
        from editor.plugins import Param

        def register(context):
            context.add_filter("Solarize", lambda rgba, threshold=128: rgba,
                               params=[Param("threshold", 128, minimum=0, maximum=255)])
    """))
    info = tmp_path / "lb_thirdparty-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lb-thirdparty\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nsolarize = lb_thirdparty:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins()
    assert "solarize" in plugins.loaded and "filters" in plugins.loaded
    assert plugins.filter("Solarize").params[0].maximum == 255


# --------------------------------------------------------------------- filters
def test_invert_and_desaturate():
    rgba = rng_rgba()
    inv = F.invert_colours(rgba)
    assert np.array_equal(inv[..., :3], 255 - rgba[..., :3]) and np.array_equal(inv[..., 3], rgba[..., 3])
    assert np.array_equal(F.invert_colours(inv), rgba)
    green = np.array([[[0, 255, 0, 77]]], np.uint8)
    assert F.desaturate(green, "luma")[0, 0].tolist() == [182, 182, 182, 77]
    assert F.desaturate(green, "average")[0, 0].tolist() == [85, 85, 85, 77]
    assert F.desaturate(green, "lightness")[0, 0].tolist() == [128, 128, 128, 77]
    grey = F.desaturate(rgba)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


def test_gaussian_blur_spreads_like_a_gaussian():
    flat = np.full((20, 20, 4), (10, 200, 30, 255), np.uint8)
    assert np.array_equal(F.gaussian_blur(flat, 6.0), flat)  # edges clamp: a flat layer stays flat
    for radius in (4.0, 40.0):  # exact kernel and the three-box approximation
        size = 241
        impulse = np.zeros((size, size, 4), np.float32)
        impulse[size // 2, size // 2] = 1.0
        out = F.blur_premultiplied(impulse, radius / 2)[..., 0]
        assert out.sum() == pytest.approx(1.0, rel=1e-3)
        xs = np.arange(size) - size // 2
        var_x = (out.sum(axis=0) * xs**2).sum()
        assert var_x == pytest.approx((radius / 2) ** 2, rel=0.05)


def test_blur_keeps_the_colour_of_a_dot_on_transparency():
    dot = np.zeros((15, 15, 4), np.uint8)
    dot[7, 7] = (255, 0, 0, 255)
    out = F.gaussian_blur(dot, 3.0)
    seen = out[..., 3] > 0
    assert seen.sum() > 9 and out[7, 7, 3] < 255
    assert (out[seen][:, 0] == 255).all() and (out[seen][:, 1:3] == 0).all()  # no dark fringe


def test_pixelate_and_sharpen():
    rgba = rng_rgba(20, 30, opaque=True)
    px = F.pixelate(rgba, 8)
    assert (px[:8, :8] == px[0, 0]).all() and (px[16:, 24:] == px[16, 24]).all()
    assert np.allclose(px[:8, :8, :3].astype(float).mean((0, 1)), rgba[:8, :8, :3].mean((0, 1)), atol=1)
    assert np.array_equal(F.pixelate(rgba, 1), rgba)
    edge = np.zeros((10, 20, 4), np.uint8)
    edge[..., 3] = 255
    edge[:, 10:, :3] = 200
    edge[:, :10, :3] = 50
    sharp = F.sharpen(edge, 2.0, 1.0)
    assert sharp[5, 9, 0] < 50 and sharp[5, 10, 0] > 200 and sharp[5, 0, 0] == 50
    assert np.array_equal(F.sharpen(edge, 2.0, 0.0), edge)


# --------------------------------------------------------------------- applying
@pytest.fixture
def doc():
    d = api.new_document(40, 30)
    d.add_raster_layer("bg", np.full((30, 40, 4), (200, 100, 50, 255), np.uint8))
    return d


def _filter(name="Invert colours"):
    return installed_plugins().filter(name)


def test_apply_filter_is_one_undo_step(doc):
    layer = doc.layers[0]
    before = layer.pixels.copy()
    steps = doc.core.history.index
    changed = apply_filter(doc, layer, _filter())
    assert tuple(changed) == (0, 0, 40, 30)
    assert (layer.pixels[..., :3] == 255 - before[..., :3]).all()
    assert doc.core.history.index == steps + 1 and doc.core.history.labels[-1] == "Invert colours"
    doc.core.history.undo()
    assert np.array_equal(layer.pixels, before)


def test_apply_filter_respects_the_selection(doc):
    layer = doc.layers[0]
    layer.offset = (5, 0)  # layer-local and document coordinates differ
    before = layer.pixels.copy()
    sel = np.zeros((30, 40), np.uint8)
    sel[10:20, 10:20] = 255
    sel[10:20, 20] = 128  # half-selected column blends halfway
    doc.core.selection = sel
    changed = apply_filter(doc, layer, _filter())
    assert tuple(changed) == (5, 10, 11, 10)  # layer-local: document x 10..21 minus offset 5
    inside = layer.pixels[10:20, 5:15]
    assert (inside[..., 0] == 55).all()
    assert (layer.pixels[10:20, 15, 0] == 127).all()  # round((200 * 127 + 55 * 128) / 255)
    untouched = np.ones((30, 40), bool)
    untouched[10:20, 5:16] = False
    assert np.array_equal(layer.pixels[untouched], before[untouched])
    doc.core.selection = np.zeros((30, 40), np.uint8)
    assert apply_filter(doc, layer, _filter()).is_empty  # an empty selection changes nothing


@pytest.mark.parametrize("radius", [4.0, 30.0])  # exact kernel and three-box path
def test_blur_in_a_selection_matches_blurring_the_whole_layer(radius):
    d = api.new_document(160, 120)
    rgba = rng_rgba(120, 160, seed=3)
    layer = d.add_raster_layer("noise", rgba)
    sel = np.zeros((120, 160), np.uint8)
    sel[50:70, 60:90] = 255
    d.core.selection = sel
    apply_filter(d, layer, _filter("Gaussian blur"), {"radius": radius})
    expected = F.gaussian_blur(rgba, radius)[50:70, 60:90]
    assert np.abs(layer.pixels[50:70, 60:90].astype(int) - expected).max() <= 1
    assert np.array_equal(layer.pixels[:50], rgba[:50])


def test_declared_reach_limits_what_the_filter_sees(doc):
    seen = []
    ctx = PluginContext("probe")

    def record(rgba, margin=2):
        seen.append(rgba.shape)
        return rgba

    filt = ctx.add_filter("Record", record, params=[Param("margin", 2)], reach=lambda margin: margin)
    whole = ctx.add_filter("Whole", record)
    layer = doc.layers[0]
    sel = np.zeros((30, 40), np.uint8)
    sel[10:15, 0:8] = 255
    doc.core.selection = sel
    apply_filter(doc, layer, filt, {"margin": 3})
    apply_filter(doc, layer, whole)
    assert seen == [(11, 11, 4), (30, 40, 4)]  # rows 7..18, cols 0..11 (clipped at the layer edge)
    with pytest.raises(ValueError, match="reach must be"):
        ctx.add_filter("Bad reach", record, reach=-1)
    bad = ctx.add_filter("Negative at run time", record, reach=lambda: -5)
    with pytest.raises(PluginError, match="bad reach -5"):
        apply_filter(doc, layer, bad)


def test_apply_filter_on_a_mask(doc):
    layer = doc.layers[0]
    mask = np.zeros((30, 40), np.uint8)
    mask[:, 20:] = 255
    doc.core.add_mask(layer)
    doc.core.set_pixels(layer, (0, 0, 40, 30), mask, target="mask")
    apply_filter(doc, layer, _filter("Gaussian blur"), {"radius": 6.0}, target="mask")
    row = layer.mask[15]
    assert row[0] == 0 and row[-1] == 255 and 0 < row[19] < 255 and 0 < row[20] < 255
    assert doc.core.history.labels[-1] == "Gaussian blur (mask)"


def test_apply_filter_refuses_bad_targets_and_bad_plugins(doc):
    layer = doc.layers[0]
    group = doc.add_group("g")
    with pytest.raises(ValueError, match="'g' is a group"):
        apply_filter(doc, group, _filter())
    with pytest.raises(ValueError, match="has no mask"):
        apply_filter(doc, layer, _filter(), target="mask")
    with pytest.raises(ValueError, match="'radius' must be at most"):
        apply_filter(doc, layer, _filter("Gaussian blur"), {"radius": 1e6})
    layer.locked = True
    with pytest.raises(LayerLockedError):
        apply_filter(doc, layer, _filter())
    layer.locked = False

    ctx = PluginContext("buggy")
    wrong_shape = ctx.add_filter("Crop", lambda rgba: rgba[:5])
    crashes = ctx.add_filter("Crash", lambda rgba: 1 / 0)
    steps, before = doc.core.history.index, layer.pixels.copy()
    with pytest.raises(PluginError, match=r"filter 'Crop' \(plugin 'buggy'\) returned uint8 \(5, 40, 4\)"):
        apply_filter(doc, layer, wrong_shape)
    with pytest.raises(PluginError, match="'Crash'.*ZeroDivisionError"):
        apply_filter(doc, layer, crashes)
    assert doc.core.history.index == steps and np.array_equal(layer.pixels, before)


def test_run_filter_gives_the_plugin_its_own_copy():
    ctx = PluginContext("p")
    filt = ctx.add_filter("Zero in place", lambda rgba: (rgba.fill(0), rgba)[1])
    rgba = rng_rgba()
    original = rgba.copy()
    assert not run_filter(filt, rgba).any()
    assert np.array_equal(rgba, original)


# --------------------------------------------------------------------- exporters
def _two_layer_doc():
    d = api.new_document(16, 8)
    d.add_raster_layer("back", np.full((8, 16, 4), (0, 0, 255, 255), np.uint8))
    g = d.add_group("grp")
    red = g.add_raster_layer("red/dot", np.full((4, 4, 4), (255, 0, 0, 255), np.uint8), offset=(2, 2))
    red.opacity = 0.5
    return d


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_zip_exporter(tmp_path):
    d = _two_layer_doc()
    out = run_exporter(installed_plugins().exporter("Layers as ZIP of PNGs"), d, tmp_path / "layers")
    assert out == tmp_path / "layers.zip"
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["000_back.png", "001_red_dot.png", "layers.json"]
        manifest = json.loads(zf.read("layers.json"))
        red = _png(zf.read("001_red_dot.png"))
    assert manifest["layers"][1] == {"file": "001_red_dot.png", "name": "red/dot", "group": "grp",
                                     "visible": True, "opacity": 0.5, "blend_mode": "normal"}
    assert red.shape == (8, 16, 4) and red[3, 3].tolist() == [255, 0, 0, 128] and red[0, 0, 3] == 0
    assert np.array_equal(red, layer_image(d, d.walk()[1]))
    assert [p.name for p in tmp_path.iterdir()] == ["layers.zip"]  # no temporary file left


def test_sprite_sheet_exporter(tmp_path):
    d = _two_layer_doc()
    d.add_raster_layer("hidden", np.full((8, 16, 4), 255, np.uint8)).visible = False
    out = run_exporter(installed_plugins().exporter("Sprite sheet (PNG)"), d, tmp_path / "sheet.png")
    sheet = np.asarray(Image.open(out).convert("RGBA"))
    assert sheet.shape == (8, 32, 4)  # two visible frames side by side; the hidden layer is left out
    assert sheet[0, 0].tolist() == [0, 0, 255, 255]
    assert sheet[3, 16 + 3].tolist() == [255, 0, 0, 128] and sheet[0, 16, 3] == 0
    from plugins.exporters import sprite_sheet_layout

    assert sprite_sheet_layout(5, 10, 10) == (3, 2)
    with pytest.raises(ValueError, match="over the"):
        sprite_sheet_layout(100, 10000, 10000)


def test_failing_exporter_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    ctx = PluginContext("bad")

    def half_then_fail(document, path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    exporter = ctx.add_exporter("Bad", half_then_fail, extension=".png")
    with pytest.raises(PluginError, match=r"exporter 'Bad' \(plugin 'bad'\).*disk full"):
        run_exporter(exporter, _two_layer_doc(), target)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    empty = PluginContext("lazy").add_exporter("Nothing", lambda d, p: None, extension=".png")
    with pytest.raises(PluginError, match="wrote nothing"):
        run_exporter(empty, _two_layer_doc(), target)
    with pytest.raises(PluginError, match="no visible top-level layers"):
        run_exporter(installed_plugins().exporter("Sprite sheet (PNG)"), api.new_document(4, 4), target)
    assert target.read_bytes() == b"precious"
