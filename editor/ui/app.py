"""Starting the GUI: ``run_gui(argv)`` builds the QApplication and the main window."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from editor.resources import resource_path

from .main_window import APP_NAME, MainWindow

APP_ICON = resource_path("icons", "layerbrush.svg")


def create_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created once)."""
    app = QApplication.instance()
    if app is None:
        # Fractional scaling (125%, 150%) as the desktop asks; the canvas maps zoom to device pixels.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "layerbrush"])
        app.setApplicationName(APP_NAME)
        app.setOrganizationName(APP_NAME)
        app.setApplicationDisplayName(APP_NAME)
        app.setDesktopFileName("layerbrush")  # matches packaging/layerbrush.desktop (Wayland app id)
        app.setWindowIcon(QIcon(str(APP_ICON)))
    return app


def run_gui(argv: list[str] | None = None) -> int:
    """Run the editor: ``argv[1:]`` may name files to open (the first opens, more
    become layers). Returns the exit code of the event loop."""
    argv = list(sys.argv if argv is None else argv)
    app = create_app(argv)
    window = MainWindow()
    window.show()
    files = [Path(a) for a in argv[1:] if not a.startswith("-")]

    def start() -> None:
        # After the event loop runs, so dialogs have a visible parent.
        if files:
            if window.open_file(files[0]) and len(files) > 1:
                window.add_files_as_layers(files[1:])
        else:
            window.offer_recovery()

    QTimer.singleShot(0, start)
    return app.exec()
