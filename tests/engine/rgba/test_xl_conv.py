"""The SDXL conv patch (full weight offsets): LDM naming, strict checks, apply/restore, generation."""
from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel
from helpers import DATA, TINY_XL_CONV_PAIRS, conv_key, write_xl_conv
from safetensors.torch import save_file

from editor.engine.errors import BadRequest
from editor.engine.reference_shapes import SDXL_UNET
from editor.engine.rgba import LayerDiffuseUnavailable, WeightsMismatch, generate_rgba, layerdiffuse_available
from editor.engine.rgba.weights import FILES, LayerWeights
from editor.engine.rgba.xl_conv import applied, check_file, ldm_parameter_names

FAST = dict(steps=2, seed=3)


@pytest.fixture
def unet(tiny_sdxl_model):
    """A fresh UNet shaped like the tiny SDXL model's (tests here may modify it)."""
    torch.manual_seed(0)
    return UNet2DConditionModel.from_config(tiny_sdxl_model.pipe.unet.config).eval()


def _state(unet):
    return {k: v.clone() for k, v in unet.state_dict().items()}


def _same(unet, state) -> bool:
    return all(torch.equal(v, state[k]) for k, v in unet.state_dict().items())


def test_ldm_names_of_the_tiny_unet():
    from editor.engine.tiny import _tiny_unet

    table = ldm_parameter_names(_tiny_unet(64, sdxl=True))  # also cross-checked with diffusers' converter
    assert len(table) == len(dict(_tiny_unet(64, sdxl=True).named_parameters()))
    for ldm, diffusers in TINY_XL_CONV_PAIRS.items():
        assert table[ldm] == diffusers


