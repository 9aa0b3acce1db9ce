"""The Layers panel drives the document: add, visibility, reorder, opacity, masks, drag-out."""
import numpy as np
from PySide6.QtCore import QMimeData, QModelIndex, Qt

from editor.core.layers import GroupLayer, RasterLayer
from editor.io.raster import load_image
from editor.ui.docks.layers_model import COL_LOCK, COL_MASK, COL_NAME, LAYER_MIME


def names(doc):
    return [layer.name for layer in doc.layers]


def test_add_duplicate_delete_buttons(window):
    doc, panel = window.document, window.layers_panel
    panel.buttons["add"].click()
    assert names(doc) == ["Background", "Paint", "Layer"]
    assert doc.active_layer.name == "Layer"
    assert panel.model.rowCount() == 3
    # Top of the stack is the first row.
    assert panel.model.index(0, COL_NAME).data() == "Layer"
    panel.buttons["duplicate"].click()
    assert names(doc) == ["Background", "Paint", "Layer", "Layer copy"]
    panel.buttons["delete"].click()
    assert names(doc) == ["Background", "Paint", "Layer"]
    window.actions["undo"].trigger()
    assert names(doc) == ["Background", "Paint", "Layer", "Layer copy"]


def test_selecting_a_row_sets_the_active_layer(window):
    panel = window.layers_panel
    panel.view.setCurrentIndex(panel.model.index(1, COL_NAME))
    assert window.document.active_layer.name == "Background"
    window.document.active_layer = window.document.layers[1]
    assert panel.view.currentIndex().row() == 0


def test_visibility_checkbox_hides_the_layer_and_is_undoable(window):
    doc, model = window.document, window.layers_panel.model
    bg = doc.layers[0]
    index = model.index_of(bg)
    assert index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert bg.visible is False
    assert model.index_of(bg).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert window.session.compositor.render()[5, 5, 3] == 0  # nothing visible now
    assert window.canvas.displayed_rgba()[5, 5, 3] == 0
    window.actions["undo"].trigger()
    assert bg.visible is True


