"""The diffusion engine: model loading, diffusion brushes, base generation (torch + diffusers, no Qt).

Common names are importable from here; they load lazily, so importing the package (or
editor.engine.errors) does not import torch.
"""
from __future__ import annotations

import importlib

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
