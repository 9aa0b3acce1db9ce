"""Attention sharing on a tiny diffusers UNet: identity when empty, frames interact, control path."""
from __future__ import annotations

import pytest
import torch
from helpers import sharing_patch

from editor.engine import cuda_graphs
from editor.engine.rgba.attention_sharing import AttentionSharingPatch, attention_units


@pytest.fixture(scope="module")
def unet(tiny_model):
    return tiny_model.pipe.unet


def _run(unet, frames: int, ctx_seed: int = 0, sample=None):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2 * frames, 4, 8, 8, generator=g) if sample is None else sample
    ctx = torch.randn(2 * frames, 77, unet.config.cross_attention_dim, generator=torch.Generator().manual_seed(ctx_seed))
    with torch.inference_mode():
        return unet(x, 500, encoder_hidden_states=ctx, return_dict=False)[0], x, ctx


def test_empty_patch_is_identity_and_processors_are_restored(unet):
    before = [type(a.processor) for _, a in attention_units(unet)]
    ref, x, _ = _run(unet, 3)
    patch = AttentionSharingPatch.for_unet(unet, frames=3, use_control=False, rank=4)  # zero up / zero temporal_o
    assert not cuda_graphs.is_suspended(unet)
    with patch.applied(unet):
        # Swapped processors must not be baked into (or bypassed by) a CUDA graph replay.
        assert cuda_graphs.is_suspended(unet) and not cuda_graphs.enabled_for(unet)
        out, _, _ = _run(unet, 3, sample=x)
    assert torch.allclose(out, ref, atol=1e-4)
    assert not cuda_graphs.is_suspended(unet)
    assert [type(a.processor) for _, a in attention_units(unet)] == before
    assert not any(k.startswith("hookers") for k in unet.state_dict())


def test_three_frames_share_attention(unet):
    patch = sharing_patch(unet, "joint", rank=4)
    with patch.applied(unet):
        out, x, ctx = _run(unet, 3)
        assert out.shape == x.shape and torch.isfinite(out).all()
        # Change only frame 2's text of sample 1: frame 0 of sample 1 must change, sample 0 must not.
        ctx2 = ctx.clone()
        ctx2[5] = torch.randn_like(ctx2[5])
        with torch.inference_mode():
            out2 = unet(x, 500, encoder_hidden_states=ctx2, return_dict=False)[0]
    assert not torch.allclose(out2[3], out[3])
    assert torch.allclose(out2[:3], out[:3], atol=1e-5)
    plain, _, _ = _run(unet, 3, sample=x)
    assert not torch.allclose(plain, out, atol=1e-3)  # the patch does something


def test_batch_must_be_a_multiple_of_frames(unet):
    patch = sharing_patch(unet, "joint", rank=4)
    x = torch.randn(4, 4, 8, 8)
    with patch.applied(unet), pytest.raises(ValueError, match="not a multiple of the 3 frames"):
        with torch.inference_mode():
            unet(x, 500, encoder_hidden_states=torch.randn(4, 77, unet.config.cross_attention_dim))


def test_control_signal_changes_the_result(unet):
    patch = sharing_patch(unet, "fg2bg", rank=4)
    g = torch.Generator().manual_seed(3)
    with patch.applied(unet):
        with pytest.raises(RuntimeError, match="set_control"):
            _run(unet, 2)
        patch.set_control(torch.rand(1, 3, 64, 64, generator=g))
        a, x, _ = _run(unet, 2)
        patch.set_control(torch.rand(1, 3, 64, 64, generator=g))
        b, _, _ = _run(unet, 2, sample=x)
    assert a.shape == (4, 4, 8, 8)
    assert not torch.allclose(a, b)
    assert all(u.control_signals is None for u in patch.hookers.layers)  # cleared on exit


def test_patch_for_another_unet_is_refused(unet):
    patch = AttentionSharingPatch([(8, 8, 1)], frames=1, use_control=False, rank=2)
    with pytest.raises(ValueError, match="1 attention units, the UNet has"):
        with patch.applied(unet):
            pass
