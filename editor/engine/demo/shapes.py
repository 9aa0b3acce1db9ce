"""Synthetic training data for the demo model: one coloured shape on a coloured background
(optionally, with ``p_two``, a share of scenes with two shapes).

Scene parameters are drawn on the CPU from a seeded ``torch.Generator`` (so a seed gives the
same scenes on any device); the pixels are rendered with plain tensor maths on whatever device
trains, so a GPU makes thousands of 256x256 images per second and no data loader is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

# Nominal RGB of each colour word. Kept far apart so that a simple nearest-colour classifier
# can score the generated pictures.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (35, 70, 225),
    "yellow": (245, 220, 35),
    "orange": (245, 135, 20),
    "purple": (135, 45, 175),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")

# Caption mix: full captions name shape and background; short ones ("a red circle") teach the
# model prompts without a background, which is what brush prompts look like; empty captions
# (classifier-free guidance dropout) teach the unconditional prediction.
P_GRADIENT = 0.25
P_SHORT_CAPTION = 0.2
P_EMPTY_CAPTION = 0.1
COLOR_JITTER = 12  # +- per channel, so the model sees a little variation around each colour
SIZE_RANGE = (0.22, 0.55)  # shape radius as a fraction of half the image side
# Two-shape scenes: smaller shapes on opposite sides of the centre. Some are captioned with one
# of the shapes only, so that "a red circle" also covers pictures with a red circle *and*
# something else: what a conjunction of two prompts (AND) needs to find both.
TWO_SIZE_RANGE = (0.18, 0.3)
TWO_OFFSET_RANGE = (0.45, 0.55)
P_TWO_NAMES_ONE = 0.5


@dataclass(frozen=True)
class Scenes:
    """Parameters of a batch of scenes (all tensors on the CPU, first dimension = batch)."""

    shape: torch.Tensor  # long, index into SHAPES
    color: torch.Tensor  # long, index into COLOR_NAMES
    bg: torch.Tensor  # long, background colour index
    bg2: torch.Tensor  # long, second gradient colour (== bg for a solid background)
    center: torch.Tensor  # float (n, 2), x and y in [-1, 1]
    radius: torch.Tensor  # float (n,), in units of half the image side
    angle: torch.Tensor  # float (n,), rotation of the shape in radians
    grad_angle: torch.Tensor  # float (n,), direction of the background gradient
    jitter: torch.Tensor  # float (n, 3, 3): rgb offsets for shape, bg and bg2
    caption_kind: torch.Tensor  # long: 0 full, 1 short (no background), 2 empty
    second: "Second | None" = None  # the second shape of two-shape scenes

    def __len__(self) -> int:
        return int(self.shape.shape[0])


@dataclass(frozen=True)
class Second:
    """The second shape of each scene where ``two`` is set (same layout as Scenes' fields)."""

    two: torch.Tensor  # bool (n,)
    shape: torch.Tensor
    color: torch.Tensor
    center: torch.Tensor
    radius: torch.Tensor
    angle: torch.Tensor
    jitter: torch.Tensor  # float (n, 3)
    named: torch.Tensor  # long: 0 both shapes named, 1 the first only, 2 the second only


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(shape: str, color: str, bg: str | None = None, bg2: str | None = None, *,
            also: tuple[str, str] | None = None) -> str:
    """The caption of a scene, e.g. ``"a red circle on a blue background"``; ``also`` (shape,
    colour) names a second shape: ``"a red circle and a blue square on ..."``."""
    text = f"{article(color)} {color} {shape}"
    if also is not None:
        text = f"{text} and {article(also[1])} {also[1]} {also[0]}"
    if bg is None:
        return text
    if bg2 is None or bg2 == bg:
        return f"{text} on {article(bg)} {bg} background"
    return f"{text} on {article(bg)} {bg} and {bg2} gradient background"


def _other_color(gen: torch.Generator, avoid: torch.Tensor) -> torch.Tensor:
    # Adding 1..7 modulo 8 gives a uniformly chosen colour different from `avoid`.
    step = torch.randint(1, len(COLOR_NAMES), avoid.shape, generator=gen)
    return (avoid + step) % len(COLOR_NAMES)


def sample_scenes(n: int, gen: torch.Generator, p_two: float = 0.0,
                  p_names_one: float = P_TWO_NAMES_ONE) -> Scenes:
    """Draw ``n`` random scenes from ``gen`` (a CPU generator); a share ``p_two`` of them has a
    second shape (drawn after everything else, so p_two = 0 gives the one-shape scenes of
    the same seed), and a share ``p_names_one`` of those is captioned with one shape only."""
    shape = torch.randint(0, len(SHAPES), (n,), generator=gen)
    color = torch.randint(0, len(COLOR_NAMES), (n,), generator=gen)
    bg = _other_color(gen, color)
    bg2 = _other_color(gen, color)
    gradient = torch.rand(n, generator=gen) < P_GRADIENT
    bg2 = torch.where(gradient & (bg2 != bg), bg2, bg)
    lo, hi = SIZE_RANGE
    radius = lo + (hi - lo) * torch.rand(n, generator=gen)
    # Keep the whole shape inside the picture.
    center = (torch.rand(n, 2, generator=gen) * 2 - 1) * (1 - radius)[:, None]
    angle = torch.rand(n, generator=gen) * 2 * math.pi
    grad_angle = torch.rand(n, generator=gen) * 2 * math.pi
    jitter = (torch.rand(n, 3, 3, generator=gen) * 2 - 1) * COLOR_JITTER
    u = torch.rand(n, generator=gen)
    caption_kind = torch.where(
        u < P_EMPTY_CAPTION,
        torch.full_like(shape, 2),
        torch.where(u < P_EMPTY_CAPTION + P_SHORT_CAPTION, torch.ones_like(shape), torch.zeros_like(shape)),
    )
    second = None
    if p_two > 0:
        two = torch.rand(n, generator=gen) < p_two
        shape2 = torch.randint(0, len(SHAPES), (n,), generator=gen)
        color2 = _other_color(gen, color)
        color2 = torch.where((color2 == bg) | (color2 == bg2), _other_color(gen, bg), color2)
        lo, hi = TWO_SIZE_RANGE
        r1 = lo + (hi - lo) * torch.rand(n, generator=gen)
        r2 = lo + (hi - lo) * torch.rand(n, generator=gen)
        lo, hi = TWO_OFFSET_RANGE
        offset = lo + (hi - lo) * torch.rand(n, generator=gen)
        direction = torch.rand(n, generator=gen) * 2 * math.pi
        d = torch.stack([torch.cos(direction), torch.sin(direction)], 1) * offset[:, None]
        angle2 = torch.rand(n, generator=gen) * 2 * math.pi
        jitter2 = (torch.rand(n, 3, generator=gen) * 2 - 1) * COLOR_JITTER
        one = torch.rand(n, generator=gen) < p_names_one
        named = torch.where(one, 1 + torch.randint(0, 2, (n,), generator=gen), torch.zeros_like(shape))
        radius = torch.where(two, r1, radius)
        center = torch.where(two[:, None], d, center)
        second = Second(two, shape2, color2, -d, r2, angle2, jitter2, named)
    return Scenes(shape, color, bg, bg2, center, radius, angle, grad_angle, jitter, caption_kind, second)


def captions(scenes: Scenes) -> list[str]:
    out = []
    for i in range(len(scenes)):
        kind = int(scenes.caption_kind[i])
        if kind == 2:
            out.append("")
            continue
        shape = SHAPES[int(scenes.shape[i])]
        color = COLOR_NAMES[int(scenes.color[i])]
        also = None
        sec = scenes.second
        if sec is not None and bool(sec.two[i]):
            other = (SHAPES[int(sec.shape[i])], COLOR_NAMES[int(sec.color[i])])
            named = int(sec.named[i])
            if named == 0:
                also = other
            elif named == 2:
                shape, color = other
        backgrounds = () if kind == 1 else (COLOR_NAMES[int(scenes.bg[i])], COLOR_NAMES[int(scenes.bg2[i])])
        out.append(caption(shape, color, *backgrounds, also=also))
    return out


def term_captions(scenes: Scenes) -> tuple[list[str], list[str]]:
    """Each scene captioned with its first shape only and with its second shape only (scenes
    without a second shape get their own caption twice): the two terms of "A AND B"."""
    sec = scenes.second
    if sec is None:
        text = captions(scenes)
        return text, list(text)
    return tuple(captions(replace(scenes, second=replace(sec, named=torch.full_like(sec.named, k))))
                 for k in (1, 2))


def _signed_distance(scenes: Scenes, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Approximate signed distance (negative inside) of each pixel to each scene's shape.

    x, y: (1, H, W) pixel-centre coordinates in [-1, 1]. Returns (n, H, W) in the same units.
    """
    dev = x.device
    cx = scenes.center[:, 0].to(dev)[:, None, None]
    cy = scenes.center[:, 1].to(dev)[:, None, None]
    r = scenes.radius.to(dev)[:, None, None]
    a = scenes.angle.to(dev)[:, None, None]
    dx, dy = x - cx, y - cy
    # Rotate into the shape's own frame.
    qx = dx * torch.cos(a) + dy * torch.sin(a)
    qy = -dx * torch.sin(a) + dy * torch.cos(a)

    circle = torch.sqrt(dx * dx + dy * dy) - r
    # Square with about the circle's area at the same radius.
    square = torch.maximum(qx.abs(), qy.abs()) - 0.85 * r
    # Equilateral triangle with circumradius 1.15 r: inside = behind all three edges.
    tri_r = 1.15 * r
    tri = None
    for k in range(3):
        t = k * 2 * math.pi / 3
        d = qx * math.cos(t) + qy * math.sin(t) - tri_r / 2
        tri = d if tri is None else torch.maximum(tri, d)
    # Five-pointed star: fold the angle into one point's half-wedge and measure the distance to
    # the edge from the outer tip (angle 0) to the inner corner (angle pi/5).
    outer, inner = 1.2 * r, 0.55 * r
    rho = torch.sqrt(qx * qx + qy * qy)
    wedge = 2 * math.pi / 5
    phi = torch.remainder(torch.atan2(qy, qx), wedge)
    phi = math.pi / 5 - (phi - math.pi / 5).abs()
    px, py = rho * torch.cos(phi), rho * torch.sin(phi)
    ax, ay = outer, torch.zeros_like(outer)
    bx, by = inner * math.cos(math.pi / 5), inner * math.sin(math.pi / 5)
    ex, ey = bx - ax, by - ay
    length = torch.sqrt(ex * ex + ey * ey)
    nx, ny = ey / length, -ex / length  # outward normal (away from the centre)
    star = (px - ax) * nx + (py - ay) * ny

    kinds = scenes.shape.to(dev)[:, None, None]
    return torch.where(
        kinds == 0, circle, torch.where(kinds == 1, square, torch.where(kinds == 2, tri, star))
    )


def render(scenes: Scenes, size: int = 256, device: str | torch.device = "cpu") -> torch.Tensor:
    """Render scenes to an (n, 3, size, size) float tensor in [-1, 1] on ``device``."""
    dev = torch.device(device)
    palette = torch.tensor([COLORS[c] for c in COLOR_NAMES], dtype=torch.float32, device=dev)
    jitter = scenes.jitter.to(dev)
    fg = (palette[scenes.color.to(dev)] + jitter[:, 0]).clamp(0, 255)
    c1 = (palette[scenes.bg.to(dev)] + jitter[:, 1]).clamp(0, 255)
    c2 = (palette[scenes.bg2.to(dev)] + jitter[:, 2]).clamp(0, 255)
    same = (scenes.bg == scenes.bg2).to(dev)[:, None]
    c2 = torch.where(same, c1, c2)

    coords = (torch.arange(size, device=dev, dtype=torch.float32) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    x, y = x[None], y[None]

    g = scenes.grad_angle.to(dev)[:, None, None]
    # Gradient position 0..1 along a random direction across the picture.
    t = ((x * torch.cos(g) + y * torch.sin(g)) / math.sqrt(2) + 1) / 2
    t = t.clamp(0, 1)[:, None]
    background = c1[:, :, None, None] * (1 - t) + c2[:, :, None, None] * t

    sd = _signed_distance(scenes, x, y)
    # One pixel of anti-aliasing: distance in pixels, clamped to a 0..1 coverage.
    coverage = (0.5 - sd * (size / 2)).clamp(0, 1)[:, None]
    image = background * (1 - coverage) + fg[:, :, None, None] * coverage
    sec = scenes.second
    if sec is not None:
        view = replace(scenes, shape=sec.shape, center=sec.center, radius=sec.radius, angle=sec.angle)
        cov2 = (0.5 - _signed_distance(view, x, y) * (size / 2)).clamp(0, 1)[:, None]
        cov2 = cov2 * sec.two.to(dev).float()[:, None, None, None]
        fg2 = (palette[sec.color.to(dev)] + sec.jitter.to(dev)).clamp(0, 255)
        image = image * (1 - cov2) + fg2[:, :, None, None] * cov2
    return image / 127.5 - 1


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) in [-1, 1] -> (n, H, W, 3) uint8 on the CPU."""
    return ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
