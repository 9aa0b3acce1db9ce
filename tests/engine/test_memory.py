"""Low-memory modes: the choice from free GPU memory, offload hooks and VAE tiling (tiny model, CPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from editor.engine.memory import MemoryPlan, apply_memory_plan, choose_memory_plan
from editor.engine.models import load_model

GB = 1e9


@pytest.mark.parametrize("free,total,family,nbytes,mode", [
    (22 * GB, 24 * GB, "sdxl", 2, "full"),            # a 24 GB card holds SDXL
    (7.6 * GB, 8.6 * GB, "sdxl", 2, "model_offload"),  # an 8 GB card: offload the idle parts
    (3.5 * GB, 4.2 * GB, "sdxl", 2, "sequential_offload"),
    (3.6 * GB, 4.2 * GB, "sd15", 2, "full"),            # SD1.5 in fp16 fits 4 GB
    (5.8 * GB, 8.0 * GB, "sd15", 4, "model_offload"),   # fp32 doubles the weights
    (1.0 * GB, 2.0 * GB, "sd15", 2, "sequential_offload"),
])
def test_mode_follows_free_memory(free, total, family, nbytes, mode):
    plan = choose_memory_plan(int(free), int(total), family, nbytes)
    assert plan.mode == mode
    if mode != "full":
        assert plan.vae_tiling
    assert "GB free" in plan.reason


def test_plenty_of_memory_does_not_tile_and_forcing_wins():
    assert not choose_memory_plan(int(40 * GB), int(48 * GB), "sdxl", 2).vae_tiling
    forced = choose_memory_plan(int(40 * GB), int(48 * GB), "sdxl", 2, forced="sequential_offload")
    assert forced.mode == "sequential_offload" and "preferences" in forced.reason
    cpu = choose_memory_plan(None, None, "sdxl", 4, device="cpu", forced="model_offload")
    assert cpu.mode == "full" and cpu.vae_tiling and "no CUDA GPU" in cpu.reason
    with pytest.raises(ValueError, match="memory mode must be one of"):
        choose_memory_plan(1, 1, "sd15", forced="tiny")


@pytest.mark.parametrize("mode", ["model_offload", "sequential_offload"])
def test_offload_hooks_give_the_same_picture(tiny_model, tiny_model_dir, mode):
    """The hooks move each part in for its calls and every output back to its input's device;
    on the CPU the moves are no-ops, so the picture must be exactly the plain one."""
    from editor.engine.base import generate_image

    want = generate_image(tiny_model, "a red cat", 64, 64, seed=2, steps=2)
    model = load_model(tiny_model_dir, device="cpu")
    apply_memory_plan(model.pipe, MemoryPlan(mode, False, "test"), "cpu")
    calls = []
    model.pipe.unet.down_blocks[0].register_forward_hook(lambda *a: calls.append(1))
    assert model.pipe.layerbrush_memory_mode == mode and model.pipe.layerbrush_cuda_graphs is False
    # every layer with weights runs while the unit holding it is the one moved onto the GPU
    state = model.pipe._layerbrush_offload_state
    misplaced = []
    for part_name in ("text_encoder", "unet", "vae"):
        for leaf_name, leaf in getattr(model.pipe, part_name).named_modules():
            if next(leaf.parameters(recurse=False), None) is None:
                continue

            def check(module, _args, part_name=part_name, leaf_name=leaf_name):
                unit = state["resident"]
                if unit is None or not any(m is module for m in unit.modules()):
                    misplaced.append(f"{part_name}.{leaf_name}")

            leaf.register_forward_pre_hook(check)
    got = generate_image(model, "a red cat", 64, 64, seed=2, steps=2)
    assert calls and np.array_equal(got, want)
    assert misplaced == []


def test_vae_tiling_above_the_working_size(tiny_model_dir, monkeypatch):
    from editor.engine.sampling import decode_latent

    model = load_model(tiny_model_dir, device="cpu")  # CPU plan: tiling on
    assert model.memory.vae_tiling and model.pipe.vae.use_tiling
    vae = model.pipe.vae
    tiled_calls = []
    original = vae.tiled_decode
    monkeypatch.setattr(vae, "tiled_decode", lambda *a, **k: tiled_calls.append(a[0].shape) or original(*a, **k))
    gen = torch.Generator().manual_seed(0)
    # a smooth latent, like a real picture's (the tiny random VAE turns noise into noise)
    small = torch.nn.functional.interpolate(torch.randn(1, 4, 8, 8, generator=gen), size=(128, 128), mode="bicubic")
    tiled = decode_latent(model.pipe, small)
    assert tiled_calls == [(1, 4, 128, 128)]  # 1024 px: above the 512 px working size
    vae.use_tiling = False
    plain = decode_latent(model.pipe, small)
    assert tiled.shape == plain.shape == (1024, 1024, 3)
    diff = np.abs(tiled.astype(int) - plain.astype(int)).mean()
    # the tiny random VAE is far from smooth (GroupNorm statistics differ per tile): the tiled
    # picture must be much closer to the untiled one than another latent's picture is
    other = torch.nn.functional.interpolate(torch.randn(1, 4, 8, 8, generator=gen), size=(128, 128), mode="bicubic")
    vae.use_tiling = False
    elsewhere = np.abs(decode_latent(model.pipe, other).astype(int) - plain.astype(int)).mean()
    assert diff < 0.5 * elsewhere, (diff, elsewhere)  # measured: 10.8 vs 28.0
    # a working-size latent is never tiled
    vae.use_tiling = True
    decode_latent(model.pipe, small[:, :, :64, :64])
    assert len(tiled_calls) == 1


def test_load_model_takes_a_forced_mode(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu", memory_mode="model_offload")
    assert model.memory.mode == "full" and "model_offload" in model.memory.reason  # no GPU here
    assert model.memory_label == "all on the device, VAE tiling"
    from editor.engine.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="memory mode must be one of"):
        load_model(tiny_model_dir, device="cpu", memory_mode="lots")
