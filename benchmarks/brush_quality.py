"""Does a diffusion brush paint what its prompt says, and leave the rest alone? Prints JSON.

    python benchmarks/brush_quality.py [--pictures docs/bench/brush_quality] [--cases 12]

On the bundled demo model (trained, so its outputs mean something): pictures it generated
itself ("generated", 256 px, the brush follows their true trajectory where it can) and the
same pictures enlarged to 1024 px as if imported ("imported", no trajectory). On each, a box
on the background away from the shape is brushed with a prompt naming another colour and
shape, with the brush defaults (the model profile's; the old tree: the API's). Per case:
  prompted  share of the region whose colour is nearest the prompted colour (nearest of the
            demo palette, a simple classifier of what the model can draw)
  hit       prompted >= 0.10: the region visibly takes the prompted colour
  bg_shift  median colour shift (mean over RGB, levels) of the untouched background inside
            the region: pixels that are not the prompted colour in the result
  band_step mean |Laplacian| of the composite on the band's edge minus the source's there
            (how visible the edge of the pasted band is)
Runs against whatever `editor` is importable, so the same script measures the tree before
and after a change (run it from each checkout).
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

# (shape, colour, background) of the base pictures and the prompts brushed onto them
BASES = (("circle", "red", "white"), ("square", "yellow", "blue"), ("triangle", "green", "black"),
         ("star", "purple", "yellow"), ("circle", "blue", "orange"), ("square", "white", "green"))
PROMPTS = (("square", "yellow"), ("circle", "red"), ("star", "orange"), ("circle", "white"),
           ("square", "green"), ("triangle", "blue"))
PALETTE = np.asarray([shapes.COLORS[c] for c in shapes.COLOR_NAMES], np.float32)


def classify(rgb: np.ndarray) -> np.ndarray:
    """Index into the demo palette of each pixel's nearest colour."""
    d = ((rgb[..., None, :].astype(np.float32) - PALETTE) ** 2).sum(-1)
    return d.argmin(-1)


def composite(layer_rgba, offset, src):
    out = src.copy()
    h, w = layer_rgba.shape[:2]
    x, y = offset
    a = layer_rgba[..., 3:4].astype(np.float32) / 255.0
    part = out[y:y + h, x:x + w].astype(np.float32)
    out[y:y + h, x:x + w] = np.round(layer_rgba[..., :3] * a + part * (1 - a)).astype(np.uint8)
    return out


def full_alpha(res, shape):
    alpha = np.zeros(shape, np.uint8)
    h, w = res.rgba.shape[:2]
    x, y = getattr(res, "offset", (0, 0))
    alpha[y:y + h, x:x + w] = res.rgba[..., 3]
    return alpha


def background_box(src, bg: str, side: int):
    """A square of background (as classified) farthest from the shape, as an HxW mask."""
    size = src.shape[0]
    is_bg = classify(src) == shapes.COLOR_NAMES.index(bg)
    best, where = -1.0, (0, 0)
    step = max(1, size // 32)
    for y in range(0, size - side + 1, step):
        for x in range(0, size - side + 1, step):
            share = float(is_bg[y:y + side, x:x + side].mean())
            if share > best + 1e-6:
                best, where = share, (x, y)
    region = np.zeros(src.shape[:2], np.uint8)
    region[where[1]:where[1] + side, where[0]:where[0] + side] = 255
    return region, best


def edge_step(img, src, alpha) -> float:
    edge = cv2.morphologyEx((alpha > 0).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    lap = lambda a: np.abs(cv2.Laplacian(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F))  # noqa: E731
    return float(lap(img)[edge].mean() - lap(src)[edge].mean()) if edge.any() else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=12, help="cases per kind of picture (of 36)")
    ap.add_argument("--pictures", type=Path, default=None, help="write before/after PNGs here")
    ap.add_argument("--kinds", default="generated,imported")
    ap.add_argument("--steps", type=int, default=None, help="override the default steps")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    model = load_model("demo", device="cpu")
    engine = BrushEngine(model)
    profile = getattr(model, "profile", None)
    steps = args.steps or (profile.steps if profile is not None else 5)  # old tree: the API default
    strength = profile.strength if profile is not None else 1.0
    pairs = [(b, p) for b in range(len(BASES)) for p in range(len(PROMPTS))
             if PROMPTS[p][1] not in BASES[b][1:]][: args.cases]
    if args.pictures:
        args.pictures.mkdir(parents=True, exist_ok=True)
    cases, t0 = [], time.perf_counter()
    bases = {}
    for kind in args.kinds.split(","):
        for n, (b, p) in enumerate(pairs):
            shape, colour, bg = BASES[b]
            if b not in bases:
                bases[b] = generate_image(model, shapes.caption(shape, colour, bg), 256, 256, seed=b, steps=20)
            src = bases[b][..., :3].copy()
            if kind == "imported":
                src = cv2.resize(src, (1024, 1024), interpolation=cv2.INTER_CUBIC)
            size = src.shape[0]
            region, share = background_box(src, bg, size * 3 // 8)
            tshape, tcolour = PROMPTS[p]
            prompt = shapes.caption(tshape, tcolour)
            req = BrushRequest("q", src, f"{kind}{b}", region, prompt, seed=n, strength=strength, steps=steps,
                               guidance=7.5)
            t1 = time.perf_counter()
            res = engine.render(req)
            secs = time.perf_counter() - t1
            img = composite(res.rgba, getattr(res, "offset", (0, 0)), src)
            inside = region == 255
            cls = classify(img)
            target = shapes.COLOR_NAMES.index(tcolour)
            prompted = float((cls[inside] == target).mean())
            untouched = inside & (cls != target)
            shift = np.abs(img.astype(np.int16) - src.astype(np.int16)).mean(-1)
            case = {"kind": kind, "base": f"{colour} {shape} on {bg}", "prompt": prompt, "size": size,
                    "box_background_share": round(share, 3), "prompted": round(prompted, 3),
                    "hit": prompted >= 0.10,
                    "bg_shift": float(np.median(shift[untouched])) if untouched.any() else 0.0,
                    "band_step": round(edge_step(img, src, full_alpha(res, src.shape[:2])), 3),
                    "seconds": round(secs, 2)}
            cases.append(case)
            print(json.dumps(case), file=sys.stderr, flush=True)
            if args.pictures:
                pair = np.concatenate([src, img], axis=1)
                if size > 256:
                    pair = cv2.resize(pair, (512, 256), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(args.pictures / f"{kind}_{n:02d}.png"), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))

    def summary(sel):
        return {"cases": len(sel), "hit_rate": round(statistics.fmean(c["hit"] for c in sel), 3),
                "prompted_mean": round(statistics.fmean(c["prompted"] for c in sel), 3),
                "bg_shift_median": round(statistics.median(c["bg_shift"] for c in sel), 2),
                "bg_shift_max": round(max(c["bg_shift"] for c in sel), 2),
                "band_step_mean": round(statistics.fmean(c["band_step"] for c in sel), 3),
                "seconds_mean": round(statistics.fmean(c["seconds"] for c in sel), 2)}

    out = {"steps": steps, "strength": strength, "all": summary(cases),
           "by_kind": {k: summary([c for c in cases if c["kind"] == k]) for k in args.kinds.split(",")},
           "seconds": round(time.perf_counter() - t0, 1), "cases": cases}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
