"""A thin Qt item model over the document's layer tree (top layer first).

It keeps no copy of the layers: every call reads the document, edits go through
the document's editing methods (so they are undoable), and document events are
translated into model signals. Dragging a row out carries a PNG of the layer.
"""
from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QByteArray, QMimeData, QModelIndex, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import QApplication, QStyle

from editor.core.layers import GroupLayer, Layer, clip_base
from editor.io.psd import CONVERTED_KEY
from editor.io.raster import encode_png

from ..layer_ops import layer_image
from ..qimage import rgba_to_qimage
from ..thumbnails import lock_icon, mask_thumbnail, rgba_thumbnail

log = logging.getLogger(__name__)

LAYER_MIME = "application/x-layerbrush-layer"
COL_NAME, COL_MASK, COL_LOCK = 0, 1, 2
LayerRole = Qt.ItemDataRole.UserRole + 1
#: True for a layer clipped to the one below (the panel indents it and draws an arrow)
ClippedRole = Qt.ItemDataRole.UserRole + 2

_STATE_MARK = {"stale": " (stale)", "rendering": " (rendering…)", "error": " (error)"}


class LayerTreeModel(QAbstractItemModel):
    """Rows are layers, top of the stack first; columns: name, mask, lock."""

    #: local files dropped onto the panel: (paths, parent group or None, index in it)
    files_dropped = Signal(list, object, object)
    #: an edit was refused (locked layer, bad move): a message for the user
    error = Signal(str)

    def __init__(self, session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._doc = None
        self._thumbs: dict[tuple[str, str], object] = {}
        self._stale_thumbs: set[str] = set()
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(150)
        self._thumb_timer.timeout.connect(self._refresh_thumbs)
        self._drag_dir: tempfile.TemporaryDirectory | None = None
        self._locks = {True: lock_icon(True), False: lock_icon(False)}
        session.document_replaced.connect(self._attach)
        session.paint_target_changed.connect(self._on_target)
        self._attach(session.document)

    # ------------------------------------------------------------ document events
    @property
    def document(self):
        return self._doc

    def _attach(self, doc) -> None:
        self.beginResetModel()
        if self._doc is not None:
            ev = self._doc.events
            ev.structure_changed.disconnect(self._on_structure)
            ev.layer_changed.disconnect(self._on_layer_changed)
            ev.pixels_changed.disconnect(self._on_pixels)
            ev.active_changed.disconnect(self._on_target)
        self._doc = doc
        self._thumbs.clear()
        doc.events.structure_changed.connect(self._on_structure)
        doc.events.layer_changed.connect(self._on_layer_changed)
        doc.events.pixels_changed.connect(self._on_pixels)
        doc.events.active_changed.connect(self._on_target)
        self.endResetModel()

    def _on_structure(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def _on_layer_changed(self, layer: Layer, name: str) -> None:
        if name in ("mask", "pixels", "offset"):
            self._forget_thumbs(layer.id)
        self._emit_row_changed(layer)

    def _on_pixels(self, layer: Layer, rect) -> None:
        # Thumbnails lag a little behind painting: re-rendering one per dab is waste.
        self._stale_thumbs.add(layer.id)
        if not self._thumb_timer.isActive():
            self._thumb_timer.start()

    def _refresh_thumbs(self) -> None:
        stale, self._stale_thumbs = self._stale_thumbs, set()
        for layer_id in stale:
            self._forget_thumbs(layer_id)
            layer = self._doc.find(layer_id)
            if layer is not None:
                self._emit_row_changed(layer)

    def _forget_thumbs(self, layer_id: str) -> None:
        for kind in ("pixels", "mask", "mask-painting"):
            self._thumbs.pop((layer_id, kind), None)

    def _on_target(self, *_args) -> None:
        # The highlighted thumbnail (what brushes paint) follows the active layer and target.
        for layer in list(self._doc.walk()):
            if layer.mask is not None:
                self._emit_row_changed(layer)

    def _emit_row_changed(self, layer: Layer) -> None:
        first, last = self.index_of(layer, COL_NAME), self.index_of(layer, COL_LOCK)
        if first.isValid():
            self.dataChanged.emit(first, last)

    # ------------------------------------------------------------ tree mapping
    def layer_at(self, index: QModelIndex) -> Layer | None:
        return index.internalPointer() if index.isValid() else None

    def _group(self, parent: QModelIndex) -> GroupLayer | None:
        if not parent.isValid():
            return self._doc.root
        layer = parent.internalPointer()
        return layer if isinstance(layer, GroupLayer) else None

    def index_of(self, layer: Layer, column: int = COL_NAME) -> QModelIndex:
        parent = layer.parent
        if parent is None or layer.document is not self._doc:
            return QModelIndex()
        row = len(parent.children) - 1 - parent.children.index(layer)
        return self.createIndex(row, column, layer)

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        group = self._group(parent)
        if group is None or not (0 <= row < len(group.children)) or not (0 <= column < 3):
            return QModelIndex()
        return self.createIndex(row, column, group.children[len(group.children) - 1 - row])

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        layer = index.internalPointer()
        p = layer.parent
        if p is None or p is self._doc.root:
            return QModelIndex()
        return self.index_of(p)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != COL_NAME:
            return 0
        group = self._group(parent)
        return 0 if group is None else len(group.children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 3

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Layer", "Mask", "Lock")[section]
        return None

    # ------------------------------------------------------------ data
    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        layer = self.layer_at(index)
        if layer is None:
            return None
        col = index.column()
        if role == LayerRole:
            return layer
        if role == ClippedRole:
            return clip_base(layer) is not None
        if col == COL_NAME:
            if role == Qt.ItemDataRole.DisplayRole:
                return layer.name + _STATE_MARK.get(getattr(layer, "state", "done"), "")
            if role == Qt.ItemDataRole.EditRole:
                return layer.name
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.DecorationRole:
                return self._thumbnail(layer)
            if role == Qt.ItemDataRole.ToolTipRole:
                tip = f"{layer.name}\n{layer.blend_mode}, {round(layer.opacity * 100)}% opacity"
                converted = self._doc.metadata.get(CONVERTED_KEY, {})
                if isinstance(converted, dict) and layer.id in converted:
                    tip += f"\nFrom Photoshop: {converted[layer.id]}"
                base = clip_base(layer)
                if base is not None:
                    tip += f"\nClipped to {base.name!r} (Alt-click the line below to release)"
                if getattr(layer, "error", None):
                    tip += f"\nError: {layer.error}"
                return tip
        elif col == COL_MASK:
            if role == Qt.ItemDataRole.DecorationRole and layer.mask is not None:
                return self._mask_thumbnail(layer)
            if role == Qt.ItemDataRole.ToolTipRole:
                if layer.mask is None:
                    return "No mask"
                return "Mask (click to paint it)" + ("" if layer.mask_enabled else ", disabled")
        elif col == COL_LOCK:
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if layer.locked else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.DecorationRole:
                return self._locks[bool(layer.locked)]
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Locked" if layer.locked else "Unlocked"
        return None

    def _thumbnail(self, layer: Layer):
        if isinstance(layer, GroupLayer):
            return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        key = (layer.id, "pixels")
        if key not in self._thumbs:
            self._thumbs[key] = rgba_thumbnail(layer.pixels)
        return self._thumbs[key]

    def _mask_thumbnail(self, layer: Layer):
        painting = layer is self._doc.active_layer and self.session.paint_target == "mask"
        key = (layer.id, "mask-painting" if painting else "mask")
        if key not in self._thumbs:
            self._thumbs[key] = mask_thumbnail(layer.mask, highlight=painting)
        return self._thumbs[key]

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        layer = self.layer_at(index)
        if layer is None:
            return False
        col = index.column()
        try:
            if col == COL_NAME and role == Qt.ItemDataRole.CheckStateRole:
                self._doc.set_layer_property(layer, "visible", _checked(value),
                                             label=f"{'Show' if _checked(value) else 'Hide'} {layer.name}")
            elif col == COL_NAME and role == Qt.ItemDataRole.EditRole:
                name = str(value).strip()
                if not name:
                    return False
                self._doc.set_layer_property(layer, "name", name, label=f"Rename to {name}")
            elif col == COL_LOCK and role == Qt.ItemDataRole.CheckStateRole:
                self._doc.set_layer_property(layer, "locked", _checked(value),
                                             label=f"{'Lock' if _checked(value) else 'Unlock'} {layer.name}")
            else:
                return False
        except ValueError as exc:
            self.error.emit(str(exc))
            return False
        return True  # dataChanged comes from the document's layer_changed event

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        F = Qt.ItemFlag
        if not index.isValid():
            return F.ItemIsDropEnabled
        flags = F.ItemIsEnabled | F.ItemIsSelectable | F.ItemIsDragEnabled
        layer = index.internalPointer()
        if isinstance(layer, GroupLayer):
            flags |= F.ItemIsDropEnabled
        if index.column() == COL_NAME:
            flags |= F.ItemIsUserCheckable | F.ItemIsEditable
        elif index.column() == COL_LOCK:
            flags |= F.ItemIsUserCheckable
        return flags

    # ------------------------------------------------------------ drag and drop
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, "text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        layers = [self.layer_at(i) for i in indexes if i.isValid()]
        if not layers:
            return QMimeData()
        return self.layer_mime_data(layers[0])

    def layer_mime_data(self, layer: Layer) -> QMimeData:
        """Drag payload: the layer id (to reorder here) plus a PNG of it, as a file URL
        and as image data, so file managers and other programs receive the layer."""
        md = QMimeData()
        md.setData(LAYER_MIME, QByteArray(layer.id.encode()))
        try:
            rgba, _ = layer_image(self._doc, layer)
            path = self._drag_folder() / f"{_file_stem(layer.name)}.png"
            png = encode_png(rgba, compress_level=1)  # speed over size: this runs as the drag starts
            path.write_bytes(png)
        except (OSError, ValueError) as exc:
            log.warning("could not prepare %r for dragging out: %s", layer.name, exc)
            return md
        md.setUrls([QUrl.fromLocalFile(str(path))])
        md.setData("image/png", QByteArray(png))
        md.setImageData(rgba_to_qimage(rgba))
        return md

    def _drag_folder(self) -> Path:
        if self._drag_dir is None:
            self._drag_dir = tempfile.TemporaryDirectory(prefix="layerbrush-drag-")
        return Path(self._drag_dir.name)

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(LAYER_MIME) or data.hasUrls()

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:
        target_group, index = self._drop_target(row, parent)
        layer = self._doc.find(bytes(data.data(LAYER_MIME).data()).decode()) if data.hasFormat(LAYER_MIME) else None
        if layer is not None:  # else: another window's layer, taken as its PNG file below
            if layer.parent is target_group and index > target_group.children.index(layer):
                index -= 1  # move_layer counts the index after removing the layer
            where = None if target_group is self._doc.root else target_group
            try:
                self._doc.move_layer(layer, where, index)
            except (ValueError, IndexError) as exc:
                self.error.emit(str(exc))
                return False
            self._doc.active_layer = layer
            # False: the view must not delete the "source rows" after a move.
            return False
        if data.hasUrls():
            paths = [Path(u.toLocalFile()) for u in data.urls() if u.isLocalFile()]
            if paths:
                self.files_dropped.emit(paths, None if target_group is self._doc.root else target_group, index)
                return True
        return False

    def _drop_target(self, row: int, parent: QModelIndex) -> tuple[GroupLayer, int]:
        """(group, children index) for a drop at display ``row`` under ``parent``."""
        over = self.layer_at(parent)
        if row < 0 and over is not None and not isinstance(over, GroupLayer):
            # Dropped onto a layer: go just above it.
            group = over.parent
            return group, group.children.index(over) + 1
        group = self._group(parent) or self._doc.root
        n = len(group.children)
        return group, n if row < 0 else n - row


def _checked(value) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    return int(value) == Qt.CheckState.Checked.value


def _file_stem(name: str) -> str:
    return re.sub(r"[^\w\- .]+", "_", name).strip(" .")[:80] or "layer"
