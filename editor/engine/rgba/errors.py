"""Errors of transparent layer generation."""
from __future__ import annotations

from ..errors import EngineError, ErrorKind


class LayerDiffuseUnavailable(EngineError):
    """No usable LayerDiffuse weights for this model; the message says why and what to do.

    generate_matte() is the weight-free (lower quality) alternative.
    """

    kind = ErrorKind.WEIGHTS_MISSING


class WeightsMismatch(EngineError, ValueError):
    """A weight file does not have exactly the expected keys and shapes; names the file and key."""

    kind = ErrorKind.WEIGHTS_MISMATCH


class MatteFailed(EngineError):
    """The matte fallback's cut-out is empty (or kept everything): nothing usable to hand over.

    The message is written for users: what happened and what to try.
    """

    kind = ErrorKind.NO_RESULT
