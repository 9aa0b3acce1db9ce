"""Immutable job descriptions handed to the engine, and what it hands back."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from editor.core.params import BRUSH_VERBS

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
    #: BRUSH_VERBS: remove, expand and an empty-prompt fill replace the region's source by a
    #: fill from its surroundings first; vary shows every change (no change gate)
    verb: str = "paint"
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
        if self.verb not in BRUSH_VERBS:
            raise BadRequest(f"verb must be one of {', '.join(BRUSH_VERBS)}, got {self.verb!r}")
        if self.trajectory_steps is not None and int(self.trajectory_steps) < 1:
            raise BadRequest(f"trajectory_steps must be at least 1, got {self.trajectory_steps}")

    @property
    def fills_from_context(self) -> bool:
        """Whether the region's source is replaced by a fill from its surroundings: what is
        there is to go (remove), there is nothing yet (expand), or nothing is asked (fill)."""
        return self.verb in ("remove", "expand") or (self.verb == "fill" and not self.prompt.strip())

    def params_key(self) -> tuple:
        """Everything besides the pixels that decides the result."""
        return (self.prompt, self.negative_prompt, int(self.seed), float(self.strength),
                int(self.steps), float(self.guidance), bool(self.preview), tuple(self.origin),
                None if self.work_size is None else tuple(int(v) for v in self.work_size),
                self.trajectory_steps, self.change_gate, self.verb, tuple(tuple(sorted(b.items())) for b in self.bases),
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


@dataclass(frozen=True, eq=False)
class JointPart:
    """One layer of a joint pass. region: HxW uint8 of the request's source (255 = edit)."""

    layer_id: str
    region: np.ndarray
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    strength: float = 1.0
    steps: int = 5
    guidance: float = 7.5


@dataclass(frozen=True, eq=False)
class JointBrushRequest:
    """Several brush layers in one denoising pass over one source/window (see the module doc).
    Fields as ``BrushRequest``'s; ``parts`` bottom -> top (an upper part wins where regions
    overlap); ``group_id`` names the group for logs and job keys."""

    group_id: str
    source: np.ndarray
    source_key: str
    parts: tuple
    preview: bool = False
    origin: tuple[int, int] = (0, 0)
    work_size: tuple[int, int] | None = None
    trajectory_steps: int | None = None
    change_gate: bool | None = None
    bases: tuple = ()
    loras: tuple = ()  # one set for the pass: every part renders with it

    def __post_init__(self):
        if not self.parts or not all(isinstance(p, JointPart) for p in self.parts):
            raise BadRequest(f"a joint brush request needs one JointPart per layer, got {self.parts!r}")
        ids = [p.layer_id for p in self.parts]
        if len(set(ids)) != len(ids):
            raise BadRequest(f"joint brush request {self.group_id!r} names a layer twice: {ids}")
        for i in range(len(self.parts)):
            self.part_request(i)  # BrushRequest checks every value and names it

    def part_request(self, i: int) -> BrushRequest:
        """Part ``i`` as a single-layer request on the same source and window (what rendering it
        separately would ask)."""
        p = self.parts[i]
        return BrushRequest(layer_id=p.layer_id, source=self.source, source_key=self.source_key, region=p.region,
                            prompt=p.prompt, negative_prompt=p.negative_prompt, seed=p.seed, strength=p.strength,
                            steps=p.steps, guidance=p.guidance, preview=self.preview, origin=self.origin,
                            work_size=self.work_size, trajectory_steps=self.trajectory_steps,
                            change_gate=self.change_gate, bases=self.bases, loras=self.loras)

    def params_key(self) -> tuple:
        return tuple(self.part_request(i).params_key() + (p.layer_id,) for i, p in enumerate(self.parts))



def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape} and dtype {a.dtype}"
    return type(a).__name__


# ----------------------------------------------------------------------------- generation
# One frozen request class per kind of generation job; the engine's `generation.run_request`
# maps each to its function, so the worker queues requests, never function names.
QUALITIES = ("fast", "quality")
XL_PATCHES = ("attn", "conv")


