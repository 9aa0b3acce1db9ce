"""Weight-free fallback: cut a subject off a flat background with GrabCut.

Lower quality than LayerDiffuse (no true semi-transparency, hair and glass are
approximated by a feathered edge), but needs no extra weights.
"""
from __future__ import annotations

import cv2
import numpy as np

import re
from dataclasses import dataclass

#: Appended to the prompt so the model paints a background that is easy to remove (models
#: whose folder says nothing else; see ``matte_settings``).
MATTE_PROMPT_SUFFIX = ", isolated on a plain flat neutral grey background, studio shot, centered"
MATTE_NEGATIVE = "busy background, scenery, pattern, texture, frame"
#: A cut-out with less than this share of visible pixels (alpha >= 128) kept nothing usable;
#: one with more kept the background too.
MIN_VISIBLE = 0.01
MAX_VISIBLE = 0.97


@dataclass(frozen=True)
class MatteSettings:
    """How the fallback asks a model for an easy background.

    backgrounds: colour word -> prompt suffix; the first whose colour the prompt does not
    name is used (a white subject goes on black). at_native_size: generate at most at the
    model's native size and scale the cut-out (for models that fill bigger pictures with
    several subjects).
    """

    backgrounds: tuple[tuple[str, str], ...] = (("grey", MATTE_PROMPT_SUFFIX),)
    negative: str = MATTE_NEGATIVE
    at_native_size: bool = False

    def suffix_for(self, prompt: str) -> str:
        words = set(re.findall(r"[a-z]+", prompt.lower()))
        for colour, suffix in self.backgrounds:
            if colour.lower() not in words:
                return suffix
        return self.backgrounds[0][1]


def matte_settings(model) -> MatteSettings:
    """The model's matte settings: its folder's ``layerbrush.json`` "matte" entry, else the defaults."""
    entry = (getattr(model, "settings", None) or {}).get("matte")
    if not entry:
        return MatteSettings()
    try:
        backgrounds = tuple((str(k), str(v)) for k, v in dict(entry.get("backgrounds") or {}).items())
        return MatteSettings(backgrounds or MatteSettings.backgrounds, str(entry.get("negative", MATTE_NEGATIVE)),
                             bool(entry.get("at_native_size", False)))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"the model's layerbrush.json has an unusable \"matte\" entry ({exc})") from exc


def visible_share(rgba: np.ndarray) -> float:
    """Share of pixels with alpha >= 128."""
    return float((rgba[..., 3] >= 128).mean())


def check_cutout(rgba: np.ndarray) -> float:
    """The visible share of a cut-out, or MatteFailed when it kept (almost) nothing or everything."""
    from .errors import MatteFailed

    share = visible_share(rgba)
    if share < MIN_VISIBLE:
        raise MatteFailed(
            f"The cut-out kept almost nothing ({100 * share:.1f}% of the picture is visible): the model did "
            "not paint a subject that stands apart from a plain background. Nothing was added. Try another "
            "seed or prompt.")
    if share > MAX_VISIBLE:
        raise MatteFailed(
            f"The cut-out kept the whole picture ({100 * share:.1f}% visible): the background was not plain "
            "enough to remove. Nothing was added. Try another seed or prompt.")
    return share


def _border(img: np.ndarray, width: int) -> np.ndarray:
    return np.concatenate([img[:width].reshape(-1, 3), img[-width:].reshape(-1, 3),
                           img[:, :width].reshape(-1, 3), img[:, -width:].reshape(-1, 3)])


def matte_image(rgb: np.ndarray, *, feather: float | None = None, iterations: int = 5) -> np.ndarray:
    """HxWx3 uint8 on a roughly flat background -> HxWx4 straight RGBA.

    The background colour is read from the image border; GrabCut is seeded with
    "surely background" on the border, "probably background" where the colour is
    close to it and "probably foreground" elsewhere. The hard cut is feathered
    and edge colours are unmixed from the background to avoid grey fringes.
    """
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"matte_image needs an HxWx3 image, got shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb[..., :3])
    h, w = rgb.shape[:2]
    ring = max(2, min(h, w) // 64)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    bg_lab = np.median(_border(lab, ring), axis=0)
    dist = np.linalg.norm(lab - bg_lab, axis=2)
    border_spread = float(np.percentile(np.linalg.norm(_border(lab, ring) - bg_lab, axis=1), 90))
    near = max(6.0, 2.0 * border_spread)

    mask = np.full((h, w), cv2.GC_PR_FGD, np.uint8)
    mask[dist < near] = cv2.GC_PR_BGD
    mask[:ring], mask[-ring:], mask[:, :ring], mask[:, -ring:] = (cv2.GC_BGD,) * 4
    hard = np.zeros((h, w), np.float32)
    if (mask == cv2.GC_PR_FGD).any():
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            # GrabCut's k-means draws from OpenCV's per-thread RNG: reset it so the same
            # image always gives the same matte (reproducible from saved parameters).
            cv2.setRNGSeed(0)
            cv2.grabCut(rgb[..., ::-1].copy(), mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            pass  # degenerate colour models: keep the colour-distance seeding
        hard = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
        # Drop specks: keep components of at least 0.1% of the image.
        n, labels, stats, _ = cv2.connectedComponentsWithStats(hard.astype(np.uint8), connectivity=8)
        small = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] < 0.001 * h * w]
        if small:
            hard[np.isin(labels, small)] = 0.0

    sigma = feather if feather is not None else max(1.0, min(h, w) / 256.0)
    alpha = cv2.GaussianBlur(hard, (0, 0), sigmaX=sigma) if sigma > 0 else hard
    alpha = np.clip(alpha, 0.0, 1.0)

    bg_rgb = np.median(_border(rgb.astype(np.float32), ring), axis=0)
    a = alpha[..., None]
    fg = np.where(a > 0.05, (rgb.astype(np.float32) - (1.0 - a) * bg_rgb) / np.maximum(a, 0.05), rgb)
    out = np.empty((h, w, 4), np.uint8)
    out[..., :3] = np.clip(fg, 0, 255).round().astype(np.uint8)
    out[..., 3] = np.clip(alpha * 255.0, 0, 255).round().astype(np.uint8)
    return out
