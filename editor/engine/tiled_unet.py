"""Denoising a latent longer than the model's native size in overlapping tiles.

A long working window (a strip of new canvas, a long stroke: ``max_tiles`` in
editor/core/brush_window.py) keeps the scale of an ordinary window, so its latent is several
native pictures long. Each step the UNet predicts the noise of overlapping tiles of about the
native size, and the predictions are averaged with weights that fall off towards each tile's
inner edges (the averaging of MultiDiffusion, arXiv 2302.08113, feathered), so neighbouring
tiles agree where they meet and the strip has no seams. Cost: one UNet call per tile.
"""
from __future__ import annotations

import math

import torch

#: tiles overlap by at least this share of their length
OVERLAP = 0.3


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Evenly spaced starts of tiles of ``tile`` covering [0, length) with at least ``overlap``."""
    if tile >= length:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tile_shape(latent_hw: tuple[int, int], native: int, align: int) -> tuple[int, int] | None:
    """(h, w) of the tiles for a latent of ``latent_hw`` on a model of ``native`` latent pixels
    (a side of its training pictures), both multiples of ``align``; None when one call fits
    (no more than 1.25 native areas: a long window of native area stays one picture)."""
    h, w = latent_hw
    if h * w <= 1.25 * native * native:
        return None
    short, long_ = min(h, w), max(h, w)
    ts = min(short, max(align, native // align * align))
    tl = min(long_, 2 * ts, max(ts, round(native * native / ts / align) * align))
    return (ts, tl) if h <= w else (tl, ts)


def _ramp(length: int, start: int, tile: int, overlap: int) -> torch.Tensor:
    """1-D weights of one tile: rising over the overlap at an inner start, falling at an inner
    end, 1 at the latent's own edges."""
    i = torch.arange(tile, dtype=torch.float32)
    ramp = torch.ones(tile)
    if start > 0:
        ramp = torch.minimum(ramp, (i + 0.5) / overlap)
    if start + tile < length:
        ramp = torch.minimum(ramp, (tile - i - 0.5) / overlap)
    return ramp.clamp(min=1e-3)


class TiledCaller:
    """A guided UNet caller for a latent of ``latent_hw``, run tile by tile (``shape``).
    ``make_caller(hw)`` builds the plain caller for one tile's latent size. With a ``mask``
    (h x w, the edit's latent mask) only tiles that touch it run: outside the mask the brush
    puts the base trajectory back after every step, so nothing else is used."""

    def __init__(self, make_caller, latent_hw: tuple[int, int], shape: tuple[int, int], mask=None):
        h, w = latent_hw
        th, tw = shape
        oy, ox = max(1, math.ceil(th * OVERLAP)), max(1, math.ceil(tw * OVERLAP))
        self.caller = make_caller((th, tw))
        touched = None if mask is None else mask.detach().cpu() > 0  # one copy, not one sync per tile
        self.tiles = [(y, x, th, tw) for y in tile_starts(h, th, oy) for x in tile_starts(w, tw, ox)
                      if touched is None or bool(touched[y:y + th, x:x + tw].any())]
        weights = [_ramp(h, y, th, oy)[:, None] * _ramp(w, x, tw, ox)[None, :] for y, x, _, _ in self.tiles]
        total = torch.zeros(h, w)
        for (y, x, _, _), wt in zip(self.tiles, weights):
            total[y:y + th, x:x + tw] += wt
        total = total.clamp(min=1e-6)  # where no tile runs the output is 0, and unused
        self._weights = [wt / total[y:y + th, x:x + tw] for (y, x, _, _), wt in zip(self.tiles, weights)]
        if mask is not None:  # on the latent's device once, not per step
            self._weights = [wt.to(mask.device) for wt in self._weights]

    @property
    def evals(self) -> int:
        return self.caller.evals

    def __call__(self, x: torch.Tensor, t: int) -> torch.Tensor:
        out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
        for (y, x0, th, tw), wt in zip(self.tiles, self._weights):
            eps = self.caller(x[..., y:y + th, x0:x0 + tw], t)
            out[..., y:y + th, x0:x0 + tw] += eps * (wt if wt.device == x.device else wt.to(x.device))
        return out


def guided_caller(make_caller, latent_hw: tuple[int, int], native: int, align: int, mask=None):
    """The plain caller when the latent fits one call, else a TiledCaller (``mask``: see there)."""
    shape = tile_shape(tuple(latent_hw), native, align)
    if shape is None:
        return make_caller(tuple(latent_hw))
    return TiledCaller(make_caller, tuple(latent_hw), shape, mask)
