"""Every question the window asks the user, in one replaceable object.

The window never calls QMessageBox/QFileDialog directly: it calls ``window.dialogs``.
Tests and scripted sessions pass their own object with the same methods, so no
modal dialog blocks an automated run.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
    QWidget,
)

OPEN_FILTER = ("Images and projects (*.ora *.psd *.psb *.png *.jpg *.jpeg *.webp *.tif *.tiff);;"
               "OpenRaster (*.ora);;Photoshop (*.psd *.psb);;All files (*)")
SAVE_FILTER = "OpenRaster (*.ora);;Photoshop (*.psd);;PNG (*.png);;JPEG (*.jpg);;WebP (*.webp);;TIFF (*.tif)"
IMAGE_FILTER = "PNG (*.png);;JPEG (*.jpg);;WebP (*.webp);;TIFF (*.tif)"


class Dialogs:
    """Modal Qt dialogs parented to ``parent``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)

    def info(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def ask_save_changes(self, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        answer = QMessageBox.question(
            self.parent, "Unsaved changes", f"Save the changes to {name} before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    def ask_recover(self, entries) -> bool:
        """Offer to restore autosaved documents after a crash."""
        names = "\n".join(f"• {e.title}" for e in entries[:8])
        answer = QMessageBox.question(
            self.parent, "Recover documents",
            f"Layerbrush did not close cleanly. Recover the autosaved work?\n\n{names}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def open_path(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open", "", OPEN_FILTER)
        return Path(path) if path else None

    def open_paths(self, title: str = "Import as layers") -> list[Path]:
        paths, _ = QFileDialog.getOpenFileNames(self.parent, title, "", OPEN_FILTER)
        return [Path(p) for p in paths]

    def save_path(self, title: str = "Save as", suggested: str = "", file_filter: str = SAVE_FILTER) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, file_filter)
        return Path(path) if path else None

    def ask_new_size(self, width: int, height: int, note: str = "") -> tuple[int, int] | None:
        """The size of a new image, suggesting ``width`` x ``height`` (``note`` says why)."""
        dlg = QDialog(self.parent)
        dlg.setWindowTitle("New image")
        w, h = QSpinBox(), QSpinBox()
        for spin, value in ((w, width), (h, height)):
            spin.setRange(1, 16384)
            spin.setValue(value)
            spin.setSuffix(" px")
        form = QFormLayout(dlg)
        form.addRow("Width", w)
        form.addRow("Height", h)
        if note:
            label = QLabel(note)
            label.setWordWrap(True)
            label.setStyleSheet("color: gray;")
            form.addRow(label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dlg.accept)
        buttons.rejected.connect(dlg.reject)
        form.addRow(buttons)
        return (w.value(), h.value()) if dlg.exec() == QDialog.DialogCode.Accepted else None
