"""The GPU memory preference through the real window: shown in the model picker, used at load."""
from __future__ import annotations

import json

from ai_helpers import RENDER_TIMEOUT

from editor.ui.preferences import PreferencesDialog


def test_forced_memory_mode_reaches_the_picker_and_the_loaded_model(qtbot, ai_window, config_dir, tiny_dir):
    win = ai_window
    picker = win.ai.open_model_picker()
    assert "preference: Automatic" in picker.memory_label.text()
    picker.close()

    win.actions["preferences"].trigger()
    dialog = win.findChild(PreferencesDialog, "preferences-dialog")
    dialog.memory.setCurrentIndex(dialog.memory.findData("model_offload"))
    dialog.ok_button.click()
    assert json.loads((config_dir / "preferences.json").read_text())["memory_mode"] == "model_offload"
    # the reload job (engine thread) takes the new mode
    qtbot.waitUntil(lambda: win.ai.controller.engine.memory_mode == "model_offload", timeout=30_000)

    picker = win.ai.open_model_picker()
    assert "preference: Model offload to the CPU" in picker.memory_label.text()
    picker.custom.setText(str(tiny_dir))
    assert picker.choose()
    loader = win.ai.load_dialog
    qtbot.waitUntil(lambda: loader.outcome is not None, timeout=RENDER_TIMEOUT)
    assert loader.outcome == "loaded"
    qtbot.waitUntil(lambda: win.ai.controller.engine.model is not None, timeout=RENDER_TIMEOUT)
    model = win.ai.controller.engine.model
    # the load asked for the forced mode; this machine has no CUDA GPU, and the model says so
    assert model.memory.reason == "no CUDA GPU: the model runs where it is (the model_offload setting needs one)"
    picker = win.ai.open_model_picker()
    text = picker.memory_label.text()
    assert "Active: all on the device, VAE tiling" in text and "model_offload setting needs one" in text
    picker.close()
