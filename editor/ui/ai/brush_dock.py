"""The Diffusion Brush dock: the active brush layer's prompt, seed, strength, steps,
guidance, and the region tools (paint, erase, box, clear, invert), Apply and New.

The dock keeps no state of its own: it shows the active layer's ``params`` and writes
edits back with ``Document.set_layer_property`` (undoable; slider drags merge into one
step and render previews while they move).
"""
from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from editor.core.layers import BrushLayer

from .error_text import user_message
from .prompt_check import PromptCheck
from .lora_list import LoraList

SEED_MAX = 2**31 - 1


def random_seed() -> int:
    return random.randint(0, SEED_MAX)


class SeedRow(QWidget):
    """A seed spin box with a dice button (new random seed) and a lock."""

    changed = Signal(int)
    lock_changed = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.spin = QSpinBox()
        self.spin.setRange(0, SEED_MAX)
        self.spin.setObjectName("seed")
        self.dice = QToolButton()
        self.dice.setText("⚂")  # a die; the tooltip says what it does
        self.dice.setToolTip("New random seed")
        self.dice.setObjectName("seed-dice")
        self.lock = QCheckBox("🔒")
        self.lock.setText("Lock")
        self.lock.setToolTip("Keep this seed (the dice and Alt+wheel leave it alone)")
        self.lock.setObjectName("seed-lock")
        self.spin.setMinimumWidth(60)
        row.addWidget(self.spin, 1)
        row.addWidget(self.dice)
        row.addWidget(self.lock)
        self.spin.valueChanged.connect(self.changed)
        self.dice.clicked.connect(self.roll)
        self.lock.toggled.connect(self._on_lock)

    def roll(self) -> None:
        if not self.lock.isChecked():
            self.spin.setValue(random_seed())

    def _on_lock(self, locked: bool) -> None:
        self.dice.setEnabled(not locked)
        self.lock_changed.emit(locked)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, seed: int, locked: bool) -> None:
        for w in (self.spin, self.lock):
            w.blockSignals(True)
        self.spin.setValue(min(int(seed), SEED_MAX))
        self.lock.setChecked(bool(locked))
        self.dice.setEnabled(not locked)
        for w in (self.spin, self.lock):
            w.blockSignals(False)


