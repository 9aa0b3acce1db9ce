"""Our module trees against the published LayerDiffuse key layouts (real shapes on the meta device)."""
from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel
from helpers import read_key_list

from editor.engine.reference_shapes import SD15_UNET, SDXL_UNET
from editor.engine.rgba.attention_sharing import VARIANTS, AttentionSharingPatch, attention_units
from editor.engine.rgba.transparent_vae import (TINY_DECODER_CONFIG, LatentTransparencyEncoder,
                                                TransparentDecoderUNet)
from editor.engine.rgba.xl_lora import diffusers_to_ldm, expected_layout, ldm_to_diffusers


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _layout(module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


@pytest.fixture(scope="module")
def sd15_unet():
    with torch.device("meta"):
        return UNet2DConditionModel(**SD15_UNET)


@pytest.fixture(scope="module")
def sdxl_unet():
    with torch.device("meta"):
        return UNet2DConditionModel(**SDXL_UNET)


@pytest.mark.parametrize("name", ["layer_sd15_vae_transparent_decoder", "vae_transparent_decoder"])
def test_decoder_matches_published_layout(name):
    rows = read_key_list(f"{name}.safetensors.keys.txt")
    with torch.device("meta"):
        net = TransparentDecoderUNet()
    assert _count(net) == 104_104_804
    assert _layout(net) == [(k, s) for k, s, _ in rows]  # names, shapes and state_dict order
    assert {d for _, _, d in rows} == {"F16"}


def test_tiny_decoder_keeps_the_key_names():
    rows = read_key_list("layer_sd15_vae_transparent_decoder.safetensors.keys.txt")
    net = TransparentDecoderUNet(TINY_DECODER_CONFIG)
    assert list(net.state_dict()) == [k for k, _, _ in rows]
    assert _count(net) < 1_000_000


@pytest.mark.parametrize("name", ["layer_sd15_vae_transparent_encoder", "vae_transparent_encoder"])
def test_encoder_matches_published_layout(name):
    rows = read_key_list(f"{name}.safetensors.keys.txt")
    net = LatentTransparencyEncoder()
    assert _count(net) == 1_181_764
    assert _layout(net) == [(k, s) for k, s, _ in rows]


def test_sd15_attention_units_follow_the_published_map(sd15_unet):
    rows = [line.split("\t") for line in (
        __import__("helpers").DATA / "sd15_attention_units.tsv").read_text().splitlines() if not line.startswith("#")]
    units = attention_units(sd15_unet)
    assert len(units) == 32 == len(rows)
    for (name, attn), (_, _, diffusers_path, q_dim, c_dim, heads) in zip(units, rows):
        assert name == diffusers_path
        assert (attn.to_q.in_features, attn.to_k.in_features, attn.heads) == (int(q_dim), int(c_dim), int(heads))
    assert units[30][0].startswith("mid_block")  # the middle block comes last, not in execution order


@pytest.mark.parametrize("variant,params", [("transparent_attn", 175_098_496), ("joint", 277_138_048),
                                            ("fg2bg", 281_425_568), ("bg2fg", 281_425_568)])
def test_attention_sharing_matches_published_layout(sd15_unet, variant, params):
    with torch.device("meta"):
        patch = AttentionSharingPatch.for_variant(sd15_unet, variant)
    assert _count(patch) == params
    rows = read_key_list(f"layer_sd15_{variant}.safetensors.keys.txt")
    assert _layout(patch) == [(k, s) for k, s, _ in rows]
    assert patch.frames == VARIANTS[variant].frames


def test_sdxl_lora_mapping_input_blocks_7_and_8():
    # One public port swaps these; shapes are identical, so only the names can catch it.
    assert ldm_to_diffusers("input_blocks.7.1.transformer_blocks.3.attn1.to_q") == \
        "down_blocks.2.attentions.0.transformer_blocks.3.attn1.to_q"
    assert ldm_to_diffusers("input_blocks.8.1.transformer_blocks.0.attn2.to_out.0") == \
        "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_out.0"
    assert ldm_to_diffusers("input_blocks.4.1.x") == "down_blocks.1.attentions.0.x"
    assert ldm_to_diffusers("middle_block.1.x") == "mid_block.attentions.0.x"
    assert ldm_to_diffusers("output_blocks.2.1.x") == "up_blocks.0.attentions.2.x"
    assert ldm_to_diffusers("output_blocks.5.1.x") == "up_blocks.1.attentions.2.x"
    with pytest.raises(ValueError, match="input_blocks.0"):
        ldm_to_diffusers("input_blocks.0.1.x")


def test_sdxl_lora_mapping_matches_published_table():
    rows = [line.split("\t") for line in (__import__("helpers").DATA /
            "layer_xl_transparent_attn.ldm_to_diffusers.tsv").read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 560
    for ldm, diffusers_name, *_ in rows:
        assert ldm_to_diffusers(ldm) == diffusers_name
        assert diffusers_to_ldm(diffusers_name) == ldm


def test_sdxl_lora_layout_matches_published_file(sdxl_unet):
    rows = read_key_list("layer_xl_transparent_attn.safetensors.keys.txt")
    assert expected_layout(sdxl_unet, rank=256) == {k: s for k, s, _ in rows}
