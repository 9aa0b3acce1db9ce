"""Teach the demo model latent transparency (LayerDiffuse's method, at the demo's scale).

    python -m editor.engine.demo.train_transparency --minutes 45 --out build/demo_layerdiffuse

Stage 1 trains a latent-transparency encoder (RGBA -> latent offset, zero-initialised output)
and a transparent decoder with the demo VAE frozen: the offset latent ``z = mean + std * offset``
must decode through the ordinary VAE to the asset premultiplied over the backdrop (black for the
demo, whose VAE cannot paint grey: see ``transparent_assets.DEMO_BACKDROP``) and through the
transparent decoder (VAE pixels + z) to the straight RGBA asset; a small penalty on the offset
keeps the latent in the model's distribution (the paper's "harmless" offset).

Stage 2 freezes both and trains a LoRA on every attention projection of the demo UNet so that
prompts like "a red star" denoise to such offset latents. The LoRA uses the key layout of the
SDXL attention LoRA (``diffusion_model.<LDM path>.weight::lora::0|1``) and is loaded by the
same strict loader (``rgba.xl_lora``).

After the demo UNet is retrained, ``--init`` keeps a trained folder's encoder and decoder and
continues its LoRA on the new UNet; ``--teacher`` distils it instead: the LoRA on the new UNet
learns to predict what the old UNet predicted with its own LoRA, empty captions included.

Training data come from ``transparent_assets`` (seeded, drawn on the fly). Stage 1 trains on
64 px crops of 256 px assets (every fourth step 128 px, every sixteenth the whole asset) because the backward pass through the
VAE decoder dominates on a CPU; the networks are convolutional. Checkpoints are written every
``--save-every`` seconds, so a run stopped early still leaves usable weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import architecture as arch
from . import shapes
from . import transparent_assets as ta
from ..rgba.pipeline import generate_rgba, generation_scheduler
from .tokenizer import MAX_LENGTH

NOISE_OFFSET = 0.1  # as in the demo model's own training
OFFSET_PENALTY = 0.01  # weight of mean(offset^2): keeps the offset latent near the VAE's own
_GENERATION = inspect.signature(generate_rgba).parameters
STATE_STEPS, STATE_GUIDANCE = _GENERATION["steps"].default, _GENERATION["guidance"].default
LATENT_NOISE = 0.1  # z seen by the decoders gets this much posterior noise, for generated latents


def _log(msg: str, log_file) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    if log_file is not None:
        log_file.write(line + "\n")
        log_file.flush()


def _lr(step: int, total: int, base: float, warmup: int = 50) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _crop(rgba: torch.Tensor, assets: ta.Assets, size: int, gen: torch.Generator) -> torch.Tensor:
    """A ``size`` crop of each asset around a random point of its shape's bounding circle."""
    n, _, full, _ = rgba.shape
    if size >= full:
        return rgba
    out = []
    for i in range(n):
        c = assets.scenes.center[i]
        r = float(assets.scenes.radius[i]) * 1.3
        jitter = (torch.rand(2, generator=gen) * 2 - 1) * r
        px = ((c + jitter + 1) / 2 * full).round().long()
        x0 = int((px[0] - size // 2).clamp(0, full - size))
        y0 = int((px[1] - size // 2).clamp(0, full - size))
        out.append(rgba[i, :, y0:y0 + size, x0:x0 + size])
    return torch.stack(out)


def offset_latent(vae, encoder, rgba: torch.Tensor, backdrop: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, offset): ``z = mean + std * offset`` of the VAE posterior of the asset premultiplied
    over the backdrop, the offset from the transparency encoder. ``rgba``: straight RGBA in [0, 1]."""
    post = vae.encode(ta.over_backdrop(rgba, backdrop) * 2 - 1).latent_dist
    offset = encoder(ta.encoder_input(rgba))
    return post.mean + post.std * offset, offset


def decoder_losses(vae, decoder, rgba: torch.Tensor, z: torch.Tensor, backdrop: float) -> dict[str, torch.Tensor]:
    """Both reconstruction losses of a (noisy) offset latent."""
    pixels = (vae.decode(z).sample.clamp(-1, 1) + 1) / 2
    vae_l1 = F.l1_loss(pixels, ta.over_backdrop(rgba, backdrop))
    y = decoder(pixels, z)  # [alpha, R, G, B]
    alpha_t, rgb_t = rgba[:, 3:4], rgba[:, :3]
    alpha = F.l1_loss(y[:, 0:1], alpha_t)
    # Straight colours only matter where something is visible.
    rgb = ((y[:, 1:4] - rgb_t).abs() * alpha_t).sum() / (alpha_t.sum() * 3 + 1e-6)
    return {"vae": vae_l1, "alpha": alpha, "rgb": rgb}


def train_autoencoder(vae, encoder, decoder, args, gen, noise_gen, log_file, save) -> dict:
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.ae_lr, weight_decay=0.0)
    seconds = args.minutes * 60 * args.ae_share
    t0, last_save, step, hist = time.perf_counter(), time.perf_counter(), 0, []
    total = args.ae_steps or 10**9
    while step < total and (args.ae_steps or time.perf_counter() - t0 < seconds):
        planned = args.ae_steps or max(step + 1, int(seconds / max(1e-3, (time.perf_counter() - t0) / max(1, step))))
        for g in opt.param_groups:
            g["lr"] = _lr(step, planned, args.ae_lr)
        # Mostly 64 px crops (cheap), every fourth step 128 px and every sixteenth a whole
        # 256 px asset, so the VAE's global attention also sees full-size pictures.
        if step % 16 == 15:
            n, crop = 1, arch.NATIVE_SIZE
        elif step % 4 == 3:
            n, crop = max(1, args.ae_batch // 4), 128
        else:
            n, crop = args.ae_batch, 64
        assets = ta.sample_assets(n, gen)
        rgba = _crop(ta.render_rgba(assets, arch.NATIVE_SIZE), assets, crop, gen)
        z, offset = offset_latent(vae, encoder, rgba, args.backdrop)
        z_seen = z + LATENT_NOISE * torch.randn(z.shape, generator=noise_gen)
        parts = decoder_losses(vae, decoder, rgba, z_seen, args.backdrop)
        reg = offset.pow(2).mean()
        loss = parts["vae"] + parts["alpha"] + parts["rgb"] + OFFSET_PENALTY * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        hist.append([parts["vae"].item(), parts["alpha"].item(), parts["rgb"].item(), reg.item()])
        step += 1
        if step % args.log_every == 0 or step == 1:
            m = torch.tensor(hist[-args.log_every:]).mean(0).tolist()
            _log(f"ae step {step}/{planned} vae {m[0]:.4f} alpha {m[1]:.4f} rgb {m[2]:.4f} "
                 f"offset^2 {m[3]:.4f}", log_file)
        if time.perf_counter() - last_save > args.save_every:
            save()
            last_save = time.perf_counter()
    m = torch.tensor(hist[-50:]).mean(0).tolist()
    return {"ae_steps": step, "ae_seconds": round(time.perf_counter() - t0, 1),
            "ae_final": {"vae_l1": m[0], "alpha_l1": m[1], "rgb_l1_visible": m[2], "offset_sq": m[3]}}


class AttentionLoRA:
    """Trainable rank-r offsets ``up @ down`` on every attention projection, added by forward hooks."""

    def __init__(self, unet, rank: int, gen: torch.Generator, start=None):
        """``start``: {module name: (up, down)} to continue from (a shipped LoRA), else up = 0."""
        from ..rgba.xl_lora import lora_projections

        self.modules = lora_projections(unet)
        self.weights: dict[str, tuple[torch.nn.Parameter, torch.nn.Parameter]] = {}
        self.hooks = []
        for name, lin in self.modules.items():
            down = torch.nn.Parameter(torch.randn(rank, lin.in_features, generator=gen) / math.sqrt(lin.in_features))
            up = torch.nn.Parameter(torch.zeros(lin.out_features, rank))
            if start is not None:  # a lower-rank start fills the first ranks; the rest start at up = 0
                r = start[name][0].shape[1]
                up.data[:, :r].copy_(start[name][0])
                down.data[:r].copy_(start[name][1])
            self.weights[name] = (up, down)
            self.hooks.append(lin.register_forward_hook(self._hook(up, down)))

    @staticmethod
    def _hook(up, down):
        def add(module, inputs, output):
            return output + F.linear(F.linear(inputs[0], down), up)
        return add

    def parameters(self):
        return [p for pair in self.weights.values() for p in pair]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """In the file layout: ``diffusion_model.<LDM path>.weight::lora::0`` (up) / ``::1`` (down)."""
        from ..rgba.xl_lora import diffusers_to_ldm

        out = {}
        for name, (up, down) in self.weights.items():
            key = f"diffusion_model.{diffusers_to_ldm(name)}.weight::lora::"
            out[key + "0"] = up.detach().clone()
            out[key + "1"] = down.detach().clone()
        return out

    def remove(self) -> None:
        for h in self.hooks:
            h.remove()


@torch.no_grad()
def latent_pool(vae, encoder, n: int, gen: torch.Generator, backdrop: float, batch: int = 8):
    """(scaled latents n x 4 x 32 x 32, captions) of freshly drawn assets."""
    lats, caps = [], []
    for i in range(0, n, batch):
        assets = ta.sample_assets(min(batch, n - i), gen)
        z, _ = offset_latent(vae, encoder, ta.render_rgba(assets, arch.NATIVE_SIZE), backdrop)
        lats.append(z * vae.config.scaling_factor)
        caps += ta.captions(assets)
    return torch.cat(lats), caps


def _augment(lat: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    # Flips and quarter turns of a shape are shapes of the same caption.
    k = int(torch.randint(0, 4, (1,), generator=gen))
    if bool(torch.rand(1, generator=gen) < 0.5):
        lat = torch.flip(lat, dims=(3,))
    return torch.rot90(lat, k=k, dims=(2, 3))


@torch.no_grad()
def sampled_states(samplers, latents_shape, cond: torch.Tensor, empty: torch.Tensor, scheduler_config,
                   steps: int, guidance: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(latents, timesteps, caption rows) met along generation's own trajectories (its sampler,
    steps and guidance); batches of ``latents_shape[0]`` captions go to the UNets in ``samplers``
    in turn. These are the states a distilled LoRA must handle, not only noised training latents."""
    xs, ts, rows = [], [], []
    for i in range(0, len(cond), latents_shape[0]):
        c = cond[i:i + latents_shape[0]]
        n = len(c)
        unet = samplers[(i // latents_shape[0]) % len(samplers)]
        sched = generation_scheduler(scheduler_config)
        sched.set_timesteps(steps)
        x = torch.randn((n, *latents_shape[1:]), generator=gen) * sched.init_noise_sigma
        both = torch.cat([empty.expand_as(c), c])
        for t in sched.timesteps:
            xs.append(x.clone())
            ts.append(torch.full((n,), int(t)))
            rows.append(torch.arange(i, i + n))
            u, k = unet(torch.cat([x, x]), t, both).sample.chunk(2)
            x = sched.step(u + guidance * (k - u), t, x, return_dict=False)[0]
    return torch.cat(xs), torch.cat(ts), torch.cat(rows)


def _guided_distillation_loss(unet, teacher, noisy, t, cond, empty, guidance: float) -> torch.Tensor:
    """Both branches' errors plus the guided prediction's, divided by ``guidance``: guidance
    multiplies the branches' difference, so that is where a student's small errors show."""
    both = torch.cat([cond, empty.expand_as(cond)])
    x, tt = torch.cat([noisy, noisy]), torch.cat([t, t])
    with torch.no_grad():
        t_c, t_u = teacher(x, tt, both).sample.chunk(2)
    s_c, s_u = unet(x, tt, both).sample.chunk(2)
    guided = F.mse_loss(s_u + guidance * (s_c - s_u), t_u + guidance * (t_c - t_u))
    return F.mse_loss(s_c, t_c) + F.mse_loss(s_u, t_u) + guided / guidance


def train_lora(unet, text_encoder, tokenizer, vae, encoder, args, gen, noise_gen, log_file, save_lora,
               teacher=None, scheduler_config=None) -> dict:
    """Stage 2. With ``teacher`` (a UNet carrying a trained LoRA) the target is its noise prediction
    instead of the true noise, and the unconditional branch that guidance subtracts is taught too
    (a share of empty captions, or both branches with ``--teacher-guidance``)."""
    t_start = time.perf_counter()
    pool, caps = latent_pool(vae, encoder, args.pool, gen, args.backdrop)
    pool_seconds = time.perf_counter() - t_start
    _log(f"latent pool: {len(pool)} assets in {pool_seconds:.0f} s, latent std {pool.std():.3f}", log_file)
    with torch.no_grad():
        unique = sorted(set(caps))
        ids = tokenizer(unique, padding="max_length", max_length=MAX_LENGTH, truncation=True,
                        return_tensors="pt").input_ids
        table = dict(zip(unique, text_encoder(ids)[0]))
        empty = text_encoder(tokenizer([""], padding="max_length", max_length=MAX_LENGTH,
                                       return_tensors="pt").input_ids)[0][0]
    cond_all = torch.stack([table[c] for c in caps])
    lora = AttentionLoRA(unet, args.rank, gen, start=args.lora_start)
    states = None
    if teacher is not None and args.teacher_states:
        t1 = time.perf_counter()
        unet.eval()
        states = sampled_states([teacher, unet], (args.lora_batch, *pool.shape[1:]), cond_all[:args.teacher_states],
                                empty, scheduler_config, STATE_STEPS, STATE_GUIDANCE, gen)
        _log(f"{len(states[0])} sampled states of {args.teacher_states} captions in "
             f"{time.perf_counter() - t1:.0f} s", log_file)
    params = lora.parameters()
    opt = torch.optim.AdamW(params, lr=args.lora_lr, weight_decay=0.0)
    scheduler = arch.build_train_scheduler()
    alphas = scheduler.alphas_cumprod
    unet.train()
    budget = args.minutes * 60 * (1 if args.init else 1 - args.ae_share) - pool_seconds
    t0, last_save, step, hist = time.perf_counter(), time.perf_counter(), 0, []
    total = args.lora_steps or 10**9
    while step < total and (args.lora_steps or time.perf_counter() - t0 < budget):
        planned = args.lora_steps or max(step + 1, int(budget / max(1e-3, (time.perf_counter() - t0) / max(1, step))))
        for g in opt.param_groups:
            g["lr"] = _lr(step, planned, args.lora_lr)
        idx = torch.randint(0, len(pool), (args.lora_batch,), generator=gen)
        latents = _augment(pool[idx], gen)
        cond = cond_all[idx]
        n = latents.shape[0]
        noise = torch.randn(latents.shape, generator=noise_gen)
        noise = noise + NOISE_OFFSET * torch.randn((n, latents.shape[1], 1, 1), generator=noise_gen)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=noise_gen)
        a = alphas[t].view(n, 1, 1, 1)
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        if states is not None and bool(torch.rand(1, generator=gen) < 0.5):
            pick = torch.randint(0, len(states[0]), (n,), generator=gen)
            noisy, t, cond = states[0][pick], states[1][pick], cond_all[states[2][pick]]
        if teacher is None:
            loss = F.mse_loss(unet(noisy, t, cond).sample, noise)
        elif args.teacher_guidance:
            loss = _guided_distillation_loss(unet, teacher, noisy, t, cond, empty, args.teacher_guidance)
        else:
            drop = torch.rand(n, generator=gen) < args.teacher_uncond
            cond = torch.where(drop.view(n, 1, 1), empty.expand_as(cond), cond)
            with torch.no_grad():
                target = teacher(noisy, t, cond).sample
            loss = F.mse_loss(unet(noisy, t, cond).sample, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        hist.append(loss.item())
        step += 1
        if step % args.log_every == 0 or step == 1:
            recent = sum(hist[-args.log_every:]) / len(hist[-args.log_every:])
            _log(f"lora step {step}/{planned} loss {recent:.4f}", log_file)
        if time.perf_counter() - last_save > args.save_every:
            save_lora(lora)
            last_save = time.perf_counter()
    save_lora(lora)
    lora.remove()
    unet.eval()
    return {"lora_steps": step, "lora_seconds": round(time.perf_counter() - t0, 1), "pool_size": len(pool),
            "pool_seconds": round(pool_seconds, 1), "lora_final_loss": sum(hist[-100:]) / max(1, len(hist[-100:]))}


def _lora_start(path: Path, unet, rank: int, what: str) -> dict:
    """{module name: (up, down)} of a LoRA file, after the strict layout check generation uses."""
    from ..rgba.loader import check_layout, read_layout, read_tensors
    from ..rgba.xl_lora import expected_layout, rename_state_dict

    check_layout(path, read_layout(path), expected_layout(unet, rank), what)
    return {k: (up.float(), down.float()) for k, (up, down) in rename_state_dict(read_tensors(path)).items()}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m editor.engine.demo.train_transparency",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default=None, help="the demo model folder (default: the bundled one)")
    p.add_argument("--out", default="build/demo_layerdiffuse", help="output folder for the weights")
    p.add_argument("--minutes", type=float, default=45.0, help="wall-clock budget of both stages")
    p.add_argument("--ae-share", type=float, default=0.45, help="fraction of the budget for stage 1")
    p.add_argument("--ae-steps", type=int, default=None, help="fixed stage-1 steps (overrides the budget)")
    p.add_argument("--lora-steps", type=int, default=None, help="fixed stage-2 steps (overrides the budget)")
    p.add_argument("--ae-batch", type=int, default=8)
    p.add_argument("--lora-batch", type=int, default=8)
    p.add_argument("--pool", type=int, default=320, help="assets encoded once for stage 2")
    p.add_argument("--rank", type=int, default=None,
                   help="LoRA rank (default 32; with --init, that LoRA's, or higher to widen it)")
    p.add_argument("--ae-lr", type=float, default=2e-3)
    p.add_argument("--lora-lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=float, default=120.0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--init", default=None,
                   help="a trained transparency folder: keep its encoder, decoder, rank (unless --rank raises "
                        "it) and backdrop (no stage 1) and continue its LoRA on --base (after the demo UNet "
                        "was retrained)")
    p.add_argument("--teacher", default=None,
                   help="with --init: a demo model folder with its transparency weights (the model before the "
                        "UNet was retrained); the LoRA on --base learns to predict what that UNet with its "
                        "transparency LoRA predicts (distillation)")
    p.add_argument("--teacher-uncond", type=float, default=0.2,
                   help="share of empty captions in distillation (the branch guidance subtracts)")
    p.add_argument("--teacher-states", type=int, default=0,
                   help="sample this many of the pool's captions (at most --pool) with the teacher and with "
                        "the LoRA being trained at generation's settings; half the batches come from their "
                        "trajectories")
    p.add_argument("--teacher-guidance", type=float, default=0.0,
                   help="distil both branches of every caption and the prediction guided at this scale "
                        "(instead of --teacher-uncond's share of empty captions)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from safetensors.torch import save_file
    from transformers import CLIPTextModel, CLIPTokenizer
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from ..models import demo_model_path
    from ..rgba import demo_weights
    from ..rgba.loader import load_module_strict

    args = parse_args(argv)
    if args.teacher and not args.init:
        raise SystemExit("--teacher needs --init: the encoder and decoder whose latents the teacher denoises")
    if args.teacher and not (Path(args.teacher) / demo_weights.FOLDER / demo_weights.CONFIG_FILE).is_file():
        raise SystemExit(f"--teacher {args.teacher}: no transparency weights in its {demo_weights.FOLDER} folder")
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    base = Path(args.base) if args.base else demo_model_path()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "training_log.txt", "w", encoding="utf-8")
    command = "python -m editor.engine.demo.train_transparency " + " ".join(sys.argv[1:] if argv is None else argv)
    _log(f"command: {command}", log_file)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    noise_gen = torch.Generator().manual_seed(args.seed + 1)

    f32 = torch.float32
    vae = AutoencoderKL.from_pretrained(base / "vae", torch_dtype=f32).eval().requires_grad_(False)
    unet = UNet2DConditionModel.from_pretrained(base / "unet", torch_dtype=f32).requires_grad_(False)
    text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder", torch_dtype=f32).eval().requires_grad_(False)
    tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer")
    args.backdrop = ta.DEMO_BACKDROP
    config = demo_weights.DemoLayerConfig(lora_rank=args.rank or 32, backdrop=args.backdrop)
    args.lora_start = None
    if args.init:
        init = Path(args.init)
        if not (init / demo_weights.CONFIG_FILE).is_file():
            raise SystemExit(f"--init {init}: not a demo transparency folder (no {demo_weights.CONFIG_FILE})")
        config = demo_weights.DemoLayerConfig.read(init)  # its backdrop; its rank unless --rank raises it
        if args.rank is not None and args.rank < config.lora_rank:
            raise SystemExit(f"--rank {args.rank}: lower than --init {init}'s LoRA rank {config.lora_rank}")
        attn_rank = config.lora_rank
        config = dataclasses.replace(config, lora_rank=max(args.rank or 0, config.lora_rank))
        args.backdrop = config.backdrop
    args.rank = config.lora_rank
    encoder = demo_weights.build_encoder(config)
    decoder = demo_weights.build_decoder(config)
    if args.init:
        load_module_strict(encoder, init / demo_weights.ENCODER_FILE, "transparency encoder")
        load_module_strict(decoder, init / demo_weights.DECODER_FILE, "transparent decoder")
        args.lora_start = _lora_start(init / demo_weights.ATTN_FILE, unet, attn_rank, "demo transparency LoRA")
    info = {"command": command, "seed": args.seed, "device": "cpu", "threads": args.threads,
            "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "base_model": str(base), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def write_info(extra=None):
        data = dict(info, **(extra or {}), total_seconds=round(time.perf_counter() - t_start, 1))
        (out / "training_info.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def save_ae():
        save_file({k: v.detach().to(torch.float16).contiguous() for k, v in encoder.state_dict().items()},
                  str(out / demo_weights.ENCODER_FILE))
        save_file({k: v.detach().to(torch.float16).contiguous() for k, v in decoder.state_dict().items()},
                  str(out / demo_weights.DECODER_FILE))
        config.write(out)
        write_info({"stage": "autoencoder (checkpoint)"})
        _log(f"saved encoder and decoder to {out}", log_file)

    def save_lora(lora):
        save_file({k: v.to(torch.float16).contiguous() for k, v in lora.state_dict().items()},
                  str(out / demo_weights.ATTN_FILE))
        write_info(dict(info_ae, stage="lora (checkpoint)"))
        _log(f"saved LoRA to {out}", log_file)

    _log(f"encoder {sum(p.numel() for p in encoder.parameters())} params, decoder "
         f"{sum(p.numel() for p in decoder.parameters())} params", log_file)
    if args.init:
        info_ae = {"ae_steps": 0, "init": str(args.init)}
    else:
        info_ae = train_autoencoder(vae, encoder, decoder, args, gen, noise_gen, log_file, save_ae)
    save_ae()
    _log(f"stage 1 done: {info_ae}", log_file)
    encoder.eval().requires_grad_(False)
    decoder.eval().requires_grad_(False)
    teacher = None
    if args.teacher:
        folder = Path(args.teacher) / demo_weights.FOLDER
        teacher = UNet2DConditionModel.from_pretrained(Path(args.teacher) / "unet", torch_dtype=f32)
        teacher.eval().requires_grad_(False)
        rank = demo_weights.DemoLayerConfig.read(folder).lora_rank
        start = _lora_start(folder / demo_weights.ATTN_FILE, teacher, rank, "teacher's transparency LoRA")
        AttentionLoRA(teacher, rank, gen, start=start)  # its hooks stay on the frozen teacher
        info_ae["teacher"] = str(args.teacher)
    scheduler_config = json.loads((base / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    info_lora = train_lora(unet, text_encoder, tokenizer, vae, encoder, args, gen, noise_gen, log_file, save_lora,
                           teacher, scheduler_config)
    write_info(dict(info_ae, **info_lora, stage="done"))
    _log(f"done: {info_lora}", log_file)
    log_file.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
