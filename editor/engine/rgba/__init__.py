"""Transparent (RGBA) layer generation: LayerDiffuse on SD1.5 and SDXL, plus a GrabCut fallback.

Public entry points (see pipeline.py): generate_rgba, generate_background,
generate_foreground, generate_joint, generate_matte, layerdiffuse_available;
weights.py for the hub repository, downloads and local files; cli.py for the
command line.
"""
from .errors import LayerDiffuseUnavailable, MatteFailed, WeightsMismatch
from .imageops import supported_size
from .pipeline import (clear_cache, generate_background, generate_foreground, generate_joint, generate_matte,
                       generate_rgba, layerdiffuse_available)
from .weights import LICENCE_NAME, LICENCE_URL, REPO_ID, LayerWeights, download_weights, find_local_weights

__all__ = [
    "generate_rgba", "generate_background", "generate_foreground", "generate_joint", "generate_matte",
    "layerdiffuse_available", "clear_cache", "supported_size", "LayerDiffuseUnavailable", "MatteFailed", "WeightsMismatch",
    "LayerWeights", "download_weights", "find_local_weights", "REPO_ID", "LICENCE_NAME", "LICENCE_URL",
]
