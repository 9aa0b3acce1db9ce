"""LoRA files written here with known deltas change the tiny models exactly as computed."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from editor.engine.errors import PickleRefused
from editor.engine.lora import LoraError, active_loras, apply_loras, ldm_unet_names
from editor.engine.models import load_model

UNET_TARGETS = ("down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
                "up_blocks.0.attentions.1.transformer_blocks.0.attn2.to_v",
                "mid_block.attentions.0.transformer_blocks.0.ff.net.2",
                "down_blocks.0.resnets.0.conv1")


def _pairs(module: torch.nn.Module, rank: int, gen: torch.Generator):
    w = module.weight
    if w.ndim == 4:  # a conv: kohya's LoCon layout (down is a conv of the kernel size, up 1x1)
        down = torch.randn(rank, w.shape[1], *w.shape[2:], generator=gen) * 0.2
        up = torch.randn(w.shape[0], rank, 1, 1, generator=gen) * 0.2
    else:
        down = torch.randn(rank, w.shape[1], generator=gen) * 0.2
        up = torch.randn(w.shape[0], rank, generator=gen) * 0.2
    return up, down


def write_lora(path, pipe, fmt: str, targets, *, rank=2, alpha=None, seed=0, component="unet"):
    """A LoRA file of ``fmt`` ("peft", "kohya" or "kohya-ldm") and {(component, module): delta} it
    stands for (alpha / rank * up @ down in the weight's shape)."""
    gen = torch.Generator().manual_seed(seed)
    part = getattr(pipe, component)
    modules = dict(part.named_modules())
    ldm = {v: k for k, v in ldm_unet_names(part).items()} if component == "unet" else {}
    kohya_prefix = {"unet": "lora_unet_", "text_encoder": "lora_te1_" if pipe.__class__.__name__.endswith("XLPipeline")
                    else "lora_te_", "text_encoder_2": "lora_te2_"}[component]
    sd, expected = {}, {}
    for name in targets:
        up, down = _pairs(modules[name], rank, gen)
        scale = 1.0 if alpha is None else alpha / rank
        expected[(component, name)] = scale * (up.flatten(1) @ down.flatten(1)).reshape(modules[name].weight.shape)
        if fmt == "peft":
            sd[f"{component}.{name}.lora_A.weight"] = down
            sd[f"{component}.{name}.lora_B.weight"] = up
            if alpha is not None:
                sd[f"{component}.{name}.alpha"] = torch.tensor(float(alpha))
        else:
            # kohya names text-encoder layers with the text_model. level (transformers 5 dropped it
            # from CLIPTextModel; CLIPTextModelWithProjection keeps it)
            file_name = name if component == "unet" or name.startswith("text_model.") else "text_model." + name
            key = kohya_prefix + (ldm[name] if fmt == "kohya-ldm" else file_name).replace(".", "_")
            sd[key + ".lora_down.weight"] = down
            sd[key + ".lora_up.weight"] = up
            sd[key + ".alpha"] = torch.tensor(float(alpha if alpha is not None else rank))
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return expected


def _unet_out(pipe, seed=1):
    gen = torch.Generator().manual_seed(seed)
    cfg = pipe.unet.config
    x = torch.randn(1, cfg.in_channels, 16, 16, generator=gen)
    emb = torch.randn(1, 7, cfg.cross_attention_dim, generator=gen)
    added = None
    if cfg.addition_embed_type == "text_time":
        added = {"text_embeds": torch.randn(1, 32, generator=gen), "time_ids": torch.tensor([[128.0, 128, 0, 0, 128, 128]])}
    with torch.no_grad():
        return pipe.unet(x, 500, encoder_hidden_states=emb, added_cond_kwargs=added, return_dict=False)[0]


def _by_hand(pipe, changes: list[tuple[dict, float]]):
    with torch.no_grad():
        for expected, weight in changes:
            for (component, name), delta in expected.items():
                w = dict(getattr(pipe, component).named_modules())[name].weight
                w.add_(weight * delta)


@pytest.fixture()
def sd15(tiny_model_dir):
    return load_model(tiny_model_dir, device="cpu")


@pytest.fixture()
def sdxl(tiny_sdxl_dir):
    return load_model(tiny_sdxl_dir, device="cpu")


def test_two_loras_diffusers_and_kohya_change_the_unet_as_computed(sd15, tiny_model_dir, tmp_path):
    a = write_lora(tmp_path / "a.safetensors", sd15.pipe, "peft", UNET_TARGETS[:2], seed=1)
    b = write_lora(tmp_path / "b.safetensors", sd15.pipe, "kohya", UNET_TARGETS[1:], alpha=1.0, seed=2)
    original = {k: v.clone() for k, v in sd15.pipe.unet.state_dict().items()}
    before = _unet_out(sd15.pipe)

    assert apply_loras(sd15, [(str(tmp_path / "a.safetensors"), 0.7), (str(tmp_path / "b.safetensors"), -1.5)])
    got = _unet_out(sd15.pipe)
    reference = load_model(tiny_model_dir, device="cpu")
    _by_hand(reference.pipe, [(a, 0.7), (b, -1.5)])
    want = _unet_out(reference.pipe)
    assert (want - before).abs().max() > 1e-3  # the LoRAs matter
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert len(active_loras(sd15)) == 2
    # the same set again: nothing to do
    assert not apply_loras(sd15, [(str(tmp_path / "a.safetensors"), 0.7), (str(tmp_path / "b.safetensors"), -1.5)])

    # removing them restores the model's own weights bit for bit
    assert apply_loras(sd15, ())
    for k, v in sd15.pipe.unet.state_dict().items():
        assert torch.equal(v, original[k]), k
    assert torch.equal(_unet_out(sd15.pipe), before)


def test_switching_sets_is_exact(sd15, tiny_model_dir, tmp_path):
    a = write_lora(tmp_path / "a.safetensors", sd15.pipe, "peft", UNET_TARGETS[:1], seed=3)
    b = write_lora(tmp_path / "b.safetensors", sd15.pipe, "peft", UNET_TARGETS[:1], alpha=4.0, seed=4)
    apply_loras(sd15, [(str(tmp_path / "a.safetensors"), 1.0)])
    apply_loras(sd15, [(str(tmp_path / "b.safetensors"), 0.5)])
    reference = load_model(tiny_model_dir, device="cpu")
    _by_hand(reference.pipe, [(b, 0.5)])
    torch.testing.assert_close(_unet_out(sd15.pipe), _unet_out(reference.pipe), rtol=0, atol=1e-5)
    assert a.keys() == b.keys()


def test_kohya_ldm_names_and_text_encoders_on_sdxl(sdxl, tiny_sdxl_dir, tmp_path):
    targets = ("down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k",
               "up_blocks.0.attentions.0.proj_out", "mid_block.resnets.1.conv2")
    u = write_lora(tmp_path / "u.safetensors", sdxl.pipe, "kohya-ldm", targets, alpha=1.0, seed=5)
    # one file holding the UNet and both text encoders, as kohya's SDXL trainer writes
    from safetensors.torch import load_file
    te1 = write_lora(tmp_path / "t1.safetensors", sdxl.pipe, "kohya", ["encoder.layers.0.self_attn.q_proj"],
                     component="text_encoder", seed=6)
    te2 = write_lora(tmp_path / "t2.safetensors", sdxl.pipe, "kohya", ["text_model.encoder.layers.1.mlp.fc1"],
                     component="text_encoder_2", seed=7)
    merged = {}
    for name in ("u", "t1", "t2"):
        merged.update(load_file(str(tmp_path / f"{name}.safetensors")))
    save_file(merged, str(tmp_path / "xl.safetensors"))
    from editor.engine.sampling import prompt_cache
    plain = prompt_cache(sdxl.pipe).get("a cat", "", False).embeds.clone()

    apply_loras(sdxl, [(str(tmp_path / "xl.safetensors"), 0.8)])
    reference = load_model(tiny_sdxl_dir, device="cpu")
    _by_hand(reference.pipe, [(u, 0.8), (te1, 0.8), (te2, 0.8)])
    torch.testing.assert_close(_unet_out(sdxl.pipe), _unet_out(reference.pipe), rtol=0, atol=1e-5)
    for component in ("text_encoder", "text_encoder_2"):
        for (k, v), (k2, v2) in zip(getattr(sdxl.pipe, component).state_dict().items(),
                                    getattr(reference.pipe, component).state_dict().items()):
            torch.testing.assert_close(v, v2, rtol=0, atol=1e-6, msg=k)
    # the prompt cache was dropped: the new text encoder weights encode the prompt
    with_lora = prompt_cache(sdxl.pipe).get("a cat", "", False).embeds
    assert (with_lora - plain).abs().max() > 1e-4
    apply_loras(sdxl, ())
    assert torch.equal(prompt_cache(sdxl.pipe).get("a cat", "", False).embeds, plain)


def test_a_file_for_another_model_is_refused_naming_key_or_shape(sd15, sdxl, tmp_path):
    # shapes: an SDXL UNet's attn2.to_k reads 64-wide text, SD1.5's tiny one 32-wide
    write_lora(tmp_path / "xl.safetensors", sdxl.pipe, "peft",
               ["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"], seed=8)
    before = {k: v.clone() for k, v in sd15.pipe.unet.state_dict().items()}
    with pytest.raises(LoraError, match=r"unet\.down_blocks\.1\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k"
                                        r"\.lora_A\.weight.*\(64, 64\).*is \(64, 32\)") as err:
        apply_loras(sd15, [(str(tmp_path / "xl.safetensors"), 1.0)])
    assert "xl.safetensors" in str(err.value)
    # a layer the model lacks
    save_file({"lora_unet_down_blocks_7_attentions_0_proj_in.lora_down.weight": torch.zeros(2, 4),
               "lora_unet_down_blocks_7_attentions_0_proj_in.lora_up.weight": torch.zeros(4, 2)},
              str(tmp_path / "other.safetensors"))
    with pytest.raises(LoraError, match="lora_unet_down_blocks_7_attentions_0_proj_in.lora_down.weight"):
        apply_loras(sd15, [(str(tmp_path / "other.safetensors"), 1.0)])
    # a second text encoder that SD1.5 lacks
    write_lora(tmp_path / "te2.safetensors", sdxl.pipe, "kohya", ["text_model.encoder.layers.0.mlp.fc1"],
               component="text_encoder_2")
    with pytest.raises(LoraError, match="lora_te2_text_model_encoder_layers_0_mlp_fc1.*text_encoder_2"):
        apply_loras(sd15, [(str(tmp_path / "te2.safetensors"), 1.0)])
    # not a LoRA key at all
    save_file({"model.diffusion_model.out.2.weight": torch.zeros(2)}, str(tmp_path / "ckpt.safetensors"))
    with pytest.raises(LoraError, match="model.diffusion_model.out.2.weight"):
        apply_loras(sd15, [(str(tmp_path / "ckpt.safetensors"), 1.0)])
    for k, v in sd15.pipe.unet.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert active_loras(sd15) == ()


def test_pickle_loras_need_permission(sd15, tmp_path):
    path = tmp_path / "old.pt"
    name = UNET_TARGETS[0]
    w = dict(sd15.pipe.unet.named_modules())[name].weight
    torch.save({f"unet.{name}.lora_A.weight": torch.ones(1, w.shape[1]),
                f"unet.{name}.lora_B.weight": torch.ones(w.shape[0], 1)}, str(path))
    with pytest.raises(PickleRefused, match="old.pt.*pickle"):
        apply_loras(sd15, [(str(path), 1.0)])
    assert apply_loras(sd15, [(str(path), 1.0)], allow_pickle=True)
    assert torch.equal(w, dict(sd15.pipe.unet.named_modules())[name].weight)


def test_missing_file_and_bad_weight(sd15, tmp_path):
    with pytest.raises(LoraError, match="nothere.safetensors: no such LoRA file"):
        apply_loras(sd15, [(str(tmp_path / "nothere.safetensors"), 1.0)])
    with pytest.raises(LoraError, match="weight must be a number"):
        apply_loras(sd15, [(str(tmp_path / "x.safetensors"), "lots")])


def test_ldm_names_follow_the_real_block_layout():
    """layers_per_block 2 (SD1.5/SDXL): kohya's input_blocks.7.1 is down_blocks.2.attentions.0."""
    from editor.engine.rgba.xl_lora import diffusers_to_ldm
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(block_out_channels=(32, 32, 64), layers_per_block=2, norm_num_groups=8,
                                down_block_types=("CrossAttnDownBlock2D",) * 3, cross_attention_dim=16,
                                up_block_types=("CrossAttnUpBlock2D",) * 3, attention_head_dim=8)
    names = ldm_unet_names(unet)
    for ldm, name in names.items():
        if ".attentions." in name and name.endswith(".to_q"):
            assert diffusers_to_ldm(name) == ldm
    assert names["input_blocks.7.1"] == "down_blocks.2.attentions.0"
    assert names["output_blocks.5.0.in_layers.2"] == "up_blocks.1.resnets.2.conv1"
    assert names["middle_block.2.out_layers.3"] == "mid_block.resnets.1.conv2"


def test_brush_requests_carry_their_lora_set(sd15, tiny_model_dir, tmp_path):
    """The engine merges each request's set before its job: a LoRA edit differs from a plain one,
    and a plain edit after it equals one from a model that never saw the LoRA."""
    import numpy as np

    from editor.engine.brush import BrushEngine
    from editor.engine.requests import BrushRequest

    write_lora(tmp_path / "a.safetensors", sd15.pipe, "peft", UNET_TARGETS, alpha=8.0, seed=9)
    src = np.full((64, 64, 3), 150, np.uint8)
    reg = np.zeros((64, 64), np.uint8)
    reg[16:48, 16:48] = 255

    def request(loras=()):
        return BrushRequest("L", src, "grey", reg, "a cat", seed=3, steps=2, work_size=(64, 64), loras=loras)

    engine = BrushEngine(sd15, trajectory_steps=2)
    with_lora = engine.render(request(((str(tmp_path / "a.safetensors"), 1.0),)))
    plain = engine.render(request())
    fresh = BrushEngine(load_model(tiny_model_dir, device="cpu"), trajectory_steps=2).render(request())
    assert np.array_equal(plain.rgba, fresh.rgba)
    assert not np.array_equal(with_lora.rgba, plain.rgba)
    assert with_lora.key != plain.key


def test_lora_variants_are_refused_by_name(sd15, tmp_path):
    name = "lora_unet_down_blocks_1_attentions_0_proj_in"
    save_file({f"{name}.hada_w1_a": torch.zeros(2, 2)}, str(tmp_path / "loha.safetensors"))
    with pytest.raises(LoraError, match=r"hada_w1_a.*LoHa"):
        apply_loras(sd15, [(str(tmp_path / "loha.safetensors"), 1.0)])


def test_scripting_api_brush_layer_keeps_its_loras(tmp_path):
    import numpy as np

    from editor.api import Document

    doc = Document(64, 64)
    mask = np.zeros((64, 64), np.uint8)
    mask[8:24, 8:24] = 255
    layer = doc.add_brush_layer(mask, "a cat", loras=[(str(tmp_path / "a.safetensors"), 0.5)])
    assert layer.params.loras == ((str(tmp_path / "a.safetensors"), 0.5),)
