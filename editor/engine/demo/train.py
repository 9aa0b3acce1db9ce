"""Train the bundled demo model from scratch on generated shape pictures.

    python -m editor.engine.demo.train --device cpu --minutes 55 --out build/demo_model

Stage 1 trains the VAE (reconstruction + a small KL term); stage 2 freezes it and trains the
UNet and the text encoder together with the epsilon objective and 10% empty captions
(classifier-free guidance). Data are rendered on the fly from a seeded generator, so nothing is
read from disk or the network.

Reproducibility: the same seed, step counts and device give the same weights. With ``--minutes``
the step counts are chosen from a timing of the first steps and written to
``training_info.json``; pass them back as ``--vae-steps``/``--unet-steps`` to repeat a run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import architecture as arch
from . import shapes
from .tokenizer import MAX_LENGTH

VAE_KL_WEIGHT = 1e-6
NOISE_OFFSET = 0.1  # lets the model make very dark/bright/saturated backgrounds
EMA_DECAY = 0.999
WARMUP_STEPS = 100
CALIBRATION_STEPS = (5, 25)  # time steps in this window to plan a stage that has a time budget


def _log(msg: str, log_file) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    if log_file is not None:
        log_file.write(line + "\n")
        log_file.flush()


def _lr_at(step: int, total: int, base: float) -> float:
    if step < WARMUP_STEPS:
        return base * (step + 1) / WARMUP_STEPS
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class _Planner:
    """Fixes a stage's step count: given, or planned from the speed of the first steps."""

    def __init__(self, steps: int | None, seconds: float | None):
        self.total = steps if steps is not None else 10**9
        self.fixed = steps is not None
        self.seconds = seconds
        self.start = time.perf_counter()
        self._t0 = None

    def after_step(self, step: int) -> None:
        now = time.perf_counter()
        if self.fixed:
            return
        lo, hi = CALIBRATION_STEPS
        if step == lo:
            self._t0 = now
        elif step == hi:
            per_step = (now - self._t0) / (hi - lo)
            remaining = self.seconds - (now - self.start)
            self.total = max(hi + 1, step + 1 + int(remaining / per_step))
            self.fixed = True

    def done(self, step: int) -> bool:
        # The wall-clock guard only matters if the machine slows down after planning.
        over_time = self.seconds is not None and time.perf_counter() - self.start > 1.15 * self.seconds
        return step >= 1 and (step >= self.total or over_time)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    mean, logvar = mean.float(), logvar.float().clamp(-30, 20)
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=(1, 2, 3)).mean()


