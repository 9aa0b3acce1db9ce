"""Fixtures for the AI GUI tests: the real MainWindow on a tiny random model (no download)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from editor.core.document import Document
from editor.core.layers import RasterLayer
from editor.engine.testing import tiny_folder

SIZE = 128


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return tiny_folder(tmp_path_factory, "sd15")


@pytest.fixture(scope="session")
def tiny_model(tiny_dir):
    """Loaded once and handed to every window's engine (saves a load per test)."""
    import torch

    from editor.engine.models import load_model

    # One intra-op thread: on a shared 2-core machine torch's thread pool spins against
    # the other processes and a tiny render goes from ~0.2 s to several seconds.
    torch.set_num_threads(1)

    return load_model(tiny_dir, device="cpu")


@pytest.fixture
def config_dir(tmp_path, monkeypatch, tiny_dir):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "ai.json").write_text(json.dumps({"model": str(tiny_dir), "device": "cpu",
                                                "first_run_hint_shown": True}))
    monkeypatch.setenv("LAYERBRUSH_CONFIG_DIR", str(folder))
    return folder


def pattern_document(size: int = SIZE) -> Document:
    """A background with a colour gradient (so sources differ by position) and an empty layer."""
    doc = Document(size, size)
    y, x = np.mgrid[0:size, 0:size]
    bg = np.empty((size, size, 4), np.uint8)
    bg[..., 0] = (x * 255 // (size - 1)).astype(np.uint8)
    bg[..., 1] = (y * 255 // (size - 1)).astype(np.uint8)
    bg[..., 2] = 128
    bg[..., 3] = 255
    doc.root._insert(0, RasterLayer("Background", bg))
    paint = RasterLayer("Paint", np.zeros((size, size, 4), np.uint8))
    doc.root._insert(1, paint)
    doc.active_layer = paint
    return doc


class CountingEngine:
    """Wraps the real BrushEngine: counts renders, can be told to fail."""

    def __init__(self, model):
        from editor.engine.brush import BrushEngine

        self.inner = BrushEngine(model, trajectory_steps=4)
        self.fail_with: Exception | None = None

    def render(self, request, progress=None, cancel=None):
        if self.fail_with is not None:
            raise self.fail_with
        return self.inner.render(request, progress=progress, cancel=cancel)

    def render_joint(self, request, progress=None, cancel=None):
        if self.fail_with is not None:
            raise self.fail_with
        return self.inner.render_joint(request, progress=progress, cancel=cancel)


@pytest.fixture
def ai_window(qtbot, dialogs, config_dir, tiny_model):
    from editor.ui.main_window import MainWindow

    win = MainWindow(pattern_document(), dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win)
    win.resize(900, 700)
    win.show()
    qtbot.waitExposed(win)
    win.canvas.actual_size()
    engine = win.ai.controller.engine
    engine.brush_factory = CountingEngine
    engine.model = tiny_model  # no job has run yet: safe to set from the GUI thread
    win.ai.controller.profile = tiny_model.profile
    yield win
    win.session.mark_saved()
    win.close()


@pytest.fixture
def painted_subject(monkeypatch):
    """The tiny random model paints noise, which the matte fallback rightly refuses (nothing to
    cut out). Tests of the panel's plumbing (placement, undo, variations) get a picture with a
    subject instead: the real generation runs (steps, progress, cancel), then its pixels are
    replaced by a disc on a flat background whose colour and place follow the seed."""
    import cv2

    import editor.engine.base as base

    real = base.generate_image

    def generate_image(model, prompt, width, height, *, seed=0, **kwargs):
        out = real(model, prompt, width, height, seed=seed, **kwargs)
        rng = np.random.default_rng(seed)
        picture = np.full((height, width, 3), 240, np.uint8)
        centre = (int(width * rng.uniform(0.35, 0.65)), int(height * rng.uniform(0.35, 0.65)))
        colour = tuple(int(c) for c in rng.integers(0, 160, 3))
        cv2.circle(picture, centre, max(2, min(width, height) // 4), colour, -1, cv2.LINE_AA)
        out[..., :3] = picture
        return out

    monkeypatch.setattr(base, "generate_image", generate_image)
