"""Denoising building blocks shared by base generation and the brushes.

One deterministic DDIM step that can jump between any two timesteps (previews skip steps of
the cached trajectory), prompt encoding with an LRU cache, guided UNet calls, and the VAE
in both directions. Everything here works on both SD1.x/2.x and SDXL pipelines.

Composed prompts ("a red circle AND a blue square", editor.core.prompt_syntax) are encoded
one term at a time and run as one UNet batch [uncond, term_1, ..., term_n], combined as
Composable Diffusion does: eps_uncond + guidance * sum_i w_i (eps_i - eps_uncond).
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from editor.core.prompt_syntax import PromptSyntaxError, parse_prompt

from . import cuda_graphs
from .errors import BadRequest, Cancelled


@dataclass(frozen=True)
class Conditioning:
    """Text conditioning for one (prompt, negative prompt) pair; guided batches are [neg, pos].

    A composed prompt has ``weights`` (one per term, negative for NOT) and the batch
    [neg, term_1, ..., term_n], guided or not (unguided, the terms combine at scale 1)."""

    embeds: torch.Tensor
    pooled: torch.Tensor | None
    guided: bool
    weights: tuple[float, ...] = ()


class PromptCache:
    """LRU cache of prompt encodings for one pipeline (text encoders are the slow part on CPU)."""

    def __init__(self, pipe, size: int = 32):
        self.pipe = pipe
        self.size = size
        self._items: OrderedDict[tuple, Conditioning] = OrderedDict()

    def get(self, prompt: str, negative: str, guided: bool) -> Conditioning:
        key = (prompt, negative, guided)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        cond = encode_prompt(self.pipe, prompt, negative, guided)
        self._items[key] = cond
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return cond

    def get_composed(self, prompt: str, negative: str, guided: bool) -> Conditioning:
        """The conditioning of a prompt that may use AND / NOT / weights (see prompt_syntax).

        A prompt without them is encoded exactly as ``get`` does; each term of a composed one
        is cached on its own (editing one term re-encodes only that term). A prompt that does
        not parse raises BadRequest with the parser's message."""
        try:
            parsed = parse_prompt(prompt)
        except PromptSyntaxError as exc:
            raise BadRequest(f"prompt {prompt!r}: {exc}") from None
        if not parsed.composed:
            return self.get(prompt if parsed.plain else parsed.terms[0].text, negative, guided)
        conds = [self.get(term.text, negative, True) for term in parsed.terms]  # each [neg, term]
        embeds = torch.cat([conds[0].embeds[:1]] + [c.embeds[1:] for c in conds])
        pooled = None
        if conds[0].pooled is not None:
            pooled = torch.cat([conds[0].pooled[:1]] + [c.pooled[1:] for c in conds])
        return Conditioning(embeds, pooled, guided, tuple(term.weight for term in parsed.terms))


def require_plain(prompt: str, what: str) -> None:
    """Raise BadRequest when ``prompt`` uses AND / NOT / weights (or does not parse): for modes
    that cannot compose predictions; ``what`` names the mode in the message."""
    try:
        composed = parse_prompt(prompt).composed
    except PromptSyntaxError as exc:
        raise BadRequest(f"prompt {prompt!r}: {exc}") from None
    if composed:
        raise BadRequest(f"{what} does not support AND / NOT or weights in prompts yet; "
                         f"use a plain prompt (got {prompt!r})")


_prompt_caches: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def prompt_cache(pipe) -> PromptCache:
    """The pipeline's shared prompt cache (base generation and every brush engine use it)."""
    cache = _prompt_caches.get(pipe)
    if cache is None:
        cache = _prompt_caches[pipe] = PromptCache(pipe)
    return cache


@torch.inference_mode()
def encode_prompt(pipe, prompt: str, negative: str, guided: bool) -> Conditioning:
    device = pipe.unet.device
    if is_sdxl(pipe):
        pos, neg, pooled, neg_pooled = pipe.encode_prompt(
            prompt=prompt, device=device, num_images_per_prompt=1,
            do_classifier_free_guidance=guided, negative_prompt=negative or None)
        if guided:
            return Conditioning(torch.cat([neg, pos]), torch.cat([neg_pooled, pooled]), True)
        return Conditioning(pos, pooled, False)
    pos, neg = pipe.encode_prompt(prompt, device, 1, guided, negative_prompt=negative or None)
    if guided:
        return Conditioning(torch.cat([neg, pos]), None, True)
    return Conditioning(pos, None, False)


