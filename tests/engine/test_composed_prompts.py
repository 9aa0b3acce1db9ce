"""AND / NOT prompts on the tiny model: the paper's combination, one batched call, plain prompts unchanged."""
import numpy as np
import pytest
import torch

from editor.engine.base import generate_image, vary_image
from editor.engine.brush import BrushEngine
from editor.engine.errors import BadRequest
from editor.engine.requests import BrushRequest
from editor.engine.sampling import (Conditioning, UNetCaller, alphas_cumprod, ddim_step, decode_latent, encode_prompt,
                                    prediction_type, prompt_cache, seeded_noise, trajectory_timesteps)

LATENT = (8, 8)


def _single(pipe, embeds):
    """A caller that runs the UNet on one row of conditioning, unguided: the raw prediction."""
    return UNetCaller(pipe, Conditioning(embeds, None, False), 0.0, LATENT)


@pytest.mark.parametrize("guidance", [7.5, 0.0])
def test_composed_prediction_is_the_papers_formula(tiny_model, guidance):
    pipe = tiny_model.pipe
    guided = guidance > 1.0
    cond = prompt_cache(pipe).get_composed("a red cat :1.5 AND a dog NOT the sky :0.5", "blurry", guided)
    assert cond.weights == (1.5, 1.0, -0.5) and cond.embeds.shape[0] == 4
    x = seeded_noise(3, (1, 4) + LATENT, pipe.unet.device)
    t = 500

    calls = []
    original = pipe.unet.forward
    pipe.unet.forward = lambda inp, *a, **k: (calls.append(inp.shape[0]), original(inp, *a, **k))[1]
    try:
        caller = UNetCaller(pipe, cond, guidance, LATENT)
        combined = caller(x, t)
    finally:
        del pipe.unet.forward
    assert calls == [4] and caller.evals == 1  # one call with a bigger batch

    # The same predictions computed one by one from separately encoded prompts.
    uncond = _single(pipe, encode_prompt(pipe, "x", "blurry", True).embeds[:1])(x, t)
    eps = [_single(pipe, encode_prompt(pipe, p, "", False).embeds)(x, t) for p in ("a red cat", "a dog", "the sky")]
    scale = guidance if guided else 1.0
    expected = uncond + scale * (1.5 * (eps[0] - uncond) + 1.0 * (eps[1] - uncond) - 0.5 * (eps[2] - uncond))
    torch.testing.assert_close(combined, expected, rtol=1e-4, atol=1e-4)
    # ...and it is not just one of the terms
    assert (combined - (uncond + scale * (eps[0] - uncond))).abs().max() > 1e-3


def test_plain_prompt_renders_exactly_as_the_classic_guided_loop(tiny_model):
    pipe = tiny_model.pipe
    got = generate_image(tiny_model, "a red cat", 64, 64, seed=5, steps=3, guidance=7.5)
    # The loop as it was before composition existed: one [neg, pos] batch, classic guidance.
    cond = encode_prompt(pipe, "a red cat", "", True)
    timesteps = trajectory_timesteps(pipe, 3, False)
    ac = alphas_cumprod(pipe)
    alphas = [float(ac[t]) for t in timesteps] + [1.0]
    x = seeded_noise(5, (1, 4, 8, 8), pipe.unet.device)
    with torch.inference_mode():
        for i, t in enumerate(timesteps):
            out = pipe.unet(torch.cat([x, x]), t, encoder_hidden_states=cond.embeds, return_dict=False)[0].float()
            u, c = out.chunk(2)
            x = ddim_step(u + 7.5 * (c - u), x, alphas[i], alphas[i + 1], prediction_type(pipe))
    np.testing.assert_array_equal(got[..., :3], decode_latent(pipe, x))
    # an explicit weight of 1 is the same prompt
    np.testing.assert_array_equal(got, generate_image(tiny_model, "a red cat :1", 64, 64, seed=5, steps=3))


