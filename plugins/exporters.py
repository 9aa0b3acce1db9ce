"""Exporters: every layer as a PNG inside one ZIP, and a sprite sheet PNG."""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from editor import api
from editor.plugins import PluginContext, layer_image

MAX_SHEET_SIDE = 30000
MAX_SHEET_PIXELS = 256 * 1024 * 1024


def _png_bytes(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "layer"


def _pixel_layers(document: api.Document) -> list[tuple[str, object]]:
    """(group path, layer) of every non-group layer, bottom -> top."""
    out = []

    def visit(container, prefix: str) -> None:
        for layer in container.layers:
            if isinstance(layer, api.Group):
                visit(layer, f"{prefix}{layer.name}/")
            else:
                out.append((prefix, layer))

    visit(document, "")
    return out


def export_layers_zip(document: api.Document, path: Path) -> None:
    """One document-size PNG per pixel layer (as it looks alone: mask and opacity
    applied), named ``NNN_<name>.png`` bottom to top, plus ``layers.json`` with the
    names, group paths, visibility, opacity and blend modes."""
    layers = _pixel_layers(document)
    if not layers:
        raise ValueError("the document has no pixel layers to export")
    manifest = {"width": document.width, "height": document.height, "layers": []}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for i, (group_path, layer) in enumerate(layers):
            filename = f"{i:03d}_{_safe_name(layer.name)}.png"
            zf.writestr(filename, _png_bytes(layer_image(document, layer)))
            manifest["layers"].append({
                "file": filename, "name": layer.name, "group": group_path.rstrip("/"),
                "visible": bool(layer.visible), "opacity": float(layer.opacity), "blend_mode": layer.blend_mode,
            })
        zf.writestr("layers.json", json.dumps(manifest, indent=2, ensure_ascii=False))


def sprite_sheet_layout(count: int, frame_w: int, frame_h: int) -> tuple[int, int]:
    """(columns, rows) of a near-square grid of ``count`` frames."""
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    width, height = columns * frame_w, rows * frame_h
    if width > MAX_SHEET_SIDE or height > MAX_SHEET_SIDE or width * height > MAX_SHEET_PIXELS:
        raise ValueError(f"a sprite sheet of {count} frames of {frame_w}x{frame_h} would be {width}x{height} "
                         f"pixels, over the {MAX_SHEET_SIDE}-pixel side / 256-Mpx limit")
    return columns, rows


def export_sprite_sheet(document: api.Document, path: Path) -> None:
    """Each visible top-level layer (a group counts as one) is a document-size frame;
    frames run bottom layer first, left to right then top to bottom. Hide a layer
    (a background, say) to leave it out."""
    frames = [layer for layer in document.layers if layer.visible]
    if not frames:
        raise ValueError("no visible top-level layers to put in a sprite sheet")
    w, h = document.width, document.height
    columns, rows = sprite_sheet_layout(len(frames), w, h)
    sheet = np.zeros((rows * h, columns * w, 4), np.uint8)
    for i, layer in enumerate(frames):
        row, col = divmod(i, columns)
        sheet[row * h:(row + 1) * h, col * w:(col + 1) * w] = layer_image(document, layer)
    Path(path).write_bytes(_png_bytes(sheet))


def register(context: PluginContext) -> None:
    context.add_exporter("Layers as ZIP of PNGs", export_layers_zip, extension=".zip",
                         description="Every pixel layer as a PNG, with a layers.json manifest")
    context.add_exporter("Sprite sheet (PNG)", export_sprite_sheet, extension=".png",
                         description="Visible top-level layers as frames of one PNG grid")
