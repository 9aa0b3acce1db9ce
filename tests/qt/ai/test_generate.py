"""Generated layers, base images, variations and the model picker, through the real window."""
from __future__ import annotations

import json
import threading

import numpy as np
from ai_helpers import RENDER_TIMEOUT, settle
from qt_helpers import drag

from editor.core.layers import GeneratedLayer, RasterLayer
from editor.ui.ai.config import AiConfig, load_config, save_config
from editor.worker import Job


def _panel(win, prompt="a small red ball", steps=2):
    panel = win.ai.show_generate_panel()
    panel.prompt.setText(prompt)
    panel.steps.setValue(steps)
    panel.guidance.setValue(0.0)
    return panel


def _idle(qtbot, panel):
    qtbot.waitUntil(lambda: panel.request is None, timeout=RENDER_TIMEOUT)


def test_generate_layer_in_a_box_with_matte_fallback_and_undo(qtbot, ai_window, painted_subject):
    win = ai_window
    doc = win.document
    panel = _panel(win)
    panel.draw_box.click()
    assert win.tools.active.id == "ai-gen-box"
    drag(win.canvas, [(20, 30), (80, 70)])
    assert (panel.box.x, panel.box.y, panel.box.w, panel.box.h) == (20, 30, 60, 40)
    n_layers = len(list(doc.walk()))
    panel.generate_button.click()
    assert panel.overlay.busy and panel.overlay.isVisible()
    _idle(qtbot, panel)
    # the tiny model has no LayerDiffuse weights: a clear message and the matte offer
    assert panel.fallback_frame.isVisible()
    assert "lower quality" in panel.fallback_button.text()
    assert "LayerDiffuse" in panel.fallback_text.text()
    assert "generate_matte" not in panel.fallback_text.text()  # words for users, not function names
    assert len(list(doc.walk())) == n_layers
    steps = len(doc.history.labels)
    panel.fallback_button.click()
    _idle(qtbot, panel)
    layer = doc.active_layer
    assert isinstance(layer, GeneratedLayer)
    assert layer.offset == (20, 30) and layer.pixels.shape == (40, 60, 4)
    assert layer.params.mode == "matte" and layer.params.box == (20, 30, 60, 40)
    assert layer.params.prompt == "a small red ball" and layer.state == "done"
    assert len(doc.history.labels) == steps + 1
    assert not panel.overlay.busy
    win.actions["undo"].trigger()
    assert layer not in doc


def test_an_empty_matte_cutout_is_refused_with_a_clear_message(qtbot, ai_window):
    # The tiny random model paints noise: the cut-out keeps nothing, and the panel says so
    # instead of adding an empty layer and reporting "Done".
    win = ai_window
    doc = win.document
    panel = _panel(win)
    n_layers, steps = len(list(doc.walk())), len(doc.history.labels)
    panel.generate("rgba", fallback=True)
    _idle(qtbot, panel)
    assert len(list(doc.walk())) == n_layers and len(doc.history.labels) == steps
    text = panel.status.text()
    assert text.startswith("The cut-out kept almost nothing") and "Nothing was added" in text
    assert "MatteFailed" not in text and "Done" not in text
    assert win.statusBar().currentMessage() == text


def test_cancel_generation_adds_nothing(qtbot, ai_window):
    win = ai_window
    doc = win.document
    panel = _panel(win, steps=40)
    panel.quality.setCurrentIndex(0)
    gate = threading.Event()
    # hold the engine thread so the generation is still waiting when we cancel
    win.worker.submit(Job(("test", "hold"), lambda p, c: gate.wait(10)))
    panel.generate_button.click()
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    gate.set()
    _idle(qtbot, panel)
    assert panel.status.text() == "Cancelled"
    assert not any(isinstance(l, GeneratedLayer) for l in doc.walk())


def test_regenerate_and_pick_a_variation(qtbot, ai_window, painted_subject):
    win = ai_window
    doc = win.document
    panel = _panel(win)
    panel.set_box(None)
    panel.generate("rgba", fallback=True)
    _idle(qtbot, panel)
    layer = doc.active_layer
    assert isinstance(layer, GeneratedLayer) and layer.pixels.shape == (128, 128, 4)
    seed = layer.params.seed
    original = layer.pixels.copy()
    win.actions["ai-variations"].trigger()
    qtbot.waitUntil(lambda: panel.variation_dialog is not None and panel.variation_dialog.isVisible(),
                    timeout=RENDER_TIMEOUT)
    dlg = panel.variation_dialog
    assert len(dlg.buttons) == 4
    steps = len(doc.history.labels)
    dlg.buttons[2].click()
    assert layer.params.seed == seed + 3
    assert not np.array_equal(layer.pixels, original)
    assert len(doc.history.labels) == steps + 1
    win.actions["undo"].trigger()
    assert layer.params.seed == seed and np.array_equal(layer.pixels, original)
    # regenerate with the saved parameters gives the same pixels (reproducible)
    win.actions["ai-regenerate"].trigger()
    _idle(qtbot, panel)
    assert np.array_equal(layer.pixels, original)


