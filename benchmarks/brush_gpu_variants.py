"""GPU brush speed, one lever at a time: an SD1.5-shaped random-weight model at 512 px, fp16,
a mask covering a quarter of the image, 5 regeneration steps. Prints JSON, and with --out also
rewrites that file after every measurement (so a run cut short still reports what it got).

    python benchmarks/brush_gpu_variants.py [--runs 10] [--out FILE] [--no-compile]

Measured in one process, in this order (each against the same model and request):
  components  one guided UNet call (batch 2) and one full VAE decode: eager, CUDA graph,
              compiled + CUDA graph (CUDA events, medians)
  edits       BrushEngine.render end to end (final and preview): CUDA graphs; compiled +
              graphs; eager; [--fuse-qkv] compiled with fused
              q/k/v projections
  baseline    diffusers' StableDiffusionInpaintPipeline, 20 steps, strength 1 (same size, mask)
--smoke runs the same code paths on the CPU with 1/8-width models (a check, not a measure).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import brush as bench  # noqa: E402
from editor.engine import cuda_graphs  # noqa: E402
from editor.engine.brush import BrushEngine  # noqa: E402
from editor.engine.models import from_pipeline  # noqa: E402
from editor.engine.requests import BrushRequest  # noqa: E402
from editor.engine.sampling import prompt_cache  # noqa: E402

SIZE = 512


class Report(dict):
    def __init__(self, out):
        super().__init__()
        self.out = out

    def put(self, key, value):
        self[key] = value
        bench.log(key, json.dumps(value)[:300])
        if self.out:
            Path(self.out).write_text(json.dumps(self, indent=1))


def cuda_ms(fn, runs):
    """Median GPU-side time of fn() in ms (CUDA events), or wall time on the CPU."""
    times = []
    for _ in range(runs):
        if torch.cuda.is_available():
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        else:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def reset_graphs():
    cuda_graphs._unet_graphs.clear()
    cuda_graphs._vae_graphs.clear()


def components(pipe, runs, compiled):
    lat = SIZE // 8
    x = torch.randn(2, 4, lat, lat, device=pipe.unet.device, dtype=pipe.unet.dtype)
    z = torch.randn(1, 4, lat, lat, device=pipe.vae.device, dtype=pipe.vae.dtype)
    cond = prompt_cache(pipe).get(bench.PROMPT, "", True)
    t = torch.full((), 500.0, device=x.device)
    out = {}
    out["unet_eager_ms"] = cuda_ms(lambda: pipe.unet(x, t, encoder_hidden_states=cond.embeds, return_dict=False), runs)
    out["vae_decode_eager_ms"] = cuda_ms(lambda: pipe.vae.decode(z, return_dict=False), runs)
    if not torch.cuda.is_available():
        return out
    for label, flag in (("graph", False), ("compiled_graph", True)) if compiled else (("graph", False),):
        t0 = time.perf_counter()
        unet = cuda_graphs.unet_runner(pipe.unet, flag)
        unet(x, t, cond.embeds)
        vae = cuda_graphs.vae_decode_runner(pipe.vae, flag)
        vae(z)
        out[f"{label}_setup_s"] = round(time.perf_counter() - t0, 1)
        out[f"unet_{label}_ms"] = cuda_ms(lambda: unet(x, t, cond.embeds), runs)
        out[f"vae_decode_{label}_ms"] = cuda_ms(lambda: vae(z), runs)
        out[f"{label}_failures"] = unet.failures + vae.failures
    return out


def edits(model, runs, **engine_kw):
    engine = BrushEngine(model, trajectory_steps=20, **engine_kw)
    src, region = bench.test_image(SIZE), bench.quarter_mask(SIZE)
    device = model.pipe.unet.device

    def edit(seed, preview=False):
        req = BrushRequest("bench", src, "bench", region, bench.PROMPT, seed=seed, strength=1.0, steps=5,
                           guidance=bench.GUIDANCE, preview=preview)
        bench.sync(device)
        t = time.perf_counter()
        engine.render(req)
        bench.sync(device)
        return (time.perf_counter() - t) * 1000

    t0 = time.perf_counter()
    for seed in range(3):
        edit(10_000 + seed)
        edit(20_000 + seed, preview=True)
    setup = time.perf_counter() - t0
    final = [edit(seed) for seed in range(runs)]
    preview = [edit(100 + seed, preview=True) for seed in range(runs)]
    return {"final_median_ms": round(statistics.median(final), 1), "final_runs_ms": [round(v, 1) for v in final],
            "preview_median_ms": round(statistics.median(preview), 1), "warmup_s": round(setup, 1),
            "unet_evals": engine.stats["unet_evals"]}


def guarded(report, key, fn):
    try:
        report.put(key, fn())
    except Exception as exc:  # noqa: BLE001 - record the failure and go on with the next lever
        report.put(key, {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]})


def main():
    global SIZE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", help="also write the JSON here after every measurement")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile levers")
    ap.add_argument("--fuse-qkv", action="store_true", help="also: compiled with fused q/k/v projections")
    ap.add_argument("--smoke", action="store_true", help="CPU, 1/8-width models, 128 px")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    report = Report(args.out)
    device, dtype = ("cuda", torch.float16) if torch.cuda.is_available() and not args.smoke else ("cpu", torch.float32)
    if args.smoke:
        bench.DIV, SIZE = 8, 128
    report.put("setup", {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                         "torch": torch.__version__, "size": SIZE, "regeneration_steps": 5,
                         "mask": "centred square, a quarter of the image", "guidance": bench.GUIDANCE})
    compiled = device == "cuda" and not args.no_compile
    with tempfile.TemporaryDirectory() as tmp:
        pipe = bench.build_shaped("sd15", False, device, dtype, tmp)
        model = from_pipeline(pipe, "random-sd15", device)
        guarded(report, "components", lambda: components(pipe, args.runs, compiled))
        reset_graphs()
        guarded(report, "edit_cuda_graphs", lambda: edits(model, args.runs))
        if compiled:
            reset_graphs()
            model.set_compiled(True)
            guarded(report, "edit_compiled_cuda_graphs", lambda: edits(model, args.runs))
            model.set_compiled(False)
        pipe.layerbrush_cuda_graphs = False
        guarded(report, "edit_eager", lambda: edits(model, max(3, args.runs // 2)))
        pipe.layerbrush_cuda_graphs = True
        if compiled and args.fuse_qkv:
            reset_graphs()
            model.set_compiled(True)
            pipe.unet.fuse_qkv_projections()
            guarded(report, "edit_compiled_cuda_graphs_fused_qkv", lambda: edits(model, args.runs))
        del model, pipe
        bench._free()
        base = bench.build_shaped("sd15", True, device, dtype, tmp)
        guarded(report, "baseline_inpaint_20_steps", lambda: bench.time_inpaint(base, SIZE, max(3, args.runs // 2)))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
