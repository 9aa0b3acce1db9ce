"""Do Remove and Expand mean what they say on the demo model? Prints JSON.

    python benchmarks/verb_quality.py [--pictures docs/bench/verbs] [--strengths 0.5,0.75,1.0]

Six generated 256 px pictures of one shape on a flat background (the demo's captions). Per
picture and strength:
  remove   the shape (pixels far from the background colour, holes closed, dilated 4 px) is
           removed through the API (negative prompt: the shape's caption); the share of the
           shape's pixels whose colour is within 40 levels of the background afterwards
           (0 before), and the median distance to the background colour there
  expand   at the profile's default strength, 96 px added on the right and 32 px at the
           bottom: the share of the new strip within 40 levels of the background colour
The background colour is the demo palette's, which the model paints.
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

from editor import api  # noqa: E402
from editor.engine.demo import shapes  # noqa: E402

BASES = (("circle", "red", "white"), ("square", "yellow", "blue"), ("triangle", "green", "black"),
         ("star", "purple", "yellow"), ("circle", "blue", "orange"), ("square", "white", "green"))


def shape_mask(rgb, bg):
    far = (np.abs(rgb.astype(np.float32) - np.float32(shapes.COLORS[bg])).max(-1) > 60).astype(np.uint8) * 255
    return cv2.morphologyEx(far, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))


def near(rgb, bg):
    return np.abs(rgb.astype(np.float32) - np.float32(shapes.COLORS[bg])).mean(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pictures", type=Path)
    ap.add_argument("--strengths", default="0.5,0.75,1.0")
    args = ap.parse_args()
    strengths = [float(s) for s in args.strengths.split(",")]
    model = api.load_model("demo", "cpu")
    rows, sheets = [], []
    for n, (shape, col, bg) in enumerate(BASES):
        doc = api.new_document(256, 256)
        doc.add_base_layer(model, shapes.caption(shape, col, bg), seed=n, steps=12)
        src = doc.render()[..., :3].copy()
        obj = shape_mask(src, bg)
        mask = cv2.dilate(obj, np.ones((9, 9), np.uint8))
        row = {"picture": shapes.caption(shape, col, bg), "remove": {}}
        strip = [src]
        for s in strengths:
            t = time.perf_counter()
            layer = doc.add_remove_layer(mask, negative_prompt=shapes.caption(shape, col), strength=s, model=model)
            api.render_layers(doc, model)
            out = doc.render()[..., :3].copy()
            d = near(out[obj > 0], bg)
            row["remove"][str(s)] = {"background_share": round(float((d < 40).mean()), 3),
                                     "median_distance": round(float(np.median(d)), 1),
                                     "seconds": round(time.perf_counter() - t, 2)}
            strip.append(out)
            doc.remove_layer(layer)
        t = time.perf_counter()
        api.expand_canvas(doc, model, right=96, bottom=32)
        wide = doc.render()[..., :3]
        new = np.concatenate([wide[:, 256:].reshape(-1, 3), wide[256:, :256].reshape(-1, 3)])
        row["expand"] = {"background_share": round(float((near(new, bg) < 40).mean()), 3),
                         "seconds": round(time.perf_counter() - t, 2)}
        rows.append(row)
        sheets.append((np.concatenate(strip, 1), wide))
        print(json.dumps(row), file=sys.stderr)
    summary = {s: statistics.median(r["remove"][str(s)]["background_share"] for r in rows) for s in strengths}
    result = {"benchmark": "verb_quality", "model": "demo", "cases": rows,
              "median_remove_background_share": summary,
              "median_expand_background_share": statistics.median(r["expand"]["background_share"] for r in rows)}
    if args.pictures:
        args.pictures.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(np.concatenate([s for s, _ in sheets], 0)).save(args.pictures / "remove.png")
        pad = max(w.shape[1] for _, w in sheets)
        Image.fromarray(np.concatenate([np.pad(w, ((0, 0), (0, pad - w.shape[1]), (0, 0))) for _, w in sheets],
                                       0)).save(args.pictures / "expand.png")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
