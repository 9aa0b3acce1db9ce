"""Brush presets: a few starting points for the paint brush."""
from __future__ import annotations

from editor.plugins import PluginContext

PRESETS = (
    # name, size (px), hardness, opacity
    ("Pencil", 3, 1.0, 1.0),
    ("Ink pen", 8, 0.95, 1.0),
    ("Marker", 24, 0.7, 0.6),
    ("Soft airbrush", 80, 0.0, 0.25),
    ("Soft round", 40, 0.3, 1.0),
)


def register(context: PluginContext) -> None:
    for name, size, hardness, opacity in PRESETS:
        context.add_brush_preset(name, size=size, hardness=hardness, opacity=opacity)
