"""Does "a red circle AND a blue square" show both colours on the demo model? Prints JSON.

For fixed pairs and seeds it generates each prompt alone, the two composed with AND
(text-to-image, 256 px, 12 DDIM steps) and, as a control, one plain caption naming both
("a red circle and a blue square on a white background": can the model draw such a scene
at all?) at a few guidance scales, and counts the pictures where each colour covers at
least MIN_SHARE of the pixels (nearest palette colour, as the demo tests read pictures) and
neither is the background (the shipped model reads "... and a blue square" as a blue
background).
--png writes a contact sheet: rows = first alone, second alone, composed, joint caption;
one block of columns per guidance.

    PYTHONPATH=$PWD python benchmarks/prompt_composition.py --png docs/bench/prompt_composition.png
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "engine" / "demo"))

PAIRS = [("red", "circle", "blue", "square"), ("yellow", "star", "purple", "circle")]
MIN_SHARE = 0.01


def main() -> None:
    import torch
    from demo_classify import shows_both

    from editor.engine.base import generate_image
    from editor.engine.models import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--guidance", type=float, nargs="+", default=[3.5, 7.5])
    ap.add_argument("--size", type=int, default=256, help="picture side in pixels")
    ap.add_argument("--suffix", default=" on a white background")
    ap.add_argument("--png", type=Path)
    ap.add_argument("--model", default="demo", help="the demo model, or a folder trained with its script")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_model(args.model, device=args.device)
    t0 = time.time()
    result = {"model": args.model, "device": args.device, "size": args.size, "steps": 12, "min_share": MIN_SHARE,
              "suffix": args.suffix, "runs": []}
    sheet = []
    for g in args.guidance:
        counts = {"first": 0, "second": 0, "composed": 0, "joint_caption": 0}
        rows = {name: [] for name in counts}
        n = 0
        for c1, s1, c2, s2 in PAIRS:
            p1, p2 = f"a {c1} {s1}{args.suffix}", f"a {c2} {s2}{args.suffix}"
            joint = f"a {c1} {s1} and a {c2} {s2}{args.suffix}"
            for seed in range(args.seeds):
                n += 1
                for name, prompt in (("first", p1), ("second", p2), ("composed", f"{p1} AND {p2}"),
                                     ("joint_caption", joint)):
                    img = generate_image(model, prompt, args.size, args.size, seed=seed, steps=12, guidance=g)[..., :3]
                    rows[name].append(img)
                    counts[name] += shows_both(img, c1, c2, MIN_SHARE)
        result["runs"].append({"guidance": g, "pictures_per_prompt": n,
                               "both_colours": counts})
        sheet.append(np.concatenate([np.concatenate(rows[k], 1) for k in rows], 0))
    result["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=1))
    if args.png:
        import cv2

        grid = np.concatenate(sheet, 1)
        cv2.imwrite(str(args.png), cv2.resize(grid, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)[..., ::-1])


if __name__ == "__main__":
    main()
