"""Regions in one pass through the real window: a group marked "Render Together" in the Layers
panel renders its brush layers in one job, each keeps its own pixels, toggling is compositing,
and the command line paints the same pixels from the saved file."""
from __future__ import annotations

import numpy as np
from ai_helpers import new_brush, on_doc, settle

from editor.core.layers import BrushLayer, GroupLayer


def _mark_together(win, group):
    (action,) = [a for a in win.layers_panel.context_menu_for(group).actions() if a.text() == "Render Together"]
    assert action.isCheckable() and not action.isChecked()
    action.trigger()
    assert group.render_together is True


def test_render_together_group_renders_in_one_job(qtbot, ai_window, tmp_path, tiny_dir):
    from PIL import Image

    from editor.__main__ import main

    win = ai_window
    doc = win.document
    ctrl = win.ai.controller
    a = new_brush(win, "a red apple", box=(8, 8, 50, 50))
    b = new_brush(win, "a blue sea", box=(72, 72, 118, 118))
    settle(qtbot, win)
    assert a.state == b.state == "done"
    group = doc.new_group("Regions", layers=[a, b])
    settle(qtbot, win)
    calls, jobs = ctrl.render_calls, ctrl.submitted["final"]
    evals = ctrl.engine.brush.inner.stats["unet_evals"]
    _mark_together(win, group)
    assert doc.history.labels[-1] == "Render together: Regions"
    settle(qtbot, win)
    assert a.state == b.state == "done", (a.error, b.error)
    assert ctrl.render_calls == calls + 1 and ctrl.submitted["final"] == jobs + 1  # ONE job for both
    assert ctrl.engine.brush.inner.stats["unet_evals"] - evals == a.params.steps  # one edit's steps
    assert doc.history.labels[-1] == "Render Regions"
    for layer, other in ((a, b), (b, a)):
        alpha = on_doc(layer, doc)[..., 3]
        assert alpha[layer.region > 0].min() > 0 and not alpha[other.region > 0].any()

    # toggling one layer off is pure compositing
    calls = ctrl.render_calls
    shown = win.session.compositor.render()
    doc.set_layer_property(a, "visible", False)
    assert ctrl.is_idle()
    settle(qtbot, win)
    assert ctrl.render_calls == calls
    hidden = win.session.compositor.render()
    assert not np.array_equal(hidden[a.region > 0], shown[a.region > 0])
    assert np.array_equal(hidden[b.region > 0], shown[b.region > 0])
    doc.set_layer_property(a, "visible", True)

    # a change of one member re-renders the group in one job
    win.document.active_layer = b
    win.ai.brush_dock.prompt.setText("a green field")
    win.ai.brush_dock.prompt.editingFinished.emit()
    settle(qtbot, win)
    assert ctrl.render_calls == calls + 1 and a.state == b.state == "done"

    # the same file through the command line gives the same pixels
    shown = win.session.compositor.render()
    path = tmp_path / "regions.ora"
    assert win.save_as(path)
    out = tmp_path / "cli.png"
    assert main(["render", str(path), "-o", str(out), "--model", str(tiny_dir), "--device", "cpu", "--rerender"]) == 0
    assert np.array_equal(np.asarray(Image.open(out).convert("RGBA")), shown)
    from editor import api

    reopened = api.open_document(path)
    (g,) = [l for l in reopened.core.walk() if isinstance(l, GroupLayer) and l.name == "Regions"]
    assert g.render_together and [c.params.prompt for c in g.children if isinstance(c, BrushLayer)] == \
        ["a red apple", "a green field"]
