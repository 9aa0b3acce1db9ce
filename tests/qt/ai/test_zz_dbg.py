import numpy as np
from test_generate import _panel, _idle
def test_dbg(qtbot, ai_window):
    win = ai_window
    doc = win.document
    panel = _panel(win)
    panel.set_box(None)
    panel.generate("rgba", fallback=True)
    _idle(qtbot, panel)
    layer = doc.active_layer
    original = layer.pixels.copy()
    print(layer.params)
    win.actions["ai-regenerate"].trigger()
    print(panel.last_request)
    _idle(qtbot, panel)
    print(layer.params)
    d = (layer.pixels != original).any(axis=2)
    print("diff", d.sum(), np.abs(layer.pixels.astype(int) - original).max())
