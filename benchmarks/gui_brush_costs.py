"""GUI-thread work of a diffusion brush edit on a large canvas. Prints JSON.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_brush_costs.py [--size 4096] [--moves 60]

region_move_ms   one mouse move of the region tool while painting a brush layer's region
                 (editor.core.paint dabs into the region in place, the overlay's
                 tint brought up to date), median over a stroke
region_stroke_history_bytes  what that stroke's undo step holds (its rectangle, before and
                 after; region_bytes: the whole region, what a step held before)
box_move_ms      the same for dragging a box
request_build_ms building the engine request for a 64 px region (editor.render_path: the
                 window's composite below, flattened on white, hashed), median of repeats
                 after a change below the layer (so the window is recomposited each time)
Baselines in the same run, the way the editor did it before the working window:
region_move_full_tint_ms (the overlay rebuilt over the whole canvas on every move) and
request_build_whole_doc_ms (the whole document's source flattened and hashed).
No model is loaded: this is the part that runs on the GUI thread.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from editor.core.compositor import Compositor  # noqa: E402
from editor.core.document import Document  # noqa: E402
from editor.core.geometry import Rect  # noqa: E402
from editor.core.layers import BrushLayer, RasterLayer  # noqa: E402
from editor.core.profiles import DEMO  # noqa: E402
from editor.render_path import build_brush_request, digest, over_white  # noqa: E402
from editor.ui.ai.region_tool import RegionTool  # noqa: E402
from editor.ui.tools.base import PointerEvent  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--moves", type=int, default=60)
    args = ap.parse_args()
    QApplication.instance() or QApplication([])
    n = args.size
    doc = Document(n, n)
    rng = np.random.default_rng(0)
    base = RasterLayer("picture", rng.integers(0, 256, (n, n, 4), dtype=np.uint8))
    base.pixels[..., 3] = 255
    doc.add_layer(base)
    layer = BrushLayer("brush", np.zeros((1, 1, 4), np.uint8), region=np.zeros((n, n), np.uint8))
    doc.add_layer(layer)
    doc.active_layer = layer
    host = SimpleNamespace(session=SimpleNamespace(document=doc), canvas=SimpleNamespace(update=lambda: None),
                           show_message=lambda *a, **k: None, settings=None)
    tool = RegionTool(host)
    out = {"canvas": n}
    for mode in ("paint", "box"):
        tool.set_mode(mode)
        tool.press(PointerEvent(n / 2, n / 2))
        tool._tint_image(layer.region)
        times = []
        for i in range(args.moves):
            t = time.perf_counter()
            tool.move(PointerEvent(n / 2 + 4 * i, n / 2 + 3 * i))
            tool._tint_image(layer.region)  # what the next paint of the canvas asks for
            times.append((time.perf_counter() - t) * 1000)
        tool.release(PointerEvent(n / 2 + 4 * args.moves, n / 2 + 3 * args.moves))
        out[f"{'region' if mode == 'paint' else 'box'}_move_ms"] = round(statistics.median(times), 2)
        if mode == "paint":  # what the stroke's undo step holds (its rectangle, before + after)
            out["region_stroke_history_bytes"] = doc.history.steps[-1].nbytes
            out["region_bytes"] = layer.region.nbytes
    tool.set_mode("paint")
    tool.press(PointerEvent(n / 2, n / 2))
    times = []
    for i in range(min(10, args.moves)):
        t = time.perf_counter()
        tool.move(PointerEvent(n / 2 - 4 * i, n / 2 + 3 * i))
        tool._tint_buf = None  # forces the whole-canvas rebuild
        tool._tint_image(layer.region)
        times.append((time.perf_counter() - t) * 1000)
    tool.release(PointerEvent(n / 2, n / 2))
    out["region_move_full_tint_ms"] = round(statistics.median(times), 2)
    region = np.zeros((n, n), np.uint8)
    region[n // 2: n // 2 + 64, n // 3: n // 3 + 64] = 255
    layer.region = region
    comp = Compositor(doc)
    times = []
    for i in range(10):
        base.pixels[n // 2 + 10, n // 3 + 10] = (i, i, i, 255)
        doc.notify_pixels(base, Rect(n // 3 + 10, n // 2 + 10, 1, 1))
        t = time.perf_counter()
        build_brush_request(doc, layer, DEMO, comp)
        times.append((time.perf_counter() - t) * 1000)
    times_doc = []
    for i in range(5):
        base.pixels[n // 2 + 10, n // 3 + 10] = (i, i, i, 255)
        doc.notify_pixels(base, Rect(n // 3 + 10, n // 2 + 10, 1, 1))
        t = time.perf_counter()
        source = over_white(comp.render_source(layer))
        digest(source)
        region.copy()
        times_doc.append((time.perf_counter() - t) * 1000)
    comp.close()
    out["request_build_whole_doc_ms"] = round(statistics.median(times_doc[1:]), 2)
    out["request_build_ms"] = round(statistics.median(times[1:]), 2)
    out["request_build_first_ms"] = round(times[0], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
