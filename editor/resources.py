"""Files shipped in the repository's resources/ folder (demo model, icons).

A source checkout or an editable install reads them from resources/ beside the package;
a wheel installs them as data files under ``<prefix>/share/layerbrush/resources``.
"""
from __future__ import annotations

import sys
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1] / "resources"
INSTALLED_ROOT = Path("share") / "layerbrush" / "resources"


def resource_path(*parts: str) -> Path:
    """The shipped file or folder ``resources/<parts>``; the source path when it is nowhere
    (so an error message names where it was expected)."""
    for root in (SOURCE_ROOT, Path(sys.prefix) / INSTALLED_ROOT, Path(sys.base_prefix) / INSTALLED_ROOT):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return SOURCE_ROOT.joinpath(*parts)
