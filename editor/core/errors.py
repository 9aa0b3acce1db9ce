"""Errors raised by the document model."""


class LayerLockedError(RuntimeError):
    """An edit was attempted on the pixels or mask of a locked layer."""

    def __init__(self, layer) -> None:
        super().__init__(f"layer {layer.name!r} is locked; unlock it to edit its pixels")
        self.layer = layer
