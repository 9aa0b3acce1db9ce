"""Diffusion brush layers driven through the real window on a tiny random model."""
from __future__ import annotations

import time

import numpy as np
from ai_helpers import RENDER_TIMEOUT, alt_wheel, new_brush, on_doc, outside_band, settle, wait_done
from PySide6.QtCore import QTimer
from qt_helpers import drag

from editor.core.layers import BrushLayer, RasterLayer
from editor.render_path import build_brush_request


def _source_key(win, layer):
    ctrl = win.ai.controller
    return build_brush_request(win.document, layer, ctrl.profile, win.session.compositor).source_key


def test_box_region_renders_and_keeps_outside_pixels(qtbot, ai_window):
    win = ai_window
    layer = new_brush(win, box=(30, 30, 70, 70))
    assert isinstance(layer, BrushLayer) and layer.params.prompt == "a red apple"
    assert layer.region[50, 50] == 255 and layer.region[10, 10] == 0
    wait_done(qtbot, win, layer)
    below = win.session.compositor.render_source(layer)
    shown = win.session.compositor.render()
    outside = outside_band(layer.region, 16)
    assert np.array_equal(shown[outside], below[outside])
    pixels = on_doc(layer, win.document)
    assert pixels[outside][:, 3].max() == 0
    inside = layer.region == 255
    assert pixels[inside][:, 3].min() == 255
    # only the working window is stored, at its offset
    assert layer.pixels.shape[:2] != (win.document.height, win.document.width) or layer.offset == (0, 0)
    assert np.abs(shown[inside].astype(int) - below[inside].astype(int)).max() > 0
    assert win.document.history.labels[-1].startswith("Render")


def test_painting_below_makes_the_brush_stale_and_it_follows(qtbot, ai_window):
    win = ai_window
    layer = new_brush(win, box=(40, 40, 80, 80))
    wait_done(qtbot, win, layer)
    before = layer.pixels.copy()
    paint = win.document.find_by_name("Paint") if hasattr(win.document, "find_by_name") else \
        [l for l in win.document.layers if l.name == "Paint"][0]
    win.document.active_layer = paint
    win.tools.activate("brush")
    win.settings.size = 20
    drag(win.canvas, [(45, 60), (75, 60)])
    assert paint.pixels[60, 60, 3] > 0
    qtbot.waitUntil(lambda: layer.state in ("stale", "rendering"), timeout=2000)
    wait_done(qtbot, win, layer)
    spec = win.ai.controller._specs[layer.id]
    assert not spec.preview
    assert spec.request.source_key == _source_key(win, layer)
    assert not np.array_equal(before, layer.pixels)


def test_toggling_a_brush_layer_never_renders(qtbot, ai_window):
    win = ai_window
    doc = win.document
    a = new_brush(win, "left", box=(5, 5, 40, 40))
    b = new_brush(win, "right", box=(80, 80, 120, 120))
    settle(qtbot, win)
    assert a.state == b.state == "done"
    ctrl = win.ai.controller
    calls = ctrl.render_calls
    doc.set_layer_property(a, "visible", False)
    doc.set_layer_property(a, "opacity", 0.5)
    doc.set_layer_property(a, "blend_mode", "multiply")
    doc.move_layer(a, None, len(doc.layers) - 1)  # above b now
    doc.set_layer_property(b, "visible", False)
    doc.history.undo()
    assert ctrl.is_idle()  # nothing was scheduled (a render would be pending or queued now)
    settle(qtbot, win)
    assert ctrl.render_calls == calls
    assert a.state == b.state == "done"


