"""A stand-in for what lies under a region, made from its surroundings.

Remove and expand start the model from this instead of from the object to remove (or the
empty strip of new canvas): the diffusion then only has to add plausible detail, where from
the original pixels it would redraw the object (measured on the demo model).
"""
from __future__ import annotations

import cv2
import numpy as np

#: the fill is made at most this large (it is smooth; the model adds the detail)
FILL_SIDE = 256


def context_fill(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``rgb`` (HxWx3 uint8) with the pixels where ``region`` (HxW uint8) is set replaced by
    colours propagated from around it (OpenCV's Telea inpainting at a reduced size)."""
    hole = region > 0
    if not hole.any():
        return rgb.copy()
    if hole.all():
        return np.full_like(rgb, 127)  # nothing to continue: a neutral grey
    h, w = hole.shape
    k = min(1.0, FILL_SIDE / max(h, w))
    sw, sh = max(1, round(w * k)), max(1, round(h * k))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    # grown so that the object's soft edge, which the small picture mixes in, goes too
    small_hole = cv2.resize(hole.astype(np.uint8) * 255, (sw, sh), interpolation=cv2.INTER_AREA) > 0
    small_hole = cv2.dilate(small_hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if small_hole.all():
        return np.full_like(rgb, 127)
    filled = cv2.inpaint(small, small_hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.0)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR) if k < 1.0 else filled
    out = rgb.copy()
    out[hole] = big[hole]
    return out
