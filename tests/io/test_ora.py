"""OpenRaster round trips, archive layout, and files written by other programs."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.core.layers import BrushLayer, GeneratedLayer, GroupLayer, RasterLayer
from editor.io.flatten import flatten
from editor.io.ora import load_ora, save_ora
from editor.io.project import open_document
from editor.io.raster import decode, load_image

from io_samples import blob, gradient, rich_document

DATA = Path(__file__).parent / "data"


def _props(layer):
    out = dict(
        cls=type(layer).__name__, id=layer.id, name=layer.name, visible=layer.visible, opacity=layer.opacity,
        blend_mode=layer.blend_mode, locked=layer.locked, offset=layer.offset,
        mask_enabled=layer.mask_enabled, mask_inverted=layer.mask_inverted,
        mask=None if layer.mask is None else layer.mask.tobytes(),
    )
    if isinstance(layer, GroupLayer):
        out.update(isolated=layer.isolated, children=[c.id for c in layer.children])
    if isinstance(layer, RasterLayer):
        out.update(pixels=layer.pixels.tobytes(), shape=layer.pixels.shape)
    if isinstance(layer, (BrushLayer, GeneratedLayer)):
        out.update(params=layer.params, state=layer.state, error=layer.error)
    if isinstance(layer, BrushLayer):
        out.update(region=None if layer.region is None else layer.region.tobytes())
    return out


def test_round_trip_keeps_every_property(doc, tmp_path):
    path = tmp_path / "a.ora"
    save_ora(doc, path)
    back = load_ora(path)
    assert (back.width, back.height) == (doc.width, doc.height)
    assert [_props(l) for l in back.walk()] == [_props(l) for l in doc.walk()]
    assert [l.id for l in back.layers] == [l.id for l in doc.layers]
    assert back.active_layer.id == doc.active_layer.id
    assert np.array_equal(back.selection, doc.selection)
    assert back.metadata["author"] == "tests"
    assert np.array_equal(flatten(back), flatten(doc))


def test_round_trip_twice_is_stable(doc, tmp_path):
    save_ora(doc, tmp_path / "1.ora")
    save_ora(load_ora(tmp_path / "1.ora"), tmp_path / "2.ora")
    again = load_ora(tmp_path / "2.ora")
    assert [_props(l) for l in again.walk()] == [_props(l) for l in doc.walk()]


def test_archive_layout_follows_the_spec(doc, tmp_path):
    path = tmp_path / "a.ora"
    save_ora(doc, path)
    with zipfile.ZipFile(path) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        # the mimetype must be readable at a fixed offset, with no extra field
        raw = path.read_bytes()
        assert raw[30:38] == b"mimetype" and raw[38:54] == b"image/openraster"
        names = z.namelist()
        assert "stack.xml" in names and "mergedimage.png" in names
        assert "Thumbnails/thumbnail.png" in names
        merged = decode(z.read("mergedimage.png"))
        assert np.array_equal(merged, flatten(doc))
        stack = z.read("stack.xml").decode()
        assert 'composite-op="svg:multiply"' in stack and 'visibility="hidden"' in stack
        assert 'isolation="auto"' in stack and 'isolation="isolate"' in stack
        assert 'selected="true"' in stack and 'edit-locked="true"' in stack
        assert all(n.startswith(("data/", "layerbrush/")) or n in
                   ("mimetype", "stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png") for n in names)


def test_thumbnail_is_at_most_256_pixels(tmp_path):
    from editor.core.document import Document

    d = Document(600, 300)
    d.add_layer(RasterLayer("g", gradient(300, 600)))
    save_ora(d, tmp_path / "big.ora")
    with zipfile.ZipFile(tmp_path / "big.ora") as z:
        thumb = Image.open(io.BytesIO(z.read("Thumbnails/thumbnail.png")))
        assert thumb.size == (256, 128)


def test_masked_layer_data_png_holds_the_masked_pixels(doc, tmp_path):
    """Other programs can't read masks: data/*.png has the mask applied so their
    composite matches; the unmasked original lives under layerbrush/."""
    masked = next(l for l in doc.walk() if l.name == "masked")
    save_ora(doc, tmp_path / "a.ora")
    with zipfile.ZipFile(tmp_path / "a.ora") as z:
        side = json.loads(z.read("layerbrush/layers.json"))
        meta = side["layers"][masked.id]
        assert meta["mask"]["enabled"] is True
        original = decode(z.read(meta["unmasked"]["src"]))
        assert np.array_equal(original, masked.pixels)
        stack = z.read("stack.xml").decode()
        src = stack.split('name="masked"')[1].split('src="')[1].split('"')[0]
        baked = decode(z.read(src))
        expected_alpha = (masked.pixels[..., 3].astype(int) * masked.mask + 127) // 255
        assert np.array_equal(baked[..., 3], expected_alpha.astype(np.uint8))
        assert np.array_equal(baked[..., :3], masked.pixels[..., :3])
        # a disabled mask changes nothing, so no baked copy is needed
        off = next(l for l in doc.walk() if l.name.startswith("mask off"))
        assert "unmasked" not in side["layers"][off.id]


def test_other_program_editing_a_masked_layer_drops_the_mask(doc, tmp_path):
    masked = next(l for l in doc.walk() if l.name == "masked")
    save_ora(doc, tmp_path / "a.ora")
    edited = tmp_path / "edited.ora"
    with zipfile.ZipFile(tmp_path / "a.ora") as zin, zipfile.ZipFile(edited, "w") as zout:
        stack = zin.read("stack.xml").decode()
        src = stack.split('name="masked"')[1].split('src="')[1].split('"')[0]
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == src:
                buf = io.BytesIO()
                Image.fromarray(blob(32, 32, (1, 2, 3))).save(buf, "PNG")
                data = buf.getvalue()
            zout.writestr(info, data)
    warnings: list[str] = []
    back = load_ora(edited, warnings)
    layer = back.find(masked.id)
    assert layer.mask is None
    assert np.array_equal(layer.pixels, blob(32, 32, (1, 2, 3)))
    assert any("masked" in w and "another program" in w for w in warnings)


def test_rendering_state_reopens_stale(doc, tmp_path):
    brush = next(l for l in doc.walk() if isinstance(l, BrushLayer))
    brush.state = "rendering"
    save_ora(doc, tmp_path / "a.ora")
    assert load_ora(tmp_path / "a.ora").find(brush.id).state == "stale"


def _foreign_ora(path: Path, stack: str, files: dict[str, np.ndarray], mimetype: bool = True) -> None:
    with zipfile.ZipFile(path, "w") as z:
        if mimetype:
            z.writestr(zipfile.ZipInfo("mimetype"), b"image/openraster")
        z.writestr("stack.xml", stack)
        for name, arr in files.items():
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, "PNG")
            z.writestr(name, buf.getvalue())


def test_opens_mypaint_style_file(tmp_path):
    """Nested stacks with offsets, selected, hidden layers, composite ops, extra
    elements and attributes, no thumbnail, no merged image, no layerbrush data."""
    stack = """<?xml version='1.0' encoding='UTF-8'?>
