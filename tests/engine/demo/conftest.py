"""Fixtures for the shipped demo model: loaded once per session on the CPU, plus the fixed
evaluation set (prompts and seeds chosen by formula, not picked by looking at results)."""

from __future__ import annotations

import numpy as np
import pytest

from editor.engine.demo.shapes import COLOR_NAMES, SHAPES, caption

EVAL_STEPS = 12
EVAL_GUIDANCE = 7.5


def eval_set() -> list[tuple[str, str, str, int]]:
    """24 (shape, colour, background, seed): every colour 3 times, every shape 6 times."""
    items = []
    for i in range(24):
        c = i % 8
        shape = SHAPES[(i // 8 + i) % 4]
        bg = COLOR_NAMES[(c + 1 + i % 7) % 8]  # never the shape's own colour
        items.append((shape, COLOR_NAMES[c], bg, i))
    return items


@pytest.fixture(scope="session")
def demo_model():
    from editor.engine.models import load_model

    return load_model("demo", device="cpu")


@pytest.fixture(scope="session")
def eval_images(demo_model) -> list[np.ndarray]:
    """The evaluation set generated in one batch (HxWx3 uint8 each)."""
    import torch

    items = eval_set()
    prompts = [caption(shape, color, bg) for shape, color, bg, _ in items]
    generators = [torch.Generator().manual_seed(seed) for *_, seed in items]
    out = demo_model.pipe(
        prompts,
        height=256,
        width=256,
        num_inference_steps=EVAL_STEPS,
        guidance_scale=EVAL_GUIDANCE,
        generator=generators,
        output_type="np",
    ).images
    return [(np.asarray(im) * 255).round().clip(0, 255).astype(np.uint8) for im in out]
