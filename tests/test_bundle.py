"""Smoke test of the stand-alone bundle built by packaging/build_bundle.sh.

Runs only when ``LAYERBRUSH_BUNDLE`` names the built executable (dist/layerbrush/layerbrush);
CI sets it when ``LAYERBRUSH_BUNDLE_CI=1`` (see .ci/run). Everything runs the frozen
program, not this checkout: it starts the window, renders a project, re-renders a stale
diffusion brush layer with the bundled demo model, and generates a layer.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

BUNDLE = os.environ.get("LAYERBRUSH_BUNDLE")
pytestmark = pytest.mark.skipif(not BUNDLE, reason="set LAYERBRUSH_BUNDLE to the built bundle's executable")


def run_bundle(*args: str, timeout: int = 600, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["HF_HUB_OFFLINE"] = "1"  # the bundle must work with what it carries
    return subprocess.run([BUNDLE, *args], capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


@pytest.fixture
def project(tmp_path) -> Path:
    """A 128 px project: a gradient background and a stale brush layer over its middle."""
    from editor import api

    doc = api.new_document(128, 128)
    y, x = np.mgrid[0:128, 0:128]
    bg = np.zeros((128, 128, 4), np.uint8)
    bg[..., 0], bg[..., 1], bg[..., 2], bg[..., 3] = x * 2, y * 2, 128, 255
    doc.add_raster_layer("Background", bg.astype(np.uint8))
    region = np.zeros((128, 128), bool)
    region[32:96, 32:96] = True
    doc.add_brush_layer(region, "a red circle", seed=3, steps=4, name="Apple")
    path = tmp_path / "smoke.ora"
    doc.save(path)
    return path


def test_version_and_help():
    out = run_bundle("--version", timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("layerbrush "), out.stderr
    assert "render" in run_bundle("--help", timeout=120).stdout


def test_window_starts_and_stays_up(tmp_path, project):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", LAYERBRUSH_CONFIG_DIR=str(tmp_path / "cfg"),
               LAYERBRUSH_RECOVERY_DIR=str(tmp_path / "rec"))
    proc = subprocess.Popen([BUNDLE, str(project)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        time.sleep(20)  # the window is up and the demo model loads in its engine thread
        assert proc.poll() is None, proc.communicate()[1]
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "PackageNotFoundError" not in err, err


def test_render_and_a_demo_brush_edit(tmp_path, project):
    plain, edited = tmp_path / "plain.png", tmp_path / "edited.png"
    out = run_bundle("render", str(project), "-o", str(plain))
    assert out.returncode == 0 and "stale" in out.stderr, out.stderr
    out = run_bundle("render", str(project), "-o", str(edited), "--model", "demo", "--device", "cpu")
    assert out.returncode == 0 and "rendered 1 diffusion layer" in out.stderr, out.stderr
    from editor.io.raster import load_image

    a, b = load_image(plain), load_image(edited)
    assert a.shape == b.shape == (128, 128, 4)
    assert np.abs(a[40:88, 40:88].astype(int) - b[40:88, 40:88]).mean() > 2  # the region was re-rendered
    assert np.array_equal(a[:16, :16], b[:16, :16])  # outside it nothing changed


def test_generate_a_layer_with_the_demo_model(tmp_path):
    out_png = tmp_path / "generated.png"
    # The demo model has no LayerDiffuse weights: the matte fallback (generate on grey, cut out).
    out = run_bundle("generate", "a red circle on a blue background", "-o", str(out_png), "--model", "demo",
                     "--size", "256x256", "--steps", "12", "--matte-fallback", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    from editor.io.raster import load_image

    rgba = load_image(out_png)
    assert rgba.shape == (256, 256, 4) and 0 < (rgba[..., 3] > 0).mean() < 1  # a cut-out: partly transparent
