"""Eyedropper: pick the foreground colour from the image as shown."""
from __future__ import annotations

import math

from PySide6.QtGui import QColor

from editor.core.geometry import Rect

from .base import PointerEvent, Tool


class EyedropperTool(Tool):
    id = "eyedropper"
    name = "Eyedropper"
    shortcut = "I"

    def _pick(self, ev: PointerEvent) -> None:
        doc = self.document
        x, y = math.floor(ev.x), math.floor(ev.y)
        if not (0 <= x < doc.width and 0 <= y < doc.height):
            return
        r, g, b, a = (int(v) for v in self.host.session.compositor.render(Rect(x, y, 1, 1))[0, 0])
        if a == 0:
            self.host.show_message("Nothing to pick here: the image is transparent")
            return
        self.settings.foreground = QColor(r, g, b)

    def press(self, ev: PointerEvent) -> None:
        self._pick(ev)

    def move(self, ev: PointerEvent) -> None:
        self._pick(ev)
