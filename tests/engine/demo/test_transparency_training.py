"""The demo's transparency training data and script (a tiny run on the CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from editor.engine.demo import transparent_assets as ta
from editor.engine.rgba import demo_weights as dw
from editor.engine.rgba.loader import load_module_strict


def test_assets_are_seeded_soft_and_varied():
    a = ta.render_rgba(ta.sample_assets(64, torch.Generator().manual_seed(3)), 128)
    b = ta.render_rgba(ta.sample_assets(64, torch.Generator().manual_seed(3)), 128)
    assert torch.equal(a, b)  # same seed, same pixels
    assets = ta.sample_assets(64, torch.Generator().manual_seed(3))
    alpha = a[:, 3]
    assert a.shape == (64, 4, 128, 128) and a.min() >= 0 and a.max() <= 1
    assert (alpha[:, :2, :] == 0).float().mean() > 0.9  # the background is transparent
    soft = ((alpha > 0.05) & (alpha < 0.95)).flatten(1).float().mean(1)
    assert (soft > 0).all()  # every asset has soft edges
    kinds = [ta.KINDS[int(k)] for k in assets.kind]
    assert set(kinds) == set(ta.KINDS)
    for i, kind in enumerate(kinds):
        peak = float(alpha[i].max())
        if kind == "glass":
            assert 0.3 <= peak <= 0.8 + 1e-6
        elif kind == "opaque":
            assert peak == 1.0
    caps = ta.captions(assets)
    assert any(c.startswith("a glass ") for c in caps) and "" in caps
    # premultiplied over the black backdrop, padded colours only where something is visible nearby
    flat = ta.over_backdrop(a[:2])
    assert torch.allclose(flat, a[:2, :3] * a[:2, 3:4])
    assert ta.encoder_input(a[:2]).shape == (2, 4, 128, 128)


def test_tiny_training_run_writes_weights_the_strict_loaders_accept(tmp_path):
    from editor.engine.demo.train_transparency import main

    out = tmp_path / "w"
    assert main(["--ae-steps", "2", "--lora-steps", "1", "--pool", "2", "--ae-batch", "2",
                 "--lora-batch", "2", "--out", str(out)]) == 0
    info = json.loads((out / "training_info.json").read_text())
    assert info["stage"] == "done" and info["ae_steps"] == 2 and info["lora_steps"] == 1
    assert info["command"].startswith("python -m editor.engine.demo.train_transparency")
    lw = dw.demo_layer_weights(out)
    config = dw.DemoLayerConfig.read(out)
    load_module_strict(dw.build_decoder(config), lw.files["decoder"], "decoder")
    load_module_strict(dw.build_encoder(config), lw.files["encoder"], "encoder")
    assert config.backdrop == ta.DEMO_BACKDROP


def test_init_keeps_the_networks_and_continues_the_lora(tmp_path):
    """After the demo UNet is retrained, --init keeps a run's encoder and decoder (no stage 1)
    and starts the LoRA from that run's (at rate 0 it must come out unchanged)."""
    from safetensors.torch import load_file

    from editor.engine.demo.train_transparency import main

    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["--ae-steps", "2", "--lora-steps", "2", "--pool", "2", "--ae-batch", "2",
                 "--lora-batch", "2", "--out", str(first)]) == 0
    assert main(["--init", str(first), "--lora-steps", "1", "--lora-lr", "0", "--pool", "2",
                 "--lora-batch", "2", "--seed", "1", "--out", str(second)]) == 0
    info = json.loads((second / "training_info.json").read_text())
    assert info["stage"] == "done" and info["ae_steps"] == 0 and info["init"] == str(first)
    for name in (dw.ENCODER_FILE, dw.DECODER_FILE, dw.ATTN_FILE):
        a, b = load_file(str(first / name)), load_file(str(second / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    trained = load_file(str(first / dw.ATTN_FILE))
    assert any(t.abs().sum() > 0 for k, t in trained.items() if k.endswith("::0"))  # not the zero start


def test_init_refuses_a_folder_without_transparency_weights(tmp_path):
    from editor.engine.demo.train_transparency import main

    with pytest.raises(SystemExit, match="not a demo transparency folder"):
        main(["--init", str(tmp_path), "--lora-steps", "1", "--out", str(tmp_path / "out")])


def test_teacher_distils_its_own_lora(tmp_path):
    """--teacher targets what the teacher's UNet with the teacher's own transparency LoRA predicts
    (for empty captions too): a teacher equal to the student gives loss 0 at once; a teacher with
    another LoRA, or with one UNet weight changed, does not."""
    import shutil

    from safetensors.torch import load_file, save_file

    from editor.engine.demo.train_transparency import main
    from editor.engine.models import demo_model_path

    first = tmp_path / "first"
    assert main(["--ae-steps", "1", "--lora-steps", "3", "--lora-lr", "1e-2", "--pool", "2", "--ae-batch", "2",
                 "--lora-batch", "2", "--out", str(first)]) == 0
    same, changed = tmp_path / "same", tmp_path / "changed"
    shutil.copytree(demo_model_path(), same, ignore=shutil.ignore_patterns(dw.FOLDER))
    shutil.copytree(first, same / dw.FOLDER)
    shutil.copytree(same, changed)
    f = changed / "unet" / "diffusion_pytorch_model.safetensors"
    sd = load_file(str(f))
    sd["conv_out.bias"] = sd["conv_out.bias"] + 0.5
    save_file(sd, str(f))
    losses = {}
    for teacher in (same, changed, demo_model_path()):
        out = tmp_path / f"out_{len(losses)}"
        assert main(["--init", str(first), "--teacher", str(teacher), "--teacher-uncond", "0.5",
                     "--teacher-states", "2", "--lora-steps", "2", "--lora-lr", "0", "--pool", "2",
                     "--lora-batch", "2", "--out", str(out)]) == 0
        info = json.loads((out / "training_info.json").read_text())
        assert info["teacher"] == str(teacher)
        losses[teacher] = info["lora_final_loss"]
    assert losses[same] < 1e-10  # equal up to float summation order
    assert 0.2 < losses[changed] < 0.3  # 0.5 more on every predicted value
    assert losses[demo_model_path()] > 1e-4  # the shipped LoRA, not --init's


def test_teacher_needs_init_and_transparency_weights(tmp_path):
    from editor.engine.demo.train_transparency import main

    with pytest.raises(SystemExit, match="--teacher needs --init"):
        main(["--teacher", str(tmp_path), "--lora-steps", "1", "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="no transparency weights"):
        main(["--init", str(_shipped()), "--teacher", str(tmp_path), "--lora-steps", "1",
              "--out", str(tmp_path / "out")])


def _shipped():
    from editor.engine.models import demo_model_path

    return demo_model_path() / dw.FOLDER


def test_init_can_widen_the_lora_without_changing_what_it_does(tmp_path):
    """--rank above --init's: the old ranks are kept and the new ones start at up = 0, so at
    rate 0 the wider LoRA adds exactly what the narrow one did; a lower rank is refused."""
    from safetensors.torch import load_file

    from editor.engine.demo.train_transparency import main

    first, wide = tmp_path / "first", tmp_path / "wide"
    assert main(["--ae-steps", "1", "--lora-steps", "2", "--lora-lr", "1e-2", "--rank", "4", "--pool", "2",
                 "--ae-batch", "2", "--lora-batch", "2", "--out", str(first)]) == 0
    assert main(["--init", str(first), "--rank", "6", "--lora-steps", "1", "--lora-lr", "0", "--pool", "2",
                 "--lora-batch", "2", "--out", str(wide)]) == 0
    assert dw.DemoLayerConfig.read(wide).lora_rank == 6
    a, b = load_file(str(first / dw.ATTN_FILE)), load_file(str(wide / dw.ATTN_FILE))
    assert a.keys() == b.keys()
    for k in a:
        if k.endswith("::0"):  # up: out x rank
            assert b[k].shape[1] == 6 and torch.equal(b[k][:, :4], a[k]) and not b[k][:, 4:].any()
            assert torch.allclose(b[k].float() @ b[k[:-1] + "1"].float(), a[k].float() @ a[k[:-1] + "1"].float(),
                                  rtol=1e-6, atol=1e-7)
    with pytest.raises(SystemExit, match="--rank 2: lower than"):
        main(["--init", str(first), "--rank", "2", "--lora-steps", "1", "--out", str(tmp_path / "narrow")])


def test_sampled_states_follow_generation_s_sampler(demo_model):
    """The states --teacher-states distils on are generation's own: its sampler's timesteps and
    defaults, one state per step and caption, one guided call per step."""
    from editor.engine.demo.train_transparency import STATE_GUIDANCE, STATE_STEPS, sampled_states
    from editor.engine.rgba.pipeline import generation_scheduler

    pipe = demo_model.pipe
    ids = pipe.tokenizer(["a red star", "a blue circle", ""], padding="max_length",
                         max_length=pipe.tokenizer.model_max_length, return_tensors="pt").input_ids
    with torch.no_grad():
        emb = pipe.text_encoder(ids)[0]
    calls = []
    hook = pipe.unet.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    try:  # the model is shared by the session's tests
        x, t, rows = sampled_states([pipe.unet], (1, 4, 8, 8), emb[:2], emb[2], pipe.scheduler.config,
                                    STATE_STEPS, STATE_GUIDANCE, torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    sched = generation_scheduler(pipe.scheduler.config)
    sched.set_timesteps(STATE_STEPS)
    assert x.shape == (2 * STATE_STEPS, 4, 8, 8) and rows.tolist() == [0] * STATE_STEPS + [1] * STATE_STEPS
    assert t[:STATE_STEPS].tolist() == [int(v) for v in sched.timesteps]
    assert calls == [2] * (2 * STATE_STEPS)  # one guided call (uncond + cond) per step
    assert x[STATE_STEPS - 1].std() < x[0].std()  # the noise is being removed
