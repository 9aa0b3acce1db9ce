"""Regions in one pass: several brush layers rendered by ONE denoising pass over their common window.

A group of brush layers marked "render together" (``GroupLayer.render_together``) becomes one
:class:`JointBrushRequest`: one source and window (the union of the regions' bounds, chosen as
for a single brush), and one :class:`JointPart` per layer (its region, prompt, negative prompt,
seed, strength, steps, guidance). :func:`render_joint` returns one ``BrushResult`` per part, so
each layer keeps its own pixels, visibility, opacity and order.

The pass (the single brush's method, ``editor/engine/brush.py``, shared through its helpers):
- One trajectory: the window's cached base trajectory (same cache as single brushes).
- Steps and strength stay per layer: part i starts at its own step s_i = N - round(R_i k_i)
  (``brush.regen_schedule``); the pass runs over the union of the parts' step indices and a
  part joins when its start is reached (before that its region follows the base, as outside).
  With equal steps and strength, the pass has exactly one edit's steps.
- Seeds stay per layer: at its start, part i's region gets its own seed's fresh noise
  (``brush.inject_noise`` inside its own latent mask).
- Each step is ONE batched UNet call over [negatives..., prompt_1..prompt_N] (one negative row
  per distinct negative prompt), so the UNet cost is one edit's, however many regions (on a
  GPU one larger batch; on a CPU the batch rows add work, but the text encodings, VAE encode,
  trajectory and decode are shared). Each part's guided prediction u_i + g_i (c_i - u_i) is
  combined per latent pixel with the regions' feathered latent masks (where regions overlap,
  the upper layer wins); outside all active regions the base latent is put back.
- One decode; each layer's pixels are the decoded window under its own feathered band (and
  the change gate), cut away where another layer's region lies, so a layer's pixels are
  nonzero only in its own band and toggling one off is pure compositing.
A one-part joint request gives exactly the single-layer render's pixels.
The request classes are plain data in ``requests`` (the render path builds them without torch).
"""
from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np
import torch

from editor.core.geometry import Rect
from editor.core.brush_window import crop_mirrored

from . import base, lora
from .brush import BrushEngine, _digest, _inside, _resample, clip_result, inject_noise, regen_schedule
from .requests import BrushResult, JointBrushRequest, JointPart
from .sampling import (Conditioning, UNetCaller, check_cancel, ddim_step, decode_latent, first_parameter, is_sdxl,
                       prediction_type, prompt_cache, vae_factor)


class GuidedBatch:
    """Guided UNet calls for several prompts at once: one batch [distinct negatives..., each
    part's prompt], returning each part's guided prediction. Counts evaluations (one per batch)."""

    def __init__(self, pipe, conds: list[Conditioning], negatives: list[str], guidances: list[float],
                 latent_hw: tuple[int, int]):
        self.pipe = pipe
        self.guidances = guidances
        self.evals = 0
        self.dtype = first_parameter(pipe.unet).dtype
        neg_rows: dict[str, int] = {}
        embeds, pooled, self.rows = [], [], []
        for cond, neg in zip(conds, negatives):
            if cond.guided and neg not in neg_rows:
                neg_rows[neg] = len(embeds)
                embeds.append(cond.embeds[:1])
                pooled.append(None if cond.pooled is None else cond.pooled[:1])
        for cond, neg in zip(conds, negatives):
            self.rows.append((len(embeds), neg_rows[neg] if cond.guided else None))
            embeds.append(cond.embeds[-1:])
            pooled.append(None if cond.pooled is None else cond.pooled[-1:])
        self.embeds = torch.cat(embeds)
        self.added = None
        if is_sdxl(pipe):
            # the window is presented as a whole picture (crop offset 0, 0), as single brushes do
            f = vae_factor(pipe)
            h, w = latent_hw[0] * f, latent_hw[1] * f
            ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=self.embeds.dtype, device=self.embeds.device)
            self.added = {"text_embeds": torch.cat(pooled), "time_ids": ids.repeat(len(embeds), 1)}

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, t: int, parts: list[int]) -> list[torch.Tensor]:
        inp = x.to(self.dtype).expand(self.embeds.shape[0], -1, -1, -1)
        out = self.pipe.unet(inp, t, encoder_hidden_states=self.embeds, added_cond_kwargs=self.added,
                             return_dict=False)[0].float()
        self.evals += 1
        preds = []
        for i in parts:
            row, neg = self.rows[i]
            text = out[row:row + 1]
            preds.append(text if neg is None else out[neg:neg + 1] + self.guidances[i] * (text - out[neg:neg + 1]))
        return preds