def test_lock_checkbox_and_rename(window):
    doc, model = window.document, window.layers_panel.model
    paint = doc.layers[1]
    model.setData(model.index_of(paint, COL_LOCK), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert paint.locked
    model.setData(model.index_of(paint, COL_NAME), "Ink", Qt.ItemDataRole.EditRole)
    assert paint.name == "Ink"


def test_reorder_by_dropping_a_layer_row(window):
    doc, model = window.document, window.layers_panel.model
    bg = doc.layers[0]
    md = model.mimeData([model.index_of(bg)])
    assert md.hasFormat(LAYER_MIME)
    # Drop at display row 0 (the top of the stack).
    model.dropMimeData(md, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert names(doc) == ["Paint", "Background"]
    window.actions["undo"].trigger()
    assert names(doc) == ["Background", "Paint"]


def test_drag_into_a_group(window):
    doc, panel = window.document, window.layers_panel
    panel.buttons["add"].click()  # "Layer" on top, active
    panel.buttons["group"].click()  # puts "Layer" into a new group
    group = doc.active_layer
    assert isinstance(group, GroupLayer) and [c.name for c in group.children] == ["Layer"]
    model = panel.model
    bg = doc.layers[0]
    model.dropMimeData(model.mimeData([model.index_of(bg)]), Qt.DropAction.MoveAction, -1, 0,
                       model.index_of(group))
    assert [c.name for c in group.children] == ["Layer", "Background"]
    assert model.rowCount(model.index_of(group)) == 2


def test_opacity_slider_drag_is_one_undo_step(window):
    doc, panel = window.document, window.layers_panel
    layer = doc.active_layer
    steps = len(doc.history.labels)
    slider = panel.opacity
    slider.setSliderDown(True)  # emits sliderPressed, as a mouse drag does
    for v in (90, 75, 60, 42):
        slider.setValue(v)
        assert layer.opacity == v / 100  # shown live ...
        assert len(doc.history.labels) == steps  # ... but not history until the release
    slider.setSliderDown(False)
    assert layer.opacity == 0.42
    assert len(doc.history.labels) == steps + 1
    window.actions["undo"].trigger()
    assert layer.opacity == 1.0
    assert slider.value() == 100  # the slider follows the document
    # A second drag is a separate step.
    slider.setSliderDown(True)
    slider.setValue(50)
    slider.setSliderDown(False)
    slider.setSliderDown(True)
    slider.setValue(30)
    slider.setSliderDown(False)
    assert len(doc.history.labels) == steps + 2


def test_blend_mode_combo(window):
    doc, panel = window.document, window.layers_panel
    panel.blend.setCurrentIndex(panel.blend.findData("multiply"))
    assert doc.active_layer.blend_mode == "multiply"
    doc.history.undo()
    assert panel.blend.currentData() == "normal"


def test_mask_thumbnail_click_switches_paint_target(window, qtbot):
    doc, panel = window.document, window.layers_panel
    panel.add_mask()
    layer = doc.active_layer
    index = panel.model.index_of(layer, COL_MASK)
    assert index.data(Qt.ItemDataRole.DecorationRole) is not None
    window.session.paint_target = "pixels"
    panel.view.clicked.emit(index)
    assert window.session.paint_target == "mask"
    panel.view.clicked.emit(panel.model.index_of(layer, COL_NAME))
    assert window.session.paint_target == "pixels"


def test_add_mask_from_selection(window):
    doc = window.document
    sel = np.zeros((doc.height, doc.width), np.uint8)
    sel[10:20, 30:40] = 255
    doc.set_selection(sel)
    window.actions["mask-add"].trigger()
    assert np.array_equal(doc.active_layer.mask, sel)


def test_merge_down_and_flatten(window):
    doc, panel = window.document, window.layers_panel
    paint = doc.active_layer
    paint.pixels[10:20, 10:20] = (255, 0, 0, 255)
    doc.notify_pixels(paint, doc.rect)
    before = window.session.compositor.render()
    panel.buttons["merge"].click()
    assert names(doc) == ["Background"]
    assert np.array_equal(window.session.compositor.render(), before)
    panel.buttons["add"].click()
    panel.buttons["flatten"].click()
    assert len(doc.layers) == 1 and np.array_equal(doc.layers[0].pixels, before)
    doc.history.undo()
    assert len(doc.layers) == 2


def test_dragging_a_layer_out_carries_a_png_of_it(window):
    doc, model = window.document, window.layers_panel.model
    layer = doc.active_layer
    layer.pixels[5:25, 40:90] = (20, 40, 200, 128)
    doc.notify_pixels(layer, doc.rect)
    md = model.mimeData([model.index_of(layer)])
    assert md.hasUrls() and md.hasImage() and md.hasFormat("image/png")
    path = md.urls()[0].toLocalFile()
    assert path.endswith("Paint.png")
    png = load_image(path)
    assert np.array_equal(png, layer.pixels)  # document-size layer at offset 0: identical
    img = md.imageData()
    assert img.width() == doc.width and img.pixelColor(50, 10).blue() == 200


def test_files_dropped_on_the_panel_become_layers(window, tmp_path):
    from editor.io.raster import save_image
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[..., 3] = 255
    path = tmp_path / "leaf.png"
    save_image(rgba, path)
    model = window.layers_panel.model
    md = QMimeData()
    from PySide6.QtCore import QUrl
    md.setUrls([QUrl.fromLocalFile(str(path))])
    assert model.dropMimeData(md, Qt.DropAction.CopyAction, 0, 0, QModelIndex())
    assert names(window.document)[-1] == "leaf"
    assert isinstance(window.document.layers[-1], RasterLayer)


def test_context_menu_mask_toggles_and_export(window, tmp_path):
    doc, panel = window.document, window.layers_panel
    layer = doc.active_layer
    layer.pixels[:] = (9, 9, 9, 255)
    doc.notify_pixels(layer, doc.rect)
    menu = panel.context_menu_for(layer)
    texts = [a.text() for a in menu.actions()]
    assert "Add Mask" in texts and "Export as PNG…" in texts
    next(a for a in menu.actions() if a.text() == "Add Mask").trigger()
    assert layer.mask is not None
    layer_mask = np.zeros_like(layer.mask)
    doc.set_layer_property(layer, "mask", layer_mask)
    menu = panel.context_menu_for(layer)
    actions = {a.text(): a for a in menu.actions()}
    actions["Mask Enabled"].trigger()  # checked -> unchecked: disable
    assert layer.mask_enabled is False
    actions["Mask Inverted"].trigger()
    assert layer.mask_inverted is True
    window.dialogs.next_save_path = tmp_path / "alone.png"
    actions["Export as PNG…"].trigger()
    assert np.array_equal(load_image(tmp_path / "alone.png"), layer.pixels)  # mask disabled: all shown
    actions["Remove Mask"].trigger()
    assert layer.mask is None


def test_alt_click_between_layers_clips_the_upper_one_indented_with_an_arrow(window, qtbot):
    from PySide6.QtCore import QPoint

    from editor.ui.docks.layers_model import ClippedRole
    from editor.ui.docks.layers_panel import CLIP_INDENT

    doc, panel = window.document, window.layers_panel
    bg, paint = doc.layers
    # the base (Background) only covers the left half; Paint is red everywhere
    bg.pixels[:, bg.width // 2 :] = 0
    doc.notify_pixels(bg, doc.rect)
    paint.pixels[...] = (255, 0, 0, 255)
    doc.notify_pixels(paint, doc.rect)
    view = panel.view
    row0 = view.visualRect(panel.model.index_of(paint))  # Paint is the top row
    before = view.viewport().grab().toImage()
    line = QPoint(row0.center().x(), row0.bottom() + 1)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, line)
    assert paint.clipped is True
    assert panel.model.index_of(paint).data(ClippedRole) is True
    assert "Clipped to 'Background'" in panel.model.index_of(paint).data(Qt.ItemDataRole.ToolTipRole)
    out = window.session.compositor.render()
    assert (out[5, 5] == (255, 0, 0, 255)).all() and out[5, -5, 3] == 0
    # drawn indented, with an arrow in the gap
    view.viewport().repaint()
    after = view.viewport().grab().toImage()
    y = row0.center().y()
    ratio = after.devicePixelRatio()
    changed = [x for x in range(row0.left(), row0.left() + CLIP_INDENT)
               if after.pixel(int(x * ratio), int(y * ratio)) != before.pixel(int(x * ratio), int(y * ratio))]
    assert changed
    # a plain click there does nothing to clipping; Alt-click again releases, undo restores
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, line)
    assert paint.clipped is True
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, line)
    assert paint.clipped is False
    window.actions["undo"].trigger()
    assert paint.clipped is True
    # the bottom row has no layer under it: Alt-click below it changes nothing
    row1 = view.visualRect(panel.model.index_of(bg))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier,
                     QPoint(row1.center().x(), row1.bottom() + 1))
    assert bg.clipped is False


def test_context_menu_toggles_clipping(window):
    doc, panel = window.document, window.layers_panel
    paint = doc.layers[1]
    menu = panel.context_menu_for(paint)
    (action,) = [a for a in menu.actions() if a.text().startswith("Clipping Mask")]
    assert not action.isChecked()
    action.trigger()
    assert paint.clipped is True
    (bottom,) = [a for a in panel.context_menu_for(doc.layers[0]).actions() if a.text().startswith("Clipping")]
    assert not bottom.isEnabled()
