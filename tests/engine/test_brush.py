"""The diffusion brush on the tiny model: paste-back exactness, determinism, caches, cancellation."""
import dataclasses

import numpy as np
import pytest

from editor.engine.base import generate_image
from editor.core.brush_window import band_pixels
from editor.engine.brush import BrushEngine, change_gate
from editor.engine.errors import BadRequest, Cancelled
from editor.engine.requests import BrushRequest

SIZE = 128


@pytest.fixture(scope="module")
def photo():
    """A smooth 'imported' picture (gradients plus a disc), not produced by the model."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img = np.stack([xx * 255 // SIZE, yy * 255 // SIZE, (xx + yy) * 127 // SIZE], -1).astype(np.uint8)
    img[(yy - 45) ** 2 + (xx - 75) ** 2 < 20 ** 2] = (200, 40, 60)
    return img


@pytest.fixture(scope="module")
def region():
    r = np.zeros((SIZE, SIZE), np.uint8)
    r[40:75, 30:70] = 255
    return r


def request_for(src, region, **kw):
    args = dict(layer_id="L", source=src, source_key="photo", region=region, prompt="a red cat", seed=1,
                strength=1.0, steps=3, guidance=7.5)
    args.update(kw)
    return BrushRequest(**args)


def full(result, shape):
    """A result's window pixels placed on a document of ``shape`` (HxW)."""
    out = np.zeros(tuple(shape[:2]) + (4,), np.uint8)
    h, w = result.rgba.shape[:2]
    x, y = result.offset
    out[y:y + h, x:x + w] = result.rgba
    return out


def composite(result, src):
    rgba = full(result, src.shape)
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    return np.round(rgba[..., :3] * a + src * (1 - a)).astype(np.uint8)


def unet_shapes(monkeypatch, model):
    seen = []
    original = model.pipe.unet.forward
    monkeypatch.setattr(model.pipe.unet, "forward",
                        lambda x, *a, **k: (seen.append(tuple(x.shape[2:])), original(x, *a, **k))[1])
    return seen


class Counter:
    """Wraps a module's method and counts its calls."""

    def __init__(self, monkeypatch, obj, name):
        self.calls = 0
        original = getattr(obj, name)

        def wrapped(*a, **k):
            self.calls += 1
            return original(*a, **k)

        monkeypatch.setattr(obj, name, wrapped)


