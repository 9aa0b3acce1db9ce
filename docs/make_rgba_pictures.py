"""Pictures of the demo model's transparent layers for the docs (CPU, under a minute).

    python docs/make_rgba_pictures.py            # writes docs/rgba_demo.png

Row by row, for a few fixed prompts and seeds: the layer on a checkerboard, its alpha, and
the layer composited on a picture the demo model generated as a background.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = (("a red star", 0), ("a blue circle", 1), ("a yellow triangle", 2), ("a green square", 3),
           ("a glass purple circle", 4))
BACKGROUND = ("a white circle on a blue and green gradient background", 7)


def checkerboard(h: int, w: int, cell: int = 16) -> np.ndarray:
    y, x = np.indices((h, w))
    return np.where(((y // cell + x // cell) % 2)[..., None] == 0, 200, 150).astype(np.uint8).repeat(3, 2)


def over(rgba: np.ndarray, under: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3] * a + under[..., :3] * (1 - a)).round().astype(np.uint8)


def main(argv=None) -> int:
    import torch
    from PIL import Image

    from editor.engine.base import generate_image
    from editor.engine.models import load_model
    from editor.engine.rgba import generate_rgba

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=str(Path(__file__).parent / "rgba_demo.png"))
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model("demo", device="cpu")
    bg = generate_image(model, BACKGROUND[0], 256, 256, seed=BACKGROUND[1], steps=args.steps)
    rows = []
    for prompt, seed in PROMPTS:
        rgba = generate_rgba(model, prompt, 256, 256, seed=seed, steps=args.steps)
        alpha = rgba[..., 3:4].repeat(3, 2)
        rows.append(np.concatenate([over(rgba, checkerboard(256, 256)), alpha, over(rgba, bg)], axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
