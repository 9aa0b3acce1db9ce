"""Regions in one pass on the tiny model: one pass costs one edit's UNet calls whatever the number
of regions, each layer's pixels lie in its own band, and a one-part pass is the single render."""
import numpy as np
import pytest

from editor.engine.brush import BrushEngine
from editor.engine.errors import BadRequest
from editor.engine.joint_brush import JointBrushRequest, JointPart, render_joint

SIZE = 128
PROMPTS = ["a red cat", "a blue dog", "a green tree", "a yellow sun"]


@pytest.fixture(scope="module")
def photo():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return np.stack([xx * 255 // SIZE, yy * 255 // SIZE, (xx + yy) * 127 // SIZE], -1).astype(np.uint8)


def boxes(n):
    """n disjoint boxes in a row across the picture."""
    out = []
    w = SIZE // n
    for i in range(n):
        r = np.zeros((SIZE, SIZE), np.uint8)
        r[40:80, i * w + 4: (i + 1) * w - 4] = 255
        out.append(r)
    return out


def joint(photo, regions, **kw):
    parts = tuple(JointPart(f"L{i}", r, PROMPTS[i % len(PROMPTS)], seed=i, steps=3, **kw)
                  for i, r in enumerate(regions))
    return JointBrushRequest("G", photo, "photo", parts, trajectory_steps=6)


def full(result, shape):
    out = np.zeros(tuple(shape[:2]) + (4,), np.uint8)
    h, w = result.rgba.shape[:2]
    x, y = result.offset
    out[y:y + h, x:x + w] = result.rgba
    return out


class UNetCounter:
    def __init__(self, monkeypatch, model):
        self.calls, self.batches = 0, []
        original = model.pipe.unet.forward

        def forward(x, *a, **k):
            self.calls += 1
            self.batches.append(x.shape[0])
            return original(x, *a, **k)

        monkeypatch.setattr(model.pipe.unet, "forward", forward)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_unet_calls_do_not_grow_with_the_number_of_regions(tiny_model, photo, monkeypatch, n):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    unet = UNetCounter(monkeypatch, tiny_model)
    results = render_joint(engine, joint(photo, boxes(n)))
    assert len(results) == n and [r.layer_id for r in results] == [f"L{i}" for i in range(n)]
    assert unet.calls == 3  # one edit's steps (R = 3), not 3 * n
    assert all(r.unet_evals == 3 for r in results)
    if n > 1:
        assert set(unet.batches) == {n + 1}  # [negative, prompt_1..prompt_n] in one batch


def test_each_layer_is_nonzero_only_in_its_own_band(tiny_model, photo):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    regions = boxes(3)
    results = render_joint(engine, joint(photo, regions))
    for i, (res, reg) in enumerate(zip(results, regions)):
        alpha = full(res, photo.shape)[..., 3]
        band = engine.alpha_band(reg, engine.window_for(np.maximum.reduce(regions)).scale)
        assert alpha[reg > 0].min() > 0, "the layer covers its own region"
        assert not alpha[band == 0].any(), "nothing beyond its own band"
        for j, other in enumerate(regions):
            if j != i:
                assert not alpha[other > 0].any(), "nothing inside another layer's region"
    # the regions were really edited, each differently from the source
    for res, reg in zip(results, regions):
        rgb = full(res, photo.shape)[..., :3]
        assert np.abs(rgb[reg > 0].astype(int) - photo[reg > 0]).mean() > 1


def test_one_part_pass_is_the_single_layer_render(tiny_model, photo):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    req = joint(photo, boxes(2)[:1])
    (res,) = render_joint(engine, req)
    single = BrushEngine(tiny_model, trajectory_steps=6).render(req.part_request(0))
    assert res.offset == single.offset and res.rect == single.rect
    assert np.array_equal(res.rgba, single.rgba)


def test_parts_keep_their_own_seed_and_strength(tiny_model, photo):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    regions = boxes(2)
    a = render_joint(engine, joint(photo, regions))
    parts = list(joint(photo, regions).parts)
    parts[1] = JointPart("L1", regions[1], PROMPTS[1], seed=99, steps=3)
    b = render_joint(engine, JointBrushRequest("G", photo, "photo", tuple(parts), trajectory_steps=6))
    assert not np.array_equal(a[1].rgba, b[1].rgba)  # its own seed changes its region
    parts[1] = JointPart("L1", regions[1], PROMPTS[1], seed=1, steps=3, strength=0.0)
    c = render_joint(engine, JointBrushRequest("G", photo, "photo", tuple(parts), trajectory_steps=6))
    rgba = full(c[1], photo.shape)
    keep = rgba[..., 3] > 0
    assert np.array_equal(rgba[..., :3][keep], photo[keep])  # strength 0: its region as it was


def test_same_request_is_cached_and_deterministic(tiny_model, photo, monkeypatch):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    first = render_joint(engine, joint(photo, boxes(2)))
    again = render_joint(BrushEngine(tiny_model, trajectory_steps=6), joint(photo, boxes(2)))
    assert all(np.array_equal(x.rgba, y.rgba) for x, y in zip(first, again))
    unet = UNetCounter(monkeypatch, tiny_model)
    assert render_joint(engine, joint(photo, boxes(2))) is first and unet.calls == 0


def test_bad_parts_are_refused_naming_the_value(photo):
    with pytest.raises(BadRequest, match="strength"):
        joint(photo, boxes(2), strength=2.0)
    with pytest.raises(BadRequest, match="twice"):
        JointBrushRequest("G", photo, "k", (JointPart("A", boxes(1)[0], "x"), JointPart("A", boxes(1)[0], "y")))
    with pytest.raises(BadRequest, match="JointPart"):
        JointBrushRequest("G", photo, "k", ())


def test_parts_with_their_own_steps_join_the_pass_at_their_own_start(tiny_model, photo, monkeypatch):
    engine = BrushEngine(tiny_model, trajectory_steps=6)
    regions = boxes(2)
    parts = (JointPart("A", regions[0], "a red cat", seed=1, steps=5),
             JointPart("B", regions[1], "a blue dog", seed=2, steps=5, strength=0.4))
    unet = UNetCounter(monkeypatch, tiny_model)
    a, b = render_joint(engine, JointBrushRequest("G", photo, "photo", parts, trajectory_steps=6))
    # A runs 5 steps; B (round(5 * 0.4) = 2) joins for the last 2: 3 calls for A alone, 2 batched
    assert unet.batches == [2, 2, 2, 3, 3]
    assert a.unet_evals == b.unet_evals == 5
    preview = render_joint(engine, JointBrushRequest("G", photo, "photo", parts, trajectory_steps=6, preview=True))
    assert preview[0].unet_evals < 5
