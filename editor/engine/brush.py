"""The diffusion brush: a region of a source re-generated on its cached base trajectory.

Method (docs: shared/design/diffusion-brushes.md; the window: editor/core/brush_window.py):
0. The model works in a window around the region at its own working resolution: the window
   (chosen by the caller, or here from the model's profile) is resampled to ``work_size``.
1. The window's base trajectory of N steps is cached per source_key and working size: the true
   one when the window lies on a picture from generate_image at scale 1, otherwise the VAE
   latent re-noised with one fixed noise.
2. Start at step s = N - max(1, round(R * strength)) (R = request.steps, clamped to 1..N), so
   less strength starts at less noise, as img2img's strength does. Inside the latent mask the
   latent's noise component is replaced, variance-preserving, by
   sqrt(1 - strength) * old_noise + sqrt(strength) * fresh_noise(seed):
   strength 0 keeps the latent, 1 puts fresh noise at that noise level. (With full
   regeneration, R = N, the first step's latent is nearly all noise: without the later start,
   strength would change nothing; measured on the demo model, strength 0.3 changed more than 1.)
3. Denoise s..N with the layer's prompt and classifier-free guidance; after every step the
   cached base latent of the step reached is put back outside the (feathered) mask.
4. Decode, resample back to the window, and paste in pixel space: alpha is the region
   dilated (band_pixels at working scale) and feathered, exactly 0 beyond that band, so
   compositing keeps the source pixels there.
5. Change gate (per model profile): within the band, the source shows wherever the model
   left the picture as it was (the low-passed difference is under a threshold), so an
   untouched background keeps its exact colour instead of the decoder's tint.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import cv2
import numpy as np
import torch

from editor.core.brush_window import band_pixels, choose_window, clip_to_canvas, crop_mirrored, region_bounds
from editor.core.geometry import Rect

from . import base, lora
from .context_fill import context_fill
from .requests import BrushRequest, BrushResult
from .sampling import (UNetCaller, alphas_cumprod, check_cancel, ddim_step, decode_latent, encode_image,
                       prediction_type, prompt_cache, seeded_noise, trajectory_timesteps, vae_factor)
from .tiled_unet import guided_caller
from .trajectory import Trajectory, renoised

#: change gate thresholds (max channel difference, low-passed, in levels): below LO the source
#: shows, above HI the model's pixels
GATE_LO, GATE_HI = 14.0, 40.0
MAX_TINT = 110.0


class BrushEngine:
    """Renders BrushRequests for one model. Not thread-safe: use it from one thread.

    profile: the model's ModelProfile (default: ``model.profile``); trajectory_steps and
    change_gate override the profile's when given.
    """

    def __init__(self, model, *, profile=None, trajectory_steps: int | None = None,
                 change_gate: bool | None = None, cache_size: int = 16, source_cache_size: int = 8):
        self.model = model
        self.pipe = model.pipe
        self.profile = profile or model.profile
        if trajectory_steps is not None:
            self.profile = self.profile.replace(trajectory_steps=int(trajectory_steps))
        if change_gate is not None:
            self.profile = self.profile.replace(change_gate=bool(change_gate))
        self.cache_size = cache_size
        self.source_cache_size = source_cache_size
        self._sources: OrderedDict[tuple, Trajectory] = OrderedDict()
        self._results: OrderedDict[str, BrushResult] = OrderedDict()
        self._geometry: OrderedDict[tuple, object] = OrderedDict()
        self.stats = {"renders": 0, "result_hits": 0, "source_encodes": 0, "unet_evals": 0}

    @property
    def trajectory_steps(self) -> int:
        return self.profile.trajectory_steps

    # ------------------------------------------------------------------ public
    def render(self, request: BrushRequest, progress=None, cancel=None) -> BrushResult:
        digest = _digest(request.region)
        key = self._result_key(request, digest)
        hit = self._results.get(key)
        if hit is not None:
            self._results.move_to_end(key)
            self.stats["result_hits"] += 1
            return hit
        check_cancel(cancel)
        lora.apply_loras(self.model, request.loras)  # no-op when this set is already merged
        result = self._render(request, key, digest, progress, cancel)
        if request.work_size is None:
            result = clip_result(result, request.source.shape[1], request.source.shape[0], request.origin)
        self._results[key] = result
        while len(self._results) > self.cache_size:
            self._results.popitem(last=False)
        self.stats["renders"] += 1
        return result

    def render_joint(self, request, progress=None, cancel=None) -> tuple:
        """Several brush layers in one pass (a JointBrushRequest): one BrushResult per part.
        See editor/engine/joint_brush.py."""
        from .joint_brush import render_joint  # it builds on this module

        return render_joint(self, request, progress=progress, cancel=cancel)

    def clear(self) -> None:
        self._sources.clear()
        self._results.clear()

    def window_for(self, region: np.ndarray):
        """The WorkWindow this engine chooses for a document-size region (None when empty)."""
        bounds = region_bounds(region)
        if bounds.is_empty:
            return None
        p = self.profile
        return choose_window(bounds, region.shape[1], region.shape[0], native=p.native_size, grid=self.work_grid,
                             context=p.context, max_upscale=p.max_upscale, max_tiles=p.max_tiles)

    @property
    def work_grid(self) -> int:
        """Working sizes (and tile sizes) are multiples of this: coarser when compiled, as
        each size costs a compile."""
        return self.profile.grid * (4 if self.model.compiled else 1)

    def alpha_band(self, region: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The layer's alpha over a window: the region dilated by the band (band_pixels at
        working scale, i.e. ``scale`` working pixels per window pixel) and feathered."""
        dil = max(2, round(band_pixels(self.profile.native_size) / max(scale, 1e-6)))
        feather = max(1, dil // 2)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dil + 1, 2 * dil + 1))
        grown = cv2.dilate(region, kernel)
        k = 2 * feather + 1
        # replicated: a region reaching the window's edge (the canvas edge) stays opaque there
        return cv2.GaussianBlur(grown, (k, k), feather / 2.0, borderType=cv2.BORDER_REPLICATE)

    # ------------------------------------------------------------------ steps
    def _render(self, req: BrushRequest, key: str, digest: str, progress, cancel) -> BrushResult:
        src, region, origin, work = self._windowed(req)
        height, width = src.shape[:2]
        scale = math.sqrt(work[0] * work[1] / (height * width))
        alpha = self._band(region, digest, scale)
        rect = tuple(int(v) for v in cv2.boundingRect(alpha))
        rgba = np.zeros((height, width, 4), np.uint8)
        if rect[2] == 0:
            return BrushResult(req.layer_id, rgba, key, (0, 0, 0, 0), 0, origin)
        if req.strength <= 0.0:
            # Strength 0 leaves the region as it was: no model call.
            rgba[..., :3] = src
            rgba[..., 3] = alpha
            return BrushResult(req.layer_id, rgba, key, rect, 0, origin)

        pipe, f = self.pipe, vae_factor(self.pipe)
        src_work = _resample(src, work)
        filled = req.fills_from_context
        if filled:
            src_work = context_fill(src_work, cv2.resize(region, tuple(work), interpolation=cv2.INTER_AREA))
        traj = self._trajectory(req, src, src_work, origin, work, digest if filled else None)
        mask = self._latent_mask(region, digest, work, f, traj.z0.device)

        n = traj.steps
        k = float(req.strength)
        start, indices = regen_schedule(n, req.steps, k, req.preview)

        guidance = base.effective_guidance(self.model, req.guidance)
        cond = prompt_cache(pipe).get_composed(req.prompt, req.negative_prompt, guidance > 1.0)
        # SDXL size conditioning: the window is presented as a whole picture (crop offset 0, 0),
        # as nonzero offsets ask the model for content that looks cut off.
        # a long window is denoised in native-size tiles (editor/engine/tiled_unet.py)
        caller = guided_caller(lambda hw: UNetCaller(pipe, cond, guidance, hw), tuple(traj.z0.shape[2:]),
                               self.profile.native_size // f, max(1, self.work_grid // f), mask[0, 0])
        kind = prediction_type(pipe)

        # Step 2: masked, variance-preserving noise injection at the start step.
        x = inject_noise(traj.latent(start), traj, start, mask, req.seed, k)

        # Step 3: regenerate, blending the cached base back outside the mask after every step.
        for j, i in enumerate(indices):
            check_cancel(cancel)
            nxt = indices[j + 1] if j + 1 < len(indices) else n
            x = ddim_step(caller(x, traj.timesteps[i]), x, traj.alphas[i], traj.alphas[nxt], kind)
            x = mask * x + (1 - mask) * traj.latent(nxt)
            if progress is not None:
                progress(j + 1, len(indices))
        check_cancel(cancel)
        self.stats["unet_evals"] += caller.evals

        # Steps 4-5: decode, back to the window's size, paste under the band (and the gate).
        decoded_work = decode_latent(pipe, x)
        decoded = _resample(decoded_work, (width, height))
        gate_on = False if req.verb == "vary" else req.change_gate  # a variation shows every change
        stand_in = None
        if filled:
            stand_in = np.where((region > 0)[..., None], _resample(src_work, (width, height)), src)
        rgba, rect = self.paste(decoded, decoded_work, src_work, alpha, work, gate_on, stand_in)
        return BrushResult(req.layer_id, rgba, key, rect, caller.evals, origin)

    def paste(self, decoded, decoded_work, src_work, alpha, work, gate_on=None, stand_in=None):
        """(rgba, rect): the decoded window under the alpha band, gated by the change gate
        (``gate_on`` None: the profile's); rect bounds the non-transparent pixels. With a
        ``stand_in`` (a context fill the layer must cover), the gate shows it instead of
        letting the layer below through."""
        height, width = alpha.shape
        if self.profile.change_gate if gate_on is None else gate_on:
            # measured at working size, so its cost follows the window's work, not its pixels
            band_work = cv2.resize(alpha, tuple(work), interpolation=cv2.INTER_AREA)
            gate = cv2.resize(change_gate(decoded_work, src_work, band_work, 1.0), (width, height),
                              interpolation=cv2.INTER_LINEAR)
            if stand_in is not None:
                # the layer must cover what is below (the object, the empty strip): where the
                # model kept the stand-in, the stand-in itself shows
                decoded = (decoded * gate[..., None] + stand_in * (1.0 - gate[..., None]) + 0.5).astype(np.uint8)
            else:
                alpha = (alpha.astype(np.float32) * gate + 0.5).astype(np.uint8)
        rgba = np.zeros((height, width, 4), np.uint8)
        rgba[..., :3] = decoded * (alpha > 0)[..., None]
        rgba[..., 3] = alpha
        return rgba, tuple(int(v) for v in cv2.boundingRect(alpha))

    def _windowed(self, req: BrushRequest):
        """(source, region, origin, (work_w, work_h)): the request's window, chosen here from
        the profile when the caller did not choose it."""
        src = np.ascontiguousarray(req.source[..., :3])
        origin = (int(req.origin[0]), int(req.origin[1]))
        if req.work_size is not None:
            return src, req.region, origin, (int(req.work_size[0]), int(req.work_size[1]))
        win = self.window_for(req.region)
        if win is None:
            return src, req.region, origin, (src.shape[1], src.shape[0])
        r = win.rect
        return (crop_mirrored(src, r), crop_mirrored(req.region, r) * _inside(r, src.shape),
                (origin[0] + r.x, origin[1] + r.y), (win.work_w, win.work_h))

    def _trajectory(self, req: BrushRequest, src: np.ndarray, src_work: np.ndarray, origin, work,
                    filled: str | None = None) -> Trajectory:
        """filled: the region's digest when src_work's region was replaced by a context fill."""
        steps = int(req.trajectory_steps or self.profile.trajectory_steps)
        skey = (req.source_key, origin, src.shape, tuple(work), steps, filled)
        traj = self._sources.get(skey)
        if traj is not None:
            self._sources.move_to_end(skey)
            return traj
        traj = None
        if filled is None and tuple(work) == (src.shape[1], src.shape[0]):
            traj = base.lookup_window(self.pipe, src, origin)
            for params in req.bases if traj is None else ():
                # a generated picture reopened from a file: regenerate it (deterministic) once;
                # lookup_window then checks that the window's pixels really are that picture
                base.generate_image(self.model, **params)
                lora.apply_loras(self.model, req.loras)  # generate_image merged its own set (none)
                self.stats["base_regenerations"] = self.stats.get("base_regenerations", 0) + 1
                traj = base.lookup_window(self.pipe, src, origin)
                if traj is not None:
                    break
        if traj is None:
            z0 = encode_image(self.pipe, src_work)
            self.stats["source_encodes"] += 1
            timesteps = trajectory_timesteps(self.pipe, steps, self.model.is_turbo)
            ac = alphas_cumprod(self.pipe)
            traj = renoised(z0, timesteps, [float(ac[t]) for t in timesteps] + [1.0])
        self._sources[skey] = traj
        while len(self._sources) > self.source_cache_size:
            self._sources.popitem(last=False)
        return traj

    def _band(self, region: np.ndarray, digest: str, scale: float) -> np.ndarray:
        """The alpha band, cached for the last few regions: scrolling seeds or retyping a
        prompt keeps the region."""
        key = ("band", digest, region.shape, round(scale, 6))
        hit = self._geometry.get(key)
        if hit is None:
            hit = self.alpha_band(region, scale)
            self._remember(key, hit)
        return hit

    def _remember(self, key, value) -> None:
        self._geometry[key] = value
        while len(self._geometry) > 8:
            self._geometry.popitem(last=False)

    def _latent_mask(self, region: np.ndarray, digest: str, work, f: int, device) -> torch.Tensor:
        """The region at latent size, grown by one latent pixel and feathered, as 1x1xhxw."""
        key = ("mask", digest, region.shape, tuple(work), f, str(device))
        hit = self._geometry.get(key)
        if hit is None:
            reg = region.astype(np.float32) / 255.0
            small = cv2.resize(reg, (work[0] // f, work[1] // f), interpolation=cv2.INTER_AREA)
            small = cv2.dilate(small, np.ones((3, 3), np.uint8))
            small = cv2.GaussianBlur(small, (3, 3), 0.6, borderType=cv2.BORDER_REPLICATE)
            hit = torch.from_numpy(np.clip(small, 0.0, 1.0))[None, None].to(device)
            self._remember(key, hit)
        return hit

    def _result_key(self, req: BrushRequest, digest: str) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((req.source_key, req.source.shape, req.params_key(), self.profile,
                       str(self.model.source))).encode())
        h.update(digest.encode())
        return h.hexdigest()


def regen_schedule(n: int, steps: int, strength: float, preview: bool = False) -> tuple[int, list[int]]:
    """(start step, the trajectory indices denoised from it) for R = ``steps`` regeneration
    steps of an N = ``n`` step trajectory at this strength; a preview jumps about half as often."""
    regen = max(1, round(max(1, min(int(steps), n)) * float(strength)))
    start = n - regen
    indices = list(range(start, n))
    if preview and regen > 2:
        jumps = max(2, math.ceil(regen / 2))
        indices = sorted({start + round(j * regen / jumps) for j in range(jumps)})
    return start, indices


def inject_noise(x: torch.Tensor, traj: Trajectory, start: int, mask: torch.Tensor, seed: int,
                 strength: float) -> torch.Tensor:
    """``x`` (the latent at ``start``) with its noise component inside ``mask`` replaced,
    variance-preserving, by sqrt(1 - k) old + sqrt(k) fresh noise from ``seed``."""
    k = float(strength)
    a = traj.alphas[start]
    old = traj.noise(start)
    fresh = seeded_noise(seed, traj.z0.shape, traj.z0.device)
    return x + mask * ((1 - a) ** 0.5) * (((1 - k) ** 0.5 - 1.0) * old + (k ** 0.5) * fresh)


def change_gate(decoded: np.ndarray, src: np.ndarray, alpha: np.ndarray, scale: float) -> np.ndarray:
    """0..1 per pixel: how much of the model's picture to show. The decoder shifts an
    untouched background by a few to tens of levels (a tinted box, up to ~80 measured); that
    shift is removed first (its median over the band), then only clear, low-passed changes
    pass."""
    inside = alpha > 0
    diff = decoded.astype(np.float32) - src.astype(np.float32)
    mag = np.abs(diff).max(axis=2)
    if inside.sum() > 16:
        # The tint is what most of the band shares (an edit's object covers less than half of
        # it); a shift as large as MAX_TINT is a requested recolouring, not a tint.
        tint = np.median(diff[inside], axis=0)
        if np.abs(tint).max() < MAX_TINT:
            # It varies slowly across the window: follow it where the picture is calm (close
            # to the median shift), interpolated smoothly over the object (normalised blur).
            calm = (inside & (np.abs(diff - tint).max(axis=2) < GATE_HI)).astype(np.float32)
            spread = max(4.0, min(diff.shape[:2]) / 8.0)
            weight = cv2.GaussianBlur(calm, (0, 0), spread)
            field = cv2.GaussianBlur(diff * calm[..., None], (0, 0), spread)
            field = np.where(weight[..., None] > 1e-3, field / np.maximum(weight, 1e-3)[..., None], tint)
            mag = np.abs(diff - field).max(axis=2)
    sigma = max(1.0, 1.5 / max(scale, 1e-6))
    mag = cv2.GaussianBlur(mag, (0, 0), sigma)
    g = np.clip((mag - GATE_LO) / (GATE_HI - GATE_LO), 0.0, 1.0)
    g = g * g * (3 - 2 * g)
    grow = max(1, round(2 / max(scale, 1e-6)))
    g = cv2.dilate(g, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return cv2.GaussianBlur(g, (0, 0), grow)


def clip_result(result: BrushResult, width: int, height: int, origin=(0, 0)) -> BrushResult:
    """The part of a result that lies on a width x height image placed at ``origin``."""
    ox, oy = int(origin[0]), int(origin[1])
    rgba, (x, y) = clip_to_canvas(result.rgba, (result.offset[0] - ox, result.offset[1] - oy), width, height)
    if rgba is result.rgba:
        return result
    rect = tuple(int(v) for v in cv2.boundingRect(rgba[..., 3])) if rgba.size else (0, 0, 0, 0)
    return BrushResult(result.layer_id, rgba, result.key, rect, result.unet_evals, (x + ox, y + oy))


def _inside(rect: Rect, shape) -> np.ndarray:
    """1 where a window's pixel lies on an image of ``shape``, 0 where it was mirrored."""
    ys = np.arange(rect.y, rect.y + rect.h)
    xs = np.arange(rect.x, rect.x + rect.w)
    return (((ys >= 0) & (ys < shape[0]))[:, None] & ((xs >= 0) & (xs < shape[1]))[None, :]).astype(np.uint8)


def _resample(rgb: np.ndarray, size) -> np.ndarray:
    """Resize to (w, h): area averaging when shrinking, cubic when enlarging, copy when equal."""
    w, h = int(size[0]), int(size[1])
    if rgb.shape[1] == w and rgb.shape[0] == h:
        return np.ascontiguousarray(rgb)
    shrink = w * h < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _digest(region: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(region).tobytes(), digest_size=16).hexdigest()
