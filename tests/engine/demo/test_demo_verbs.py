"""The AI verbs mean what they say on the trained demo model, through the scripting API:
Remove leaves the background where a shape was, Expand continues the picture into the new
canvas, Fill paints the prompt into a selection, Vary changes more with more strength; each
is a layer that re-renders the same pixels after a save and reopen."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from editor import api
from editor.engine.demo import shapes

BASES = [("circle", "red", "white"), ("square", "yellow", "blue"), ("triangle", "green", "black"),
         ("circle", "blue", "orange")]


def colour(name):
    return np.asarray(shapes.COLORS[name], np.float32)


def shape_mask(rgb, bg):
    """Pixels clearly not the background, holes closed (what a user paints over)."""
    far = (np.abs(rgb.astype(np.float32) - colour(bg)).max(-1) > 60).astype(np.uint8) * 255
    far = cv2.morphologyEx(far, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    return far


@pytest.fixture(scope="module")
def pictures(demo_model):
    out = []
    for n, (shape, col, bg) in enumerate(BASES):
        doc = api.new_document(256, 256)
        doc.add_base_layer(demo_model, shapes.caption(shape, col, bg), seed=n, steps=12)
        out.append(doc)
    return out


def test_remove_leaves_the_background_colour(demo_model, pictures):
    kept = []
    for doc, (shape, col, bg) in zip(pictures, BASES):
        src = doc.render()[..., :3]
        obj = shape_mask(src, bg)
        assert obj.mean() > 5, "the base picture has no shape to remove"
        mask = cv2.dilate(obj, np.ones((9, 9), np.uint8))
        layer = doc.add_remove_layer(mask, negative_prompt=shapes.caption(shape, col), model=demo_model)
        assert layer.params.verb == "remove"
        assert api.render_layers(doc, demo_model) == 1
        out = doc.render()[..., :3]
        inside = obj > 0
        near_bg = np.abs(out[inside].astype(np.float32) - colour(bg)).mean(-1) < 40
        kept.append(near_bg.mean())
        doc.remove_layer(layer)
    # measured: 0.96-0.99 of the shape's pixels become background (0.0 before removing)
    assert np.median(kept) >= 0.85, kept


def test_expand_continues_the_background(demo_model, pictures):
    for doc, (shape, col, bg) in zip(pictures[:2], BASES[:2]):
        before = doc.render()[..., :3].copy()
        layer = api.expand_canvas(doc, demo_model, right=96, bottom=32)
        assert doc.size == (352, 288) and layer.params.verb == "expand"
        out = doc.render()[..., :3]
        np.testing.assert_array_equal(out[:232, :232], before[:232, :232])  # beyond the band: as it was
        strip = out[:, 256:].reshape(-1, 3).astype(np.float32)
        near_bg = (np.abs(strip - colour(bg)).mean(-1) < 40).mean()
        assert near_bg >= 0.85, (bg, near_bg)
        doc.core.history.undo()
        assert doc.size == (256, 256)
        np.testing.assert_array_equal(doc.render()[..., :3], before)


def test_fill_paints_the_prompt_into_the_selection(demo_model, pictures):
    palette = np.asarray([shapes.COLORS[c] for c in shapes.COLOR_NAMES], np.float32)
    shares = []
    for n, (doc, (shape, col, bg), (tshape, tcol)) in enumerate(zip(
            pictures, BASES, [("square", "yellow"), ("circle", "red"), ("square", "yellow")])):
        src = doc.render()[..., :3]
        far = shape_mask(src, bg)
        # the selection: a 96 px box on the background (the corner farthest from the shape)
        corners = [(0, 0), (0, 160), (160, 0), (160, 160)]
        y, x = max(corners, key=lambda c: (far[c[0]:c[0] + 96, c[1]:c[1] + 96] == 0).mean())
        sel = np.zeros((256, 256), np.uint8)
        sel[y:y + 96, x:x + 96] = 255
        layer = doc.add_fill_layer(sel, shapes.caption(tshape, tcol), seed=n, model=demo_model)
        api.render_layers(doc, demo_model)
        out = doc.render()[..., :3]
        nearest = (((out[sel > 0][:, None, :].astype(np.float32) - palette) ** 2).sum(-1)).argmin(-1)
        shares.append(float((nearest == shapes.COLOR_NAMES.index(tcol)).mean()))
        away = cv2.dilate(sel, np.ones((49, 49), np.uint8)) == 0  # beyond the feathered band
        np.testing.assert_array_equal(out[away], src[away])
        doc.remove_layer(layer)
    # the same brush as a painted region (benchmarks/brush_quality.py: 23 of 24 hits)
    assert sum(s >= 0.10 for s in shares) >= 2, shares


def test_vary_changes_more_with_more_strength(demo_model, pictures):
    doc = pictures[1]
    src = doc.render()[..., :3].astype(np.float32)
    changes = []
    for strength in (0.2, 0.9):
        layer = doc.add_vary_layer(strength, shapes.caption("star", "yellow", "blue"), seed=2, model=demo_model)
        api.render_layers(doc, demo_model)
        changes.append(float(np.abs(doc.render()[..., :3].astype(np.float32) - src).mean()))
        doc.remove_layer(layer)
    assert changes[0] < changes[1], changes
    assert changes[1] > 3.0, changes


def test_verb_layers_render_the_same_after_reopening(demo_model, pictures, tmp_path):
    doc = pictures[2]
    obj = cv2.dilate(shape_mask(doc.render()[..., :3], "black"), np.ones((9, 9), np.uint8))
    doc.add_remove_layer(obj, model=demo_model)
    api.render_layers(doc, demo_model)
    first = doc.render()
    doc.save(tmp_path / "removed.ora")
    again = api.open_document(tmp_path / "removed.ora")
    layer = [l for l in again.walk() if getattr(l, "kind", "") == "brush"][0]
    assert layer.params.verb == "remove"
    assert api.render_layers(again, demo_model, all_layers=True) == 1
    np.testing.assert_array_equal(again.render(), first)


def test_a_long_expand_strip_works_at_canvas_scale_in_tiles_that_join_smoothly(demo_model):
    """A 1024 x 96 strip along the top of four pictures side by side (the cases of
    benchmarks/long_strips.py): four times the native length, so it is denoised in tiles at
    the canvas's own scale instead of being shrunk to 256 px."""
    from editor.render_path import brush_window

    cases = (("blue", (("circle", "red"), ("star", "yellow"), ("square", "white"), ("triangle", "orange"))),
             ("white", (("square", "green"), ("circle", "purple"), ("star", "red"), ("circle", "black"))),
             ("black", (("triangle", "yellow"), ("square", "red"), ("circle", "white"), ("star", "green"))))
    shares = []
    for n, (bg, objects) in enumerate(cases):
        tiles = [api.generate_image(demo_model, shapes.caption(s, c, bg), 256, 256, seed=10 * n + i, steps=12)
                 for i, (s, c) in enumerate(objects)]
        pic = np.ascontiguousarray(np.concatenate(tiles, 1)[96:])
        doc = api.new_document(1024, 160)
        doc.add_raster_layer("picture", pic)
        layer = api.expand_canvas(doc, demo_model, top=96)
        assert brush_window(api._core(doc), layer, demo_model.profile).scale > 0.95  # 0.5 untiled
        strip = doc.render()[:96, :, :3].astype(np.float32)
        shares.append((np.abs(strip - colour(bg)).mean(-1) < 40).mean())
        # tiles meet in a blend: no step between neighbouring columns (measured at most 12.7)
        assert np.abs(np.diff(strip.mean(0), axis=0)).max() < 24
    # measured 0.93, 0.80, 0.97 of the strip continue the background (one shrunken window:
    # 0.92, 0.86, 1.0); shapes cut by the edge are continued into it
    assert np.median(shares) >= 0.85 and min(shares) >= 0.7, shares
