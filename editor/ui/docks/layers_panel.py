"""The Layers panel: tree of layers, blend mode, opacity and layer buttons."""
from __future__ import annotations

import itertools

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QComboBox,
    QMenu,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from editor.core.blend import BLEND_MODES

from .. import layer_ops
from .layers_model import COL_LOCK, COL_MASK, COL_NAME, ClippedRole, LayerTreeModel

#: how far a clipped layer's row is indented, and how close (px) to the line
#: between two rows an Alt-click must be to toggle clipping
CLIP_INDENT = 18
CLIP_HIT = 5


class ClipDelegate(QStyledItemDelegate):
    """Draws a clipped layer's name cell indented, with a down-pointing arrow at the
    left (Photoshop/Krita convention: the arrow points at the base below)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if index.column() != COL_NAME or not index.data(ClippedRole):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        opt.rect = option.rect.adjusted(CLIP_INDENT, 0, 0, 0)
        super().paint(painter, opt, index)
        r = option.rect
        x, y = r.left() + CLIP_INDENT / 2, r.center().y()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(option.palette.text().color())
        painter.drawLine(QPointF(x - 4, y - 5), QPointF(x - 4, y + 2))
        painter.drawLine(QPointF(x - 4, y + 2), QPointF(x + 3, y + 2))
        painter.setBrush(option.palette.text())
        painter.drawPolygon(QPolygonF([QPointF(x + 1, y - 1), QPointF(x + 5, y + 2), QPointF(x + 1, y + 5)]))
        painter.restore()


class LayerTreeView(QTreeView):
    """Tree view set up for reordering by drag, dragging layers out, and files in.
    Alt-click on the line between two layers clips the upper one to the lower one
    (or releases it), as in Photoshop and Krita."""

    #: (layer) the user Alt-clicked the line under ``layer``
    clip_toggle_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setItemDelegate(ClipDelegate(self))
        self.setHeaderHidden(True)
        self.setIconSize(QSize(36, 36))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setUniformRowHeights(True)

    def layer_above_line(self, pos) -> object | None:
        """The layer whose row's bottom edge is within ``CLIP_HIT`` px of ``pos`` (viewport
        coordinates) and has a sibling row right under it; None elsewhere."""
        model = self.model()
        for probe in (pos.y() - CLIP_HIT, pos.y() + CLIP_HIT):
            index = self.indexAt(pos.__class__(pos.x(), probe))
            if not index.isValid():
                continue
            rect = self.visualRect(index)
            if abs(rect.bottom() + 1 - pos.y()) > CLIP_HIT:
                continue
            layer = model.layer_at(index)
            below = index.sibling(index.row() + 1, index.column())
            if layer is not None and below.isValid():
                return layer
        return None

    def mousePressEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.AltModifier and event.button() == Qt.MouseButton.LeftButton:
            layer = self.layer_above_line(event.position().toPoint())
            if layer is not None:
                self.clip_toggle_requested.emit(layer)
                event.accept()
                return
        super().mousePressEvent(event)


class LayersPanel(QWidget):
    """Shows the document's layers; every control edits the document directly."""

    error = Signal(str)
    #: the user asked to export this layer as an image file (the window asks where)
    export_requested = Signal(object)

    def __init__(self, session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layers-panel")
        self.session = session
        self.model = LayerTreeModel(session, self)
        self.model.error.connect(self.error)
        self._syncing = False
        self._drag_ids = itertools.count()
        self._drag_key = None
        self._drag_edit = None  # the transient edit of an opacity drag (one step on release)

        self.blend = QComboBox()
        self.blend.setObjectName("blend-mode")
        for name in BLEND_MODES:
            self.blend.addItem(name.replace("-", " ").capitalize(), name)
        self.blend.currentIndexChanged.connect(self._on_blend)

        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Layer opacity")
        self.opacity_label = QLabel("100%")
        self.opacity_label.setMinimumWidth(36)
        self.opacity.sliderPressed.connect(self._begin_drag)
        self.opacity.sliderReleased.connect(self._end_drag)
        self.opacity.valueChanged.connect(self._on_opacity)

        self.view = LayerTreeView()
        self.view.setModel(self.model)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_MASK, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_LOCK, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        self.view.clicked.connect(self._on_clicked)
        self.view.clip_toggle_requested.connect(self.toggle_clipping)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.model.modelReset.connect(self._after_reset)

        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.setSpacing(2)
        for key, text, tip, fn in (
            ("add", "New", "New layer (Ctrl+Shift+N)", self.add_layer),
            ("group", "Group", "Put the active layer in a new group (Ctrl+G)", self.group_layer),
            ("duplicate", "Dup", "Duplicate layer (Ctrl+J)", self.duplicate_layer),
            ("mask", "Mask", "Add a mask (from the selection, if any)", self.add_mask),
            ("merge", "Merge", "Merge down (Ctrl+Shift+E)", self.merge_down),
            ("flatten", "Flat", "Flatten image", self.flatten),
            ("delete", "Del", "Delete layer", self.delete_layer),
        ):
            b = QToolButton()
            b.setObjectName(f"layer-{key}")
            b.setText(text)
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(fn)
            row.addWidget(b)
            self.buttons[key] = b
        row.addStretch(1)

        top = QHBoxLayout()
        top.addWidget(self.blend, 1)
        top.addWidget(self.opacity, 2)
        top.addWidget(self.opacity_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        lay.addLayout(row)

        self._doc = None
        session.document_replaced.connect(self._attach)
        session.paint_target_changed.connect(lambda _t: self.view.viewport().update())
        self._attach(session.document)

    # ------------------------------------------------------------ document sync
    @property
    def document(self):
        return self.session.document

    def _attach(self, doc) -> None:
        if self._doc is not None:
            self._doc.events.active_changed.disconnect(self._on_active)
            self._doc.events.layer_changed.disconnect(self._on_layer_changed)
        self._doc = doc
        doc.events.active_changed.connect(self._on_active)
        doc.events.layer_changed.connect(self._on_layer_changed)
        self._after_reset()

    def _after_reset(self) -> None:
        self.view.expandAll()
        self._on_active(self.document.active_layer)

    def _on_active(self, layer) -> None:
        self._syncing = True
        try:
            sm = self.view.selectionModel()
            if layer is None:
                sm.clearSelection()
            else:
                index = self.model.index_of(layer)
                if index.isValid():
                    sm.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                       | QItemSelectionModel.SelectionFlag.Rows)
            self._sync_controls()
        finally:
            self._syncing = False
        self._update_buttons()

    def _on_layer_changed(self, layer, name: str) -> None:
        if layer is self.document.active_layer and name in ("opacity", "blend_mode", "mask", "locked"):
            self._syncing = True
            try:
                self._sync_controls()
            finally:
                self._syncing = False
            self._update_buttons()

    def _sync_controls(self) -> None:
        layer = self.document.active_layer
        enabled = layer is not None
        self.blend.setEnabled(enabled)
        self.opacity.setEnabled(enabled)
        if not enabled:
            return
        self.blend.setCurrentIndex(max(self.blend.findData(layer.blend_mode), 0))
        self.opacity.setValue(round(layer.opacity * 100))
        self.opacity_label.setText(f"{round(layer.opacity * 100)}%")
        if layer.mask is None and self.session.paint_target == "mask":
            self.session.paint_target = "pixels"

    def _update_buttons(self) -> None:
        layer = self.document.active_layer
        has = layer is not None
        below = has and layer.parent.children.index(layer) > 0
        self.buttons["duplicate"].setEnabled(has)
        self.buttons["delete"].setEnabled(has)
        self.buttons["group"].setEnabled(has)
        self.buttons["merge"].setEnabled(bool(below))
        self.buttons["mask"].setEnabled(has and layer.mask is None)
        self.buttons["flatten"].setEnabled(bool(self.document.layers))

    # ------------------------------------------------------------ user input
    def _on_current(self, current: QModelIndex, previous: QModelIndex) -> None:
        if self._syncing:
            return
        layer = self.model.layer_at(current)
        if layer is not None and layer is not self.document.active_layer:
            self.document.active_layer = layer
            if self.session.paint_target == "mask":
                self.session.paint_target = "pixels"

    def _on_clicked(self, index: QModelIndex) -> None:
        """Clicking the mask thumbnail paints the mask; clicking the layer paints pixels."""
        layer = self.model.layer_at(index)
        if layer is None:
            return
        if index.column() == COL_MASK and layer.mask is not None:
            self.session.paint_target = "mask"
        elif index.column() == COL_NAME and self.session.paint_target == "mask":
            self.session.paint_target = "pixels"

    def _on_blend(self, i: int) -> None:
        layer = self.document.active_layer
        if self._syncing or layer is None:
            return
        mode = self.blend.itemData(i)
        self._guard(lambda: self.document.set_layer_property(layer, "blend_mode", mode,
                                                             label=f"{layer.name}: blend {mode}"))

    def _begin_drag(self) -> None:
        self._drag_key = ("opacity-drag", next(self._drag_ids))
        layer = self.document.active_layer
        if layer is not None:
            self._drag_edit = self.document.history.transient(layer, label=f"{layer.name}: opacity")

    def _end_drag(self) -> None:
        self._drag_key = None
        edit, self._drag_edit = self._drag_edit, None
        if edit is not None:
            self._guard(edit.commit)
        self.document.history.break_merge()

    def _on_opacity(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        layer = self.document.active_layer
        if self._syncing or layer is None:
            return
        edit = self._drag_edit
        if edit is not None and edit.active and edit.layer is layer:
            self._guard(lambda: edit.set("opacity", value / 100.0))  # recorded on release
            return
        # Keyboard steps in a row merge into one undo step.
        key = self._drag_key or ("opacity-step", layer.id)
        self._guard(lambda: self.document.set_layer_property(layer, "opacity", value / 100.0, merge_key=key,
                                                             label=f"{layer.name}: opacity"))

    def _guard(self, fn) -> None:
        try:
            fn()
        except (ValueError, IndexError) as exc:
            self.error.emit(str(exc))

    # ------------------------------------------------------------ buttons / actions
    def add_layer(self) -> None:
        self._guard(lambda: layer_ops.add_raster_layer(self.document))

    def group_layer(self) -> None:
        self._guard(lambda: layer_ops.group_active(self.document))

    def duplicate_layer(self) -> None:
        layer = self.document.active_layer
        if layer is not None:
            self._guard(lambda: layer_ops.duplicate_layer(self.document, layer))

    def delete_layer(self) -> None:
        layer = self.document.active_layer
        if layer is not None:
            self._guard(lambda: layer_ops.delete_layer(self.document, layer))

    def merge_down(self) -> None:
        layer = self.document.active_layer
        if layer is not None:
            self._guard(lambda: layer_ops.merge_down(self.document, layer))

    def flatten(self) -> None:
        if self.document.layers:
            self._guard(lambda: layer_ops.flatten_image(self.document))

    def toggle_clipping(self, layer) -> None:
        """Clip ``layer`` to the layer below it, or release it (one undo step)."""
        on = not layer.clipped
        label = f"{'Clip' if on else 'Release'} {layer.name}"
        self._guard(lambda: self.document.set_layer_property(layer, "clipped", on, label=label))

    def add_mask(self) -> None:
        layer = self.document.active_layer
        if layer is None:
            return
        self._guard(lambda: layer_ops.add_mask(self.document, layer))
        if layer.mask is not None:
            self.session.paint_target = "mask"

    # ------------------------------------------------------------ context menu
    def context_menu_for(self, layer) -> QMenu:
        """The right-click menu of ``layer`` (built fresh: it reflects the layer now)."""
        doc = self.document
        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.view.edit(self.model.index_of(layer)))
        menu.addAction("Duplicate", self.duplicate_layer)
        menu.addAction("Delete", self.delete_layer)
        merge = menu.addAction("Merge Down", self.merge_down)
        merge.setEnabled(layer.parent.children.index(layer) > 0)
        menu.addAction("Export as PNG…", lambda: self.export_requested.emit(layer))
        clip = menu.addAction("Clipping Mask (Alt-click the line below)")
        clip.setCheckable(True)
        clip.setChecked(layer.clipped)
        clip.setEnabled(layer.clipped or layer.parent.children.index(layer) > 0)
        clip.toggled.connect(lambda _on: self.toggle_clipping(layer))
        if layer.kind == "group":
            # regions in one pass: the group's brush layers share one denoising pass
            together = menu.addAction("Render Together")
            together.setCheckable(True)
            together.setChecked(layer.render_together)
            together.toggled.connect(lambda on: self._guard(lambda: doc.set_layer_property(
                layer, "render_together", on, label=f"{'Render together' if on else 'Render separately'}: {layer.name}")))
        menu.addSeparator()
        if layer.mask is None:
            menu.addAction("Add Mask", self.add_mask)
        else:
            menu.addAction("Paint Mask", lambda: setattr(self.session, "paint_target", "mask"))
            enabled = menu.addAction("Mask Enabled")
            enabled.setCheckable(True)
            enabled.setChecked(layer.mask_enabled)
            enabled.toggled.connect(lambda on: self._guard(
                lambda: doc.set_layer_property(layer, "mask_enabled", on,
                                               label=f"{'Enable' if on else 'Disable'} mask of {layer.name}")))
            inverted = menu.addAction("Mask Inverted")
            inverted.setCheckable(True)
            inverted.setChecked(layer.mask_inverted)
            inverted.toggled.connect(lambda on: self._guard(
                lambda: doc.set_layer_property(layer, "mask_inverted", on, label=f"Invert mask of {layer.name}")))
            menu.addAction("Apply Mask", lambda: self._guard(lambda: layer_ops.apply_mask(doc, layer)))
            menu.addAction("Remove Mask", lambda: self._guard(lambda: layer_ops.remove_mask(doc, layer)))
        return menu

    def _context_menu(self, pos) -> None:
        layer = self.model.layer_at(self.view.indexAt(pos))
        if layer is None:
            return
        self.document.active_layer = layer
        self.context_menu_for(layer).exec(self.view.viewport().mapToGlobal(pos))
