"""Layer > AI > Document LoRAs…: the document's LoRA list, which new brush layers, AI verbs and
the generate dialogs start from (each layer keeps its own copy, so changing the list later
re-renders nothing)."""
from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

from .lora_list import LoraList


class DocumentLorasDialog(QDialog):
    """A LoraList of the document's defaults; OK sets them as one undo step."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.setWindowTitle("Document LoRAs")
        self.setObjectName("document-loras-dialog")
        note = QLabel("New AI layers and generations in this document start with these LoRAs. "
                      "Layers made earlier keep their own.")
        note.setWordWrap(True)
        self.loras = LoraList(object_prefix="doc-lora")
        self.loras.set_loras(window.session.document.default_loras)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(self.loras)
        lay.addWidget(self.buttons)

    def accept(self) -> None:
        self.window.session.document.set_default_loras(self.loras.loras())
        super().accept()


def open_document_loras(window) -> DocumentLorasDialog:
    dialog = DocumentLorasDialog(window)
    dialog.show()
    return dialog
