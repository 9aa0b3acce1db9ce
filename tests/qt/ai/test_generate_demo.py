"""Generate Layer on the bundled demo model, through the real window: real transparency, no download."""
from __future__ import annotations

import numpy as np
import pytest
from ai_helpers import RENDER_TIMEOUT
from qt_helpers import drag

from editor.core.document import Document
from editor.core.layers import GeneratedLayer, RasterLayer


@pytest.fixture(scope="module")
def demo_model():
    from editor.engine.models import load_model

    return load_model("demo", device="cpu")


@pytest.fixture
def demo_window(qtbot, dialogs, config_dir, demo_model):
    from editor.ui.main_window import MainWindow

    doc = Document(320, 320)
    doc.add_layer(RasterLayer("paper", np.full((320, 320, 4), 255, np.uint8)))
    win = MainWindow(doc, dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win)
    win.resize(900, 700)
    win.show()
    qtbot.waitExposed(win)
    win.canvas.actual_size()
    win.ai.controller.engine.model = demo_model  # no job has run yet: safe from the GUI thread
    yield win
    win.session.mark_saved()
    win.close()


def test_draw_a_box_type_a_prompt_and_get_real_alpha(qtbot, demo_window):
    win = demo_window
    doc = win.document
    panel = win.ai.show_generate_panel()
    panel.prompt.setText("a red star")
    panel.steps.setValue(20)
    panel.draw_box.click()
    drag(win.canvas, [(40, 30), (296, 286)])
    assert (panel.box.w, panel.box.h) == (256, 256)
    panel.generate_button.click()
    qtbot.waitUntil(lambda: panel.request is None, timeout=RENDER_TIMEOUT)
    assert not panel.fallback_frame.isVisible()  # no offer of the matte: native transparency
    layer = doc.active_layer
    assert isinstance(layer, GeneratedLayer) and layer.params.mode == "rgba"
    assert layer.offset == (40, 30) and layer.pixels.shape == (256, 256, 4)
    a = layer.pixels[..., 3]
    assert (a < 30).mean() > 0.5  # a transparent background
    assert (a >= 128).mean() > 0.005 and (a > 225).any()  # a visible, partly opaque subject
    assert ((a >= 30) & (a <= 225)).any()  # soft edges
    # reddish where visible (seed 0 gives a small dark-red shape: the demo model is weak)
    seen = layer.pixels[a >= 128][:, :3].astype(int)
    assert (seen[:, 0] - seen[:, 1]).mean() > 80 and (seen[:, 0] - seen[:, 2]).mean() > 40
    assert panel.status.text() == "Done"
    win.actions["undo"].trigger()
    assert layer not in doc
