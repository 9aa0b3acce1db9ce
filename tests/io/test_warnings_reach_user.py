"""Warnings from opening and saving reach API and command-line users."""

from __future__ import annotations

import numpy as np
import pytest
from psd_tools import PSDImage
from psd_tools.constants import BlendMode
from PIL import Image

from editor import api
from editor.__main__ import main


def _psd_with_fill_opacity(tmp_path):
    """A PSD whose content needs converting: a pixel layer with a vector-less fill
    opacity, so the reader has something to say."""
    psd = PSDImage.new("RGBA", (8, 8))
    layer = psd.create_pixel_layer(Image.new("RGBA", (8, 8), (200, 10, 10, 255)), name="half fill",
                                   blend_mode=BlendMode.NORMAL)
    layer.fill_opacity = 128
    path = tmp_path / "w.psd"
    psd.save(path)
    return path


def test_api_open_lists_and_issues_the_warnings(tmp_path):
    path = _psd_with_fill_opacity(tmp_path)
    with pytest.warns(UserWarning, match="'half fill': fill opacity converted to pixels"):
        doc = api.open_document(path)
    assert doc.warnings == ["layer 'half fill': fill opacity converted to pixels"]
    # fill opacity is in the pixels now
    assert abs(int(doc.render()[0, 0, 3]) - 128) <= 1


def test_api_save_returns_the_writer_warnings(tmp_path):
    doc = api.new_document(16, 16)
    region = np.zeros((16, 16), np.uint8)
    region[4:12, 4:12] = 255
    doc.add_brush_layer(region, "a red fox", name="fox")
    with pytest.warns(UserWarning, match="'fox': brush layer saved as plain pixels"):
        warnings = doc.save(tmp_path / "g.psd")
    assert warnings == ["layer 'fox': brush layer saved as plain pixels (its prompt and settings are kept only in .ora)"]
    with _no_warning():
        assert doc.save(tmp_path / "g.ora") == []


class _no_warning:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self.caught = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        assert not [w for w in self.caught if issubclass(w.category, UserWarning)]


def test_cli_prints_open_warnings_to_stderr(tmp_path, capsys):
    path = _psd_with_fill_opacity(tmp_path)
    assert main(["render", str(path), "-o", str(tmp_path / "out.png")]) == 0
    err = capsys.readouterr().err
    assert "layerbrush: warning: layer 'half fill': fill opacity converted to pixels" in err
