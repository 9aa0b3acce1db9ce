"""Seeded RGBA training assets for the demo model's latent transparency.

One of the demo's shapes in one of its colours on a fully transparent background, with a soft
anti-aliased edge (1 to 6 pixels wide). Some assets are glass-like (alpha 0.3-0.8 inside),
some cast a soft dark shadow, some glow in their own colour. Parameters come from a seeded CPU
``torch.Generator``; pixels are rendered with tensor maths (see ``shapes.render``), so a seed
gives the same assets on any device and nothing is read from disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from . import shapes

#: Asset kinds and how often each is drawn.
KINDS: tuple[str, ...] = ("opaque", "glass", "shadow", "glow")
KIND_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
GLASS_ALPHA = (0.3, 0.8)
EDGE_PIXELS = (1.0, 6.0)  # width of the soft edge at 256 px
#: The word that asks for a glass-like asset. It is not in the demo tokenizer's vocabulary, so it
#: reaches the model as letter tokens; the transparency patch learns what they mean.
GLASS_WORD = "glass"
P_EMPTY_CAPTION = 0.1
GREY = 0.5  # LayerDiffuse shows the VAE transparent pixels as 50% grey
#: The demo's backdrop is black instead: its VAE never saw grey (it decodes flat 50% grey as
#: purple, L1 error 0.16 against 0.03 on its own pictures), while black is one of its own
#: backgrounds. Over black, "premultiplied on the backdrop" is plain premultiplied alpha.
DEMO_BACKDROP = 0.0


@dataclass(frozen=True)
class Assets:
    scenes: shapes.Scenes  # shape, colour, centre, radius, angle, jitter (backgrounds unused)
    kind: torch.Tensor  # long, index into KINDS
    edge: torch.Tensor  # float, soft edge width in pixels at 256 px
    glass_alpha: torch.Tensor  # float, inside alpha of glass assets (1 elsewhere)
    halo: torch.Tensor  # float, shadow/glow spread in units of half the image side
    shadow_shift: torch.Tensor  # float (n, 2), shadow offset
    halo_alpha: torch.Tensor  # float, peak alpha of the shadow or glow
    empty_caption: torch.Tensor  # bool

    def __len__(self) -> int:
        return len(self.scenes)


def sample_assets(n: int, gen: torch.Generator) -> Assets:
    """Draw ``n`` random assets from ``gen`` (a CPU generator)."""
    scenes = shapes.sample_scenes(n, gen)
    # A shadow or glow needs room: keep the shape a little smaller and inside the frame.
    radius = scenes.radius * 0.85
    center = scenes.center * 0.85
    scenes = replace(scenes, radius=radius, center=center)
    kind = torch.multinomial(torch.tensor(KIND_WEIGHTS), n, replacement=True, generator=gen)
    lo, hi = EDGE_PIXELS
    edge = lo + (hi - lo) * torch.rand(n, generator=gen) ** 2  # mostly crisp, some very soft
    glo, ghi = GLASS_ALPHA
    glass_alpha = torch.where(kind == 1, glo + (ghi - glo) * torch.rand(n, generator=gen), torch.ones(n))
    halo = 0.04 + 0.08 * torch.rand(n, generator=gen)
    angle = torch.rand(n, generator=gen) * 2 * math.pi
    dist = 0.03 + 0.05 * torch.rand(n, generator=gen)
    shadow_shift = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * dist[:, None]
    halo_alpha = 0.35 + 0.4 * torch.rand(n, generator=gen)
    empty = torch.rand(n, generator=gen) < P_EMPTY_CAPTION
    return Assets(scenes, kind, edge, glass_alpha, halo, shadow_shift, halo_alpha, empty)


def asset_caption(shape: str, color: str, glass: bool = False) -> str:
    """``"a red star"``, or ``"a glass red star"`` for a glass-like asset."""
    if glass:
        return f"a {GLASS_WORD} {color} {shape}"
    return shapes.caption(shape, color)


def captions(assets: Assets) -> list[str]:
    out = []
    for i in range(len(assets)):
        if bool(assets.empty_caption[i]):
            out.append("")
            continue
        s = assets.scenes
        out.append(asset_caption(shapes.SHAPES[int(s.shape[i])], shapes.COLOR_NAMES[int(s.color[i])],
                                 int(assets.kind[i]) == 1))
    return out


def render_rgba(assets: Assets, size: int = 256, device: str | torch.device = "cpu") -> torch.Tensor:
    """(n, 4, size, size) straight RGBA in [0, 1] on ``device``.

    Invisible pixels carry the shape's colour (or black under a shadow), a neutral choice for
    straight alpha; only premultiplied results and visible colours are meant to matter.
    """
    dev = torch.device(device)
    s = assets.scenes
    palette = torch.tensor([shapes.COLORS[c] for c in shapes.COLOR_NAMES], dtype=torch.float32, device=dev)
    fg = ((palette[s.color.to(dev)] + s.jitter.to(dev)[:, 0]).clamp(0, 255) / 255.0)[:, :, None, None]
    coords = (torch.arange(size, device=dev, dtype=torch.float32) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    x, y = x[None], y[None]
    px = size / 2  # pixels per unit
    edge = (assets.edge.to(dev) * size / 256.0).clamp(min=1.0)[:, None, None]

    sd = shapes._signed_distance(s, x, y)
    cover = (0.5 - sd * px / edge).clamp(0, 1)
    a_shape = cover * assets.glass_alpha.to(dev)[:, None, None]

    kind = assets.kind.to(dev)[:, None, None]
    halo = assets.halo.to(dev)[:, None, None]
    peak = assets.halo_alpha.to(dev)[:, None, None]
    # Shadow: the shape moved by shadow_shift, with a Gaussian-like falloff outside it.
    shifted = replace(s, center=s.center + assets.shadow_shift)
    sd_shadow = shapes._signed_distance(shifted, x, y)
    shadow = peak * torch.exp(-(sd_shadow.clamp(min=0) / halo) ** 2) * (sd_shadow < halo * 3)
    # Glow: the shape's own colour fading out around it.
    glow = peak * torch.exp(-(sd.clamp(min=0) / halo) ** 2) * (sd < halo * 3)
    a_under = torch.where(kind == 2, shadow, torch.where(kind == 3, glow, torch.zeros_like(sd)))
    c_under = torch.where((kind == 2)[:, None], torch.zeros_like(fg).expand(-1, 3, size, size), fg.expand(-1, 3, size, size))

    a_shape, a_under = a_shape[:, None], a_under[:, None]
    alpha = a_shape + a_under * (1 - a_shape)
    premult = fg * a_shape + c_under * a_under * (1 - a_shape)
    rgb = torch.where(alpha > 1e-4, premult / alpha.clamp(min=1e-4), fg.expand_as(premult))
    return torch.cat([rgb.clamp(0, 1), alpha.clamp(0, 1)], dim=1)


def over_backdrop(rgba: torch.Tensor, backdrop: float = DEMO_BACKDROP) -> torch.Tensor:
    """Straight RGBA (n, 4, H, W) in [0, 1] -> RGB premultiplied over a flat backdrop, in [0, 1]."""
    a = rgba[:, 3:4]
    return rgba[:, :3] * a + backdrop * (1 - a)


def pad_rgb(rgba: torch.Tensor, levels: int = 8) -> torch.Tensor:
    """Straight RGB with colour spread into invisible pixels from an area-averaged pyramid.

    What LayerDiffuse's encoder sees instead of undefined colours under zero alpha: each
    pixel's colour is blended toward the alpha-weighted average of its neighbourhood at
    coarser and coarser levels, until something visible is found.
    """
    a = rgba[:, 3:4]
    pre = rgba[:, :3] * a
    pyramid = [(pre, a)]
    for _ in range(levels):
        p, w = pyramid[-1]
        if min(p.shape[-2:]) < 2:
            break
        pyramid.append((F.avg_pool2d(p, 2), F.avg_pool2d(w, 2)))
    # From coarse to fine: colour where weight exists, else the coarser level's colour.
    p, w = pyramid[-1]
    colour = torch.where(w > 1e-4, p / w.clamp(min=1e-4), torch.full_like(p, GREY))
    for p, w in reversed(pyramid[:-1]):
        colour = F.interpolate(colour, size=p.shape[-2:], mode="nearest")
        here = p / w.clamp(min=1e-4)
        colour = torch.where(w > 1e-4, here * w.clamp(max=1) + colour * (1 - w.clamp(max=1)), colour)
    return colour.clamp(0, 1)


def encoder_input(rgba: torch.Tensor) -> torch.Tensor:
    """[alpha, padded RGB] in [0, 1], the transparency encoder's 4 input channels."""
    return torch.cat([rgba[:, 3:4], pad_rgb(rgba)], dim=1)
