"""Plugin menus driven through the real MainWindow: Filters, File > Export As, brush
presets, Help > Plugins, and a broken plugin at start-up."""
from __future__ import annotations

import zipfile
from importlib.metadata import EntryPoint

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog
from qt_helpers import H, W, RecordingDialogs, make_document

import editor.plugins as plugin_api
from editor.ui.plugins_menu import FilterParamsDialog


class ParamDialogs(RecordingDialogs):
    """Also answers the filter-parameter question, recording what it was asked."""

    def __init__(self):
        super().__init__()
        self.param_answer = None
        self.param_asked = []

    def ask_filter_params(self, filt, initial):
        self.param_asked.append((filt.name, dict(initial)))
        return self.param_answer


@pytest.fixture
def dialogs():
    return ParamDialogs()


def menu_action(menu, text):
    for action in menu.actions():
        if action.text().replace("&", "").rstrip("…") == text:
            return action
    raise AssertionError(f"no {text!r} in {[a.text() for a in menu.actions()]}")


def background(window):
    doc = window.document
    layer = doc.layers[0]
    doc.active_layer = layer
    return doc, layer


def test_filters_menu_sits_before_view_and_lists_the_plugins(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles.index("Filters") == titles.index("Layer") + 1 and titles.index("View") == titles.index("Filters") + 1
    texts = [a.text().rstrip("…") for a in window.menu("Filters").actions()]
    assert {"Gaussian blur", "Invert colours", "Desaturate"} <= set(texts)


def test_invert_from_the_menu_is_one_undo_step(window):
    doc, layer = background(window)
    doc.set_pixels(layer, (0, 0, 50, 40), np.full((40, 50, 4), (10, 20, 30, 255), np.uint8))
    before = layer.pixels.copy()
    steps = doc.history.index
    menu_action(window.menu("Filters"), "Invert colours").trigger()
    assert layer.pixels[0, 0].tolist() == [245, 235, 225, 255] and layer.pixels[100, 150].tolist() == [0, 0, 0, 255]
    assert doc.history.index == steps + 1
    assert window.actions["undo"].text() == "&Undo Invert colours"
    window.actions["undo"].trigger()
    assert np.array_equal(layer.pixels, before)
    # Ctrl+F repeats it
    window.actions["filter-repeat"].trigger()
    assert layer.pixels[0, 0].tolist() == [245, 235, 225, 255]


def test_filter_parameters_are_asked_and_remembered(window, dialogs):
    doc, layer = background(window)
    doc.set_pixels(layer, (0, 0, W // 2, H), np.full((H, W // 2, 4), (0, 0, 0, 255), np.uint8))  # black | white
    before = layer.pixels.copy()
    blur = menu_action(window.menu("Filters"), "Gaussian blur")
    dialogs.param_answer = None  # cancelled: nothing happens
    blur.trigger()
    assert np.array_equal(layer.pixels, before) and dialogs.param_asked == [("Gaussian blur", {})]
    dialogs.param_answer = {"radius": 8.0}
    blur.trigger()
    row = layer.pixels[H // 2, :, 0]
    assert row[0] == 0 and row[-1] == 255 and 0 < row[W // 2 - 1] < 255 and 0 < row[W // 2] < 255
    blur.trigger()
    assert dialogs.param_asked[-1] == ("Gaussian blur", {"radius": 8.0})
    window.undo()
    window.undo()
    assert np.array_equal(layer.pixels, before)


def test_filter_respects_the_selection(window):
    doc, layer = background(window)
    sel = np.zeros((H, W), np.uint8)
    sel[10:30, 20:60] = 255
    doc.set_selection(sel, "Select")
    menu_action(window.menu("Filters"), "Invert colours").trigger()
    assert (layer.pixels[10:30, 20:60, :3] == 0).all()
    outside = np.ones((H, W), bool)
    outside[10:30, 20:60] = False
    assert (layer.pixels[outside][:, :3] == 255).all()


def test_filter_on_a_locked_layer_shows_an_error(window, dialogs):
    doc, layer = background(window)
    layer.locked = True
    steps = doc.history.index
    menu_action(window.menu("Filters"), "Invert colours").trigger()
    assert doc.history.index == steps
    assert dialogs.errors and "locked" in dialogs.errors[-1][1]


def test_params_dialog_reads_its_fields(qtbot, window):
    filt = window.plugin_menus.plugins.filter("Desaturate")
    dlg = FilterParamsDialog(filt, {"mode": "average"})
    qtbot.addWidget(dlg)
    assert dlg.fields["mode"].currentText() == "average"
    dlg.fields["mode"].setCurrentText("lightness")
    assert dlg.values() == {"mode": "lightness"}
    blur = FilterParamsDialog(window.plugin_menus.plugins.filter("Gaussian blur"))
    qtbot.addWidget(blur)
    blur.fields["radius"].setValue(12.5)
    assert blur.values() == {"radius": 12.5}


def test_real_params_dialog_when_dialogs_have_no_question(window, qtbot):
    window.dialogs = RecordingDialogs()  # no ask_filter_params: the window shows its own form
    doc, layer = background(window)
    doc.set_pixels(layer, (0, 0, 40, 40), np.full((40, 40, 4), (0, 0, 0, 255), np.uint8))
    before = layer.pixels.copy()

    def answer():
        dlg = QApplication.activeModalWidget()
        assert isinstance(dlg, FilterParamsDialog)
        dlg.fields["block"].setValue(16)
        dlg.done(QDialog.DialogCode.Accepted)

    QTimer.singleShot(0, answer)
    menu_action(window.menu("Filters"), "Pixelate").trigger()
    assert not np.array_equal(layer.pixels, before)
    assert window.plugin_menus.last_params["filters:pixelate"] == {"block": 16}
    assert (layer.pixels[:16, 32:48] == layer.pixels[0, 32]).all()


def test_export_submenu_runs_an_exporter(window, dialogs, tmp_path):
    export_menu = window.menu("File/Export")
    assert export_menu.menuAction() in window.menu("File").actions()
    dialogs.next_save_path = tmp_path / "all-layers"
    menu_action(export_menu, "Layers as ZIP of PNGs").trigger()
    with zipfile.ZipFile(tmp_path / "all-layers.zip") as zf:
        assert sorted(zf.namelist()) == ["000_Background.png", "001_Paint.png", "layers.json"]
    assert not dialogs.errors


def test_brush_preset_sets_the_brush(window):
    menu_action(window.menu("Tools/Brush Presets"), "Soft airbrush").trigger()
    assert window.settings.size == 80 and window.settings.hardness == 0 and window.settings.opacity == 0.25
    assert window.tools.active.id == "brush"


@pytest.fixture
def broken_plugin_installed(monkeypatch):
    real = plugin_api._discover()
    broken = EntryPoint("broken-one", "lb_plugin_that_does_not_exist:register", plugin_api.ENTRY_POINT_GROUP)
    monkeypatch.setattr(plugin_api, "_discover", lambda: [broken, *real])
    plugin_api.installed_plugins.cache_clear()
    yield
    monkeypatch.undo()
    plugin_api.installed_plugins.cache_clear()


def test_broken_plugin_does_not_stop_the_editor(broken_plugin_installed, qtbot, dialogs):
    from editor.ui.main_window import MainWindow

    win = MainWindow(make_document(), dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(win)
    try:
        assert "broken-one" in win.statusBar().currentMessage()
        menu_action(win.menu("Filters"), "Invert colours")  # the good plugins still load
        menu_action(win.menu("Help"), "Plugins").trigger()
        title, text = dialogs.infos[-1]
        assert "broken-one" in text and "ModuleNotFoundError" in text and "filters" in text
    finally:
        win.session.mark_saved()
        win.close()