__all__ = ["JointBrushRequest", "JointPart", "GuidedBatch", "render_joint"]


def render_joint(engine: BrushEngine, request: JointBrushRequest, progress=None, cancel=None) -> tuple:
    """One BrushResult per part (in the request's order), from one denoising pass. ``engine``:
    the model's BrushEngine, whose caches (trajectories, bands, masks, results) are shared."""
    key = _joint_key(engine, request)
    hit = engine._results.get(key)
    if hit is not None:
        engine._results.move_to_end(key)
        engine.stats["result_hits"] += 1
        return hit
    check_cancel(cancel)
    lora.apply_loras(engine.model, request.loras)  # no-op when this set is already merged
    results = _render(engine, request, key, progress, cancel)
    if request.work_size is None:
        h, w = request.source.shape[:2]
        results = tuple(clip_result(r, w, h, request.origin) for r in results)
    engine._results[key] = results
    while len(engine._results) > engine.cache_size:
        engine._results.popitem(last=False)
    engine.stats["renders"] += 1
    engine.stats["joint_renders"] = engine.stats.get("joint_renders", 0) + 1
    return results


def _render(engine: BrushEngine, req: JointBrushRequest, key: str, progress, cancel) -> tuple:
    src, regions, origin, work = _windowed(engine, req)
    height, width = src.shape[:2]
    scale = math.sqrt(work[0] * work[1] / (height * width))
    digests = [_digest(r) for r in regions]
    # A pixel inside a region belongs to that layer (the upper one where regions overlap): the
    # other layers' bands are cut away there, so each layer's pixels lie in its own band only.
    owner = np.full((height, width), -1, np.int32)
    for i, r in enumerate(regions):
        owner[r > 0] = i
    alphas = []
    for i, (r, d) in enumerate(zip(regions, digests)):
        band = engine._band(r, d, scale)
        others = (owner >= 0) & (owner != i)
        alphas.append(np.where(others, 0, band).astype(np.uint8) if others.any() else band)
    keys = [_part_key(key, p.layer_id) for p in req.parts]
    active = [i for i, p in enumerate(req.parts) if p.strength > 0 and alphas[i].any()]
    if not active:
        return tuple(_unchanged(p, src, a, k, origin) for p, a, k in zip(req.parts, alphas, keys))

    pipe, f = engine.pipe, vae_factor(engine.pipe)
    src_work = _resample(src, work)
    traj = engine._trajectory(req, src, src_work, origin, work)
    device = traj.z0.device
    masks = {i: engine._latent_mask(regions[i], digests[i], work, f, device) for i in active}
    n = traj.steps
    starts, indices = {}, set()
    for i in active:
        p = req.parts[i]
        starts[i], idx = regen_schedule(n, p.steps, p.strength, req.preview)
        indices.update(idx)
    indices = sorted(indices)
    kind = prediction_type(pipe)
    predict = _predictor(engine, req, active, tuple(traj.z0.shape[2:]))

    x = traj.latent(indices[0])
    running: list[int] = []
    weights = None
    for j, i in enumerate(indices):
        check_cancel(cancel)
        joining = [p for p in active if starts[p] == i]
        for p in joining:
            x = inject_noise(x, traj, i, masks[p], req.parts[p].seed, req.parts[p].strength)
        if joining:
            running = [p for p in active if starts[p] <= i]
            weights = _weights([masks[p] for p in running])
        nxt = indices[j + 1] if j + 1 < len(indices) else n
        preds = predict(x, traj.timesteps[i], running)
        if len(preds) == 1:
            pred = preds[0]
        else:
            w, total = weights[0], weights[2]
            pred = sum(wi * pr for wi, pr in zip(w, preds)) / total.clamp_min(1e-6)
        union = weights[1]
        x = ddim_step(pred, x, traj.alphas[i], traj.alphas[nxt], kind)
        x = union * x + (1 - union) * traj.latent(nxt)
        if progress is not None:
            progress(j + 1, len(indices))
    check_cancel(cancel)
    evals = predict.evals
    engine.stats["unet_evals"] += evals

    decoded_work = decode_latent(pipe, x)
    decoded = _resample(decoded_work, (width, height))
    out = []
    for i, (p, a, k) in enumerate(zip(req.parts, alphas, keys)):
        if i not in active:
            out.append(_unchanged(p, src, a, k, origin))
            continue
        rgba, rect = engine.paste(decoded, decoded_work, src_work, a, work, req.change_gate)
        out.append(BrushResult(p.layer_id, rgba, k, rect, evals, origin))
    return tuple(out)


