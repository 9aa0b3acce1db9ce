"""Benchmark transparent layer generation; prints JSON.

    python benchmarks/rgba.py                       # CPU: real-shape decoder, tiny-UNet generation
    python benchmarks/rgba.py --gpu                 # CUDA fp16: real SD1.5 (and SDXL) shapes, < 2 min
    python benchmarks/rgba.py --demo --threads 1    # the bundled demo model with its trained weights

All weights are random (speed does not depend on their values), except with --demo. CPU peak memory
is the process RSS high-water mark above the level before each measurement
(sampled every 5 ms); GPU peak memory is torch.cuda.max_memory_allocated.
Only torch, diffusers, transformers, safetensors, numpy, opencv and this package
are needed (no Qt).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


class PeakMemory:
    """Peak memory above the starting level during a with-block, in MiB."""

    def __init__(self, device: str):
        self.device = device
        self.peak_mb = 0.0

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._base = self._peak = self._rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, self._rss())

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._base) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._rss())
            self.peak_mb = (self._peak - self._base) / 2**20
        return False


def measure(fn, device: str, repeat: int = 1, warmup: bool = False) -> dict:
    if warmup:
        fn()
    times, cpu, peak = [], [], 0.0
    for _ in range(repeat):
        with PeakMemory(device) as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        peak = max(peak, mem.peak_mb)
    order = sorted(range(repeat), key=times.__getitem__)
    mid = order[repeat // 2]
    # Process CPU seconds are the steadier figure on a shared CPU (wall time includes waiting for cores).
    return {"seconds_median": round(times[mid], 4), "seconds_all": [round(t, 4) for t in times],
            "process_cpu_seconds": round(cpu[mid], 3), "peak_mem_mb": round(peak, 1)}


def bench_decoder(device, dtype, sizes, quality_sizes, repeat) -> dict:
    from editor.engine.rgba.transparent_vae import TransparentDecoderUNet, decode_rgba

    with torch.device(device):
        net = TransparentDecoderUNet().to(dtype).eval()
    out = {"params": sum(p.numel() for p in net.parameters())}
    for size in sizes:
        pixels = torch.rand(1, 3, size, size, device=device, dtype=dtype)
        latent = torch.randn(1, 4, size // 8, size // 8, device=device, dtype=dtype)
        out[f"fast_{size}"] = measure(lambda: decode_rgba(net, pixels, latent, "fast"), device, repeat,
                                      warmup=device == "cuda")
        if size in quality_sizes:
            out[f"quality_{size}"] = measure(lambda: decode_rgba(net, pixels, latent, "quality"), device,
                                             max(1, repeat // 2), warmup=device == "cuda")
    return out


def _save(module, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in module.state_dict().items()},
              str(path))
    return path


def _random_decoder_file(folder: Path, family: str, device: str = "cpu") -> Path:
    from editor.engine.rgba.transparent_vae import TransparentDecoderUNet
    from editor.engine.rgba.weights import FILES

    with torch.device(device):  # random init is much faster on a GPU
        net = TransparentDecoderUNet()
    return _save(net, folder / FILES[(family, "decoder")].filename)


def _sharing_file(unet, variant: str, folder: Path, device: str = "cpu") -> Path:
    from editor.engine.rgba.attention_sharing import AttentionSharingPatch
    from editor.engine.rgba.weights import FILES

    role = "attn" if variant == "transparent_attn" else variant
    with torch.device(device):
        patch = AttentionSharingPatch.for_variant(unet, variant)
    return _save(patch, folder / FILES[("sd15", role)].filename)


def bench_generation_cpu(sizes, quality_sizes, steps) -> dict:
    """Tiny UNet + tiny VAE (so the UNet is cheap) with the real-shape transparent decoder."""
    from editor.engine.models import load_model
    from editor.engine.rgba import generate_rgba
    from editor.engine.rgba.weights import LayerWeights
    from editor.engine.tiny import build_tiny_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = load_model(build_tiny_pipeline(tmp / "tiny"), device="cpu")
        lw = LayerWeights("sd15", {"decoder": _random_decoder_file(tmp, "sd15"),
                                   "attn": _sharing_file(model.pipe.unet, "transparent_attn", tmp)})
        out = {"model": "tiny SD1.5-shaped UNet/VAE + real-shape transparent decoder", "steps": steps}
        t0 = time.perf_counter()
        generate_rgba(model, "warm up", 64, 64, steps=1, weights=lw)  # loads the weight files (cached after)
        out["weights_load_and_warmup_s"] = round(time.perf_counter() - t0, 2)
        for size in sizes:
            for quality in ("fast", "quality"):
                if quality == "quality" and size not in quality_sizes:
                    continue
                out[f"{quality}_{size}"] = measure(
                    lambda: generate_rgba(model, "a glass teapot", size, size, steps=steps, quality=quality,
                                          weights=lw), "cpu")
    return out


def bench_demo(device: str, sizes, steps: int, repeat: int) -> dict:
    """The bundled demo model with its own trained transparency weights (no download):
    plain generation beside transparent generation, fast and quality decoding."""
    from editor.engine.base import generate_image
    from editor.engine.models import load_model
    from editor.engine.rgba import generate_rgba

    model = load_model("demo", device=device)
    out = {"model": "demo (resources/demo_model, layerdiffuse/ weights)", "steps": steps,
           "dtype": str(model.dtype).replace("torch.", "")}
    t0 = time.perf_counter()
    generate_rgba(model, "a red star", 64, 64, steps=1)  # reads and checks the weight files (cached after)
    out["weights_load_and_warmup_s"] = round(time.perf_counter() - t0, 2)
    out["round_trip_16_held_out"] = _demo_round_trip(model)
    warm = device == "cuda"
    for size in sizes:
        out[f"plain_{size}"] = measure(lambda: generate_image(model, "a red star", size, size, steps=steps),
                                       device, repeat, warmup=warm)
        for quality in ("fast", "quality"):
            out[f"{quality}_{size}"] = measure(
                lambda: generate_rgba(model, "a red star", size, size, steps=steps, quality=quality),
                device, repeat, warmup=warm)
    return out


def _demo_round_trip(model) -> dict:
    """Encoder/decoder round trip of the shipped demo weights on 16 held-out drawn assets."""
    from editor.engine.demo.transparency_check import round_trip
    from editor.engine.rgba import demo_weights as dw
    from editor.engine.rgba.loader import load_module_strict

    lw = dw.demo_layer_weights()
    folder = lw.files["decoder"].parent
    config = dw.DemoLayerConfig.read(folder)
    dev, dtype = model.pipe.vae.device, model.pipe.vae.dtype
    encoder = load_module_strict(dw.build_encoder(config).to(dev, dtype), lw.files["encoder"], "encoder").eval()
    decoder = load_module_strict(dw.build_decoder(config).to(dev, dtype), lw.files["decoder"], "decoder").eval()
    result = round_trip(model.pipe.vae, encoder, decoder, config.backdrop, seed=20_261_203, n=16)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def _sd15_model(device, dtype, tmp: Path):
    """A Stable Diffusion 1.5-shaped pipeline with random weights, built from configs."""
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from editor.engine.models import DiffusionModel
    from editor.engine.reference_shapes import SD15_UNET
    from editor.engine.tiny import write_tiny_tokenizer

    ids = write_tiny_tokenizer(tmp / "tok")
    with torch.device(device):
        unet = UNet2DConditionModel(**SD15_UNET)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), latent_channels=4, layers_per_block=2,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            sample_size=512)
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                            num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                            bos_token_id=ids["bos"], eos_token_id=ids["eos"],
                                            pad_token_id=ids["eos"], hidden_act="quick_gelu"))
    sched = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                        steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=CLIPTokenizer.from_pretrained(tmp / "tok"),
                                   unet=unet, scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    return DiffusionModel(pipe, "sd15", device, dtype, "random sd15-shaped", False, 512)


def _sdxl_model(device, dtype, tmp: Path):
    from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionXLPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from editor.engine.models import DiffusionModel
    from editor.engine.reference_shapes import SDXL_UNET
    from editor.engine.tiny import write_tiny_tokenizer

    ids = write_tiny_tokenizer(tmp / "tok")
    common = dict(vocab_size=49408, max_position_embeddings=77, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
                  pad_token_id=ids["eos"])
    with torch.device(device):
        unet = UNet2DConditionModel(**SDXL_UNET)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), latent_channels=4, layers_per_block=2,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            sample_size=1024, scaling_factor=0.13025)
        te1 = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                           num_attention_heads=12, hidden_act="quick_gelu", **common))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120,
                                                         num_hidden_layers=32, num_attention_heads=20,
                                                         projection_dim=1280, hidden_act="gelu", **common))
    tok = CLIPTokenizer.from_pretrained(tmp / "tok")
    sched = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                        steps_offset=1)
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok,
                                     unet=unet, scheduler=sched).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    return DiffusionModel(pipe, "sdxl", device, dtype, "random sdxl-shaped", False, 1024)


def bench_generation_gpu(steps: int, sdxl: bool, started: float, budget_s: float = 75.0) -> dict:
    from safetensors.torch import save_file

    from editor.engine.rgba import generate_joint, generate_rgba
    from editor.engine.rgba.pipeline import clear_cache
    from editor.engine.rgba.weights import LayerWeights
    from editor.engine.rgba.xl_lora import expected_layout

    device, dtype = "cuda", torch.float16
    out = {"steps": steps}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        model = _sd15_model(device, dtype, tmp)
        lw = LayerWeights("sd15", {"decoder": _random_decoder_file(tmp, "sd15", device),
                                   "attn": _sharing_file(model.pipe.unet, "transparent_attn", tmp, device),
                                   "joint": _sharing_file(model.pipe.unet, "joint", tmp, device)})
        out["sd15_setup_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        generate_rgba(model, "warm up", 64, 64, steps=1, weights=lw)  # loads the weight files (cached after)
        out["sd15_weights_load_s"] = round(time.perf_counter() - t0, 2)
        run = lambda q: generate_rgba(model, "a glass teapot", 512, 512, steps=steps, quality=q, weights=lw)  # noqa: E731
        out["sd15_rgba_fast_512"] = measure(lambda: run("fast"), device, 2, warmup=True)
        out["sd15_rgba_quality_512"] = measure(lambda: run("quality"), device, 2)
        out["sd15_joint_fast_512"] = measure(lambda: generate_joint(model, "a cat", "a sofa", "a cat on a sofa", 512,
                                                                    512, steps=steps, weights=lw), device, 1,
                                             warmup=True)
        from editor.engine.base import generate_image

        out["sd15_plain_512_for_comparison"] = measure(
            lambda: generate_image(model, "a glass teapot", 512, 512, steps=steps), device, 2, warmup=True)
        del model
        clear_cache()
        torch.cuda.empty_cache()
        if sdxl and time.perf_counter() - started > budget_s:
            out["sdxl_skipped"] = f"SD1.5 part took over {budget_s:.0f} s; skipped to stay under 2 minutes"
        elif sdxl:
            t0 = time.perf_counter()
            model = _sdxl_model(device, dtype, tmp)
            layout = expected_layout(model.pipe.unet, 256)
            attn = tmp / "layer_xl_transparent_attn.safetensors"
            save_file({k: torch.zeros(s, dtype=torch.float16) for k, s in layout.items()}, str(attn))
            lw = LayerWeights("sdxl", {"attn": attn, "decoder": _random_decoder_file(tmp, "sdxl", device)})
            out["sdxl_setup_s"] = round(time.perf_counter() - t0, 2)
            out["sdxl_rgba_fast_1024"] = measure(
                lambda: generate_rgba(model, "a glass teapot", 1024, 1024, steps=steps, weights=lw), device, 1,
                warmup=True)
            out["sdxl_rgba_quality_1024"] = measure(
                lambda: generate_rgba(model, "a glass teapot", 1024, 1024, steps=steps, quality="quality",
                                      weights=lw), device, 1)
            out["sdxl_plain_1024_for_comparison"] = measure(
                lambda: generate_image(model, "a glass teapot", 1024, 1024, steps=steps), device, 1, warmup=True)
            del model
            clear_cache()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="CUDA fp16 with real SD1.5/SDXL shapes")
    ap.add_argument("--no-sdxl", action="store_true", help="with --gpu: skip the SDXL part")
    ap.add_argument("--demo", action="store_true",
                    help="only the demo model's transparent generation (at --sizes, default 256 512; with --gpu on CUDA)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="default 512 1024 (--demo: 256 512)")
    ap.add_argument("--quality-sizes", type=int, nargs="*", default=None,
                    help="sizes to also time the 8-pass decoder at (default: 512 on CPU, all on GPU)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--skip-generation", action="store_true")
    ap.add_argument("--skip-decoder", action="store_true")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads; 1 avoids spin-waiting on a shared, oversubscribed CPU")
    args = ap.parse_args(argv)

    device = "cuda" if args.gpu else "cpu"
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu and not torch.cuda.is_available():
        print(json.dumps({"error": "--gpu given but CUDA is not available"}))
        return 2
    dtype = torch.float16 if args.gpu else torch.float32
    if args.sizes is None:
        args.sizes = [256, 512] if args.demo else [512, 1024]
    if args.demo:
        result = {"device": torch.cuda.get_device_name() if args.gpu else f"cpu ({torch.get_num_threads()} threads)",
                  "torch": torch.__version__}
        t0 = time.perf_counter()
        result["demo"] = bench_demo(device, args.sizes, args.steps, args.repeat or (5 if args.gpu else 1))
        result["total_seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(result, indent=1))
        return 0
    quality_sizes = args.quality_sizes if args.quality_sizes is not None else (args.sizes if args.gpu else [512])
    repeat = args.repeat or (5 if args.gpu else 1)
    result = {"device": torch.cuda.get_device_name() if args.gpu else f"cpu ({torch.get_num_threads()} threads)",
              "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__}
    t0 = time.perf_counter()
    for name, fn in (
        ("decoder", None if args.skip_decoder else (
            lambda: bench_decoder(device, dtype, args.sizes, quality_sizes, repeat))),
        ("generation", None if args.skip_generation else (
            (lambda: bench_generation_gpu(args.steps, not args.no_sdxl, t0)) if args.gpu
            else (lambda: bench_generation_cpu([s for s in args.sizes if s <= 512] or args.sizes[:1],
                                               quality_sizes, args.steps)))),
    ):
        if fn is None:
            continue
        try:
            result[name] = fn()
        except Exception as exc:  # keep the other sections' numbers
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
