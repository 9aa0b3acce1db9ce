"""With the defaults a new layer gets, a brush on the demo model paints what the prompt says
and leaves the background it does not change exactly as it was (the user's path: the API)."""

from __future__ import annotations

import numpy as np
import pytest

from editor import api
from editor.engine.demo import shapes

PALETTE = np.asarray([shapes.COLORS[c] for c in shapes.COLOR_NAMES], np.float32)
# (base shape, colour, background) -> prompts naming colours absent from the base
CASES = [(("circle", "red", "white"), ("square", "yellow")), (("circle", "red", "white"), ("square", "green")),
         (("circle", "red", "white"), ("triangle", "blue")), (("square", "yellow", "blue"), ("circle", "red")),
         (("square", "yellow", "blue"), ("circle", "white")), (("square", "yellow", "blue"), ("square", "green")),
         (("triangle", "green", "black"), ("square", "yellow")), (("triangle", "green", "black"), ("circle", "red"))]


def nearest(rgb: np.ndarray) -> np.ndarray:
    return (((rgb[..., None, :].astype(np.float32) - PALETTE) ** 2).sum(-1)).argmin(-1)


def corner_box(src: np.ndarray, bg: str, side: int = 96) -> np.ndarray:
    """The image corner most covered by background."""
    is_bg = nearest(src) == shapes.COLOR_NAMES.index(bg)
    n = src.shape[0]
    corners = [(0, 0), (0, n - side), (n - side, 0), (n - side, n - side)]
    y, x = max(corners, key=lambda c: is_bg[c[0]:c[0] + side, c[1]:c[1] + side].mean())
    region = np.zeros(src.shape[:2], np.uint8)
    region[y:y + side, x:x + side] = 255
    return region


@pytest.fixture(scope="module")
def bases(demo_model):
    out = {}
    for (shape, colour, bg), _ in CASES:
        if (shape, colour, bg) not in out:
            out[(shape, colour, bg)] = api.generate_image(demo_model, shapes.caption(shape, colour, bg), 256, 256,
                                                          seed=len(out), steps=20)
    return out


def brush(demo_model, base, region, prompt, seed, **params):
    doc = api.new_document(256, 256)
    doc.add_raster_layer("picture", base)
    doc.add_brush_layer(region, prompt, seed=seed, model=demo_model, **params)
    assert api.render_layers(doc, demo_model) == 1
    return doc.render()[..., :3]


def test_default_brush_paints_the_prompt_and_keeps_the_background(demo_model, bases):
    hits, shifts = [], []
    for n, ((shape, colour, bg), (tshape, tcolour)) in enumerate(CASES):
        base = bases[(shape, colour, bg)]
        src = base[..., :3]
        region = corner_box(src, bg)
        out = brush(demo_model, base, region, shapes.caption(tshape, tcolour), seed=n)
        inside = region == 255
        target = nearest(out) == shapes.COLOR_NAMES.index(tcolour)
        hits.append(float(target[inside].mean()))
        untouched = inside & ~target
        shifts.append(float(np.median(np.abs(out.astype(int) - src)[untouched].mean(-1))))
        far = np.ones_like(inside)
        far[max(0, region.nonzero()[0].min() - 40): region.nonzero()[0].max() + 40,
            max(0, region.nonzero()[1].min() - 40): region.nonzero()[1].max() + 40] = False
        assert np.array_equal(out[far], src[far])  # beyond the band: the picture bit for bit
    print("\nprompted share per case", np.round(hits, 2), "background shift", np.round(shifts, 1))
    assert sum(h >= 0.10 for h in hits) >= 0.8 * len(CASES)
    assert np.median(shifts) <= 6.0


def test_more_strength_changes_more(demo_model, bases):
    (shape, colour, bg), (tshape, tcolour) = CASES[3]
    base = bases[(shape, colour, bg)]
    region = corner_box(base[..., :3], bg)
    change = []
    for strength in (0.0, 0.5, 0.75, 1.0):
        out = brush(demo_model, base, region, shapes.caption(tshape, tcolour), seed=3, strength=strength)
        change.append(float(np.abs(out.astype(int) - base[..., :3])[region == 255].mean()))
    print("\nmean change by strength", np.round(change, 2))
    # (on the demo model a low strength keeps the picture: the change gate shows the source there)
    assert change[0] == 0.0
    assert all(b >= a - 1.0 for a, b in zip(change, change[1:]))  # within a level of rounding
    assert change[-1] > change[1] + 5