def _weights(masks: list[torch.Tensor]):
    """(per-part weights, union mask, weight sum) of the running parts' latent masks: an upper
    part takes the latent pixels it covers (w_i = m_i * prod_{j>i} (1 - m_j)). One part: its mask."""
    if len(masks) == 1:
        return [masks[0]], masks[0], masks[0]
    rest = None
    w = [None] * len(masks)
    for i in range(len(masks) - 1, -1, -1):
        w[i] = masks[i] if rest is None else masks[i] * rest
        rest = (1 - masks[i]) if rest is None else rest * (1 - masks[i])
    union = 1 - rest
    return w, union, sum(w)


class _Predictor:
    """Guided predictions of the running parts: one part alone goes through the single brush's
    UNetCaller (so a one-part pass is the single render), several through one GuidedBatch."""

    def __init__(self, single: dict, batch: GuidedBatch | None):
        self.single = single
        self.batch = batch

    @property
    def evals(self) -> int:
        return sum(c.evals for c in self.single.values()) + (self.batch.evals if self.batch else 0)

    def __call__(self, x, t, parts: list[int]) -> list[torch.Tensor]:
        if len(parts) == 1:
            return [self.single[parts[0]](x, t)]
        return self.batch(x, t, parts)


def _predictor(engine: BrushEngine, req: JointBrushRequest, active: list[int], latent_hw) -> _Predictor:
    pipe = engine.pipe
    guidances, conds, negs = [], [], []
    for p in req.parts:
        g = base.effective_guidance(engine.model, p.guidance)
        guidances.append(g)
        conds.append(prompt_cache(pipe).get(p.prompt, p.negative_prompt, g > 1.0))
        negs.append(p.negative_prompt)
    single = {i: UNetCaller(pipe, conds[i], guidances[i], latent_hw) for i in active}
    batch = GuidedBatch(pipe, conds, negs, guidances, latent_hw) if len(active) > 1 else None
    return _Predictor(single, batch)


def _windowed(engine: BrushEngine, req: JointBrushRequest):
    """(source, regions, origin, work): the request's window, or one chosen here from the
    union of the regions (as a single brush over that union would get)."""
    src = np.ascontiguousarray(req.source[..., :3])
    origin = (int(req.origin[0]), int(req.origin[1]))
    regions = [p.region for p in req.parts]
    if req.work_size is not None:
        return src, regions, origin, (int(req.work_size[0]), int(req.work_size[1]))
    win = engine.window_for(np.maximum.reduce(regions))
    if win is None:
        return src, regions, origin, (src.shape[1], src.shape[0])
    r: Rect = win.rect
    inside = _inside(r, src.shape)
    return (crop_mirrored(src, r), [crop_mirrored(reg, r) * inside for reg in regions],
            (origin[0] + r.x, origin[1] + r.y), (win.work_w, win.work_h))


def _unchanged(part: JointPart, src, alpha, key, origin) -> BrushResult:
    """A part that leaves its region as it was (strength 0 or nothing to edit): no model call."""
    rgba = np.zeros(src.shape[:2] + (4,), np.uint8)
    if part.strength > 0 or not alpha.any():
        return BrushResult(part.layer_id, rgba, key, (0, 0, 0, 0), 0, origin)
    rgba[..., :3] = src
    rgba[..., 3] = alpha
    return BrushResult(part.layer_id, rgba, key, tuple(int(v) for v in cv2.boundingRect(alpha)), 0, origin)


def _joint_key(engine: BrushEngine, req: JointBrushRequest) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(b"joint")
    h.update(repr((req.source_key, req.source.shape, req.params_key(), engine.profile,
                   str(engine.model.source))).encode())
    for p in req.parts:
        h.update(_digest(p.region).encode())
    return h.hexdigest()


def _part_key(key: str, layer_id: str) -> str:
    return hashlib.blake2b(f"{key}:{layer_id}".encode(), digest_size=16).hexdigest()