def test_burst_of_param_changes_renders_at_most_twice(qtbot, ai_window):
    win = ai_window
    layer = new_brush(win, box=(30, 30, 90, 90))
    wait_done(qtbot, win, layer)
    ctrl = win.ai.controller
    calls = ctrl.render_calls
    dock = win.ai.brush_dock
    start = dock.seed.value()
    for i in range(1, 21):
        dock.seed.spin.setValue(start + i)
        if i == 1:  # let the first change start a render that the rest must cancel
            qtbot.waitUntil(lambda: layer.state == "rendering", timeout=10_000)
    wait_done(qtbot, win, layer)
    assert ctrl.render_calls - calls <= 2
    assert layer.params.seed == start + 20
    assert ctrl._specs[layer.id].request.seed == start + 20
    # the twenty edits merged into one undo step (plus the render)
    assert win.document.history.labels[-2].endswith("seed")


def test_engine_error_shows_error_state_and_next_render_works(qtbot, ai_window):
    win = ai_window
    doc = win.document
    layer = new_brush(win, box=(30, 30, 70, 70))
    wait_done(qtbot, win, layer)
    pixels = layer.pixels.copy()
    steps_before = len(doc.history.labels)
    engine = win.ai.controller.engine
    engine.brush.fail_with = RuntimeError("boom from the engine")
    win.ai.brush_dock.seed.spin.setValue(layer.params.seed + 1)
    settle(qtbot, win)
    assert layer.state == "error" and "boom from the engine" in layer.error
    assert np.array_equal(layer.pixels, pixels)
    assert len(doc.history.labels) == steps_before + 1  # only the seed change
    assert "error" in win.layers_panel.model.data(win.layers_panel.model.index_of(layer))
    engine.brush.fail_with = None
    win.ai.brush_dock.seed.spin.setValue(layer.params.seed + 1)
    wait_done(qtbot, win, layer)
    assert layer.error is None
    assert not np.array_equal(layer.pixels, pixels)


def test_gui_stays_responsive_while_rendering(qtbot, ai_window):
    win = ai_window
    layer = new_brush(win, box=(20, 20, 100, 100), steps=4)
    stamps = []
    timer = QTimer()
    timer.setInterval(5)
    # Only ticks while the engine thread renders: the GUI's own work of submitting and
    # applying a result is not what this measures.
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()) if layer.state == "rendering" else None)
    timer.start()
    qtbot.waitUntil(lambda: layer.state == "rendering", timeout=10_000)
    wait_done(qtbot, win, layer)
    timer.stop()
    gaps = np.diff(stamps)
    assert len(gaps) > 5
    assert gaps.max() < 0.05, f"longest GUI gap {gaps.max() * 1000:.0f} ms"


def test_alt_wheel_steps_the_seed(qtbot, ai_window):
    win = ai_window
    layer = new_brush(win, box=(30, 30, 70, 70))
    wait_done(qtbot, win, layer)
    seed = layer.params.seed
    zoom = win.canvas.zoom
    pixels = layer.pixels.copy()
    alt_wheel(win.canvas, 50, 50, -120)
    assert layer.params.seed == seed + 1
    assert win.canvas.zoom == zoom  # the wheel did not zoom
    wait_done(qtbot, win, layer)
    assert not np.array_equal(layer.pixels, pixels)
    win.ai.brush_dock.seed.lock.click()
    assert layer.params.seed_locked
    alt_wheel(win.canvas, 50, 50, -120)
    assert layer.params.seed == seed + 1


def test_apply_turns_the_brush_into_pixels_in_one_step(qtbot, ai_window):
    win = ai_window
    doc = win.document
    layer = new_brush(win, box=(30, 30, 70, 70))
    wait_done(qtbot, win, layer)
    before = win.session.compositor.render()
    n = len(doc.history.labels)
    win.ai.brush_dock.apply_button.click()
    applied = doc.active_layer
    assert type(applied) is RasterLayer and layer not in doc
    assert np.array_equal(applied.pixels, layer.pixels)
    assert np.array_equal(win.session.compositor.render(), before)
    assert len(doc.history.labels) == n + 1
    win.actions["undo"].trigger()
    assert layer in doc and applied not in doc


