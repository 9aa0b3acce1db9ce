"""Canvas tools. ``DEFAULT_TOOLS`` is what the main window registers, in menu order."""
from .base import PointerEvent, Tool, ToolRegistry
from .brush import BrushTool, EraserTool, MaskBrushTool
from .eyedropper import EyedropperTool
from .fill import FillTool
from .move import MoveTool
from .select import EllipseSelectTool, FreehandSelectTool, MagicWandTool, RectSelectTool

DEFAULT_TOOLS = (BrushTool, EraserTool, MaskBrushTool, RectSelectTool, EllipseSelectTool, FreehandSelectTool,
                 MagicWandTool, MoveTool, EyedropperTool, FillTool)

__all__ = ["DEFAULT_TOOLS", "PointerEvent", "Tool", "ToolRegistry", "BrushTool", "EraserTool", "MaskBrushTool",
           "EyedropperTool", "FillTool", "MoveTool", "MagicWandTool", "RectSelectTool", "EllipseSelectTool", "FreehandSelectTool"]
