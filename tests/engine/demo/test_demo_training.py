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


def test_two_shape_scenes_draw_and_name_both_shapes_and_leave_one_shape_scenes_as_they_were():
    one = shapes.sample_scenes(64, torch.Generator().manual_seed(9))
    two = shapes.sample_scenes(64, torch.Generator().manual_seed(9), p_two=0.5)
    alone = ~two.second.two
    assert 10 < int(alone.sum()) < 54
    assert torch.equal(one.shape, two.shape) and torch.equal(one.color, two.color)
    assert torch.equal(one.center[alone], two.center[alone])
    img = shapes.to_uint8(shapes.render(two, 128)).numpy().astype(int)
    caps = shapes.captions(two)
    named = {0: 0, 1: 0, 2: 0}
    for i in np.flatnonzero(two.second.two.numpy()):
        for centre, colour in ((two.center[i], two.color[i]), (two.second.center[i], two.second.color[i])):
            px, py = (int((v + 1) * 64) for v in centre.tolist())
            want = np.array(shapes.COLORS[shapes.COLOR_NAMES[int(colour)]])
            assert np.abs(img[i, py, px] - want).max() <= shapes.COLOR_JITTER + 1, i
        if caps[i]:
            first = shapes.caption(shapes.SHAPES[int(two.shape[i])], shapes.COLOR_NAMES[int(two.color[i])])
            second = shapes.caption(shapes.SHAPES[int(two.second.shape[i])],
                                    shapes.COLOR_NAMES[int(two.second.color[i])])
            kind = int(two.second.named[i])
            named[kind] += 1
            assert caps[i].startswith({0: f"{first} and {second}", 1: first, 2: second}[kind])
    assert all(named.values())  # both named, and each one alone (what AND prompts compose)


def test_training_can_fine_tune_the_demo_model_on_two_shape_scenes(tmp_path):
    from editor.engine.models import demo_model_path

    out = tmp_path / "tuned"
    args = ["--device", "cpu", "--out", str(out), "--unet-steps", "2", "--unet-batch", "2", "--size", "64",
            "--init", str(demo_model_path()), "--two-shapes", "0.5"]
    assert train_main(args) == 0
    info = json.loads((out / "training_info.json").read_text())
    assert info["vae_steps"] == 0 and info["two_shapes"] == 0.5 and "--init" in info["repeat_with"]
    shipped = demo_model_path() / "vae" / "diffusion_pytorch_model.safetensors"
    from safetensors.torch import load_file

    kept = load_file(str(out / "vae" / "diffusion_pytorch_model.safetensors"))
    for name, value in load_file(str(shipped)).items():
        assert torch.equal(kept[name].to(value.dtype), value), name  # the VAE is kept as it was


def test_latent_reuse_trains_several_steps_on_one_encoded_batch(tmp_path, monkeypatch):
    from diffusers import AutoencoderKL

    from editor.engine.models import demo_model_path

    encoded = []
    original = AutoencoderKL.encode

    def counting_encode(self, x, *a, **kw):
        encoded.append(x.shape[0])
        return original(self, x, *a, **kw)

    monkeypatch.setattr(AutoencoderKL, "encode", counting_encode)
    out = tmp_path / "reuse"
    args = ["--device", "cpu", "--out", str(out), "--unet-steps", "3", "--unet-batch", "2", "--size", "64",
            "--init", str(demo_model_path()), "--latent-reuse", "2"]
    assert train_main(args) == 0
    assert encoded == [2, 2]  # steps 0 and 1 share a batch, step 2 encodes the next one
    info = json.loads((out / "training_info.json").read_text())
    assert info["latent_reuse"] == 2 and "--latent-reuse 2" in info["repeat_with"]
    with pytest.raises(SystemExit, match="--latent-reuse"):
        train_main(["--device", "cpu", "--out", str(tmp_path / "bad"), "--latent-reuse", "0"])


def test_two_shape_scenes_can_all_name_one_shape():
    scenes = shapes.sample_scenes(64, torch.Generator().manual_seed(3), p_two=1.0, p_names_one=1.0)
    assert bool((scenes.second.named > 0).all())  # never "a red circle and a blue square"
    caps = shapes.captions(scenes)
    assert not any(" and a" in c.split(" on ")[0] for c in caps)


