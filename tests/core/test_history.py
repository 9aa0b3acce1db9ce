import numpy as np
import pytest

from editor.core import Document, RasterLayer, Rect
from editor.core.history import Command, History


class Counter(Command):
    def __init__(self, box, delta, nbytes=0, key=None):
        self.box, self.delta, self._nbytes, self.key = box, delta, nbytes, key
        self.label = f"+{delta}"

    def undo(self):
        self.box[0] -= self.delta

    def redo(self):
        self.box[0] += self.delta

    @property
    def nbytes(self):
        return self._nbytes

    def merge(self, other):
        if self.key is not None and isinstance(other, Counter) and other.key == self.key:
            self.delta += other.delta
            return True
        return False


def apply(history, box, delta, **kw):
    cmd = Counter(box, delta, **kw)
    cmd.redo()
    history.push(cmd)


def test_undo_redo_jump_and_truncate():
    h, box = History(), [0]
    changes = []
    h.events.changed.connect(lambda: changes.append(h.index))
    for d in (1, 10, 100):
        apply(h, box, d)
    assert box == [111] and h.labels == ["+1", "+10", "+100"] and h.index == 3
    assert h.undo() and box == [11]
    h.jump(0)
    assert box == [0] and not h.can_undo and not h.undo()
    h.jump(3)
    assert box == [111] and not h.redo()
    h.jump(1)
    apply(h, box, 5)  # drops the redo branch
    assert h.labels == ["+1", "+5"] and box == [6]
    assert changes[-1] == 2
    with pytest.raises(IndexError):
        h.jump(7)


def test_group_is_one_step_and_rolls_back_on_error():
    h, box = History(), [0]
    with h.group("stroke"):
        for _ in range(5):
            apply(h, box, 1)
        with h.group("inner"):
            apply(h, box, 1)
    assert h.labels == ["stroke"] and box == [6]
    h.undo()
    assert box == [0]
    h.redo()
    with pytest.raises(RuntimeError, match="boom"):
        with h.group("bad"):
            apply(h, box, 50)
            raise RuntimeError("boom")
    assert box == [6] and h.labels == ["stroke"]
    with h.group("empty"):
        pass
    assert len(h) == 1


def test_merge_keys_and_break():
    h, box = History(), [0]
    for _ in range(4):
        apply(h, box, 1, key="drag")
    assert len(h) == 1 and box == [4]
    h.break_merge()
    apply(h, box, 1, key="drag")
    assert len(h) == 2
    h.undo()
    h.redo()
    apply(h, box, 1, key="drag")  # no merging across undo/redo
    assert len(h) == 3
    h.undo()
    assert box == [5]


def test_memory_limit_drops_oldest_but_keeps_newest():
    h, box = History(limit_bytes=1000), [0]
    for _ in range(5):
        apply(h, box, 1, nbytes=300)
    assert len(h) == 3 and h.nbytes == 900 and h.dropped == 2 and h.index == 3
    apply(h, box, 1, nbytes=5000)
    assert len(h) == 1 and h.index == 1
    h.undo()
    assert box == [5]


def test_no_push_while_undoing():
    h = History()

    class Sneaky(Command):
        def undo(self):
            h.push(Sneaky())

        def redo(self):
            pass

    h.push(Sneaky())
    with pytest.raises(RuntimeError, match="while undoing"):
        h.undo()


def test_slider_drag_on_document_is_one_step():
    doc = Document(8, 8)
    layer = doc.add_layer(RasterLayer.blank(8, 8))
    for v in np.linspace(0.9, 0.1, 9):
        doc.set_layer_property(layer, "opacity", v, merge_key="opacity-slider")
    doc.set_layer_property(layer, "opacity", 0.5, merge_key="opacity-slider")
    assert doc.history.labels == ["Add Layer", "Layer: opacity"]
    doc.history.undo()
    assert layer.opacity == 1.0
    doc.history.redo()
    assert layer.opacity == 0.5
    doc.set_layer_property(layer, "visible", False, merge_key="opacity-slider")
    assert len(doc.history) == 3  # different property: new step


def test_document_history_bounded_by_pixel_bytes():
    doc = Document(64, 64, history_limit_bytes=100_000)
    layer = doc.add_layer(RasterLayer.blank(64, 64))
    for i in range(20):
        doc.set_pixels(layer, Rect(0, 0, 64, 64), np.full((64, 64, 4), i + 1, np.uint8))
    assert doc.history.nbytes <= 100_000
    assert len(doc.history) < 21 and doc.history.dropped > 0
    while doc.history.undo():
        pass
    # each kept step is one 64x64 before/after pair; undoing them all restores what the oldest saw
    assert len(doc.history) == 3
    assert layer.pixels[0, 0, 0] == 20 - 3
