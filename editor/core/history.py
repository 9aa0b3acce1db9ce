"""Undo/redo: a bounded stack of already-applied commands."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Iterator

from psygnal import Signal, SignalGroup


class Command(ABC):
    """One undoable change, already applied when pushed.

    Subclasses implement ``undo``/``redo``; ``nbytes`` counts the arrays they hold;
    ``merge(other)`` may absorb a following command (return True) so both are one step.
    """

    label: str = "Edit"

    @abstractmethod
    def undo(self) -> None:
        """Revert the change."""

    @abstractmethod
    def redo(self) -> None:
        """Apply the change again."""

    @property
    def nbytes(self) -> int:
        return 0

    def merge(self, other: "Command") -> bool:
        return False


class CompositeCommand(Command):
    """Several commands that undo and redo as one step (a stroke, a layer operation)."""

    def __init__(self, label: str, commands: list[Command] | None = None) -> None:
        self.label = label
        self.commands: list[Command] = list(commands or [])

    def undo(self) -> None:
        for cmd in reversed(self.commands):
            cmd.undo()

    def redo(self) -> None:
        for cmd in self.commands:
            cmd.redo()

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.commands)

    def add(self, command: Command) -> None:
        if self.commands and self.commands[-1].merge(command):
            return
        self.commands.append(command)


class HistoryEvents(SignalGroup):
    changed = Signal()


class History:
    """Steps ``0..len-1``; ``index`` is how many are applied (0 = the initial state).

    Memory is bounded by ``limit_bytes`` (sum of ``Command.nbytes``): the oldest steps
    are forgotten first, but the newest step is always kept.
    """

    def __init__(self, limit_bytes: int = 1 << 30) -> None:
        if limit_bytes < 0:
            raise ValueError(f"history limit_bytes must be >= 0, got {limit_bytes}")
        self.limit_bytes = int(limit_bytes)
        self.events = HistoryEvents()
        self._steps: list[Command] = []
        self._index = 0
        self._group_stack: list[CompositeCommand] = []
        self._busy = False  # undoing/redoing: pushes would corrupt the stack
        self._merge_open = True  # False after undo/redo/jump: no merging across them
        self._dropped = 0

    # ------------------------------------------------------------------ state
    @property
    def index(self) -> int:
        return self._index

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self._steps]

    @property
    def steps(self) -> list[Command]:
        return list(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._steps)

    @property
    def dropped(self) -> int:
        """How many old steps were forgotten to respect the memory limit."""
        return self._dropped

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._steps)

    @property
    def is_busy(self) -> bool:
        """True while an undo/redo is being applied."""
        return self._busy

    # ------------------------------------------------------------------ edits
    def push(self, command: Command) -> None:
        """Record an already-applied command."""
        if self._busy:
            raise RuntimeError("cannot push a history step while undoing or redoing")
        if self._group_stack:
            self._group_stack[-1].add(command)
            return
        del self._steps[self._index :]
        if self._merge_open and self._steps and self._steps[-1].merge(command):
            pass
        else:
            self._steps.append(command)
        self._index = len(self._steps)
        self._merge_open = True
        self._enforce_limit()
        self.events.changed.emit()

    def break_merge(self) -> None:
        """The next push starts a new step even if it could merge (end of a slider drag)."""
        self._merge_open = False

    def transient(self, layer, label: str | None = None):
        """A transient edit of ``layer`` (``editor.core.transient.TransientEdit``): values set
        through it show at once without history; ``commit()`` (or leaving a ``with`` block)
        records ONE step from before to the final values, nothing if unchanged; ``cancel()``
        (or an exception in the block) restores them."""
        from .transient import TransientEdit  # transient -> commands -> history

        return TransientEdit(self, layer, label)

    @contextmanager
    def group(self, label: str) -> Iterator[CompositeCommand]:
        """Everything pushed inside is one step. Nested groups join the outer one.
        If the body raises, what it already applied is undone and nothing is pushed."""
        group = CompositeCommand(label)
        self._group_stack.append(group)
        try:
            yield group
        except BaseException:
            self._group_stack.pop()
            self._busy = True
            try:
                group.undo()
            finally:
                self._busy = False
            raise
        self._group_stack.pop()
        if group.commands:
            self.push(group)
            self._merge_open = False  # a grouped step never absorbs the next edit

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._apply(lambda: self._steps[self._index - 1].undo())
        self._index -= 1
        self._merge_open = False
        self.events.changed.emit()
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._apply(lambda: self._steps[self._index].redo())
        self._index += 1
        self._merge_open = False
        self.events.changed.emit()
        return True

    def jump(self, index: int) -> None:
        """Undo or redo until ``index`` steps are applied."""
        if not 0 <= index <= len(self._steps):
            raise IndexError(f"history index {index} out of range 0..{len(self._steps)}")
        changed = False
        while self._index > index:
            self._apply(lambda: self._steps[self._index - 1].undo())
            self._index -= 1
            changed = True
        while self._index < index:
            self._apply(lambda: self._steps[self._index].redo())
            self._index += 1
            changed = True
        self._merge_open = False
        if changed:
            self.events.changed.emit()

    def clear(self) -> None:
        self._steps.clear()
        self._index = 0
        self._dropped = 0
        self.events.changed.emit()

    # -------------------------------------------------------------- internals
    def _apply(self, fn) -> None:
        if self._group_stack:
            raise RuntimeError("cannot undo or redo inside a history group")
        self._busy = True
        try:
            fn()
        finally:
            self._busy = False

    def _enforce_limit(self) -> None:
        total = self.nbytes
        while total > self.limit_bytes and len(self._steps) > 1 and self._index > 1:
            old = self._steps.pop(0)
            total -= old.nbytes
            self._index -= 1
            self._dropped += 1
