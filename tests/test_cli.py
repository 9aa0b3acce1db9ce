"""The command line: --version, headless render, export-layers, generate, GUI dispatch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from editor import api
from editor.__main__ import main
from editor.engine.testing import tiny_model_dir  # noqa: F401  (fixture)
from editor.io.raster import load_image

LAYERBRUSH = Path(sys.executable).with_name("layerbrush")


def run(*args, env_extra=None, module=True):
    """Run the CLI in a fresh process with no display at all."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "editor", *args] if module else [str(LAYERBRUSH), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _project(tmp_path, with_brush=False) -> Path:
    doc = api.new_document(64, 64)
    y, x = np.mgrid[0:64, 0:64]
    base = np.zeros((64, 64, 4), np.uint8)
    base[..., 0], base[..., 1], base[..., 2], base[..., 3] = x * 4, y * 4, 90, 255
    doc.add_raster_layer("photo", base)
    g = doc.add_group("g")
    g.add_raster_layer("dot", np.full((8, 8, 4), 255, np.uint8), offset=(4, 4), blend_mode="difference")
    if with_brush:
        region = np.zeros((64, 64), np.uint8)
        region[20:44, 20:44] = 255
        doc.add_brush_layer(region, "a blue square", seed=2, steps=2)
    path = tmp_path / "p.ora"
    doc.save(path)
    return path


def test_version_module_and_script_agree():
    a = run("--version")
    assert a.returncode == 0 and a.stdout.startswith("layerbrush ")
    if LAYERBRUSH.exists():
        b = run("--version", module=False)
        assert b.returncode == 0 and b.stdout == a.stdout


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for name in ("render", "export-layers", "generate"):
        assert name in out.stdout


def test_render_headless_matches_api(tmp_path):
    project = _project(tmp_path)
    out = tmp_path / "out.png"
    code = ("import sys; from editor.__main__ import main; rc = main(sys.argv[1:]); "
            "print('LOADED', 'PySide6' in sys.modules, 'torch' in sys.modules); sys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-c", code, "render", str(project), "-o", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "LOADED False False" in res.stdout  # no Qt, no torch for a plain render
    assert np.array_equal(load_image(out), api.open_document(project).render())


def test_render_to_other_formats(tmp_path):
    project = _project(tmp_path)
    for ext in (".jpg", ".webp", ".tif"):
        res = run("render", str(project), "-o", str(tmp_path / f"o{ext}"))
        assert res.returncode == 0, res.stderr
        assert load_image(tmp_path / f"o{ext}").shape == (64, 64, 4)


def test_render_bad_input_fails_cleanly(tmp_path):
    bad = tmp_path / "broken.ora"
    bad.write_bytes(b"PK\x03\x04 nope")
    res = run("render", str(bad), "-o", str(tmp_path / "o.png"))
    assert res.returncode == 1 and "broken.ora" in res.stderr and "Traceback" not in res.stderr
    res = run("render", str(_project(tmp_path)), "-o", str(tmp_path / "o.bmp"))
    assert res.returncode == 1 and ".bmp" in res.stderr
    res = run("render", str(_project(tmp_path)))
    assert res.returncode == 2 and "-o" in res.stderr


def test_export_layers_command(tmp_path):
    res = run("export-layers", str(_project(tmp_path)), "-o", str(tmp_path / "layers"))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "layers").iterdir()) == ["000_photo.png", "001_dot.png"]


def test_render_stale_brush_without_model_warns(tmp_path):
    res = run("render", str(_project(tmp_path, with_brush=True)), "-o", str(tmp_path / "o.png"))
    assert res.returncode == 0 and "stale" in res.stderr and "--model" in res.stderr


