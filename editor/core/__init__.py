"""The document model: layers, masks, blend modes, compositing, history (numpy only)."""

from .blend import BLEND_MODES
from .compositor import Compositor
from .document import Document
from .errors import LayerLockedError
from .geometry import Rect
from .history import Command, History
from .layers import BrushLayer, GeneratedLayer, GroupLayer, Layer, RasterLayer
from .params import BrushParams, RgbaParams

__all__ = [
    "BLEND_MODES",
    "BrushLayer",
    "BrushParams",
    "Command",
    "Compositor",
    "Document",
    "GeneratedLayer",
    "GroupLayer",
    "History",
    "Layer",
    "LayerLockedError",
    "RasterLayer",
    "Rect",
    "RgbaParams",
]
