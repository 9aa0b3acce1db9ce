"""Errors raised by the diffusion engine."""
from __future__ import annotations


class EngineError(Exception):
    """Base class of the engine's own errors."""


class Cancelled(EngineError):
    """The caller's cancel() returned True; the job stopped at a step boundary."""


class ModelLoadError(EngineError):
    """A model could not be found, read or recognised. The message names the source."""


class PickleRefused(ModelLoadError):
    """A pickle-based checkpoint was refused because allow_pickle was not set."""


class NotEnoughDiskSpace(ModelLoadError):
    """A download would not fit on the disk that holds the model cache."""


class BadRequest(EngineError, ValueError):
    """A request's values are inconsistent (sizes, ranges); the message names the value."""
