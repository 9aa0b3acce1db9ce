"""Errors raised by the diffusion engine, and the kinds the UI tells apart.

Each engine error carries a ``kind`` (an :class:`ErrorKind`); ``error_kind(exc)`` gives the
kind of any exception (torch's out-of-memory errors are recognised by name, so this module
never imports torch). The worker sends the kind with the message; the UI switches on it and
never parses message text.
"""
from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    """What went wrong, for the UI to decide what to offer (a str: compares to its value)."""

    BAD_REQUEST = "bad_request"  # a value out of range or inconsistent sizes
    OUT_OF_MEMORY = "out_of_memory"  # RAM or GPU memory ran out
    MODEL_MISSING = "model_missing"  # a model cannot be found, read or recognised
    WEIGHTS_MISSING = "weights_missing"  # no usable LayerDiffuse weights for this model
    WEIGHTS_MISMATCH = "weights_mismatch"  # a weight file does not fit the model
    DISK_FULL = "disk_full"  # a download would not fit on the disk
    NO_RESULT = "no_result"  # the engine ran but has nothing usable to hand over (empty cut-out)
    CANCELLED = "cancelled"
    INTERNAL = "internal"  # anything else: a bug or an unexpected failure

    def __str__(self) -> str:
        return self.value


class EngineError(Exception):
    """Base class of the engine's own errors."""

    kind = ErrorKind.INTERNAL


class Cancelled(EngineError):
    """The caller's cancel() returned True; the job stopped at a step boundary."""

    kind = ErrorKind.CANCELLED


class ModelLoadError(EngineError):
    """A model could not be found, read or recognised. The message names the source."""

    kind = ErrorKind.MODEL_MISSING


class PickleRefused(ModelLoadError):
    """A pickle-based checkpoint was refused because allow_pickle was not set."""


class NotEnoughDiskSpace(ModelLoadError):
    """A download would not fit on the disk that holds the model cache."""

    kind = ErrorKind.DISK_FULL


class BadRequest(EngineError, ValueError):
    """A request's values are inconsistent (sizes, ranges); the message names the value."""

    kind = ErrorKind.BAD_REQUEST


def error_kind(exc: BaseException) -> ErrorKind:
    """The kind of any exception: an engine error's own, out of memory for MemoryError and
    torch's OutOfMemoryError (by name or CUDA's "out of memory" text), cancelled for classes
    named Cancelled, else internal."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, MemoryError) or "OutOfMemoryError" in names or "out of memory" in str(exc).lower():
        return ErrorKind.OUT_OF_MEMORY
    kind = getattr(type(exc), "kind", None)
    if isinstance(kind, ErrorKind):
        return kind
    if "Cancelled" in names or "JobCancelled" in names:
        return ErrorKind.CANCELLED
    return ErrorKind.INTERNAL
