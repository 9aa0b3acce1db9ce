"""Transparent layer generation (LayerDiffuse) on a loaded DiffusionModel.

    rgba = generate_rgba(model, "a glass teapot", 512, 512)          # HxWx4 straight alpha
    bg = generate_background(model, fg_rgba, "a kitchen table")       # SD1.5 fg2bg
    fg = generate_foreground(model, bg_rgb, "a cat")                  # SD1.5 bg2fg
    fg, bg, blend = generate_joint(model, "a cat", "a sofa", "a cat on a sofa")

Sizes that are not multiples of 64 are generated at the nearest supported size
and resized to the requested one. We build every batch ourselves, so the
frame count of the attention-sharing patch always divides it.
Weights: ``weights=`` (a LayerWeights, a folder, or None to look in the default
folder and the Hugging Face cache); missing weights raise LayerDiffuseUnavailable.
The bundled demo model uses its own trained weights (demo_weights.py: an attention LoRA
in the SDXL LoRA's key scheme and a narrower decoder) through the same code path.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ..errors import BadRequest
from ..sampling import (Conditioning, UNetCaller, check_cancel, is_sdxl, prompt_cache, require_plain,
                        seeded_noise)
from . import demo_weights, imageops, xl_conv
from .attention_sharing import VARIANTS, AttentionSharingPatch
from .errors import LayerDiffuseUnavailable
from .loader import check_layout, load_module_strict, read_layout, read_tensors
from .transparent_vae import SIZE_MULTIPLE, DecoderConfig, TransparentDecoderUNet, decode_rgba
from .weights import LayerWeights, find_local_weights
from .xl_lora import expected_layout, merged, rename_state_dict

QUALITIES = ("fast", "quality")
#: SDXL transparent patches: the attention LoRA (default) or the conv weight offsets.
XL_PATCHES = ("attn", "conv")
_LOCK = threading.RLock()  # patches mutate the shared UNet: one generation at a time
_CACHE: OrderedDict[tuple, object] = OrderedDict()
_CACHE_SIZE = 3


# ---------------------------------------------------------------- weights


def _cached(key: tuple, build):
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = build()
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def clear_cache() -> None:
    """Forget loaded LayerDiffuse modules (frees their memory)."""
    _CACHE.clear()


def _resolve_weights(model, weights) -> LayerWeights:
    family = model.family
    if demo_weights.is_demo(model):
        # The demo model ships its own transparency weights (trained by the project); a
        # folder picked for SD1.5 models does not apply to it.
        if isinstance(weights, LayerWeights) and weights.family == demo_weights.FAMILY:
            return weights
        if isinstance(weights, (str, Path)) and (Path(weights) / demo_weights.CONFIG_FILE).is_file():
            return demo_weights.demo_layer_weights(weights)
        return demo_weights.demo_layer_weights()
    if family not in ("sd15", "sdxl"):
        raise LayerDiffuseUnavailable(
            f"LayerDiffuse weights exist only for SD1.5 and SDXL models, this model is {family!r}; "
            "use generate_matte for a lower-quality transparent result")
    if weights is None:
        return find_local_weights(family)
    if isinstance(weights, (str, Path)):
        return LayerWeights.from_folder(family, weights)
    if isinstance(weights, LayerWeights):
        if weights.family != family:
            raise LayerDiffuseUnavailable(f"weights are for {weights.family}, the model is {family}")
        return weights
    raise TypeError(f"weights must be a LayerWeights, a folder path or None, not {type(weights).__name__}")


def _decoder(model, lw: LayerWeights, path: Path) -> TransparentDecoderUNet:
    config = lw.decoder_config or DecoderConfig()
    device, dtype = model.pipe.unet.device, model.pipe.unet.dtype

    def build():
        net = TransparentDecoderUNet(config)
        load_module_strict(net, path, "LayerDiffuse transparent decoder")
        return net.to(device=device, dtype=dtype).eval()

    return _cached(("decoder", _file_key(path), config, str(device), str(dtype)), build)


def _sharing(model, path: Path, variant: str) -> AttentionSharingPatch:
    unet = model.pipe.unet
    layout = read_layout(path)
    rank_key = "hookers.layers.0.to_q_lora.0.down.weight"
    rank = layout[rank_key][0] if rank_key in layout else 256

    def build():
        patch = AttentionSharingPatch.for_variant(unet, variant, rank=rank)
        check_layout(path, layout, {k: tuple(v.shape) for k, v in patch.state_dict().items()},
                     f"LayerDiffuse {variant} attention-sharing")
        patch.load_state_dict(read_tensors(path), strict=True)
        return patch.to(device=unet.device, dtype=unet.dtype).eval()

    return _cached(("sharing", variant, _file_key(path), id(unet), str(unet.device), str(unet.dtype)), build)


def _xl_lora(model, path: Path) -> dict:
    unet = model.pipe.unet
    layout = read_layout(path)
    ranks = {shape[0] for key, shape in layout.items() if key.endswith("::lora::1")}
    rank = ranks.pop() if len(ranks) == 1 else 256

    def build():
        check_layout(path, layout, expected_layout(unet, rank), "LayerDiffuse SDXL attention LoRA")
        return rename_state_dict(read_tensors(path, device=unet.device))

    return _cached(("xl_lora", _file_key(path), id(unet), str(unet.device)), build)


def _demo_lora(model, lw: LayerWeights, path: Path) -> dict:
    """The demo model's attention LoRA: the SDXL attention LoRA's key scheme on the demo UNet,
    checked against the exact layout its rank gives (every projection, no other key)."""
    unet = model.pipe.unet
    rank = demo_weights.DemoLayerConfig.read(path.parent).lora_rank

    def build():
        check_layout(path, read_layout(path), expected_layout(unet, rank), "demo transparency LoRA")
        return rename_state_dict(read_tensors(path, device=unet.device))

    return _cached(("demo_lora", _file_key(path), id(unet), str(unet.device)), build)


def _xl_conv(model, path: Path) -> xl_conv.ConvPatch:
    """The checked conv patch plan; the offsets themselves are streamed from the file when
    applied (3.6 GB: not kept in memory between generations)."""
    unet = model.pipe.unet
    return _cached(("xl_conv", _file_key(path), id(unet)), lambda: xl_conv.check_file(unet, path))


# ---------------------------------------------------------------- sampling


def _check_args(model, width: int, height: int, steps: int, quality: str) -> tuple[int, int]:
    if quality not in QUALITIES:
        raise BadRequest(f"quality must be one of {QUALITIES}, got {quality!r}")
    if int(steps) < 1:
        raise BadRequest(f"steps must be at least 1, got {steps}")
    if int(width) < 1 or int(height) < 1:
        raise BadRequest(f"width and height must be positive, got {width}x{height}")
    f = 2 ** (len(model.pipe.vae.config.block_out_channels) - 1)
    if f != 8:
        raise LayerDiffuseUnavailable(f"LayerDiffuse needs a VAE with 8x downsampling, this model's is {f}x")
    return imageops.supported_size(int(width), int(height))


def at_most_native(model, gw: int, gh: int) -> tuple[int, int]:
    """A generation size no longer than the model's native side (a supported size, aspect kept).

    For models whose settings ask for it (the demo model fills larger pictures with several
    shapes); the result is scaled to the requested size afterwards."""
    native = int(getattr(model, "native_size", 0) or 0)
    if not native or max(gw, gh) <= native:
        return gw, gh
    scale = native / max(gw, gh)
    return imageops.supported_size(max(1, round(gw * scale)), max(1, round(gh * scale)))


def _transparent_settings(model) -> dict:
    """The model folder's ``layerbrush.json`` "transparent" entry (e.g. at_native_size)."""
    entry = (getattr(model, "settings", None) or {}).get("transparent") or {}
    return entry if isinstance(entry, dict) else {}


