"""Measures of the demo model's latent transparency, shared by the tests and the benchmark.

    round_trip(vae, encoder, decoder, backdrop, seed=...)   # held-out drawn assets
    read_asset(rgba)                                         # one generated asset
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from . import shapes
from . import transparent_assets as ta

PALETTE = np.array([shapes.COLORS[c] for c in shapes.COLOR_NAMES], dtype=np.float32)
CLEAR = 30  # alpha below this counts as transparent
SOLID = 225  # alpha above this counts as opaque
FRAME = 6  # px of border read as background


@torch.no_grad()
def round_trip(vae, encoder, decoder, backdrop: float, *, seed: int, n: int = 16, size: int = 256,
               batch: int = 4) -> dict:
    """Encode held-out assets to offset latents and decode them both ways.

    Returns mean alpha error (0..1), mean RGB error on visible pixels (alpha > 0.5, 0..1),
    the L1 error of the ordinary VAE decode of the offset latent against the picture
    premultiplied over the backdrop, and the same for the VAE's own latent (offset 0).
    """
    from ..rgba.transparent_vae import decode_rgba

    gen = torch.Generator().manual_seed(seed)
    sums = {"alpha_l1": 0.0, "rgb_l1_visible": 0.0, "vae_l1_offset": 0.0, "vae_l1_plain": 0.0}
    visible_total = 0.0
    for start in range(0, n, batch):
        assets = ta.sample_assets(min(batch, n - start), gen)
        p = next(vae.parameters())
        rgba = ta.render_rgba(assets, size, p.device).to(p.dtype)
        flat = ta.over_backdrop(rgba, backdrop)
        post = vae.encode(flat * 2 - 1).latent_dist
        z = post.mean + post.std * encoder(ta.encoder_input(rgba))
        pixels = (vae.decode(z).sample.clamp(-1, 1) + 1) / 2
        plain = (vae.decode(post.mean).sample.clamp(-1, 1) + 1) / 2
        out = decode_rgba(decoder, pixels, z).float()
        k = rgba.shape[0]
        sums["alpha_l1"] += float((out[:, 3] - rgba[:, 3]).abs().mean()) * k
        sums["vae_l1_offset"] += float((pixels - flat).abs().mean()) * k
        sums["vae_l1_plain"] += float((plain - flat).abs().mean()) * k
        visible = (rgba[:, 3:4] > 0.5).float()
        sums["rgb_l1_visible"] += float(((out[:, :3] - rgba[:, :3]).abs() * visible).sum()) / 3
        visible_total += float(visible.sum())
    result = {k: v / n for k, v in sums.items() if k != "rgb_l1_visible"}
    result["rgb_l1_visible"] = sums["rgb_l1_visible"] / max(1.0, visible_total)
    result["assets"] = n
    return result


@dataclass(frozen=True)
class AssetReading:
    color: str | None  # majority palette colour of the opaque part (None: nothing opaque)
    opaque_share: float  # share of pixels with alpha > SOLID
    clear_share: float  # share of pixels with alpha < CLEAR
    frame_clear_share: float  # the same on the border frame (the background)
    soft_share: float  # share of pixels with intermediate alpha
    inner_alpha: float  # median alpha (0..255) inside the object (alpha >= CLEAR, eroded)


def read_asset(rgba: np.ndarray) -> AssetReading:
    """Read one generated HxWx4 uint8 asset (straight alpha)."""
    a = rgba[..., 3]
    rgb = rgba[..., :3].astype(np.float32)
    opaque = a > SOLID
    seen = a >= 128 if not opaque.any() else opaque
    color = None
    if seen.sum() >= 16:
        d = ((rgb[seen][:, None, :] - PALETTE[None]) ** 2).sum(-1)
        color = shapes.COLOR_NAMES[int(np.bincount(d.argmin(1), minlength=len(PALETTE)).argmax())]
    frame = np.ones(a.shape, bool)
    frame[FRAME:-FRAME, FRAME:-FRAME] = False
    obj = cv2.erode((a >= CLEAR).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    inner = float(np.median(a[obj])) if obj.any() else 0.0
    return AssetReading(color, float(opaque.mean()), float((a < CLEAR).mean()), float((a[frame] < CLEAR).mean()),
                        float(((a >= CLEAR) & (a <= SOLID)).mean()), inner)


def eval_prompts(n: int = 24) -> list[tuple[str, str, str, int]]:
    """(prompt, shape, colour, seed): every colour n/8 times, every shape n/4 times, by formula."""
    items = []
    for i in range(n):
        color = shapes.COLOR_NAMES[i % 8]
        shape = shapes.SHAPES[(i // 8 + i) % 4]
        items.append((ta.asset_caption(shape, color), shape, color, i))
    return items
