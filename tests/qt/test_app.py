"""run_gui in a fresh process: opens the file named on the command line."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from editor.io.raster import save_image

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from editor.ui.app import create_app, run_gui
from editor.ui.main_window import MainWindow

app = create_app(["layerbrush"])

def check():
    wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    doc = wins[0].document
    print("LAYERS", [l.name for l in doc.layers], doc.width, doc.height, wins[0].windowTitle())
    wins[0].session.mark_saved()
    wins[0].close()
    app.quit()

QTimer.singleShot(1500, check)
sys.exit(run_gui(["layerbrush", sys.argv[1], sys.argv[2]]))
"""


def test_run_gui_opens_files_from_the_command_line(tmp_path):
    base = np.zeros((30, 40, 4), np.uint8)
    base[..., 3] = 255
    save_image(base, tmp_path / "photo.png")
    save_image(base[:10, :10], tmp_path / "sticker.png")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LAYERBRUSH_RECOVERY_DIR=str(tmp_path / "rec"),
               PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "photo.png"), str(tmp_path / "sticker.png")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("LAYERS"))
    assert "['photo', 'sticker'] 40 30 photo.png*" in line  # a flat image opens as a new, unsaved project
