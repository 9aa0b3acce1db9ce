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
