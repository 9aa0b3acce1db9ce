"""The packaging files: desktop entry, MIME definition, application icon."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

import defusedxml.ElementTree as ET
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


def test_desktop_entry():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(PACKAGING / "layerbrush.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Layerbrush"
    assert entry["Exec"].split()[0] == "layerbrush" and "%F" in entry["Exec"]
    assert entry["Icon"] == "layerbrush" and (ROOT / "resources/icons/layerbrush.svg").is_file()
    mimes = entry["MimeType"].rstrip(";").split(";")
    assert {"image/openraster", "image/vnd.adobe.photoshop", "image/png"} <= set(mimes)
    assert all(re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", m) for m in mimes)
    assert entry["Categories"].endswith(";") and "Graphics" in entry["Categories"].split(";")


def test_mime_magic_matches_a_saved_ora(tmp_path):
    from editor import api

    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(PACKAGING / "layerbrush-mime.xml").getroot()
    mime = root.find("m:mime-type", ns)
    assert mime.get("type") == "image/openraster"
    assert mime.find("m:glob", ns).get("pattern") == "*.ora"
    match = mime.find("m:magic/m:match", ns)
    offset, value = int(match.get("offset")), match.get("value").encode()
    doc = api.new_document(4, 4)
    doc.add_raster_layer("a", np.zeros((4, 4, 4), np.uint8))
    doc.save(tmp_path / "x.ora")
    assert (tmp_path / "x.ora").read_bytes()[offset:offset + len(value)] == value


def test_app_icon_renders(qapp):
    from PySide6.QtGui import QIcon

    from editor.ui.app import APP_ICON

    image = QIcon(str(APP_ICON)).pixmap(64, 64).toImage()
    assert not image.isNull() and image.width() == 64
    assert image.pixelColor(32, 32).alpha() == 255 and image.pixelColor(0, 0).alpha() == 0  # rounded corners


def _environment_snapshot() -> dict[str, str]:
    """Every file name in the running environment's site-packages with its size and mtime:
    a test that installs something must leave this unchanged."""
    import site
    import sysconfig

    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    snapshot = {}
    for root in map(Path, roots):
        if root.is_dir():
            for entry in root.iterdir():
                stat = entry.stat()
                snapshot[str(entry)] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return snapshot


def _source_copy(dest: Path) -> Path:
    """The files a build needs, copied to a scratch folder: building in place would write
    build/ and *.egg-info into the user's checkout."""
    import shutil

    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("editor", "plugins", "resources"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


def test_wheel_carries_resources_and_installed_editor_finds_them(tmp_path):
    """A non-editable install (a wheel) has the demo model and icons, and editor.resources
    finds them under <prefix>/share/layerbrush/resources. The wheel is built from a copy of
    the sources and installed by a throwaway environment's own pip: the running environment
    (the user's editable install) is left exactly as it was."""
    import importlib.metadata
    import os
    import subprocess
    import sys
    import zipfile

    def installed_layerbrush():
        try:  # where it lives and how it was installed (direct_url.json marks an editable install)
            dist = importlib.metadata.distribution("layerbrush")
            return str(dist.locate_file("")), dist.read_text("direct_url.json")
        except importlib.metadata.PackageNotFoundError:
            return None

    before, before_dist = _environment_snapshot(), installed_layerbrush()
    checkout_before = sorted(p.name for p in ROOT.iterdir())
    (tmp_path / "src").mkdir()
    src = _source_copy(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(wheels), str(src)], check=True, timeout=300, cwd=tmp_path)
    wheel = next(wheels.glob("layerbrush-*.whl"))
    shipped = {p.relative_to(ROOT / "resources").as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()}
    with zipfile.ZipFile(wheel) as z:
        data = {n.split("/share/layerbrush/resources/", 1)[1] for n in z.namelist() if "/share/layerbrush/resources/" in n}
    assert shipped and data == shipped

    # The throwaway environment installs with its own pip (ensurepip is offline): the running
    # environment's pip, even with --prefix, uninstalls an installed layerbrush first.
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    env_python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")  # never sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_PREFIX", "PIP_TARGET")}
    subprocess.run([str(env_python), "-m", "pip", "install", "--no-deps", "--no-compile", "--no-index", "-q", str(wheel)],
                   check=True, timeout=300, cwd=tmp_path, env=env)
    probe = ("from editor.resources import resource_path; p = resource_path('demo_model', 'unet', 'config.json'); "
             "print(p.is_file(), p.as_posix())")
    out = subprocess.run([str(env_python), "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                         cwd=tmp_path, env=env).stdout.split()
    assert out[0] == "True" and "/share/layerbrush/resources/demo_model/unet/config.json" in out[1]
    assert str(ROOT) not in out[1]

    assert installed_layerbrush() == before_dist
    assert _environment_snapshot() == before, "the test changed the running environment"
    assert sorted(p.name for p in ROOT.iterdir()) == checkout_before, "the build wrote into the checkout"
