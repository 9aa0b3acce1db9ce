"""Regions in one pass on the demo model: two brush layers of one render-together group, "a red
circle" on the left and "a blue square" on the right, rendered in ONE pass, paint red in the
first region and blue in the second (each region follows its own prompt, not the other's)."""

from __future__ import annotations

import numpy as np

from editor import api
from editor.engine.demo import shapes

PALETTE = np.asarray([shapes.COLORS[c] for c in shapes.COLOR_NAMES], np.float32)
RED, BLUE = shapes.COLOR_NAMES.index("red"), shapes.COLOR_NAMES.index("blue")
SEEDS = (0, 1, 2, 3)


def nearest(rgb: np.ndarray) -> np.ndarray:
    return (((rgb[..., None, :].astype(np.float32) - PALETTE) ** 2).sum(-1)).argmin(-1)


def test_two_regions_in_one_pass_follow_their_own_prompts(demo_model, monkeypatch):
    base = api.generate_image(demo_model, shapes.caption("triangle", "green", "white"), 256, 256, seed=0, steps=20)
    left = np.zeros((256, 256), np.uint8)
    left[8:104, 8:104] = 255
    right = np.zeros((256, 256), np.uint8)
    right[8:104, 152:248] = 255
    calls = []
    forward = demo_model.pipe.unet.forward
    monkeypatch.setattr(demo_model.pipe.unet, "forward", lambda x, *a, **k: (calls.append(x.shape[0]), forward(x, *a, **k))[1])
    hits, shares = 0, []
    for seed in SEEDS:
        doc = api.new_document(256, 256)
        doc.add_raster_layer("picture", base)
        group = doc.add_group("regions", render_together=True)
        group.add_brush_layer(left, shapes.caption("circle", "red"), seed=seed, model=demo_model)
        group.add_brush_layer(right, shapes.caption("square", "blue"), seed=seed + 100, model=demo_model)
        calls.clear()
        assert api.render_layers(doc, demo_model) == 2
        assert len(calls) == demo_model.profile.steps and set(calls) == {3}  # one pass: one edit's steps
        n = nearest(doc.render()[..., :3])
        red_left, blue_left = (n[left > 0] == RED).mean(), (n[left > 0] == BLUE).mean()
        blue_right, red_right = (n[right > 0] == BLUE).mean(), (n[right > 0] == RED).mean()
        shares.append((round(float(red_left), 2), round(float(blue_right), 2)))
        hits += red_left >= 0.10 and blue_right >= 0.10 and red_left > blue_left and blue_right > red_right
    print("\n(red share left, blue share right) per seed", shares)
    assert hits >= 3, shares
