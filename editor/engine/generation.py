"""Runs a typed generation request (editor.engine.requests) with the function that does it.

The worker queues requests; this is the one place that maps a request class to the engine
function behind it, so nothing outside the engine names engine functions.
"""
from __future__ import annotations

from . import requests as rq
from .errors import BadRequest


def run_request(model, request, progress=None, cancel=None):
    """Run ``request`` on ``model`` (None for requests with ``needs_model`` False)."""
    run = _RUNNERS.get(type(request))
    if run is None:
        raise BadRequest(f"not a generation request: {type(request).__name__}")
    if model is not None and request.needs_model:
        from .lora import apply_loras

        apply_loras(model, request.loras)  # every job runs with exactly its LoRA set
    return run(model, request, dict(progress=progress, cancel=cancel))


def _generate(model, r: rq.GenerateRequest, cb):
    from .base import generate_image
    return generate_image(model, r.prompt, int(r.width), int(r.height), **r.sampling(), **cb)


def _vary(model, r: rq.VaryRequest, cb):
    from .base import vary_image
    return vary_image(model, r.image, r.prompt, strength=float(r.strength), **r.sampling(), **cb)


def _rgba(model, r: rq.RgbaRequest, cb):
    from .rgba import generate_rgba
    extra = {"xl_patch": r.xl_patch} if r.xl_patch != "attn" else {}
    return generate_rgba(model, r.prompt, int(r.width), int(r.height), quality=r.quality, weights=r.weights,
                         **extra, **r.sampling(), **cb)


def _matte(model, r: rq.MatteRequest, cb):
    from .rgba import generate_matte
    return generate_matte(model, r.prompt, int(r.width), int(r.height), **r.sampling(), **cb)


def _joint(model, r: rq.JointRequest, cb):
    from .rgba import generate_joint
    return generate_joint(model, r.prompt_fg, r.prompt_bg, r.prompt_blend, int(r.width), int(r.height),
                          quality=r.quality, weights=r.weights, **r.sampling(), **cb)


def _background(model, r: rq.BackgroundRequest, cb):
    from .rgba import generate_background
    return generate_background(model, r.fg_rgba, r.prompt, blend_prompt=r.blend_prompt, weights=r.weights,
                               **r.sampling(), **cb)


def _foreground(model, r: rq.ForegroundRequest, cb):
    from .rgba import generate_foreground
    return generate_foreground(model, r.bg_rgb, r.prompt, blend_prompt=r.blend_prompt, quality=r.quality,
                               weights=r.weights, **r.sampling(), **cb)


def _accelerator(model, r: rq.AcceleratorQuery, cb):
    from .models import accelerator_info
    return accelerator_info(**cb)


_RUNNERS = {rq.GenerateRequest: _generate, rq.VaryRequest: _vary, rq.RgbaRequest: _rgba, rq.MatteRequest: _matte,
            rq.JointRequest: _joint, rq.BackgroundRequest: _background, rq.ForegroundRequest: _foreground,
            rq.AcceleratorQuery: _accelerator}
