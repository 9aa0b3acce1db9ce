"""How the AI verbs' layers are made from the document (shared by window, API and CLI)."""

from __future__ import annotations

import numpy as np
import pytest

from editor.core.document import Document
from editor.core.layers import GroupLayer, RasterLayer
from editor.core.params import BrushParams
from editor.core.profiles import DEMO, SD15
from editor.core.verbs import add_above, layer_name, layer_region, make_layer


def test_defaults_follow_the_verb_and_the_profile():
    doc = Document(16, 16)
    mask = np.full((16, 16), 255, np.uint8)
    assert make_layer(doc, "paint", mask, "a cat", DEMO).params.strength == DEMO.strength
    assert make_layer(doc, "fill", mask, "a cat", DEMO).params.strength == DEMO.strength
    assert make_layer(doc, "fill", mask, "", DEMO).params.strength == DEMO.context_strength
    assert make_layer(doc, "remove", mask, "", SD15).params.strength == SD15.context_strength
    assert make_layer(doc, "vary", mask, "", DEMO, strength=0.3).params.strength == 0.3
    layer = make_layer(doc, "expand", mask, "", DEMO, steps=3)
    assert layer.params.verb == "expand" and layer.params.steps == 3 and layer.state == "stale"
    assert layer_name("fill", "  a red door ") == "Fill: a red door" and layer_name("remove") == "Remove"


@pytest.mark.parametrize("mask, msg", [(np.zeros((8, 8), np.uint8), "16x16"),
                                       (np.zeros((16, 16), np.uint8), "empty")])
def test_bad_masks_are_refused_with_what_is_wrong(mask, msg):
    with pytest.raises(ValueError, match=msg):
        make_layer(Document(16, 16), "fill", mask, "", DEMO)


def test_bad_verbs_are_refused():
    with pytest.raises(ValueError, match="verb"):
        BrushParams(verb="smudge")
    with pytest.raises(ValueError, match="verb"):
        make_layer(Document(4, 4), "smudge", None, "", DEMO)


def test_layer_region_is_where_the_layer_shows():
    doc = Document(20, 10)
    px = np.zeros((4, 6, 4), np.uint8)
    px[1:3, 1:5, 3] = 200
    layer = RasterLayer("a", px, offset=(17, 2))  # partly off the canvas
    group = GroupLayer("g")
    doc.add_layer(group)
    doc.add_layer(layer, parent=group)
    region = layer_region(doc, layer)
    assert region.sum() // 255 == 2 * 2 and region[3, 18] == 255 and region[3, 17] == 0
    assert np.array_equal(layer_region(doc, group), region)
    vary = add_above(doc, make_layer(doc, "vary", region, "", DEMO), layer)
    assert vary.parent is group and group.children.index(vary) == 1 and doc.active_layer is vary
