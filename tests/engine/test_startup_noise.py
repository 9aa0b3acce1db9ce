"""Start-up output: loading the demo model prints no torchvision notices (transformers
warns that its image processors fall back to Pillow, which the editor never uses)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import logging
logging.basicConfig(level=logging.WARNING)
from editor.engine.models import load_model
model = load_model("demo", device="cpu")
import transformers
transformers.CLIPImageProcessor  # the attribute whose fallback prints the notice
print("loaded", model.family)
"""


def test_loading_the_demo_model_prints_no_torchvision_notice():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "loaded" in out.stdout
    assert "torchvision" not in out.stderr and "Traceback" not in out.stderr, out.stderr
