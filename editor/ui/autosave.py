"""Crash-recovery snapshots written off the GUI thread.

The snapshot is taken on the GUI thread (a copy of the pixels, see
``recovery.snapshot_recovery``); encoding and writing run on a plain thread, so a large
document no longer freezes the window for seconds every autosave interval.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from editor.io.errors import FileFormatError

log = logging.getLogger(__name__)


class BackgroundAutosave(QObject):
    """Runs one snapshot writer at a time; ``finished(error)`` arrives in the GUI thread
    (error: None, or the message of a failed write)."""

    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, write: Callable[[], object]) -> bool:
        """Run ``write()`` in the background; False (and nothing run) while one is running."""
        if self.busy:
            return False

        def run() -> None:
            try:
                write()
            except (FileFormatError, OSError) as exc:
                self.finished.emit(str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug must be reported, not end autosave unseen
                log.exception("autosave failed")
                self.finished.emit(f"{type(exc).__name__}: {exc}")
            else:
                self.finished.emit(None)

        self._thread = threading.Thread(target=run, name="autosave", daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running write (if any) is done: before the snapshot is cleared,
        so a late write cannot bring it back."""
        if self._thread is not None:
            self._thread.join(timeout)
