"""The one path from a document to a brush render and back, shared by the window's worker, the
scripting API and the command line (so a file renders the same pixels wherever it is rendered).

    request = build_brush_request(doc, layer, profile, compositor)
    result = engine.render(request)            # editor.engine.brush.BrushEngine
    apply_brush_result(doc, layer, result)

Brush layers of a group marked "render together" render as one unit (regions in one pass):
``build_joint_request(doc, group, ...)`` -> ``engine.render_joint(request)`` ->
``apply_joint_results``; ``render_brush_layers`` does this for every such group it meets.

The source of a brush layer is the composite of the non-brush layers below it (brush layers
never see each other), flattened on white, cropped to the layer's working window. Only the
window is composited, copied and hashed, so the work is proportional to the edit.
numpy only: no Qt, no torch (the engine's request classes are plain data).
"""
from __future__ import annotations

import hashlib

import numpy as np

from editor.core.brush_window import WorkWindow, choose_window, clip_to_canvas, crop_mirrored, region_bounds
from editor.core.geometry import Rect
from editor.core.layers import BrushLayer, GroupLayer, RasterLayer
from editor.core.profiles import ModelProfile
from editor.engine.requests import BrushRequest, JointBrushRequest, JointPart


def over_white(rgba: np.ndarray) -> np.ndarray:
    """Straight RGBA flattened onto white -> HxWx3 uint8 (what the model sees as source)."""
    a = rgba[..., 3:4]
    if a.size == 0 or a.min() == 255:  # the usual case (an opaque background): nothing to flatten
        return np.ascontiguousarray(rgba[..., :3])
    a = a.astype(np.uint16)
    return ((rgba[..., :3].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def digest(arr: np.ndarray | None) -> str:
    """Content hash of an array (shape included); "" for None."""
    if arr is None:
        return ""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(arr.shape).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def brush_window(doc, layer: BrushLayer, profile: ModelProfile) -> WorkWindow | None:
    """The working window of a brush layer (None when its region is empty)."""
    region = layer.region
    if region is None:
        return None
    if region.shape != (doc.height, doc.width):
        raise ValueError(f"brush region of {layer.name!r} is {region.shape[1]}x{region.shape[0]}, "
                         f"expected the document size {doc.width}x{doc.height}")
    bounds = region_bounds(region)
    if bounds.is_empty:
        return None
    return choose_window(bounds, doc.width, doc.height, native=profile.native_size, grid=profile.grid,
                         context=profile.context, max_upscale=profile.max_upscale, max_tiles=profile.max_tiles)


def build_brush_request(doc, layer: BrushLayer, profile: ModelProfile, compositor, *, preview: bool = False,
                        window: WorkWindow | None = None) -> BrushRequest | None:
    """The engine request that renders ``layer`` (None when its region is empty). ``compositor``
    is an ``editor.core.compositor.Compositor`` of ``doc`` (its caches make repeated builds cheap)."""
    win = window or brush_window(doc, layer, profile)
    if win is None:
        return None
    on_canvas = win.rect.intersect(doc.rect)
    inner = Rect(on_canvas.x - win.rect.x, on_canvas.y - win.rect.y, on_canvas.w, on_canvas.h)
    below = over_white(compositor.render_below(layer, on_canvas, brush_layers=False))
    local = Rect(win.rect.x - on_canvas.x, win.rect.y - on_canvas.y, win.rect.w, win.rect.h)
    source = crop_mirrored(below, local)
    region = np.zeros((win.rect.h, win.rect.w), np.uint8)
    region[inner.slices] = layer.region[on_canvas.slices]
    source.setflags(write=False)
    region.setflags(write=False)
    p = layer.params
    bases = tuple({"prompt": g.prompt, "negative_prompt": g.negative_prompt, "seed": g.seed, "steps": g.steps,
                   "guidance": g.guidance, "width": g.width, "height": g.height, "loras": tuple(g.loras)}
                  for g in generated_below(doc, layer))
    return BrushRequest(
        layer_id=layer.id, source=source, source_key=digest(source), region=region, prompt=p.prompt,
        negative_prompt=p.negative_prompt, seed=p.seed, strength=p.strength, steps=p.steps, guidance=p.guidance,
        preview=preview, origin=(win.rect.x, win.rect.y), work_size=(win.work_w, win.work_h),
        trajectory_steps=profile.trajectory_steps, change_gate=profile.change_gate, bases=bases,
        loras=tuple(p.loras), verb=p.verb)


def generated_below(doc, layer: BrushLayer) -> list:
    """BaseParams of the visible generated pictures (unscaled, at the canvas origin) below."""
    found = []
    for other in doc.walk():
        if other is layer:
            break
        g = getattr(other, "generated_from", None)
        if (g is not None and type(other) is RasterLayer and other.is_effectively_visible()
                and other.offset == (0, 0) and other.pixels.shape[:2] == (g.height, g.width)):
            found.append(g)
    return found


def result_pixels(doc, result) -> tuple[np.ndarray, tuple[int, int]]:
    """(pixels, offset) of a result, cut to the canvas: what the brush layer stores."""
    rgba, offset = clip_to_canvas(result.rgba, result.offset, doc.width, doc.height)
    return np.ascontiguousarray(rgba, dtype=np.uint8), offset


def apply_brush_result(doc, layer: BrushLayer, result, *, label: str | None = None) -> bool:
    """Store a final result on the layer as one history step (cropped pixels at an offset);
    returns False when the layer already shows exactly these pixels."""
    rgba, offset = result_pixels(doc, result)
    same = layer.offset == offset and layer.pixels.shape == rgba.shape and np.array_equal(layer.pixels, rgba)
    if not same:
        with doc.history.group(label or f"Render {layer.name}"):
            if layer.mask is not None and layer.mask.shape != rgba.shape[:2]:
                doc.set_layer_property(layer, "mask", None)  # the mask belonged to the old pixel size
            doc.set_layer_property(layer, "pixels", rgba.copy())
            if layer.offset != offset:
                doc.set_layer_property(layer, "offset", offset)
    layer.error = None
    layer.state = "done"
    return not same


def joint_group(layer) -> GroupLayer | None:
    """The "render together" group a brush layer renders with (None: it renders alone)."""
    parent = getattr(layer, "parent", None)
    if isinstance(layer, BrushLayer) and isinstance(parent, GroupLayer) and parent.render_together \
            and _joins(layer, parent):
        return parent
    return None


def _can_share(layer) -> bool:
    """Whether a layer can share a pass: one that paints a prompt. Removals, expansions and
    fills from context start from a context fill of their own source, variations show every
    change; they render alone."""
    if not isinstance(layer, BrushLayer):
        return False
    p = layer.params
    return p.verb == "paint" or (p.verb == "fill" and bool(p.prompt.strip()))


def _joins(layer: BrushLayer, group: GroupLayer) -> bool:
    """A pass runs one model with one LoRA set: the group's is that of its lowest layer that
    can share; a layer with another set renders alone."""
    if not _can_share(layer):
        return False
    first = next(c for c in group.children if _can_share(c))
    return tuple(layer.params.loras) == tuple(first.params.loras)


def joint_members(group: GroupLayer) -> list[BrushLayer]:
    """The brush layers (direct children, bottom -> top) with a non-empty region that a
    render-together group renders in one pass."""
    return [c for c in group.children if isinstance(c, BrushLayer) and _joins(c, group) and c.region is not None
            and c.region.any()]


def joint_window(doc, group: GroupLayer, profile: ModelProfile) -> WorkWindow | None:
    """The common working window of a group's members: the window of their regions' union."""
    bounds = Rect.empty()
    for layer in joint_members(group):
        win = brush_window(doc, layer, profile)  # checks the region's size
        if win is not None:
            bounds = bounds.union(region_bounds(layer.region))
    if bounds.is_empty:
        return None
    # one tile: a pass's masked combination of predictions is not run tile by tile
    return choose_window(bounds, doc.width, doc.height, native=profile.native_size, grid=profile.grid,
                         context=profile.context, max_upscale=profile.max_upscale)


def build_joint_request(doc, group: GroupLayer, profile: ModelProfile, compositor, *, preview: bool = False,
                        window: WorkWindow | None = None) -> JointBrushRequest | None:
    """The one request that renders all of ``group``'s brush layers in one pass (None when none
    has a region). Source: the non-brush composite below the lowest member, in the window."""
    members = joint_members(group)
    win = window or joint_window(doc, group, profile)
    if win is None or not members:
        return None
    parts = []
    first = None
    for layer in members:
        req = build_brush_request(doc, layer, profile, compositor, preview=preview, window=win)
        first = first or req
        p = layer.params
        parts.append(JointPart(layer.id, req.region, p.prompt, p.negative_prompt, p.seed, p.strength, p.steps,
                               p.guidance))
    return JointBrushRequest(group.id, first.source, first.source_key, tuple(parts), preview=preview,
                             origin=first.origin, work_size=first.work_size,
                             trajectory_steps=first.trajectory_steps, change_gate=first.change_gate,
                             bases=first.bases, loras=first.loras)


def apply_joint_results(doc, group: GroupLayer, results, *, label: str | None = None) -> int:
    """Store each member's result (one history step for the whole group); returns how many
    layers changed."""
    changed = 0
    with doc.history.group(label or f"Render {group.name}"):
        for result in results:
            layer = doc.find(result.layer_id)
            if isinstance(layer, BrushLayer):
                changed += apply_brush_result(doc, layer, result)
    return changed


def render_brush_layers(doc, engine, profile: ModelProfile, compositor, layers, *, progress=None) -> int:
    """Render ``layers`` (brush layers of ``doc``) in order with ``engine``, blocking; returns
    how many were rendered. A layer in a render-together group renders with its whole group in
    one pass (``engine.render_joint``). A failing layer is marked ``state="error"`` and the
    error raised."""
    count = 0
    done_groups = set()
    for layer in layers:
        group = joint_group(layer)
        if group is not None:
            if group.id in done_groups:
                continue
            done_groups.add(group.id)
            request = build_joint_request(doc, group, profile, compositor)
            if request is None:
                continue
            members = [doc.find(p.layer_id) for p in request.parts]
            for m in members:
                m.state = "rendering"
            try:
                results = engine.render_joint(request, progress=progress)
            except BaseException as exc:
                for m in members:
                    m.state = "error"
                    m.error = f"{type(exc).__name__}: {exc}"
                raise
            apply_joint_results(doc, group, results)
            count += len(results)
            continue
        request = build_brush_request(doc, layer, profile, compositor)
        if request is None:
            continue
        layer.state = "rendering"
        try:
            result = engine.render(request, progress=progress)
        except BaseException as exc:
            layer.state = "error"
            layer.error = f"{type(exc).__name__}: {exc}"
            raise
        apply_brush_result(doc, layer, result)
        count += 1
    return count
