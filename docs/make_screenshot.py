"""Make docs/screenshot.png: the editor with a demo document, a diffusion brush layer and a
generated layer (both made by the bundled demo model on the CPU), captured from a real X server.

Run under a virtual X server (Debian: apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 imagemagick):

    xvfb-run -s "-screen 0 1440x900x24" .venv/bin/python docs/make_screenshot.py docs/screenshot.png

The window is captured with ImageMagick's ``import -window root`` (what a user would see),
not rendered offscreen. Settings and recovery files go to a scratch folder, so the
screenshot uses the demo model whatever the user configured.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QPointF, QTimer  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from editor.core.document import Document  # noqa: E402
from editor.core.geometry import Rect  # noqa: E402
from editor.core.layers import BrushLayer, GroupLayer, RasterLayer  # noqa: E402
from editor.core.params import BrushParams  # noqa: E402

W, H = 960, 640


def _radial(cx, cy, r, h=H, w=W):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r


def demo_document() -> Document:
    """A small landscape in several layers: sky, sun (screen), hills, a masked mist, a group."""
    doc = Document(W, H)
    t = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    top, bottom = np.array([38, 70, 140], np.float32), np.array([250, 180, 130], np.float32)
    sky = np.empty((H, W, 4), np.uint8)
    sky[..., :3] = (top * (1 - t) + bottom * t).astype(np.uint8)
    sky[..., 3] = 255

    d = _radial(640, 300, 150)
    sun = np.zeros((H, W, 4), np.uint8)
    sun[..., :3] = (255, 214, 120)
    sun[..., 3] = (np.clip(1.4 - d, 0, 1) ** 1.5 * 255).astype(np.uint8)

    def hill(base, amp, freq, phase, color):
        xs = np.arange(W, dtype=np.float32)
        ridge = base - amp * np.sin(xs / W * np.pi * freq + phase) - 0.4 * amp * np.sin(xs / W * 9 + phase * 2)
        yy = np.arange(H, dtype=np.float32)[:, None]
        alpha = np.clip(yy - ridge[None, :] + 1, 0, 1)
        out = np.zeros((H, W, 4), np.uint8)
        shade = np.clip(1 - (yy - ridge[None, :]) / 600, 0.55, 1)[..., None]
        out[..., :3] = (np.array(color, np.float32) * shade).astype(np.uint8)
        out[..., 3] = (alpha * 255).astype(np.uint8)
        return out

    far = hill(430, 60, 2.2, 0.6, (92, 104, 150))
    near = hill(520, 70, 1.6, 2.0, (46, 92, 70))

    mist = np.zeros((H, W, 4), np.uint8)
    mist[..., :3] = 255
    mist[..., 3] = (np.clip(1 - np.abs(t[..., 0] - 0.72) * 7, 0, 1) * 150).astype(np.uint8)
    mist_mask = np.clip(_radial(300, 460, 380) * -255 + 330, 0, 255).astype(np.uint8)

    birds = np.zeros((160, 240, 4), np.uint8)
    for bx, by, s in ((40, 60, 14), (90, 40, 10), (150, 80, 12), (190, 50, 8)):
        for k in range(-s, s + 1):
            y = by + abs(k) // 2 - (abs(k) * abs(k)) // (3 * s)
            birds[y:y + 2, bx + k] = (30, 30, 40, 255)

    doc.root._insert(0, RasterLayer("Sky", sky))
    doc.root._insert(1, RasterLayer("Sun", sun, blend_mode="screen"))
    details = GroupLayer("Landscape")
    details._insert(0, RasterLayer("Far hills", far, opacity=0.85))
    details._insert(1, RasterLayer("Mist", mist, mask=mist_mask))
    details._insert(2, RasterLayer("Near hills", near))
    doc.root._insert(2, details)
    doc.root._insert(3, RasterLayer("Birds", birds, offset=(180, 120)))
    doc.active_layer = doc.layers[-1]
    _edit_history(doc)
    return doc


def _edit_history(doc: Document) -> None:
    """A few real edits so the History panel has steps: grass strokes, a selection."""
    from editor.core.paint import Brush, Stroke

    grass = doc.add_layer(RasterLayer("Grass", np.zeros((H, W, 4), np.uint8)), label="Add Grass")
    rng = np.random.default_rng(3)
    for i, x0 in enumerate(rng.uniform(20, W - 20, 3)):
        brush = Brush(size=5, hardness=0.6, opacity=0.9, color=(20, 60, 35, 255))
        stroke = Stroke(doc, grass, brush, label=f"Brush stroke")
        for x in np.linspace(x0 - 60, x0 + 60, 14):
            base = H - 8 - rng.uniform(0, 30)
            stroke.dab(x, base)
            stroke.dab(x + rng.uniform(-6, 6), base - rng.uniform(25, 55), 0.3)
            stroke.dab(x, base)
        stroke.end()
    doc.set_layer_property(doc.layers[1], "opacity", 0.9, label="Sun: opacity")
    sel = (np.clip(1.0 - _radial(640, 300, 170), 0, 1) > 0).astype(np.uint8) * 255
    doc.set_selection(sel, "Ellipse select")


def add_ai_layers(doc: Document) -> BrushLayer:
    """A stale diffusion brush layer over the sky (the window renders it on start)."""
    region = (np.clip(1.0 - _radial(250, 170, 95), 0, 1) > 0).astype(np.uint8) * 255
    brush = BrushLayer("Brush: a yellow star", np.zeros((H, W, 4), np.uint8),
                       params=BrushParams(prompt="a yellow star", seed=7, strength=1.0, steps=12, guidance=7.5),
                       region=region, state="stale")
    doc.root._insert(len(doc.root.children), brush)
    return brush


def main(out: str) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="layerbrush-shot-"))
    os.environ["LAYERBRUSH_CONFIG_DIR"] = str(scratch / "config")
    os.environ["LAYERBRUSH_RECOVERY_DIR"] = str(scratch / "recovery")
    from editor.ui.app import create_app
    from editor.ui.main_window import MainWindow

    app = create_app(["layerbrush"])
    doc = demo_document()
    brush = add_ai_layers(doc)
    window = MainWindow(doc, autosave_ms=0)
    if window.ai.first_run_banner is not None:  # the one-time "try a real model" hint
        window.ai.first_run_banner.hide()
    window.settings.foreground = QColor(230, 120, 60)
    window.settings.size = 48
    window.resize(1440, 900)
    window.move(0, 0)
    window.show()
    window.raise_()
    window.activateWindow()

    ctrl = window.ai.controller
    state = {"generated": False}

    def when_idle() -> None:
        # The brush layer renders first; then a transparent layer is generated in a box
        # (the demo model has no LayerDiffuse weights: the matte fallback).
        if not ctrl.is_idle() or brush.state != "done":
            QTimer.singleShot(200, when_idle)
            return
        if not state["generated"]:
            state["generated"] = True
            panel = window.ai.show_generate_panel()
            panel.prompt.setText("a red circle on a white background")  # the demo model knows no "grey"
            panel.steps.setValue(20)
            panel.seed.spin.setValue(1)
            panel.set_box(Rect(600, 380, 256, 256))
            panel.generate("rgba", fallback=True)
            QTimer.singleShot(200, when_idle)
            return
        doc.active_layer = brush  # the Diffusion Brush dock shows its prompt and seed
        window.docks["history"].raise_()
        QTimer.singleShot(300, shoot)

    def shoot() -> None:
        window.canvas.fit()
        # Show the brush outline as if the pen hovered over the canvas.
        window.canvas._hover = window.canvas.doc_to_widget(QPointF(420, 250))
        window.canvas.update()
        QTimer.singleShot(600, capture)

    def capture() -> None:
        subprocess.run(["import", "-window", "root", out], check=True)
        window.session.mark_saved()
        window.close()
        app.quit()

    QTimer.singleShot(1200, when_idle)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "screenshot.png")))
