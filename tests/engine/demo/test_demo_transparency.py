"""Evidence for the demo model's latent transparency, on the shipped weights (CPU).

The weights in resources/demo_model/layerdiffuse/ were trained by
``python -m editor.engine.demo.train_transparency`` (see training_info.json there). The
prompts and seeds are fixed by formula (transparency_check.eval_prompts), not picked by
looking at results. Measured figures are printed with ``-s`` and recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from editor.engine.demo import transparency_check as tc
from editor.engine.models import demo_model_path
from editor.engine.rgba import LayerDiffuseUnavailable, WeightsMismatch, generate_rgba, layerdiffuse_available
from editor.engine.rgba import demo_weights as dw
from editor.engine.rgba.loader import load_module_strict

FOLDER = demo_model_path() / dw.FOLDER
STEPS = 20
GUIDANCE = 7.0
# 24 prompts were too few to tell weights apart: the weights shipped before the AND fine-tune
# scored colour 21 on seeds 0-23 and 18 on seeds 24-47 (docs/benchmarks.md), so the 80% bars
# are taken over 48.
N_PROMPTS = 48


@pytest.fixture(scope="session")
def eval_assets(demo_model) -> list[np.ndarray]:
    torch.set_num_threads(1)
    return [generate_rgba(demo_model, prompt, 256, 256, seed=seed, steps=STEPS, guidance=GUIDANCE)
            for prompt, _shape, _colour, seed in tc.eval_prompts(N_PROMPTS)]


def test_shipped_files_are_the_demo_defaults_and_small():
    names = {dw.ATTN_FILE, dw.DECODER_FILE, dw.ENCODER_FILE, dw.CONFIG_FILE, "training_info.json"}
    assert names <= {p.name for p in FOLDER.iterdir()}
    assert sum(p.stat().st_size for p in FOLDER.glob("*.safetensors")) <= 15_000_000
    info = json.loads((FOLDER / "training_info.json").read_text())
    assert info["stage"] == "done" and "command" in info and info["total_seconds"] > 0
    lw = dw.demo_layer_weights()
    assert lw.family == "demo" and set(lw.files) == {"attn", "decoder", "encoder"}


def test_demo_model_offers_native_transparency(demo_model):
    assert layerdiffuse_available(demo_model) == (True, "")
    ok, reason = layerdiffuse_available(demo_model, mode="joint")
    assert not ok and "transparent layers only" in reason


def test_lora_is_checked_by_the_strict_loader(demo_model, tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(FOLDER, folder)
    lora = load_file(str(folder / dw.ATTN_FILE))
    key = sorted(lora)[0]
    lora[key + "x"] = lora.pop(key)  # a renamed key
    save_file(lora, str(folder / dw.ATTN_FILE))
    with pytest.raises(WeightsMismatch, match=r"demo transparency LoRA.*missing"):
        generate_rgba(demo_model, "a red star", 64, 64, steps=1, weights=folder)
    lora = load_file(str(FOLDER / dw.ATTN_FILE))
    lora[key] = lora[key][:, :-1].contiguous()  # a wrong rank
    save_file(lora, str(folder / dw.ATTN_FILE))
    with pytest.raises(WeightsMismatch, match="has shape"):
        generate_rgba(demo_model, "a red star", 64, 64, steps=1, weights=folder)
    (folder / dw.ATTN_FILE).unlink()
    with pytest.raises(LayerDiffuseUnavailable, match="missing"):
        generate_rgba(demo_model, "a red star", 64, 64, steps=1, weights=folder)


def test_round_trip_on_held_out_assets(demo_model, record_property):
    torch.set_num_threads(1)
    config = dw.DemoLayerConfig.read(FOLDER)
    encoder = load_module_strict(dw.build_encoder(config), FOLDER / dw.ENCODER_FILE, "encoder").float().eval()
    decoder = load_module_strict(dw.build_decoder(config), FOLDER / dw.DECODER_FILE, "decoder").float().eval()
    r = tc.round_trip(demo_model.pipe.vae, encoder, decoder, config.backdrop, seed=20_261_203, n=8)
    print("\nround trip on 8 held-out assets:", json.dumps(r))
    record_property("round_trip", r)
    assert r["alpha_l1"] < ALPHA_L1_MAX
    assert r["rgb_l1_visible"] < RGB_L1_MAX
    # the offset is harmless: the ordinary VAE decode stays as close to the flattened asset
    assert r["vae_l1_offset"] < r["vae_l1_plain"] + 0.02


@pytest.mark.slow  # 48 generations of 20 steps: about 3 minutes of CPU time
def test_prompts_give_transparent_assets_of_the_prompted_colour(eval_assets, record_property):
    items = tc.eval_prompts(N_PROMPTS)
    rows, colour_ok, clear_ok, soft_ok = [], 0, 0, 0
    for (prompt, _shape, colour, seed), rgba in zip(items, eval_assets):
        assert rgba.shape == (256, 256, 4) and rgba.dtype == np.uint8
        r = tc.read_asset(rgba)
        ok_clear = r.frame_clear_share > 0.9 and r.clear_share > 0.5
        ok_soft = r.soft_share > 0.0005
        colour_ok += r.color == colour
        clear_ok += ok_clear
        soft_ok += ok_soft
        rows.append({"prompt": prompt, "seed": seed, "color": r.color, "opaque": round(r.opaque_share, 3),
                     "clear": round(r.clear_share, 3), "frame_clear": round(r.frame_clear_share, 3),
                     "soft": round(r.soft_share, 4)})
    summary = {"colour": colour_ok, "clear_background": clear_ok, "soft_edges": soft_ok, "of": len(items)}
    print("\n" + "\n".join(json.dumps(r) for r in rows) + "\n" + json.dumps(summary))
    record_property("transparency", summary)
    assert colour_ok >= 0.8 * len(items), summary
    assert clear_ok >= 0.8 * len(items), summary
    assert soft_ok >= 0.9 * len(items), summary


# Bounds set from the measured figures of the shipped weights with a margin (see docs/benchmarks.md).
ALPHA_L1_MAX = 0.05
RGB_L1_MAX = 0.2


@pytest.mark.slow  # 16 generations: about 60 s of CPU time
def test_glass_prompts_give_intermediate_alpha_inside(demo_model, record_property):
    from editor.engine.demo import shapes

    torch.set_num_threads(1)
    inner = {"glass": [], "plain": []}
    for i in range(8):
        colour, shape = shapes.COLOR_NAMES[i], shapes.SHAPES[i % 4]
        for kind, prompt in (("glass", f"a glass {colour} {shape}"), ("plain", shapes.caption(shape, colour))):
            rgba = generate_rgba(demo_model, prompt, 256, 256, seed=100 + i, steps=STEPS, guidance=GUIDANCE)
            inner[kind].append(tc.read_asset(rgba).inner_alpha)
    glass, plain = float(np.median(inner["glass"])), float(np.median(inner["plain"]))
    print(f"\nmedian alpha inside: glass {glass}, plain {plain}; {inner}")
    record_property("inner_alpha", inner)
    assert glass < 220 and glass < plain - 30
