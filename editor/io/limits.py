"""Size limits that protect the readers against hostile or absurd files.

One place so that the UI, the tests and the readers agree. The numbers allow
any realistic artwork (a 16k x 16k canvas) while refusing decompression bombs
before they allocate.
"""

from __future__ import annotations

from PIL import Image

#: Longest side of any image or canvas, in pixels.
MAX_SIDE = 30_000
#: Most pixels in one image or canvas (256 Mpx = 1 GiB as RGBA).
MAX_PIXELS = 256 * 1024 * 1024

#: Archives (ORA): entries, total uncompressed bytes, and compression ratio.
MAX_ARCHIVE_ENTRIES = 10_000
MAX_ARCHIVE_TOTAL_BYTES = 8 * 1024**3
#: Ratio uncompressed/compressed allowed for one entry. PNG entries are already
#: compressed (ratio ~1); XML and JSON reach ~20. Entries smaller than
#: RATIO_FREE_BYTES are exempt: tiny files compress oddly and can't bomb.
MAX_COMPRESSION_RATIO = 200
RATIO_FREE_BYTES = 1024 * 1024
#: Text entries (stack.xml, JSON) never legitimately exceed this.
MAX_TEXT_BYTES = 64 * 1024 * 1024

#: Layer tree limits for stack.xml.
MAX_LAYERS = 5_000
MAX_DEPTH = 64

# Pillow refuses images above twice this (DecompressionBombError) and warns
# above it; our own header check in raster.check_size runs first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def size_problem(width: int, height: int) -> str | None:
    """Why a width x height image is refused, or None if it is acceptable."""
    if width <= 0 or height <= 0:
        return f"invalid image size {width}x{height}"
    if width > MAX_SIDE or height > MAX_SIDE:
        return f"image size {width}x{height} exceeds the limit of {MAX_SIDE} pixels per side"
    if width * height > MAX_PIXELS:
        return (
            f"image size {width}x{height} ({width * height / 1e6:.0f} Mpx) exceeds the "
            f"limit of {MAX_PIXELS / 1e6:.0f} Mpx"
        )
    return None
