import subprocess
import sys


def test_core_imports_neither_qt_nor_torch():
    code = (
        "import sys, editor.core, editor.core.compositor, editor.core.document, editor.core.history\n"
        "import importlib, pkgutil\n"
        "for m in pkgutil.iter_modules(editor.core.__path__): importlib.import_module('editor.core.' + m.name)\n"
        "bad = [m for m in ('PySide6', 'torch', 'diffusers', 'transformers', 'cv2') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"editor.core pulled in: {out.stdout.strip()}"