@dataclass(frozen=True, eq=False, kw_only=True)
class _Sampled:
    """Sampling settings every generation shares; checked on construction."""

    seed: int = 0
    steps: int = 20
    guidance: float = 7.5
    negative_prompt: str = ""
    #: LoRA files ((path, weight), ...) merged into the model for this job (none: its own weights)
    loras: tuple = ()
    #: False for queries that need no model loaded (e.g. AcceleratorQuery)
    needs_model = True

    def __post_init__(self):
        for name in ("prompt", "negative_prompt", "prompt_fg", "prompt_bg", "prompt_blend"):
            if hasattr(self, name) and not isinstance(getattr(self, name), str):
                raise BadRequest(f"{name} must be a string, got {type(getattr(self, name)).__name__}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise BadRequest(f"seed must be a non-negative integer, got {self.seed!r}")
        if int(self.steps) < 1:
            raise BadRequest(f"steps must be at least 1, got {self.steps}")
        if float(self.guidance) < 0:
            raise BadRequest(f"guidance must not be negative, got {self.guidance}")
        for name in ("width", "height"):
            if hasattr(self, name) and int(getattr(self, name)) < 8:
                raise BadRequest(f"{name} must be at least 8 pixels, got {getattr(self, name)}")
        if getattr(self, "quality", "fast") not in QUALITIES:
            raise BadRequest(f"quality must be one of {QUALITIES}, got {self.quality!r}")
        if getattr(self, "xl_patch", "attn") not in XL_PATCHES:
            raise BadRequest(f"xl_patch must be one of {XL_PATCHES}, got {self.xl_patch!r}")
        for name, channels in (("image", (3, 4)), ("fg_rgba", (4,)), ("bg_rgb", (3, 4))):
            a = getattr(self, name, None)
            if hasattr(self, name) and (not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 3
                                        or a.shape[2] not in channels):
                raise BadRequest(f"{name} must be an HxWx{'/'.join(map(str, channels))} uint8 array, "
                                 f"got {_describe(a)}")

    def sampling(self) -> dict:
        return dict(seed=int(self.seed), steps=int(self.steps), guidance=float(self.guidance),
                    negative_prompt=self.negative_prompt)


@dataclass(frozen=True, eq=False, kw_only=True)
class GenerateRequest(_Sampled):
    """Text to image (``base.generate_image``); width/height multiples of 8."""

    prompt: str
    width: int
    height: int

    def __post_init__(self):
        super().__post_init__()
        if int(self.width) % 8 or int(self.height) % 8:
            raise BadRequest(f"width and height must be multiples of 8, got {self.width}x{self.height}")


@dataclass(frozen=True, eq=False, kw_only=True)
class VaryRequest(_Sampled):
    """An img2img variation of ``image`` (``base.vary_image``)."""

    image: np.ndarray
    prompt: str
    strength: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 < float(self.strength) <= 1.0:
            raise BadRequest(f"strength must lie in (0, 1], got {self.strength}")


@dataclass(frozen=True, eq=False, kw_only=True)
class RgbaRequest(_Sampled):
    """A transparent layer (``rgba.generate_rgba``); ``weights``: a folder or None (default)."""

    prompt: str
    width: int
    height: int
    guidance: float = 7.0
    quality: str = "fast"
    weights: str | None = None
    xl_patch: str = "attn"


@dataclass(frozen=True, eq=False, kw_only=True)
class MatteRequest(_Sampled):
    """The weight-free cut-out fallback (``rgba.generate_matte``)."""

    prompt: str
    width: int
    height: int
    guidance: float = 7.0


@dataclass(frozen=True, eq=False, kw_only=True)
class JointRequest(_Sampled):
    """Foreground, background and blend together (``rgba.generate_joint``)."""

    prompt_fg: str
    prompt_bg: str
    prompt_blend: str
    width: int = 512
    height: int = 512
    guidance: float = 7.0
    quality: str = "fast"
    weights: str | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class BackgroundRequest(_Sampled):
    """A background for a transparent foreground (``rgba.generate_background``)."""

    fg_rgba: np.ndarray
    prompt: str
    blend_prompt: str | None = None
    guidance: float = 7.0
    weights: str | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class ForegroundRequest(_Sampled):
    """A transparent foreground for a background (``rgba.generate_foreground``)."""

    bg_rgb: np.ndarray
    prompt: str
    blend_prompt: str | None = None
    guidance: float = 7.0
    quality: str = "fast"
    weights: str | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class AcceleratorQuery(_Sampled):
    """Which accelerators torch sees (``models.accelerator_info``); needs no model."""

    needs_model = False


GENERATION_REQUESTS = (GenerateRequest, VaryRequest, RgbaRequest, MatteRequest, JointRequest,
                       BackgroundRequest, ForegroundRequest, AcceleratorQuery)
