"""End to end on the tiny models with tiny LayerDiffuse-layout weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from editor.engine.errors import Cancelled
from editor.engine.rgba import (LayerDiffuseUnavailable, WeightsMismatch, generate_background, generate_foreground,
                                generate_joint, generate_rgba, layerdiffuse_available, supported_size)
from editor.engine.rgba.weights import LayerWeights
from editor.engine.rgba.xl_lora import lora_projections

FAST = dict(steps=2, seed=3)


def _has_partial_alpha(rgba):
    a = rgba[..., 3]
    return bool(((a > 0) & (a < 255)).any())


def test_generate_rgba(tiny_model, tiny_weights):
    calls = []
    out = generate_rgba(tiny_model, "a red ball", 64, 64, weights=tiny_weights,
                        progress=lambda i, n: calls.append((i, n)), **FAST)
    assert out.shape == (64, 64, 4) and out.dtype == np.uint8
    assert _has_partial_alpha(out)
    assert calls == [(1, 2), (2, 2)]
    again = generate_rgba(tiny_model, "a red ball", 64, 64, weights=tiny_weights, **FAST)
    assert np.array_equal(out, again)  # seeded


def test_live_preview(tiny_model, tiny_weights):
    frames = []
    generate_rgba(tiny_model, "a cat", 128, 64, weights=tiny_weights,
                  preview=lambda i, n, rgb: frames.append((i, n, rgb)), **FAST)
    assert [(i, n) for i, n, _ in frames] == [(1, 2), (2, 2)]
    assert all(rgb.shape == (8, 16, 3) and rgb.dtype == np.uint8 for _, _, rgb in frames)
    assert not np.array_equal(frames[0][2], frames[1][2])


def test_odd_size_is_generated_at_a_supported_size_and_resized(tiny_model, tiny_weights):
    assert supported_size(100, 30) == (128, 64)
    out = generate_rgba(tiny_model, "a cat", 100, 30, weights=tiny_weights, **FAST)
    assert out.shape == (30, 100, 4)


def test_quality_mode_runs(tiny_model, tiny_weights):
    fast = generate_rgba(tiny_model, "a cat", 64, 64, weights=tiny_weights, **FAST)
    best = generate_rgba(tiny_model, "a cat", 64, 64, weights=tiny_weights, quality="quality", **FAST)
    assert best.shape == fast.shape and not np.array_equal(best, fast)


def test_cancel(tiny_model, tiny_weights):
    with pytest.raises(Cancelled):
        generate_rgba(tiny_model, "a cat", 64, 64, weights=tiny_weights, cancel=lambda: True, **FAST)


def test_joint_background_foreground(tiny_model, tiny_weights):
    fg, bg, blend = generate_joint(tiny_model, "a cat", "a sofa", "a cat on a sofa", 64, 128,
                                   weights=tiny_weights, **FAST)
    assert fg.shape == bg.shape == blend.shape == (128, 64, 4)
    assert _has_partial_alpha(fg) and (bg[..., 3] == 255).all() and (blend[..., 3] == 255).all()
    new_bg = generate_background(tiny_model, fg, "a room", weights=tiny_weights, **FAST)
    assert new_bg.shape == (128, 64, 4) and (new_bg[..., 3] == 255).all()
    new_fg = generate_foreground(tiny_model, bg[..., :3], "a dog", weights=tiny_weights, **FAST)
    assert new_fg.shape == (128, 64, 4)


def test_missing_weights_say_so(tiny_model, tmp_path):
    with pytest.raises(LayerDiffuseUnavailable,
                       match=r"missing layer_sd15_transparent_attn\.safetensors, "
                             r"layer_sd15_vae_transparent_decoder.*generate_matte"):
        generate_rgba(tiny_model, "x", 64, 64, weights=tmp_path, **FAST)
    ok, why = layerdiffuse_available(tiny_model, tmp_path)
    assert not ok and "layer_sd15_transparent_attn.safetensors" in why


def test_unsupported_models(tiny_model, tiny_sdxl_model, tiny_weights, monkeypatch):
    with pytest.raises(LayerDiffuseUnavailable, match="SD1.5"):
        generate_joint(tiny_sdxl_model, "a", "b", "c", 64, 64, **FAST)
    monkeypatch.setattr(tiny_model, "family", "sd2")
    with pytest.raises(LayerDiffuseUnavailable, match="only for SD1.5 and SDXL"):
        generate_rgba(tiny_model, "x", 64, 64, weights=tiny_weights, **FAST)
    monkeypatch.setattr(tiny_model, "family", "sd15")
    monkeypatch.setattr(tiny_model, "source", "demo")
    # The demo model always uses its own bundled weights (SD1.5 files do not apply to it);
    # here they meet a UNet they were not made for, which the strict loader refuses.
    with pytest.raises(WeightsMismatch, match="demo transparency LoRA"):
        generate_rgba(tiny_model, "x", 64, 64, weights=tiny_weights, **FAST)
    with pytest.raises(LayerDiffuseUnavailable, match="transparent layers only"):
        generate_joint(tiny_model, "a", "b", "c", 64, 64, weights=tiny_weights, **FAST)


def test_weights_that_do_not_fit_are_refused(tiny_model, tiny_weights):
    wrong = LayerWeights("sd15", dict(tiny_weights.files))  # real decoder config: the tiny file must not load
    with pytest.raises(WeightsMismatch, match=r"layer_sd15_vae_transparent_decoder\.safetensors: key"):
        generate_rgba(tiny_model, "x", 64, 64, weights=wrong, **FAST)
    swapped = LayerWeights("sd15", dict(tiny_weights.files, attn=tiny_weights.files["joint"]),
                           decoder_config=tiny_weights.decoder_config)
    with pytest.raises(WeightsMismatch, match=r"layer_sd15_joint\.safetensors.*unexpected key"):
        generate_rgba(tiny_model, "x", 64, 64, weights=swapped, **FAST)


def test_bad_arguments(tiny_model, tiny_weights):
    with pytest.raises(ValueError, match="quality"):
        generate_rgba(tiny_model, "x", 64, 64, weights=tiny_weights, quality="8pass")
    with pytest.raises(ValueError, match="positive"):
        generate_rgba(tiny_model, "x", 0, 64, weights=tiny_weights)
    with pytest.raises(ValueError, match="foreground must be an HxWx4 uint8"):
        generate_background(tiny_model, np.zeros((64, 64, 3), np.uint8), "x", weights=tiny_weights)


def test_sdxl_attention_lora(tiny_sdxl_model, tiny_xl_weights):
    unet = tiny_sdxl_model.pipe.unet
    before = {k: m.weight.clone() for k, m in lora_projections(unet).items()}
    out = generate_rgba(tiny_sdxl_model, "a cat", 64, 64, weights=tiny_xl_weights, **FAST)
    assert out.shape == (64, 64, 4) and _has_partial_alpha(out)
    after = lora_projections(unet)
    assert all(torch.equal(before[k], after[k].weight) for k in before)  # merged only during generation


def test_sdxl_lora_merge_adds_up_down(tiny_sdxl_model):
    from editor.engine.rgba.xl_lora import merged

    unet = tiny_sdxl_model.pipe.unet
    name, lin = next(iter(lora_projections(unet).items()))
    up, down = torch.randn(lin.out_features, 3), torch.randn(3, lin.in_features)
    w0 = lin.weight.clone()
    with merged(unet, {name: (up, down)}):
        assert torch.allclose(lin.weight, w0 + up @ down, atol=1e-5)
    assert torch.equal(lin.weight, w0)
    with pytest.raises(ValueError, match="lacks: down_blocks.9"):
        with merged(unet, {"down_blocks.9.attentions.0.transformer_blocks.0.attn1.to_q": (up, down)}):
            pass
