"""The open document of a window, its compositor, file path and saved state."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from editor.core.compositor import Compositor
from editor.core.document import Document


class Session(QObject):
    """Holds the window's current document; widgets follow ``document_replaced``.

    "Modified" compares the history's top step with the one that was on top when
    the file was saved, so undoing back to the saved state clears the '*'.
    """

    document_replaced = Signal(object)
    modified_changed = Signal(bool)
    path_changed = Signal(object)
    #: paint target: "pixels" (the active layer), "mask" (its mask) or "selection" (quick mask)
    paint_target_changed = Signal(str)

    def __init__(self, document: Document, path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document: Document = document
        self.compositor = Compositor(document)
        self.path: Path | None = Path(path) if path else None
        self._name: str | None = None
        self._clean_marker = self._top()
        self._modified = False
        self._paint_target = "pixels"
        document.history.events.changed.connect(self._on_history)

    @property
    def paint_target(self) -> str:
        """What brushes paint: "pixels", "mask" (the active layer's) or "selection"."""
        return self._paint_target

    @paint_target.setter
    def paint_target(self, value: str) -> None:
        if value not in ("pixels", "mask", "selection"):
            raise ValueError(f"paint target must be 'pixels', 'mask' or 'selection', got {value!r}")
        if value != self._paint_target:
            self._paint_target = value
            self.paint_target_changed.emit(value)

    def replace(self, document: Document, path: Path | None = None, name: str | None = None) -> None:
        """Make ``document`` the open one (after File > Open / New). ``name`` titles a
        document without a project path (a flat image opened as a new project)."""
        old = self.document
        old.history.events.changed.disconnect(self._on_history)
        self.compositor.close()
        self.document = document
        self.compositor = Compositor(document)
        self.path = Path(path) if path else None
        self._name = name
        document.history.events.changed.connect(self._on_history)
        self._clean_marker = self._top()
        self.paint_target = "pixels"
        self.document_replaced.emit(document)
        self.path_changed.emit(self.path)
        self._set_modified(False)

    def mark_saved(self, path: Path | None = None) -> None:
        if path is not None:
            self.path = Path(path)
            self.path_changed.emit(self.path)
        # A slider drag right after saving must be a new step, not merge into the saved one.
        self.document.history.break_merge()
        self._clean_marker = self._top()
        self._set_modified(False)

    @property
    def modified(self) -> bool:
        return self._modified

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else (self._name or "Untitled")

    def _top(self):
        h = self.document.history
        return h.steps[h.index - 1] if h.index else None

    def _on_history(self) -> None:
        self._set_modified(self._top() is not self._clean_marker)

    def _set_modified(self, value: bool) -> None:
        if value != self._modified:
            self._modified = value
            self.modified_changed.emit(value)