def _scheduler(model):
    return generation_scheduler(model.pipe.scheduler.config, turbo=getattr(model, "is_turbo", False))


def generation_scheduler(config, turbo: bool = False):
    """The sampler transparent generation uses, from a pipeline's scheduler config."""
    from diffusers import DPMSolverMultistepScheduler

    config = dict(config)
    if turbo:
        return DPMSolverMultistepScheduler.from_config(config, timestep_spacing="trailing")
    # Reference settings: DPM++ 2M with Karras sigmas.
    return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++", solver_order=2,
                                                   use_karras_sigmas=True)


def _framed_conditioning(pipe, prompts: list[str], negative: str, guided: bool) -> Conditioning:
    """Batch layout (b f): [uncond frames..., cond frames...] when guided."""
    for p in prompts:  # the frames share attention by batch position: no room for extra term rows
        require_plain(p, "Transparent (LayerDiffuse) generation")
    cache = prompt_cache(pipe)
    conds = [cache.get(p, negative, guided) for p in prompts]
    if not guided:
        embeds = torch.cat([c.embeds for c in conds])
        pooled = torch.cat([c.pooled for c in conds]) if conds[0].pooled is not None else None
        return Conditioning(embeds, pooled, False)
    neg = [c.embeds[:1] for c in conds]
    pos = [c.embeds[1:] for c in conds]
    embeds = torch.cat(neg + pos)
    pooled = None
    if conds[0].pooled is not None:
        pooled = torch.cat([c.pooled[:1] for c in conds] + [c.pooled[1:] for c in conds])
    return Conditioning(embeds, pooled, True)


