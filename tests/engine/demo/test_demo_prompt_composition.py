"""Composed prompts mean something on the shipped demo model (fixed prompts and seeds, CPU, ~1 min).

"a red circle AND a blue square" gives two shapes in the two colours: the demo UNet was
fine-tuned on two-shape scenes through the AND itself (training_info.json's fine_tunes,
docs/prompt-syntax.md), while each prompt alone still gives one shape in one colour. The
terms' weights steer the result too: of two colours composed with weights 0.9 and 0.1 the
heavier one wins, and swapping the weights swaps the colour. The cases are those of
benchmarks/prompt_composition.py, fixed before the model was trained.
"""
from __future__ import annotations

import pytest
from demo_classify import classify, shows_both

from editor.engine.base import generate_image

PAIRS = [("red", "blue", "circle"), ("yellow", "purple", "square")]
SEEDS = range(4)


def _composed(c1, w1, c2, w2, shape):
    return (f"a {c1} {shape} on a white background :{w1} AND "
            f"a {c2} {shape} on a white background :{w2}")


@pytest.mark.parametrize("c1, c2, shape", PAIRS)
def test_the_heavier_term_decides_the_colour(demo_model, c1, c2, shape):
    import torch

    torch.set_num_threads(2)
    readings = {}
    for w1, w2, expected in ((0.9, 0.1, c1), (0.1, 0.9, c2)):
        prompt = _composed(c1, w1, c2, w2, shape)
        colours = [classify(generate_image(demo_model, prompt, 256, 256, seed=s, steps=12, guidance=7.5)[..., :3]).color
                   for s in SEEDS]
        readings[expected] = colours
    print("\ncomposed colours:", readings)
    for expected, colours in readings.items():
        assert colours.count(expected) >= len(SEEDS) - 1, readings


AND_PAIRS = [("red", "circle", "blue", "square"), ("yellow", "star", "purple", "circle")]


def test_and_shows_both_prompts(demo_model):
    import torch

    torch.set_num_threads(2)
    counts = {"composed": 0, "first": 0, "second": 0}
    for c1, s1, c2, s2 in AND_PAIRS:
        p1, p2 = f"a {c1} {s1} on a white background", f"a {c2} {s2} on a white background"
        for name, prompt in (("composed", f"{p1} AND {p2}"), ("first", p1), ("second", p2)):
            for seed in SEEDS:
                image = generate_image(demo_model, prompt, 256, 256, seed=seed, steps=12, guidance=7.5)[..., :3]
                counts[name] += shows_both(image, c1, c2)
    print("\npictures showing both colours (of 8):", counts)
    assert counts["composed"] > len(AND_PAIRS) * len(SEEDS) / 2, counts
    assert counts["first"] <= 1 and counts["second"] <= 1, counts  # one prompt alone is not both
