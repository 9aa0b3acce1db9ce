"""Where a GPU brush edit spends its time: torch.profiler over a few edits of an
SD1.5-shaped random-weight model at 512 px (fp16, CUDA graphs on). Prints JSON: wall time
per edit, GPU-busy time per edit, and the top operators by CPU and by CUDA time.

    python benchmarks/profile_brush_gpu.py [--size 512] [--edits 5]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from brush import GUIDANCE, PROMPT, build_shaped, quarter_mask, test_image  # noqa: E402
from editor.engine.brush import BrushEngine  # noqa: E402
from editor.engine.models import from_pipeline  # noqa: E402
from editor.engine.requests import BrushRequest  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--channels-last", action="store_true", help="UNet and VAE in channels_last memory format")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA device")
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        pipe = build_shaped("sd15", False, "cuda", torch.float16, tmp)
        if args.channels_last:
            pipe.unet.to(memory_format=torch.channels_last)
            pipe.vae.to(memory_format=torch.channels_last)
        engine = BrushEngine(from_pipeline(pipe, "random-sd15", "cuda"), trajectory_steps=20)
        src, region = test_image(args.size), quarter_mask(args.size)

        def edit(seed):
            engine.render(BrushRequest("p", src, "p", region, PROMPT, seed=seed, strength=1.0, steps=5,
                                       guidance=GUIDANCE))
            torch.cuda.synchronize()

        for seed in range(3):
            edit(1000 + seed)  # encodings and graph capture
        t = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for seed in range(args.edits):
                edit(seed)
        wall = (time.perf_counter() - t) * 1000 / args.edits
    events = prof.key_averages()

    def top(attr, n=20):
        rows = sorted(events, key=lambda e: getattr(e, attr), reverse=True)[:n]
        return [{"op": e.key, "count": e.count, "self_cpu_ms": round(e.self_cpu_time_total / 1000 / args.edits, 2),
                 "self_cuda_ms": round(getattr(e, "self_device_time_total", 0) / 1000 / args.edits, 2)}
                for e in rows]

    gpu_busy = sum(getattr(e, "self_device_time_total", 0) for e in events) / 1000 / args.edits
    print(json.dumps({"gpu": torch.cuda.get_device_name(0), "size": args.size, "channels_last": args.channels_last, "wall_ms_per_edit": round(wall, 1),
                      "gpu_busy_ms_per_edit": round(gpu_busy, 1), "top_by_self_cpu": top("self_cpu_time_total"),
                      "top_by_self_cuda": top("self_device_time_total")}, indent=1))


if __name__ == "__main__":
    main()
