"""Suite-wide settings, set here and never in the package: headless Qt, and every
per-user folder (settings, recovery files, weights, model cache) redirected to a
throwaway folder so tests never read or write the real user's files."""
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_scratch = Path(tempfile.mkdtemp(prefix="layerbrush-tests-"))
for _var, _sub in (("LAYERBRUSH_CONFIG_DIR", "config"), ("LAYERBRUSH_RECOVERY_DIR", "recovery"),
                   ("LAYERBRUSH_LAYERDIFFUSE_DIR", "layerdiffuse"), ("HF_HOME", "hf-home")):
    os.environ[_var] = str(_scratch / _sub)

# One intra-op thread: torch's default spin-waiting threads stall each other (and the
# GUI thread in the responsiveness tests) on small CI machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")



def pytest_sessionfinish(session, exitstatus):
    """Empty the clipboard before Qt shuts down: the offscreen platform crashes on exit
    while it still owns clipboard data (seen after the copy-layer test)."""
    import sys

    if "PySide6.QtGui" in sys.modules:
        from PySide6.QtGui import QGuiApplication

        app = QGuiApplication.instance()
        if app is not None:
            app.clipboard().clear()