def train_vae(vae, device, args, data_gen, noise_gen, log_file, save) -> dict:
    planner = _Planner(args.vae_steps, None if args.vae_steps else args.minutes * 60 * args.vae_share)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, betas=(0.9, 0.99), weight_decay=0.0)
    vae.train()
    step, last_save, losses = 0, time.perf_counter(), []
    while not planner.done(step):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, planner.total, args.vae_lr)
        x = shapes.render(shapes.sample_scenes(args.vae_batch, data_gen), args.size, device)
        with _autocast(device):
            posterior = vae.encode(x).latent_dist
            eps = torch.randn(posterior.mean.shape, generator=noise_gen, device=device)
            z = posterior.mean + posterior.std * eps
            rec = vae.decode(z).sample.float()
        rec_loss = F.l1_loss(rec, x) + F.mse_loss(rec, x)
        loss = rec_loss + VAE_KL_WEIGHT * _kl(posterior.mean, posterior.logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        losses.append(rec_loss.item())
        planner.after_step(step)
        step += 1
        if step % args.log_every == 0 or step == 1:
            recent = sum(losses[-args.log_every :]) / len(losses[-args.log_every :])
            _log(f"vae step {step}/{planner.total} rec {recent:.4f} lr {opt.param_groups[0]['lr']:.2e}", log_file)
        if time.perf_counter() - last_save > args.save_every:
            save()
            last_save = time.perf_counter()
    vae.eval()
    return {"vae_steps": step, "vae_final_rec_loss": sum(losses[-50:]) / max(1, len(losses[-50:]))}


@torch.no_grad()
def latent_scale(vae, device, data_gen, noise_gen, batches=4, batch=32, size=arch.NATIVE_SIZE) -> float:
    """1 / std of the VAE latents, Stable Diffusion's ``scaling_factor``."""
    values = []
    for _ in range(batches):
        x = shapes.render(shapes.sample_scenes(batch, data_gen), size, device)
        with _autocast(device):
            post = vae.encode(x).latent_dist
        eps = torch.randn(post.mean.shape, generator=noise_gen, device=device)
        values.append((post.mean.float() + post.std.float() * eps).flatten())
    return float(1.0 / torch.cat(values).std())


class _Ema:
    def __init__(self, params):
        self.params = list(params)
        self.shadow = [p.detach().clone().float() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.shadow, [p.detach().float() for p in self.params], 1 - decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange live and averaged weights (call twice to undo)."""
        for p, s in zip(self.params, self.shadow):
            tmp = p.detach().clone()
            p.copy_(s)
            s.copy_(tmp)


def train_unet(unet, text_encoder, tokenizer, vae, device, args, data_gen, noise_gen, log_file, save) -> dict:
    budget = None
    if not args.unet_steps:
        budget = args.minutes * 60 - (time.perf_counter() - args._t_start) - 15  # 15 s to save at the end
    planner = _Planner(args.unet_steps, budget)
    scheduler = arch.build_train_scheduler()
    alphas = scheduler.alphas_cumprod.to(device)
    params = list(unet.parameters()) + ([] if args.freeze_text_encoder else list(text_encoder.parameters()))
    text_encoder.requires_grad_(not args.freeze_text_encoder)
    opt = torch.optim.AdamW(params, lr=args.unet_lr, betas=(0.9, 0.99), weight_decay=0.01)
    ema = _Ema(params)
    unet.train()
    text_encoder.train()
    step, last_save, losses = 0, time.perf_counter(), []

    def save_ema():
        ema.swap()
        save()
        ema.swap()

    while not planner.done(step):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, planner.total, args.unet_lr)
        if step % args.latent_reuse == 0:
            # The frozen VAE's encoder costs more than the UNet's step on a CPU: --latent-reuse
            # trains several steps (fresh noise and time steps) on one encoded batch.
            scenes = shapes.sample_scenes(args.unet_batch, data_gen, p_two=args.two_shapes,
                                          p_names_one=args.two_names_one)
            ids, composed = _caption_ids(tokenizer, scenes, args.composed_loss, data_gen, device)
            with torch.no_grad(), _autocast(device):
                post = vae.encode(shapes.render(scenes, args.size, device)).latent_dist
            mean, std = post.mean.float(), post.std.float()
        eps = torch.randn(mean.shape, generator=noise_gen, device=device)
        latents = (mean + std * eps) * vae.config.scaling_factor
        n = latents.shape[0]
        noise = torch.randn(latents.shape, generator=noise_gen, device=device)
        noise = noise + NOISE_OFFSET * torch.randn((n, latents.shape[1], 1, 1), generator=noise_gen, device=device)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=noise_gen, device=device)
        a = alphas[t].view(n, 1, 1, 1)
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        with _autocast(device):
            cond = text_encoder(ids)[0]
            pred = _predict(unet, noisy, t, cond, composed)
        loss = F.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(step)
        losses.append(loss.item())
        planner.after_step(step)
        step += 1
        if step % args.log_every == 0 or step == 1:
            recent = sum(losses[-args.log_every :]) / len(losses[-args.log_every :])
            _log(f"unet step {step}/{planner.total} loss {recent:.4f} lr {opt.param_groups[0]['lr']:.2e}", log_file)
        if time.perf_counter() - last_save > args.save_every:
            save_ema()
            last_save = time.perf_counter()
    ema.swap()  # the averaged weights are the ones shipped
    unet.eval()
    text_encoder.eval()
    return {"unet_steps": step, "unet_final_loss": sum(losses[-100:]) / max(1, len(losses[-100:]))}


def _caption_ids(tokenizer, scenes, share: float, gen, device):
    """Token ids of a batch and the indices of its composed scenes: a share ``share`` of the
    captioned two-shape scenes is trained through "A AND B" (see _predict). Rows: one per
    scene (a composed one captioned with its first shape), then each composed scene's second
    shape, then as many empty captions."""
    texts = shapes.captions(scenes)
    composed = torch.zeros(0, dtype=torch.long)
    if share > 0 and scenes.second is not None:
        pick = scenes.second.two & (scenes.caption_kind != 2) & (torch.rand(len(scenes), generator=gen) < share)
        composed = pick.nonzero().flatten()
        rows = composed.tolist()
        if rows:
            first, second = shapes.term_captions(scenes)
            for i in rows:
                texts[i] = first[i]
            texts += [second[i] for i in rows] + [""] * len(rows)
    ids = tokenizer(texts, padding="max_length", max_length=MAX_LENGTH, truncation=True,
                    return_tensors="pt").input_ids.to(device)
    return ids, composed.to(device)


def _predict(unet, noisy, t, cond, composed):
    """The UNet's noise prediction for each scene; a composed scene's is Composable Diffusion's
    conjunction of its two one-shape captions at guidance 1 (eps_A + eps_B - eps_empty), so the
    loss teaches the sum of the terms to denoise the scene that holds both shapes."""
    if not len(composed):
        return unet(noisy, t, cond).sample
    out = unet(torch.cat([noisy, noisy[composed], noisy[composed]]), torch.cat([t, t[composed], t[composed]]),
               cond).sample
    n, k = noisy.shape[0], len(composed)
    pred = out[:n].clone()
    pred[composed] = out[composed] + out[n:n + k] - out[n + k:]
    return pred


def _load_parts(folder: Path, device):
    """(text encoder, VAE, UNet) of a demo model folder, in fp32 for training."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    if not (folder / "unet").is_dir():
        raise SystemExit(f"--init {folder}: not a demo model folder (no unet/)")
    kw = {"torch_dtype": torch.float32, "use_safetensors": True}
    text_encoder = CLIPTextModel.from_pretrained(str(folder / "text_encoder"), **kw)
    vae = AutoencoderKL.from_pretrained(str(folder / "vae"), **kw)
    unet = UNet2DConditionModel.from_pretrained(str(folder / "unet"), **kw)
    return text_encoder.to(device), vae.to(device), unet.to(device)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m editor.engine.demo.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="build/demo_model", help="output diffusers folder")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:0, ...")
    p.add_argument("--minutes", type=float, default=55.0, help="total wall-clock budget of both stages")
    p.add_argument("--vae-share", type=float, default=0.3, help="fraction of the budget for the VAE stage")
    p.add_argument("--vae-steps", type=int, default=None, help="fixed VAE steps (overrides the budget)")
    p.add_argument("--unet-steps", type=int, default=None, help="fixed UNet steps (overrides the budget)")
    p.add_argument("--vae-batch", type=int, default=None, help="default 32 on a GPU, 4 on the CPU")
    p.add_argument("--unet-batch", type=int, default=None, help="default 256 on a GPU, 16 on the CPU")
    p.add_argument("--vae-lr", type=float, default=5e-4)
    p.add_argument("--unet-lr", type=float, default=4e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=arch.NATIVE_SIZE,
                   help="training picture size (a multiple of 8; the model's native size is 256)")
    p.add_argument("--save-every", type=float, default=60.0, help="seconds between checkpoints")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--two-shapes", type=float, default=0.0,
                   help="share of training scenes with two shapes (some captioned with one of them)")
    p.add_argument("--two-names-one", type=float, default=shapes.P_TWO_NAMES_ONE,
                   help="share of the two-shape scenes captioned with one of the shapes only")
    p.add_argument("--composed-loss", type=float, default=0.0,
                   help="share of the two-shape scenes trained as the AND of their two one-shape captions")
    p.add_argument("--freeze-text-encoder", action="store_true",
                   help="fine-tune the UNet only (keeps what the prompts' words mean)")
    p.add_argument("--latent-reuse", type=int, default=1,
                   help="UNet steps trained on each encoded batch (saves VAE encoding on a CPU)")
    p.add_argument("--init", default=None,
                   help="fine-tune: start from this demo model folder (its VAE is kept, no VAE stage)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args._t_start = time.perf_counter()
    if args.latent_reuse < 1:
        raise SystemExit(f"--latent-reuse must be at least 1, got {args.latent_reuse}")
    for name in ("two_shapes", "two_names_one", "composed_loss"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise SystemExit(f"--{name.replace('_', '-')} is a share between 0 and 1, got {getattr(args, name)}")
    if args.size < 8 or args.size % 8:
        raise SystemExit(f"--size must be a positive multiple of 8, got {args.size}")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    args.vae_batch = args.vae_batch or (32 if gpu else 4)
    args.unet_batch = args.unet_batch or (256 if gpu else 16)
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "training_log.txt", "w", encoding="utf-8")
    _log(f"args: {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}", log_file)
    _log(f"device {device} ({torch.cuda.get_device_name(device) if gpu else 'cpu'}), torch {torch.__version__}", log_file)

    torch.manual_seed(args.seed)
    data_gen = torch.Generator().manual_seed(args.seed)
    noise_gen = torch.Generator(device=device).manual_seed(args.seed + 1)

    from transformers import CLIPTokenizer

    arch.build_scheduler()  # fail early on a broken diffusers install
    tokenizer = CLIPTokenizer.from_pretrained(str(arch.tok.write_tokenizer(out / "tokenizer")))
    if args.init:
        text_encoder, vae, unet = _load_parts(Path(args.init), device)
    else:
        text_encoder = arch.build_text_encoder().to(device)
        vae = arch.build_vae().to(device)
        unet = arch.build_unet().to(device)
    info: dict = {"seed": args.seed, "size": args.size, "device": str(device), "torch": torch.__version__,
                  "two_shapes": args.two_shapes, "two_names_one": args.two_names_one,
                  "composed_loss": args.composed_loss,
                  "freeze_text_encoder": args.freeze_text_encoder, "init": args.init, "latent_reuse": args.latent_reuse}
    if gpu:
        info["gpu"] = torch.cuda.get_device_name(device)

    def save():
        t0 = time.perf_counter()
        arch.write_pipeline(out, text_encoder, vae, unet)
        _log(f"saved {out} ({arch.weights_size(out) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s", log_file)

    if args.init:
        vae.requires_grad_(False)
        info.update(vae_steps=0, scaling_factor=vae.config.scaling_factor)
    else:
        t0 = time.perf_counter()
        info.update(train_vae(vae, device, args, data_gen, noise_gen, log_file, save))
        info["vae_seconds"] = round(time.perf_counter() - t0, 1)
        vae.requires_grad_(False)
        scale = latent_scale(vae, device, data_gen, noise_gen, batch=args.vae_batch, size=args.size)
        vae.register_to_config(scaling_factor=scale)
        info["scaling_factor"] = scale
        _log(f"vae done: {info}", log_file)
        save()

    t0 = time.perf_counter()
    info.update(train_unet(unet, text_encoder, tokenizer, vae, device, args, data_gen, noise_gen, log_file, save))
    info["unet_seconds"] = round(time.perf_counter() - t0, 1)
    info["total_seconds"] = round(time.perf_counter() - args._t_start, 1)
    info["repeat_with"] = (
        f"--device {args.device} --seed {args.seed} --vae-steps {info['vae_steps']} --unet-steps {info['unet_steps']}"
        f" --vae-batch {args.vae_batch} --unet-batch {args.unet_batch} --size {args.size}"
        + (f" --two-shapes {args.two_shapes} --two-names-one {args.two_names_one}" if args.two_shapes else "")
        + (f" --composed-loss {args.composed_loss}" if args.two_shapes and args.composed_loss else "")
        + (" --freeze-text-encoder" if args.freeze_text_encoder else "")
        + (f" --init {args.init}" if args.init else "")
        + (f" --latent-reuse {args.latent_reuse}" if args.latent_reuse != 1 else "")
    )
    save()
    (out / "training_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    _log(f"done: {info}", log_file)
    log_file.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
