"""Small image helpers for the AI panels (no torch): sizes the models accept, resizing."""
from __future__ import annotations

import numpy as np
from PIL import Image

MULTIPLE = 64


def snap(value: int, multiple: int = MULTIPLE) -> int:
    """The nearest multiple of ``multiple`` (at least one multiple)."""
    return max(multiple, int(round(value / multiple)) * multiple)


def model_size(width: int, height: int) -> tuple[int, int]:
    """Where a box of ``width`` x ``height`` is generated: the nearest multiples of 64."""
    return snap(width), snap(height)


def base_size(width: int, height: int, native: int | None, multiple: int = 8) -> tuple[int, int]:
    """A picture in the proportions of ``width`` x ``height`` whose longer side is the model's
    ``native`` size (``width`` x ``height`` itself when ``native`` is unknown)."""
    if not native:
        return width, height
    scale = native / max(width, height)
    return snap(width * scale, multiple), snap(height * scale, multiple)


def fit(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize straight RGBA to ``width`` x ``height`` (premultiplied, so no dark fringes)."""
    h, w = rgba.shape[:2]
    if (w, h) == (width, height):
        return rgba
    img = Image.fromarray(np.ascontiguousarray(rgba), "RGBA").convert("RGBa")
    img = img.resize((width, height), Image.Resampling.LANCZOS).convert("RGBA")
    return np.asarray(img).copy()
