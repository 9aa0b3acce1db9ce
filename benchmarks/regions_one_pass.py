"""Regions in one pass vs N separate brush edits of the same regions, same run. Prints JSON.

    python benchmarks/regions_one_pass.py                 # demo model, CPU, 2/4/8 regions
    python benchmarks/regions_one_pass.py --counts 2 4    # fewer

For N = 2, 4 and 8 square regions (64 px) on a 512 px picture, through the one render path
(editor.render_path): the same brush layers rendered (a) as N separate layers (N windows, N
edits) and (b) as one render-together group (one window over all regions, one pass). For each:
the first render (window encodes and trajectories included) and the next (new seeds: the
trajectories are cached), wall time, UNet calls and batch rows.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from editor import api  # noqa: E402
from editor.core.compositor import Compositor  # noqa: E402
from editor.engine.brush import BrushEngine  # noqa: E402
from editor.render_path import render_brush_layers  # noqa: E402

SIZE = 512
SIDE = 64
PROMPTS = ("a red circle", "a blue square", "a yellow star", "a green triangle")


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def picture() -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    rgba = np.full((SIZE, SIZE, 4), 255, np.uint8)
    rgba[..., 0] = 200 + (xx * 55 // SIZE)
    rgba[..., 1] = 200 + (yy * 55 // SIZE)
    return rgba


def regions(n: int) -> list[np.ndarray]:
    """n boxes on a 4 x 2 grid in the middle of the picture."""
    out = []
    for i in range(n):
        x, y = 40 + (i % 4) * 120, 150 + (i // 4) * 140
        r = np.zeros((SIZE, SIZE), np.uint8)
        r[y:y + SIDE, x:x + SIDE] = 255
        out.append(r)
    return out


def document(n: int, together: bool):
    doc = api.new_document(SIZE, SIZE)
    doc.add_raster_layer("picture", picture())
    group = doc.add_group("regions", render_together=together)
    layers = [group.add_brush_layer(r, PROMPTS[i % len(PROMPTS)], seed=i) for i, r in enumerate(regions(n))]
    return doc, layers


def run(model, n: int, together: bool) -> dict:
    doc, layers = document(n, together)
    engine = BrushEngine(model)
    comp = Compositor(doc.core)
    rows = []
    forward = model.pipe.unet.forward
    model.pipe.unet.forward = lambda x, *a, **k: (rows.append(int(x.shape[0])), forward(x, *a, **k))[1]
    out = {}
    try:
        for label, seed_shift in (("first", 0), ("next", 1000)):
            for i, layer in enumerate(layers):
                layer.params = layer.params.replace(seed=i + seed_shift)
            rows.clear()
            t = time.perf_counter()
            count = render_brush_layers(doc.core, engine, model.profile, comp, layers)
            out[f"{label}_s"] = round(time.perf_counter() - t, 3)
            assert count == n
        out["unet_calls"] = len(rows)
        out["unet_batch_rows"] = sum(rows)
    finally:
        model.pipe.unet.forward = forward
        comp.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    model = api.load_model("demo", args.device)
    run(model, 1, False)  # warm up (first-call allocations)
    results = []
    for n in args.counts:
        separate = run(model, n, False)
        log(n, "separate", separate)
        joint = run(model, n, True)
        log(n, "one pass", joint)
        results.append({"regions": n, "separate": separate, "one_pass": joint,
                        "speedup_first": round(separate["first_s"] / joint["first_s"], 2),
                        "speedup_next": round(separate["next_s"] / joint["next_s"], 2)})
    print(json.dumps({"benchmark": "regions_one_pass", "model": "demo", "device": args.device,
                      "steps": model.profile.steps, "canvas": SIZE, "region_side": SIDE,
                      "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
