"""Typed generation requests: checked on construction, frozen, and each mapped to its engine
function by editor.engine.generation (no function is named by a string anywhere)."""
from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from editor.engine import generation
from editor.engine import requests as rq
from editor.engine.errors import BadRequest


def _example(cls):
    img3 = np.zeros((16, 16, 3), np.uint8)
    img4 = np.zeros((16, 16, 4), np.uint8)
    return {
        rq.GenerateRequest: dict(prompt="a cat", width=64, height=32),
        rq.VaryRequest: dict(image=img3, prompt="a cat", strength=0.4),
        rq.RgbaRequest: dict(prompt="a cat", width=64, height=64, weights="/w", quality="quality"),
        rq.MatteRequest: dict(prompt="a cat", width=64, height=64),
        rq.JointRequest: dict(prompt_fg="a cat", prompt_bg="a room", prompt_blend="a cat, a room"),
        rq.BackgroundRequest: dict(fg_rgba=img4, prompt="a room"),
        rq.ForegroundRequest: dict(bg_rgb=img3, prompt="a cat"),
        rq.AcceleratorQuery: {},
    }[cls]


@pytest.mark.parametrize("cls", rq.GENERATION_REQUESTS, ids=lambda c: c.__name__)
def test_requests_are_frozen(cls):
    req = cls(**_example(cls), seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.seed = 4


@pytest.mark.parametrize("bad, word", [
    (dict(steps=0), "steps"), (dict(guidance=-1.0), "guidance"), (dict(seed=-2), "seed"),
    (dict(width=60), "multiples of 8"), (dict(height=4), "height"), (dict(prompt=None), "prompt"),
])
def test_generate_request_checks_its_values(bad, word):
    with pytest.raises(BadRequest, match=word):
        rq.GenerateRequest(**{**_example(rq.GenerateRequest), **bad})


def test_other_requests_check_their_values():
    with pytest.raises(BadRequest, match="quality"):
        rq.RgbaRequest(prompt="x", width=64, height=64, quality="best")
    with pytest.raises(BadRequest, match="xl_patch"):
        rq.RgbaRequest(prompt="x", width=64, height=64, xl_patch="lora")
    with pytest.raises(BadRequest, match="strength"):
        rq.VaryRequest(image=np.zeros((8, 8, 3), np.uint8), prompt="x", strength=0.0)
    with pytest.raises(BadRequest, match="fg_rgba"):
        rq.BackgroundRequest(fg_rgba=np.zeros((8, 8, 3), np.uint8), prompt="x")
    with pytest.raises(BadRequest, match="bg_rgb"):
        rq.ForegroundRequest(bg_rgb=np.zeros((8, 8), np.float32), prompt="x")


def test_every_request_reaches_its_engine_function(monkeypatch):
    """run_request calls the function the request stands for, with the request's values."""
    import editor.engine.base as base
    import editor.engine.models as models
    import editor.engine.rgba as rgba

    calls = []

    def fake(name):
        def fn(*args, **kwargs):
            calls.append((name, args, kwargs))
            return name
        return fn

    for mod, name in [(base, "generate_image"), (base, "vary_image"), (models, "accelerator_info")] + [
            (rgba, n) for n in ("generate_rgba", "generate_matte", "generate_joint", "generate_background",
                                "generate_foreground")]:
        monkeypatch.setattr(mod, name, fake(name))
    expected = {rq.GenerateRequest: "generate_image", rq.VaryRequest: "vary_image",
                rq.RgbaRequest: "generate_rgba", rq.MatteRequest: "generate_matte",
                rq.JointRequest: "generate_joint", rq.BackgroundRequest: "generate_background",
                rq.ForegroundRequest: "generate_foreground", rq.AcceleratorQuery: "accelerator_info"}
    assert set(expected) == set(rq.GENERATION_REQUESTS)
    import editor.engine.lora as lora

    merged = []
    monkeypatch.setattr(lora, "apply_loras", lambda model, loras: merged.append(tuple(loras)))
    model = object()
    for cls, name in expected.items():
        assert generation.run_request(model, cls(**_example(cls), seed=7)) == name
    # every job that runs a model merges exactly its LoRA set first (none: the model's own weights)
    assert merged == [()] * (len(expected) - 1)
    by_name = {c[0]: c for c in calls}
    _, args, kw = by_name["generate_image"]
    assert args == (model, "a cat", 64, 32) and kw["seed"] == 7 and kw["steps"] == 20
    _, args, kw = by_name["generate_rgba"]
    assert kw["weights"] == "/w" and kw["quality"] == "quality" and "xl_patch" not in kw
    assert by_name["accelerator_info"][1] == ()  # no model for a query that needs none
    with pytest.raises(BadRequest, match="not a generation request"):
        generation.run_request(model, object())


def test_requests_module_does_not_import_torch():
    import subprocess
    out = subprocess.run([sys.executable, "-c", "import editor.engine.requests, editor.engine.generation, sys;"
                          "print('torch' in sys.modules)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