def test_background_for_a_layer_falls_back_when_unavailable(qtbot, ai_window):
    win = ai_window
    doc = win.document
    fg = RasterLayer("Subject", np.zeros((64, 64, 4), np.uint8), offset=(32, 32))
    fg.pixels[16:48, 16:48] = (200, 30, 30, 255)
    doc.add_layer(fg)
    panel = _panel(win, "a beach")
    win.actions["ai-background"].trigger()
    _idle(qtbot, panel)
    assert panel.fallback_frame.isVisible()
    panel.fallback_button.click()
    _idle(qtbot, panel)
    parent = fg.parent
    below = parent.children[parent.children.index(fg) - 1]
    assert below.name.startswith("Background:") and below.offset == (32, 32)
    assert below.pixels.shape == (64, 64, 4)


def test_generate_base_image_as_a_layer(qtbot, ai_window):
    win = ai_window
    doc = win.document
    dlg = win.ai.open_generate_base()
    dlg.prompt.setText("a mountain lake")
    dlg.steps.setValue(2)
    dlg.guidance.setValue(0.0)
    native = win.ai.native_size()
    # the model's own size (in the document's proportions), and why
    assert native == 512 and (dlg.width_box.value(), dlg.height_box.value()) == (native, native)
    assert "works at 512 px" in dlg.size_note.text() and "scaled to the document's 128×128" in dlg.size_note.text()
    dlg.width_box.setValue(128)  # quicker on the CPU
    dlg.height_box.setValue(128)
    assert "scaled to the document" not in dlg.size_note.text()
    dlg.generate_button.click()
    qtbot.waitUntil(lambda: dlg.running is None, timeout=RENDER_TIMEOUT)
    layer = doc.active_layer
    assert type(layer) is RasterLayer and layer.name.startswith("Base:")
    assert layer.pixels.shape == (128, 128, 4) and (layer.pixels[..., 3] == 255).all()
    win.actions["undo"].trigger()
    assert layer not in doc


def test_model_picker_remembers_and_loads(qtbot, ai_window, config_dir, tiny_dir):
    win = ai_window
    picker = win.ai.open_model_picker()
    assert picker.custom_radio.isChecked() and picker.custom.text() == str(tiny_dir)
    assert "Demo (tiny, offline)" in picker.radios["demo"].text()
    picker.custom.setText(str(tiny_dir))
    assert picker.choose()
    loader = win.ai.load_dialog
    qtbot.waitUntil(lambda: loader.outcome is not None, timeout=RENDER_TIMEOUT)
    assert loader.outcome == "loaded"
    assert win.ai.controller.model_source == str(tiny_dir)
    assert json.loads((config_dir / "ai.json").read_text())["model"] == str(tiny_dir)


def test_model_load_can_be_cancelled(qtbot, ai_window):
    win = ai_window
    gate = threading.Event()
    win.worker.submit(Job(("test", "hold"), lambda p, c: gate.wait(10)))
    loader = win.ai.choose_model("owner/some-model")
    loader.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: loader.outcome is not None, timeout=10_000)
    assert loader.outcome == "cancelled"
    assert win.ai.controller.model_source == win.ai.config.effective_model  # back to the old one


def test_bad_model_shows_a_clear_error_and_goes_back(qtbot, ai_window, tmp_path, dialogs, tiny_dir, config_dir):
    win = ai_window
    missing = tmp_path / "nope"
    loader = win.ai.choose_model(str(missing))
    qtbot.waitUntil(lambda: loader.outcome is not None, timeout=10_000)
    assert loader.outcome == "failed"
    assert dialogs.errors and str(missing) in dialogs.errors[-1][1]
    assert win.ai.controller.model_source == str(tiny_dir)  # the previous model is back
    assert load_config(config_dir).model == str(tiny_dir)


def test_first_run_banner_is_shown_once(qtbot, dialogs, tmp_path, monkeypatch):
    from editor.ui.main_window import MainWindow

    folder = tmp_path / "cfg"
    monkeypatch.setenv("LAYERBRUSH_CONFIG_DIR", str(folder))
    win = MainWindow(dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win)
    banner = win.ai.first_run_banner
    assert banner is not None and "SD-Turbo" in banner.label.text()
    assert load_config(folder).first_run_hint_shown
    banner.close_button.click()
    win2 = MainWindow(dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win2)
    assert win2.ai.first_run_banner is None
    assert win2.ai.controller.model_source == "demo"
    for w in (win, win2):
        w.session.mark_saved()
        w.close()


def test_config_file_round_trip_and_damage(tmp_path):
    save_config(AiConfig(model="a/b", device="cpu", first_run_hint_shown=True), tmp_path)
    cfg = load_config(tmp_path)
    assert (cfg.model, cfg.device, cfg.first_run_hint_shown) == ("a/b", "cpu", True)
    (tmp_path / "ai.json").write_text("{not json")
    assert load_config(tmp_path) == AiConfig()
    (tmp_path / "ai.json").write_text('{"model": 3}')
    assert load_config(tmp_path) == AiConfig()