def test_generate_and_vary_use_the_composition(tiny_model):
    kw = dict(seed=2, steps=3, guidance=7.5)
    both = generate_image(tiny_model, "a red cat AND the sky", 64, 64, **kw)
    for alone in ("a red cat", "the sky"):
        assert not np.array_equal(both, generate_image(tiny_model, alone, 64, 64, **kw))
    assert np.array_equal(both, generate_image(tiny_model, "a red cat AND the sky", 64, 64, **kw))
    img = both[..., :3]
    varied = vary_image(tiny_model, img, "a dog NOT a red cat", strength=0.6, **kw)
    assert not np.array_equal(varied, vary_image(tiny_model, img, "a dog", strength=0.6, **kw))


def test_brush_uses_the_composition_in_one_call_per_step(tiny_model):
    src = np.full((64, 64, 3), 120, np.uint8)
    region = np.zeros((64, 64), np.uint8)
    region[16:48, 16:48] = 255
    engine = BrushEngine(tiny_model, change_gate=False)

    def render(prompt):
        return engine.render(BrushRequest(layer_id="L", source=src, source_key="grey", region=region, prompt=prompt,
                                          seed=1, strength=1.0, steps=3, guidance=7.5, work_size=(64, 64)))

    plain, composed = render("a red cat"), render("a red cat AND NOT a dog :0.7")
    assert composed.unet_evals == plain.unet_evals > 0
    assert not np.array_equal(plain.rgba, composed.rgba)


@pytest.mark.parametrize("prompt, message", [
    ("a cat AND", "'AND' needs a term after it (at character 7)"),
    ("a cat :abc", "bad weight ':abc'"),
    ("NOT", "'NOT' needs a term after it"),
])
def test_invalid_prompts_are_bad_requests(tiny_model, prompt, message):
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate_image(tiny_model, prompt, 64, 64, steps=1)
    src = np.full((64, 64, 3), 120, np.uint8)
    region = np.full((64, 64), 255, np.uint8)
    with pytest.raises(BadRequest, match="bad weight|needs a term"):
        BrushEngine(tiny_model).render(BrushRequest(layer_id="L", source=src, source_key="k", region=region,
                                                    prompt=prompt, steps=1, work_size=(64, 64)))


def test_transparent_modes_refuse_composition_clearly(tiny_model):
    from editor.engine.rgba.pipeline import _framed_conditioning, generate_matte

    with pytest.raises(BadRequest, match="matte.*does not support AND / NOT"):
        generate_matte(tiny_model, "a cat AND a hat", 64, 64, steps=1)
    with pytest.raises(BadRequest, match="LayerDiffuse.*does not support AND / NOT"):
        _framed_conditioning(tiny_model.pipe, ["a cat", "a cat NOT a hat"], "", True)
    assert _framed_conditioning(tiny_model.pipe, ["a cat and a hat"], "", True).embeds.shape[0] == 2


def test_sdxl_composition_batches_pooled_embeds_and_size_ids(tiny_sdxl_dir):
    from editor.engine.models import load_model

    pipe = load_model(tiny_sdxl_dir, device="cpu").pipe
    cond = prompt_cache(pipe).get_composed("a red cat AND NOT the sky :0.5", "", True)
    assert cond.embeds.shape[0] == cond.pooled.shape[0] == 3
    x = seeded_noise(1, (1, 4) + LATENT, pipe.unet.device)
    combined = UNetCaller(pipe, cond, 5.0, LATENT)(x, 400)
    rows = [UNetCaller(pipe, Conditioning(cond.embeds[i:i + 1], cond.pooled[i:i + 1], False), 0.0, LATENT)(x, 400)
            for i in range(3)]
    u = rows[0]
    torch.testing.assert_close(combined, u + 5.0 * ((rows[1] - u) - 0.5 * (rows[2] - u)), rtol=1e-4, atol=1e-4)
