"""Canvas tools. ``DEFAULT_TOOLS`` is what the main window registers, in menu order."""
from .base import PointerEvent, Tool, ToolRegistry
from .brush import BrushTool, EraserTool, MaskBrushTool
from .eyedropper import EyedropperTool
from .fill import FillTool
from .move import MoveTool
from .select import EllipseSelectTool, FreehandSelectTool, RectSelectTool

DEFAULT_TOOLS = (BrushTool, EraserTool, MaskBrushTool, RectSelectTool, EllipseSelectTool, FreehandSelectTool,
                 MoveTool, EyedropperTool, FillTool)

__all__ = ["DEFAULT_TOOLS", "PointerEvent", "Tool", "ToolRegistry", "BrushTool", "EraserTool", "MaskBrushTool",
           "EyedropperTool", "FillTool", "MoveTool", "RectSelectTool", "EllipseSelectTool", "FreehandSelectTool"]
