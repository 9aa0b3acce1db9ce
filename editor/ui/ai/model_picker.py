"""Pick the diffusion model: the bundled demo, a hub id, a diffusers folder or a single
.safetensors file. The choice is remembered (see config.py); a download shows progress
and can be cancelled. A one-time hint offers a real model on first run."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFrame, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QRadioButton, QVBoxLayout, QWidget)

from .config import DEMO_SOURCE

#: (source, title, note). Sizes are the download of the fp16 weights a GPU uses; on a CPU
#: the fp32 weights are fetched, about twice as much.
PRESETS = (
    (DEMO_SOURCE, "Demo (tiny, offline)", "Bundled; no download. Rough pictures, for trying the editor."),
    ("stabilityai/sd-turbo", "SD-Turbo (fast, for live brushes)",
     "About 2.6 GB download (5.2 GB on CPU). Few-step model: the quickest live rendering."),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "Stable Diffusion 1.5 (quality, transparent layers)",
     "About 2.1 GB download (4.3 GB on CPU). Works with LayerDiffuse transparent layers."),
)
MODEL_FILTER = "Safetensors checkpoints (*.safetensors)"
COMPILE_HINT = ("Brush edits about 1.6x faster; the first render at each picture size compiles for about a "
                "minute (later sessions are quicker: compiled kernels are cached).")


class ModelPickerDialog(QDialog):
    """Non-modal; ``choose()`` applies the selection (the OK button calls it)."""

    def __init__(self, features) -> None:
        super().__init__(features.window)
        self.setObjectName("ai-model-picker")
        self.setWindowTitle("Diffusion model")
        self.features = features
        current = features.config.effective_model
        self.group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        top = QVBoxLayout(self)
        top.addWidget(QLabel(f"Current model: <b>{current}</b>"))
        for source, title, note in PRESETS:
            r = QRadioButton(title)
            r.setObjectName(f"model-{source.replace('/', '-')}")
            self.group.addButton(r)
            self.radios[source] = r
            top.addWidget(r)
            hint = QLabel(note)
            hint.setWordWrap(True)
            hint.setStyleSheet("color: gray; margin-left: 22px;")
            top.addWidget(hint)
        self.custom_radio = QRadioButton("Other: hub id, folder or .safetensors file")
        self.custom_radio.setObjectName("model-custom")
        self.group.addButton(self.custom_radio)
        top.addWidget(self.custom_radio)
        self.custom = QLineEdit()
        self.custom.setObjectName("model-custom-text")
        self.custom.setPlaceholderText("owner/name, /path/to/diffusers-folder or /path/to/model.safetensors")
        self.custom.textEdited.connect(lambda _t: self.custom_radio.setChecked(True))
        folder_btn = QPushButton("Folder…")
        file_btn = QPushButton("File…")
        folder_btn.clicked.connect(self._pick_folder)
        file_btn.clicked.connect(self._pick_file)
        row = QHBoxLayout()
        row.addWidget(self.custom, 1)
        row.addWidget(folder_btn)
        row.addWidget(file_btn)
        top.addLayout(row)
        self.compile_box = QCheckBox("Compile for speed (NVIDIA GPUs)")
        self.compile_box.setObjectName("model-compile")
        self.compile_box.setToolTip("Compiles the model with torch.compile: brush edits render about 1.6x "
                                    "faster, but the first render at each picture size takes about a minute.")
        self.compile_box.setChecked(features.config.compile)
        top.addWidget(self.compile_box)
        self.compile_hint = compile_hint = QLabel(COMPILE_HINT)
        compile_hint.setObjectName("model-compile-hint")
        compile_hint.setWordWrap(True)
        compile_hint.setStyleSheet("color: gray; margin-left: 22px;")
        top.addWidget(compile_hint)
        # Offered only where it helps: until the engine says CUDA is there, it is off.
        self.compile_box.setEnabled(False)
        features.accelerator_known.connect(self._on_accelerator)
        if features.accelerator is not None:
            self._on_accelerator(features.accelerator)
        else:
            compile_hint.setText("Checking for an NVIDIA GPU…")
            features.check_accelerator()
        self.memory_label = QLabel(features.memory_status())
        self.memory_label.setObjectName("model-memory-mode")
        self.memory_label.setWordWrap(True)
        self.memory_label.setToolTip("Change it in Edit > Preferences > GPU memory.")
        top.addWidget(self.memory_label)
        features.controller.model_loaded.connect(self._show_memory)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.choose)
        buttons.rejected.connect(self.close)
        top.addWidget(buttons)
        if current in self.radios:
            self.radios[current].setChecked(True)
        else:
            self.custom_radio.setChecked(True)
            self.custom.setText(current)

    def _show_memory(self, _source=None) -> None:
        self.memory_label.setText(self.features.memory_status())

    def _on_accelerator(self, info: dict) -> None:
        if info.get("cuda"):
            self.compile_box.setEnabled(True)
            self.compile_hint.setText(COMPILE_HINT)
        else:
            self.compile_box.setChecked(False)
            self.compile_box.setEnabled(False)
            self.compile_hint.setText("Not available here: compiling needs an NVIDIA GPU (CUDA), and this "
                                      "machine has none, so the model runs as it is.")

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Diffusers model folder")
        if path:
            self.custom.setText(path)
            self.custom_radio.setChecked(True)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model checkpoint", "", MODEL_FILTER)
        if path:
            self.custom.setText(path)
            self.custom_radio.setChecked(True)

    def selected_source(self) -> str:
        if self.custom_radio.isChecked():
            return self.custom.text().strip()
        for source, radio in self.radios.items():
            if radio.isChecked():
                return source
        return DEMO_SOURCE

    def choose(self) -> bool:
        source = self.selected_source()
        if not source:
            self.features.window.show_error("Diffusion model", "Type a hub id (owner/name), a folder or a "
                                            ".safetensors file, or pick one of the models above.")
            return False
        self.features.choose_model(source, compile=self.compile_box.isEnabled() and self.compile_box.isChecked())
        self.close()
        return True


class LoadProgressDialog(QDialog):
    """Shows a model download/load; Cancel stops it. ``finished_loading(outcome)``:
    "loaded", "failed" or "cancelled" (also kept in ``outcome``)."""

    finished_loading = Signal(str)

    def __init__(self, features, source: str) -> None:
        super().__init__(features.window)
        self.setObjectName("ai-model-progress")
        self.setWindowTitle("Loading model")
        self.features = features
        self.label = QLabel(f"Loading {source}…")
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.cancel)
        top = QVBoxLayout(self)
        top.addWidget(self.label)
        top.addWidget(self.bar)
        top.addWidget(buttons)
        c = features.controller
        c.model_progress.connect(self._on_progress)
        c.model_loaded.connect(self._on_loaded)
        c.model_failed.connect(self._on_failed)
        c.job_cancelled.connect(self._on_cancelled)
        self.outcome: str | None = None

    def _disconnect(self) -> None:
        c = self.features.controller
        for sig, slot in ((c.model_progress, self._on_progress), (c.model_loaded, self._on_loaded),
                          (c.model_failed, self._on_failed), (c.job_cancelled, self._on_cancelled)):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    def _on_progress(self, done_kib: int, total_kib: int) -> None:
        self.bar.setRange(0, max(total_kib, 1))
        self.bar.setValue(min(done_kib, total_kib))
        self.label.setText(f"Downloading: {done_kib / 1024:.0f} of {total_kib / 1024:.0f} MB")

    def _on_loaded(self, source: str) -> None:
        self.outcome = "loaded"
        self._disconnect()
        self.finished_loading.emit("loaded")
        self.features.window.show_message(f"Model ready: {source}")
        self.close()

    def _on_failed(self, source: str, message: str) -> None:
        self.outcome = "failed"
        self._disconnect()
        self.finished_loading.emit("failed")
        self.close()
        self.features.window.show_error("Cannot load the model", message)

    def _on_cancelled(self, key) -> None:
        from editor.worker.diffusion import MODEL_KEY

        if key == MODEL_KEY:
            self.outcome = "cancelled"
            self._disconnect()
            self.finished_loading.emit("cancelled")
            self.features.window.show_message("Model download cancelled")
            self.close()

    def cancel(self) -> None:
        self.features.controller.cancel_model_load()


class FirstRunBanner(QFrame):
    """A dismissible status-bar note offering a real model (shown once)."""

    def __init__(self, features) -> None:
        super().__init__()
        self.setObjectName("ai-first-run")
        self.features = features
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        self.label = QLabel("Using the tiny demo model. For real pictures get SD-Turbo (about 2.6 GB, live speed) "
                            "or Stable Diffusion 1.5 (about 2.1 GB, quality).")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.choose = QPushButton("Choose model…")
        self.choose.setObjectName("first-run-choose")
        self.close_button = QPushButton("×")
        self.close_button.setObjectName("first-run-dismiss")
        self.close_button.setFlat(True)
        self.close_button.setFixedWidth(24)
        row.addWidget(self.label, 1)
        row.addWidget(self.choose)
        row.addWidget(self.close_button)
        self.choose.clicked.connect(self._choose)
        self.close_button.clicked.connect(self.dismiss)

    def _choose(self) -> None:
        self.dismiss()
        self.features.open_model_picker()

    def dismiss(self) -> None:
        self.features.window.statusBar().removeWidget(self)
        self.hide()
        self.deleteLater()


def first_run_banner(features) -> QWidget | None:
    """Show the banner once (when no model was ever chosen); remembers that it was shown."""
    cfg = features.config
    if cfg.first_run_hint_shown or cfg.model:
        return None
    banner = FirstRunBanner(features)
    features.window.statusBar().addWidget(banner, 1)
    cfg.first_run_hint_shown = True
    features.save_config()
    return banner
