"""Brush vs whole-canvas inpainting on an SD1.5-shaped model (random weights) at the
profile's own steps, on a 512 px canvas, same run. Prints JSON.

    python benchmarks/brush_vs_inpaint_sd15.py [--size 512]

brush_scale.py runs the SD1.5-shaped edits with 2 steps to fit the CPU; this one uses the
profile's steps (10) against diffusers inpainting at 20 steps, so the ratio is the one a
user sees.
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
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        model = sd15_shaped("cpu", torch.float32, tmp)
        s = args.size
        brush = edit_case(model, s, s, ((s - 64) // 2, (s - 64) // 2, 64, 64), model.profile.steps)
        inpaint = inpaint_case(model, s, tmp)
    print(json.dumps({"benchmark": "brush_vs_inpaint_sd15", "canvas": s, "brush_steps": model.profile.steps,
                      "brush": brush, "inpaint_20_steps_s": inpaint,
                      "inpaint_over_brush_next_edit": round(inpaint / brush["next_edit_s"], 2)}, indent=1))


if __name__ == "__main__":
    main()
