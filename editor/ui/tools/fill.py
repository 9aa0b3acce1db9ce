"""Fill (paint bucket): flood the similar-coloured area under the pointer.

The area is the contiguous pixels of the active layer within the tolerance of the
clicked colour, limited to the selection (core ``paint.fill``). Painting the mask or
the selection (quick mask) fills with the foreground colour's grey value.
"""
from __future__ import annotations

from editor.core.layers import RasterLayer
from editor.core.paint import fill

from .base import PointerEvent, Tool


class FillTool(Tool):
    id = "fill"
    name = "Fill"
    shortcut = "G"

    def press(self, ev: PointerEvent) -> None:
        doc = self.document
        target = self.host.session.paint_target
        layer = None if target == "selection" else doc.active_layer
        s = self.settings
        if target == "pixels":
            if layer is None or not isinstance(layer, RasterLayer):
                self.host.show_message("Choose a layer to fill")
                return
            r, g, b, a = s.foreground_rgba()
            color = (r, g, b, round(a * s.opacity))
        else:
            if target == "mask" and (layer is None or layer.mask is None):
                self.host.show_message("The active layer has no mask to fill")
                return
            grey = s.foreground.lightness()
            color = (grey, grey, grey, 255)
        if layer is not None and layer.locked:
            self.host.show_message(f"Layer {layer.name!r} is locked")
            return
        label = {"pixels": "Fill", "mask": "Fill mask", "selection": "Fill selection"}[target]
        fill(doc, layer, ev.x, ev.y, color, tolerance=s.tolerance, target=target, label=label)
