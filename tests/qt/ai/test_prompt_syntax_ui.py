"""AND / NOT prompts through the real window: errors shown as the user types, never submitted."""
from __future__ import annotations

from ai_helpers import RENDER_TIMEOUT, new_brush, settle, wait_done
from PySide6.QtCore import Qt

from editor.core.layers import RasterLayer
from editor.engine.sampling import PromptCache


def _record_prompts(monkeypatch):
    seen = []
    original = PromptCache.get_composed
    monkeypatch.setattr(PromptCache, "get_composed",
                        lambda self, prompt, *a: (seen.append(prompt), original(self, prompt, *a))[1])
    return seen


def _retype(qtbot, edit, text):
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def test_brush_dock_shows_errors_and_submits_only_valid_prompts(qtbot, ai_window, monkeypatch):
    win = ai_window
    seen = _record_prompts(monkeypatch)
    layer = new_brush(win, prompt="a red apple", box=(30, 30, 70, 70))
    wait_done(qtbot, win, layer)
    dock = win.ai.brush_dock
    check = dock.prompt_check
    assert check.label.isHidden() and dock.prompt.styleSheet() == ""
    steps = len(win.document.history.labels)

    _retype(qtbot, dock.prompt, "a red apple AND")
    assert not check.label.isHidden()
    assert check.label.text() == "Prompt: 'AND' needs a term after it (at character 13)"
    assert dock.prompt.toolTip() == check.label.text() and "border" in dock.prompt.styleSheet()
    qtbot.keyClick(dock.prompt, Qt.Key.Key_Return)
    settle(qtbot, win)
    assert layer.params.prompt == "a red apple"  # not submitted: no history step, no render
    assert len(win.document.history.labels) == steps and seen.count("a red apple AND") == 0

    _retype(qtbot, dock.prompt, "a red apple :abc")
    assert "bad weight ':abc'" in check.label.text()

    _retype(qtbot, dock.prompt, "a red apple AND a hat :0.8")
    assert check.label.isHidden() and dock.prompt.styleSheet() == ""
    qtbot.keyClick(dock.prompt, Qt.Key.Key_Return)
    assert layer.params.prompt == "a red apple AND a hat :0.8"
    wait_done(qtbot, win, layer)
    assert seen[-1] == "a red apple AND a hat :0.8"  # the engine rendered the composed prompt


def test_generate_base_refuses_an_invalid_prompt_and_runs_a_composed_one(qtbot, ai_window, monkeypatch):
    win = ai_window
    seen = _record_prompts(monkeypatch)
    dlg = win.ai.open_generate_base()
    dlg.steps.setValue(2)
    dlg.guidance.setValue(7.5)
    dlg.width_box.setValue(128)
    dlg.height_box.setValue(128)
    _retype(qtbot, dlg.prompt, "a lake NOT")
    assert dlg.prompt_check.label.text() == "Prompt: 'NOT' needs a term after it (at character 8)"
    assert dlg.generate() is False and dlg.running is None and not seen
    _retype(qtbot, dlg.prompt, "a lake NOT snow")
    assert dlg.prompt_check.label.isHidden()
    dlg.generate_button.click()
    qtbot.waitUntil(lambda: dlg.running is None, timeout=RENDER_TIMEOUT)
    assert seen == ["a lake NOT snow"]
    assert type(win.document.active_layer) is RasterLayer and win.document.active_layer.name.startswith("Base:")


def test_transparent_layer_panel_says_composition_is_unsupported(qtbot, ai_window):
    win = ai_window
    panel = win.ai.show_generate_panel()
    _retype(qtbot, panel.prompt, "a cat AND a hat")
    check = panel.prompt_checks[0]
    assert not check.label.isHidden() and "not supported here" in check.label.text()
    assert panel.generate("rgba") is None and panel.request is None
    _retype(qtbot, panel.prompt, "a cat and a hat")
    assert check.label.isHidden()
