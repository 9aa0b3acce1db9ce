"""Brush, eraser and mask brush: pointer strokes become core paint strokes.

A stroke (press .. release) is one undo step. Painting the layer's pixels, its mask
or the selection (quick mask) depends on the session's paint target; the mask brush
always paints a mask (the active layer's, or the selection in quick-mask mode).
Masks take the foreground colour's grey value; the eraser paints them black.
"""
from __future__ import annotations

from PySide6.QtCore import Qt

from editor.core.layers import RasterLayer
from editor.core.paint import Brush, Stroke

from .base import PointerEvent, Tool


class BrushTool(Tool):
    id = "brush"
    name = "Brush"
    shortcut = "B"
    outline = True
    erase = False

    def __init__(self, host) -> None:
        super().__init__(host)
        self._stroke = None

    def paint_target(self) -> str:
        return self.host.session.paint_target

    def _refuse(self, text: str) -> None:
        self.host.show_message(text)

    def press(self, ev: PointerEvent) -> None:
        doc = self.document
        target = self.paint_target()
        layer = doc.active_layer
        if target == "selection":
            if doc.selection is None:
                return self._refuse("No selection to paint: Select > Quick Mask first")
            layer = None
        else:
            if layer is None:
                return self._refuse("No active layer to paint on")
            if layer.locked:
                return self._refuse(f"Layer {layer.name!r} is locked")
            if target == "mask" and layer.mask is None:
                return self._refuse(f"Layer {layer.name!r} has no mask: Layer > Add Mask first")
            if target == "pixels" and not isinstance(layer, RasterLayer):
                return self._refuse(f"{layer.name!r} is a group: choose a layer to paint on")
        s = self.settings
        if target == "pixels":
            color = s.foreground_rgba()
            erase = self.erase
        else:
            g = 0 if self.erase else self.mask_value()
            color = (g, g, g, 255)
            erase = False
        brush = Brush(size=s.size, hardness=s.hardness, opacity=s.opacity, color=color, erase=erase,
                      pressure_size=s.pressure_size, pressure_opacity=s.pressure_opacity)
        self._stroke = Stroke(doc, layer, brush, target=target, label=self.stroke_label(target))
        self._stroke.dab(ev.x, ev.y, ev.pressure)

    def mask_value(self) -> int:
        """Grey level painted into masks and the selection."""
        return self.settings.foreground.lightness()

    def stroke_label(self, target: str) -> str:
        what = {"pixels": "", "mask": " mask", "selection": " selection"}[target]
        return f"{self.name}{what} stroke"

    def move(self, ev: PointerEvent) -> None:
        if self._stroke is not None:
            self._stroke.dab(ev.x, ev.y, ev.pressure)

    def release(self, ev: PointerEvent) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None:
            stroke.dab(ev.x, ev.y, ev.pressure)
            stroke.end()

    def cancel(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None:
            stroke.cancel()


class EraserTool(BrushTool):
    id = "eraser"
    name = "Eraser"
    shortcut = "E"
    erase = True


class MaskBrushTool(BrushTool):
    """Paints the active layer's mask (white reveals; Alt paints black), or the
    selection when quick mask is on."""

    id = "mask-brush"
    name = "Mask Brush"
    shortcut = ""

    def paint_target(self) -> str:
        return "selection" if self.host.session.paint_target == "selection" else "mask"

    def mask_value(self) -> int:
        return 255

    def press(self, ev: PointerEvent) -> None:
        self.erase = bool(ev.modifiers & Qt.KeyboardModifier.AltModifier)
        super().press(ev)
