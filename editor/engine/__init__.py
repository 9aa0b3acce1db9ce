"""The diffusion engine: model loading, diffusion brushes, base generation (torch + diffusers, no Qt).

Common names are importable from here; they load lazily, so importing the package (or
editor.engine.errors) does not import torch.
"""
from __future__ import annotations

import importlib
import logging


class _NoTorchvisionNotice(logging.Filter):
    """transformers notes, on every start, that its image processors fall back to Pillow
    because torchvision is missing. The editor uses no image processor (only diffusers'
    pipeline classes mention one), so the notice only alarms users; everything else it
    logs still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


# On the logger that emits it (created here if transformers is not imported yet; it
# keeps the filter when transformers takes it over).
logging.getLogger("transformers.utils.import_utils").addFilter(_NoTorchvisionNotice())

_EXPORTS = {
    "load_model": "models", "DiffusionModel": "models",
    "BrushEngine": "brush",
    "BrushRequest": "requests", "BrushResult": "requests",
    "generate_image": "base", "vary_image": "base",
    "build_tiny_pipeline": "tiny",
    "Cancelled": "errors", "ModelLoadError": "errors", "PickleRefused": "errors", "BadRequest": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'editor.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
