"""Files from the window: save/reopen, bad files, drops, clipboard, export, autosave recovery."""
import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from editor.io.raster import load_image, save_image



def test_save_ora_and_reopen_gives_the_same_pixels(window, tmp_path):
    doc = window.document
    layer = doc.active_layer
    layer.pixels[20:60, 30:90] = (200, 50, 10, 180)
    doc.notify_pixels(layer, doc.rect)
    doc.set_layer_property(layer, "opacity", 0.5)
    before = window.session.compositor.render()
    path = tmp_path / "art.ora"
    window.dialogs.next_save_path = path
    window.actions["save"].trigger()  # untitled: Save asks where
    assert path.exists() and not window.session.modified
    assert window.open_file(path)
    assert window.document is not doc
    assert [lay.name for lay in window.document.layers] == ["Background", "Paint"]
    assert np.array_equal(window.document.layers[1].pixels, layer.pixels)
    assert window.document.layers[1].opacity == 0.5
    assert np.array_equal(window.session.compositor.render(), before)
    assert window.windowTitle().startswith("art.ora —")


def test_bad_file_shows_an_error_and_keeps_the_document(window, tmp_path, dialogs):
    bad = tmp_path / "broken.ora"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    doc = window.document
    assert window.open_file(bad) is False
    assert window.document is doc
    assert len(dialogs.errors) == 1 and "broken.ora" in dialogs.errors[0][1]
    missing = tmp_path / "nope.png"
    assert window.open_file(missing) is False
    assert "nope.png" in dialogs.errors[1][1]
    assert window.document is doc


def test_export_png(window, tmp_path):
    path = tmp_path / "out.png"
    assert window.export_png(path)
    assert np.array_equal(load_image(path), window.session.compositor.render())


def _drop(canvas, mime, pos):
    """Deliver a drag-enter then a drop, as a real drag does (Qt drops only on the entered target)."""
    enter = QDragEnterEvent(QPointF(pos), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, enter)
    assert enter.isAccepted()
    ev = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, ev)
    return ev


def test_dropping_png_files_adds_layers(window, tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    a, b = tmp_path / "red.png", tmp_path / "other.png"
    save_image(rgba, a)
    save_image(rgba[:10, :10], b)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(a)), QUrl.fromLocalFile(str(b))])
    canvas = window.canvas
    steps = len(window.document.history.labels)
    ev = _drop(canvas, mime, canvas.doc_to_widget(QPointF(100, 75)))
    assert ev.isAccepted()
    doc = window.document
    assert [lay.name for lay in doc.layers][-2:] == ["red", "other"]
    red = doc.layers[-2]
    assert np.array_equal(red.pixels, rgba) and red.offset == (85, 65)  # centred on the drop point
    assert len(doc.history.labels) == steps + 1  # one drop = one step
    assert window.session.compositor.render()[75, 100, 0] == 255


