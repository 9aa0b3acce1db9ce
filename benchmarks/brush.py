"""Diffusion brush speed: our brush (R regeneration steps on a cached trajectory) against the
diffusers inpainting pipeline (20 steps, strength 1.0) on the same model shape, same guidance,
a mask covering a quarter of the image. Prints JSON.

    python benchmarks/brush.py                 # (a) tiny model 512 px, (b) SD1.5-shaped 512 px, CPU
    python benchmarks/brush.py --only tiny     # just (a)
    python benchmarks/brush.py --gpu           # fp16 on CUDA: SD1.5-shaped 512 px, SDXL-shaped 1024 px
    python benchmarks/brush.py --demo          # the bundled demo model at 256 and 512 px

Random weights are valid here: speed does not depend on the weights' values. Models are built
from their real configs written inline below (no download). Needs only torch, diffusers,
transformers, numpy, opencv (no Qt).
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from editor.engine.brush import BrushEngine  # noqa: E402
from editor.engine.models import from_pipeline, load_model  # noqa: E402
from editor.engine.requests import BrushRequest  # noqa: E402
from editor.engine.tiny import build_tiny_pipeline, write_tiny_tokenizer  # noqa: E402

PROMPT = "a bouquet of red roses, detailed oil painting"
GUIDANCE = 7.5
QUICK = False  # --quick: skip the eager variant
DIV = 1  # --smoke divides every width by 8 (and depth) to check the code paths on a CPU quickly


def _w(n):
    return n // DIV


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


class UNetCounter:
    def __init__(self, unet):
        self.calls = 0
        self._orig = unet.forward

        def counted(*a, **k):
            self.calls += 1
            return self._orig(*a, **k)

        unet.forward = counted


def test_image(size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.stack([xx * 255 // size, yy * 255 // size, (xx ^ yy) & 255], -1).astype(np.uint8)
    return img


def quarter_mask(size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    q = size // 4
    m[q:q + size // 2, q:q + size // 2] = 255  # a centred square: a quarter of the area
    return m


def time_ours(model, size, runs, steps=5, warmup=1):
    engine = BrushEngine(model, trajectory_steps=20)
    src, region = test_image(size), quarter_mask(size)
    # A Python counter around forward() would make torch.compile recompile on every change of
    # its integer (and give up after 8): count through the engine's own statistics then.
    counter = None if model.compiled else UNetCounter(model.pipe.unet)
    device = model.pipe.unet.device

    def edit(seed):
        req = BrushRequest("bench", src, f"bench-{size}", region, PROMPT, seed=seed, strength=1.0,
                           steps=steps, guidance=GUIDANCE)
        sync(device)
        t = time.perf_counter()
        engine.render(req)
        sync(device)
        return (time.perf_counter() - t) * 1000

    log("ours", size)
    first = edit(10_000)  # includes the source's VAE encoding and the prompt encoding
    for i in range(warmup - 1):
        edit(20_000 + i)
    if counter:
        counter.calls = 0
    evals_before = engine.stats["unet_evals"]
    times = [edit(seed) for seed in range(runs)]
    if counter:
        model.pipe.unet.forward = counter._orig
    # With CUDA graphs a replay never calls forward(), so count the engine's own evaluations;
    # on eager runs both counts must agree.
    evals = (engine.stats["unet_evals"] - evals_before) / runs
    return {"median_ms": round(statistics.median(times), 1), "runs_ms": [round(t, 1) for t in times],
            "first_edit_ms": round(first, 1), "regeneration_steps": steps,
            "unet_evals_per_edit": evals, "forward_calls_per_edit": counter.calls / runs if counter else None}


def time_inpaint(pipe, size, runs, steps=20, warmup=1):
    from PIL import Image

    device = pipe.unet.device
    image = Image.fromarray(test_image(size))
    mask = Image.fromarray(quarter_mask(size))
    embeds = pipe.encode_prompt(PROMPT, device, 1, True, negative_prompt=None) if not _is_xl(pipe) else \
        pipe.encode_prompt(prompt=PROMPT, device=device, num_images_per_prompt=1, do_classifier_free_guidance=True)
    counter = UNetCounter(pipe.unet)

    def edit(seed):
        kw = dict(image=image, mask_image=mask, num_inference_steps=steps, strength=1.0, guidance_scale=GUIDANCE,
                  height=size, width=size, generator=torch.Generator("cpu").manual_seed(seed), output_type="np")
        if _is_xl(pipe):
            kw.update(prompt_embeds=embeds[0], negative_prompt_embeds=embeds[1], pooled_prompt_embeds=embeds[2],
                      negative_pooled_prompt_embeds=embeds[3])
        else:
            kw.update(prompt_embeds=embeds[0], negative_prompt_embeds=embeds[1])
        sync(device)
        t = time.perf_counter()
        pipe(**kw)
        sync(device)
        return (time.perf_counter() - t) * 1000

    log("inpaint baseline", size)
    for i in range(warmup):
        edit(20_000 + i)
    counter.calls = 0
    times = [edit(seed) for seed in range(runs)]
    pipe.unet.forward = counter._orig
    return {"median_ms": round(statistics.median(times), 1), "runs_ms": [round(t, 1) for t in times],
            "steps": steps, "unet_evals_per_edit": counter.calls / runs}


def _is_xl(pipe):
    return getattr(pipe, "text_encoder_2", None) is not None


def compare(ours, base):
    return round(base["median_ms"] / ours["median_ms"], 2) if ours["median_ms"] else None


# ---------------------------------------------------------------- model builders (real shapes, random weights)
def _tokenizer(tmp):
    from transformers import CLIPTokenizer

    write_tiny_tokenizer(Path(tmp) / "tok")
    return CLIPTokenizer.from_pretrained(Path(tmp) / "tok")


def _clip_text(hidden, layers, heads, inter, act, projection=None):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=_w(hidden), intermediate_size=_w(inter),
                         num_hidden_layers=layers if DIV == 1 else 2, num_attention_heads=heads,
                         max_position_embeddings=77, hidden_act=act, bos_token_id=49406, eos_token_id=49407,
                         pad_token_id=49407, projection_dim=_w(projection or 768))
    return CLIPTextModelWithProjection(cfg) if projection else CLIPTextModel(cfg)


def _sd_vae(scaling):
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                         block_out_channels=tuple(_w(c) for c in (128, 256, 512, 512)),
                         norm_num_groups=32 if DIV == 1 else 8, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512, scaling_factor=scaling,
                         force_upcast=False)  # as the fp16-fix VAEs used with SDXL in fp16


def _sd15_unet(in_channels):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=64, in_channels=in_channels, out_channels=4, layers_per_block=2,
        block_out_channels=tuple(_w(c) for c in (320, 640, 1280, 1280)), cross_attention_dim=_w(768),
        attention_head_dim=8, norm_num_groups=32 if DIV == 1 else 8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)


def _sdxl_unet(in_channels):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=128, in_channels=in_channels, out_channels=4, layers_per_block=2,
        block_out_channels=tuple(_w(c) for c in (320, 640, 1280)), cross_attention_dim=_w(2048),
        attention_head_dim=(5, 10, 20), norm_num_groups=32 if DIV == 1 else 8,
        transformer_layers_per_block=(1, 2, 10) if DIV == 1 else (1, 1, 1), use_linear_projection=True,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=6 * 256 + _w(1280))


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1)


def build_shaped(family, inpaint, device, dtype, tmp):
    """A random-weight SD1.5- or SDXL-shaped pipeline (inpaint: 9-channel UNet + inpaint pipeline)."""
    import diffusers

    log("building", family, "inpaint" if inpaint else "")
    with torch.device(device):
        if family == "sd15":
            parts = dict(vae=_sd_vae(0.18215), text_encoder=_clip_text(768, 12, 12, 3072, "quick_gelu"),
                         tokenizer=_tokenizer(tmp), unet=_sd15_unet(9 if inpaint else 4), scheduler=_scheduler(),
                         safety_checker=None, feature_extractor=None, requires_safety_checker=False)
            cls = diffusers.StableDiffusionInpaintPipeline if inpaint else diffusers.StableDiffusionPipeline
        else:
            parts = dict(vae=_sd_vae(0.13025), text_encoder=_clip_text(768, 12, 12, 3072, "quick_gelu"),
                         text_encoder_2=_clip_text(1280, 32, 20, 5120, "gelu", projection=1280),
                         tokenizer=_tokenizer(tmp), tokenizer_2=_tokenizer(tmp),
                         unet=_sdxl_unet(9 if inpaint else 4), scheduler=_scheduler())
            cls = diffusers.StableDiffusionXLInpaintPipeline if inpaint else diffusers.StableDiffusionXLPipeline
        pipe = cls(**parts)
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _free():
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- runs
def run_tiny_cpu(runs):
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(build_tiny_pipeline(Path(tmp) / "tiny"), device="cpu")
        inpaint_dir = build_tiny_pipeline(Path(tmp) / "tiny_inpaint", inpaint=True)
        from diffusers import StableDiffusionInpaintPipeline

        inpaint = StableDiffusionInpaintPipeline.from_pretrained(inpaint_dir, local_files_only=True,
                                                                 safety_checker=None, requires_safety_checker=False)
        inpaint.set_progress_bar_config(disable=True)
        ours = time_ours(model, 512, runs)
        base = time_inpaint(inpaint, 512, runs)
    return {"model": "tiny random-weight SD-shaped (UNet 32/64)", "device": "cpu", "size": 512,
            "ours": ours, "baseline_inpaint": base, "speedup": compare(ours, base)}


def run_shaped(family, size, device, dtype, runs, warmup, compile_unet=False, channels_last=False):
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        pipe = build_shaped(family, False, device, dtype, tmp)
        _tune(pipe, channels_last)
        model = from_pipeline(pipe, f"random-{family}", device)
        model.set_compiled(compile_unet)
        build_s = time.perf_counter() - t
        ours = time_ours(model, size, runs, warmup=warmup)
        eager = None
        if device == "cuda":
            # The same edit without CUDA graph replay, to show what launch overhead costs.
            from editor.engine import cuda_graphs

            unet = cuda_graphs.unet_runner(pipe.unet, compile_unet)
            ours["cuda_graphs"] = {"captures": unet.captures, "failures": unet.failures, "compiled": compile_unet,
                                   "vae_failures": cuda_graphs.vae_decode_runner(pipe.vae, compile_unet).failures}
            if not QUICK:
                pipe.layerbrush_cuda_graphs = False
                eager = time_ours(model, size, runs, warmup=warmup)
                pipe.layerbrush_cuda_graphs = True
        del model, pipe
        _free()
        base_pipe = build_shaped(family, True, device, dtype, tmp)
        _tune(base_pipe, channels_last)
        base = time_inpaint(base_pipe, size, runs, warmup=warmup)
        del base_pipe
        _free()
    out = {"model": f"{family}-shaped random weights", "device": device, "dtype": str(dtype), "size": size,
           "ours": ours, "baseline_inpaint": base, "speedup": compare(ours, base), "build_s": round(build_s, 1)}
    if eager:
        out["ours_eager_no_cuda_graphs"] = eager
    return out


def _tune(pipe, channels_last):
    if channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)


def run_demo(device, runs):
    model = load_model("demo", device=device)
    out = {}
    for size in (256, 512):
        out[str(size)] = time_ours(model, size, runs)
    return {"model": "demo", "device": model.device, "results": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="fp16 on CUDA: SD1.5-shaped 512 px and SDXL-shaped 1024 px")
    ap.add_argument("--demo", action="store_true", help="the bundled demo model at 256 and 512 px")
    ap.add_argument("--only", choices=["tiny", "sd15", "sdxl"],
                    help="CPU mode: run only (a) tiny or (b) sd15; GPU mode: only sd15 or sdxl")
    ap.add_argument("--runs", type=int, default=None, help="timed edits per configuration")
    ap.add_argument("--compile", action="store_true",
                    help="our brush with the model's compile option on (GPU mode; the baseline stays eager)")
    ap.add_argument("--channels-last", action="store_true", help="channels_last memory format (GPU mode)")
    ap.add_argument("--smoke", action="store_true",
                    help="run the --gpu code paths on the CPU with 1/8-width models at small sizes (a check, not a measure)")
    ap.add_argument("--quick", action="store_true", help="GPU mode: skip the eager run")
    args = ap.parse_args()
    global DIV, QUICK
    QUICK = args.quick
    torch.set_grad_enabled(False)
    report = {"benchmark": "diffusion brush vs inpainting pipeline", "torch": torch.__version__,
              "python": platform.python_version(), "threads": torch.get_num_threads(),
              "mask": "centred square covering a quarter of the image", "guidance": GUIDANCE}
    import diffusers

    report["diffusers"] = diffusers.__version__
    if args.demo:
        device = "cuda" if args.gpu and torch.cuda.is_available() else "cpu"
        report["demo"] = run_demo(device, args.runs or 5)
    elif args.smoke:
        DIV = 8
        report["smoke_sd15_128"] = run_shaped("sd15", 128, "cpu", torch.float32, 1, 1)
        report["smoke_sdxl_128"] = run_shaped("sdxl", 128, "cpu", torch.float32, 1, 1)
    elif args.gpu:
        if not torch.cuda.is_available():
            sys.exit("--gpu: no CUDA device available")
        report["gpu"] = torch.cuda.get_device_name(0)
        runs = args.runs or 10
        if args.only in (None, "sd15"):
            report["sd15_512"] = run_shaped("sd15", 512, "cuda", torch.float16, runs, 3, args.compile,
                                            args.channels_last)
        if args.only in (None, "sdxl"):
            report["sdxl_1024"] = run_shaped("sdxl", 1024, "cuda", torch.float16, runs, 3, args.compile,
                                             args.channels_last)
    else:
        if args.only in (None, "tiny"):
            report["cpu_tiny_512"] = run_tiny_cpu(args.runs or 5)
        if args.only in (None, "sd15"):
            report["cpu_sd15_512"] = run_shaped("sd15", 512, "cpu", torch.float32, args.runs or 1, 0)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
