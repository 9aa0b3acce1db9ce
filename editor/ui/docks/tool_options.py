"""Tool options: brush size, hardness, opacity, colours, feather, fill tolerance."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from ..tool_settings import SIZE_RANGE, ToolSettings


class ColorButton(QPushButton):
    """A swatch; clicking opens a colour dialog."""

    picked = Signal(QColor)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self.setFixedSize(36, 24)
        self.clicked.connect(self._pick)
        self._color = QColor()

    def set_color(self, color: QColor) -> None:
        self._color = QColor(color)
        self.setStyleSheet(f"background-color: {color.name(QColor.NameFormat.HexArgb)}; border: 1px solid #222;")
        self.setToolTip(f"{self._title}: {color.name()}")

    def _pick(self) -> None:
        color = QColorDialog.getColor(self._color, self, self._title, QColorDialog.ColorDialogOption.ShowAlphaChannel)
        if color.isValid():
            self.picked.emit(color)


class _SliderSpin(QWidget):
    """A slider with a spin box showing the same integer value."""

    valueChanged = Signal(int)

    def __init__(self, lo: int, hi: int, suffix: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.spin = QSpinBox()
        self.spin.setRange(lo, hi)
        self.spin.setSuffix(suffix)
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.spin.valueChanged.connect(self.valueChanged)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)

    def value(self) -> int:
        return self.spin.value()

    def setValue(self, v: int) -> None:
        self.spin.blockSignals(True)
        self.slider.blockSignals(True)
        self.spin.setValue(v)
        self.slider.setValue(v)
        self.spin.blockSignals(False)
        self.slider.blockSignals(False)


class ToolOptionsPanel(QWidget):
    """Edits the shared :class:`ToolSettings` and follows changes made elsewhere ([ ], X)."""

    def __init__(self, settings: ToolSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tool-options")
        self.settings = settings
        self.size = _SliderSpin(*SIZE_RANGE, " px")
        self.size.slider.setRange(1, 300)  # the spin box still reaches the full range
        self.hardness = _SliderSpin(0, 100, " %")
        self.opacity = _SliderSpin(0, 100, " %")
        self.feather = _SliderSpin(0, 200, " px")
        self.tolerance = _SliderSpin(0, 255)
        self.fg = ColorButton("Foreground colour")
        self.bg = ColorButton("Background colour")
        swap = QToolButton()
        swap.setText("⇄")
        swap.setToolTip("Swap colours (X)")
        swap.clicked.connect(settings.swap_colors)
        self.pressure_size = QCheckBox("Pressure → size")
        self.pressure_opacity = QCheckBox("Pressure → opacity")

        colors = QHBoxLayout()
        colors.addWidget(self.fg)
        colors.addWidget(swap)
        colors.addWidget(self.bg)
        colors.addStretch(1)
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        form.addRow("Size", self.size)
        form.addRow("Hardness", self.hardness)
        form.addRow("Opacity", self.opacity)
        form.addRow("Colour", colors)
        form.addRow("Feather", self.feather)
        form.addRow("Fill tolerance", self.tolerance)
        form.addRow(self.pressure_size)
        form.addRow(self.pressure_opacity)

        self.size.valueChanged.connect(lambda v: setattr(settings, "size", v))
        self.hardness.valueChanged.connect(lambda v: setattr(settings, "hardness", v / 100))
        self.opacity.valueChanged.connect(lambda v: setattr(settings, "opacity", v / 100))
        self.feather.valueChanged.connect(lambda v: setattr(settings, "feather", v))
        self.tolerance.valueChanged.connect(lambda v: setattr(settings, "tolerance", v))
        self.fg.picked.connect(lambda c: setattr(settings, "foreground", c))
        self.bg.picked.connect(lambda c: setattr(settings, "background", c))
        self.pressure_size.toggled.connect(lambda v: setattr(settings, "pressure_size", v))
        self.pressure_opacity.toggled.connect(lambda v: setattr(settings, "pressure_opacity", v))
        settings.changed.connect(self._sync)
        for name in ("size", "hardness", "opacity", "feather", "tolerance", "foreground", "background",
                     "pressure_size", "pressure_opacity"):
            self._sync(name)

    def _sync(self, name: str) -> None:
        s = self.settings
        if name == "size":
            self.size.setValue(round(s.size))
        elif name == "hardness":
            self.hardness.setValue(round(s.hardness * 100))
        elif name == "opacity":
            self.opacity.setValue(round(s.opacity * 100))
        elif name == "feather":
            self.feather.setValue(round(s.feather))
        elif name == "tolerance":
            self.tolerance.setValue(s.tolerance)
        elif name == "foreground":
            self.fg.set_color(s.foreground)
        elif name == "background":
            self.bg.set_color(s.background)
        elif name == "pressure_size":
            self.pressure_size.setChecked(s.pressure_size)
        elif name == "pressure_opacity":
            self.pressure_opacity.setChecked(s.pressure_opacity)