def test_clear_and_invert_region(qtbot, ai_window):
    win = ai_window
    layer = new_brush(win, box=(30, 30, 70, 70))
    wait_done(qtbot, win, layer)
    win.ai.brush_dock.invert_button.click()
    assert layer.region[50, 50] == 0 and layer.region[5, 5] == 255
    wait_done(qtbot, win, layer)
    assert on_doc(layer, win.document)[5, 5, 3] == 255
    win.ai.brush_dock.clear_button.click()
    wait_done(qtbot, win, layer)
    assert not layer.region.any() and not layer.pixels[..., 3].any()
    assert layer.pixels.shape[:2] == (1, 1)  # nothing to show: nothing stored


def test_paint_region_with_the_region_brush(qtbot, ai_window):
    win = ai_window
    win.actions["ai-new-brush"].trigger()
    layer = win.document.active_layer
    win.ai.brush_dock.mode_buttons["paint"].click()
    win.ai.brush_dock.size.setValue(10)
    steps = len(win.document.history.labels)
    drag(win.canvas, [(20, 64), (100, 64)])
    assert layer.region[64, 60] > 200 and layer.region[20, 60] == 0
    assert win.document.history.labels[steps] == "Paint brush region"
    win.ai.brush_dock.mode_buttons["erase"].click()
    drag(win.canvas, [(60, 50), (60, 80)])
    assert layer.region[64, 60] == 0 and layer.region[64, 30] > 200
    settle(qtbot, win)
    assert layer.state == "done"


def test_save_and_reopen_keeps_params_and_rerenders_the_same(qtbot, ai_window, tmp_path):
    win = ai_window
    layer = new_brush(win, "a blue sea", box=(30, 30, 80, 80))
    wait_done(qtbot, win, layer)
    pixels, params, region = layer.pixels.copy(), layer.params, layer.region.copy()
    path = tmp_path / "brush.ora"
    assert win.save_as(path)
    assert win.open_file(path)
    loaded = [l for l in win.document.walk() if isinstance(l, BrushLayer)][0]
    assert loaded.params == params and np.array_equal(loaded.region, region)
    assert np.array_equal(loaded.pixels, pixels)
    win.ai.controller.render_now(loaded)
    wait_done(qtbot, win, loaded)
    assert np.array_equal(loaded.pixels, pixels)


def test_box_drag_renders_previews_live_then_one_final_step(qtbot, ai_window):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from qt_helpers import widget_point

    win = ai_window
    doc = win.document
    ctrl = win.ai.controller
    layer = new_brush(win, box=(10, 10, 40, 40))
    wait_done(qtbot, win, layer)
    steps = len(doc.history.labels)
    canvas = win.canvas
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 20, 20))
    QTest.mouseMove(canvas, widget_point(canvas, 60, 60))
    qtbot.waitUntil(lambda: ctrl.submitted["preview"] > 0 and layer.id in ctrl._previewed, timeout=RENDER_TIMEOUT)
    assert on_doc(layer, doc)[50, 50, 3] > 0  # the preview is on screen while the drag goes on
    assert len(doc.history.labels) == steps  # previews are not history steps
    QTest.mouseMove(canvas, widget_point(canvas, 90, 90))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       widget_point(canvas, 90, 90))
    wait_done(qtbot, win, layer)
    assert not ctrl._specs[layer.id].preview
    assert doc.history.labels[steps:] == ["Box brush region", f"Render {layer.name}"]
    assert layer.region[80, 80] == 255 and layer.region[15, 15] == 0
    win.actions["undo"].trigger()
    win.actions["undo"].trigger()
    assert layer.region[15, 15] == 255


