"""The transparent decoder: channel order, 8-pass median, size rules."""
from __future__ import annotations

import pytest
import torch
from helpers import tiny_decoder

from editor.engine.rgba.transparent_vae import (AUGMENTATIONS, _forward_transform, _inverse_transform,
                                                decode_rgba, decoder_passes)


@pytest.fixture(scope="module")
def net():
    return tiny_decoder().eval()


def _inputs(h=64, w=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g), torch.randn(1, 4, h // 8, w // 8, generator=g)


def test_transforms_are_undone_and_distinct():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    seen = set()
    for flip, k in AUGMENTATIONS:
        y = _forward_transform(x, flip, k)
        seen.add(y.numpy().tobytes())
        assert torch.equal(_inverse_transform(y, flip, k), x)
    assert len(seen) == 8


def test_quality_is_the_median_of_the_eight_passes(net):
    pixels, latent = _inputs(64, 64)
    passes = decoder_passes(net, pixels, latent)
    assert passes.shape == (8, 1, 4, 64, 64)
    assert not torch.allclose(passes[0], passes[5])  # the passes really differ
    median = torch.median(passes, dim=0).values
    out = decode_rgba(net, pixels, latent, "quality")
    assert torch.equal(out[:, 3], median[:, 0])  # alpha
    assert torch.equal(out[:, :3], median[:, 1:])
    fast = decode_rgba(net, pixels, latent, "fast")
    assert torch.allclose(fast[:, 3], passes[0][:, 0])


def test_output_is_rgba_clipped(net):
    pixels, latent = _inputs(64, 64)
    saved = {k: v.clone() for k, v in net.conv_out.state_dict().items()}
    with torch.no_grad():
        net.conv_out.weight.zero_()
        net.conv_out.bias.copy_(torch.tensor([0.2, 0.4, 0.6, 1.7]))
        try:
            out = decode_rgba(net, pixels, latent)
        finally:
            net.conv_out.load_state_dict(saved)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.4, 0.6, 1.0, 0.2]))


def test_latent_changes_output(net):
    pixels, latent = _inputs(64, 64)
    assert not torch.allclose(decode_rgba(net, pixels, latent), decode_rgba(net, pixels, latent * 0))


def test_sizes_not_multiple_of_64_are_refused_clearly(net):
    pixels, latent = _inputs(64, 64)
    with pytest.raises(ValueError, match="multiples of 64, got 72x64"):
        net(torch.rand(1, 3, 64, 72), torch.randn(1, 4, 8, 9))
    with pytest.raises(ValueError, match="quality must be"):
        decode_rgba(net, pixels, latent, "best")
