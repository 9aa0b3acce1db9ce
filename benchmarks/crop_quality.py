"""Does rendering a brush edit on a crop keep the result as good as rendering the whole
picture? The design (diffusion-brushes.md) turns region cropping on only once a comparison
shows that; this is the comparison. Prints JSON.

    python benchmarks/crop_quality.py [--size 256] [--steps 15]

On the bundled demo model (trained, so its outputs mean something) and pictures it
generated itself, small square regions are repainted toward another colour, each with the
whole picture rendered (crop=False) and with the crop (crop=True), and with a second seed
on the whole picture. Per case:
  hit      the region's mean colour is nearest to the prompt's colour
  toward   how much closer (RGB distance) the region's mean colour moved to the prompt's
  seam     mean absolute Laplacian of the composite inside the feathered band, where a
           badly joined edit shows (lower is smoother); the source's own value is given
  change   mean absolute difference in the region: crop vs whole, and whole with seed s vs
           whole with seed s+1 (how much a seed alone changes it)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from editor.engine.base import generate_image  # noqa: E402
from editor.engine.brush import BrushEngine  # noqa: E402
from editor.engine.demo import shapes  # noqa: E402
from editor.engine.models import load_model  # noqa: E402
from editor.engine.requests import BrushRequest  # noqa: E402

BASES = (("circle", "red", "white"), ("square", "yellow", "blue"), ("triangle", "green", "black"))
TARGETS = {"red": "blue", "yellow": "purple", "green": "orange"}


def composite(rgba, src):
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    return np.round(rgba[..., :3] * a + src * (1 - a)).astype(np.uint8)


def nearest_colour(rgb) -> str:
    return min(shapes.COLORS, key=lambda n: float(np.linalg.norm(np.asarray(shapes.COLORS[n], float) - rgb)))


def seam(img, band) -> float:
    lap = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
    return float(np.abs(lap)[band].mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=15, help="regeneration steps of each edit (of 20)")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    size = args.size
    model = load_model("demo", device="cpu")
    whole, crop = BrushEngine(model, crop=False), BrushEngine(model, crop=True)
    seen = []  # latent sizes the UNet was called with
    forward = model.pipe.unet.forward
    model.pipe.unet.forward = lambda x, *a, **k: (seen.append(tuple(x.shape[2:])), forward(x, *a, **k))[1]
    cases, t0 = [], time.perf_counter()
    for b, (shape, colour, bg) in enumerate(BASES):
        src = generate_image(model, shapes.caption(shape, colour, bg), size, size, seed=b, steps=20)[..., :3].copy()
        target = TARGETS[colour]
        prompt = shapes.caption("square", target)
        for side in (size * 3 // 16, size // 4, size * 5 // 16):
            top = left = (size - side) // 2
            region = np.zeros((size, size), np.uint8)
            region[top:top + side, left:left + side] = 255
            for seed in range(args.seeds):
                def render(engine, s):
                    req = BrushRequest("q", src, f"base{b}", region, prompt, seed=s, strength=1.0,
                                       steps=args.steps, guidance=7.5)
                    return engine.render(req).rgba

                full = render(whole, seed)
                cropped = render(crop, seed)
                crop_latent = seen[-1]
                other = render(whole, seed + 100)
                inside = region == 255
                band = (full[..., 3] > 0) & (full[..., 3] < 255)
                out = {}
                for name, rgba in (("whole", full), ("crop", cropped)):
                    img = composite(rgba, src)
                    goal = np.asarray(shapes.COLORS[target], float)
                    toward = np.linalg.norm(src[inside].mean(0) - goal) - np.linalg.norm(img[inside].mean(0) - goal)
                    out[name] = {"hit": nearest_colour(img[inside].mean(0)) == target, "toward": float(toward),
                                 "seam": seam(img, band)}
                diff = lambda p, q: float(np.abs(p[..., :3].astype(int) - q[..., :3].astype(int))[inside].mean())  # noqa: E731
                cases.append({"base": f"{colour} {shape} on {bg}", "target": target, "side": side, "seed": seed,
                              "crop_latent": crop_latent, "whole_latent": (size // 8, size // 8),
                              "whole": out["whole"], "crop": out["crop"], "source_seam": seam(src, band),
                              "crop_vs_whole": diff(cropped, full), "seed_vs_seed": diff(other, full)})
                print(json.dumps(cases[-1]), file=sys.stderr, flush=True)

    def mean(key, sub=None):
        vals = [c[key][sub] if sub else c[key] for c in cases]
        return round(statistics.fmean(float(v) for v in vals), 3)

    summary = {
        "cases": len(cases), "size": size, "regeneration_steps": args.steps,
        "hit_rate_whole": mean("whole", "hit"), "hit_rate_crop": mean("crop", "hit"),
        "toward_whole": mean("whole", "toward"), "toward_crop": mean("crop", "toward"),
        "seam_whole": mean("whole", "seam"), "seam_crop": mean("crop", "seam"), "seam_source": mean("source_seam"),
        "region_change_crop_vs_whole": mean("crop_vs_whole"), "region_change_seed_vs_seed": mean("seed_vs_seed"),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps({"summary": summary, "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
