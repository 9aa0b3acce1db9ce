"""Menus filled from the installed plugins: Filters, File > Export, Tools > Brush
Presets, Help > Plugins. ``install_plugins(window)`` adds them to a MainWindow.

Running a filter applies it to the active layer (or its mask while the mask is
being painted) as one undo step, through the selection when there is one.
Filter parameters are asked with ``window.dialogs.ask_filter_params(filter,
initial)`` when the dialogs object has it (tests inject one), else with
:class:`FilterParamsDialog`.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from editor.core.errors import LayerLockedError
from editor.plugins import Filter, Param, PluginError, Plugins, apply_filter, installed_plugins, run_exporter

INT_LIMIT = 2**31 - 1


class FilterParamsDialog(QDialog):
    """A form with one field per filter parameter; ``values()`` reads them back."""

    def __init__(self, filt: Filter, initial: dict | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = filt
        self.setWindowTitle(filt.name)
        self.setObjectName("filter-params-dialog")
        form = QFormLayout(self)
        if filt.description:
            form.addRow(QLabel(filt.description))
        self.fields: dict[str, QWidget] = {}
        initial = initial or {}
        for p in filt.params:
            field = self._field(p, initial.get(p.name, p.default))
            field.setObjectName(f"param-{p.name}")
            self.fields[p.name] = field
            form.addRow(p.title, field)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _field(p: Param, value) -> QWidget:
        if p.kind is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            return box
        if p.kind is str:
            combo = QComboBox()
            combo.addItems(list(p.choices))
            combo.setCurrentText(str(value))
            return combo
        if p.kind is int:
            spin = QSpinBox()
            spin.setRange(int(p.minimum) if p.minimum is not None else -INT_LIMIT,
                          int(p.maximum) if p.maximum is not None else INT_LIMIT)
            spin.setSingleStep(int(p.step or 1))
            spin.setValue(int(value))
            return spin
        spin = QDoubleSpinBox()
        spin.setDecimals(2)
        spin.setRange(p.minimum if p.minimum is not None else -1e9, p.maximum if p.maximum is not None else 1e9)
        spin.setSingleStep(p.step or 0.1)
        spin.setValue(float(value))
        return spin

    def values(self) -> dict:
        out = {}
        for p in self.filter.params:
            field = self.fields[p.name]
            if isinstance(field, QCheckBox):
                out[p.name] = field.isChecked()
            elif isinstance(field, QComboBox):
                out[p.name] = field.currentText()
            else:
                out[p.name] = field.value()
        return self.filter.resolve(out)


def ask_filter_params(parent: QWidget, filt: Filter, initial: dict | None = None) -> dict | None:
    """Show the parameter form modally; the values, or None when cancelled."""
    dialog = FilterParamsDialog(filt, initial, parent)
    return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


class PluginMenus(QObject):
    """The plugin-provided actions of one window (``window.plugin_menus``)."""

    def __init__(self, window, plugins: Plugins) -> None:
        super().__init__(window)
        self.window = window
        self.plugins = plugins
        self.last_params: dict[str, dict] = {}
        self.last_filter: str | None = None
        self._build()
        if plugins.failures:
            names = ", ".join(f.plugin for f in plugins.failures)
            window.show_message(f"Some plugins were skipped ({names}): see Help > Plugins", 10000)

    # ------------------------------------------------------------ menus
    def _build(self) -> None:
        w = self.window
        filters_menu = w.menu("Filters")
        bar = w.menuBar()
        bar.removeAction(filters_menu.menuAction())  # between Layer and View, not after Help
        bar.insertAction(w.menu("View").menuAction(), filters_menu.menuAction())
        w.add_action("Filters", "filter-repeat", "Repeat Last Filter", self.repeat_last, "Ctrl+F")
        w.actions["filter-repeat"].setEnabled(False)
        filters_menu.addSeparator()
        for filt in self.plugins.filters.values():
            text = f"{filt.name}…" if filt.params else filt.name
            w.add_action("Filters", self.action_key("filter", filt.id), text,
                         lambda fid=filt.id: self.run_filter(fid), tip=filt.description)
        if not self.plugins.filters:
            w.menu("Filters").addAction("(no filter plugins installed)").setEnabled(False)

        file_menu = w.menu("File")
        export_menu = w.menu("File/Export")
        export_menu.setTitle("E&xport As")
        file_menu.removeAction(export_menu.menuAction())
        actions = file_menu.actions()
        anchor = w.actions.get("export-png")
        after = actions[actions.index(anchor) + 1] if anchor in actions and actions[-1] is not anchor else None
        if after is None:
            file_menu.addMenu(export_menu)
        else:
            file_menu.insertMenu(after, export_menu)
        for exporter in self.plugins.exporters.values():
            w.add_action("File/Export", self.action_key("export", exporter.id),
                         f"{exporter.name}…", lambda eid=exporter.id: self.export(eid), tip=exporter.description)
        export_menu.setEnabled(bool(self.plugins.exporters))

        if self.plugins.brush_presets:
            for preset in self.plugins.brush_presets.values():
                w.add_action("Tools/Brush Presets", self.action_key("preset", preset.id), preset.name,
                             lambda pid=preset.id: self.apply_preset(pid))
        w.add_action("Help", "plugins-info", "&Plugins…", self.show_plugins)

    @staticmethod
    def action_key(kind: str, item_id: str) -> str:
        return f"{kind}-{item_id.replace(':', '-')}"

    # ------------------------------------------------------------ filters
    def _ask(self, filt: Filter, initial: dict) -> dict | None:
        ask = getattr(self.window.dialogs, "ask_filter_params", None)
        if ask is not None:
            return ask(filt, initial)
        return ask_filter_params(self.window, filt, initial)

    def run_filter(self, filter_id: str, params: dict | None = None) -> bool:
        """Apply a filter to the active layer (its mask while painting the mask);
        asks for parameters unless given. True when applied."""
        w = self.window
        filt = self.plugins.filter(filter_id)
        layer = w.document.active_layer
        if layer is None:
            w.show_message("No active layer to filter")
            return False
        if params is None and filt.params:
            params = self._ask(filt, self.last_params.get(filt.id, {}))
            if params is None:
                return False
        target = "mask" if w.session.paint_target == "mask" and layer.mask is not None else "pixels"
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            changed = apply_filter(w.document, layer, filt, params, target=target)
        except (PluginError, ValueError, LayerLockedError) as exc:
            w.show_error(f"Cannot apply {filt.name}", str(exc))
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.last_params[filt.id] = dict(params or {})
        self.last_filter = filt.id
        repeat = w.actions["filter-repeat"]
        repeat.setText(f"Repeat {filt.name}")
        repeat.setEnabled(True)
        w.show_message(f"{filt.name} applied" if not changed.is_empty else f"{filt.name}: nothing changed")
        return True

    def repeat_last(self) -> bool:
        """Run the last filter again with the same parameters (Ctrl+F)."""
        if self.last_filter is None:
            return False
        return self.run_filter(self.last_filter, self.last_params.get(self.last_filter, {}))

    # ------------------------------------------------------------ exporters, presets
    def export(self, exporter_id: str, path: str | Path | None = None) -> Path | None:
        """Export the document with a plugin exporter (asks where unless ``path``)."""
        w = self.window
        exporter = self.plugins.exporter(exporter_id)
        if path is None:
            suggested = Path(w.session.display_name).stem + exporter.extension
            path = w.dialogs.save_path(f"Export: {exporter.name}", suggested,
                                       f"{exporter.name} (*{exporter.extension})")
            if path is None:
                return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = run_exporter(exporter, w.document, path)
        except (PluginError, OSError) as exc:
            w.show_error(f"Cannot export ({exporter.name})", str(exc))
            return None
        finally:
            QApplication.restoreOverrideCursor()
        w.show_message(f"Exported {written}")
        return written

    def apply_preset(self, preset_id: str) -> None:
        """Load a brush preset into the tool settings and pick the brush."""
        preset = self.plugins.brush_presets[preset_id]
        s = self.window.settings
        s.size, s.hardness, s.opacity = preset.size, preset.hardness, preset.opacity
        self.window.tools.activate("brush")
        self.window.show_message(f"Brush preset: {preset.name}")

    def show_plugins(self) -> None:
        p = self.plugins
        lines = [f"Loaded: {', '.join(p.loaded) or 'none'}",
                 f"{len(p.filters)} filters, {len(p.exporters)} exporters, {len(p.brush_presets)} brush presets"]
        if p.failures:
            lines += ["", "Skipped:"] + [f"• {f}" for f in p.failures]
        self.window.dialogs.info("Plugins", "\n".join(lines))


def install_plugins(window, plugins: Plugins | None = None) -> PluginMenus:
    """Add the plugin menus to ``window`` (installed plugins by default); also
    ``window.plugin_menus``."""
    menus = PluginMenus(window, installed_plugins() if plugins is None else plugins)
    window.plugin_menus = menus
    return menus