def test_ldm_names_of_real_sdxl_agree_with_the_attention_lora_table():
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SDXL_UNET)
    table = ldm_parameter_names(unet)
    assert len(table) == 1680
    assert table["input_blocks.3.0.op.weight"] == "down_blocks.0.downsamplers.0.conv.weight"
    assert table["input_blocks.7.1.proj_in.weight"] == "down_blocks.2.attentions.0.proj_in.weight"
    assert table["output_blocks.2.2.conv.weight"] == "up_blocks.0.upsamplers.0.conv.weight"
    assert table["output_blocks.8.0.skip_connection.weight"] == "up_blocks.2.resnets.2.conv_shortcut.weight"
    assert table["middle_block.2.out_layers.3.weight"] == "mid_block.resnets.1.conv2.weight"
    assert table["label_emb.0.2.bias"] == "add_embedding.linear_2.bias"
    # the published attention LoRA's 560 projections (input blocks 7 and 8 not swapped)
    tsv = (DATA / "layer_xl_transparent_attn.ldm_to_diffusers.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in tsv.splitlines() if line and not line.startswith("#")]
    assert len(rows) == 560
    for ldm, diffusers, *_ in rows:
        assert table[f"{ldm}.weight"] == f"{diffusers}.weight"


def test_patch_changes_exactly_those_weights_and_restores(unet, tmp_path):
    path = tmp_path / "conv.safetensors"
    diffs = write_xl_conv(unet, path)
    before = _state(unet)
    patch = check_file(unet, path)
    assert sorted(patch.targets.values()) == sorted(TINY_XL_CONV_PAIRS.values())
    with applied(unet, patch):
        now = dict(unet.named_parameters())
        for name, w in unet.state_dict().items():
            if name in diffs:
                assert torch.equal(now[name], before[name] + diffs[name].float())
            else:
                assert torch.equal(w, before[name]), name
    assert _same(unet, before)
    with applied(unet, patch, strength=0.5):
        name = "conv_in.weight"
        assert torch.allclose(unet.conv_in.weight, before[name] + 0.5 * diffs[name].float())
    assert _same(unet, before)


def test_an_error_while_patched_restores(unet, tmp_path):
    path = tmp_path / "conv.safetensors"
    write_xl_conv(unet, path)
    before = _state(unet)
    with pytest.raises(RuntimeError, match="boom"):
        with applied(unet, check_file(unet, path)):
            assert not _same(unet, before)
            raise RuntimeError("boom")
    assert _same(unet, before)


@pytest.mark.parametrize("bad, message", [
    ("wrong_key", r"conv\.safetensors: key 'diffusion_model\.output_blocks\.9\.0\.in_layers\.2\.weight::diff::0' "
                  r"names no parameter"),
    ("wrong_shape", r"conv\.safetensors: key 'diffusion_model\.output_blocks\.3\.0\.out_layers\.0\.weight::diff::0' "
                    r"has shape \[2\], the UNet parameter up_blocks\.1\.resnets\.1\.norm2\.weight is \[32\]"),
    ("bad_suffix", r"conv\.safetensors: not a .* key 'diffusion_model\.output_blocks\.3\.0\.out_layers\.0\.weight"
                   r"::lora::0' does not end with '::diff::0'"),
    ("no_prefix", r"conv\.safetensors: not a .* key 'output_blocks\.3\.0\.out_layers\.0\.weight::diff::0' does not "
                  r"start with"),
    ("integer", r"conv\.safetensors: key 'diffusion_model\.output_blocks\.3\.0\.out_layers\.0\.weight::diff::0' "
                r"holds I32"),
])
def test_a_file_that_does_not_fit_is_refused_and_changes_nothing(unet, tmp_path, bad, message):
    params = dict(unet.named_parameters())
    tensors = {conv_key(ldm): torch.full(params[d].shape, 0.5, dtype=torch.float16)
               for ldm, d in TINY_XL_CONV_PAIRS.items()}
    last = conv_key("output_blocks.3.0.out_layers.0.weight")  # sorts last: good offsets precede the bad one
    assert max(tensors) == last
    if bad == "wrong_key":
        tensors[conv_key("output_blocks.9.0.in_layers.2.weight")] = tensors.pop(last)
    elif bad == "wrong_shape":
        tensors[last] = tensors[last][:2].contiguous()
    elif bad == "bad_suffix":
        tensors[last.replace("::diff::", "::lora::")] = tensors.pop(last)
    elif bad == "no_prefix":
        tensors[last.removeprefix("diffusion_model.")] = tensors.pop(last)
    else:
        tensors[last] = tensors[last].to(torch.int32)
    path = tmp_path / "conv.safetensors"
    save_file(tensors, str(path))
    before = _state(unet)
    with pytest.raises(WeightsMismatch, match=message):
        check_file(unet, path)
    assert _same(unet, before)


def test_generate_with_the_conv_patch(tiny_sdxl_model, tiny_xl_conv_weights):
    unet = tiny_sdxl_model.pipe.unet
    before = _state(unet)
    during = []
    out = generate_rgba(tiny_sdxl_model, "a cat", 64, 64, weights=tiny_xl_conv_weights, xl_patch="conv",
                        progress=lambda i, n: during.append(unet.conv_in.weight.clone()), **FAST)
    assert out.shape == (64, 64, 4)
    assert ((out[..., 3] > 0) & (out[..., 3] < 255)).any()
    assert len(during) == 2 and not torch.equal(during[0], before["conv_in.weight"])  # patched while denoising
    assert _same(unet, before)  # and the original UNet afterwards


def test_a_bad_conv_file_fails_generation_without_touching_the_unet(tiny_sdxl_model, tiny_xl_conv_weights, tmp_path):
    unet = tiny_sdxl_model.pipe.unet
    params = dict(unet.named_parameters())
    tensors = {conv_key(ldm): torch.zeros(params[d].shape, dtype=torch.float16)
               for ldm, d in TINY_XL_CONV_PAIRS.items()}
    tensors[conv_key("out.2.weight")] = torch.zeros(3, 3, dtype=torch.float16)
    conv = tmp_path / FILES[("sdxl", "conv")].filename
    save_file(tensors, str(conv))
    lw = LayerWeights("sdxl", dict(tiny_xl_conv_weights.files, conv=conv),
                      decoder_config=tiny_xl_conv_weights.decoder_config)
    before = _state(unet)
    with pytest.raises(WeightsMismatch, match=r"layer_xl_transparent_conv\.safetensors: key "
                                              r"'diffusion_model\.out\.2\.weight::diff::0' has shape \[3, 3\]"):
        generate_rgba(tiny_sdxl_model, "a cat", 64, 64, weights=lw, xl_patch="conv", **FAST)
    assert _same(unet, before)


def test_conv_option_needs_its_file_and_an_sdxl_model(tiny_model, tiny_weights, tiny_sdxl_model, tiny_xl_weights):
    with pytest.raises(LayerDiffuseUnavailable, match=r"missing layer_xl_transparent_conv\.safetensors"):
        generate_rgba(tiny_sdxl_model, "x", 64, 64, weights=tiny_xl_weights, xl_patch="conv", **FAST)
    ok, why = layerdiffuse_available(tiny_sdxl_model, tiny_xl_weights, mode="rgba_conv")
    assert not ok and "layer_xl_transparent_conv.safetensors" in why
    assert layerdiffuse_available(tiny_sdxl_model, tiny_xl_weights, mode="rgba") == (True, "")
    assert not layerdiffuse_available(tiny_model, tiny_weights, mode="rgba_conv")[0]
    with pytest.raises(BadRequest, match="SDXL option"):
        generate_rgba(tiny_model, "x", 64, 64, weights=tiny_weights, xl_patch="conv", **FAST)
    with pytest.raises(BadRequest, match="xl_patch must be one of"):
        generate_rgba(tiny_sdxl_model, "x", 64, 64, weights=tiny_xl_weights, xl_patch="lora", **FAST)


def test_registry_lists_the_conv_file():
    wf = FILES[("sdxl", "conv")]
    assert wf.filename == "layer_xl_transparent_conv.safetensors" and wf.size_bytes == 3_620_000_000
