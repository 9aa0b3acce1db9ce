"""Job objects the engine thread runs.

A job is anything with a ``key`` (jobs with equal keys supersede each other, e.g. a
layer id) and ``run(progress, cancelled)``. ``progress(step, total)`` reports work
done; ``cancelled()`` returns True once a newer job for the same key arrived or the
worker shuts down. A job stops early by raising an exception whose class is named
``Cancelled`` (the engine's) or :class:`JobCancelled`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Protocol

from editor.engine.errors import ErrorKind, error_kind  # no torch: kinds are matched by name

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]


class JobCancelled(Exception):
    """Raised by a job (or by ``check()`` helpers) to stop because it was cancelled."""


class JobLike(Protocol):
    key: Hashable

    def run(self, progress: ProgressFn, cancelled: CancelledFn) -> Any: ...


@dataclass(eq=False)
class Job:
    """A job made from a function ``fn(progress, cancelled) -> result``.

    The function closes over the engine objects and an immutable request; it runs
    in the engine thread and must not touch the live document or any widget.
    """

    key: Hashable
    fn: Callable[[ProgressFn, CancelledFn], Any]
    label: str = ""
    meta: dict = field(default_factory=dict)
    #: a newer job with the same key waits for this one instead of stopping it (live
    #: previews: on a CPU a preview stopped by every mouse move would never show)
    finish: bool = False

    def run(self, progress: ProgressFn, cancelled: CancelledFn) -> Any:
        return self.fn(progress, cancelled)


def is_cancellation(exc: BaseException) -> bool:
    """True for JobCancelled and any exception class named ``Cancelled``.

    Matching by name lets the worker recognise ``editor.engine.errors.Cancelled``
    without importing the engine (and torch with it) into the Qt side.
    """
    return isinstance(exc, JobCancelled) or any(
        cls.__name__ == "Cancelled" for cls in type(exc).__mro__)


def is_expected(exc: BaseException) -> bool:
    """True for the engine's own errors (classes derived from one named ``EngineError``):
    their message is the whole story (missing weights, a model that cannot load), so no
    traceback is logged for them. Matched by name, like :func:`is_cancellation`."""
    return any(cls.__name__ == "EngineError" for cls in type(exc).__mro__)


def describe_error(exc: BaseException) -> str:
    """A one-line, user-facing message for a failed job."""
    text = str(exc).strip() or type(exc).__name__
    if error_kind(exc) is ErrorKind.OUT_OF_MEMORY:
        return f"Out of memory: {text}. Try a smaller image, fewer steps or low-memory mode."
    return f"{type(exc).__name__}: {text}"
