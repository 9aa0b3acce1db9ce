"""The engine thread: runs engine jobs off the GUI thread and reports through Qt signals.

This package imports neither torch nor the engine; jobs close over engine objects.
"""
from .engine_worker import EngineWorker
from .jobs import Job, JobCancelled, describe_error, is_cancellation

__all__ = ["EngineWorker", "Job", "JobCancelled", "describe_error", "is_cancellation"]
