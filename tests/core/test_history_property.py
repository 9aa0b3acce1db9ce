"""Random edit sequences: undoing everything restores the start exactly, redoing
everything restores the end, and the incremental composite always matches a fresh one."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor.core import Compositor, Document, GroupLayer, RasterLayer, Rect
from editor.core.paint import Brush, Stroke

W, H = 16, 12


def snapshot(doc):
    def node(layer):
        props = (layer.id, layer.name, layer.visible, round(layer.opacity, 6), layer.blend_mode, layer.offset,
                 layer.mask_enabled, layer.mask_inverted, None if layer.mask is None else layer.mask.tobytes())
        if isinstance(layer, GroupLayer):
            return props + (layer.isolated, tuple(node(c) for c in layer.children))
        return props + (layer.pixels.shape, layer.pixels.tobytes())

    sel = None if doc.selection is None else doc.selection.tobytes()
    return tuple(node(c) for c in doc.layers), sel


op = st.tuples(st.integers(0, 9), st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000))


def apply(doc, code, a, b, c):
    layers = [l for l in doc.walk()]
    rasters = [l for l in layers if isinstance(l, RasterLayer)]
    groups = [doc.root] + [l for l in layers if isinstance(l, GroupLayer)]
    rng = np.random.default_rng(a * 1000 + b)
    if code == 0 or not rasters:
        px = rng.integers(0, 256, size=(1 + a % H, 1 + b % W, 4), dtype=np.uint8)
        parent = groups[c % len(groups)]
        doc.add_layer(RasterLayer(f"r{a}", px, offset=(a % 7 - 3, b % 5 - 2)),
                      None if parent is doc.root else parent)
    elif code == 1:
        doc.add_layer(GroupLayer(f"g{a}", isolated=bool(b % 2)))
    elif code == 2 and layers:
        doc.remove_layer(layers[a % len(layers)])
    elif code == 3 and layers:
        layer = layers[a % len(layers)]
        target = groups[b % len(groups)]
        if target is layer or (isinstance(layer, GroupLayer) and target in set(layer.walk())):
            return
        doc.move_layer(layer, None if target is doc.root else target, 0)
    elif code == 4 and layers:
        layer = layers[a % len(layers)]
        name, value = [("opacity", (b % 11) / 10), ("visible", bool(b % 2)), ("blend_mode", ["normal", "multiply", "screen", "hue"][b % 4]),
                       ("offset", (b % 9 - 4, c % 9 - 4))][c % 4]
        doc.set_layer_property(layer, name, value, merge_key="drag" if c % 3 == 0 else None)
    elif code == 5:
        layer = rasters[a % len(rasters)]
        r = Rect(0, 0, 1 + b % layer.width, 1 + c % layer.height)
        doc.set_pixels(layer, r, rng.integers(0, 256, size=(r.h, r.w, 4), dtype=np.uint8))
    elif code == 6:
        layer = rasters[a % len(rasters)]
        if layer.mask is None:
            doc.add_mask(layer, fill=b % 256)
        else:
            doc.set_layer_property(layer, "mask_inverted", not layer.mask_inverted)
    elif code == 7:
        layer = rasters[a % len(rasters)]
        stroke = Stroke(doc, layer, Brush(size=1 + b % 6, color=(b % 256, c % 256, 9), erase=bool(c % 4 == 0)))
        stroke.dab(a % W, b % H)
        stroke.dab(c % W, a % H, 0.5)
        stroke.end()
    elif code == 8:
        doc.set_selection(None if a % 3 == 0 else rng.integers(0, 256, size=(H, W), dtype=np.uint8))
    elif code == 9:
        if a % 2:
            doc.history.undo()
        else:
            doc.history.redo()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=14))
def test_random_edits_undo_redo_exactly(ops):
    doc = Document(W, H)
    comp = Compositor(doc)
    snaps = {0: snapshot(doc)}  # history index -> state
    for code, a, b, c in ops:
        apply(doc, code, a, b, c)
        idx = doc.history.index
        if idx == len(doc.history):  # a push drops the redo branch
            for k in [k for k in snaps if k > idx]:
                del snaps[k]
        snaps[idx] = snapshot(doc)
        assert np.abs(comp.render().astype(int) - Compositor(doc, below_cache=False).render().astype(int)).max() <= 1
    for idx in sorted(snaps, reverse=True) + sorted(snaps):
        doc.history.jump(idx)
        assert snapshot(doc) == snaps[idx], idx
        assert np.abs(comp.render().astype(int) - Compositor(doc, below_cache=False).render().astype(int)).max() <= 1