@torch.inference_mode()
def _denoise(model, prompts: list[str], negative: str, width: int, height: int, seed: int, steps: int,
             guidance: float, progress, cancel, preview=None, preview_every: int = 1) -> torch.Tensor:
    """Sample one latent per frame (frame f conditioned on prompts[f]); returns Fx4xhxw scaled latents.

    preview(step, total, rgb) gets an approximate hxwx3 uint8 image of frame 0 at 1/8 size.
    """
    pipe = model.pipe
    guidance = 0.0 if getattr(model, "is_turbo", False) else float(guidance)
    guided = guidance > 1.0
    cond = _framed_conditioning(pipe, prompts, negative, guided)
    sched = _scheduler(model)
    device = pipe.unet.device
    sched.set_timesteps(int(steps), device=device)
    h, w = height // 8, width // 8
    x = seeded_noise(seed, (len(prompts), pipe.unet.config.in_channels, h, w), device) * sched.init_noise_sigma
    caller = UNetCaller(pipe, cond, guidance, (h, w))
    total = len(sched.timesteps)
    for i, t in enumerate(sched.timesteps):
        check_cancel(cancel)
        pred = caller(sched.scale_model_input(x, t), t)
        x = sched.step(pred, t, x, return_dict=False)[0]
        if progress is not None:
            progress(i + 1, total)
        if preview is not None and ((i + 1) % max(1, preview_every) == 0 or i + 1 == total):
            from .preview import latent_preview

            preview(i + 1, total, latent_preview(pipe, x[0:1]))
    check_cancel(cancel)
    return x