<image h="40" w="50" version="0.0.5" xres="72" yres="72">
  <stack isolation="isolate" name="root">
    <layer name="top" src="data/top.png" x="30" y="20" composite-op="svg:screen" opacity="0.5"
           selected="true" mypaint_strokemap_v2="data/x.dat"/>
    <stack name="grp" x="5" y="6" opacity="0.8" isolation="auto">
      <layer name="inner" src="data/inner.png" x="1" y="2" visibility="hidden"/>
      <layer name="weird" src="data/inner.png" composite-op="krita:unknown"/>
    </stack>
    <text>ignored</text>
    <layer name="bg" src="data/bg.png"/>
  </stack>
</image>"""
    files = {"data/top.png": blob(10, 10, (255, 0, 0)), "data/inner.png": blob(8, 8, (0, 255, 0)),
             "data/bg.png": gradient(40, 50)}
    _foreign_ora(tmp_path / "m.ora", stack, files, mimetype=True)
    warnings: list[str] = []
    d = open_document(tmp_path / "m.ora", warnings)
    names = [l.name for l in d.layers]
    assert names == ["bg", "grp", "top"]
    grp = d.layers[1]
    assert isinstance(grp, GroupLayer) and grp.isolated  # auto with opacity < 1 is isolated (spec)
    weird, inner = grp.children
    assert inner.offset == (6, 8) and inner.visible is False  # stack offset folded in
    assert weird.offset == (5, 6) and weird.blend_mode == "normal"
    assert any("krita:unknown" in w for w in warnings)
    top = d.layers[2]
    assert top.blend_mode == "screen" and top.opacity == 0.5 and d.active_layer is top
    assert grp.opacity == pytest.approx(0.8)
    assert flatten(d).shape == (40, 50, 4)


def test_opens_file_without_mimetype_entry(tmp_path):
    stack = '<image w="4" h="4"><stack><layer src="data/a.png" name="a"/></stack></image>'
    _foreign_ora(tmp_path / "n.ora", stack, {"data/a.png": gradient(4, 4)}, mimetype=False)
    d = load_ora(tmp_path / "n.ora")
    assert np.array_equal(d.layers[0].pixels, gradient(4, 4))


def test_pass_through_group_is_written_as_auto_and_read_back(tmp_path):
    from editor.core.document import Document

    d = Document(8, 8)
    g = GroupLayer("g", isolated=False)
    d.add_layer(g)
    d.add_layer(RasterLayer("x", gradient(8, 8)), parent=g)
    save_ora(d, tmp_path / "p.ora")
    assert load_ora(tmp_path / "p.ora").layers[0].isolated is False


def test_opens_file_written_by_krita():
    """tests/io/data/krita_written.ora: Krita 5.1.5 re-saved our rich document
    (no layerbrush data left, Krita's own attribute order and thumbnail)."""
    warnings: list[str] = []
    d = load_ora(DATA / "krita_written.ora", warnings)
    assert warnings == []
    expected = load_image(DATA / "krita_written_expected.png").astype(int)
    assert np.abs(flatten(d).astype(int) - expected).max() <= 2
    names = [l.name for l in d.walk()]
    assert "pass-through" in names and "hidden" in names
    assert d.active_layer.name == "difference edge"
    hidden = next(l for l in d.walk() if l.name == "hidden")
    assert hidden.visible is False and hidden.offset == (30, 20)
    passthrough = next(l for l in d.walk() if l.name == "pass-through")
    assert passthrough.isolated is False


def test_layer_ids_stay_unique_when_a_file_repeats_one(tmp_path):
    stack = ('<image w="4" h="4" xmlns:layerbrush="https://layerbrush.app/ns/1"><stack>'
             '<layer src="data/a.png" layerbrush:id="same"/><layer src="data/a.png" layerbrush:id="same"/>'
             '</stack></image>')
    _foreign_ora(tmp_path / "d.ora", stack, {"data/a.png": gradient(4, 4)})
    d = load_ora(tmp_path / "d.ora")
    assert len({l.id for l in d.walk()}) == 2


def test_content_sniffing_opens_misnamed_ora(doc, tmp_path):
    save_ora(doc, tmp_path / "a.ora")
    (tmp_path / "a.png").write_bytes((tmp_path / "a.ora").read_bytes())
    assert len(list(open_document(tmp_path / "a.png").walk())) == len(list(doc.walk()))


def test_empty_layers_and_empty_document(tmp_path):
    from editor.core.document import Document

    d = Document(8, 8)
    save_ora(d, tmp_path / "none.ora")
    assert load_ora(tmp_path / "none.ora").layers == []
    d.add_layer(RasterLayer("empty"))
    d.add_layer(GroupLayer("empty group"))
    save_ora(d, tmp_path / "e.ora")
    back = load_ora(tmp_path / "e.ora")
    assert back.layers[0].pixels.shape == (0, 0, 4) and back.layers[1].children == []


def test_unsafe_layer_ids_never_reach_archive_names(tmp_path):
    from editor.core.document import Document

    d = Document(4, 4)
    layer = RasterLayer("odd", gradient(4, 4), id="../../etc/x")
    d.add_layer(layer)
    layer.mask = np.full((4, 4), 200, np.uint8)
    save_ora(d, tmp_path / "o.ora")
    with zipfile.ZipFile(tmp_path / "o.ora") as z:
        assert not any(".." in n for n in z.namelist())
    back = load_ora(tmp_path / "o.ora").layers[0]
    assert back.id != layer.id and back.name == "odd"  # written under a fresh, safe id
    assert np.array_equal(back.pixels, layer.pixels)
    assert np.array_equal(back.mask, layer.mask)


def test_opacity_round_trips_exactly(tmp_path):
    from editor.core.document import Document

    d = Document(4, 4)
    d.add_layer(RasterLayer("o", gradient(4, 4), opacity=0.123456789012345))
    save_ora(d, tmp_path / "o.ora")
    assert load_ora(tmp_path / "o.ora").layers[0].opacity == 0.123456789012345


def test_cached_composite_is_used_for_merged_image(doc, tmp_path):
    cached = flatten(doc)
    save_ora(doc, tmp_path / "c.ora", composite=cached)
    with zipfile.ZipFile(tmp_path / "c.ora") as z:
        assert np.array_equal(decode(z.read("mergedimage.png")), cached)


def test_clipping_and_photoshop_modes_round_trip_through_ora(tmp_path):
    import zipfile

    import numpy as np

    from editor.core.blend import BLEND_MODES
    from editor.core.document import Document
    from editor.core.layers import RasterLayer
    from editor.io.flatten import flatten
    from editor.io.ora import load_ora, save_ora

    doc = Document(8, 8)
    base = np.zeros((8, 8, 4), np.uint8)
    base[:, :4] = (0, 0, 255, 255)
    doc.add_layer(RasterLayer("base", base))
    doc.add_layer(RasterLayer("clip", np.full((8, 8, 4), (255, 0, 0, 255), np.uint8), clipped=True,
                              blend_mode="linear-light"))
    save_ora(doc, tmp_path / "c.ora")
    stack = zipfile.ZipFile(tmp_path / "c.ora").read("stack.xml").decode()
    assert 'composite-op="krita:linear light"' in stack and ':clipped="true"' in stack
    # other readers see the clipped layer already cut to its base's shape
    from editor.io.raster import decode

    baked = decode(zipfile.ZipFile(tmp_path / "c.ora").read("data/layer0002.png"), "baked")
    assert (baked[:, :4, 3] == 255).all() and (baked[:, 4:, 3] == 0).all()
    back = load_ora(tmp_path / "c.ora")
    assert [l.clipped for l in back.layers] == [False, True]
    # while we get the whole layer back
    assert (back.layers[1].pixels[..., 3] == 255).all()
    assert back.layers[1].blend_mode == "linear-light"
    assert np.array_equal(flatten(back), flatten(doc))
    assert not flatten(back)[:, 4:].any()
    assert BLEND_MODES["dissolve"] == "krita:dissolve"


def _png(rgba):
    import io as _io

    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def test_mypaint_background_tile_is_tiled_across_the_canvas(tmp_path):
    import zipfile

    import numpy as np

    from editor.io.flatten import flatten
    from editor.io.ora import load_ora

    tile = np.zeros((2, 3, 4), np.uint8)
    tile[..., 3] = 255
    tile[0, 0] = (255, 0, 0, 255)
    tile[1, 2] = (0, 0, 255, 255)
    corner = np.tile(tile, (1, 1, 1))  # the src image covers only the corner
    stack = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<image w="10" h="7" version="0.0.3" xmlns:mypaint="http://mypaint.org/ns/openraster">'
        '<stack><layer name="background" src="data/background.png" x="0" y="0" '
        'mypaint:background-tile="data/background-tile.png" composite-op="svg:src-over"/></stack></image>'
    )
    path = tmp_path / "mypaint.ora"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "image/openraster")
        z.writestr("stack.xml", stack)
        z.writestr("data/background.png", _png(corner))
        z.writestr("data/background-tile.png", _png(tile))
    doc = load_ora(path)
    (layer,) = doc.layers
    assert layer.pixels.shape == (7, 10, 4) and layer.offset == (0, 0)
    out = flatten(doc)
    assert np.array_equal(out, np.tile(tile, (4, 4, 1))[:7, :10])
    # the legacy attribute name is read too
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "image/openraster")
        z.writestr("stack.xml", stack.replace("mypaint:background-tile", "background_tile"))
        z.writestr("data/background.png", _png(corner))
        z.writestr("data/background-tile.png", _png(tile))
    assert np.array_equal(flatten(load_ora(path)), out)


def test_document_lora_list_round_trips_and_a_bad_one_names_the_file(tmp_path):
    from editor.core.document import Document
    from editor.io.errors import FileFormatError

    doc = Document(8, 8)
    doc.set_default_loras([("/loras/ink style.safetensors", 0.75), ("detail.safetensors", -0.5)])
    path = tmp_path / "loras.ora"
    save_ora(doc, path)
    back = load_ora(path)
    assert back.default_loras == (("/loras/ink style.safetensors", 0.75), ("detail.safetensors", -0.5))
    assert not back.history.can_undo  # opening is not an edit

    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    side = json.loads(entries["layerbrush/layers.json"])
    side["document"]["default_loras"] = [["ink.safetensors", "strong"]]
    bad = tmp_path / "bad.ora"
    with zipfile.ZipFile(bad, "w") as z:
        for name, data in entries.items():
            z.writestr(name, json.dumps(side) if name == "layerbrush/layers.json" else data)
    with pytest.raises(FileFormatError, match=r"bad\.ora.*ink\.safetensors must be a number"):
        load_ora(bad)
