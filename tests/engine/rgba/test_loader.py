"""Strict weight loading: exact keys and shapes, safetensors only, errors naming file and key."""
from __future__ import annotations

import pytest
import torch
from helpers import read_key_list, save_module, tiny_decoder
from safetensors import safe_open
from safetensors.torch import save_file

from editor.engine.rgba.errors import WeightsMismatch
from editor.engine.rgba.loader import load_module_strict
from editor.engine.rgba.transparent_vae import TINY_DECODER_CONFIG, LatentTransparencyEncoder, TransparentDecoderUNet
from editor.engine.rgba.xl_lora import rename_state_dict

ENCODER = "layer_sd15_vae_transparent_encoder.safetensors"


@pytest.fixture
def encoder_file(tmp_path):
    """A file with the published encoder layout (real shapes, fp16, random values), written from the key list."""
    gen = torch.Generator().manual_seed(0)
    rows = read_key_list(ENCODER + ".keys.txt")
    tensors = {k: torch.randn(s, generator=gen).to(torch.float16) for k, s, _ in rows}
    path = tmp_path / ENCODER
    save_file(tensors, str(path))
    return path, tensors


def test_published_encoder_layout_loads(encoder_file):
    path, tensors = encoder_file
    net = load_module_strict(LatentTransparencyEncoder(), path, "encoder")
    assert torch.equal(net.blocks[16].weight, tensors["blocks.16.weight"].float())
    with safe_open(str(path), "pt") as f:  # the dtype of the published files
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}


def test_wrong_key_is_named(tmp_path, encoder_file):
    _, tensors = encoder_file
    tensors = dict(tensors)
    tensors["blocks.3.weight"] = tensors.pop("blocks.2.weight")
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad))
    with pytest.raises(WeightsMismatch, match=r"bad\.safetensors.*'blocks\.2\.weight' is missing"):
        load_module_strict(LatentTransparencyEncoder(), bad, "encoder")
    tensors["blocks.2.weight"] = tensors["blocks.3.weight"].clone()
    save_file(tensors, str(bad))
    with pytest.raises(WeightsMismatch, match=r"bad\.safetensors.*unexpected key 'blocks\.3\.weight'"):
        load_module_strict(LatentTransparencyEncoder(), bad, "encoder")


def test_wrong_shape_is_named(tmp_path, encoder_file):
    _, tensors = encoder_file
    tensors = dict(tensors, **{"blocks.8.bias": torch.zeros(127, dtype=torch.float16)})
    bad = tmp_path / "shape.safetensors"
    save_file(tensors, str(bad))
    with pytest.raises(WeightsMismatch, match=r"shape\.safetensors: key 'blocks\.8\.bias' has shape \[127\].*\[128\]"):
        load_module_strict(LatentTransparencyEncoder(), bad, "encoder")


def test_only_safetensors(tmp_path):
    pickle_file = tmp_path / "decoder.ckpt"
    torch.save({"x": torch.zeros(1)}, pickle_file)
    with pytest.raises(WeightsMismatch, match=r"decoder\.ckpt.*safetensors files only"):
        load_module_strict(LatentTransparencyEncoder(), pickle_file, "encoder")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsMismatch, match=r"junk\.safetensors"):
        load_module_strict(LatentTransparencyEncoder(), junk, "encoder")


def test_tiny_decoder_round_trip_and_real_config_refuses_it(tmp_path):
    src = tiny_decoder()
    path = save_module(src, tmp_path / "dec.safetensors")
    net = load_module_strict(TransparentDecoderUNet(TINY_DECODER_CONFIG), path, "decoder")
    assert torch.equal(net.conv_in.weight, src.conv_in.weight.half().float())
    with torch.device("meta"):
        real = TransparentDecoderUNet()
    with pytest.raises(WeightsMismatch, match=r"dec\.safetensors: key 'conv_in\.bias' has shape \[4\].*\[32\]"):
        load_module_strict(real, path, "decoder")


def test_xl_lora_rename_rejects_foreign_keys():
    up, down = torch.zeros(8, 2), torch.zeros(2, 8)
    good = {"diffusion_model.input_blocks.7.1.transformer_blocks.0.attn1.to_q.weight::lora::0": up,
            "diffusion_model.input_blocks.7.1.transformer_blocks.0.attn1.to_q.weight::lora::1": down}
    assert list(rename_state_dict(good)) == ["down_blocks.2.attentions.0.transformer_blocks.0.attn1.to_q"]
    with pytest.raises(ValueError, match="lora_unet_x"):
        rename_state_dict({"lora_unet_x": up})
    with pytest.raises(ValueError, match="lacks its down matrix"):
        rename_state_dict({k: v for k, v in good.items() if k.endswith("0")})