@pytest.mark.slow
def test_render_with_model_rerenders_stale_layers(tmp_path, tiny_model_dir):
    project = _project(tmp_path, with_brush=True)
    plain = tmp_path / "plain.png"
    assert main(["render", str(project), "-o", str(plain)]) == 0
    edited = tmp_path / "edited.png"
    assert main(["render", str(project), "-o", str(edited), "--model", str(tiny_model_dir),
                 "--device", "cpu"]) == 0
    a, b = load_image(plain), load_image(edited)
    assert np.array_equal(a[:10, :10], b[:10, :10])  # outside the region: untouched
    assert not np.array_equal(a[28:36, 28:36], b[28:36, 28:36])  # inside: the edit


@pytest.mark.slow
def test_generate_command(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("LAYERBRUSH_LAYERDIFFUSE_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = tmp_path / "asset.png"
    args = ["generate", "a lamp", "-o", str(out), "--model", str(tiny_model_dir), "--size", "64x64",
            "--seed", "4", "--steps", "2", "--device", "cpu"]
    assert main(args) == 1  # no LayerDiffuse weights: a clear message, no traceback
    assert "LayerDiffuse" in capsys.readouterr().err
    # The tiny random model paints noise: the fallback's cut-out keeps nothing and says so
    # (it used to write a PNG with alpha 0 everywhere).
    assert main(args + ["--matte-fallback"]) == 1
    assert "kept almost nothing" in capsys.readouterr().err and not out.exists()
    # With a subject on a plain background (painted in place of the noise) a PNG is written.
    import cv2

    import editor.engine.base as base

    real = base.generate_image

    def with_subject(*a, **k):
        img = real(*a, **k)
        img[..., :3] = 240
        cv2.circle(img, (32, 32), 14, (200, 30, 30, 255), -1)
        return img

    monkeypatch.setattr(base, "generate_image", with_subject)
    assert main(args + ["--matte-fallback"]) == 0
    rgba = load_image(out)
    assert rgba.shape == (64, 64, 4)
    assert rgba[32, 32, 3] == 255 and rgba[2, 2, 3] == 0
    assert main(["generate", "x", "-o", str(out), "--model", str(tiny_model_dir), "--size", "big"]) == 1
    assert "--size" in capsys.readouterr().err


def test_no_command_starts_the_gui(monkeypatch):
    import editor.ui.app as app

    seen = []
    monkeypatch.setattr(app, "run_gui", lambda argv: seen.append(argv) or 7)
    assert main(["picture.ora"]) == 7
    assert main([]) == 7
    assert seen == [["layerbrush", "picture.ora"], ["layerbrush"]]


def _mask_png(tmp_path, size=(64, 64), box=(16, 16, 40, 40)) -> Path:
    from editor.io.raster import save_image

    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[..., 3] = 255
    x0, y0, x1, y1 = box
    rgba[y0:y1, x0:x1, :3] = 255
    path = tmp_path / "mask.png"
    save_image(rgba, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("verb", ["fill", "remove", "vary"])
def test_verb_commands_add_the_same_layer_as_the_api(tmp_path, tiny_model_dir, verb):
    project, mask = _project(tmp_path), _mask_png(tmp_path)
    out = tmp_path / f"{verb}.ora"
    args = [verb, str(project), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu",
            "--seed", "3", "--steps", "2"]
    if verb != "vary":
        args += ["--mask", str(mask)]
    if verb == "fill":
        args += ["--prompt", "a door"]
    assert main(args) == 0
    got = api.open_document(out)
    layer = [l for l in got.walk() if l.kind == "brush"][0]
    assert layer.params.verb == verb and layer.state == "done"
    # the scripting API on the same file gives the same layer and the same pixels
    model = api.load_model(tiny_model_dir, "cpu")
    doc = api.open_document(project)
    region = np.zeros((64, 64), np.uint8)
    region[16:40, 16:40] = 255
    if verb == "fill":
        doc.add_fill_layer(region, "a door", seed=3, steps=2, model=model)
    elif verb == "remove":
        doc.add_remove_layer(region, seed=3, steps=2, model=model)
    else:
        doc.add_vary_layer(None, "", seed=3, steps=2, model=model)
    api.render_layers(doc, model)
    np.testing.assert_array_equal(got.render(), doc.render())


@pytest.mark.slow
def test_expand_command_grows_the_canvas(tmp_path, tiny_model_dir):
    out = tmp_path / "wide.png"
    assert main(["expand", str(_project(tmp_path)), "--right", "32", "--top", "8", "-o", str(out),
                 "--model", str(tiny_model_dir), "--device", "cpu"]) == 0
    picture = load_image(out)
    assert picture.shape[:2] == (72, 96) and picture[..., 3].min() == 255


def test_verb_command_refuses_a_mask_of_the_wrong_size(tmp_path, tiny_model_dir, capsys):
    mask = _mask_png(tmp_path, size=(32, 32), box=(0, 0, 8, 8))
    out = tmp_path / "o.ora"
    assert main(["remove", str(_project(tmp_path)), "--mask", str(mask), "-o", str(out),
                 "--model", str(tiny_model_dir), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "mask.png" in err and "32x32" in err and "64x64" in err
    assert not out.exists()


def test_lora_option_parses_file_and_weight():
    from editor.__main__ import parse_lora

    assert parse_lora("ink.safetensors") == ("ink.safetensors", 1.0)
    assert parse_lora("ink.safetensors:0.6") == ("ink.safetensors", 0.6)
    assert parse_lora(r"C:\loras\ink.safetensors") == (r"C:\loras\ink.safetensors", 1.0)
    assert parse_lora(r"C:\loras\ink.safetensors:-1") == (r"C:\loras\ink.safetensors", -1.0)


@pytest.mark.slow
def test_fill_command_with_a_lora_renders_as_the_api_and_saves_the_list(tmp_path, tiny_model_dir, capsys):
    import torch
    from safetensors.torch import save_file

    from editor.engine.lora import apply_loras

    model = api.load_model(tiny_model_dir, "cpu")
    gen = torch.Generator().manual_seed(0)
    sd = {}
    for name, module in model.pipe.unet.named_modules():
        if name.endswith(("attn1.to_q", "attn2.to_v")):
            sd[f"unet.{name}.lora_A.weight"] = torch.randn(4, module.weight.shape[1], generator=gen)
            sd[f"unet.{name}.lora_B.weight"] = torch.randn(module.weight.shape[0], 4, generator=gen)
    lora = tmp_path / "style.safetensors"
    save_file(sd, str(lora))
    project, mask = _project(tmp_path), _mask_png(tmp_path)
    out = tmp_path / "fill.ora"
    assert main(["fill", str(project), "--mask", str(mask), "--prompt", "a door", "--seed", "3", "--steps", "2",
                 "--lora", f"{lora}:0.5", "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu"]) == 0
    got = api.open_document(out)
    assert got.default_loras == ((str(lora), 0.5),)
    layer = [l for l in got.walk() if l.kind == "brush"][0]
    assert layer.params.loras == ((str(lora), 0.5),) and layer.state == "done"

    region = np.zeros((64, 64), np.uint8)
    region[16:40, 16:40] = 255
    try:
        doc = api.open_document(project)
        doc.default_loras = [(str(lora), 0.5)]
        doc.add_fill_layer(region, "a door", seed=3, steps=2, model=model)
        api.render_layers(doc, model)
        np.testing.assert_array_equal(got.render(), doc.render())
        plain = api.open_document(project)
        plain.add_fill_layer(region, "a door", seed=3, steps=2, model=model)
        api.render_layers(plain, model)
        assert not np.array_equal(plain.render(), doc.render())  # the LoRA took part
    finally:
        apply_loras(model, ())

    assert main(["fill", str(project), "--mask", str(mask), "--lora", str(tmp_path / "missing.safetensors"),
                 "-o", str(tmp_path / "x.ora"), "--model", str(tiny_model_dir), "--device", "cpu"]) == 1
    assert "missing.safetensors" in capsys.readouterr().err
