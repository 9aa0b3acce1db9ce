"""Long windows are denoised in overlapping native-size tiles whose predictions agree."""
import numpy as np
import torch

from editor import api
from editor.core.compositor import Compositor
from editor.engine.brush import BrushEngine
from editor.engine.testing import tiny_model, tiny_model_dir  # noqa: F401  (fixtures)
from editor.engine.tiled_unet import TiledCaller, guided_caller, tile_shape, tile_starts
from editor.render_path import brush_window, build_brush_request


class FakeCaller:
    """Stands for a guided UNet caller: a prediction that depends on the input only, or a
    constant per call (to see the blending)."""

    def __init__(self, hw, fn):
        self.hw, self.fn, self.evals, self.shapes = hw, fn, 0, []

    def __call__(self, x, t):
        assert tuple(x.shape[2:]) == self.hw
        self.evals += 1
        self.shapes.append(tuple(x.shape[2:]))
        return self.fn(x, self.evals)


def test_tiles_cover_the_latent_with_overlap():
    for length, tile, overlap in [(112, 44, 14), (56, 44, 14), (44, 44, 14), (300, 64, 20)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == length
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    assert tile_shape((32, 32), 32, 4) is None  # a native window is one call
    assert tile_shape((12, 90), 32, 4) is None  # long but of native area: one picture, as before
    th, tw = tile_shape((24, 112), 32, 4)
    assert th == 24 and tw % 4 == 0 and tw <= 48 and th * tw <= 1.25 * 32 * 32
    assert tile_shape((112, 24), 32, 4) == (tw, th)


def test_tiled_predictions_are_exact_where_every_tile_agrees_and_blend_smoothly_where_not():
    x = torch.randn(1, 4, 24, 112)
    made = []

    def make(hw, fn):
        made.append(FakeCaller(hw, fn))
        return made[-1]

    tiled = TiledCaller(lambda hw: make(hw, lambda z, n: 2 * z), (24, 112), (24, 44))
    assert torch.allclose(tiled(x, 500), 2 * x, atol=1e-5)  # weights sum to one everywhere
    assert tiled.evals == len(tiled.tiles) == 4

    # tiles that disagree (each a different constant) meet in a ramp, not a step
    blend = TiledCaller(lambda hw: make(hw, lambda z, n: torch.full_like(z, float(n))), (24, 112), (24, 44))
    row = blend(x, 500)[0, 0, 0]
    assert row[0] == 1 and row[-1] == len(blend.tiles)
    assert (row[1:] - row[:-1]).min() >= -1e-5 and (row[1:] - row[:-1]).max() < 0.2

    plain = guided_caller(lambda hw: make(hw, lambda z, n: z), (32, 32), 32, 4)
    assert isinstance(plain, FakeCaller) and plain.hw == (32, 32)


def test_a_long_strip_renders_in_native_tiles_at_the_scale_of_an_ordinary_window(tiny_model, monkeypatch):
    profile = tiny_model.profile
    n = profile.native_size
    doc = api.new_document(8 * n, n)
    yy, xx = np.mgrid[0:n, 0:8 * n]
    doc.add_raster_layer("picture", np.stack([xx % 251, yy * 255 // n, (xx + yy) % 253,
                                              np.full_like(xx, 255)], -1).astype(np.uint8))
    region = np.zeros((n, 8 * n), np.uint8)
    region[: n // 4] = 255  # a strip along the top edge, 8 native sides long
    layer = doc.add_brush_layer(region, prompt="sky", steps=2, strength=1.0, model=tiny_model)
    core = api._core(doc)
    win = brush_window(core, layer, profile)
    assert win.rect.w == 8 * n
    assert win.work_w * win.work_h > 2 * n * n  # not shrunk into one native picture

    untiled = brush_window(core, layer, profile.replace(max_tiles=1))
    assert win.scale > 1.5 * untiled.scale

    calls = []
    unet = tiny_model.pipe.unet
    forward = unet.forward

    def counting(sample, *a, **k):
        calls.append(tuple(sample.shape[2:]))
        return forward(sample, *a, **k)

    monkeypatch.setattr(unet, "forward", counting)
    engine = BrushEngine(tiny_model)
    request = build_brush_request(core, layer, profile, Compositor(core))
    result = engine.render(request)
    f = 8
    latent = (win.work_h // f, win.work_w // f)
    assert len(set(calls)) == 1 and calls[0] != latent  # every call is one tile's size
    th, tw = calls[0]
    assert th * tw <= 1.25 * (n // f) ** 2
    assert len(calls) == 2 * len(TiledCaller(lambda hw: None, latent, (th, tw)).tiles) > 2
    assert result.rgba[..., 3][: n // 4].min() > 0  # the whole strip is painted
