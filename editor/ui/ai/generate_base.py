"""The "Generate base" dialog: a picture from a prompt and seed, as a new layer or a new
document. Brush layers painted on it later follow its true denoising trajectory."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit,
                               QProgressBar, QSpinBox, QVBoxLayout)

from editor.core.document import Document
from editor.core.layers import RasterLayer
from editor.core.params import BaseParams
from editor.engine.requests import GenerateRequest

from .. import layer_ops
from .brush_dock import SeedRow
from .error_text import user_message
from .imaging import base_size, fit, snap
from .prompt_check import PromptCheck
from .lora_list import LoraList

KEY = ("gen", "base")


class GenerateBaseDialog(QDialog):
    """Non-modal: Generate starts the job, the result lands when it finishes."""

    def __init__(self, features) -> None:
        super().__init__(features.window)
        self.setObjectName("ai-generate-base")
        self.setWindowTitle("Generate base image")
        self.features = features
        self.window = features.window
        self.controller = features.controller
        self.running: dict | None = None
        doc = self.window.session.document
        self.prompt = QLineEdit()
        self.prompt.setObjectName("base-prompt")
        self.prompt_check = PromptCheck(self.prompt)
        self.negative = QLineEdit()
        self.negative.setObjectName("base-negative")
        self.seed = SeedRow()
        self.steps = QSpinBox()
        self.steps.setObjectName("base-steps")
        self.steps.setRange(1, 100)
        self.steps.setValue(20)
        self.guidance = QDoubleSpinBox()
        self.guidance.setObjectName("base-guidance")
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setValue(7.5)
        self.width_box = QSpinBox()
        self.width_box.setObjectName("base-width")
        self.height_box = QSpinBox()
        self.height_box.setObjectName("base-height")
        for box in (self.width_box, self.height_box):
            box.setRange(64, 4096)
        self._set_default_size()
        self.new_document = QCheckBox("As a new document")
        self.new_document.setObjectName("base-new-document")
        self.size_note = QLabel()
        self.size_note.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        form = QFormLayout()
        form.addRow("Prompt", self.prompt)
        form.addRow("", self.prompt_check.label)
        form.addRow("Negative", self.negative)
        form.addRow("Seed", self.seed)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        self.loras = LoraList(object_prefix="base-lora")
        form.addRow("LoRAs", self.loras)
        form.addRow("", self.new_document)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.generate_button = self.buttons.addButton("Generate", QDialogButtonBox.ButtonRole.ActionRole)
        self.generate_button.setObjectName("base-generate")
        self.generate_button.clicked.connect(self.generate)
        self.buttons.rejected.connect(self._cancel_or_close)
        top = QVBoxLayout(self)
        top.addLayout(form)
        top.addWidget(self.size_note)
        top.addWidget(self.progress)
        top.addWidget(self.buttons)
        for box in (self.width_box, self.height_box):
            box.valueChanged.connect(self._update_note)
            box.editingFinished.connect(self._mark_chosen)
        self.new_document.toggled.connect(self._update_note)
        self._size_chosen = False  # True once the user typed a size: a model load leaves it alone
        self._update_note()
        self.controller.model_loaded.connect(self._on_model_loaded)
        self.controller.job_finished.connect(self._on_finished)
        self.controller.job_failed.connect(self._on_failed)
        self.controller.job_progress.connect(self._on_progress)
        self.controller.job_cancelled.connect(self._on_cancelled)

    def _set_default_size(self) -> None:
        """The model's own size, in the document's proportions (the document's size until a
        model has loaded): a 256 px model asked for 1024x768 repeats itself across the picture."""
        doc = self.window.session.document
        w, h = base_size(doc.width, doc.height, self.features.native_size())
        self.width_box.setValue(w)
        self.height_box.setValue(h)

    def _mark_chosen(self) -> None:
        self._size_chosen = True

    def _on_model_loaded(self, _source: str) -> None:
        if not self._size_chosen and self.running is None:
            self._set_default_size()
            self._update_note()

    def _update_note(self) -> None:
        w, h = self.width_box.value(), self.height_box.value()
        gw, gh = snap(w, 8), snap(h, 8)
        notes = []
        native = self.features.native_size()
        if native is None:
            notes.append("The model has not loaded yet: its own size is not known.")
        elif max(gw, gh) > 1.5 * native:
            notes.append(f"{self.features.model_title().capitalize()} works at {native} px; a much larger "
                         "picture may come out repeated or broken.")
        else:
            notes.append(f"{self.features.model_title().capitalize()} works at {native} px.")
        if (gw, gh) != (w, h):
            notes.append(f"Generated at {gw}×{gh}, then scaled to {w}×{h}.")
        doc = self.window.session.document
        if not self.new_document.isChecked() and (w, h) != (doc.width, doc.height):
            notes.append(f"The new layer is scaled to the document's {doc.width}×{doc.height}.")
        self.size_note.setText(" ".join(notes))

    def generate(self) -> bool:
        if not self.prompt.text().strip():
            self.window.show_message("Type a prompt first")
            return False
        if not self.prompt_check.valid:
            self.window.show_message(self.prompt_check.error)
            self.prompt.setFocus()
            return False
        w, h = self.width_box.value(), self.height_box.value()
        self.running = {"w": w, "h": h, "new": self.new_document.isChecked(), "prompt": self.prompt.text(),
                        "negative": self.negative.text(), "seed": self.seed.value(), "steps": self.steps.value(),
                        "guidance": self.guidance.value(), "loras": self.loras.loras()}
        self.controller.generate(KEY, GenerateRequest(prompt=self.prompt.text(), width=snap(w, 8), height=snap(h, 8),
                                                      seed=self.seed.value(), steps=self.steps.value(),
                                                      guidance=self.guidance.value(),
                                                      negative_prompt=self.negative.text(),
                                                      loras=tuple(self.loras.loras())))
        self.generate_button.setEnabled(False)
        self.progress.setRange(0, 0)
        return True

    def _cancel_or_close(self) -> None:
        if self.running is not None:
            self.controller.cancel(KEY)
        else:
            self.close()

    def _reset(self) -> None:
        self.running = None
        self.generate_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    def _on_progress(self, key, step, total) -> None:
        if key == KEY and total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(step)

    def _on_cancelled(self, key) -> None:
        if key == KEY:
            self._reset()

    def _on_failed(self, key, message, kind=None) -> None:
        if key == KEY:
            self._reset()
            self.window.show_error("Generate base image", user_message(kind, message))

    def _on_finished(self, key, result) -> None:
        if key != KEY or self.running is None:
            return
        run, self.running = self.running, None
        self._reset()
        raw = np.asarray(result)
        rgba = fit(raw, run["w"], run["h"])
        name = f"Base: {run['prompt'][:24]}"
        # Unscaled pictures keep how they were made: brushes rebuild the true trajectory from it.
        made = BaseParams(prompt=run["prompt"], negative_prompt=run["negative"], seed=run["seed"],
                          steps=run["steps"], guidance=run["guidance"], width=raw.shape[1], height=raw.shape[0],
                          loras=run["loras"])
        win = self.window
        if run["new"]:
            if not win.confirm_discard():
                return
            doc = Document(run["w"], run["h"])
            layer = RasterLayer(name, rgba, generated_from=made if rgba.shape == raw.shape else None)
            doc.root._insert(0, layer)
            doc.active_layer = layer
            win._replace(doc, None)
        else:
            doc = win.session.document
            rgba = fit(rgba, doc.width, doc.height)
            layer = RasterLayer(layer_ops.unique_name(doc, name), rgba,
                                generated_from=made if rgba.shape == raw.shape else None)
            parent, index = layer_ops._insert_point(doc)
            doc.add_layer(layer, parent, index, label="Generate base image")
        self.close()
