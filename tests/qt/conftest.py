"""Fixtures driving the real MainWindow headlessly."""
from __future__ import annotations

import pytest
from qt_helpers import RecordingDialogs, make_document

@pytest.fixture(autouse=True)
def recovery_dir(tmp_path, monkeypatch):
    folder = tmp_path / "recovery"
    monkeypatch.setenv("LAYERBRUSH_RECOVERY_DIR", str(folder))
    return folder


@pytest.fixture
def dialogs():
    return RecordingDialogs()


@pytest.fixture
def window(qtbot, dialogs):
    from editor.ui.main_window import MainWindow

    win = MainWindow(make_document(), dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win)
    win.resize(900, 650)
    win.show()
    qtbot.waitExposed(win)
    win.canvas.actual_size()  # 1 document pixel = 1 device pixel: easy coordinates
    yield win
    win.session.mark_saved()  # nothing to ask on close
    win.close()
