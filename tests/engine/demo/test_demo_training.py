"""The demo model's training data, tokenizer and training script (tiny runs only)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from editor.engine.demo import shapes, tokenizer
from editor.engine.demo.train import main as train_main


def test_scenes_are_seeded_and_cover_the_vocabulary():
    a = shapes.sample_scenes(400, torch.Generator().manual_seed(7))
    b = shapes.sample_scenes(400, torch.Generator().manual_seed(7))
    assert torch.equal(a.color, b.color) and torch.equal(a.center, b.center)
    assert torch.equal(shapes.render(a, 64), shapes.render(b, 64))
    assert set(a.shape.tolist()) == set(range(len(shapes.SHAPES)))
    assert set(a.color.tolist()) == set(range(len(shapes.COLOR_NAMES)))
    assert (a.color != a.bg).all() and (a.color != a.bg2).all()
    caps = shapes.captions(a)
    assert "" in caps  # classifier-free guidance dropout
    assert any("gradient" in c for c in caps) and any(c and "background" not in c for c in caps)
    assert {"red", "green", "blue", "yellow", "orange", "purple", "white", "black"} <= set(shapes.COLOR_NAMES)
    assert {"circle", "square", "triangle", "star"} <= set(shapes.SHAPES)


def test_render_draws_the_named_colours():
    scenes = shapes.sample_scenes(16, torch.Generator().manual_seed(3))
    img = shapes.to_uint8(shapes.render(scenes, 128)).numpy().astype(int)
    for i in range(16):
        cx, cy = scenes.center[i].tolist()
        px, py = int((cx + 1) * 64), int((cy + 1) * 64)
        want = np.array(shapes.COLORS[shapes.COLOR_NAMES[int(scenes.color[i])]])
        assert np.abs(img[i, py, px] - want).max() <= shapes.COLOR_JITTER + 1, i
    assert shapes.caption("circle", "orange", "blue") == "an orange circle on a blue background"
    assert shapes.caption("star", "red", "white", "black") == "a red star on a white and black gradient background"


def test_tokenizer_has_one_token_per_word(tmp_path):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(tokenizer.write_tokenizer(tmp_path)))
    for word in tokenizer.WORDS:
        assert len(tok(word).input_ids) == 3, word
    # Unknown words fall back to letters rather than failing.
    assert len(tok("a pink circle").input_ids) > 5


def test_training_script_runs_end_to_end_reproducibly_and_saves_a_loadable_pipeline(tmp_path):
    from diffusers import StableDiffusionPipeline

    def train(out):
        args = ["--device", "cpu", "--out", str(out), "--vae-steps", "1", "--unet-steps", "2",
                "--vae-batch", "1", "--unet-batch", "2", "--seed", "5", "--size", "64"]
        assert train_main(args) == 0

    out, again = tmp_path / "model", tmp_path / "again"
    train(out)
    train(again)
    for part in ("unet/diffusion_pytorch_model", "vae/diffusion_pytorch_model", "text_encoder/model"):
        assert (out / f"{part}.safetensors").read_bytes() == (again / f"{part}.safetensors").read_bytes(), part
    info = json.loads((out / "training_info.json").read_text())
    assert info["vae_steps"] == 1 and info["unet_steps"] == 2 and info["scaling_factor"] > 0
    assert "--vae-steps 1 --unet-steps 2" in info["repeat_with"]
    pipe = StableDiffusionPipeline.from_pretrained(out, local_files_only=True)
    assert pipe.vae.config.scaling_factor == pytest.approx(info["scaling_factor"])
    assert pipe.unet.config.sample_size * 8 == 256