def test_foreground_for_the_picture_and_generate_together(qtbot, ai_window, painted_subject):
    win = ai_window
    doc = win.document
    panel = _panel(win, "a cat")
    panel.set_box(None)
    win.actions["ai-foreground"].trigger()
    _idle(qtbot, panel)
    assert panel.fallback_frame.isVisible()
    panel.fallback_button.click()
    _idle(qtbot, panel)
    fg = doc.active_layer
    assert isinstance(fg, GeneratedLayer) and fg.params.mode == "matte" and fg.pixels.shape == (128, 128, 4)

    panel.bg_prompt.setText("a garden")
    steps = len(doc.history.labels)
    win.actions["ai-joint"].trigger()
    _idle(qtbot, panel)
    assert panel.fallback_frame.isVisible()
    panel.fallback_button.click()
    _idle(qtbot, panel)
    assert doc.history.labels[steps:] == ["Generate together"]
    top = doc.active_layer
    assert isinstance(top, GeneratedLayer) and top.params.prompt == "a cat"
    parent = top.parent
    back = parent.children[parent.children.index(top) - 1]
    assert back.name.startswith("Background: a garden") and (back.pixels[..., 3] == 255).all()
    win.actions["undo"].trigger()
    assert top not in doc and back not in doc


def test_generate_base_image_as_a_new_document(qtbot, ai_window):
    win = ai_window
    old = win.document
    dlg = win.ai.open_generate_base()
    dlg.prompt.setText("a forest")
    dlg.steps.setValue(2)
    dlg.guidance.setValue(0.0)
    dlg.width_box.setValue(96)
    dlg.height_box.setValue(64)
    dlg.new_document.setChecked(True)
    dlg.generate_button.click()
    qtbot.waitUntil(lambda: dlg.running is None, timeout=RENDER_TIMEOUT)
    doc = win.document
    assert doc is not old and doc.size == (96, 64)
    assert [l.name for l in doc.layers] == ["Base: a forest"]
    assert win.ai.controller.document is doc  # the brush controller follows the new document


def test_compile_option_reaches_the_model_and_is_remembered(qtbot, ai_window, config_dir, tiny_dir, monkeypatch):
    from editor.engine import models

    asked = []
    original = models.DiffusionModel.set_compiled
    monkeypatch.setattr(models.DiffusionModel, "set_compiled",
                        lambda self, on: (asked.append(on), original(self, on))[1])
    # As on an NVIDIA machine (the option is offered only there).
    monkeypatch.setattr(models, "accelerator_info", lambda progress=None, cancel=None:
                        {"cuda": True, "cuda_name": "test GPU", "mps": False})
    win = ai_window
    picker = win.ai.open_model_picker()
    settle(qtbot, win)
    assert picker.compile_box.isEnabled() and not picker.compile_box.isChecked()
    picker.compile_box.setChecked(True)
    assert picker.choose()
    loader = win.ai.load_dialog
    qtbot.waitUntil(lambda: loader.outcome is not None, timeout=RENDER_TIMEOUT)
    assert loader.outcome == "loaded" and asked == [True]
    assert not win.ai.controller.engine.model.compiled  # CPU: compiling is for CUDA only
    assert load_config(config_dir).compile is True
    assert win.ai.open_model_picker().compile_box.isChecked()


def test_compile_is_not_offered_without_cuda(qtbot, ai_window, config_dir):
    """On a CPU-only machine (this one) the option is off and says why, even if an earlier
    setting asked for it."""
    win = ai_window
    win.ai.config.compile = True
    picker = win.ai.open_model_picker()
    assert not picker.compile_box.isEnabled()  # not offered before the engine has answered
    settle(qtbot, win)
    assert win.ai.accelerator["cuda"] is False
    assert not picker.compile_box.isEnabled() and not picker.compile_box.isChecked()
    assert "needs an NVIDIA GPU" in picker.compile_hint.text()
    again = win.ai.open_model_picker()  # the answer is kept: no second check
    assert not again.compile_box.isEnabled() and "needs an NVIDIA GPU" in again.compile_hint.text()


def test_new_image_and_generate_base_suggest_the_models_size(qtbot, ai_window, dialogs):
    """Not 1024x768 on a model that works at another size, and the dialogs say why."""
    win = ai_window
    win.actions["new"].trigger()
    width, height, note = dialogs.new_size_asked[-1]
    assert (width, height) == (512, 512) and "512×512 px is the size" in note
    assert win.document.size == (512, 512)
    dlg = win.ai.open_generate_base()
    dlg.width_box.setValue(3000)
    assert "may come out repeated or broken" in dlg.size_note.text()
    dlg.close()
    model, win.ai.controller.engine.model = win.ai.controller.engine.model, None  # as before it has loaded
    try:
        win.actions["new"].trigger()
        width, height, note = dialogs.new_size_asked[-1]
        assert "has not loaded yet" in note
        dlg._update_note()
        assert "has not loaded yet" in dlg.size_note.text()
    finally:
        win.ai.controller.engine.model = model
