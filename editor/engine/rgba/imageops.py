"""Small numpy/OpenCV helpers for straight-alpha RGBA arrays."""
from __future__ import annotations

import cv2
import numpy as np

from .transparent_vae import SIZE_MULTIPLE


def supported_size(width: int, height: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """The nearest size LayerDiffuse can generate (each side a multiple of 64, at least 64)."""
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    snap = lambda v: max(multiple, int(round(v / multiple)) * multiple)  # noqa: E731
    return snap(width), snap(height)


def resize_rgba(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize straight-alpha RGBA without dark/grey fringes (resample premultiplied)."""
    h, w = rgba.shape[:2]
    if (w, h) == (width, height):
        return rgba
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    pre = np.concatenate([rgba[..., :3].astype(np.float32) * a, a * 255.0], axis=2)
    out = np.clip(cv2.resize(pre, (width, height), interpolation=interp), 0, 255)
    alpha = out[..., 3:4] / 255.0
    rgb = np.where(alpha > 1e-4, out[..., :3] / np.maximum(alpha, 1e-4), 0.0)
    return np.concatenate([np.clip(rgb, 0, 255), out[..., 3:4]], axis=2).round().astype(np.uint8)


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    return cv2.resize(rgb, (width, height), interpolation=interp)


def over_grey(rgba: np.ndarray, grey: float = 127.5) -> np.ndarray:
    """Composite straight RGBA over flat grey -> HxWx3 uint8."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.clip(rgba[..., :3].astype(np.float32) * a + grey * (1.0 - a), 0, 255).round().astype(np.uint8)


def composite(top: np.ndarray, bottom_rgb: np.ndarray) -> np.ndarray:
    """Straight RGBA over an opaque image -> HxWx4 uint8 (alpha 255)."""
    a = top[..., 3:4].astype(np.float32) / 255.0
    rgb = top[..., :3].astype(np.float32) * a + bottom_rgb[..., :3].astype(np.float32) * (1.0 - a)
    return opaque(np.clip(rgb, 0, 255).round().astype(np.uint8))


def opaque(rgb: np.ndarray) -> np.ndarray:
    out = np.empty(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3] = rgb[..., :3]
    out[..., 3] = 255
    return out
