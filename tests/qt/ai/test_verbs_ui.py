"""The AI verbs through the real window (tiny random model): Generative Fill, Remove Object,
Vary and Canvas Size with AI fill each add their own layer, render it, and undo."""
from __future__ import annotations

import numpy as np
from ai_helpers import on_doc, outside_band, settle, wait_done
from PySide6.QtWidgets import QDialogButtonBox
from qt_helpers import drag

from editor.core.layers import BrushLayer


def _box(doc, x0, y0, x1, y1):
    sel = np.zeros((doc.height, doc.width), np.uint8)
    sel[y0:y1, x0:x1] = 255
    return sel


def _quick(layer, win):
    """Few steps: the tiny model only has to show that the layer renders."""
    win.document.set_layer_property(layer, "params", layer.params.replace(steps=2, guidance=0.0))


def test_generative_fill_fills_the_selection_with_the_typed_prompt(qtbot, ai_window):
    win = ai_window
    doc = win.document
    doc.set_selection(_box(doc, 20, 30, 70, 80))
    win.ai.brush_dock.prompt.setText("a blue door")
    before = win.session.compositor.render().copy()
    win.actions["ai-fill"].trigger()
    layer = doc.active_layer
    assert isinstance(layer, BrushLayer) and layer.params.verb == "fill"
    assert layer.params.prompt == "a blue door" and layer.name == "Fill: a blue door"
    assert np.array_equal(layer.region, doc.selection)
    _quick(layer, win)
    wait_done(qtbot, win, layer)
    shown = win.session.compositor.render()
    away = outside_band(layer.region, 16)
    assert np.array_equal(shown[away], before[away])
    assert np.abs(shown[layer.region > 0].astype(int) - before[layer.region > 0].astype(int)).max() > 0
    settle(qtbot, win)
    while doc.history.can_undo and any(l is layer for l in doc.walk()):
        doc.history.undo()
    assert layer not in doc


def test_fill_without_a_selection_says_what_to_do(qtbot, ai_window):
    win = ai_window
    count = len(list(win.document.walk()))
    win.actions["ai-fill"].trigger()
    assert len(list(win.document.walk())) == count
    assert "Select the area" in win.statusBar().currentMessage()


def test_remove_object_paints_its_region_with_the_region_tool(qtbot, ai_window):
    win = ai_window
    doc = win.document
    win.actions["ai-remove"].trigger()
    layer = doc.active_layer
    assert isinstance(layer, BrushLayer) and layer.params.verb == "remove" and layer.region is None
    assert win.tools.active.id == "ai-region"
    assert layer.params.strength == win.ai.controller.profile.context_strength
    _quick(layer, win)
    drag(win.canvas, [(40, 60), (80, 60)])
    assert layer.region is not None and layer.region[60, 60] == 255
    wait_done(qtbot, win, layer)
    assert on_doc(layer, doc)[60, 60, 3] == 255


def test_vary_re_imagines_the_active_layer_above_it(qtbot, ai_window):
    win = ai_window
    doc = win.document
    background = doc.layers[0]
    doc.active_layer = background
    win.actions["ai-vary"].trigger()
    layer = doc.active_layer
    assert layer.params.verb == "vary" and layer.parent is doc.root
    assert doc.layers.index(layer) == doc.layers.index(background) + 1
    assert layer.region.min() == 255  # the background covers the canvas
    assert layer.params.strength == win.ai.controller.profile.vary_strength
    _quick(layer, win)
    wait_done(qtbot, win, layer)
    assert on_doc(layer, doc)[..., 3].min() == 255


