"""A diffusion brush with the shipped demo model edits the masked region, and only there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from editor.engine.demo import shapes

BLUE = np.array(shapes.COLORS["blue"], dtype=np.float64)


def red_circle_picture() -> np.ndarray:
    scenes = shapes.Scenes(
        shape=torch.tensor([0]), color=torch.tensor([shapes.COLOR_NAMES.index("red")]),
        bg=torch.tensor([shapes.COLOR_NAMES.index("white")]), bg2=torch.tensor([shapes.COLOR_NAMES.index("white")]),
        center=torch.tensor([[0.0, 0.0]]), radius=torch.tensor([0.45]), angle=torch.tensor([0.0]),
        grad_angle=torch.tensor([0.0]), jitter=torch.zeros(1, 3, 3), caption_kind=torch.tensor([0]),
    )
    return np.ascontiguousarray(shapes.to_uint8(shapes.render(scenes, 256))[0].numpy())


def test_brush_turns_masked_region_blue_and_keeps_the_rest(demo_model):
    brush = pytest.importorskip("editor.engine.brush")
    from editor.engine.requests import BrushRequest

    src = red_circle_picture()
    region = np.zeros((256, 256), np.uint8)
    region[80:176, 80:176] = 255
    engine = brush.BrushEngine(demo_model)
    defaults = demo_model.profile.brush_defaults()  # what a new layer starts from
    req = BrushRequest(layer_id="demo", source=src, source_key="red-circle", region=region,
                       prompt="a blue square", seed=0, **defaults)
    result = engine.render(req)

    layer = np.zeros((256, 256, 4), np.uint8)
    x, y = result.offset
    layer[y:y + result.rgba.shape[0], x:x + result.rgba.shape[1]] = result.rgba
    alpha = layer[..., 3:].astype(np.float64) / 255.0
    out = np.round(src * (1 - alpha) + layer[..., :3] * alpha).astype(np.uint8)
    inside = region == 255
    before = src[inside].astype(np.float64).mean(0)
    after = out[inside].astype(np.float64).mean(0)
    d_before = np.linalg.norm(before - BLUE)
    d_after = np.linalg.norm(after - BLUE)
    print(f"\nbrush region mean before {before.round(1)} after {after.round(1)}; "
          f"distance to blue {d_before:.1f} -> {d_after:.1f}")
    assert d_after < d_before - 60, (before, after)
    assert after[2] - after[0] > before[2] - before[0] + 60

    far = cv2.dilate(region, np.ones((49, 49), np.uint8)) == 0  # 24 px beyond the mask
    assert far.any()
    assert (layer[..., 3][far] == 0).all()
    assert np.array_equal(out[far], src[far])
