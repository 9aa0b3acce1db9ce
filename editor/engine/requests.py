"""Immutable job descriptions handed to the engine, and what it hands back."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import BadRequest


@dataclass(frozen=True, eq=False)
class BrushRequest:
    """One diffusion brush edit.

    source: HxWx3 uint8 (the composite below the layer), read-only; source_key: a hash of it
    chosen by the caller (the engine caches the source's encoding under it). region: HxW uint8
    (255 = edit here). steps: regeneration steps R (the edit re-runs the last R of the base
    trajectory's steps). strength: 0 leaves the region as it was, 1 re-noises it with fresh
    noise at the starting noise level. preview: a cheaper render (fewer denoising jumps over
    the same noise range) for live feedback.
    """

    layer_id: str
    source: np.ndarray
    source_key: str
    region: np.ndarray
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    strength: float = 1.0
    steps: int = 5
    guidance: float = 7.5
    preview: bool = False
    origin: tuple[int, int] = (0, 0)
    work_size: tuple[int, int] | None = None
    trajectory_steps: int | None = None
    change_gate: bool | None = None
    #: generation parameters (generate_image's keywords) of generated pictures below: when the
    #: window lies on one at scale 1 and its trajectory is not in memory, it is rebuilt
    bases: tuple = ()
    #: LoRAs merged into the model for this edit: ((path, weight), ...) (see engine.lora)
    loras: tuple = ()

    def __post_init__(self):
        src, reg = self.source, self.region
        if not isinstance(src, np.ndarray) or src.dtype != np.uint8 or src.ndim != 3 or src.shape[2] not in (3, 4):
            raise BadRequest(f"source must be an HxWx3 uint8 array, got {_describe(src)}")
        if not isinstance(reg, np.ndarray) or reg.dtype != np.uint8 or reg.shape != src.shape[:2]:
            raise BadRequest(f"region must be an HxW uint8 array of the source's size {src.shape[:2]}, "
                             f"got {_describe(reg)}")
        if not 0.0 <= float(self.strength) <= 1.0:
            raise BadRequest(f"strength must lie in [0, 1], got {self.strength}")
        if int(self.steps) < 1:
            raise BadRequest(f"steps must be at least 1, got {self.steps}")
        if float(self.guidance) < 0:
            raise BadRequest(f"guidance must not be negative, got {self.guidance}")
        if self.work_size is not None and (len(self.work_size) != 2 or min(int(v) for v in self.work_size) < 8):
            raise BadRequest(f"work_size must be (width, height) of at least 8 pixels, got {self.work_size}")
        if self.trajectory_steps is not None and int(self.trajectory_steps) < 1:
            raise BadRequest(f"trajectory_steps must be at least 1, got {self.trajectory_steps}")

    def params_key(self) -> tuple:
        """Everything besides the pixels that decides the result."""
        return (self.prompt, self.negative_prompt, int(self.seed), float(self.strength),
                int(self.steps), float(self.guidance), bool(self.preview), tuple(self.origin),
                None if self.work_size is None else tuple(int(v) for v in self.work_size),
                self.trajectory_steps, self.change_gate, tuple(tuple(sorted(b.items())) for b in self.bases),
                tuple(self.loras))


@dataclass(frozen=True, eq=False)
class BrushResult:
    """The rendered layer: rgba is straight RGBA of the working window, placed at ``offset``
    (x, y) in the document; alpha = dilated feathered region (exactly 0 outside the band, so
    compositing keeps the source there). key identifies the full parameter set; rect
    (x, y, w, h) bounds the non-transparent pixels within rgba."""

    layer_id: str
    rgba: np.ndarray
    key: str
    rect: tuple[int, int, int, int] = field(default=(0, 0, 0, 0))
    unet_evals: int = 0
    offset: tuple[int, int] = (0, 0)


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape} and dtype {a.dtype}"
    return type(a).__name__
