"""One-off flattening of a document (no cache kept, no listeners left behind)."""

from __future__ import annotations

import numpy as np

from editor.core.compositor import Compositor
from editor.core.document import Document


def flatten(document: Document) -> np.ndarray:
    """The composite of ``document``, HxWx4 uint8 straight RGBA."""
    compositor = Compositor(document)
    try:
        return compositor.render()
    finally:
        compositor.close()
