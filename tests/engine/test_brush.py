"""The diffusion brush on the tiny model: paste-back exactness, determinism, caches, cancellation."""
import dataclasses

import numpy as np
import pytest

from editor.engine.base import generate_image
from editor.engine.brush import BrushEngine
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


def composite(result_rgba, src):
    a = result_rgba[..., 3:4].astype(np.float64) / 255.0
    return np.round(result_rgba[..., :3] * a + src * (1 - a)).astype(np.uint8)


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
    alpha = result.rgba[..., 3]
    dil, feather = engine.band_radius(SIZE, SIZE)
    # The band reaches beyond the region, fully opaque on the region itself...
    assert alpha[region == 255].min() == 255
    assert alpha[40 - dil // 2, 50] > 0
    # ...and is exactly 0 beyond dilation + feather, where the composite is the source bit for bit.
    far = np.ones_like(region, bool)
    far[40 - dil - feather - 1:75 + dil + feather + 1, 30 - dil - feather - 1:70 + dil + feather + 1] = False
    assert (alpha[far] == 0).all()
    out = composite(result.rgba, photo)
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
    assert np.abs(a.rgba[..., :3].astype(int) - b.rgba[..., :3])[inside].mean() > 1.0
    assert np.array_equal(a.rgba[..., 3], b.rgba[..., 3])


def test_strength_zero_leaves_region_unchanged(tiny_model, photo, region):
    result = BrushEngine(tiny_model, trajectory_steps=6).render(request_for(photo, region, strength=0.0))
    assert np.array_equal(composite(result.rgba, photo), photo)
    assert result.unet_evals == 0


def test_generated_base_follows_its_own_trajectory(tiny_model, region):
    """On a generated base, a near-zero-strength edit with the base's prompt replays the cached
    trajectory: the region comes back as it was (up to rounding), unlike on a re-noised source."""
    base = generate_image(tiny_model, "a red cat", SIZE, SIZE, seed=3, steps=6, guidance=7.5)
    assert base.shape == (SIZE, SIZE, 4) and (base[..., 3] == 255).all()
    src = base[..., :3].copy()
    engine = BrushEngine(tiny_model, crop=False)
    replay = engine.render(request_for(src, region, source_key="gen", strength=1e-12, steps=3, seed=9))
    inside = region == 255
    assert np.abs(replay.rgba[..., :3].astype(int) - src)[inside].max() <= 2
    assert engine.stats["source_encodes"] == 0  # the trajectory came from generate_image
    edit = engine.render(request_for(src, region, source_key="gen", strength=1.0, steps=3, seed=9))
    assert np.abs(edit.rgba[..., :3].astype(int) - src)[inside].mean() > 1.0


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


def test_preview_decodes_only_around_the_band(tiny_model, monkeypatch):
    """Previews decode the band plus context; final renders decode the whole crop, and both keep
    the source exactly beyond the band."""
    size = 256
    src = np.full((size, size, 3), 90, np.uint8)
    reg = np.zeros((size, size), np.uint8)
    reg[100:140, 100:140] = 255
    decoded = []
    original = tiny_model.pipe.vae.decode
    monkeypatch.setattr(tiny_model.pipe.vae, "decode", lambda z, *a, **k: (decoded.append(z.shape), original(z, *a, **k))[1])
    engine = BrushEngine(tiny_model, trajectory_steps=4, crop=False)
    final = engine.render(BrushRequest("L", src, "grey", reg, "a cat", steps=2))
    preview = engine.render(BrushRequest("L", src, "grey", reg, "a cat", steps=2, preview=True))
    assert decoded[0][2:] == (size // 8, size // 8)
    assert decoded[1][2] < size // 8 and decoded[1][3] < size // 8 and decoded[1][2] % 4 == 0
    for result in (final, preview):
        outside = result.rgba[..., 3] == 0
        assert np.array_equal(composite(result.rgba, src)[outside], src[outside])
        assert (result.rgba[reg == 255, 3] == 255).all()


def test_small_region_renders_on_a_crop(tiny_model, monkeypatch):
    size = 512
    src = np.full((size, size, 3), 120, np.uint8)
    reg = np.zeros((size, size), np.uint8)
    reg[40:80, 400:460] = 255
    shapes = []
    original = tiny_model.pipe.unet.forward
    monkeypatch.setattr(tiny_model.pipe.unet, "forward", lambda x, *a, **k: (shapes.append(x.shape), original(x, *a, **k))[1])
    result = BrushEngine(tiny_model, trajectory_steps=4).render(
        BrushRequest("L", src, "grey", reg, "a cat", steps=1, guidance=7.5))
    lat_h, lat_w = shapes[0][2:]
    assert lat_h < size // 8 and lat_w < size // 8 and lat_h % 2 == 0 and lat_w % 2 == 0
    assert (result.rgba[reg == 255, 3] == 255).all()
    assert np.array_equal(composite(result.rgba, src)[result.rgba[..., 3] == 0], src[result.rgba[..., 3] == 0])


def test_odd_sized_source(tiny_model):
    src = np.random.default_rng(0).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    reg = np.zeros((100, 150), np.uint8)
    reg[30:60, 100:140] = 255
    result = BrushEngine(tiny_model, trajectory_steps=4).render(
        BrushRequest("L", src, "odd", reg, "a cat", steps=2))
    assert result.rgba.shape == (100, 150, 4)
    assert np.array_equal(composite(result.rgba, src)[result.rgba[..., 3] == 0], src[result.rgba[..., 3] == 0])


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
    out = composite(result.rgba, base[..., :3])
    assert np.array_equal(out[result.rgba[..., 3] == 0], base[..., :3][result.rgba[..., 3] == 0])


def test_compiled_model_snaps_crops_to_few_sizes(tiny_model, monkeypatch):
    """Each new latent size costs a compiled model a compile: crops snap to 4x coarser steps."""
    size = 512
    src = np.full((size, size, 3), 120, np.uint8)
    shapes = []
    original = tiny_model.pipe.unet.forward
    monkeypatch.setattr(tiny_model.pipe.unet, "forward", lambda x, *a, **k: (shapes.append(tuple(x.shape[2:])), original(x, *a, **k))[1])
    m = 2  # the tiny UNet's size multiple
    for compiled in (False, True):
        monkeypatch.setattr(tiny_model.pipe, "layerbrush_compile", compiled, raising=False)
        assert tiny_model.compiled is compiled
        for top in (10, 100):
            reg = np.zeros((size, size), np.uint8)
            reg[top:top + 170, 300:300 + 200] = 255
            BrushEngine(tiny_model, trajectory_steps=4).render(BrushRequest("L", src, "grey", reg, "a cat", steps=1))
    plain, compiled_shapes = set(shapes[:2]), set(shapes[2:])
    assert all(h % m == 0 and w % m == 0 for h, w in plain)
    assert any(h % (4 * m) or w % (4 * m) for h, w in plain)  # else this test shows nothing
    assert all(h % (4 * m) == 0 and w % (4 * m) == 0 and h < size // 8 for h, w in compiled_shapes)
