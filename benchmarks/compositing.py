"""Compositing speed on a realistic document; prints JSON (medians in milliseconds).

    python benchmarks/compositing.py [--size 2048] [--repeat 5]

Document: 2048x2048, 20 layers: an opaque background, three full-size partly
painted layers (multiply, overlay, soft-light), partial layers with offsets (some
reaching outside the canvas) in mixed modes, one masked layer, an isolated group
of four layers at 80% opacity and a pass-through group of two.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from editor.core import Compositor, Document, GroupLayer, RasterLayer, Rect


def _blobs(rng, h, w, count, alpha=(120, 255)):
    """A layer with ``count`` soft discs of colour on transparency."""
    px = np.zeros((h, w, 4), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(count):
        cx, cy = rng.integers(0, w), rng.integers(0, h)
        r = rng.integers(min(h, w) // 10, min(h, w) // 4)
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        inside = d2 < r * r
        px[inside, :3] = rng.integers(0, 256, 3)
        px[inside, 3] = np.maximum(px[inside, 3], rng.integers(*alpha))
    return px


def build_document(size: int = 2048, seed: int = 0) -> tuple[Document, RasterLayer]:
    rng = np.random.default_rng(seed)
    doc = Document(size, size)
    bg = np.empty((size, size, 4), np.uint8)
    bg[..., :3] = rng.integers(0, 256, (size // 64, size // 64, 3), dtype=np.uint8).repeat(64, 0).repeat(64, 1)
    bg[..., 3] = 255
    doc.add_layer(RasterLayer("background", bg))
    full_modes = ["multiply", "overlay", "soft-light"]
    actives = []
    for i, mode in enumerate(full_modes):
        actives.append(doc.add_layer(RasterLayer(f"paint {i}", _blobs(rng, size, size, 6), blend_mode=mode)))
    modes = ["normal", "screen", "darken", "lighten", "color-dodge", "hard-light", "difference", "normal",
             "exclusion", "addition"]
    for i in range(10):
        w, h = (int(v) for v in rng.integers(size // 8, size * 3 // 8, 2))
        x, y = int(rng.integers(-w // 3, size - w // 2)), int(rng.integers(-h // 3, size - h // 2))
        layer = RasterLayer(f"part {i}", _blobs(rng, h, w, 3), blend_mode=modes[i], offset=(x, y),
                            opacity=float(rng.uniform(0.5, 1.0)))
        if i == 4:
            layer.mask = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
        doc.add_layer(layer)
    group = doc.add_layer(GroupLayer("group", opacity=0.8))
    for i in range(4):
        w, h = (int(v) for v in rng.integers(size // 6, size // 3, 2))
        doc.add_layer(RasterLayer(f"g{i}", _blobs(rng, h, w, 3), blend_mode=["normal", "multiply"][i % 2],
                                  offset=(int(rng.integers(0, size - w)), int(rng.integers(0, size - h)))),
                      parent=group)
    passthrough = doc.add_layer(GroupLayer("pass", isolated=False))
    for i in range(2):
        w, h = (int(v) for v in rng.integers(size // 6, size // 3, 2))
        doc.add_layer(RasterLayer(f"p{i}", _blobs(rng, h, w, 3), blend_mode="screen",
                                  offset=(int(rng.integers(0, size - w)), int(rng.integers(0, size - h)))),
                      parent=passthrough)
    doc.history.clear()
    active = actives[1]
    doc.active_layer = active
    return doc, active


CPU_TIMES: dict[str, float] = {}


def _median_ms(fn, repeat: int, name: str = "") -> float:
    """Median wall-clock ms; the median CPU ms of this process goes to CPU_TIMES[name]
    (on a shared, busy machine the CPU time shows what the code itself costs)."""
    times, cpu = [], []
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    if name:
        CPU_TIMES[name] = round(statistics.median(cpu), 2)
    return round(statistics.median(times), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    doc, active = build_document(args.size)
    layers = sum(1 for _ in doc.walk())

    # cold: a fresh compositor renders everything (opening a file)
    full_cold = _median_ms(lambda: Compositor(doc).render(), args.repeat, "full_composite_cpu_ms")

    comp = Compositor(doc)
    comp.render()
    # warm full recomposite: everything invalidated (e.g. a full-size layer's opacity changed)
    state = {"o": 1.0}

    def opacity_change():
        state["o"] = 0.5 if state["o"] == 1.0 else 1.0
        bottom = doc.layers[1]
        bottom.opacity = state["o"]
        comp.render()

    full_warm = _median_ms(opacity_change, args.repeat, "full_recomposite_cpu_ms")

    def active_opacity_change():
        state["o"] = 0.5 if state["o"] == 1.0 else 1.0
        active.opacity = state["o"]
        comp.render()

    active_full = _median_ms(active_opacity_change, args.repeat, "active_layer_opacity_recomposite_cpu_ms")

    # one 64 px dab on the active layer, then recomposite that rect
    rng = np.random.default_rng(1)
    dab = np.zeros((64, 64, 4), np.uint8)
    yy, xx = np.mgrid[0:64, 0:64]
    inside = (xx - 31.5) ** 2 + (yy - 31.5) ** 2 < 32 * 32
    dab[inside] = (255, 40, 40, 200)
    comp.render()
    positions = [(int(x), int(y)) for x, y in rng.integers(100, args.size - 164, size=(max(args.repeat, 20), 2))]
    it = iter(positions * 10)

    def one_dab():
        x, y = next(it)
        r = Rect(x, y, 64, 64)
        region = active.pixels[r.slices]
        np.maximum(region, dab, out=region)
        doc.notify_pixels(active, r)
        comp.render(r)

    one_dab()  # first dab builds the caches below/above the active layer
    dab_ms = _median_ms(one_dab, max(args.repeat, 20), "dab_update_cpu_ms")

    # the same through the real brush: a Stroke dab (64 px, soft) + recomposite
    from editor.core.paint import Brush, Stroke

    stroke = Stroke(doc, active, Brush(size=64, hardness=0.5, color=(30, 200, 90)))
    path = iter([(300 + 16 * i, 700 + 4 * i) for i in range(400)])

    def brush_dab():
        x, y = next(path)
        changed = stroke.dab(x, y)
        comp.render(changed)

    brush_dab()
    stroke_dab_ms = _median_ms(brush_dab, max(args.repeat, 20), "stroke_dab_update_cpu_ms")
    t = time.perf_counter()
    stroke.end()
    stroke_end_ms = round((time.perf_counter() - t) * 1000, 2)

    below_ms = _median_ms(lambda: comp.render_below(active), args.repeat, "render_below_cached_cpu_ms")

    print(json.dumps({
        "document": f"{args.size}x{args.size}",
        "layers": layers,
        "full_composite_ms": full_cold,
        "full_recomposite_ms": full_warm,
        "active_layer_opacity_recomposite_ms": active_full,
        "dab_update_ms": dab_ms,
        "stroke_dab_update_ms": stroke_dab_ms,
        "stroke_end_ms": stroke_end_ms,
        "render_below_cached_ms": below_ms,
        **CPU_TIMES,
        "repeat": args.repeat,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