def is_sdxl(pipe) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


def alphas_cumprod(pipe) -> torch.Tensor:
    return pipe.scheduler.alphas_cumprod.to(torch.float64)


def prediction_type(pipe) -> str:
    return pipe.scheduler.config.get("prediction_type", "epsilon")


def trajectory_timesteps(pipe, steps: int, turbo: bool) -> list[int]:
    """The N timesteps (noisiest first) of a deterministic DDIM schedule of `steps` steps."""
    from diffusers import DDIMScheduler

    config = dict(pipe.scheduler.config)
    if turbo:
        config["timestep_spacing"] = "trailing"
    sched = DDIMScheduler.from_config(config)
    sched.set_timesteps(int(steps))
    return [int(t) for t in sched.timesteps]


def split_prediction(pred: torch.Tensor, x: torch.Tensor, ab: float, kind: str):
    """(predicted clean latent, predicted noise) from a model output at cumulative alpha ab."""
    a, s = ab ** 0.5, (1.0 - ab) ** 0.5
    if kind == "epsilon":
        eps = pred
        x0 = (x - s * eps) / a
    elif kind == "v_prediction":
        x0 = a * x - s * pred
        eps = a * pred + s * x
    elif kind == "sample":
        x0 = pred
        eps = (x - a * x0) / s
    else:
        raise ValueError(f"unsupported prediction type {kind!r}")
    return x0, eps


def ddim_step(pred, x, ab_t: float, ab_next: float, kind: str) -> torch.Tensor:
    """Deterministic (eta = 0) DDIM update from cumulative alpha ab_t to ab_next."""
    x0, eps = split_prediction(pred.float(), x.float(), ab_t, kind)
    return (ab_next ** 0.5) * x0 + ((1.0 - ab_next) ** 0.5) * eps


class UNetCaller:
    """Guided UNet calls at a fixed latent size; counts evaluations (batch rows count once)."""

    def __init__(self, pipe, cond: Conditioning, guidance: float, latent_hw: tuple[int, int],
                 original_hw: tuple[int, int] | None = None, crop_xy: tuple[int, int] = (0, 0)):
        self.pipe = pipe
        self.cond = cond
        self.guidance = guidance
        self.evals = 0
        self.added = None
        self.dtype = first_parameter(pipe.unet).dtype
        self.graphed = cuda_graphs.enabled_for(pipe.unet) and use_cuda_graphs(pipe)
        if is_sdxl(pipe):
            f = vae_factor(pipe)
            h, w = latent_hw[0] * f, latent_hw[1] * f
            oh, ow = original_hw or (h, w)
            ids = torch.tensor([[oh, ow, crop_xy[1], crop_xy[0], h, w]], dtype=cond.embeds.dtype,
                               device=cond.embeds.device)
            ids = ids.repeat(cond.embeds.shape[0], 1)
            self.added = {"text_embeds": cond.pooled, "time_ids": ids}

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, t: int) -> torch.Tensor:
        unet = self.pipe.unet
        inp = x.to(self.dtype)
        weights = self.cond.weights
        if weights:
            if x.shape[0] != 1:
                raise BadRequest("AND / NOT prompts need one latent per call, got a batch of "
                                 f"{x.shape[0]} (this generation mode does not support them)")
            inp = inp.repeat(len(weights) + 1, *([1] * (inp.dim() - 1)))
        elif self.cond.guided:
            inp = torch.cat([inp, inp])
        if self.graphed:
            added = (self.added["text_embeds"], self.added["time_ids"]) if self.added else ()
            step = torch.full((), t, dtype=torch.float32, device=inp.device)
            runner = cuda_graphs.unet_runner(unet, use_compile(self.pipe))
            out = runner(inp, step, self.cond.embeds, *added)
        else:
            out = unet(inp, t, encoder_hidden_states=self.cond.embeds, added_cond_kwargs=self.added,
                       return_dict=False)[0]
        self.evals += 1
        if weights:
            return compose(out.float(), weights, self.guidance if self.cond.guided else 1.0)
        if self.cond.guided:
            uncond, text = out.float().chunk(2)
            return uncond + self.guidance * (text - uncond)
        return out.float()