def test_command_line_renders_the_same_pixels_as_the_window(qtbot, ai_window, tmp_path, tiny_dir):
    """One render path: the window's worker and `layerbrush render --rerender` build the same
    request from the same file and so paint the same pixels (brush layers never see each other)."""
    from PIL import Image

    from editor.__main__ import main

    win = ai_window
    a = new_brush(win, "a red apple", box=(20, 20, 70, 70))
    b = new_brush(win, "a blue sea", box=(50, 50, 110, 110))  # overlaps a: must not see it
    settle(qtbot, win)
    assert a.state == b.state == "done"
    shown = win.session.compositor.render()
    path = tmp_path / "two.ora"
    assert win.save_as(path)
    out = tmp_path / "cli.png"
    assert main(["render", str(path), "-o", str(out), "--model", str(tiny_dir), "--device", "cpu", "--rerender"]) == 0
    cli = np.asarray(Image.open(out).convert("RGBA"))
    assert np.array_equal(cli, shown)
    # and the file's stored pixels were really re-rendered: a changed seed changes them
    from editor import api

    doc = api.open_document(path)
    brush = [l for l in doc.walk() if isinstance(l, BrushLayer) and l.name == b.name][0]
    brush.params = brush.params.replace(seed=brush.params.seed + 1)
    api.render_layers(doc, api.load_model(str(tiny_dir), "cpu"), all_layers=True)
    assert not np.array_equal(doc.render(), shown)


def test_region_overlay_updates_only_what_changed_and_matches_a_full_redraw(qtbot, ai_window):
    from editor.ui.ai.region_tool import _tint_into

    win = ai_window
    win.actions["ai-new-brush"].trigger()
    layer = win.document.active_layer
    win.ai.brush_dock.mode_buttons["paint"].click()
    win.ai.brush_dock.size.setValue(10)
    tool = win.ai.region_tool
    drag(win.canvas, [(20, 30), (60, 40), (100, 90)])
    win.canvas.repaint()
    win.ai.brush_dock.mode_buttons["box"].click()
    drag(win.canvas, [(10, 100), (40, 120), (30, 110)])
    win.canvas.repaint()
    tool._tint_image(layer.region)
    expected = np.empty(layer.region.shape + (4,), np.uint8)
    _tint_into(expected, layer.region)
    assert layer.region.any() and np.array_equal(tool._tint_buf, expected)
    assert layer.region[105, 20] == 255 and layer.region[115, 20] == 0  # the box shrank back to (30, 110)


def test_painting_below_outside_the_window_leaves_the_brush_alone(qtbot, ai_window):
    """Staleness follows the working window: on a large canvas, a stroke below the brush
    layer far from its region does not re-render it; one inside the window does."""
    from editor.core.document import Document
    from editor.core.geometry import Rect

    win = ai_window
    doc = Document(1024, 1024)
    background = np.zeros((1024, 1024, 4), np.uint8)
    background[..., 0] = np.arange(1024)[None, :] // 4
    background[..., 3] = 255
    doc.add_layer(RasterLayer("Background", background))
    doc.add_layer(RasterLayer("Paint", np.zeros((1024, 1024, 4), np.uint8)))
    win._replace(doc, None)
    doc = win.document
    region = np.zeros((1024, 1024), np.uint8)
    region[300:340, 300:340] = 255
    layer = BrushLayer("brush", np.zeros((1, 1, 4), np.uint8), region=region, state="stale")
    doc.add_layer(layer)
    win.ai.controller.render_now(layer)
    wait_done(qtbot, win, layer)
    assert layer.pixels.shape[0] < 1024 and layer.offset != (0, 0)  # only the window is stored
    paint = [l for l in doc.layers if l.name == "Paint"][0]
    calls = win.ai.controller.render_calls
    doc.set_pixels(paint, Rect(900, 900, 20, 20), np.full((20, 20, 4), 255, np.uint8))
    settle(qtbot, win)
    assert layer.state == "done" and win.ai.controller.render_calls == calls
    doc.set_pixels(paint, Rect(310, 310, 20, 20), np.full((20, 20, 4), 255, np.uint8))
    settle(qtbot, win)
    assert layer.state == "done" and win.ai.controller.render_calls == calls + 1
