"""The diffusion brush: a region of a source re-generated on its cached base trajectory.

Method (docs: shared/design/diffusion-brushes.md):
1. The source's base trajectory of N steps is cached per source_key: the true one when the
   source came from generate_image, otherwise the VAE latent re-noised with one fixed noise.
2. Start at step s = N - R (R = request.steps, clamped to 1..N). Inside the latent mask the
   latent's noise component is replaced, variance-preserving, by
   sqrt(1 - strength) * old_noise + sqrt(strength) * fresh_noise(seed):
   strength 0 keeps the latent, 1 puts fresh noise at that noise level.
3. Denoise s..N with the layer's prompt and classifier-free guidance; after every step the
   cached base latent of the step reached is put back outside the (feathered) mask.
4. Decode, then paste in pixel space: alpha is the region dilated (~16 px at 512) and
   feathered, exactly 0 beyond that band, so compositing keeps the source pixels there.

Work is done on a crop around the region (its band plus context, aligned to the latent grid)
unless the crop would cover most of the image anyway. Previews also decode only the band plus
`decode_context` pixels (the decoder costs about one guided UNet step); final renders decode
the whole crop, because the decoder's GroupNorm statistics over a smaller crop shift colours
by a few levels (measured on the demo model: 3.5 levels on average at 512 px).
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from . import base
from .requests import BrushRequest, BrushResult
from .sampling import (UNetCaller, alphas_cumprod, check_cancel, ddim_step, decode_latent, encode_image,
                       prediction_type, prompt_cache, seeded_noise, trajectory_timesteps, unet_multiple,
                       vae_factor)
from .trajectory import Trajectory, renoised


@dataclass(frozen=True)
class Window:
    """A crop in latent units on the padded latent grid; pixel rect = latent rect * factor."""

    y: int
    x: int
    h: int
    w: int

    def slices(self):
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)


class BrushEngine:
    """Renders BrushRequests for one model. Not thread-safe: use it from one thread.

    trajectory_steps: N for sources that did not come from generate_image (default 20, or 4
    for few-step models). crop: render on a crop around the region ("auto": when the crop is
    under 60% of the image). context: pixels of context kept around the region's band (at
    512 px, scaled with the image). band: dilation of the region in pixels at 512 px.
    decode_context: for previews, pixels decoded around the band (at 512 px); None decodes the
    whole crop.
    """

    def __init__(self, model, *, trajectory_steps: int | None = None, crop: bool | str = "auto",
                 context: int = 64, band: int = 16, cache_size: int = 16, source_cache_size: int = 4,
                 decode_context: int | None = 64):
        self.model = model
        self.pipe = model.pipe
        self.trajectory_steps = trajectory_steps or (4 if model.is_turbo else 20)
        self.crop = crop
        self.context = context
        self.band = band
        self.decode_context = decode_context
        self.cache_size = cache_size
        self.source_cache_size = source_cache_size
        self._sources: OrderedDict[tuple, Trajectory] = OrderedDict()
        self._results: OrderedDict[str, BrushResult] = OrderedDict()
        self._geometry: OrderedDict[tuple, object] = OrderedDict()
        self.stats = {"renders": 0, "result_hits": 0, "source_encodes": 0, "unet_evals": 0}

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
        result = self._render(request, key, digest, progress, cancel)
        self._results[key] = result
        while len(self._results) > self.cache_size:
            self._results.popitem(last=False)
        self.stats["renders"] += 1
        return result

    def clear(self) -> None:
        self._sources.clear()
        self._results.clear()

    def band_radius(self, height: int, width: int) -> tuple[int, int]:
        """(dilation, feather) in pixels for an image of this size: ~16 and 8 at 512."""
        scale = min(height, width) / 512.0
        dil = max(2, round(self.band * scale))
        return dil, max(1, dil // 2)

    def alpha_band(self, region: np.ndarray) -> np.ndarray:
        """The layer's alpha: the region dilated and feathered; exactly 0 beyond the band."""
        dil, feather = self.band_radius(*region.shape)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dil + 1, 2 * dil + 1))
        grown = cv2.dilate(region, kernel)
        k = 2 * feather + 1
        return cv2.GaussianBlur(grown, (k, k), feather / 2.0, borderType=cv2.BORDER_CONSTANT)

    # ------------------------------------------------------------------ steps
    def _render(self, req: BrushRequest, key: str, digest: str, progress, cancel) -> BrushResult:
        src = np.ascontiguousarray(req.source[..., :3])
        height, width = src.shape[:2]
        alpha, rect = self._band(req.region, digest)
        rgba = np.zeros((height, width, 4), np.uint8)
        if rect[2] == 0:
            return BrushResult(req.layer_id, rgba, key, (0, 0, 0, 0), 0)
        if req.strength <= 0.0:
            # Strength 0 leaves the region as it was: no model call.
            rgba[..., :3] = src
            rgba[..., 3] = alpha
            return BrushResult(req.layer_id, rgba, key, rect, 0)

        pipe, f = self.pipe, vae_factor(self.pipe)
        traj = self._trajectory(req, src)
        lat_h, lat_w = traj.z0.shape[2:]
        win = self._window(rect, lat_h, lat_w, height, width)
        crop = win.slices()
        mask = self._latent_mask(req.region, digest, lat_h * f, lat_w * f, f, traj.z0.device)[:, :, crop[0], crop[1]]

        n = traj.steps
        regen = max(1, min(int(req.steps), n))
        start = n - regen
        indices = list(range(start, n))
        if req.preview and regen > 2:
            jumps = max(2, math.ceil(regen / 2))
            indices = sorted({start + round(j * regen / jumps) for j in range(jumps)})

        guidance = base.effective_guidance(self.model, req.guidance)
        cond = prompt_cache(pipe).get(req.prompt, req.negative_prompt, guidance > 1.0)
        # SDXL size conditioning: the crop is presented as a whole picture (crop offset 0, 0), as
        # nonzero offsets ask the model for content that looks cut off.
        caller = UNetCaller(pipe, cond, guidance, (win.h, win.w))
        kind = prediction_type(pipe)

        # Step 2: masked, variance-preserving noise injection at the start step.
        a = traj.alphas[start]
        x = traj.latent(start, crop)
        old = traj.noise(start, crop)
        fresh = seeded_noise(req.seed, traj.z0.shape, traj.z0.device)[:, :, crop[0], crop[1]]
        k = float(req.strength)
        x = x + mask * ((1 - a) ** 0.5) * (((1 - k) ** 0.5 - 1.0) * old + (k ** 0.5) * fresh)

        # Step 3: regenerate, blending the cached base back outside the mask after every step.
        for j, i in enumerate(indices):
            check_cancel(cancel)
            nxt = indices[j + 1] if j + 1 < len(indices) else n
            x = ddim_step(caller(x, traj.timesteps[i]), x, traj.alphas[i], traj.alphas[nxt], kind)
            x = mask * x + (1 - mask) * traj.latent(nxt, crop)
            if progress is not None:
                progress(j + 1, len(indices))
        check_cancel(cancel)
        self.stats["unet_evals"] += caller.evals

        # Steps 4-5: decode around the band and paste it in pixel space under the alpha band.
        dec = self._decode_window(rect, win, height, width) if req.preview else win
        decoded = decode_latent(pipe, x[:, :, dec.y - win.y: dec.y - win.y + dec.h,
                                        dec.x - win.x: dec.x - win.x + dec.w])
        x0, y0, w, h = rect
        part = decoded[y0 - dec.y * f: y0 - dec.y * f + h, x0 - dec.x * f: x0 - dec.x * f + w]
        band = alpha[y0:y0 + h, x0:x0 + w]
        rgba[y0:y0 + h, x0:x0 + w, :3] = part * (band > 0)[..., None]
        rgba[..., 3] = alpha
        return BrushResult(req.layer_id, rgba, key, rect, caller.evals)

    def _trajectory(self, req: BrushRequest, src: np.ndarray) -> Trajectory:
        skey = (req.source_key, src.shape)
        traj = self._sources.get(skey)
        if traj is not None:
            self._sources.move_to_end(skey)
            return traj
        traj = base.lookup_trajectory(self.pipe, src)
        if traj is None:
            padded = _pad_to(src, vae_factor(self.pipe) * unet_multiple(self.pipe))
            z0 = encode_image(self.pipe, padded)
            self.stats["source_encodes"] += 1
            timesteps = trajectory_timesteps(self.pipe, self.trajectory_steps, self.model.is_turbo)
            ac = alphas_cumprod(self.pipe)
            traj = renoised(z0, timesteps, [float(ac[t]) for t in timesteps] + [1.0])
        self._sources[skey] = traj
        while len(self._sources) > self.source_cache_size:
            self._sources.popitem(last=False)
        return traj

    def _window(self, rect, lat_h: int, lat_w: int, height: int, width: int) -> Window:
        """Latent-grid crop holding the band plus context, sized to a multiple the UNet accepts."""
        full = Window(0, 0, lat_h, lat_w)
        if self.crop is False:
            return full
        f, m = vae_factor(self.pipe), unet_multiple(self.pipe) * self._size_step()
        scale = min(height, width) / 512.0
        ctx = round(self.context * scale)
        min_side = max(m, (self.model.native_size // 2) // f)
        x0, y0, w, h = rect

        def span(lo, size, limit):
            a = max(0, (lo - ctx) // f)
            b = min(limit, -(-(lo + size + ctx) // f))
            length = max(b - a, min_side)
            length = min(limit, -(-length // m) * m)
            a = max(0, min(a - (length - (b - a)) // 2, limit - length))
            return a, length

        ly, lh = span(y0, h, lat_h)
        lx, lw = span(x0, w, lat_w)
        win = Window(ly, lx, lh, lw)
        if self.crop == "auto" and lh * lw >= 0.6 * lat_h * lat_w:
            return full
        return win

    def _size_step(self) -> int:
        """Crop sizes snap to multiples of this many base steps: 4 for a compiled model, whose
        every new latent size costs a compile, so that only a few sizes ever occur."""
        return 4 if self.model.compiled else 1

    def _decode_window(self, rect, win: Window, height: int, width: int) -> Window:
        """The part of `win` to decode: the band plus decode_context, in steps of 4 latent
        pixels (few distinct sizes, so few CUDA graphs); all of `win` when that is most of it."""
        if self.decode_context is None:
            return win
        f, quantum = vae_factor(self.pipe), 4 * self._size_step()
        ctx = -(-round(self.decode_context * min(height, width) / 512.0) // f)
        x0, y0, w, h = rect

        def span(lo, size, start, limit):
            a = max(start, lo // f - ctx)
            b = min(start + limit, -(-(lo + size) // f) + ctx)
            length = min(limit, -(-(b - a) // quantum) * quantum)
            return max(start, min(a - (length - (b - a)) // 2, start + limit - length)), length

        dy, dh = span(y0, h, win.y, win.h)
        dx, dw = span(x0, w, win.x, win.w)
        if dh * dw >= 0.8 * win.h * win.w:
            return win
        return Window(dy, dx, dh, dw)

    def _band(self, region: np.ndarray, digest: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """(alpha band, its bounding rect x, y, w, h), cached for the last few regions: scrolling
        seeds or retyping a prompt keeps the region."""
        key = ("band", digest, region.shape)
        hit = self._geometry.get(key)
        if hit is None:
            alpha = self.alpha_band(region)
            hit = (alpha, tuple(int(v) for v in cv2.boundingRect(alpha)))
            self._remember(key, hit)
        return hit

    def _remember(self, key, value) -> None:
        self._geometry[key] = value
        while len(self._geometry) > 8:
            self._geometry.popitem(last=False)

    def _latent_mask(self, region: np.ndarray, digest: str, ph: int, pw: int, f: int, device) -> torch.Tensor:
        """The region at latent size, grown by one latent pixel and feathered, as 1x1xhxw."""
        key = ("mask", digest, region.shape, ph, pw, f, str(device))
        hit = self._geometry.get(key)
        if hit is None:
            hit = self._latent_mask_uncached(region, ph, pw, f).to(device)
            self._remember(key, hit)
        return hit

    def _latent_mask_uncached(self, region: np.ndarray, ph: int, pw: int, f: int) -> torch.Tensor:
        reg = np.zeros((ph, pw), np.float32)
        reg[: region.shape[0], : region.shape[1]] = region / 255.0
        small = cv2.resize(reg, (pw // f, ph // f), interpolation=cv2.INTER_AREA)
        small = cv2.dilate(small, np.ones((3, 3), np.uint8))
        small = cv2.GaussianBlur(small, (3, 3), 0.6, borderType=cv2.BORDER_REPLICATE)
        small = np.clip(small, 0.0, 1.0)
        return torch.from_numpy(small)[None, None]

    def _result_key(self, req: BrushRequest, digest: str) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((req.source_key, req.source.shape, req.params_key(), self.trajectory_steps,
                       self.crop, self.context, self.band, self.decode_context,
                       str(self.model.source))).encode())
        h.update(digest.encode())
        return h.hexdigest()


def _digest(region: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(region).tobytes(), digest_size=16).hexdigest()


def _pad_to(rgb: np.ndarray, multiple: int) -> np.ndarray:
    """Edge-pad an image on the bottom/right to a multiple of `multiple` pixels."""
    h, w = rgb.shape[:2]
    ph, pw = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    if (ph, pw) == (h, w):
        return rgb
    return np.pad(rgb, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
