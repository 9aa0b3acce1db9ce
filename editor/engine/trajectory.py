"""A source's base trajectory: the latent at every step of an N-step deterministic schedule.

A generated image keeps the latents its own denoising produced. An imported or painted
image has only its clean latent z0; its latent at step i is z0 re-noised to that step's
level with one fixed noise (the simpler of the two published options; the pixel-space
paste-back hides what it cannot reproduce).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

Crop = tuple[slice, slice]  # (rows, cols) in latent units
_FIXED_NOISE_SEED = 0x5EED


@dataclass
class Trajectory:
    timesteps: list[int]
    alphas: list[float]  # cumulative alpha per timestep, plus 1.0 for the clean end
    z0: torch.Tensor  # 1x4xhxw float32, the end of the trajectory
    latents: list[torch.Tensor] | None = None  # N cached latents (generated sources)
    fixed_noise: torch.Tensor | None = None  # the one noise of a re-noised source
    origin: str = "renoised"
    extra: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def latent(self, i: int, crop: Crop | None = None) -> torch.Tensor:
        """Latent before step i (i == steps gives the clean end)."""
        if i >= self.steps:
            return _crop(self.z0, crop)
        if self.latents is not None:
            return _crop(self.latents[i], crop)
        a = self.alphas[i]
        return (a ** 0.5) * _crop(self.z0, crop) + ((1 - a) ** 0.5) * _crop(self.fixed_noise, crop)

    def noise(self, i: int, crop: Crop | None = None) -> torch.Tensor:
        """The noise component of the latent at step i, so that latent = sqrt(a) z0 + sqrt(1-a) noise."""
        if self.latents is None:
            return _crop(self.fixed_noise, crop)
        a = self.alphas[i]
        return (_crop(self.latents[i], crop) - (a ** 0.5) * _crop(self.z0, crop)) / ((1 - a) ** 0.5)


def renoised(z0: torch.Tensor, timesteps: list[int], alphas: list[float]) -> Trajectory:
    from .sampling import seeded_noise

    noise = seeded_noise(_FIXED_NOISE_SEED, z0.shape, z0.device)
    return Trajectory(list(timesteps), list(alphas), z0, None, noise, "renoised")


def _crop(t: torch.Tensor, crop: Crop | None) -> torch.Tensor:
    if crop is None:
        return t
    return t[:, :, crop[0], crop[1]]
