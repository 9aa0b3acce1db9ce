"""Sample documents and pictures for the file format tests (imported by name: tests/io is on sys.path)."""

from __future__ import annotations

import numpy as np

from editor.core.document import Document
from editor.core.layers import BrushLayer, GeneratedLayer, GroupLayer, RasterLayer
from editor.core.params import BrushParams, RgbaParams


def gradient(h: int, w: int, alpha: int = 255, seed: int = 0) -> np.ndarray:
    """A smooth, distinct RGBA picture (noise-free so lossy codecs stay close)."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((h, w, 4), np.uint8)
    out[..., 0] = (x * 255 // max(w - 1, 1) + seed * 40) % 256
    out[..., 1] = (y * 255 // max(h - 1, 1) + seed * 70) % 256
    out[..., 2] = (128 + seed * 30) % 256
    out[..., 3] = alpha
    return out


def blob(h: int, w: int, color, alpha_max: int = 255) -> np.ndarray:
    """A soft-edged disc of ``color`` on transparency."""
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :3] = color
    out[..., 3] = np.clip((1.2 - r) * 2.5 * alpha_max, 0, alpha_max).astype(np.uint8)
    return out


def rich_document(
    modes=("multiply", "screen", "overlay", "difference"), with_ai: bool = True, group_mask: bool = True
) -> Document:
    """A document using offsets (also off-canvas), opacity, hidden layers, nested
    groups (isolated and pass-through), blend modes, masks, brush/generated layers."""
    W, H = 96, 64
    rng = np.random.default_rng(1)
    doc = Document(W, H)
    doc.add_layer(RasterLayer("background", gradient(H, W, alpha=230)))
    doc.add_layer(RasterLayer(f"{modes[0]} blob", blob(40, 50, (220, 80, 40)), offset=(-10, 5),
                              blend_mode=modes[0], opacity=0.8))
    hidden = RasterLayer("hidden", blob(30, 30, (0, 255, 0)), offset=(30, 20), visible=False)
    doc.add_layer(hidden)
    group = GroupLayer("isolated group", isolated=True, opacity=0.75)
    doc.add_layer(group)
    doc.add_layer(RasterLayer("in group", blob(30, 44, (40, 90, 230)), offset=(40, 10)), parent=group)
    doc.add_layer(RasterLayer(f"{modes[1]} in group", gradient(24, 30, alpha=200, seed=2), offset=(50, 30),
                              blend_mode=modes[1]), parent=group)
    inner = GroupLayer("pass-through", isolated=False)
    doc.add_layer(inner, parent=group)
    doc.add_layer(RasterLayer(f"{modes[2]} inner", blob(20, 60, (250, 250, 90)), offset=(20, 40),
                              blend_mode=modes[2], opacity=0.6), parent=inner)
    edge = RasterLayer(f"{modes[3]} edge", gradient(30, 40, seed=3), offset=(70, 45), blend_mode=modes[3])
    doc.add_layer(edge)
    if with_ai:
        masked = RasterLayer("masked", blob(32, 32, (255, 0, 255)), offset=(8, 8))
        masked.mask = (rng.random((32, 32)) * 255).astype(np.uint8)
        doc.add_layer(masked)
        off = RasterLayer("mask off, inverted", blob(16, 16, (0, 0, 0)), offset=(60, 2), locked=True)
        off.mask = np.tile(np.arange(16, dtype=np.uint8) * 16, (16, 1))
        off.mask_enabled = False
        off.mask_inverted = True
        doc.add_layer(off)
        region = np.zeros((H, W), np.uint8)
        region[10:30, 20:50] = 255
        brush = BrushLayer(
            "brush",
            blob(H, W, (10, 200, 200), alpha_max=150),
            params=BrushParams(prompt="a cat", negative_prompt="blurry", seed=42, strength=0.6, steps=7,
                               guidance=5.5, seed_locked=True),
            region=region,
            state="done",
        )
        doc.add_layer(brush)
        gen = GeneratedLayer(
            "generated",
            blob(20, 20, (255, 200, 0)),
            offset=(70, 5),
            params=RgbaParams(prompt="a lamp", seed=7, steps=12, guidance=6.0, quality="quality",
                              mode="fg2bg", box=(70, 5, 20, 20)),
            state="stale",
        )
        doc.add_layer(gen)
        doc.selection = region.copy()
        doc.metadata["author"] = "tests"
        if group_mask:
            gmask = np.zeros((H, W), np.uint8)
            gmask[:, : W // 2] = 255
            group.mask = gmask
    doc.active_layer = edge
    return doc