def test_canvas_size_with_ai_fill_expands_and_fills_the_new_strip(qtbot, ai_window):
    win = ai_window
    doc = win.document
    w, h = doc.size
    before = win.session.compositor.render().copy()
    win.actions["canvas-size"].trigger()
    dialog = win.ai.verbs.canvas_dialog
    dialog.sides["right"].setValue(32)
    dialog.sides["bottom"].setValue(16)
    assert dialog.size_label.text().startswith(f"{w + 32} × {h + 16}")
    assert dialog.ai_fill.isChecked()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert doc.size == (w + 32, h + 16)
    layer = doc.active_layer
    assert layer.params.verb == "expand"
    assert layer.region[:h, :w].max() == 0 and layer.region[:, w:].min() == 255
    _quick(layer, win)
    wait_done(qtbot, win, layer)
    shown = win.session.compositor.render()
    assert shown[:, w:, 3].min() == 255  # the new strip is filled, not transparent
    assert np.array_equal(shown[:h - 24, :w - 24], before[:h - 24, :w - 24])
    settle(qtbot, win)
    while doc.size != (w, h):
        doc.history.undo()
    assert layer not in doc and not doc.history.can_undo  # the expand was the first step
    np.testing.assert_array_equal(win.session.compositor.render(), before)


def test_canvas_size_refuses_an_impossible_size(qtbot, ai_window):
    win = ai_window
    win.actions["canvas-size"].trigger()
    dialog = win.ai.verbs.canvas_dialog
    dialog.sides["left"].setValue(-win.document.width)
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "not possible" in dialog.size_label.text()


def test_dragging_the_canvas_edge_expands_it_with_ai_fill(qtbot, ai_window):
    win = ai_window
    doc = win.document
    w, h = doc.size
    win.tools.activate("ai-expand")
    drag(win.canvas, [(w - 2, h // 2), (w + 10, h // 2), (w + 30, h // 2)])
    assert doc.size == (w + 32, h)
    layer = doc.active_layer
    assert layer.params.verb == "expand" and layer.region[:, w:].min() == 255
    _quick(layer, win)
    wait_done(qtbot, win, layer)
    assert win.session.compositor.render()[:, w:, 3].min() == 255
    # a press away from the edges explains what to do and changes nothing
    drag(win.canvas, [(w // 2, h // 2), (w // 2 + 20, h // 2)])
    assert doc.size == (w + 32, h) and "Drag an edge" in win.statusBar().currentMessage()


def test_canvas_size_on_a_wide_picture_renders_the_long_strip_in_tiles(qtbot, dialogs, config_dir, tiny_model,
                                                                       monkeypatch):
    """A strip along the top of a 1536 x 128 picture, through the dialog: the window's worker
    denoises it in native-size tiles (each UNet call smaller than the strip's latent)."""
    from editor.core.document import Document
    from editor.core.layers import RasterLayer
    from editor.engine.brush import BrushEngine
    from editor.render_path import brush_window
    from editor.ui.main_window import MainWindow

    doc = Document(1536, 128)
    y, x = np.mgrid[0:128, 0:1536]
    doc.root._insert(0, RasterLayer("Background", np.stack(
        [x % 256, y * 2, (x // 6) % 256, np.full_like(x, 255)], -1).astype(np.uint8)))
    win = MainWindow(doc, dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.ai.controller.engine.brush_factory = lambda model: BrushEngine(model, trajectory_steps=4)
    win.ai.controller.engine.model = tiny_model
    win.ai.controller.profile = tiny_model.profile
    shapes = []
    forward = tiny_model.pipe.unet.forward
    monkeypatch.setattr(tiny_model.pipe.unet, "forward",
                        lambda sample, *a, **k: (shapes.append(tuple(sample.shape[2:])), forward(sample, *a, **k))[1])
    try:
        win.actions["canvas-size"].trigger()
        dialog = win.ai.verbs.canvas_dialog
        dialog.sides["top"].setValue(48)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        layer = win.document.active_layer
        assert win.document.size == (1536, 176) and layer.params.verb == "expand"
        _quick(layer, win)
        wait_done(qtbot, win, layer)
        window = brush_window(win.document, layer, tiny_model.profile)
        latent = (window.work_h // 8, window.work_w // 8)
        assert shapes and all(s[0] * s[1] < latent[0] * latent[1] / 2 for s in shapes)  # tiles, never the whole
        assert win.session.compositor.render()[:48, :, 3].min() == 255  # the whole strip is filled
    finally:
        win.session.mark_saved()
        win.close()
