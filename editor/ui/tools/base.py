"""Tool base class, pointer events in document coordinates, and the tool registry."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from PySide6.QtCore import QObject, QPointF, Qt, Signal

if TYPE_CHECKING:
    from PySide6.QtGui import QPainter

    from editor.core.document import Document

    from ..canvas import Canvas
    from ..session import Session
    from ..tool_settings import ToolSettings


@dataclass(frozen=True)
class PointerEvent:
    """A press/move/release in document coordinates (floats: sub-pixel positions)."""

    x: float
    y: float
    pressure: float = 1.0
    button: Qt.MouseButton = Qt.MouseButton.LeftButton
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier

    @property
    def pos(self) -> QPointF:
        return QPointF(self.x, self.y)


class ToolHost(Protocol):
    """What a tool may reach: the session (document), settings, canvas and messages."""

    session: "Session"
    settings: "ToolSettings"
    canvas: "Canvas"

    def show_message(self, text: str, timeout_ms: int = 4000) -> None: ...

    def show_error(self, title: str, text: str) -> None: ...


class Tool:
    """A canvas tool. Subclasses set ``id``/``name``/``shortcut`` and override handlers.

    Tools act on ``self.document`` (always the window's current document) through its
    editing methods, so every change is a history step and widgets follow by events.
    """

    id = ""
    name = ""
    shortcut = ""
    #: draw the brush outline circle at the pointer
    outline = False
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, host: ToolHost) -> None:
        self.host = host

    @property
    def document(self) -> "Document":
        return self.host.session.document

    @property
    def settings(self) -> "ToolSettings":
        return self.host.settings

    def activate(self) -> None:
        """Called when the tool becomes active."""

    def deactivate(self) -> None:
        """Called when another tool takes over; finish or cancel any drag."""
        self.cancel()

    def press(self, ev: PointerEvent) -> None:
        pass

    def move(self, ev: PointerEvent) -> None:
        pass

    def release(self, ev: PointerEvent) -> None:
        pass

    def hover(self, ev: PointerEvent) -> None:
        pass

    def cancel(self) -> None:
        """Abort a drag in progress (Escape, document replaced)."""

    def draw_overlay(self, painter: "QPainter", canvas: "Canvas") -> None:
        """Paint transient feedback (a marquee) in widget coordinates."""

    def next_variant(self) -> None:
        """Shift+shortcut cycles variants (rectangle -> ellipse -> freehand selection)."""


class ToolRegistry(QObject):
    """The tools of a window by id, and which one is active.

    Extensions register more tools with ``register(ToolClass)``; the window builds
    menu entries and shortcuts for every registered tool.
    """

    active_changed = Signal(str)
    registered = Signal(str)

    def __init__(self, host: ToolHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._tools: dict[str, Tool] = {}
        self._active: Tool | None = None

    @property
    def host(self) -> ToolHost:
        return self._host

    def register(self, tool: type[Tool] | Callable[[ToolHost], Tool]) -> Tool:
        instance = tool(self._host)
        if not instance.id:
            raise ValueError(f"tool {tool!r} has no id")
        if instance.id in self._tools:
            raise ValueError(f"a tool with id {instance.id!r} is already registered")
        self._tools[instance.id] = instance
        self.registered.emit(instance.id)
        return instance

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def get(self, tool_id: str) -> Tool:
        try:
            return self._tools[tool_id]
        except KeyError:
            raise KeyError(f"no tool {tool_id!r}; known: {', '.join(self._tools)}") from None

    @property
    def active(self) -> Tool | None:
        return self._active

    def activate(self, tool_id: str) -> Tool:
        tool = self.get(tool_id)
        if tool is self._active:
            return tool
        if self._active is not None:
            self._active.deactivate()
        self._active = tool
        tool.activate()
        self.active_changed.emit(tool_id)
        return tool
