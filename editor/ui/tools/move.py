"""Move tool: drag the active layer (a group moves all its layers)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from editor.core.commands import SetPropertyCommand
from editor.core.history import CompositeCommand
from editor.core.layers import GroupLayer

from .base import PointerEvent, Tool


class MoveTool(Tool):
    id = "move"
    name = "Move"
    shortcut = "V"
    cursor = Qt.CursorShape.SizeAllCursor

    def __init__(self, host) -> None:
        super().__init__(host)
        self._start = None
        self._moving: list[tuple[object, tuple[int, int]]] = []

    def press(self, ev: PointerEvent) -> None:
        layer = self.document.active_layer
        if layer is None:
            return
        layers = [layer] + (list(layer.walk()) if isinstance(layer, GroupLayer) else [])
        if any(lay.locked for lay in layers):
            self.host.show_message(f"Layer {layer.name!r} is locked")
            return
        self._start = (ev.x, ev.y)
        self._moving = [(lay, lay.offset) for lay in layers]

    def move(self, ev: PointerEvent) -> None:
        if self._start is None:
            return
        dx, dy = round(ev.x - self._start[0]), round(ev.y - self._start[1])
        # Live preview without history; release records the whole drag as one step.
        for lay, (ox, oy) in self._moving:
            lay.offset = (ox + dx, oy + dy)

    def release(self, ev: PointerEvent) -> None:
        if self._start is None:
            return
        self.move(ev)
        moved = [(lay, old, lay.offset) for lay, old in self._moving if lay.offset != old]
        self._start, self._moving = None, []
        if not moved:
            return
        cmd = CompositeCommand(f"Move {moved[0][0].name}")
        for lay, old, new in moved:
            cmd.add(SetPropertyCommand(lay, "offset", old, new, cmd.label))
        self.document.history.push(cmd)

    def cancel(self) -> None:
        for lay, old in self._moving:
            lay.offset = old
        self._start, self._moving = None, []
