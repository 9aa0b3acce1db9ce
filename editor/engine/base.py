"""Base images: generate one from a prompt (keeping its trajectory for later brushes), or vary one.

generate_image keeps the latent of every denoising step in a small registry keyed by the
pipeline and a hash of the returned pixels. A BrushEngine whose window lies on those pixels
at scale 1 (lookup_window) follows the reference method on the true trajectory instead of
re-noising.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from .errors import BadRequest
from .lora import apply_loras
from .sampling import (UNetCaller, alphas_cumprod, check_cancel, ddim_step, decode_latent, encode_image,
                       prediction_type, prompt_cache, seeded_noise, trajectory_timesteps, vae_factor)
from .trajectory import Trajectory

_REGISTRY_SIZE = 8
_generated: OrderedDict[tuple[int, str], Trajectory] = OrderedDict()
_pixels: dict[tuple[int, str], np.ndarray] = {}  # the registered pictures, for window lookups


def pixel_digest(rgb: np.ndarray) -> str:
    """Content hash of an image's RGB channels."""
    rgb = np.ascontiguousarray(rgb[..., :3])
    h = hashlib.blake2b(digest_size=16)
    h.update(str(rgb.shape).encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


def lookup_window(pipe, rgb: np.ndarray, origin: tuple[int, int]) -> Trajectory | None:
    """The generated trajectory cropped to a window whose pixels ``rgb`` sit at ``origin`` of a
    picture generate_image made, if the window lies on the latent grid; else None."""
    f = vae_factor(pipe)
    x, y = int(origin[0]), int(origin[1])
    h, w = rgb.shape[:2]
    if x % f or y % f or h % f or w % f:
        return None
    for key, full in _pixels.items():
        if key[0] != id(pipe) or full.shape[0] < y + h or full.shape[1] < x + w:
            continue
        if np.array_equal(full[y:y + h, x:x + w], rgb[..., :3]):
            traj = _generated[key]
            rows, cols = slice(y // f, (y + h) // f), slice(x // f, (x + w) // f)
            return Trajectory(traj.timesteps, traj.alphas, traj.z0[:, :, rows, cols],
                              [lat[:, :, rows, cols] for lat in traj.latents], None, "generated")
    return None


def _register(pipe, rgb: np.ndarray, traj: Trajectory) -> None:
    key = (id(pipe), pixel_digest(rgb))
    _generated[key] = traj
    _pixels[key] = np.ascontiguousarray(rgb[..., :3])
    while len(_generated) > _REGISTRY_SIZE:
        old, _ = _generated.popitem(last=False)
        _pixels.pop(old, None)


def _check_size(pipe, width: int, height: int) -> None:
    f = vae_factor(pipe)
    if width <= 0 or height <= 0 or width % f or height % f:
        raise BadRequest(f"width and height must be positive multiples of {f}, got {width}x{height}")


def effective_guidance(model, guidance: float) -> float:
    """Few-step (turbo/LCM) models are distilled without classifier-free guidance."""
    return 0.0 if model.is_turbo else float(guidance)


def generate_image(model, prompt: str, width: int, height: int, *, seed: int = 0, steps: int = 20,
                   guidance: float = 7.5, negative_prompt: str = "", progress=None, cancel=None,
                   loras=None) -> np.ndarray:
    """Generate an HxWx4 uint8 image (alpha 255) with `steps` deterministic DDIM steps, with the
    LoRA set ``loras`` ((path, weight), ...; () for none) merged in. None keeps the set merged
    now: engine functions that call this (the RGBA generators) run under their caller's set."""
    pipe = model.pipe
    if loras is not None:
        apply_loras(model, loras)
    _check_size(pipe, width, height)
    if int(steps) < 1:
        raise BadRequest(f"steps must be at least 1, got {steps}")
    guidance = effective_guidance(model, guidance)
    cond = prompt_cache(pipe).get_composed(prompt, negative_prompt, guidance > 1.0)
    timesteps = trajectory_timesteps(pipe, steps, model.is_turbo)
    ac = alphas_cumprod(pipe)
    alphas = [float(ac[t]) for t in timesteps] + [1.0]
    f = vae_factor(pipe)
    channels = pipe.unet.config.in_channels
    x = seeded_noise(seed, (1, channels, height // f, width // f), pipe.unet.device)
    caller = UNetCaller(pipe, cond, guidance, (height // f, width // f))
    kind = prediction_type(pipe)
    latents = []
    for i, t in enumerate(timesteps):
        check_cancel(cancel)
        latents.append(x)
        x = ddim_step(caller(x, t), x, alphas[i], alphas[i + 1], kind)
        if progress is not None:
            progress(i + 1, len(timesteps))
    check_cancel(cancel)
    rgb = decode_latent(pipe, x)
    _register(pipe, rgb, Trajectory(timesteps, alphas, x, latents, None, "generated"))
    return _opaque(rgb)


def vary_image(model, image: np.ndarray, prompt: str, *, strength: float = 0.5, seed: int = 0, steps: int = 20,
               guidance: float = 7.5, negative_prompt: str = "", progress=None, cancel=None,
               loras=None) -> np.ndarray:
    """img2img: re-noise the whole image to `strength` of the schedule and denoise it with `prompt`
    (``loras`` as in generate_image)."""
    pipe = model.pipe
    if loras is not None:
        apply_loras(model, loras)
    h, w = image.shape[:2]
    _check_size(pipe, w, h)
    if not 0.0 < strength <= 1.0:
        raise BadRequest(f"strength must lie in (0, 1], got {strength}")
    guidance = effective_guidance(model, guidance)
    cond = prompt_cache(pipe).get_composed(prompt, negative_prompt, guidance > 1.0)
    timesteps = trajectory_timesteps(pipe, steps, model.is_turbo)
    ac = alphas_cumprod(pipe)
    alphas = [float(ac[t]) for t in timesteps] + [1.0]
    start = len(timesteps) - max(1, round(strength * len(timesteps)))
    z0 = encode_image(pipe, image)
    a = alphas[start]
    x = (a ** 0.5) * z0 + ((1 - a) ** 0.5) * seeded_noise(seed, z0.shape, z0.device)
    caller = UNetCaller(pipe, cond, guidance, tuple(z0.shape[2:]))
    kind = prediction_type(pipe)
    for i in range(start, len(timesteps)):
        check_cancel(cancel)
        x = ddim_step(caller(x, timesteps[i]), x, alphas[i], alphas[i + 1], kind)
        if progress is not None:
            progress(i - start + 1, len(timesteps) - start)
    return _opaque(decode_latent(pipe, x))


def _opaque(rgb: np.ndarray) -> np.ndarray:
    out = np.empty(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3] = rgb
    out[..., 3] = 255
    return out


__all__ = ["generate_image", "vary_image", "lookup_window", "pixel_digest"]
