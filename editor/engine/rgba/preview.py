"""Cheap live previews: latents -> RGB through a per-model linear fit of its VAE.

Decoding every step with the VAE would cost more than the step itself, so we fit
``rgb ~ A @ latent + b`` once per pipeline (one small VAE decode of random
latents, least squares on the 8x8-averaged pixels) and apply it to each step's
latent. Good enough to show composition and colours while the user waits.
"""
from __future__ import annotations

import weakref

import numpy as np
import torch

_fits: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@torch.inference_mode()
def _fit(pipe) -> torch.Tensor:
    vae = pipe.vae
    gen = torch.Generator("cpu").manual_seed(0)
    # Smooth random latents (upsampled noise) look more like real latents than white noise.
    lat = torch.randn(4, 4, 4, 4, generator=gen)
    lat = torch.nn.functional.interpolate(lat, size=(16, 16), mode="bilinear", align_corners=False) * 2.0
    img = vae.decode(lat.to(vae.device, vae.dtype), return_dict=False)[0].float().cpu()
    f = img.shape[-1] // 16
    small = torch.nn.functional.avg_pool2d(img, f)  # 4x3x16x16 in [-1, 1]
    x = torch.cat([lat.permute(0, 2, 3, 1).reshape(-1, 4), torch.ones(4 * 256, 1)], dim=1)
    y = small.permute(0, 2, 3, 1).reshape(-1, 3)
    return torch.linalg.lstsq(x.double(), y.double()).solution.float()  # 5x3


def latent_preview(pipe, latents: torch.Tensor) -> np.ndarray:
    """Scaled latents (1x4xhxw) -> hxwx3 uint8 approximate colours (1/8 of the image size)."""
    coef = _fits.get(pipe)
    if coef is None:
        coef = _fits[pipe] = _fit(pipe)
    raw = latents[0].float().cpu() / pipe.vae.config.scaling_factor
    x = torch.cat([raw.permute(1, 2, 0), torch.ones(*raw.shape[1:], 1)], dim=2)
    rgb = (x @ coef).clamp(-1, 1)
    return ((rgb + 1.0) * 127.5).round().to(torch.uint8).numpy()
