"""The matte fallback on the shipped demo model: a background it can paint, never an empty layer."""

from __future__ import annotations

import numpy as np
from demo_classify import nearest_color

from editor.engine.demo.shapes import COLOR_NAMES
from editor.engine.rgba import generate_matte
from editor.engine.rgba.matte import visible_share


def _visible_colour(rgba: np.ndarray) -> str:
    visible = rgba[..., 3] >= 128
    votes = np.bincount(nearest_color(rgba[..., :3][visible]), minlength=len(COLOR_NAMES))
    return COLOR_NAMES[int(votes.argmax())]


def test_demo_matte_fallback_cuts_out_the_prompted_shape(demo_model):
    # 512 px as in the README example: the demo paints at its native 256 px and the cut-out is
    # scaled (its settings say so); the background words are its own ("on a white background").
    for prompt, colour, seed in (("a red star", "red", 0), ("a blue circle", "blue", 1), ("a white square", "white", 2)):
        rgba = generate_matte(demo_model, prompt, 512, 512, seed=seed, steps=20)
        assert rgba.shape == (512, 512, 4)
        share = visible_share(rgba)
        assert 0.02 < share < 0.6, (prompt, share)
        assert _visible_colour(rgba) == colour, prompt
        assert rgba[:8, :8, 3].max() == 0  # the corner is background: transparent


def test_readme_generate_example_gives_visible_alpha(tmp_path, monkeypatch, capsys):
    # The demo model has its own transparency weights, so the README line generates natively
    # (it used to need --matte-fallback, which wrote a PNG with alpha 0 everywhere).
    from editor.__main__ import main
    from editor.io.raster import load_image

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAYERBRUSH_LAYERDIFFUSE_DIR", str(tmp_path / "no-weights"))
    # the README line, plus --device cpu so the test is the same on every machine
    assert main(["generate", "a red star", "-o", "star.png", "--model", "demo", "--device", "cpu"]) == 0
    assert "matte fallback" not in capsys.readouterr().out
    rgba = load_image(tmp_path / "star.png")
    assert rgba.shape == (512, 512, 4)
    assert 0.02 < visible_share(rgba) < 0.6
    assert _visible_colour(rgba) == "red"
