"""A slider drag in the brush dock is a transient edit: live values, one undo step at the end."""
from __future__ import annotations

from ai_helpers import new_brush, settle, wait_done


def test_strength_slider_drag_is_one_undo_step_without_intermediate_values(qtbot, ai_window):
    win = ai_window
    doc = win.document
    layer = new_brush(win)
    wait_done(qtbot, win, layer)
    start = layer.params.strength
    steps = len(doc.history)
    slider = win.ai.brush_dock.strength
    slider.setSliderDown(True)  # sliderPressed, as a mouse drag does
    for v in (80, 60, 45, 30):
        slider.setValue(v)
        assert layer.params.strength == v / 100  # live: the brush previews it
        assert len(doc.history) == steps  # not history
    slider.setSliderDown(False)
    assert len(doc.history) == steps + 1 and doc.history.labels[-1].endswith("strength")
    wait_done(qtbot, win, layer)
    # the final render after the drag lands in a step of its own; undoing back past the drag
    # gives the strength from before it, never an intermediate one
    while doc.history.labels[doc.history.index - 1].startswith("Render"):
        doc.history.undo()
    doc.history.undo()
    assert layer.params.strength == start
    doc.history.redo()
    assert layer.params.strength == 0.30
    settle(qtbot, win)


def test_a_drag_that_ends_where_it_began_records_nothing(qtbot, ai_window):
    win = ai_window
    doc = win.document
    layer = new_brush(win)
    wait_done(qtbot, win, layer)
    slider = win.ai.brush_dock.strength
    value = slider.value()
    steps = len(doc.history)
    slider.setSliderDown(True)
    slider.setValue(value - 20)
    slider.setValue(value)
    slider.setSliderDown(False)
    settle(qtbot, win)
    assert len(doc.history) == steps
