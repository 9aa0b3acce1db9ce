"""Open and save documents in any supported format; export flat images and layers.

``open_document`` picks the reader by content (ZIP = OpenRaster, ``8BPS`` =
PSD, else a flat image becomes a one-layer document), so a misnamed file
still opens. ``save_document`` picks the writer by extension and is atomic.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np

from editor.core.document import Document
from editor.core.layers import GroupLayer, RasterLayer

from . import raster
from .atomic import remove_stale_temporaries
from .errors import FileFormatError
from .flatten import flatten

#: Extensions ``open_document`` accepts (for file dialogs).
OPEN_EXTENSIONS = (".ora", ".psd", ".psb", ".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
#: Extensions that keep layers (``save_document``); flat ones go through ``export_image``.
PROJECT_EXTENSIONS = (".ora", ".psd")
#: Flat export formats.
EXPORT_EXTENSIONS = tuple(raster.SAVE_FORMATS)


def _kind(mode: int) -> str | None:
    """What a non-regular file is, for the message (None: a regular file)."""
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def _sniff(path: Path) -> bytes:
    # Checked before opening: reading a named pipe or a device blocks (on the GUI thread)
    # until something writes to it, possibly for ever.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileFormatError(path, "file not found") from None
    except OSError as e:
        raise FileFormatError(path, f"cannot read ({e.strerror or e})") from None
    kind = _kind(mode)
    if kind == "a folder":
        raise FileFormatError(path, "is a folder, not a file")
    if kind is not None:
        raise FileFormatError(path, f"is {kind}, not a regular file: Layerbrush opens only image and project files")
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise FileFormatError(path, "file not found") from None
    except IsADirectoryError:
        raise FileFormatError(path, "is a folder, not a file") from None
    except OSError as e:
        raise FileFormatError(path, f"cannot read ({e.strerror or e})") from None


def open_document(path: str | os.PathLike, warnings: list[str] | None = None) -> Document:
    """Open an .ora, .psd or flat image (PNG/JPEG/WebP/TIFF) as a new Document.

    Raises :class:`FileFormatError` for any unreadable or hostile file.
    """
    path = Path(path)
    head = _sniff(path)
    remove_stale_temporaries(path)  # left by a save of this file that was killed
    if head.startswith(b"PK"):
        from .ora import load_ora

        return load_ora(path, warnings)
    if head.startswith(b"8BPS"):
        from .psd import load_psd

        return load_psd(path, warnings)
    return document_from_image(raster.load_image(path), path.stem)


def document_from_image(rgba: np.ndarray, name: str = "Background") -> Document:
    """A document the size of ``rgba`` with it as its only layer (no history step)."""
    doc = Document(rgba.shape[1], rgba.shape[0])
    layer = RasterLayer(name or "Background", rgba)
    doc.root._insert(0, layer)
    doc.active_layer = layer
    return doc


def save_document(document: Document, path: str | os.PathLike, warnings: list[str] | None = None) -> None:
    """Save with layers (.ora or .psd) or flattened (.png/.jpg/.webp/.tif), atomically.
    ``warnings`` collects what the format could not keep."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".ora":
        from .ora import save_ora

        save_ora(document, path)
    elif ext == ".psd":
        from .psd import save_psd

        save_psd(document, path, warnings)
    elif ext in raster.SAVE_FORMATS:
        export_image(document, path)
    else:
        raise FileFormatError(
            path, f"unsupported extension {path.suffix!r}; use .ora, .psd, .png, .jpg, .webp or .tif"
        )


def render(document: Document) -> np.ndarray:
    """The flattened document, HxWx4 uint8 straight RGBA."""
    return flatten(document)


def export_image(document: Document, path: str | os.PathLike, *, quality: int = 95) -> None:
    """Write the flattened document as PNG/JPEG/WebP/TIFF (by extension)."""
    raster.save_image(render(document), path, quality=quality)


def _safe_name(name: str) -> str:
    name = re.sub(r"[^\w\- .]+|\.{2,}", "_", name, flags=re.UNICODE).strip(" .")
    return name[:80] or "layer"


def export_layers(document: Document, folder: str | os.PathLike) -> list[Path]:
    """Write every raster layer as a document-size PNG into ``folder`` (created if needed).

    Files are named ``NNN_<layer name>.png`` bottom to top, so the folder
    listing shows the stack order. Each PNG holds the layer's own pixels at its
    offset with its mask and opacity applied (blend mode and visibility are not:
    they describe the relation to other layers). Returns the paths written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileFormatError(folder, f"cannot create folder ({e.strerror or e})") from None
    written = []
    rasters = [l for l in document.walk() if isinstance(l, RasterLayer)]
    for i, layer in enumerate(rasters):
        canvas = np.zeros((document.height, document.width, 4), np.uint8)
        _place(canvas, layer)
        path = folder / f"{i:03d}_{_safe_name(layer.name)}.png"
        raster.save_image(canvas, path)
        written.append(path)
    return written


def _place(canvas: np.ndarray, layer: RasterLayer) -> None:
    pixels = layer.pixels.copy()
    mask = layer.effective_mask()
    alpha = pixels[..., 3].astype(np.float32) * layer.opacity
    if mask is not None:
        alpha *= mask.astype(np.float32) / 255.0
    pixels[..., 3] = np.clip(np.rint(alpha), 0, 255).astype(np.uint8)
    x, y = layer.offset
    h, w = pixels.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = pixels[y0 - y : y1 - y, x0 - x : x1 - x]
