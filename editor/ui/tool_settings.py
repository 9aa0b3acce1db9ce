"""Painting settings shared by the tools (application state, not document state)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

SIZE_RANGE = (1, 1000)


class ToolSettings(QObject):
    """Brush size, hardness, opacity, colours, selection feather and fill tolerance.

    ``changed(name)`` fires after any property changes, so option widgets, the brush
    cursor and the status bar can follow without polling.
    """

    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._values = {
            "size": 24.0,
            "hardness": 0.8,
            "opacity": 1.0,
            "feather": 0.0,
            "tolerance": 32,
            "pressure_size": True,
            "pressure_opacity": False,
        }
        self._fg = QColor(20, 20, 20)
        self._bg = QColor(255, 255, 255)

    def _set(self, name: str, value) -> None:
        if self._values[name] != value:
            self._values[name] = value
            self.changed.emit(name)

    @property
    def size(self) -> float:
        return self._values["size"]

    @size.setter
    def size(self, value: float) -> None:
        self._set("size", float(min(max(value, SIZE_RANGE[0]), SIZE_RANGE[1])))

    @property
    def hardness(self) -> float:
        return self._values["hardness"]

    @hardness.setter
    def hardness(self, value: float) -> None:
        self._set("hardness", float(min(max(value, 0.0), 1.0)))

    @property
    def opacity(self) -> float:
        return self._values["opacity"]

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._set("opacity", float(min(max(value, 0.0), 1.0)))

    @property
    def feather(self) -> float:
        return self._values["feather"]

    @feather.setter
    def feather(self, value: float) -> None:
        self._set("feather", float(min(max(value, 0.0), 500.0)))

    @property
    def tolerance(self) -> int:
        return self._values["tolerance"]

    @tolerance.setter
    def tolerance(self, value: int) -> None:
        self._set("tolerance", int(min(max(value, 0), 255)))

    @property
    def pressure_size(self) -> bool:
        return self._values["pressure_size"]

    @pressure_size.setter
    def pressure_size(self, value: bool) -> None:
        self._set("pressure_size", bool(value))

    @property
    def pressure_opacity(self) -> bool:
        return self._values["pressure_opacity"]

    @pressure_opacity.setter
    def pressure_opacity(self, value: bool) -> None:
        self._set("pressure_opacity", bool(value))

    @property
    def foreground(self) -> QColor:
        return QColor(self._fg)

    @foreground.setter
    def foreground(self, color: QColor) -> None:
        color = QColor(color)
        if color != self._fg:
            self._fg = color
            self.changed.emit("foreground")

    @property
    def background(self) -> QColor:
        return QColor(self._bg)

    @background.setter
    def background(self, color: QColor) -> None:
        color = QColor(color)
        if color != self._bg:
            self._bg = color
            self.changed.emit("background")

    def swap_colors(self) -> None:
        self._fg, self._bg = self._bg, self._fg
        self.changed.emit("foreground")
        self.changed.emit("background")

    def grow(self, factor: float) -> None:
        """Resize the brush by ``factor`` (the ``[`` and ``]`` keys), at least one pixel."""
        new = self.size * factor
        if abs(new - self.size) < 1:
            new = self.size + (1 if factor > 1 else -1)
        self.size = round(new)

    def foreground_rgba(self) -> tuple[int, int, int, int]:
        c = self._fg
        return c.red(), c.green(), c.blue(), c.alpha()
