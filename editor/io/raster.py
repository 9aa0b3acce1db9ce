"""Flat raster images: PNG, JPEG, WebP and TIFF in, and out.

Pixels are HxWx4 uint8 straight RGBA. Reading checks the header's size against
:mod:`editor.io.limits` before any pixel is decoded, so a decompression bomb is
refused without allocating. Pillow raises a wide range of exception types on
damaged data; every one of them becomes a :class:`FileFormatError`.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from . import limits
from .atomic import write_file
from .errors import FileFormatError

#: Extension -> Pillow format name for writing.
SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
#: Pillow formats we accept when reading.
READ_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")


def _open(source: bytes | Path, label: str | os.PathLike, formats) -> Image.Image:
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            # Pillow warns between 1x and 2x MAX_IMAGE_PIXELS; limits.size_problem
            # refuses those sizes right after with a clearer message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fp, formats=list(formats))
    except FileNotFoundError:
        raise FileFormatError(label, "file not found") from None
    except Image.UnidentifiedImageError:
        raise FileFormatError(label, "not a supported image (PNG, JPEG, WebP or TIFF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise FileFormatError(label, f"image too large ({e})") from None
    except IsADirectoryError:
        raise FileFormatError(label, "is a folder, not an image") from None
    except Exception as e:
        raise FileFormatError(label, f"corrupt image header ({type(e).__name__}: {e})") from None


#: Rows are converted in bands of about this many bytes: the decoded image and the
#: result are the only full-size copies (a whole-image convert() and np.array() made
#: two more: 4 GB for a 16384 px square PNG).
BAND_BYTES = 16 << 20


def _band_converter(img: Image.Image, channels: int):
    """A function turning a band (a crop of ``img``) into HxWx``channels`` uint8."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit/float grey: scale to 8 bits rather than clip (the scale is the whole image's).
        top = 65535.0 if img.mode.startswith("I;16") or (img.getextrema()[1] or 0) > 255 else 255.0

        def wide_grey(band: Image.Image) -> np.ndarray:
            grey = np.clip(np.asarray(band, dtype=np.float64) * (255.0 / top), 0, 255).astype(np.uint8)
            if channels == 1:
                return grey
            out = np.empty(grey.shape + (4,), np.uint8)
            out[..., :3] = grey[..., None]
            out[..., 3] = 255
            return out

        return wide_grey
    mode = "L" if channels == 1 else "RGBA"
    if img.mode == mode:
        return np.asarray
    # P with a transparency entry (kept by crop) converts to RGBA with that alpha.
    return lambda band: np.asarray(band.convert(mode))


def _to_array(img: Image.Image, channels: int = 4) -> np.ndarray:
    """The loaded ``img`` as HxWx4 RGBA (``channels=4``) or HxW grey (1), uint8."""
    width, height = img.size
    out = np.empty((height, width, channels) if channels > 1 else (height, width), np.uint8)
    convert = _band_converter(img, channels)
    rows = max(1, BAND_BYTES // max(1, 4 * width))
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        out[y0:y1] = convert(img.crop((0, y0, width, y1)))
    return out


def png_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from the first 24 bytes of a PNG (its IHDR), or None if it is no PNG."""
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def decode(
    source: bytes | str | os.PathLike,
    label: str | os.PathLike | None = None,
    *,
    formats=READ_FORMATS,
    max_pixels: int | None = None,
    grey: bool = False,
) -> np.ndarray:
    """Decode an image file or bytes into HxWx4 uint8 RGBA (``grey``: HxW luminance, for
    masks); ``label`` names it in errors.

    ``max_pixels`` lowers the pixel limit (readers of multi-layer files pass what
    is left of their budget), checked from the header before decoding.
    """
    if not isinstance(source, bytes):
        source = Path(source)
    label = label if label is not None else source if isinstance(source, Path) else "<image>"
    img = _open(source, label, formats)
    try:
        problem = limits.size_problem(*img.size)
        if problem:
            raise FileFormatError(label, problem)
        if max_pixels is not None and img.size[0] * img.size[1] > max_pixels:
            raise FileFormatError(
                label, f"image {img.size[0]}x{img.size[1]} exceeds the remaining pixel budget of the file"
            )
        if getattr(img, "n_frames", 1) > 1:
            img = next(iter(ImageSequence.Iterator(img)))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
            rgba = _to_array(img, 1 if grey else 4)
    except FileFormatError:
        raise
    except MemoryError:
        raise FileFormatError(label, "not enough memory to decode the image") from None
    except Exception as e:
        raise FileFormatError(label, f"corrupt or truncated image ({type(e).__name__}: {e})") from None
    finally:
        img.close()
    if rgba.shape[:2] != (img.size[1], img.size[0]):
        raise FileFormatError(label, "decoded size differs from the header")
    return rgba


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG, JPEG, WebP or TIFF file into HxWx4 uint8 straight RGBA."""
    return decode(Path(path))


def encode_png(rgba: np.ndarray, *, compress_level: int = 6) -> bytes:
    """Encode HxWx4 (or HxW grey) uint8 pixels as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(_check_pixels(rgba)).save(buf, "PNG", compress_level=compress_level)
    return buf.getvalue()


def _check_pixels(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"expected HxWx4 or HxW uint8 pixels, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def flatten_on(rgba: np.ndarray, background=(255, 255, 255)) -> np.ndarray:
    """Composite straight RGBA over an opaque colour, for formats without alpha."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    bg = np.asarray(background, np.float32)
    rgb = rgba[..., :3].astype(np.float32) * a + bg * (1.0 - a)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def encode(rgba: np.ndarray, fmt: str, *, quality: int = 95) -> bytes:
    """Encode pixels in a Pillow format name (PNG, JPEG, WEBP, TIFF)."""
    rgba = _check_pixels(rgba)
    buf = io.BytesIO()
    if fmt == "JPEG":
        img = Image.fromarray(flatten_on(rgba) if rgba.ndim == 3 and rgba.shape[2] == 4 else rgba)
        img.save(buf, "JPEG", quality=quality)
    elif fmt == "WEBP":
        Image.fromarray(rgba).save(buf, "WEBP", quality=quality, lossless=quality >= 100)
    elif fmt == "TIFF":
        Image.fromarray(rgba).save(buf, "TIFF", compression="tiff_deflate")
    else:
        Image.fromarray(rgba).save(buf, fmt)
    return buf.getvalue()


def save_image(rgba: np.ndarray, path: str | os.PathLike, *, quality: int = 95) -> None:
    """Write pixels atomically; the format follows the extension (png, jpg/jpeg, webp, tif/tiff).

    JPEG has no alpha: transparent pixels are flattened over white. ``quality``
    applies to JPEG and WebP (WebP 100 = lossless).
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FileFormatError(
            path, f"unsupported image extension {path.suffix!r} (use .png, .jpg, .webp or .tif)"
        )
    data = encode(rgba, fmt, quality=quality)
    write_file(path, data)
