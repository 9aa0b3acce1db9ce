"""Flat image import/export and per-layer export."""

from __future__ import annotations

import io

import numpy as np
import pytest
from io_samples import blob, gradient
from PIL import Image

from editor.io.errors import FileFormatError
from editor.io.flatten import flatten
from editor.io.project import export_image, export_layers, open_document, save_document
from editor.io.raster import load_image, save_image


@pytest.mark.parametrize("ext, tol", [(".png", 0), (".tif", 0), (".tiff", 0), (".webp", 8), (".jpg", 12)])
def test_save_and_load_formats(tmp_path, ext, tol):
    img = gradient(40, 60)
    save_image(img, tmp_path / f"a{ext}")
    back = load_image(tmp_path / f"a{ext}")
    assert back.shape == (40, 60, 4) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - img).max() <= tol


def test_alpha_survives_png_tiff_webp(tmp_path):
    img = blob(30, 30, (200, 10, 10))
    for ext in (".png", ".tif", ".webp"):
        save_image(img, tmp_path / f"a{ext}")
        assert np.abs(load_image(tmp_path / f"a{ext}")[..., 3].astype(int) - img[..., 3]).max() <= 2


def test_jpeg_flattens_transparency_on_white(tmp_path):
    img = np.zeros((16, 16, 4), np.uint8)  # fully transparent black
    save_image(img, tmp_path / "a.jpg")
    back = load_image(tmp_path / "a.jpg")
    assert back[..., :3].min() >= 250 and (back[..., 3] == 255).all()


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGB", "I;16", "CMYK"])
def test_loads_other_pixel_modes(tmp_path, mode):
    base = Image.fromarray(gradient(10, 12)).convert("RGB")
    img = base.convert(mode) if mode != "I;16" else Image.fromarray(
        np.arange(120, dtype=np.uint16).reshape(10, 12) * 500)
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "I;16" else "PNG"
    buf = io.BytesIO()
    img.save(buf, fmt)
    p = tmp_path / f"m.{fmt.lower()}"
    p.write_bytes(buf.getvalue())
    out = load_image(p)
    assert out.shape == (10, 12, 4) and (out[..., 3] == 255).all()
    if mode == "I;16":
        assert out[0, 0, 0] == 0 and out[-1, -1, 0] > 200  # scaled, not clipped


def test_palette_transparency(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.putpixel((1, 1), 1)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png")
    assert out[0, 0, 3] == 0 and tuple(out[1, 1]) == (0, 255, 0, 255)


def test_open_flat_image_as_document(tmp_path):
    save_image(gradient(20, 30), tmp_path / "photo.png")
    doc = open_document(tmp_path / "photo.png")
    assert doc.size == (30, 20) and len(doc.layers) == 1
    assert doc.layers[0].name == "photo" and doc.active_layer is doc.layers[0]
    assert len(doc.history.labels) == 0


def test_export_flat(tmp_path, doc):
    for ext in (".png", ".jpg", ".webp", ".tif"):
        export_image(doc, tmp_path / f"flat{ext}")
        assert load_image(tmp_path / f"flat{ext}").shape == (doc.height, doc.width, 4)
    assert np.array_equal(load_image(tmp_path / "flat.png"), flatten(doc))
    save_document(doc, tmp_path / "flat2.png")
    assert np.array_equal(load_image(tmp_path / "flat2.png"), flatten(doc))


def test_export_layers(tmp_path, doc):
    paths = export_layers(doc, tmp_path / "out")
    rasters = [l for l in doc.walk() if hasattr(l, "pixels")]
    assert len(paths) == len(rasters)
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    assert paths[0].name == "000_background.png"
    for path, layer in zip(paths, rasters):
        img = load_image(path)
        assert img.shape == (doc.height, doc.width, 4)
    # an offset layer sits at its offset; the part outside the canvas is cut
    blob_layer = rasters[1]
    img = load_image(paths[1])
    x, y = blob_layer.offset
    inside = blob_layer.pixels[:, -x:]
    expected_alpha = np.rint(inside[..., 3] * blob_layer.opacity).astype(np.uint8)
    assert np.abs(img[y : y + inside.shape[0], : inside.shape[1], 3].astype(int) - expected_alpha).max() <= 1


def test_export_layer_names_are_safe(tmp_path):
    from editor.core.document import Document
    from editor.core.layers import RasterLayer

    d = Document(4, 4)
    d.add_layer(RasterLayer("../../evil/name:*?", gradient(4, 4)))
    (path,) = export_layers(d, tmp_path / "o")
    assert path.parent == tmp_path / "o" and "/" not in path.name and ".." not in path.name


def test_unsupported_extension(tmp_path, doc):
    with pytest.raises(FileFormatError, match=r"\.bmp"):
        save_document(doc, tmp_path / "a.bmp")
    with pytest.raises(FileFormatError, match=r"\.gif"):
        save_image(gradient(2, 2), tmp_path / "a.gif")


def _whole_image_rgba(img: Image.Image) -> np.ndarray:
    """What the reader returned before it converted in bands (the reference)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    return np.array(img.convert("RGBA"), dtype=np.uint8)


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "P", "PT", "1", "I;16", "I", "F", "CMYK"])
def test_band_conversion_matches_a_whole_image_convert(monkeypatch, mode):
    import editor.io.raster as raster

    rng = np.random.default_rng(5)
    base = Image.fromarray(rng.integers(0, 256, (37, 29, 4), dtype=np.uint8), "RGBA")
    if mode == "PT":
        img = base.convert("RGB").convert("P")
        img.info["transparency"] = 3
    elif mode in ("I;16", "I"):
        img = Image.fromarray(rng.integers(0, 65535, (37, 29), dtype=np.uint16)).convert(mode)
    elif mode == "F":
        img = Image.fromarray(rng.random((37, 29), dtype=np.float32) * 300, "F")
    else:
        img = base.convert(mode)
    monkeypatch.setattr(raster, "BAND_BYTES", 29 * 4 * 5)  # five rows a band: several bands and a short last one
    assert np.array_equal(raster._to_array(img, 4), _whole_image_rgba(img)), mode
    grey = raster._to_array(img, 1)
    assert grey.shape == (37, 29) and grey.dtype == np.uint8


def test_png_size_reads_the_header_only():
    from editor.io.raster import encode_png, png_size

    data = encode_png(np.zeros((7, 11, 4), np.uint8))
    assert png_size(data[:24]) == (11, 7)
    assert png_size(b"GIF89a" + data[6:24]) is None and png_size(data[:20]) is None
