"""Time and peak memory of the low-memory modes; prints JSON.

    python benchmarks/offload_modes.py                 # CPU: VAE tiling of a large picture
    python benchmarks/offload_modes.py --gpu           # CUDA: every memory mode, SD1.5 and SDXL shapes

CPU (``vae_tiling``): an SD-shaped VAE (random weights: speed and memory do not depend on
the values) decodes a ``--side`` px picture in a fresh process, tiled and untiled; reported
are the seconds and the process's peak resident memory above its baseline after the model is
built (``ru_maxrss``), in MB.

CUDA (``modes``): for each family and mode (full, model_offload, sequential_offload), in a
fresh process, a random-weight pipeline of the real shape in fp16 generates one picture at
its native size (``--steps`` steps, guided); reported are the seconds (median of
``--runs`` after a warm-up) and ``torch.cuda.max_memory_allocated`` in MB.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VAE_CASE = """
import json, resource, sys, time, torch
sys.path.insert(0, {bench!r})
from brush import _sd_vae
torch.set_grad_enabled(False)
side, tiled = int(sys.argv[1]), sys.argv[2] == "1"
vae = _sd_vae(0.18215)
vae.tile_sample_min_size, vae.tile_latent_min_size, vae.tile_overlap_factor = 512, 64, 0.25
vae.use_tiling = tiled
z = torch.randn(1, 4, side // 8, side // 8)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
img = vae.decode(z, return_dict=False)[0]
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"side": side, "tiled": tiled, "seconds": round(dt, 2),
                  "peak_above_baseline_mb": round((peak - base) / 1024), "output": list(img.shape)}}))
"""

GPU_CASE = """
import json, statistics, sys, tempfile, time, torch
sys.path.insert(0, {bench!r})
from brush import build_shaped
from editor.engine.base import generate_image
from editor.engine.models import from_pipeline
family, mode, steps, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_grad_enabled(False)
with tempfile.TemporaryDirectory() as tmp:
    pipe = build_shaped(family, False, "cpu", torch.float16, tmp)
    model = from_pipeline(pipe, "random-" + family, "cuda", memory_mode=mode)
    size = model.native_size
    generate_image(model, "a cat", size, size, steps=1, guidance=7.5)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        generate_image(model, "a cat", size, size, steps=steps, guidance=7.5)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    print(json.dumps({{"family": family, "mode": mode, "plan": model.memory_label, "size": size, "steps": steps,
                      "seconds": round(statistics.median(times), 3),
                      "peak_allocated_mb": round(torch.cuda.max_memory_allocated() / 2**20)}}))
"""


def run(code: str, *args: str, timeout: int = 3600) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=timeout)
    if out.returncode:
        return {"args": list(args), "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=1024, help="picture size of the VAE tiling case (px)")
    ap.add_argument("--gpu", action="store_true", help="also run every memory mode on CUDA")
    ap.add_argument("--families", default="sd15,sdxl")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    bench = str(Path(__file__).resolve().parent)
    report = {"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "vae_tiling": []}
    for flag in ("0", "1"):
        report["vae_tiling"].append(run(VAE_CASE.format(bench=bench), str(args.side), flag))
        print(json.dumps(report["vae_tiling"][-1]), file=sys.stderr, flush=True)  # progress
    if args.gpu:
        report["modes"] = []
        for family in args.families.split(","):
            for mode in ("full", "model_offload", "sequential_offload"):
                report["modes"].append(run(GPU_CASE.format(bench=bench), family, mode, str(args.steps),
                                           str(args.runs)))
                print(json.dumps(report["modes"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