def test_fine_tune_can_keep_the_text_encoder_frozen(tmp_path):
    from safetensors.torch import load_file

    from editor.engine.models import demo_model_path

    out = tmp_path / "unet_only"
    args = ["--device", "cpu", "--out", str(out), "--unet-steps", "2", "--unet-batch", "2", "--size", "64",
            "--init", str(demo_model_path()), "--two-shapes", "1.0", "--two-names-one", "1.0",
            "--freeze-text-encoder", "--unet-lr", "1e-2"]
    assert train_main(args) == 0
    info = json.loads((out / "training_info.json").read_text())
    assert info["freeze_text_encoder"] and "--freeze-text-encoder" in info["repeat_with"]
    assert info["two_names_one"] == 1.0 and "--two-names-one 1.0" in info["repeat_with"]
    name = "model.safetensors"
    kept = load_file(str(out / "text_encoder" / name))
    for key, value in load_file(str(demo_model_path() / "text_encoder" / name)).items():
        assert torch.equal(kept[key].to(value.dtype), value), key
    unet = "diffusion_pytorch_model.safetensors"
    tuned = load_file(str(out / "unet" / unet))
    shipped = load_file(str(demo_model_path() / "unet" / unet))
    assert any(not torch.equal(tuned[k].to(v.dtype), v) for k, v in shipped.items())  # the UNet did train


def test_term_captions_name_each_shape_of_a_two_shape_scene_alone():
    scenes = shapes.sample_scenes(32, torch.Generator().manual_seed(4), p_two=1.0)
    first, second = shapes.term_captions(scenes)
    for i in range(32):
        if scenes.caption_kind[i] == 2:
            assert first[i] == second[i] == ""
            continue
        c1, c2 = (shapes.COLOR_NAMES[int(c[i])] for c in (scenes.color, scenes.second.color))
        s1, s2 = (shapes.SHAPES[int(s[i])] for s in (scenes.shape, scenes.second.shape))
        assert first[i].startswith(f"{shapes.article(c1)} {c1} {s1}") and f" {c2} {s2}" not in first[i]
        assert second[i].startswith(f"{shapes.article(c2)} {c2} {s2}") and f" {c1} {s1}" not in second[i]


def test_composed_loss_trains_the_sum_of_the_two_terms(tmp_path):
    from transformers import CLIPTokenizer

    from editor.engine.demo.train import _caption_ids, _predict

    tok = CLIPTokenizer.from_pretrained(str(tokenizer.write_tokenizer(tmp_path)))
    scenes = shapes.sample_scenes(12, torch.Generator().manual_seed(2), p_two=0.5)
    ids, composed = _caption_ids(tok, scenes, 1.0, torch.Generator().manual_seed(0), "cpu")
    want = scenes.second.two & (scenes.caption_kind != 2)
    assert composed.tolist() == want.nonzero().flatten().tolist() and len(composed) > 0
    assert ids.shape[0] == 12 + 2 * len(composed)
    first, second = shapes.term_captions(scenes)
    k = len(composed)

    def tokens(texts):
        return tok(texts, padding="max_length", max_length=ids.shape[1], return_tensors="pt").input_ids

    rows = composed.tolist()
    assert torch.equal(ids[rows], tokens([first[i] for i in rows]))
    assert torch.equal(ids[12:12 + k], tokens([second[i] for i in rows]))
    assert torch.equal(ids[12 + k:], tokens([""] * k))

    class Unet:  # a prediction that reads the caption row, to check what _predict adds up
        def __call__(self, x, t, cond):
            return type("Out", (), {"sample": x + cond.sum((1, 2)).view(-1, 1, 1, 1)})()

    x = torch.randn(12, 4, 2, 2)
    t = torch.arange(12)
    cond = torch.randn(ids.shape[0], 3, 5)
    pred = _predict(Unet(), x, t, cond, composed)
    c = cond.sum((1, 2))
    for j, i in enumerate(composed.tolist()):
        assert torch.allclose(pred[i], x[i] + c[i] + c[12 + j] - c[12 + k + j])
    plain = [i for i in range(12) if i not in composed.tolist()]
    assert torch.allclose(pred[plain], x[plain] + c[plain].view(-1, 1, 1, 1))


def test_training_option_composed_loss_is_recorded(tmp_path):
    from editor.engine.models import demo_model_path

    out = tmp_path / "composed"
    args = ["--device", "cpu", "--out", str(out), "--unet-steps", "2", "--unet-batch", "4", "--size", "64",
            "--init", str(demo_model_path()), "--two-shapes", "1.0", "--composed-loss", "1.0"]
    assert train_main(args) == 0
    info = json.loads((out / "training_info.json").read_text())
    assert info["composed_loss"] == 1.0 and "--composed-loss 1.0" in info["repeat_with"]
    with pytest.raises(SystemExit, match="--composed-loss is a share between 0 and 1, got 1.5"):
        train_main(["--device", "cpu", "--out", str(tmp_path / "bad"), "--composed-loss", "1.5"])