def test_outside_band_keeps_source_exactly(tiny_model, photo, region):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    result = engine.render(request_for(photo, region))
    alpha = full(result, photo.shape)[..., 3]
    win = engine.window_for(region)
    dil = round(band_pixels(engine.profile.native_size) / win.scale)
    feather = dil // 2
    # The band reaches beyond the region, fully opaque on the region itself...
    assert alpha[region == 255].min() == 255
    assert alpha[40 - dil // 2, 50] > 0
    # ...and is exactly 0 beyond dilation + feather, where the composite is the source bit for bit.
    far = np.ones_like(region, bool)
    far[40 - dil - feather - 1:75 + dil + feather + 1, 30 - dil - feather - 1:70 + dil + feather + 1] = False
    assert (alpha[far] == 0).all()
    out = composite(result, photo)
    assert np.array_equal(out[alpha == 0], photo[alpha == 0])
    # The edit changed the region.
    assert np.abs(out[region == 255].astype(int) - photo[region == 255]).mean() > 1.0
    assert result.unet_evals == 3


def test_same_request_gives_identical_pixels(tiny_model, photo, region):
    a = BrushEngine(tiny_model, trajectory_steps=6).render(request_for(photo, region))
    b = BrushEngine(tiny_model, trajectory_steps=6).render(request_for(photo, region))
    assert a.key == b.key
    assert np.array_equal(a.rgba, b.rgba)


def test_another_seed_changes_the_region_only(tiny_model, photo, region):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    a = engine.render(request_for(photo, region, seed=1))
    b = engine.render(request_for(photo, region, seed=2))
    assert a.key != b.key
    inside = region == 255
    assert np.abs(full(a, photo.shape)[..., :3].astype(int) - full(b, photo.shape)[..., :3])[inside].mean() > 1.0
    assert np.array_equal(a.rgba[..., 3], b.rgba[..., 3])


def test_strength_zero_leaves_region_unchanged(tiny_model, photo, region):
    result = BrushEngine(tiny_model, trajectory_steps=6).render(request_for(photo, region, strength=0.0))
    assert np.array_equal(composite(result, photo), photo)
    assert result.unet_evals == 0


def test_generated_base_follows_its_own_trajectory(tiny_model, region):
    """On a generated base, a near-zero-strength edit with the base's prompt replays the cached
    trajectory: the region comes back as it was (up to rounding), unlike on a re-noised source."""
    base = generate_image(tiny_model, "a red cat", SIZE, SIZE, seed=3, steps=6, guidance=7.5)
    assert base.shape == (SIZE, SIZE, 4) and (base[..., 3] == 255).all()
    src = base[..., :3].copy()
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    # the window is the whole picture at scale 1, so it lies on the generated latent grid
    whole = dict(source_key="gen", steps=3, seed=9, work_size=(SIZE, SIZE), change_gate=False)
    replay = engine.render(request_for(src, region, strength=1e-12, **whole))
    inside = region == 255
    assert np.abs(replay.rgba[..., :3].astype(int) - src)[inside].max() <= 2
    assert engine.stats["source_encodes"] == 0  # the trajectory came from generate_image
    edit = engine.render(request_for(src, region, strength=1.0, **whole))
    assert np.abs(edit.rgba[..., :3].astype(int) - src)[inside].mean() > 1.0
    # A window cut from the generated picture on the latent grid finds its part of the trajectory.
    cut = (slice(32, 96), slice(16, 112))
    part = engine.render(request_for(np.ascontiguousarray(src[cut]), np.ascontiguousarray(region[cut]),
                                     source_key="gen-part", strength=1e-12, steps=3, seed=9, origin=(16, 32),
                                     work_size=(96, 64), change_gate=False))
    assert engine.stats["source_encodes"] == 0
    # (decoding a part of the latent shifts a few pixels near its edges: the decoder's context)
    assert np.abs(part.rgba[..., :3].astype(int) - src[cut])[region[cut] == 255].mean() <= 6


def test_seed_or_prompt_change_reuses_source_and_prompt_encodings(tiny_model, photo, region, monkeypatch):
    pipe = tiny_model.pipe
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    engine.render(request_for(photo, region, prompt="fresh prompt one"))
    vae = Counter(monkeypatch, pipe.vae, "encode")
    text = Counter(monkeypatch, pipe.text_encoder, "forward")
    unet = Counter(monkeypatch, pipe.unet, "forward")
    engine.render(request_for(photo, region, prompt="fresh prompt one", seed=5))
    assert (vae.calls, text.calls, unet.calls) == (0, 0, 3)
    engine.render(request_for(photo, region, prompt="fresh prompt two", seed=5))
    assert vae.calls == 0 and text.calls > 0 and unet.calls == 6
    # The exact same parameters come from the result cache: no model call at all.
    engine.render(request_for(photo, region, prompt="fresh prompt two", seed=5))
    assert unet.calls == 6 and engine.stats["result_hits"] == 1
    # A new source is encoded once.
    engine.render(request_for(photo[::-1].copy(), region, source_key="flipped", prompt="fresh prompt two"))
    assert vae.calls == 1


def test_cancel_raises_at_a_step(tiny_model, photo, region):
    seen = []
    engine = BrushEngine(tiny_model, trajectory_steps=10)
    with pytest.raises(Cancelled):
        engine.render(request_for(photo, region, steps=5, seed=42),
                      progress=lambda s, t: seen.append((s, t)), cancel=lambda: len(seen) >= 2)
    assert seen == [(1, 5), (2, 5)]
    # A cancelled job leaves nothing half-cached: the same request renders in full afterwards.
    done = []
    engine.render(request_for(photo, region, steps=5, seed=42), progress=lambda s, t: done.append(s))
    assert done == [1, 2, 3, 4, 5]


def test_preview_uses_fewer_steps(tiny_model, photo, region):
    engine = BrushEngine(tiny_model, trajectory_steps=10)
    full = engine.render(request_for(photo, region, steps=6))
    preview = engine.render(request_for(photo, region, steps=6, preview=True))
    assert full.unet_evals == 6 and preview.unet_evals == 3
    assert preview.key != full.key


def test_cost_follows_the_window_not_the_canvas(tiny_model, monkeypatch):
    """The same 64 px region on a 512 and a 2048 px canvas: the model works on the same size."""
    seen = unet_shapes(monkeypatch, tiny_model)
    engine = BrushEngine(tiny_model, trajectory_steps=4)
    results = []
    for size in (512, 2048):
        src = np.full((size, size, 3), 120, np.uint8)
        reg = np.zeros((size, size), np.uint8)
        reg[200:264, 300:364] = 255
        results.append(engine.render(BrushRequest("L", src, f"grey{size}", reg, "a cat", steps=1)))
        assert (full(results[-1], src.shape)[reg == 255, 3] == 255).all()
    assert seen[0] == seen[1]
    native = engine.profile.native_size
    assert native // 2 <= seen[0][0] * 8 <= 2 * native
    # the result covers only the window, placed at its offset
    assert results[1].rgba.shape[0] < 400 and results[1].offset[0] > 0


def test_small_region_is_enlarged_to_the_working_size(tiny_model, monkeypatch):
    seen = unet_shapes(monkeypatch, tiny_model)
    size = 512
    src = np.full((size, size, 3), 120, np.uint8)
    reg = np.zeros((size, size), np.uint8)
    reg[240:272, 240:272] = 255
    engine = BrushEngine(tiny_model, trajectory_steps=4)
    win = engine.window_for(reg)
    assert win.scale == pytest.approx(engine.profile.max_upscale)  # capped enlargement
    result = engine.render(BrushRequest("L", src, "grey", reg, "a cat", steps=1))
    assert seen[0] == (win.work_h // 8, win.work_w // 8)
    assert result.rgba.shape[:2] == (win.rect.h, win.rect.w)
    out = composite(result, src)
    alpha = full(result, src.shape)[..., 3]
    assert np.array_equal(out[alpha == 0], src[alpha == 0])


def test_region_in_a_corner_stays_centred_and_the_result_stays_on_the_canvas(tiny_model):
    size = 512
    src = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)
    reg = np.zeros((size, size), np.uint8)
    reg[:40, :40] = 255
    engine = BrushEngine(tiny_model, trajectory_steps=4)
    win = engine.window_for(reg)
    assert win.rect.x < 0 and win.rect.y < 0  # centred on the region, past the edge (mirrored)
    result = engine.render(BrushRequest("L", src, "noise", reg, "a cat", steps=1))
    assert result.offset == (0, 0) and result.rgba.shape[:2] == (win.rect.y1, win.rect.x1)
    assert (result.rgba[:40, :40, 3] == 255).all()


def test_odd_sized_source(tiny_model):
    src = np.random.default_rng(0).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    reg = np.zeros((100, 150), np.uint8)
    reg[30:60, 100:140] = 255
    result = BrushEngine(tiny_model, trajectory_steps=4).render(
        BrushRequest("L", src, "odd", reg, "a cat", steps=2))
    assert result.offset[0] + result.rgba.shape[1] <= 150 and result.offset[1] + result.rgba.shape[0] <= 100
    alpha = full(result, src.shape)[..., 3]
    assert (alpha[reg == 255] == 255).all()
    assert np.array_equal(composite(result, src)[alpha == 0], src[alpha == 0])


def test_turbo_model_runs_unguided_and_clamps_steps(tiny_model, photo, region, monkeypatch):
    turbo = dataclasses.replace(tiny_model, is_turbo=True)
    batches = []
    original = turbo.pipe.unet.forward
    monkeypatch.setattr(turbo.pipe.unet, "forward", lambda x, *a, **k: (batches.append(x.shape[0]), original(x, *a, **k))[1])
    engine = BrushEngine(turbo)
    assert engine.trajectory_steps == 4
    result = engine.render(request_for(photo, region, steps=10, guidance=7.5))
    assert result.unet_evals == 4 and set(batches) == {1}


def test_bad_requests_name_the_value(photo, region):
    with pytest.raises(BadRequest, match="strength"):
        request_for(photo, region, strength=1.5)
    with pytest.raises(BadRequest, match="region"):
        request_for(photo, region[:10])
    with pytest.raises(BadRequest, match="steps"):
        request_for(photo, region, steps=0)


def test_sdxl_shaped_model_generates_and_brushes(tiny_sdxl_dir):
    from editor.engine.models import load_model

    model = load_model(tiny_sdxl_dir, device="cpu")
    assert model.family == "sdxl"
    base = generate_image(model, "a cat", 128, 128, steps=3)
    reg = np.zeros((128, 128), np.uint8)
    reg[30:70, 40:90] = 255
    result = BrushEngine(model, trajectory_steps=4).render(
        BrushRequest("L", base[..., :3].copy(), "xl", reg, "a dog", steps=2))
    assert result.unet_evals == 2
    out = composite(result, base[..., :3])
    alpha = full(result, base.shape)[..., 3]
    assert np.array_equal(out[alpha == 0], base[..., :3][alpha == 0])


def test_compiled_model_snaps_work_sizes_to_few_sizes(tiny_model, monkeypatch):
    """Each new latent size costs a compiled model a compile: working sizes snap to 4x coarser steps."""
    size = 2048
    src = np.full((size, size, 3), 120, np.uint8)
    seen = unet_shapes(monkeypatch, tiny_model)
    m = 2  # the tiny UNet's size multiple
    for compiled in (False, True):
        monkeypatch.setattr(tiny_model.pipe, "layerbrush_compile", compiled, raising=False)
        assert tiny_model.compiled is compiled
        for w in (300, 700):
            reg = np.zeros((size, size), np.uint8)
            reg[100:100 + 500, 300:300 + w] = 255
            BrushEngine(tiny_model, trajectory_steps=4).render(BrushRequest("L", src, "grey", reg, "a cat", steps=1))
    plain, compiled_shapes = set(seen[:2]), set(seen[2:])
    assert all(h % m == 0 and w % m == 0 for h, w in plain)
    assert any(h % (4 * m) or w % (4 * m) for h, w in plain)  # else this test shows nothing
    assert all(h % (4 * m) == 0 and w % (4 * m) == 0 for h, w in compiled_shapes)


def test_change_gate_keeps_an_untouched_background_exact():
    """The decoder's tint of the whole box is removed; a clear new object passes."""
    rng = np.random.default_rng(0)
    src = np.clip(rng.normal(200, 3, (128, 128, 3)), 0, 255).astype(np.uint8)
    decoded = np.clip(src.astype(int) + (12, -9, 15), 0, 255).astype(np.uint8)  # tinted, nothing drawn
    decoded[50:80, 50:80] = (30, 60, 220)  # a drawn object
    alpha = np.zeros((128, 128), np.uint8)
    alpha[20:110, 20:110] = 255
    gate = change_gate(decoded, src, alpha, 1.0)
    assert gate[55:75, 55:75].min() > 0.99
    assert gate[25:40, 25:40].max() < 0.01 and gate[95:105, 95:105].max() < 0.01


def test_change_gate_on_or_off_per_request(tiny_model, photo, region):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    on = engine.render(request_for(photo, region, change_gate=True))
    off = engine.render(request_for(photo, region, change_gate=False))
    inside = region == 255
    assert (full(off, photo.shape)[inside, 3] == 255).all()
    assert full(on, photo.shape)[inside, 3].mean() < 255  # the random model changes some pixels only a little
