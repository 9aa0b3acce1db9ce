"""A simple classifier for generated shape pictures: background colour, shape colour, shape kind.

Every pixel is named by its nearest palette colour. Background: the most common name in a
frame of border pixels. Shape: the largest connected blob of pixels named otherwise (after a
small opening that drops specks and anti-aliased fringes); its colour is the majority name in
the blob, its kind is read from two ratios of the blob:
solidity (area / convex hull area: a star is far from convex) and fill of the minimum
enclosing circle (circle ~1.0, square ~0.64, triangle ~0.41).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from editor.engine.demo.shapes import COLOR_NAMES, COLORS

PALETTE = np.array([COLORS[c] for c in COLOR_NAMES], dtype=np.float32)
BORDER = 6  # px of frame used to read the background
MIN_SHAPE_FRACTION = 0.005


@dataclass(frozen=True)
class Reading:
    background: str
    color: str | None  # None when no shape was found
    shape: str | None
    shape_fraction: float


def nearest_color(rgb: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour for each row of an (n, 3) array."""
    d = ((rgb[:, None, :].astype(np.float32) - PALETTE[None]) ** 2).sum(-1)
    return d.argmin(1)


def classify(image: np.ndarray) -> Reading:
    """Read an HxWx3 uint8 picture of one shape on a (solid) background."""
    rgb = np.asarray(image)[..., :3].astype(np.float32)
    h, w = rgb.shape[:2]
    names = nearest_color(rgb.reshape(-1, 3)).reshape(h, w)
    frame = np.ones((h, w), bool)
    frame[BORDER:-BORDER, BORDER:-BORDER] = False
    bg_index = int(np.bincount(names[frame], minlength=len(COLOR_NAMES)).argmax())
    background = COLOR_NAMES[bg_index]

    other = cv2.morphologyEx((names != bg_index).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(other, connectivity=8)
    if count <= 1:
        return Reading(background, None, None, 0.0)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = labels == biggest
    fraction = float(blob.mean())
    if fraction < MIN_SHAPE_FRACTION:
        return Reading(background, None, None, fraction)
    votes = np.bincount(names[blob], minlength=len(COLOR_NAMES))
    color = COLOR_NAMES[int(votes.argmax())]
    return Reading(background, color, shape_kind(blob), fraction)


def shape_kind(blob: np.ndarray) -> str:
    contours, _ = cv2.findContours(blob.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    area = float(blob.sum())
    hull_area = max(1.0, float(cv2.contourArea(cv2.convexHull(contour))))
    solidity = area / hull_area
    _, radius = cv2.minEnclosingCircle(contour)
    circle_fill = area / max(1.0, np.pi * radius * radius)
    if solidity < 0.8:
        return "star"
    if circle_fill > 0.8:
        return "circle"
    if circle_fill > 0.52:
        return "square"
    return "triangle"


def shows_both(image: np.ndarray, first: str, second: str, min_share: float = 0.01) -> bool:
    """Whether colours ``first`` and ``second`` each name at least ``min_share`` of the pixels
    of an HxWx3 picture and neither is its background (what a composed prompt should give)."""
    rgb = np.asarray(image)[..., :3]
    share = np.bincount(nearest_color(rgb.reshape(-1, 3)), minlength=len(COLOR_NAMES)) / rgb[..., 0].size
    return bool(share[COLOR_NAMES.index(first)] >= min_share and share[COLOR_NAMES.index(second)] >= min_share
                and classify(rgb).background not in (first, second))
