"""The AI verbs in the window: Generative Fill, Remove Object, Vary, and Canvas Size with an
AI fill of the new area. Each makes its layer through editor.core.verbs (as the scripting API
and the command line do); the worker renders it like any brush layer."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout)

from editor.core.canvas_size import MAX_SIDE
from editor.core.layers import BrushLayer, GroupLayer, RasterLayer
from editor.core.verbs import add_above, expand, layer_region, make_layer

from .brush_dock import random_seed
from .expand_tool import ExpandTool


class AiVerbs(QObject):
    """Menu actions of the verbs; reachable as ``window.ai.verbs``."""

    def __init__(self, features) -> None:
        super().__init__(features)
        self.features = features
        self.window = features.window
        self.canvas_dialog: CanvasSizeDialog | None = None
        A = self.window.add_action
        A("Layer/AI", "ai-fill", "Generative &Fill Selection", self.fill_selection, "Ctrl+Shift+F")
        A("Layer/AI", "ai-remove", "Re&move Object", self.remove_object, "Ctrl+Shift+X")
        A("Layer/AI", "ai-vary", "Var&y Layer or Selection", self.vary)
        A("Image", "canvas-size", "Canvas &Size…", self.open_canvas_size, "Ctrl+Alt+C")
        self.expand_tool: ExpandTool = self.window.register_tool(ExpandTool)
        self.expand_tool.verbs = self

    @property
    def document(self):
        return self.window.session.document

    def typed_prompt(self) -> str:
        """What the dock's prompt box holds when it is not showing a brush layer's own prompt."""
        dock = self.features.brush_dock
        return dock.prompt.text() if not isinstance(self.document.active_layer, BrushLayer) else ""

    def _make(self, verb: str, mask, prompt: str, anchor=None) -> BrushLayer:
        doc = self.document
        layer = make_layer(doc, verb, mask, prompt, self.features.controller.profile, seed=random_seed())
        return add_above(doc, layer, anchor if anchor is not None else _anchor(doc), None)

    def fill_selection(self) -> BrushLayer | None:
        """The selection becomes a fill layer with the typed prompt (none: from the surroundings)."""
        sel = self.document.selection
        if sel is None or not sel.any():
            self.window.show_message("Select the area to fill first (an empty prompt fills it from its surroundings)")
            return None
        return self._make("fill", sel, self.typed_prompt())

    def remove_object(self) -> BrushLayer:
        """Remove what is selected; without a selection, paint over the object with the region tool."""
        sel = self.document.selection
        if sel is not None and sel.any():
            return self._make("remove", sel, "")
        layer = self._make("remove", None, "")
        self.features.use_region_tool("paint")
        self.window.show_message("Paint over the object to remove")
        return layer

    def vary(self) -> BrushLayer:
        """A variation of the selection, else of the active layer's pixels, else of the canvas."""
        doc = self.document
        active = doc.active_layer
        sel = doc.selection
        if sel is not None and sel.any():
            mask = sel
        elif isinstance(active, (RasterLayer, GroupLayer)) and not isinstance(active, BrushLayer) \
                and layer_region(doc, active).any():
            mask = layer_region(doc, active)
        else:
            mask = np.full((doc.height, doc.width), 255, np.uint8)
        return self._make("vary", mask, self.typed_prompt(), anchor=active)

    def open_canvas_size(self) -> "CanvasSizeDialog":
        self.canvas_dialog = CanvasSizeDialog(self)
        self.canvas_dialog.show()
        return self.canvas_dialog

    def change_canvas(self, left: int, top: int, right: int, bottom: int, *, ai_fill: bool = False,
                      prompt: str = "") -> BrushLayer | None:
        """Canvas Size as one undo step; with ``ai_fill`` the new area becomes an expand layer."""
        try:
            return expand(self.document, self.features.controller.profile, left=left, top=top, right=right,
                          bottom=bottom, prompt=prompt, seed=random_seed(), ai_fill=ai_fill)
        except ValueError as exc:
            self.window.show_error("Canvas Size", str(exc))
            return None
        finally:
            self.window.canvas.fit()


def _anchor(doc):
    """Where a new AI layer goes: above the active layer (inside its group)."""
    active = doc.active_layer
    return active if active is not None and active.parent is not None else None


class CanvasSizeDialog(QDialog):
    """Pixels to add on each side (negative: crop), and whether AI fills the new area."""

    def __init__(self, verbs: AiVerbs) -> None:
        super().__init__(verbs.window)
        self.verbs = verbs
        self.setWindowTitle("Canvas Size")
        self.setObjectName("canvas-size-dialog")
        doc = verbs.document
        form = QFormLayout()
        self.sides = {}
        for side in ("left", "top", "right", "bottom"):
            box = QSpinBox()
            box.setRange(-MAX_SIDE, MAX_SIDE)
            box.setSuffix(" px")
            box.valueChanged.connect(self._update)
            self.sides[side] = box
            form.addRow(f"Add {side}:", box)
        self.size_label = QLabel()
        form.addRow("New size:", self.size_label)
        self.ai_fill = QCheckBox("AI fill the new area from the picture around it")
        self.ai_fill.setChecked(True)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("optional: what the new area shows")
        form.addRow(self.ai_fill)
        form.addRow("Prompt:", self.prompt)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.buttons)
        self._size = (doc.width, doc.height)
        self._update()

    def values(self) -> tuple[int, int, int, int]:
        return tuple(self.sides[s].value() for s in ("left", "top", "right", "bottom"))

    def _update(self) -> None:
        left, top, right, bottom = self.values()
        w, h = self._size[0] + left + right, self._size[1] + top + bottom
        ok = 0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE
        self.size_label.setText(f"{w} × {h} px" if ok else f"{w} × {h} px: not possible")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def accept(self) -> None:
        self.result_layer = self.verbs.change_canvas(*self.values(), ai_fill=self.ai_fill.isChecked(),
                                                     prompt=self.prompt.text())
        super().accept()
