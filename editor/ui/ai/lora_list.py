"""A list of LoRA files with weights (add file…, weight, remove), shared by the brush dock and
the generate dialogs. It holds no model state: ``changed`` hands out the new list as
``((path, weight), ...)``, which the owner stores (a brush layer's params, a dialog's request).
"""
from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QToolButton,
                               QVBoxLayout, QWidget)

LORA_FILTER = "LoRA files (*.safetensors)"
WEIGHT_RANGE = (-5.0, 5.0)


class LoraList(QWidget):
    changed = Signal(tuple)

    def __init__(self, parent=None, object_prefix: str = "lora") -> None:
        super().__init__(parent)
        self.setObjectName(f"{object_prefix}-list")
        self._prefix = object_prefix
        self._items: tuple[tuple[str, float], ...] = ()
        #: asks for a file (tests replace it: modal dialogs cannot be clicked offscreen)
        self.pick_file = lambda: QFileDialog.getOpenFileName(self, "Add a LoRA", "", LORA_FILTER)[0]
        self.rows = QVBoxLayout()
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add LoRA…")
        self.add_button.setObjectName(f"{object_prefix}-add")
        self.add_button.setToolTip("Merge a LoRA (.safetensors, diffusers or kohya format) into the model for this")
        self.add_button.clicked.connect(self.add_from_dialog)
        top = QVBoxLayout(self)
        top.setContentsMargins(0, 0, 0, 0)
        top.addLayout(self.rows)
        top.addWidget(self.add_button)
        self.weights: list[QDoubleSpinBox] = []
        self.remove_buttons: list[QToolButton] = []

    def loras(self) -> tuple[tuple[str, float], ...]:
        return self._items

    def set_loras(self, items) -> None:
        """Show ``items`` without emitting ``changed``."""
        items = tuple((str(p), float(w)) for p, w in items)
        if items == self._items and len(self.weights) == len(items):
            return
        self._items = items
        self._rebuild()

    def add_from_dialog(self) -> None:
        path = self.pick_file()
        if path:
            self._emit(self._items + ((str(path), 1.0),))

    def _emit(self, items) -> None:
        self.set_loras(items)
        self.changed.emit(self._items)

    def _rebuild(self) -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
        self.weights, self.remove_buttons = [], []
        for i, (path, weight) in enumerate(self._items):
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            name = QLabel(os.path.basename(path))
            name.setToolTip(path)
            spin = QDoubleSpinBox()
            spin.setObjectName(f"{self._prefix}-weight-{i}")
            spin.setRange(*WEIGHT_RANGE)
            spin.setSingleStep(0.1)
            spin.setDecimals(2)
            spin.setValue(weight)
            spin.setToolTip("LoRA weight (1: as trained, 0: off, negative: the opposite)")
            spin.valueChanged.connect(lambda v, i=i: self._set_weight(i, v))
            remove = QToolButton()
            remove.setText("×")
            remove.setObjectName(f"{self._prefix}-remove-{i}")
            remove.setToolTip("Remove this LoRA")
            remove.clicked.connect(lambda _=False, i=i: self._remove(i))
            line.addWidget(name, 1)
            line.addWidget(spin)
            line.addWidget(remove)
            self.rows.addWidget(row)
            self.weights.append(spin)
            self.remove_buttons.append(remove)

    def _set_weight(self, index: int, value: float) -> None:
        items = list(self._items)
        items[index] = (items[index][0], round(float(value), 2))
        self._items = tuple(items)  # the row stays: no rebuild while the spin box is in use
        self.changed.emit(self._items)

    def _remove(self, index: int) -> None:
        self._emit(self._items[:index] + self._items[index + 1:])
