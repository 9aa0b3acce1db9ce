"""Editor preferences remembered between runs, and the Preferences dialog (Edit menu).

Stored as JSON in ``preferences.json`` in the same folder as the AI settings
(``platformdirs.user_config_dir("layerbrush")``, or ``LAYERBRUSH_CONFIG_DIR``). A missing
or damaged file gives the defaults (a damaged one is named in the log).
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout

from .ai.config import config_folder

log = logging.getLogger(__name__)

FILE_NAME = "preferences.json"
#: The longest autosave interval offered (minutes).
MAX_AUTOSAVE_MINUTES = 120.0
#: GPU memory modes (editor.engine.memory; kept here as plain strings: the ui imports no engine)
MEMORY_MODES = {"auto": "Automatic (from free GPU memory)", "full": "All on the GPU (fastest)",
                "model_offload": "Model offload to the CPU (e.g. SDXL on 8 GB)",
                "sequential_offload": "Sequential offload (least GPU memory, slow)"}


@dataclass
class Preferences:
    #: minutes between crash-recovery snapshots of a modified document; 0 turns autosave off
    autosave_minutes: float = 3.0
    #: where the model's weights live: "auto" or a forced mode of MEMORY_MODES
    memory_mode: str = "auto"

    @property
    def autosave_ms(self) -> int:
        return int(round(self.autosave_minutes * 60_000))


def preferences_path(folder: str | Path | None = None) -> Path:
    return config_folder(folder) / FILE_NAME


def load_preferences(folder: str | Path | None = None) -> Preferences:
    path = preferences_path(folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read the preferences (%s); using defaults", path, exc)
        return Preferences()
    minutes = data.get("autosave_minutes") if isinstance(data, dict) else None
    if (isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes)
            or not 0 <= minutes <= MAX_AUTOSAVE_MINUTES):
        log.warning("%s: 'autosave_minutes' must be a number of minutes from 0 to %g; using %g",
                    path, MAX_AUTOSAVE_MINUTES, Preferences.autosave_minutes)
        return Preferences()
    memory = data.get("memory_mode", "auto")
    if memory not in MEMORY_MODES:
        log.warning("%s: 'memory_mode' must be one of %s; using auto", path, ", ".join(MEMORY_MODES))
        memory = "auto"
    return Preferences(autosave_minutes=float(minutes), memory_mode=memory)


def save_preferences(prefs: Preferences, folder: str | Path | None = None) -> Path:
    path = preferences_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(prefs), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


class PreferencesDialog(QDialog):
    """Autosave interval (0: off). ``accepted`` means the values in ``preferences()`` apply."""

    def __init__(self, prefs: Preferences, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("preferences-dialog")
        self.setWindowTitle("Preferences")
        self.autosave = QDoubleSpinBox()
        self.autosave.setObjectName("pref-autosave-minutes")
        self.autosave.setRange(0.0, MAX_AUTOSAVE_MINUTES)
        self.autosave.setDecimals(1)
        self.autosave.setSingleStep(1.0)
        self.autosave.setSuffix(" min")
        self.autosave.setSpecialValueText("Off")
        self.autosave.setValue(prefs.autosave_minutes)
        note = QLabel("A modified document is snapshotted this often for crash recovery; "
                      "the snapshot is deleted when you save or close it.")
        note.setWordWrap(True)
        self.memory = QComboBox()
        self.memory.setObjectName("pref-memory-mode")
        for key, text in MEMORY_MODES.items():
            self.memory.addItem(text, key)
        self.memory.setCurrentIndex(max(0, self.memory.findData(prefs.memory_mode)))
        self.memory.setToolTip("Where the diffusion model's weights live; applies when a model loads. "
                               "Offloading lets large models run on small GPUs, at some speed.")
        form = QFormLayout()
        form.addRow("Autosave every:", self.autosave)
        form.addRow("GPU memory:", self.memory)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        top = QVBoxLayout(self)
        top.addLayout(form)
        top.addWidget(note)
        top.addWidget(buttons)

    def preferences(self) -> Preferences:
        return Preferences(autosave_minutes=round(self.autosave.value(), 1),
                           memory_mode=str(self.memory.currentData()))
