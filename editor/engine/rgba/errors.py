"""Errors of transparent layer generation."""
from __future__ import annotations

from ..errors import EngineError


class LayerDiffuseUnavailable(EngineError):
    """No usable LayerDiffuse weights for this model; the message says why and what to do.

    generate_matte() is the weight-free (lower quality) alternative.
    """


class WeightsMismatch(EngineError, ValueError):
    """A weight file does not have exactly the expected keys and shapes; names the file and key."""


class MatteFailed(EngineError):
    """The matte fallback's cut-out is empty (or kept everything): nothing usable to hand over.

    The message is written for users: what happened and what to try.
    """
