"""Errors raised by the file readers and writers."""

from __future__ import annotations

import os


class FileFormatError(Exception):
    """A file could not be read or written; the message names the file and the problem.

    Readers raise only this for bad input (truncated, corrupt, hostile or
    unsupported files), so callers can show the message and keep the open
    document untouched.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        where = self.path if self.path is not None else "<unnamed file>"
        super().__init__(f"{where}: {problem}")