class BrushDock(QWidget):
    """See the module docstring. ``features`` is the window's AiFeatures."""

    def __init__(self, features) -> None:
        super().__init__()
        self.setObjectName("ai-brush-dock")
        self.features = features
        self.window = features.window
        self.dragging = False
        self._edit = None  # the transient edit of a slider drag (one undo step on release)
        self._doc = None
        self._layer: BrushLayer | None = None

        self.title = QLabel()
        self.title.setObjectName("brush-title")
        self.state_label = QLabel()
        self.state_label.setObjectName("brush-state")
        self.state_label.setWordWrap(True)
        self.prompt = QLineEdit()
        self.prompt.setObjectName("brush-prompt")
        self.prompt.setPlaceholderText("What to paint in the region (Enter to apply)")
        self.prompt_check = PromptCheck(self.prompt)  # AND / NOT syntax errors under the box
        self.negative = QLineEdit()
        self.negative.setObjectName("brush-negative")
        self.negative.setPlaceholderText("What to avoid")
        self.seed = SeedRow()
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setObjectName("brush-strength")
        self.strength.setRange(0, 100)
        self.steps = QSpinBox()
        self.steps.setObjectName("brush-steps")
        self.steps.setRange(1, 50)
        self.guidance = QDoubleSpinBox()
        self.guidance.setObjectName("brush-guidance")
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.size = QSpinBox()
        self.size.setObjectName("brush-size")
        self.size.setRange(1, 1000)
        self.hardness = QSlider(Qt.Orientation.Horizontal)
        self.hardness.setObjectName("brush-hardness")
        self.hardness.setRange(0, 100)

        for w in (self.prompt, self.negative, self.steps, self.guidance, self.size):
            w.setMinimumWidth(60)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Prompt", self.prompt)
        form.addRow("", self.prompt_check.label)
        form.addRow("Negative", self.negative)
        form.addRow("Seed", self.seed)
        form.addRow("Strength", self.strength)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Size", self.size)
        form.addRow("Hardness", self.hardness)
        self.loras = LoraList(object_prefix="brush-lora")
        form.addRow("LoRAs", self.loras)

        self.mode_buttons: dict[str, QToolButton] = {}
        modes = QButtonGroup(self)
        tools = QGridLayout()
        for col, (mode, text, tip) in enumerate((
                ("paint", "Paint", "Paint the region"), ("erase", "Erase", "Erase from the region"),
                ("box", "Box", "Drag a box (Shift adds to the region); re-renders while you drag"))):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setObjectName(f"region-{mode}")
            b.clicked.connect(lambda _=False, m=mode: self.features.use_region_tool(m))
            modes.addButton(b)
            tools.addWidget(b, 0, col)
            self.mode_buttons[mode] = b
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear")
        self.clear_button.setObjectName("region-clear")
        self.invert_button = QToolButton()
        self.invert_button.setText("Invert")
        self.invert_button.setObjectName("region-invert")
        tools.addWidget(self.clear_button, 1, 0)
        tools.addWidget(self.invert_button, 1, 1)

        self.new_button = QPushButton("New")
        self.new_button.setToolTip("New brush layer")
        self.new_button.setObjectName("brush-new")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("brush-apply")
        self.apply_button.setToolTip("Turn the brush layer into a normal pixel layer (later brushes build on it)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.apply_button)

        hint = QLabel("Alt+mouse wheel over the canvas: next/previous seed (variant).")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray;")
        top = QVBoxLayout(self)
        top.addWidget(self.title)
        top.addLayout(form)
        top.addWidget(QLabel("Region"))
        top.addLayout(tools)
        top.addLayout(buttons)
        top.addWidget(self.state_label)
        top.addWidget(hint)
        top.addStretch(1)
        self._editors = [self.prompt, self.negative, self.seed, self.strength, self.steps, self.guidance,
                         self.loras, self.clear_button, self.invert_button, self.apply_button]

        # an invalid prompt is never submitted: the layer keeps its last valid one
        self.prompt.editingFinished.connect(
            lambda: self.prompt_check.valid and self._set("prompt", self.prompt.text()))
        self.negative.editingFinished.connect(lambda: self._set("negative_prompt", self.negative.text()))
        self.seed.changed.connect(lambda v: self._set("seed", v))
        self.seed.lock_changed.connect(lambda v: self._set("seed_locked", v))
        self.strength.valueChanged.connect(lambda v: self._set("strength", v / 100.0))
        self.steps.valueChanged.connect(lambda v: self._set("steps", v))
        self.guidance.valueChanged.connect(lambda v: self._set("guidance", v))
        self.loras.changed.connect(lambda v: self._set("loras", v))
        for slider in (self.strength,):
            slider.sliderPressed.connect(self._drag_start)
            slider.sliderReleased.connect(self._drag_end)
        tool = features.region_tool
        self.size.setValue(int(tool.size))
        self.hardness.setValue(int(tool.hardness * 100))
        self.size.valueChanged.connect(lambda v: setattr(tool, "size", float(v)))
        self.hardness.valueChanged.connect(lambda v: setattr(tool, "hardness", v / 100.0))
        self.clear_button.clicked.connect(self.clear_region)
        self.invert_button.clicked.connect(self.invert_region)
        self.new_button.clicked.connect(features.new_brush_layer)
        self.apply_button.clicked.connect(features.apply_brush_layer)
        self.window.session.document_replaced.connect(self._attach)
        self._attach(self.window.session.document)

    # ------------------------------------------------------------------ document
    def _attach(self, doc) -> None:
        if self._doc is not None:
            self._doc.events.active_changed.disconnect(self._on_active)
            self._doc.events.layer_changed.disconnect(self._on_layer_changed)
        self._doc = doc
        doc.events.active_changed.connect(self._on_active)
        doc.events.layer_changed.connect(self._on_layer_changed)
        self._on_active(doc.active_layer)

    def _on_active(self, layer) -> None:
        self._layer = layer if isinstance(layer, BrushLayer) else None
        self.refresh()

    def _on_layer_changed(self, layer, name) -> None:
        if layer is self._layer and name in ("params", "state", "error", "name", "region"):
            self.refresh()

    def refresh(self) -> None:
        layer = self._layer
        for w in self._editors:
            w.setEnabled(layer is not None)
        if layer is None:
            self.title.setText("No brush layer selected")
            self.state_label.setText("")
            return
        p = layer.params
        self.title.setText(f"<b>{layer.name}</b>")
        widgets = (self.prompt, self.negative, self.strength, self.steps, self.guidance)
        for w in widgets:
            w.blockSignals(True)
        if not self.prompt.hasFocus() or self.prompt.text() == p.prompt:
            self.prompt.setText(p.prompt)
        if not self.negative.hasFocus():
            self.negative.setText(p.negative_prompt)
        if not self.dragging:
            self.strength.setValue(round(p.strength * 100))
        self.steps.setValue(p.steps)
        self.guidance.setValue(p.guidance)
        for w in widgets:
            w.blockSignals(False)
        self.prompt_check.recheck()
        self.seed.set_value(p.seed, p.seed_locked)
        self.loras.set_loras(p.loras)
        text = {"stale": "Waiting to render…", "rendering": "Rendering…", "done": "Up to date",
                "error": user_message(layer.error_kind, layer.error)}[layer.state]
        if layer.region is None or not layer.region.any():
            text = "Paint or box a region to edit."
        self.state_label.setText(text)

    # ------------------------------------------------------------------ edits
    def _set(self, field: str, value) -> None:
        layer = self._layer
        if layer is None or layer.document is not self._doc:
            return
        try:
            params = layer.params.replace(**{field: value})
        except ValueError as exc:
            self.window.show_error("Diffusion brush", str(exc))
            self.refresh()
            return
        if params == layer.params:
            return
        edit = self._edit
        if edit is not None and edit.active and edit.layer is layer:
            edit.set("params", params)  # live (the brush previews it), recorded on release
            return
        self._doc.set_layer_property(layer, "params", params, merge_key=("ai-brush", field, layer.id),
                                     label=f"{layer.name}: {field.replace('_', ' ')}")

    def _drag_start(self) -> None:
        self.dragging = True
        layer = self._layer
        if layer is not None and layer.document is self._doc:
            self._edit = self._doc.history.transient(layer, label=f"{layer.name}: strength")

    def _drag_end(self) -> None:
        self.dragging = False
        edit, self._edit = self._edit, None
        if edit is not None:
            edit.commit()  # one step from before the drag to where it ended, none if unchanged
        self._doc.history.break_merge()
        self.features.controller.finish_previews()

    def clear_region(self) -> None:
        layer = self._layer
        if layer is not None and layer.region is not None and layer.region.any():
            d = self._doc
            d.set_layer_property(layer, "region", np.zeros((d.height, d.width), np.uint8), label="Clear brush region")

    def invert_region(self) -> None:
        layer = self._layer
        if layer is None:
            return
        d = self._doc
        region = layer.region if layer.region is not None else np.zeros((d.height, d.width), np.uint8)
        d.set_layer_property(layer, "region", 255 - region, label="Invert brush region")