@torch.inference_mode()
def _vae_decode(pipe, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled latents -> (pixels Bx3xHxW in [0, 1] float32, raw latent given to the VAE)."""
    vae = pipe.vae
    dtype = vae.dtype
    if dtype == torch.float16 and vae.config.get("force_upcast", False):
        dtype = torch.float32  # SDXL's VAE overflows in fp16
    shift = vae.config.get("shift_factor") or 0.0
    raw = latents.float() / vae.config.scaling_factor + shift
    if vae.dtype != dtype:
        vae.to(dtype)
    img = vae.decode(raw.to(vae.device, dtype), return_dict=False)[0]
    return ((img.float().clamp(-1, 1) + 1.0) / 2.0), raw


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    """1xCxHxW float [0, 1] -> HxWxC uint8."""
    return (t[0].float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _transparent(model, decoder, latents: torch.Tensor, quality: str) -> np.ndarray:
    pixels, raw = _vae_decode(model.pipe, latents)
    return _to_uint8(decode_rgba(decoder, pixels, raw, quality))


def _rgb(model, latents: torch.Tensor) -> np.ndarray:
    return _to_uint8(_vae_decode(model.pipe, latents)[0])


def _require_sd15(model, what: str) -> None:
    if model.family != "sd15" or is_sdxl(model.pipe):
        raise LayerDiffuseUnavailable(
            f"{what} uses the SD1.5 LayerDiffuse weights; this model is {model.family}. "
            "Load an SD1.5 model for it.")


# ---------------------------------------------------------------- public API


def generate_rgba(model, prompt: str, width: int, height: int, *, seed: int = 0, steps: int = 20,
                  guidance: float = 7.0, negative_prompt: str = "", quality: str = "fast", weights=None,
                  progress=None, cancel=None, preview=None, xl_patch: str = "attn") -> np.ndarray:
    """A transparent image: HxWx4 uint8, straight alpha, exactly ``width`` x ``height``.

    quality="fast" decodes once; "quality" takes the median of 8 flipped/rotated
    decodes (8x the decoder time, cleaner edges). progress(step, total) is called
    after each denoising step; cancel() -> True stops with engine.errors.Cancelled;
    preview(step, total, rgb) receives a rough (H/8)x(W/8)x3 uint8 image per step
    (colours only: transparency is known after the final decode).
    xl_patch (SDXL only): "attn", the attention LoRA, or "conv", full weight offsets of the
    other layers (stronger style; a separate 3.6 GB file).
    """
    gw, gh = _check_args(model, width, height, steps, quality)
    if _transparent_settings(model).get("at_native_size"):
        gw, gh = at_most_native(model, gw, gh)
    if xl_patch not in XL_PATCHES:
        raise BadRequest(f"xl_patch must be one of {XL_PATCHES}, got {xl_patch!r}")
    lw = _resolve_weights(model, weights)  # unsupported models say so (and offer the matte) first
    if xl_patch != "attn" and model.family != "sdxl":
        raise BadRequest(f"xl_patch={xl_patch!r} is an SDXL option; this model is {model.family}")
    files = lw.require("rgba_conv" if xl_patch == "conv" else "rgba")
    with _LOCK:
        decoder = _decoder(model, lw, files["decoder"])
        if xl_patch == "conv":
            with xl_conv.applied(model.pipe.unet, _xl_conv(model, files["conv"])):
                lat = _denoise(model, [prompt], negative_prompt, gw, gh, seed, steps, guidance, progress, cancel,
                               preview)
        elif model.family == "sdxl" or lw.family == demo_weights.FAMILY:
            lora = _demo_lora(model, lw, files["attn"]) if lw.family == demo_weights.FAMILY \
                else _xl_lora(model, files["attn"])
            with merged(model.pipe.unet, lora):
                lat = _denoise(model, [prompt], negative_prompt, gw, gh, seed, steps, guidance, progress, cancel,
                               preview)
        else:
            patch = _sharing(model, files["attn"], "transparent_attn")
            with patch.applied(model.pipe.unet):
                lat = _denoise(model, [prompt], negative_prompt, gw, gh, seed, steps, guidance, progress, cancel,
                               preview)
        rgba = _transparent(model, decoder, lat, quality)
    return imageops.resize_rgba(rgba, int(width), int(height))


def generate_joint(model, prompt_fg: str, prompt_bg: str, prompt_blend: str, width: int = 512,
                   height: int = 512, *, seed: int = 0, steps: int = 20, guidance: float = 7.0,
                   negative_prompt: str = "", quality: str = "fast", weights=None, progress=None,
                   cancel=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foreground, background and their blend generated together (SD1.5).

    Returns (fg HxWx4 straight alpha, background HxWx4 opaque, blended HxWx4 opaque).
    """
    _require_sd15(model, "generating foreground and background together")
    gw, gh = _check_args(model, width, height, steps, quality)
    lw = _resolve_weights(model, weights)
    files = lw.require("joint")
    with _LOCK:
        decoder = _decoder(model, lw, files["decoder"])
        patch = _sharing(model, files["joint"], "joint")
        with patch.applied(model.pipe.unet):
            lat = _denoise(model, [prompt_fg, prompt_bg, prompt_blend], negative_prompt, gw, gh, seed, steps,
                           guidance, progress, cancel)
        fg = _transparent(model, decoder, lat[0:1], quality)
        bg = imageops.opaque(_rgb(model, lat[1:2]))
        blend = imageops.opaque(_rgb(model, lat[2:3]))
    w, h = int(width), int(height)
    return (imageops.resize_rgba(fg, w, h), imageops.resize_rgba(bg, w, h), imageops.resize_rgba(blend, w, h))


def _condition_image(model, image: np.ndarray, gw: int, gh: int) -> torch.Tensor:
    # A transparent condition is flattened over 50% grey, the neutral colour LayerDiffuse
    # uses for invisible pixels elsewhere (an assumption: the reference's exact flattening
    # of the fg2bg condition was not checked).
    rgb = imageops.over_grey(image) if image.shape[2] == 4 else image[..., :3]
    rgb = imageops.resize_rgb(np.ascontiguousarray(rgb), gw, gh)
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    return t.to(model.pipe.unet.device)


def _check_image(image: np.ndarray, channels: tuple[int, ...], what: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in channels \
            or image.dtype != np.uint8:
        raise BadRequest(f"{what} must be an HxWx{'/'.join(map(str, channels))} uint8 array, got "
                         f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}")


def generate_background(model, fg_rgba: np.ndarray, prompt: str, *, blend_prompt: str | None = None,
                        seed: int = 0, steps: int = 20, guidance: float = 7.0, negative_prompt: str = "",
                        weights=None, progress=None, cancel=None) -> np.ndarray:
    """A background for a transparent foreground (SD1.5 fg2bg): HxWx4 opaque, the foreground's size.

    The foreground itself is not painted in; put the result as a layer under it.
    """
    _require_sd15(model, "generating a background for a layer")
    _check_image(fg_rgba, (4,), "the foreground")
    h, w = fg_rgba.shape[:2]
    gw, gh = _check_args(model, w, h, steps, "fast")
    lw = _resolve_weights(model, weights)
    files = lw.require("fg2bg")
    with _LOCK:
        patch = _sharing(model, files["fg2bg"], "fg2bg")
        with patch.applied(model.pipe.unet):
            patch.set_control(_condition_image(model, fg_rgba, gw, gh))
            lat = _denoise(model, [prompt, blend_prompt or prompt], negative_prompt, gw, gh, seed, steps,
                           guidance, progress, cancel)
        bg = imageops.opaque(_rgb(model, lat[0:1]))
    return imageops.resize_rgba(bg, w, h)


def generate_foreground(model, bg_rgb: np.ndarray, prompt: str, *, blend_prompt: str | None = None,
                        seed: int = 0, steps: int = 20, guidance: float = 7.0, negative_prompt: str = "",
                        quality: str = "fast", weights=None, progress=None, cancel=None) -> np.ndarray:
    """A transparent foreground for a background (SD1.5 bg2fg): HxWx4 straight alpha, the background's size."""
    _require_sd15(model, "generating a foreground for a background")
    _check_image(bg_rgb, (3, 4), "the background")
    h, w = bg_rgb.shape[:2]
    gw, gh = _check_args(model, w, h, steps, quality)
    lw = _resolve_weights(model, weights)
    files = lw.require("bg2fg")
    with _LOCK:
        decoder = _decoder(model, lw, files["decoder"])
        patch = _sharing(model, files["bg2fg"], "bg2fg")
        with patch.applied(model.pipe.unet):
            patch.set_control(_condition_image(model, bg_rgb[..., :3], gw, gh))
            lat = _denoise(model, [prompt, blend_prompt or prompt], negative_prompt, gw, gh, seed, steps,
                           guidance, progress, cancel)
        fg = _transparent(model, decoder, lat[0:1], quality)
    return imageops.resize_rgba(fg, w, h)


def generate_matte(model, prompt: str, width: int, height: int, *, seed: int = 0, steps: int = 20,
                   guidance: float = 7.0, negative_prompt: str = "", progress=None, cancel=None) -> np.ndarray:
    """Lower-quality transparent image without LayerDiffuse weights: HxWx4 straight alpha.

    Generates the subject on a flat background the model can paint (``matte.matte_settings``:
    the model folder's words, else neutral grey), cuts it out with GrabCut and feathers the
    edge (see matte.matte_image). A cut-out that kept almost nothing, or everything, raises
    MatteFailed instead of handing over an empty layer.
    """
    from ..base import generate_image
    from .matte import check_cutout, matte_image, matte_settings

    if int(width) < 1 or int(height) < 1:
        raise BadRequest(f"width and height must be positive, got {width}x{height}")
    require_plain(prompt, "Transparent generation (matte)")  # its background words join the prompt
    settings = matte_settings(model)
    gw, gh = imageops.supported_size(int(width), int(height))  # 64 suits every VAE+UNet stride
    if settings.at_native_size:
        gw, gh = at_most_native(model, gw, gh)
    negative = ", ".join(p for p in (negative_prompt, settings.negative) if p)
    img = generate_image(model, prompt + settings.suffix_for(prompt), gw, gh, seed=seed, steps=steps,
                         guidance=guidance, negative_prompt=negative, progress=progress, cancel=cancel)
    cutout = matte_image(img[..., :3])
    check_cutout(cutout)
    return imageops.resize_rgba(cutout, int(width), int(height))


def layerdiffuse_available(model, weights=None, mode: str = "rgba") -> tuple[bool, str]:
    """(True, "") when ``mode`` can run natively, else (False, the reason to show the user).

    Modes: "rgba", "rgba_conv" (SDXL with the conv patch), "joint", "fg2bg", "bg2fg"."""
    try:
        if mode not in ("rgba", "rgba_conv"):
            _require_sd15(model, f"the {mode!r} mode")
        lw = _resolve_weights(model, weights)  # unsupported families say so first
        if mode == "rgba_conv" and model.family != "sdxl":
            raise LayerDiffuseUnavailable(f"the conv patch is for SDXL models; this model is {model.family}")
        lw.require(mode)
    except LayerDiffuseUnavailable as exc:
        return False, str(exc)
    return True, ""


__all__ = ["generate_rgba", "generate_joint", "generate_background", "generate_foreground", "generate_matte",
           "layerdiffuse_available", "clear_cache", "VARIANTS", "XL_PATCHES"]
