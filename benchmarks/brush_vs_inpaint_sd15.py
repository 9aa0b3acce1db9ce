"""Brush vs whole-canvas inpainting on an SD1.5-shaped model (random weights) at the
profile's own steps, same run, on canvases of several sizes. Prints JSON.

    python benchmarks/brush_vs_inpaint_sd15.py [--sizes 512,768,1024]

A 64 px brush in the centre of each canvas (worked in its model-size window) against
diffusers inpainting of the whole canvas with the same 64 px mask at 20 steps. brush_scale.py
runs the SD1.5-shaped edits with 2 steps to fit the CPU; this one uses the profile's steps
(10), so the ratio is the one a user sees. Each size's result is also written to stderr as
soon as it is measured.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from brush_scale import edit_case, inpaint_case, sd15_shaped  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="512", help="canvas sides, comma separated")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model = sd15_shaped("cpu", torch.float32, tmp)
        for s in (int(v) for v in args.sizes.split(",")):
            brush = edit_case(model, s, s, ((s - 64) // 2, (s - 64) // 2, 64, 64), model.profile.steps)
            inpaint = inpaint_case(model, s, tmp)
            results.append({"canvas": s, "brush_steps": model.profile.steps, "brush": brush,
                            "inpaint_20_steps_s": inpaint,
                            "inpaint_over_brush_next_edit": round(inpaint / brush["next_edit_s"], 2)})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "brush_vs_inpaint_sd15", "threads": torch.get_num_threads(),
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