def compose(out: torch.Tensor, weights, scale: float) -> torch.Tensor:
    """Composable Diffusion's combination of a batch [uncond, term_1, ..., term_n] of predictions:
    uncond + scale * sum_i w_i (term_i - uncond)."""
    uncond, terms = out[:1], out[1:]
    w = torch.tensor(weights, dtype=out.dtype, device=out.device).view(-1, *([1] * (out.dim() - 1)))
    return uncond + scale * (w * (terms - uncond)).sum(0, keepdim=True)


def vae_factor(pipe) -> int:
    return 2 ** (len(pipe.vae.config.block_out_channels) - 1)


def unet_multiple(pipe) -> int:
    """Latent sizes must be multiples of this for the UNet's down/up sampling to line up."""
    return 2 ** (len(pipe.unet.config.block_out_channels) - 1)


def first_parameter(module: torch.nn.Module) -> torch.nn.Parameter:
    """A module's first parameter, for its dtype and device: diffusers' .dtype and .device walk
    every submodule (milliseconds per call on a UNet, several calls per edit)."""
    return next(module.parameters())


def _vae_dtype(pipe):
    vae = pipe.vae
    dtype = first_parameter(vae).dtype
    if dtype == torch.float16 and vae.config.get("force_upcast", False):
        vae.to(torch.float32)  # SDXL's original VAE overflows in fp16
        dtype = torch.float32
    return dtype


@torch.inference_mode()
def encode_image(pipe, rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> scaled latent (float32), using the posterior mean (deterministic)."""
    vae = pipe.vae
    dtype = _vae_dtype(pipe)
    x = torch.from_numpy(np.ascontiguousarray(rgb[..., :3])).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    lat = vae.encode(x.to(first_parameter(vae).device, dtype)).latent_dist.mean
    return _scale_in(pipe, lat.float())


@torch.inference_mode()
def decode_latent(pipe, latent: torch.Tensor) -> np.ndarray:
    """Scaled latent -> HxWx3 uint8."""
    vae = pipe.vae
    dtype = _vae_dtype(pipe)
    z = _scale_out(pipe, latent.float()).to(first_parameter(vae).device, dtype)
    if cuda_graphs.enabled_for(vae) and use_cuda_graphs(pipe):
        img = cuda_graphs.vae_decode_runner(vae, use_compile(pipe))(z)
    else:
        img = vae.decode(z, return_dict=False)[0]
    img = ((img.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return img[0].permute(1, 2, 0).cpu().numpy()


def _scale_in(pipe, lat):
    shift = pipe.vae.config.get("shift_factor") or 0.0
    return (lat - shift) * pipe.vae.config.scaling_factor


def _scale_out(pipe, lat):
    shift = pipe.vae.config.get("shift_factor") or 0.0
    return lat / pipe.vae.config.scaling_factor + shift


def seeded_noise(seed: int, shape, device, dtype=torch.float32) -> torch.Tensor:
    """Gaussian noise from a CPU generator, so a seed gives the same noise on every device."""
    gen = torch.Generator("cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float32).to(device, dtype)


def check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


def use_cuda_graphs(pipe) -> bool:
    """Whether this pipeline replays CUDA graphs (on by default on CUDA; set
    ``pipe.layerbrush_cuda_graphs = False`` to run eagerly, e.g. to compare)."""
    return getattr(pipe, "layerbrush_cuda_graphs", True)


def use_compile(pipe) -> bool:
    """Whether the graphed UNet and VAE calls are compiled with torch.compile first (off by
    default: each new latent size then costs a compile; see DiffusionModel.compile)."""
    return getattr(pipe, "layerbrush_compile", False)
