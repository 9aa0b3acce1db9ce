"""A long strip of new canvas on the demo model: tiled (the profile's max_tiles) against one
shrunken window (max_tiles=1), same run. Prints JSON; saves a contact sheet with --pictures.

    python benchmarks/long_strips.py [--pictures docs/bench/long_strips.png]

Each case is a 1024 x 160 picture: four generated 256 px pictures of shapes on one
background, side by side, with their top 96 rows cut off, so shapes reach the top edge.
Expand then adds a 1024 x 96 strip along that edge. Per mode: seconds, the working window's
scale (working pixels per canvas pixel), UNet calls, the strip's share within 40 levels of
the background colour, and its detail: the mean gradient magnitude in the strip over that of
the picture's top 96 rows (1: as detailed as the picture; a shrunken window paints a blur).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from editor import api  # noqa: E402
from editor.core import profiles  # noqa: E402
from editor.engine.demo import shapes  # noqa: E402
from editor.render_path import brush_window  # noqa: E402

CASES = (("blue", (("circle", "red"), ("star", "yellow"), ("square", "white"), ("triangle", "orange"))),
         ("white", (("square", "green"), ("circle", "purple"), ("star", "red"), ("circle", "black"))),
         ("black", (("triangle", "yellow"), ("square", "red"), ("circle", "white"), ("star", "green"))))
CUT, STRIP = 96, 96


def detail(rgb: np.ndarray) -> float:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)).mean())


def picture(model, bg, objects, seed):
    tiles = [api.generate_image(model, shapes.caption(s, c, bg), 256, 256, seed=seed + i, steps=12)
             for i, (s, c) in enumerate(objects)]
    return np.ascontiguousarray(np.concatenate(tiles, 1)[CUT:])


def expand(model, pic, tiles):
    profiles.DEMO = profiles.DEMO.replace(max_tiles=tiles)  # what model.profile is built from
    doc = api.new_document(pic.shape[1], pic.shape[0])
    doc.add_raster_layer("picture", pic)
    t = time.perf_counter()
    calls = []
    unet = model.pipe.unet
    forward = unet.forward
    unet.forward = lambda sample, *a, **k: (calls.append(1), forward(sample, *a, **k))[1]
    try:
        layer = api.expand_canvas(doc, model, top=STRIP)
    finally:
        del unet.forward
    seconds = time.perf_counter() - t
    win = brush_window(api._core(doc), layer, model.profile)
    return doc.render()[..., :3].copy(), seconds, win, len(calls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pictures", type=Path)
    args = ap.parse_args()
    model = api.load_model("demo", "cpu")
    default = model.profile.max_tiles
    rows, sheet = [], []
    for n, (bg, objects) in enumerate(CASES):
        pic = picture(model, bg, objects, 10 * n)
        row = {"background": bg}
        for tiles in (1, default):
            out, seconds, win, calls = expand(model, pic, tiles)
            strip = out[:STRIP]
            near = np.abs(strip.astype(np.float32) - np.float32(shapes.COLORS[bg])).mean(-1) < 40
            row[f"max_tiles_{tiles}"] = {
                "seconds": round(seconds, 2), "window": [win.rect.w, win.rect.h], "work": [win.work_w, win.work_h],
                "scale": round(win.scale, 3), "unet_calls": calls, "background_share": round(float(near.mean()), 3),
                "detail_vs_picture": round(detail(strip) / max(1e-6, detail(pic[:STRIP])), 3)}
            sheet.append(out)
        sheet.append(np.full((12, pic.shape[1], 3), 255, np.uint8))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    profiles.DEMO = profiles.DEMO.replace(max_tiles=default)
    if args.pictures:
        args.pictures.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.pictures), cv2.cvtColor(np.concatenate(sheet), cv2.COLOR_RGB2BGR))
    print(json.dumps({"benchmark": "long_strips", "strip": [1024, STRIP], "cases": rows}, indent=1))


if __name__ == "__main__":
    main()
