"""A transient edit of a layer: values shown live without history, one step on commit.

Previews and drags (a slider dragged, a preview result shown while the user is still
moving) change a layer many times; only the end counts. ``history.transient(layer)`` gives a
:class:`TransientEdit`: ``edit.set(name, value)`` applies at once (events fire, the canvas
and the brush renders follow) but records nothing; ``commit()`` pushes ONE step from the
values before the edit to the final ones (nothing when they are unchanged); ``cancel()`` puts
the values before back and records nothing. As a context manager it commits on a normal exit
and cancels when the body raises.
"""
from __future__ import annotations

from typing import Any

from .commands import SetPropertyCommand
from .errors import LayerLockedError
from .layers import Layer, _same, settable_properties


class TransientEdit:
    def __init__(self, history, layer: Layer, label: str | None = None) -> None:
        self.history, self.layer, self.label = history, layer, label
        self._before: dict[str, Any] = {}  # property -> its value when the edit first set it
        self.active = True

    def set(self, name: str, value: Any) -> None:
        """Apply ``layer.<name> = value`` now, without a history step."""
        if not self.active:
            raise RuntimeError("this transient edit has ended")
        layer = self.layer
        if name not in settable_properties(layer):
            raise ValueError(f"{type(layer).__name__} has no settable property {name!r}")
        if name in ("pixels", "mask") and layer.locked:
            raise LayerLockedError(layer)
        self._before.setdefault(name, getattr(layer, name))
        setattr(layer, name, value)

    def changed(self) -> list[tuple[str, Any, Any]]:
        """(name, before, now) of every property that differs from before the edit."""
        out = []
        for name, old in self._before.items():
            new = getattr(self.layer, name)
            if not _same(old, new):
                out.append((name, old, new))
        return out

    def commit(self) -> bool:
        """One history step from before the edit to now; False (no step) when nothing changed."""
        if not self.active:
            return False
        self.active = False
        changes = self.changed()
        if not changes:
            return False
        layer = self.layer
        label = self.label or f"{layer.name}: {', '.join(n.replace('_', ' ') for n, _, _ in changes)}"
        if len(changes) == 1:
            name, old, new = changes[0]
            self.history.push(SetPropertyCommand(layer, name, old, new, label))
        else:
            with self.history.group(label):
                for name, old, new in changes:
                    self.history.push(SetPropertyCommand(layer, name, old, new, label))
        return True

    def cancel(self) -> None:
        """Put back the values from before the edit; nothing is recorded."""
        if not self.active:
            return
        self.active = False
        for name, old in reversed(list(self._before.items())):
            if not _same(getattr(self.layer, name), old):
                setattr(self.layer, name, old)

    def __enter__(self) -> "TransientEdit":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.cancel()