def test_dropping_a_bad_file_reports_it(window, tmp_path, dialogs):
    bad = tmp_path / "junk.png"
    bad.write_bytes(b"not a png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    n = len(window.document.layers)
    _drop(window.canvas, mime, QPoint(10, 10))
    assert len(window.document.layers) == n
    assert dialogs.errors and "junk.png" in dialogs.errors[0][1]


def test_copy_layer_and_paste_as_layer(window):
    doc = window.document
    layer = doc.active_layer
    layer.pixels[10:30, 10:50] = (0, 128, 255, 255)
    doc.notify_pixels(layer, doc.rect)
    window.actions["copy"].trigger()
    md = QGuiApplication.clipboard().mimeData()
    assert md.hasImage()
    window.actions["paste"].trigger()
    pasted = doc.layers[-1]
    assert pasted.name.startswith("Pasted")
    assert np.array_equal(pasted.pixels, layer.pixels) and pasted.offset == (0, 0)


def test_delete_clears_the_selection_on_the_layer(window):
    doc = window.document
    layer = doc.layers[0]
    doc.active_layer = layer
    sel = np.zeros((doc.height, doc.width), np.uint8)
    sel[10:20, 10:20] = 255
    doc.set_selection(sel)
    window.actions["clear"].trigger()
    assert (layer.pixels[10:20, 10:20, 3] == 0).all()
    assert (layer.pixels[30:, :, 3] == 255).all()


def test_autosave_and_recovery(qtbot, window, dialogs, recovery_dir):
    from editor.ui.main_window import MainWindow

    from qt_helpers import RecordingDialogs
    layer = window.document.active_layer
    layer.pixels[0:5, 0:5] = (1, 2, 3, 255)
    window.document.notify_pixels(layer, window.document.rect)
    assert window.autosave() is False  # unmodified: nothing written
    window.layers_panel.buttons["add"].click()
    assert window.autosave() is True
    window.background_autosave.wait()
    assert any(recovery_dir.glob("*.ora"))
    # A "crash": a new window finds the snapshot and offers it.
    d2 = RecordingDialogs()
    w2 = MainWindow(dialogs=d2, autosave_ms=0)
    qtbot.addWidget(w2)
    assert w2.offer_recovery() is True
    assert len(d2.recover_asked) == 1
    assert [lay.name for lay in w2.document.layers] == ["Background", "Paint", "Layer"]
    assert tuple(w2.document.layers[1].pixels[2, 2]) == (1, 2, 3, 255)
    assert w2.session.modified
    w2.background_autosave.wait()  # the recovered document is autosaved again at once
    # A second crash right after recovering: the snapshot is still there, whole.
    snapshots = list(recovery_dir.glob("*.ora"))
    assert len(snapshots) == 1
    d3 = RecordingDialogs()
    w3 = MainWindow(dialogs=d3, autosave_ms=0)
    qtbot.addWidget(w3)
    assert w3.offer_recovery() is True
    assert [lay.name for lay in w3.document.layers] == ["Background", "Paint", "Layer"]
    w3.background_autosave.wait()
    w3.session.mark_saved()
    w3.close()
    # Saving the recovered document ends the need for the snapshot.
    w2.background_autosave.wait()
    assert w2.save_as(recovery_dir.parent / "saved.ora")
    assert not any(recovery_dir.glob("*.ora"))
    w2.close()


def test_recovered_document_edits_are_autosaved_over_the_snapshot(qtbot, window, recovery_dir):
    from editor.io import recovery
    from editor.ui.main_window import MainWindow

    from qt_helpers import RecordingDialogs
    window.layers_panel.buttons["add"].click()
    window.autosave()
    window.background_autosave.wait()
    w2 = MainWindow(dialogs=RecordingDialogs(), autosave_ms=0)
    qtbot.addWidget(w2)
    assert w2.offer_recovery()
    w2.background_autosave.wait()
    w2.layers_panel.buttons["add"].click()  # more work after recovering
    assert w2.autosave()
    w2.background_autosave.wait()
    entries = recovery.list_recoverable()
    assert len(entries) == 1  # the same snapshot, replaced: not a second one
    assert len(recovery.load_recovery(entries[0]).layers) == len(w2.document.layers) == 4
    w2.session.mark_saved()
    w2.close()
    assert not any(recovery_dir.glob("*.ora"))


def test_autosave_survives_an_unexpected_error(qtbot, window, recovery_dir, monkeypatch, caplog):
    """Not only OS errors: a bug in the writer is logged and reported, and the next autosave runs."""
    from editor.io import recovery

    original = recovery.write_file
    calls = []

    def buggy(path, data):
        calls.append(path)
        if len(calls) == 1:
            raise ValueError("unexpected value in the encoder")
        original(path, data)

    monkeypatch.setattr(recovery, "write_file", buggy)
    window.layers_panel.buttons["add"].click()
    with qtbot.waitSignal(window.background_autosave.finished, timeout=10_000) as done:
        assert window.autosave() is True
    assert done.args == ["ValueError: unexpected value in the encoder"]
    assert "Autosave failed: ValueError" in window.statusBar().currentMessage()
    assert any("autosave failed" in r.getMessage() and r.exc_info for r in caplog.records)
    with qtbot.waitSignal(window.background_autosave.finished, timeout=10_000) as done:
        assert window.autosave() is True
    assert done.args == [None] and any(recovery_dir.glob("*.ora"))


def test_autosave_writes_a_snapshot_in_the_background(qtbot, window, recovery_dir, monkeypatch):
    """The snapshot is the document as it was when autosave started, even if painting goes on
    while the file is encoded, and the writing happens off the GUI thread."""
    import threading

    from editor.io import recovery

    writers = []
    original = recovery.write_file
    gate = threading.Event()

    def slow_write(path, data):
        writers.append(threading.current_thread())
        gate.wait(10)
        original(path, data)

    monkeypatch.setattr(recovery, "write_file", slow_write)
    from editor.io import raster

    encode = raster.encode_png
    monkeypatch.setattr(raster, "encode_png", lambda *a, **k: (gate.wait(10), encode(*a, **k))[1])
    layer = window.document.active_layer
    layer.pixels[0:4, 0:4] = (10, 20, 30, 255)
    window.layers_panel.buttons["add"].click()
    assert window.autosave() is True
    assert window.autosave() is False  # one write at a time
    layer.pixels[0:4, 0:4] = (200, 0, 0, 255)  # "painting" while the snapshot is written
    with qtbot.waitSignal(window.background_autosave.finished, timeout=10_000) as done:
        gate.set()
    assert done.args == [None]
    assert writers and all(t is not threading.main_thread() for t in writers)
    entry = recovery.list_recoverable()[0]
    snap = recovery.load_recovery(entry)
    assert tuple(snap.find(layer.id).pixels[1, 1]) == (10, 20, 30, 255)
    assert tuple(layer.pixels[1, 1]) == (200, 0, 0, 255)


def test_autosave_failure_is_reported_and_the_document_kept(qtbot, window, recovery_dir, monkeypatch):
    from editor.io import recovery
    from editor.io.errors import FileFormatError

    def broken(path, data):
        raise FileFormatError(path, "cannot write (disk full)")

    monkeypatch.setattr(recovery, "write_file", broken)
    window.layers_panel.buttons["add"].click()
    count = len(window.document.layers)
    with qtbot.waitSignal(window.background_autosave.finished, timeout=10_000) as done:
        assert window.autosave() is True
    assert "disk full" in done.args[0]
    assert "Autosave failed" in window.statusBar().currentMessage()
    assert len(window.document.layers) == count and window.session.modified


def test_declining_recovery_deletes_snapshots(qtbot, window, recovery_dir):
    from editor.ui.main_window import MainWindow

    from qt_helpers import RecordingDialogs
    window.layers_panel.buttons["add"].click()
    window.autosave()
    window.background_autosave.wait()
    d2 = RecordingDialogs()
    d2.recover_answer = False
    w2 = MainWindow(dialogs=d2, autosave_ms=0)
    qtbot.addWidget(w2)
    assert w2.offer_recovery() is False
    assert not any(recovery_dir.glob("*.ora"))


def test_close_asks_to_save_changes(qtbot, dialogs):
    from editor.ui.main_window import MainWindow
    w = MainWindow(dialogs=dialogs, autosave_ms=0)
    qtbot.addWidget(w)
    w.layers_panel.buttons["add"].click()
    dialogs.save_answer = "cancel"
    assert w.close() is False
    dialogs.save_answer = "discard"
    assert w.close() is True


def test_new_document_asks_size_and_replaces_the_document(window, dialogs):
    old = window.document
    window.layers_panel.buttons["add"].click()
    dialogs.save_answer = "cancel"
    window.actions["new"].trigger()
    assert window.document is old  # cancelled: nothing lost
    dialogs.save_answer = "discard"
    window.actions["new"].trigger()
    doc = window.document
    # the size suggested (the current one, or the AI model's own once it has loaded)
    assert doc is not old and (doc.width, doc.height) == dialogs.new_size_asked[-1][:2]
    assert [lay.name for lay in doc.layers] == ["Background", "Layer 1"]
    assert window.windowTitle().startswith("Untitled —")
    # Every panel follows the new document.
    assert window.layers_panel.model.rowCount() == 2
    assert window.history_panel.list.count() == 1
    window.layers_panel.buttons["add"].click()
    assert len(doc.layers) == 3 and window.history_panel.list.count() == 2


def test_opening_a_psd_lists_what_was_converted(window, tmp_path, dialogs):
    from PIL import Image
    from psd_tools import PSDImage

    psd = PSDImage.new("RGBA", (8, 8))
    layer = psd.create_pixel_layer(Image.new("RGBA", (8, 8), (200, 10, 10, 255)), name="half fill")
    layer.fill_opacity = 128
    psd.save(tmp_path / "w.psd")
    assert window.open_file(tmp_path / "w.psd")
    assert dialogs.infos == [("Opened with changes", "w.psd:\n• layer 'half fill': fill opacity converted to pixels")]
    model = window.layers_panel.model
    tip = model.index_of(window.document.layers[0]).data(Qt.ItemDataRole.ToolTipRole)
    assert "From Photoshop: fill opacity converted to pixels" in tip


def test_saving_a_psd_lists_what_it_could_not_keep(window, tmp_path, dialogs):
    from editor.core.layers import BrushLayer

    doc = window.document
    doc.add_layer(BrushLayer("fox", np.zeros((doc.height, doc.width, 4), np.uint8)))
    assert window.save_as(tmp_path / "g.psd")
    assert dialogs.infos[-1] == ("Saved with changes", "g.psd:\n• layer 'fox': brush layer saved as plain pixels "
                                 "(its prompt and settings are kept only in .ora)")


def test_open_dialog_offers_every_extension_the_api_opens():
    from editor.io.project import OPEN_EXTENSIONS
    from editor.ui.dialogs import OPEN_FILTER

    first = OPEN_FILTER.split(";;")[0]
    assert all(f"*{ext}" in first.split("(")[1] for ext in OPEN_EXTENSIONS)
    assert "*.psb" in OPEN_FILTER.split(";;")[2]


def test_autosave_interval_is_a_preference(qtbot, window, tmp_path, monkeypatch):
    """Edit > Preferences sets the interval, it applies at once, and a new window reads it."""
    import json

    from editor.ui.main_window import MainWindow

    from qt_helpers import RecordingDialogs
    config = tmp_path / "config"
    monkeypatch.setenv("LAYERBRUSH_CONFIG_DIR", str(config))
    fresh = MainWindow(dialogs=RecordingDialogs())
    qtbot.addWidget(fresh)
    assert fresh.autosave_timer.isActive() and fresh.autosave_timer.interval() == 3 * 60_000  # the default
    fresh.close()

    from editor.ui.preferences import PreferencesDialog

    window.actions["preferences"].trigger()
    dialog = window.findChild(PreferencesDialog, "preferences-dialog")
    assert dialog is not None and dialog.isVisible()
    dialog.autosave.setValue(0.5)
    dialog.ok_button.click()
    assert window.autosave_timer.isActive() and window.autosave_timer.interval() == 30_000
    assert json.loads((config / "preferences.json").read_text()) == {"autosave_minutes": 0.5, "memory_mode": "auto"}
    again = MainWindow(dialogs=RecordingDialogs())
    qtbot.addWidget(again)
    assert again.autosave_timer.interval() == 30_000
    again.close()

    dialog = window.open_preferences()
    dialog.autosave.setValue(0)  # "Off"
    assert dialog.autosave.text() == "Off"
    dialog.ok_button.click()
    assert not window.autosave_timer.isActive()


def test_damaged_preferences_give_the_default(tmp_path, caplog):
    from editor.ui.preferences import load_preferences

    (tmp_path / "preferences.json").write_text('{"autosave_minutes": Infinity}')
    assert load_preferences(tmp_path).autosave_minutes == 3.0
    assert "autosave_minutes" in caplog.text and str(tmp_path) in caplog.text


def test_saving_a_hard_linked_file_says_the_other_names_keep_the_old_version(window, tmp_path):
    import os

    path = tmp_path / "art.ora"
    assert window.save_as(path)
    twin = tmp_path / "twin.ora"
    os.link(path, twin)
    old = twin.read_bytes()
    window.layers_panel.buttons["add"].click()
    assert window.save()
    assert "its other hard link keeps the previous version" in window.statusBar().currentMessage()
    assert twin.read_bytes() == old and path.read_bytes() != old


def test_adding_a_psd_as_a_layer_lists_what_was_converted(window, tmp_path, dialogs):
    from PIL import Image
    from psd_tools import PSDImage

    psd = PSDImage.new("RGBA", (8, 8))
    layer = psd.create_pixel_layer(Image.new("RGBA", (8, 8), (200, 10, 10, 255)), name="half fill")
    layer.fill_opacity = 128
    psd.save(tmp_path / "w.psd")
    added = window.add_files_as_layers([tmp_path / "w.psd"])
    assert [l.name for l in added] == ["w"]
    assert dialogs.infos == [("Added with changes", "w.psd:\n• layer 'half fill': fill opacity converted to pixels")]
