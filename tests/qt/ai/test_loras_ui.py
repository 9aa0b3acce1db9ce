"""LoRAs through the real window: chosen in the brush dock, saved in the .ora, carried by renders."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_helpers import new_brush, settle, wait_done
from PySide6.QtWidgets import QDialogButtonBox
from safetensors.torch import save_file

from editor.core.layers import BrushLayer
from editor.engine.lora import active_loras, apply_loras


class RecordingEngine:
    """The real BrushEngine, recording the requests it is handed."""

    requests: list = []

    def __init__(self, model):
        from editor.engine.brush import BrushEngine

        self.inner = BrushEngine(model, trajectory_steps=4)

    def render(self, request, progress=None, cancel=None):
        RecordingEngine.requests.append(request)
        return self.inner.render(request, progress=progress, cancel=cancel)


@pytest.fixture
def lora_file(tmp_path, tiny_model):
    gen = torch.Generator().manual_seed(0)
    sd = {}
    for name, module in tiny_model.pipe.unet.named_modules():
        if name.endswith(("attn1.to_q", "attn2.to_v", "ff.net.2")):
            sd[f"unet.{name}.lora_A.weight"] = torch.randn(4, module.weight.shape[1], generator=gen)
            sd[f"unet.{name}.lora_B.weight"] = torch.randn(module.weight.shape[0], 4, generator=gen)
    path = tmp_path / "style.safetensors"
    save_file(sd, str(path))
    yield str(path)
    apply_loras(tiny_model, ())  # the model is shared by the session's tests


def test_brush_layer_lora_is_saved_reopened_and_rendered(qtbot, ai_window, tiny_model, lora_file, tmp_path):
    win = ai_window
    RecordingEngine.requests = []
    win.ai.controller.engine.brush_factory = RecordingEngine
    layer = new_brush(win, "a blue sea", box=(30, 30, 80, 80))
    wait_done(qtbot, win, layer)
    plain = layer.pixels.copy()

    dock = win.ai.brush_dock
    dock.loras.pick_file = lambda: lora_file
    dock.loras.add_button.click()
    assert layer.params.loras == ((lora_file, 1.0),)
    dock.loras.weights[0].setValue(0.6)
    assert layer.params.loras == ((lora_file, 0.6),)
    wait_done(qtbot, win, layer)
    assert RecordingEngine.requests[-1].loras == ((lora_file, 0.6),)
    assert active_loras(tiny_model) == ((lora_file, 0.6),)
    with_lora = layer.pixels.copy()
    assert not np.array_equal(with_lora, plain)

    path = tmp_path / "lora.ora"
    assert win.save_as(path)
    assert win.open_file(path)
    loaded = [lay for lay in win.document.walk() if isinstance(lay, BrushLayer)][0]
    assert loaded.params.loras == ((lora_file, 0.6),)
    win.document.active_layer = loaded
    assert win.ai.brush_dock.loras.weights[0].value() == pytest.approx(0.6)
    RecordingEngine.requests = []
    win.ai.controller.render_now(loaded)
    wait_done(qtbot, win, loaded)
    assert RecordingEngine.requests[-1].loras == ((lora_file, 0.6),)
    assert np.array_equal(loaded.pixels, with_lora)

    # removing it gives the plain picture again (here from the engine's result cache; the exact
    # restore of the weights is tests/engine/test_lora.py's)
    win.ai.brush_dock.loras.remove_buttons[0].click()
    assert loaded.params.loras == ()
    wait_done(qtbot, win, loaded)
    assert np.array_equal(loaded.pixels, plain)


def test_a_lora_that_does_not_fit_shows_the_key(qtbot, ai_window, tmp_path, dialogs):
    win = ai_window
    layer = new_brush(win, "a blue sea", box=(30, 30, 80, 80))
    wait_done(qtbot, win, layer)
    bad = tmp_path / "other.safetensors"
    save_file({"lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight": torch.zeros(2, 4),
               "lora_unet_down_blocks_9_attentions_0_proj_in.lora_up.weight": torch.zeros(4, 2)}, str(bad))
    win.ai.brush_dock.loras.pick_file = lambda: str(bad)
    win.ai.brush_dock.loras.add_button.click()
    qtbot.waitUntil(lambda: layer.state == "error", timeout=20000)
    assert "lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight" in layer.error
    assert "other.safetensors" in win.ai.brush_dock.state_label.text()


def test_generate_base_with_a_lora(qtbot, ai_window, tiny_model, lora_file):
    from ai_helpers import RENDER_TIMEOUT

    from editor.engine.base import generate_image

    win = ai_window
    dlg = win.ai.open_generate_base()
    dlg.prompt.setText("a mountain lake")
    dlg.steps.setValue(2)
    dlg.guidance.setValue(0.0)
    dlg.width_box.setValue(128)
    dlg.height_box.setValue(128)
    dlg.loras.pick_file = lambda: lora_file
    dlg.loras.add_button.click()
    dlg.loras.weights[0].setValue(0.5)
    dlg.generate_button.click()
    qtbot.waitUntil(lambda: dlg.running is None, timeout=RENDER_TIMEOUT)
    layer = win.document.active_layer
    assert layer.generated_from.loras == ((lora_file, 0.5),)
    assert active_loras(tiny_model) == ((lora_file, 0.5),)
    want = generate_image(tiny_model, "a mountain lake", 128, 128, seed=dlg.seed.value(), steps=2, guidance=0.0,
                          loras=((lora_file, 0.5),))
    assert np.array_equal(layer.pixels, want)
    plain = generate_image(tiny_model, "a mountain lake", 128, 128, seed=dlg.seed.value(), steps=2, guidance=0.0,
                           loras=())
    assert not np.array_equal(plain, want)


def test_generate_layer_panel_with_a_lora(qtbot, ai_window, tiny_model, lora_file, painted_subject):
    from ai_helpers import RENDER_TIMEOUT
    from qt_helpers import drag

    from editor.core.layers import GeneratedLayer

    win = ai_window
    panel = win.ai.show_generate_panel()
    panel.prompt.setText("a small red ball")
    panel.steps.setValue(2)
    panel.guidance.setValue(0.0)
    panel.loras.pick_file = lambda: lora_file
    panel.loras.add_button.click()
    panel.draw_box.click()
    drag(win.canvas, [(20, 30), (80, 70)])
    panel.generate_button.click()
    qtbot.waitUntil(lambda: panel.request is None, timeout=RENDER_TIMEOUT)
    panel.fallback_button.click()  # the tiny model has no LayerDiffuse weights: the matte way
    qtbot.waitUntil(lambda: panel.request is None, timeout=RENDER_TIMEOUT)
    layer = win.document.active_layer
    assert isinstance(layer, GeneratedLayer) and layer.params.loras == ((lora_file, 1.0),)
    assert active_loras(tiny_model) == ((lora_file, 1.0),)


def test_document_loras_are_what_new_layers_and_the_generate_dialogs_start_with(qtbot, ai_window, tiny_model,
                                                                                lora_file, tmp_path):
    win = ai_window
    doc = win.document
    RecordingEngine.requests = []
    win.ai.controller.engine.brush_factory = RecordingEngine
    before = new_brush(win, "a blue sea", box=(10, 10, 40, 40))  # made before the list: keeps none
    wait_done(qtbot, win, before)

    win.actions["ai-document-loras"].trigger()
    dlg = win.ai.document_loras_dialog
    dlg.loras.pick_file = lambda: lora_file
    dlg.loras.add_button.click()
    dlg.loras.weights[0].setValue(0.4)
    assert doc.default_loras == ()  # nothing changes before OK
    dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    want = ((lora_file, 0.4),)
    assert doc.default_loras == want and doc.history.labels[-1] == "Document LoRAs"
    assert win.ai.generate_panel.loras.loras() == want
    assert win.ai.open_generate_base().loras.loras() == want
    assert before.params.loras == ()

    layer = new_brush(win, "a green hill", box=(50, 50, 90, 90))
    assert layer.params.loras == want and win.ai.brush_dock.loras.loras() == want
    wait_done(qtbot, win, layer)
    assert RecordingEngine.requests[-1].loras == want and active_loras(tiny_model) == want
    doc.set_selection(np.pad(np.full((20, 20), 255, np.uint8), ((60, doc.height - 80), (5, doc.width - 25))))
    win.actions["ai-fill"].trigger()
    assert doc.active_layer.params.verb == "fill" and doc.active_layer.params.loras == want
    settle(qtbot, win)

    path = tmp_path / "doc-loras.ora"
    assert win.save_as(path)
    assert win.open_file(path)
    assert win.document.default_loras == want and win.ai.generate_panel.loras.loras() == want
    win.actions["ai-document-loras"].trigger()
    dlg = win.ai.document_loras_dialog
    assert dlg.loras.loras() == want
    dlg.loras.remove_buttons[0].click()
    dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert win.document.default_loras == () and win.ai.generate_panel.loras.loras() == ()
    win.document.history.undo()
    assert win.document.default_loras == want and win.ai.generate_panel.loras.loras() == want
