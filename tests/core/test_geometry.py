import numpy as np
import pytest

from editor.core.geometry import Rect


def test_union_intersect_and_empty():
    a, b = Rect(0, 0, 10, 10), Rect(5, 5, 10, 10)
    assert a.union(b) == Rect(0, 0, 15, 15)
    assert a.intersect(b) == Rect(5, 5, 5, 5)
    assert a.intersect(Rect(20, 20, 5, 5)).is_empty
    assert a.union(Rect(50, 50, 0, 3)) == a
    assert Rect(0, 0, 0, 0).union(b) == b
    assert Rect.from_bounds(1, 2, 4, 8) == Rect(1, 2, 3, 6)


def test_slices_index_arrays():
    arr = np.arange(100).reshape(10, 10)
    r = Rect(2, 3, 4, 1)
    assert arr[r.slices].tolist() == [[32, 33, 34, 35]]


def test_clip_translate_contains():
    r = Rect(-5, -5, 20, 20)
    assert r.clip(10, 8) == Rect(0, 0, 10, 8)
    assert r.translate(5, 5) == Rect(0, 0, 20, 20)
    assert Rect(0, 0, 10, 10).contains(Rect(2, 2, 3, 3))
    assert not Rect(0, 0, 10, 10).contains(Rect(8, 8, 3, 3))
    assert Rect.of_array(np.zeros((4, 7, 4)), (1, 2)) == Rect(1, 2, 7, 4)


def test_numpy_ints_become_python_ints_and_bad_values_fail():
    r = Rect(np.int64(1), np.int32(2), 3, 4)
    assert type(r.x) is int and hash(r) == hash(Rect(1, 2, 3, 4))
    with pytest.raises(TypeError, match="Rect.w"):
        Rect(0, 0, "wide", 3)
