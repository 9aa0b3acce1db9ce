"""Eyedropper: pick the foreground colour from the image as shown."""
from __future__ import annotations

from PySide6.QtGui import QColor

from editor.core.paint import pick_color

from .base import PointerEvent, Tool


class EyedropperTool(Tool):
    id = "eyedropper"
    name = "Eyedropper"
    shortcut = "I"

    def _pick(self, ev: PointerEvent) -> None:
        color = pick_color(self.host.session.compositor, ev.x, ev.y)
        if color is None:
            return
        r, g, b, a = color
        if a == 0:
            self.host.show_message("Nothing to pick here: the image is transparent")
            return
        self.settings.foreground = QColor(r, g, b)

    def press(self, ev: PointerEvent) -> None:
        self._pick(ev)

    def move(self, ev: PointerEvent) -> None:
        self._pick(ev)
