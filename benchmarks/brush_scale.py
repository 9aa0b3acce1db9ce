"""Does a brush edit cost what the edit is, not what the canvas is? Prints JSON.

    python benchmarks/brush_scale.py                      # demo model + SD1.5-shaped, CPU
    python benchmarks/brush_scale.py --models demo        # just the demo model
    python benchmarks/brush_scale.py --gpu                # on CUDA (fp16), adds SDXL-shaped

For square regions of 64, 256 and 1024 px centred on 512, 2048, 4096 and 8192 px canvases
(a region never larger than half the canvas), through the one render path the window uses
(editor.render_path): the GUI-thread request build and the engine's render of a final edit
with the model profile's default steps (first edit: with the window's VAE encoding; next: a
new seed). Also a brush covering a whole 3000x2000 canvas against a whole-image brush at
512, and the diffusers inpainting pipeline on the whole canvas (what a plain diffusers user
runs; 20 steps, strength 1) on the same model in the same run. Random weights are valid
speed benchmarks (the SD1.5-shaped model is built from its real config, no download).
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from editor import api  # noqa: E402
from editor.core.compositor import Compositor  # noqa: E402
from editor.engine.brush import BrushEngine  # noqa: E402
from editor.engine.models import from_pipeline, load_model  # noqa: E402
from editor.render_path import apply_brush_result, build_brush_request  # noqa: E402

CANVASES = (512, 2048, 4096, 8192)
REGIONS = (64, 256, 1024)
PROMPT = "a red circle"


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def picture(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., 0] = (xx * 255 // w).astype(np.uint8)
    rgba[..., 1] = (yy * 255 // h).astype(np.uint8)
    rgba[..., 2] = ((xx ^ yy) & 255).astype(np.uint8)
    rgba[..., 3] = 255
    return rgba


def sync(model):
    if str(model.device).startswith("cuda"):
        torch.cuda.synchronize()


def edit_case(model, w, h, box, steps):
    doc = api.new_document(w, h)
    doc.add_raster_layer("picture", picture(w, h))
    region = np.zeros((h, w), np.uint8)
    x, y, bw, bh = box
    region[y:y + bh, x:x + bw] = 255
    layer = doc.add_brush_layer(region, PROMPT, seed=1, model=model, steps=steps)
    comp = Compositor(doc.core)
    engine = BrushEngine(model)
    out = {}
    try:
        t = time.perf_counter()
        req = build_brush_request(doc.core, layer, model.profile, comp)
        out["request_build_first_ms"] = round((time.perf_counter() - t) * 1000, 2)
        t = time.perf_counter()
        req = build_brush_request(doc.core, layer, model.profile, comp)
        out["request_build_ms"] = round((time.perf_counter() - t) * 1000, 2)
        out["window"] = list(req.origin) + [req.source.shape[1], req.source.shape[0]]
        out["work_size"] = list(req.work_size)
        sync(model)
        t = time.perf_counter()
        res = engine.render(req)
        sync(model)
        out["first_edit_s"] = round(time.perf_counter() - t, 3)
        layer.params = layer.params.replace(seed=2)
        req = build_brush_request(doc.core, layer, model.profile, comp)
        t = time.perf_counter()
        res = engine.render(req)
        sync(model)
        out["next_edit_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        apply_brush_result(doc.core, layer, res)
        out["apply_ms"] = round((time.perf_counter() - t) * 1000, 2)
        out["unet_evals"] = res.unet_evals
    finally:
        comp.close()
    return out


def inpaint_case(model, size, tmp):
    """The diffusers inpainting pipeline on a whole size x size canvas (the model's 4-channel
    UNet: diffusers blends the known latents back, as for any text-to-image model)."""
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    p = model.pipe
    pipe = StableDiffusionInpaintPipeline(vae=p.vae, text_encoder=p.text_encoder, tokenizer=p.tokenizer, unet=p.unet,
                                          scheduler=p.scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 2 - 32: size // 2 + 32, size // 2 - 32: size // 2 + 32] = 255
    kw = dict(prompt=PROMPT, image=Image.fromarray(picture(size, size)[..., :3]), mask_image=Image.fromarray(mask),
              num_inference_steps=20, strength=1.0, guidance_scale=7.5, height=size, width=size, output_type="np",
              generator=torch.Generator("cpu").manual_seed(0))
    sync(model)
    t = time.perf_counter()
    pipe(**kw)
    sync(model)
    return round(time.perf_counter() - t, 3)


def run_model(name, model, steps, canvases, regions, inpaint_sizes, tmp):
    log("model", name, "profile", model.profile)
    cases = []
    for c in canvases:
        for r in regions:
            if r > c // 2:
                continue
            box = ((c - r) // 2, (c - r) // 2, r, r)
            log(name, "canvas", c, "region", r)
            res = edit_case(model, c, c, box, steps)
            cases.append({"canvas": c, "region": r, **res})
            print(json.dumps(cases[-1]), file=sys.stderr, flush=True)
            gc.collect()
    log(name, "whole-canvas brushes")
    whole_512 = edit_case(model, 512, 512, (0, 0, 512, 512), steps)
    whole_3000 = edit_case(model, 3000, 2000, (0, 0, 3000, 2000), steps)
    inpaint = {}
    for size in inpaint_sizes:
        log(name, "inpainting", size)
        inpaint[str(size)] = inpaint_case(model, size, tmp)

    def edit(canvas, region):
        return next(c["next_edit_s"] for c in cases if c["canvas"] == canvas and c["region"] == region)

    ratios = {
        "small_brush_4096_over_512": round(edit(4096, 64) / edit(512, 64), 2),
        "small_brush_8192_over_512": round(edit(8192, 64) / edit(512, 64), 2),
        "whole_3000x2000_over_whole_512": round(whole_3000["next_edit_s"] / whole_512["next_edit_s"], 2),
    }
    for size, secs in inpaint.items():
        ratios[f"inpaint_{size}_over_brush_64_on_{size}"] = round(secs / edit(int(size), 64), 2)
    return {"model": name, "steps": steps, "profile": str(model.profile), "cases": cases,
            "whole_512": whole_512, "whole_3000x2000": whole_3000, "inpaint_whole_canvas_s": inpaint, "ratios": ratios}


def sd15_shaped(device, dtype, tmp):
    from brush import build_shaped  # benchmarks/brush.py: the real SD1.5 config, random weights

    return from_pipeline(build_shaped("sd15", False, device, dtype, tmp), "random-sd15", device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="demo,sd15")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--sd15-steps", type=int, default=2,
                    help="regeneration steps of the SD1.5-shaped edits (CPU: few, the ratios are what count)")
    ap.add_argument("--canvases", default=",".join(map(str, CANVASES)))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    device = "cuda" if args.gpu else "cpu"
    dtype = torch.float16 if args.gpu else torch.float32
    canvases = tuple(int(c) for c in args.canvases.split(","))
    report = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__, "device": device,
              "threads": torch.get_num_threads(), "results": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            if name == "demo":
                model = load_model("demo", device=device)
                report["results"].append(run_model("demo", model, model.profile.steps, canvases, REGIONS,
                                                   (512,), tmp))
            elif name == "sd15":
                model = sd15_shaped(device, dtype, tmp)
                steps = model.profile.steps if args.gpu else args.sd15_steps
                report["results"].append(run_model("sd15-shaped", model, steps, canvases, REGIONS[:2], (512,), tmp))
            else:
                raise SystemExit(f"unknown model {name!r} (demo, sd15)")
            del model
            gc.collect()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
