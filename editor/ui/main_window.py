"""The main window: canvas in the middle, docks around it, menus and shortcuts.

Extension points (the AI panels use these):
- ``add_dock(key, title, widget, area)`` adds a dock and a Window-menu toggle;
- ``add_action(menu, key, text, slot, shortcut)`` adds a menu action (``menu`` is a
  path such as "Layer" or "Layer/New"); ``menu(path)`` returns/creates a menu;
- ``tools.register(ToolClass)`` adds a canvas tool (``register_tool`` also adds its
  menu entry and shortcut);
- ``worker`` is the engine thread (created on first use, stopped on close).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QMimeData, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QLineEdit, QMainWindow, QMenu, QScrollArea, QWidget

from editor.core.document import Document
from editor.core.layers import RasterLayer
from editor.io import recovery
from editor.io.atomic import other_hard_links
from editor.io.errors import FileFormatError
from editor.io.flatten import flatten
from editor.io.project import export_image, open_document, save_document
from editor.io.raster import encode_png, save_image

from . import layer_ops
from .autosave import BackgroundAutosave
from .preferences import PreferencesDialog, load_preferences, save_preferences
from .toolbox import ToolBox
from .canvas import Canvas
from .dialogs import IMAGE_FILTER, Dialogs
from .docks.history_panel import HistoryPanel
from .docks.layers_panel import LayersPanel
from .docks.tool_options import ToolOptionsPanel
from .qimage import qimage_to_rgba, rgba_to_qimage
from .session import Session
from .tool_settings import ToolSettings
from .tools import DEFAULT_TOOLS
from .tools.base import Tool, ToolRegistry

log = logging.getLogger(__name__)

APP_NAME = "Layerbrush"
LAYERED_FORMATS = (".ora", ".psd")
MENUS = ("File", "Edit", "Select", "Image", "Layer", "View", "Tools", "Window", "Help")


def default_document(width: int = 1024, height: int = 768) -> Document:
    """A new document: a white background layer and an empty layer to paint on."""
    doc = Document(width, height)
    white = np.full((height, width, 4), 255, np.uint8)
    background = RasterLayer("Background", white)
    paint = RasterLayer("Layer 1", np.zeros((height, width, 4), np.uint8))
    doc.root._insert(0, background)
    doc.root._insert(1, paint)
    doc.active_layer = paint
    return doc


class MainWindow(QMainWindow):
    """One document per window; see the module docstring for extension points."""

    def __init__(self, document: Document | None = None, path: str | Path | None = None, *,
                 dialogs: Dialogs | None = None, autosave_ms: int | None = None) -> None:
        super().__init__()
        self.setObjectName("main-window")
        self.dialogs = dialogs or Dialogs(self)
        self.session = Session(document or default_document(), path, self)
        self.settings = ToolSettings(self)
        self.tools = ToolRegistry(self, self)
        self.canvas = Canvas(self.session, self.settings, self.tools, self)
        self.setCentralWidget(self.canvas)
        self.docks: dict[str, QDockWidget] = {}
        self.actions: dict[str, QAction] = {}
        self._menus: dict[str, QMenu] = {}
        self._tool_group = QActionGroup(self)
        self._tool_cycles: dict[str, list[str]] = {}
        self._worker = None
        for name in MENUS:
            self.menu(name)

        self.layers_panel = LayersPanel(self.session)
        self.layers_panel.error.connect(lambda msg: self.show_error("Layers", msg))
        self.layers_panel.model.files_dropped.connect(self._on_panel_files)
        self.layers_panel.export_requested.connect(self.export_layer_dialog)
        self.tool_options = ToolOptionsPanel(self.settings)
        self.history_panel = HistoryPanel(self.session)
        self.add_dock("tool-options", "Tool Options", self.tool_options, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock("layers", "Layers", self.layers_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.add_dock("history", "History", self.history_panel, Qt.DockWidgetArea.RightDockWidgetArea)

        self._build_status_bar()
        self._build_actions()
        self.toolbox = ToolBox(self)  # every registered tool gets a button (register_tool)
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, self.toolbox)
        self.menu("Window").addAction(self.toolbox.toggleViewAction())
        for tool in DEFAULT_TOOLS:
            self.register_tool(tool)
        self.tools.activate("brush")

        self.canvas.files_dropped.connect(self.add_files_as_layers)
        self.canvas.image_dropped.connect(lambda img, pos: self.add_image_layer(qimage_to_rgba(img), "Dropped image", pos))
        self.session.modified_changed.connect(lambda _m: self._update_title())
        self.session.path_changed.connect(lambda _p: self._update_title())
        self.session.document_replaced.connect(self._on_document_replaced)
        self._connect_history(self.session.document)

        self.background_autosave = BackgroundAutosave(self)
        self.background_autosave.finished.connect(self._autosave_finished)
        self.preferences = load_preferences()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        # autosave_ms (tests, scripts) overrides the interval in the preferences.
        self.set_autosave_interval(self.preferences.autosave_ms if autosave_ms is None else autosave_ms)
        self.resize(1280, 820)
        self._update_title()
        from editor.ui.ai import install_ai
        install_ai(self)  # sets self.ai (diffusion brushes, generated layers, model picker)
        from editor.ui.plugins_menu import install_plugins
        install_plugins(self)  # sets self.plugin_menus (Filters menu, File > Export As, brush presets)

    # ------------------------------------------------------------ extension points
    def menu(self, path: str) -> QMenu:
        """The menu at ``path`` ("Layer" or "Layer/New"), created on first use."""
        if path in self._menus:
            return self._menus[path]
        parent_path, _, name = path.rpartition("/")
        parent = self.menu(parent_path) if parent_path else self.menuBar()
        menu = parent.addMenu(f"&{name}")
        menu.setObjectName(f"menu-{path.lower().replace('/', '-')}")
        self._menus[path] = menu
        return menu

    def add_action(self, menu: str | None, key: str, text: str, slot, shortcut=None, *,
                   checkable: bool = False, tip: str = "") -> QAction:
        """Add a named action to ``menu`` (None: window-only, for shortcuts)."""
        if key in self.actions:
            raise ValueError(f"an action named {key!r} already exists")
        action = QAction(text, self)
        action.setObjectName(key)
        action.setCheckable(checkable)
        if shortcut is not None:
            seqs = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in seqs])
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)  # shortcuts work even with menus hidden
        if menu is not None:
            self.menu(menu).addAction(action)
        self.actions[key] = action
        return action

    def add_dock(self, key: str, title: str, widget: QWidget,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea, *,
                 scrollable: bool = False, tab_with: str | None = None) -> QDockWidget:
        """Put ``widget`` in a dock and list it in the Window menu. ``scrollable``: inside a
        scroll area, so a tall form neither squeezes the other docks nor widens its side
        until the canvas is cut off; ``tab_with``: a tab beside that dock."""
        if key in self.docks:
            raise ValueError(f"a dock named {key!r} already exists")
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        if scrollable:
            scroll = QScrollArea()
            scroll.setObjectName(f"scroll-{key}")
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(widget)
            widget = scroll
        # Enter in a dock's text field hands the keyboard back to the canvas, so the next
        # tool shortcut (B, E, ...) is not typed into the prompt.
        for edit in widget.findChildren(QLineEdit):
            edit.returnPressed.connect(self.canvas.setFocus)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if tab_with is not None:
            self.tabifyDockWidget(self.docks[tab_with], dock)
        self.menu("Window").addAction(dock.toggleViewAction())
        self.docks[key] = dock
        return dock

    def register_tool(self, tool_cls: type[Tool]) -> Tool:
        """Register a tool with a Tools-menu entry; tools sharing a shortcut cycle with Shift."""
        tool = self.tools.register(tool_cls)
        hint = f"\t{tool.shortcut}" if tool.shortcut else ""
        action = self.add_action("Tools", f"tool-{tool.id}", f"{tool.name}{hint}",
                                 lambda: self.tools.activate(tool.id), checkable=True)
        self._tool_group.addAction(action)
        self.toolbox.add_tool(action, tool.id, tool.name, tool.shortcut)
        if tool.shortcut:
            cycle = self._tool_cycles.setdefault(tool.shortcut, [])
            cycle.append(tool.id)
            if len(cycle) == 1:
                key = tool.shortcut
                self.add_action(None, f"key-{key}", f"Tool {key}", lambda: self._tool_key(key), key)
                self.add_action(None, f"key-shift-{key}", f"Next tool {key}", lambda: self._tool_key(key, True),
                                f"Shift+{key}")
        return tool

    @property
    def worker(self):
        """The engine thread (started on first use)."""
        if self._worker is None:
            from editor.worker import EngineWorker
            self._worker = EngineWorker(self)
        return self._worker

    @property
    def document(self) -> Document:
        return self.session.document

    # ------------------------------------------------------------ UI construction
    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.zoom_label = QLabel()
        self.pos_label = QLabel()
        self.color_label = QLabel()
        self.target_label = QLabel()
        for w in (self.target_label, self.pos_label, self.color_label, self.zoom_label):
            sb.addPermanentWidget(w)
        self.canvas.zoom_changed.connect(self._update_zoom_label)
        self.canvas.rotation_changed.connect(self._update_zoom_label)
        self.canvas.cursor_moved.connect(self._on_cursor)
        self.settings.changed.connect(self._on_settings_changed)
        self.session.paint_target_changed.connect(self._on_paint_target)
        self._on_settings_changed("foreground")
        self._on_paint_target(self.session.paint_target)
        self._update_zoom_label()

    def _build_actions(self) -> None:
        A = self.add_action
        K = QKeySequence.StandardKey
        A("File", "new", "&New…", self.new_document_dialog, "Ctrl+N")
        A("File", "open", "&Open…", self.open_dialog, "Ctrl+O")
        A("File", "import-layers", "&Import as Layers…", self.import_dialog, "Ctrl+Shift+O")
        self.menu("File").addSeparator()
        A("File", "save", "&Save", self.save, "Ctrl+S")
        A("File", "save-as", "Save &As…", self.save_as, "Ctrl+Shift+S")
        A("File", "export-png", "&Export Image…", self.export_dialog, "Ctrl+E")
        self.menu("File").addSeparator()
        A("File", "quit", "&Quit", self.close, "Ctrl+Q")

        A("Edit", "undo", "&Undo", self.undo, "Ctrl+Z")
        A("Edit", "redo", "&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        self.menu("Edit").addSeparator()
        A("Edit", "copy", "&Copy Layer", self.copy_layer, "Ctrl+C")
        A("Edit", "paste", "&Paste as Layer", self.paste, "Ctrl+V")
        A("Edit", "clear", "C&lear", self.clear_selection_pixels, [QKeySequence(K.Delete), "Backspace"])
        self.menu("Edit").addSeparator()
        A("Edit", "preferences", "Pr&eferences…", self.open_preferences, QKeySequence(K.Preferences))
        self.menu("Edit").addSeparator()
        A("Edit", "swap-colors", "Swap Colours", self.settings.swap_colors, "X")
        A("Edit", "default-colors", "Default Colours", self._default_colors, "D")
        A("Edit", "brush-smaller", "Smaller Brush", lambda: self.settings.grow(1 / 1.15), "[")
        A("Edit", "brush-larger", "Larger Brush", lambda: self.settings.grow(1.15), "]")

        A("Select", "select-all", "Select &All", self.select_all, "Ctrl+A")
        A("Select", "deselect", "&Deselect", self.deselect, ["Ctrl+Shift+A", "Ctrl+D"])
        A("Select", "invert-selection", "&Invert", self.invert_selection, "Ctrl+I")
        A("Select", "quick-mask", "&Quick Mask (paint the selection)", self.toggle_quick_mask, "Q", checkable=True)

        lp = self.layers_panel
        A("Layer", "layer-new", "&New Layer", lp.add_layer, "Ctrl+Shift+N")
        A("Layer", "layer-group", "&Group Layer", lp.group_layer, "Ctrl+G")
        A("Layer", "layer-duplicate", "&Duplicate Layer", lp.duplicate_layer, "Ctrl+J")
        A("Layer", "layer-delete", "De&lete Layer", lp.delete_layer)
        A("Layer", "layer-merge-down", "&Merge Down", lp.merge_down, "Ctrl+Shift+E")
        A("Layer", "layer-flatten", "&Flatten Image", lp.flatten)
        self.menu("Layer").addSeparator()
        A("Layer", "mask-add", "Add &Mask", lp.add_mask)
        A("Layer", "mask-remove", "&Remove Mask", self.remove_mask)
        A("Layer", "mask-edit", "&Edit Mask", self.toggle_mask_editing, checkable=True)
        self.menu("Layer").addSeparator()
        A("Layer", "layer-export", "E&xport Layer as PNG…", lambda: self.export_layer_dialog())

        A("View", "zoom-in", "Zoom &In", lambda: self.canvas.zoom_by(1.25), ["Ctrl++", "Ctrl+="])
        A("View", "zoom-out", "Zoom &Out", lambda: self.canvas.zoom_by(0.8), "Ctrl+-")
        A("View", "zoom-fit", "&Fit in Window", self.canvas.fit, "Ctrl+0")
        A("View", "zoom-100", "&Actual Pixels (100%)", self.canvas.actual_size, "Ctrl+1")
        self.menu("View").addSeparator()
        # Krita's keys: 4 and 6 turn the view, 5 straightens it.
        A("View", "rotate-left", "Rotate View &Left", lambda: self.canvas.rotate_by(-15), "4")
        A("View", "rotate-right", "Rotate View &Right", lambda: self.canvas.rotate_by(15), "6")
        A("View", "rotate-reset", "Reset &Rotation", lambda: self.canvas.set_rotation(0), "5")

        A("Help", "about", "&About Layerbrush", lambda: self.dialogs.info(
            "About Layerbrush", "Layerbrush: a layered image editor with live diffusion brushes."))
        self.tools.active_changed.connect(self._on_tool_changed)

    # ------------------------------------------------------------ status / title
    def _update_title(self) -> None:
        mark = "*" if self.session.modified else ""
        self.setWindowTitle(f"{self.session.display_name}{mark} — {APP_NAME}")

    def _update_zoom_label(self, *_args) -> None:
        text = f"{self.canvas.zoom * 100:.0f}%"
        if self.canvas.rotation:
            text += f"  {self.canvas.rotation:+.0f}°"
        self.zoom_label.setText(text)

    def _on_cursor(self, pos) -> None:
        if pos is None:
            self.pos_label.setText("")
        else:
            self.pos_label.setText(f"{int(np.floor(pos.x()))}, {int(np.floor(pos.y()))}")

    def _on_settings_changed(self, name: str) -> None:
        if name in ("foreground", "background"):
            c = self.settings.foreground
            self.color_label.setText(f"■ {c.name()}")
            self.color_label.setStyleSheet(f"color: {c.name()};")

    def _on_paint_target(self, target: str) -> None:
        self.target_label.setText({"pixels": "", "mask": "Painting mask", "selection": "Quick mask"}[target])
        if "quick-mask" in self.actions:
            self.actions["quick-mask"].setChecked(target == "selection")
            self.actions["mask-edit"].setChecked(target == "mask")

    def _on_tool_changed(self, tool_id: str) -> None:
        action = self.actions.get(f"tool-{tool_id}")
        if action is not None:
            action.setChecked(True)
        self.show_message(self.tools.active.name, 1500)

    def show_message(self, text: str, timeout_ms: int = 4000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_warnings(self, title: str, path: Path, warnings: list[str], limit: int = 40) -> None:
        """List what opening or saving ``path`` changed or left out (nothing when empty)."""
        if not warnings:
            return
        lines = [f"• {w}" for w in warnings[:limit]]
        if len(warnings) > limit:
            lines.append(f"… and {len(warnings) - limit} more")
        log.info("%s %s: %s", title, path, "; ".join(warnings))
        self.dialogs.info(title, f"{path.name}:\n" + "\n".join(lines))

    def show_error(self, title: str, text: str) -> None:
        log.info("%s: %s", title, text)
        self.dialogs.error(title, text)

    # ------------------------------------------------------------ tools
    def _tool_key(self, key: str, cycle: bool = False) -> None:
        ids = self._tool_cycles[key]
        active = self.tools.active.id if self.tools.active else None
        if active in ids:
            target = ids[(ids.index(active) + 1) % len(ids)] if cycle else active
        else:
            target = getattr(self, "_last_in_cycle", {}).get(key, ids[0])
        self._last_in_cycle = getattr(self, "_last_in_cycle", {})
        self._last_in_cycle[key] = target
        self.tools.activate(target)

    def _default_colors(self) -> None:
        self.settings.foreground = QColor(0, 0, 0)
        self.settings.background = QColor(255, 255, 255)

    # ------------------------------------------------------------ history
    def _connect_history(self, doc: Document) -> None:
        doc.history.events.changed.connect(self._update_undo_actions)
        self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        h = self.document.history
        self.actions["undo"].setEnabled(h.can_undo)
        self.actions["redo"].setEnabled(h.can_redo)
        self.actions["undo"].setText(f"&Undo {h.labels[h.index - 1]}" if h.can_undo else "&Undo")
        self.actions["redo"].setText(f"&Redo {h.labels[h.index]}" if h.can_redo else "&Redo")

    def undo(self) -> None:
        if self.canvas._stroking:
            return  # never undo under a stroke in progress
        self.document.history.undo()

    def redo(self) -> None:
        if not self.canvas._stroking:
            self.document.history.redo()

    def _on_document_replaced(self, doc: Document) -> None:
        self._connect_history(doc)
        self._update_title()

    # ------------------------------------------------------------ files
    def confirm_discard(self) -> bool:
        """True if the current document may be replaced (saved, discarded or unmodified)."""
        if not self.session.modified:
            return True
        answer = self.dialogs.ask_save_changes(self.session.display_name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_document_dialog(self) -> None:
        ai = getattr(self, "ai", None)
        if ai is not None:  # the AI model's own size, and a word on why
            width, height, note = ai.new_image_size(self.document.width, self.document.height)
        else:
            width, height, note = self.document.width, self.document.height, ""
        size = self.dialogs.ask_new_size(width, height, note=note)
        if size is not None:
            self.new_document(*size)

    def new_document(self, width: int, height: int) -> bool:
        if not self.confirm_discard():
            return False
        self._replace(default_document(width, height), None)
        return True

    def _replace(self, doc: Document, path: Path | None, name: str | None = None) -> None:
        old = self.document
        self.session.replace(doc, path, name)
        self.canvas.fit()
        self._clear_recovery(old)

    def open_dialog(self) -> None:
        path = self.dialogs.open_path()
        if path is not None:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Open ``path``; on a bad file show the error and keep the current document."""
        path = Path(path)
        if not self.confirm_discard():
            return False
        warnings: list[str] = []
        try:
            doc = open_document(path, warnings)
        except FileFormatError as exc:
            self.show_error("Cannot open file", str(exc))
            return False
        except OSError as exc:
            self.show_error("Cannot open file", f"{path}: {exc.strerror or exc}")
            return False
        # A flat image opens as a new project: Ctrl+S asks where to save the layers.
        layered = path.suffix.lower() in LAYERED_FORMATS
        self._replace(doc, path if layered else None, path.name)
        self.show_message(f"Opened {path}")
        self.show_warnings("Opened with changes", path, warnings)
        return True

    def save(self) -> bool:
        path = self.session.path
        if path is None or path.suffix.lower() not in LAYERED_FORMATS:
            return self.save_as()
        return self.save_to(path)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            suggested = Path(self.session.display_name).with_suffix(".ora").name
            path = self.dialogs.save_path("Save as", suggested)
            if path is None:
                return False
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".ora")
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        warnings: list[str] = []
        # A save replaces the file atomically (through a symbolic link: its target); the
        # other names of a hard-linked file keep the previous version, so say so.
        twins = other_hard_links(path)
        try:
            save_document(self.document, path, warnings)
        except (FileFormatError, OSError, ValueError) as exc:
            self.show_error("Cannot save", str(exc))
            return False
        if path.suffix.lower() in LAYERED_FORMATS:
            self.session.mark_saved(path)
            self._clear_recovery(self.document)
        links = "other hard link keeps" if twins == 1 else f"{twins} other hard links keep"
        note = f" (as a new file: its {links} the previous version)" if twins else ""
        self.show_message(f"Saved {path}{note}", 10000 if twins else 4000)
        self.show_warnings("Saved with changes", path, warnings)
        return True

    def export_dialog(self) -> None:
        suggested = Path(self.session.display_name).stem + ".png"
        path = self.dialogs.save_path("Export image", suggested, IMAGE_FILTER)
        if path is not None:
            self.export_png(path)

    def export_png(self, path: str | Path) -> bool:
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".png")
        try:
            export_image(self.document, path)
        except (FileFormatError, OSError, ValueError) as exc:
            self.show_error("Cannot export", str(exc))
            return False
        self.show_message(f"Exported {path}")
        return True

    def export_layer_dialog(self, layer=None) -> None:
        layer = layer or self.document.active_layer
        if layer is None:
            return
        path = self.dialogs.save_path("Export layer", f"{layer.name}.png", IMAGE_FILTER)
        if path is not None:
            self.export_layer(layer, path)

    def export_layer(self, layer, path: str | Path) -> bool:
        """Write ``layer`` as it looks alone (mask and opacity applied) to an image file."""
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".png")
        rgba, _ = layer_ops.layer_image(self.document, layer)
        try:
            save_image(rgba, path)
        except (FileFormatError, OSError, ValueError) as exc:
            self.show_error("Cannot export layer", str(exc))
            return False
        self.show_message(f"Exported {layer.name} to {path}")
        return True

    def import_dialog(self) -> None:
        paths = self.dialogs.open_paths()
        if paths:
            self.add_files_as_layers(paths)

    # ------------------------------------------------------------ layers from files / clipboard
    def add_image_layer(self, rgba: np.ndarray, name: str, at: QPointF | None = None,
                        parent=None, index: int | None = None) -> RasterLayer:
        """A new layer holding ``rgba``, centred on document point ``at`` (or top-left)."""
        doc = self.document
        h, w = rgba.shape[:2]
        if at is None or (w >= doc.width and h >= doc.height):
            offset = (0, 0) if at is None or w >= doc.width else (int(at.x()) - w // 2, int(at.y()) - h // 2)
        else:
            offset = (int(round(at.x())) - w // 2, int(round(at.y())) - h // 2)
        layer = RasterLayer(layer_ops.unique_name(doc, name or "Layer"), np.ascontiguousarray(rgba), offset=offset)
        if parent is None and index is None:
            where, index = layer_ops.insert_point(doc)
        else:
            where = parent
        doc.add_layer(layer, where, index, label=f"Add {layer.name}")
        return layer

    def add_files_as_layers(self, paths, at: QPointF | None = None, parent=None, index=None) -> list[RasterLayer]:
        """Each file becomes a layer (a layered file is flattened); one undo step for all."""
        added, problems = [], []
        images = []
        converted: list[tuple[Path, list[str]]] = []
        for path in map(Path, paths):
            warnings: list[str] = []
            try:
                images.append((flatten(open_document(path, warnings)), path.stem))
                if warnings:
                    converted.append((path, warnings))
            except FileFormatError as exc:
                problems.append(str(exc))
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
        if images:
            label = f"Add {images[0][1]}" if len(images) == 1 else f"Add {len(images)} layers"
            with self.document.history.group(label):
                for rgba, name in images:
                    added.append(self.add_image_layer(rgba, name, at, parent, index))
                    if index is not None:
                        index += 1
            self.document.active_layer = added[-1]
        if problems:
            self.show_error("Some files could not be added", "\n".join(problems))
        for path, warnings in converted:
            self.show_warnings("Added with changes", path, warnings)
        return added

    def _on_panel_files(self, paths, parent, index) -> None:
        self.add_files_as_layers(paths, None, parent, index)

    def layer_mime_data(self, layer) -> QMimeData:
        return self.layers_panel.model.layer_mime_data(layer)

    def copy_layer(self) -> None:
        """Copy the active layer (as you see it alone) to the clipboard as an image."""
        layer = self.document.active_layer
        if layer is None:
            return
        rgba, _ = layer_ops.layer_image(self.document, layer)
        md = QMimeData()
        md.setImageData(rgba_to_qimage(rgba))
        md.setData("image/png", QByteArray(encode_png(rgba, compress_level=1)))
        QGuiApplication.clipboard().setMimeData(md)
        self.show_message(f"Copied {layer.name}")

    def paste(self) -> None:
        """Paste an image (or image files) from the clipboard as new layers."""
        md = QGuiApplication.clipboard().mimeData()
        if md is None:
            return
        files = [Path(u.toLocalFile()) for u in md.urls() if u.isLocalFile()] if md.hasUrls() else []
        if files:
            self.add_files_as_layers(files, self._view_center())
            return
        image = QImage()
        if md.hasFormat("image/png"):
            image.loadFromData(md.data("image/png"), "PNG")  # keeps alpha, unlike some image/* routes
        if image.isNull() and md.hasImage():
            image = QImage(md.imageData())
        if image.isNull():
            self.show_message("The clipboard holds no image")
            return
        self.add_image_layer(qimage_to_rgba(image), "Pasted", self._view_center())

    def _view_center(self) -> QPointF:
        c = self.canvas.widget_to_doc(QPointF(self.canvas.width() / 2, self.canvas.height() / 2))
        d = self.document
        return QPointF(min(max(c.x(), 0), d.width), min(max(c.y(), 0), d.height))

    # ------------------------------------------------------------ selection / masks
    def select_all(self) -> None:
        d = self.document
        d.set_selection(np.full((d.height, d.width), 255, np.uint8), "Select all")

    def deselect(self) -> None:
        if self.document.selection is not None:
            self.document.set_selection(None, "Deselect")
            if self.session.paint_target == "selection":
                self.session.paint_target = "pixels"

    def invert_selection(self) -> None:
        d = self.document
        sel = d.selection
        new = np.zeros((d.height, d.width), np.uint8) if sel is None else 255 - sel
        d.set_selection(new, "Invert selection")

    def toggle_quick_mask(self) -> None:
        """Quick mask: brushes paint the selection (created empty if there is none)."""
        if self.session.paint_target == "selection":
            self.session.paint_target = "pixels"
            return
        d = self.document
        if d.selection is None:
            d.set_selection(np.zeros((d.height, d.width), np.uint8), "Quick mask")
        self.session.paint_target = "selection"

    def toggle_mask_editing(self) -> None:
        layer = self.document.active_layer
        if self.session.paint_target == "mask" or layer is None or layer.mask is None:
            self.session.paint_target = "pixels"
            if layer is not None and layer.mask is None:
                self.show_message("The active layer has no mask: Layer > Add Mask first")
        else:
            self.session.paint_target = "mask"

    def remove_mask(self) -> None:
        layer = self.document.active_layer
        if layer is not None and layer.mask is not None:
            layer_ops.remove_mask(self.document, layer)
            self.session.paint_target = "pixels"

    def clear_selection_pixels(self) -> None:
        layer = self.document.active_layer
        if layer is None:
            return
        try:
            layer_ops.clear_in_selection(self.document, layer)
        except ValueError as exc:
            self.show_error("Cannot clear", str(exc))

    # ------------------------------------------------------------ autosave / recovery
    def autosave(self) -> bool:
        """Snapshot a modified document for crash recovery; the file is written in the
        background (see autosave.py). False when unmodified or a write is still running."""
        if not self.session.modified or self.background_autosave.busy:
            return False
        try:
            write = recovery.snapshot_recovery(self.document, source_path=self.session.path,
                                               title=self.session.display_name)
        except (FileFormatError, OSError) as exc:
            self.show_message(f"Autosave failed: {exc}", 8000)
            return False
        return self.background_autosave.start(write)

    def set_autosave_interval(self, ms: int) -> None:
        """Autosave every ``ms`` milliseconds (0: never)."""
        self.autosave_timer.stop()
        self.autosave_timer.setInterval(max(0, int(ms)))
        if ms > 0:
            self.autosave_timer.start()

    def open_preferences(self) -> PreferencesDialog:
        """Show the Preferences dialog (window-modal, not blocking); OK applies and remembers."""
        dialog = PreferencesDialog(self.preferences, self)

        def apply() -> None:
            self.preferences = dialog.preferences()
            self.set_autosave_interval(self.preferences.autosave_ms)
            if getattr(self, "ai", None) is not None:
                self.ai.set_memory_mode(self.preferences.memory_mode)
            try:
                save_preferences(self.preferences)
            except OSError as exc:
                self.show_error("Preferences", f"The preferences apply now but could not be saved: {exc}")

        dialog.accepted.connect(apply)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _autosave_finished(self, error) -> None:
        if error:
            self.show_message(f"Autosave failed: {error}", 8000)

    def _clear_recovery(self, target) -> None:
        self.background_autosave.wait()  # else a write in flight would bring the snapshot back
        recovery.clear_recovery(target)

    def offer_recovery(self) -> bool:
        """At start: if autosaved snapshots exist, ask and open the newest. True if recovered."""
        entries = recovery.list_recoverable()
        if not entries:
            return False
        if not self.dialogs.ask_recover(entries):
            recovery.clear_all_recovery()
            return False
        entry = entries[0]
        try:
            doc = recovery.load_recovery(entry)
        except FileFormatError as exc:
            self.show_error("Cannot recover", str(exc))
            return False
        source = Path(entry.source_path) if entry.source_path else None
        self._replace(doc, source)
        # The snapshot stays until the recovered document is autosaved again (right away,
        # below: atomically, so the old snapshot is replaced only by a whole new one) or
        # saved: a second crash now must not lose the work.
        recovery.adopt_recovery(doc, entry)
        # Unsaved by definition: mark modified so the user is asked before losing it.
        self.session._clean_marker = object()
        self.session._set_modified(True)
        self.autosave()
        self.show_message(f"Recovered {entry.title}")
        return True

    # ------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.autosave_timer.stop()
        self._clear_recovery(self.document)
        if self._worker is not None:
            # A model load can't be interrupted: vanish now rather than look frozen;
            # a job still running after the short wait is awaited at interpreter exit.
            self.hide()
            self._worker.shutdown(1000)
        event.accept()
