"""AI features of the editor: diffusion brush layers, generated (transparent) layers,
base image generation, the model picker. ``install_ai(window)`` adds them to a MainWindow."""
from __future__ import annotations


def install_ai(window, *, config_dir=None):
    """Add the AI docks, tools and actions to ``window``; returns the ``AiFeatures``
    (also ``window.ai``). ``config_dir`` overrides where settings are kept (tests)."""
    from .features import AiFeatures

    features = AiFeatures(window, config_dir=config_dir)
    window.ai = features
    return features


__all__ = ["install_ai"]
