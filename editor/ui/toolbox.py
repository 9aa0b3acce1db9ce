"""The tool box: a vertical tool bar of the painting and selection tools, as in Krita and
GIMP. Its buttons are the Tools-menu actions themselves, so the active tool is checked
here, in the menu and by its shortcut alike; every tool registered later (the AI tools,
plugins) gets a button too.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QToolBar

from editor.resources import resource_path

ICON_SIZE = 24


def tool_icon(tool_id: str, name: str) -> QIcon:
    """``resources/icons/tool-<id>.svg``; a tool without one (a plugin's) gets its initials."""
    path = resource_path("icons", f"tool-{tool_id}.svg")
    if path.is_file():
        return QIcon(str(path))
    pixmap = QPixmap(ICON_SIZE * 2, ICON_SIZE * 2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#dfe6ee"))
    painter.setPen(QColor("#2b2b2b"))
    painter.drawRoundedRect(2, 2, ICON_SIZE * 2 - 4, ICON_SIZE * 2 - 4, 8, 8)
    font = QFont()
    font.setPixelSize(ICON_SIZE)
    font.setBold(True)
    painter.setFont(font)
    initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, initials)
    painter.end()
    return QIcon(pixmap)


class ToolBox(QToolBar):
    """The window's tool box (left edge by default; movable like any tool bar)."""

    def __init__(self, parent=None) -> None:
        super().__init__("Tools", parent)
        self.setObjectName("toolbox")
        self.setOrientation(Qt.Orientation.Vertical)
        self.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def add_tool(self, action: QAction, tool_id: str, name: str, shortcut: str = "") -> None:
        """Add the tool's (checkable) action as a button with an icon and a tooltip."""
        action.setIcon(tool_icon(tool_id, name))
        action.setToolTip(f"{name} ({shortcut})" if shortcut else name)
        self.addAction(action)
        self.widgetForAction(action).setObjectName(f"toolbox-{tool_id}")
