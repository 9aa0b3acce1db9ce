"""Getting LayerDiffuse (transparency) weights from the Generate Layer panel.

Two ways, offered next to the matte fallback when the current model family has none:

* download from the hub repository: the licence and the download size are shown in
  a confirmation first (``window.dialogs.ask_download_weights`` when the dialogs
  object has it, so tests answer without a modal box); the download runs in the
  engine thread with a cancellable progress dialog;
* a folder of local files (``window.dialogs.weights_folder``, else a QFileDialog),
  checked with the strict loader and remembered per model family in the AI config.

Everything that touches the engine runs as a worker job; this module never imports it.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QMessageBox, QProgressBar,
                               QVBoxLayout)

STATUS_KEY = ("gen", "weights-status")
DOWNLOAD_KEY = ("gen", "weights-download")
VALIDATE_KEY = ("gen", "weights-validate")
DOWNLOAD_LABEL = "Download transparency weights…"
LOCAL_LABEL = "Use local weight files…"


def format_size(n_bytes: int | None) -> str:
    if not n_bytes:
        return "unknown size"
    return f"{n_bytes / 1e6:,.0f} MB" if n_bytes < 1e9 else f"{n_bytes / 1e9:.2f} GB"


def licence_question(info: dict) -> str:
    """The confirmation text: what is downloaded, from where, its size and its licence."""
    missing = info.get("missing") or []
    sizes = [size for _role, _name, size in missing]
    total = sum(sizes) if sizes and all(sizes) else None
    files = "\n".join(f"• {name} ({format_size(size)})" for _role, name, size in missing)
    pinned = info.get("pinned")
    commit = f" at the pinned commit {pinned[:7]}" if pinned else ""
    return (f"Download the LayerDiffuse transparency weights for {info['family']} models from the "
            f"Hugging Face repository {info['repo']}{commit}?\n\n{files}\n\nDownload size: "
            f"{format_size(total) if total else 'unknown'}\n\nLicence: {info['licence_name']}\n"
            f"{info['licence_url']}\n\nBy downloading you accept this licence.")


class WeightsProgressDialog(QDialog):
    """Progress of a weights download; Cancel stops it (a later download resumes)."""

    def __init__(self, parent, cancel) -> None:
        super().__init__(parent)
        self.setObjectName("ai-weights-progress")
        self.setWindowTitle("Downloading transparency weights")
        self.label = QLabel("Starting the download…")
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(cancel)
        top = QVBoxLayout(self)
        top.addWidget(self.label)
        top.addWidget(self.bar)
        top.addWidget(buttons)

    def set_progress(self, done_kib: int, total_kib: int) -> None:
        self.bar.setRange(0, max(total_kib, 1))
        self.bar.setValue(min(done_kib, total_kib))
        self.label.setText(f"Downloading: {done_kib / 1024:.0f} of {total_kib / 1024:.0f} MB")


class WeightsManager(QObject):
    """The panel's weights actions; ``changed(info)`` after each availability check."""

    changed = Signal(object)

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.features = panel.features
        self.window = panel.window
        self.controller = panel.controller
        self.info: dict | None = None  # the last status answer
        self.progress_dialog: WeightsProgressDialog | None = None
        self._pending_folder: str | None = None
        c = self.controller
        c.job_finished.connect(self._on_finished)
        c.job_failed.connect(self._on_failed)
        c.job_progress.connect(self._on_progress)
        c.job_cancelled.connect(self._on_cancelled)

    # ------------------------------------------------------------------ state
    def folder_for(self, family: str | None) -> str | None:
        """The local folder picked for ``family`` (None: the default folder and the hub cache)."""
        return self.features.config.layerdiffuse_dirs.get(family) if family else None

    def refresh(self, mode: str = "rgba") -> None:
        """Ask the engine whether ``mode`` can run natively; the answer arrives as ``changed``."""
        self.controller.run_weights_job(STATUS_KEY, "status", mode=mode,
                                        folders=dict(self.features.config.layerdiffuse_dirs))

    # ------------------------------------------------------------------ download
    def download(self) -> bool:
        """Confirm the licence and size, then download in the engine thread. False if declined."""
        info = self.info
        if info is None or not info.get("downloadable"):
            self.window.show_message("Nothing to download for this model")
            return False
        ask = getattr(self.window.dialogs, "ask_download_weights", None) or self._ask_download
        if not ask("Download transparency weights", licence_question(info)):
            self.window.show_message("Download cancelled: nothing was downloaded")
            return False
        self.progress_dialog = WeightsProgressDialog(self.window, self.cancel_download)
        self.progress_dialog.show()
        self.controller.run_weights_job(DOWNLOAD_KEY, "download", family=info["family"],
                                        roles=[role for role, _name, _size in info["missing"]])
        self.panel.status.setText("Downloading transparency weights…")
        return True

    def cancel_download(self) -> None:
        self.controller.cancel(DOWNLOAD_KEY)

    def _ask_download(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.window, title, text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _close_progress(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    # ------------------------------------------------------------------ local files
    def use_local(self) -> bool:
        """Pick a folder of weight files; it is checked in the engine thread before it is kept."""
        pick = getattr(self.window.dialogs, "weights_folder", None) or self._pick_folder
        folder = pick()
        if not folder:
            return False
        self._pending_folder = str(Path(folder).expanduser())
        self.controller.run_weights_job(VALIDATE_KEY, "validate", folder=self._pending_folder)
        self.panel.status.setText(f"Checking the weight files in {self._pending_folder}…")
        return True

    def _pick_folder(self) -> str | None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder with LayerDiffuse weight files")
        return folder or None

    # ------------------------------------------------------------------ job results
    def _mode(self) -> str:
        req = self.panel.last_request
        return self.panel.weights_mode(req) if req is not None and not req.fallback else "rgba"

    def _on_finished(self, key, result) -> None:
        if key == STATUS_KEY:
            self.info = result
            self.changed.emit(result)
        elif key == DOWNLOAD_KEY:
            self._close_progress()
            family = self.info["family"] if self.info else None
            if family and self.features.config.layerdiffuse_dirs.pop(family, None) is not None:
                self.features.save_config()  # the downloaded files replace a picked folder
            self.window.show_message(f"Transparency weights downloaded to {result}")
            self.refresh(self._mode())
        elif key == VALIDATE_KEY:
            folder, self._pending_folder = self._pending_folder, None
            if folder:
                self.features.config.layerdiffuse_dirs[result["family"]] = folder
                self.features.save_config()
                self.window.show_message(f"Using the weight files in {folder} ({', '.join(result['roles'])})")
            self.refresh(self._mode())

    def _on_failed(self, key, message: str) -> None:
        if key == STATUS_KEY:
            self.panel.status.setText(f"Could not check the transparency weights: {message}")
        elif key == DOWNLOAD_KEY:
            self._close_progress()
            self.panel.status.setText("The transparency weights were not downloaded")
            self.window.show_error("Download failed", "The transparency weights could not be downloaded; "
                                   f"nothing was changed.\n\n{message}")
        elif key == VALIDATE_KEY:
            folder, self._pending_folder = self._pending_folder, None
            self.panel.status.setText("Those weight files cannot be used")
            self.window.show_error("Unusable weight files",
                                   f"The weight files in {folder} cannot be used; nothing was changed.\n\n{message}")

    def _on_progress(self, key, done, total) -> None:
        if key == DOWNLOAD_KEY and self.progress_dialog is not None:
            self.progress_dialog.set_progress(done, total)

    def _on_cancelled(self, key) -> None:
        if key == DOWNLOAD_KEY:
            self._close_progress()
            self.panel.status.setText("Download cancelled; it resumes where it stopped next time")
            self.window.show_message("Transparency weights download cancelled")
        elif key == VALIDATE_KEY:
            self._pending_folder = None
