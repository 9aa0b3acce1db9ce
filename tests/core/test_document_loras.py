"""The document's LoRA list: one undo step, checked, and what new AI layers start with."""
from __future__ import annotations

import numpy as np
import pytest

from editor.core.document import Document
from editor.core.profiles import DEMO
from editor.core.verbs import expand, make_layer


def test_setting_the_list_is_one_undo_step_and_announced():
    doc = Document(8, 8)
    seen = []
    doc.events.settings_changed.connect(seen.append)
    doc.set_default_loras([("style.safetensors", 0.7)])
    assert doc.default_loras == (("style.safetensors", 0.7),) and seen == ["default_loras"]
    doc.set_default_loras([("style.safetensors", 0.7)])  # unchanged: no step
    assert doc.history.labels == ["Document LoRAs"]
    doc.history.undo()
    assert doc.default_loras == () and not doc.history.can_undo
    doc.history.redo()
    assert doc.default_loras == (("style.safetensors", 0.7),) and seen == ["default_loras"] * 3


@pytest.mark.parametrize("value, msg", [("style.safetensors", "pairs"), ([("", 1.0)], "non-empty"),
                                        ([("a.safetensors", "heavy")], "number"),
                                        ([("a.safetensors", 1e9)], r"\[-100, 100\]")])
def test_bad_lists_are_refused_and_change_nothing(value, msg):
    doc = Document(8, 8)
    with pytest.raises(ValueError, match=msg):
        doc.set_default_loras(value)
    assert doc.default_loras == () and not doc.history.can_undo


def test_new_layers_start_with_the_list_and_keep_their_own_copy():
    doc = Document(16, 16)
    mask = np.full((16, 16), 255, np.uint8)
    doc.set_default_loras([("style.safetensors", 0.5)])
    layer = make_layer(doc, "fill", mask, "a cat", DEMO)
    assert layer.params.loras == (("style.safetensors", 0.5),)
    assert make_layer(doc, "fill", mask, "a cat", DEMO, loras=()).params.loras == ()  # its own: none
    strip = expand(doc, DEMO, right=8, ai_fill=True)
    assert strip.params.loras == (("style.safetensors", 0.5),)
    doc.set_default_loras([])
    assert layer.params.loras == (("style.safetensors", 0.5),) and strip.params.loras == layer.params.loras
