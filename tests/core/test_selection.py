import numpy as np
import pytest

from editor.core.selection import (
    bounds,
    color_mask,
    combine,
    ellipse_mask,
    feather,
    invert,
    polygon_mask,
    rect_mask,
)
from editor.core.geometry import Rect


def test_rect_mask_clips():
    m = rect_mask(10, 8, (-2, 6, 5, 5))
    assert m.shape == (8, 10) and m.sum() == 3 * 2 * 255
    with pytest.raises(ValueError, match="positive"):
        rect_mask(0, 5, (0, 0, 1, 1))


def test_ellipse_area_and_antialiasing():
    m = ellipse_mask(200, 100, (10, 10, 180, 80))
    assert abs(m.sum() / 255 - np.pi * 90 * 40) < 20
    assert m[50, 100] == 255 and m[0, 0] == 0
    assert ((m > 0) & (m < 255)).any()  # soft edge


def test_polygon_exact_area_and_even_odd():
    tri = polygon_mask(20, 20, [(0, 0), (20, 0), (0, 20)])
    assert abs(tri.sum() / 255 - 200) < 0.5
    sq = polygon_mask(10, 10, [(2.5, 2), (8, 2), (8, 8.25), (2.5, 8.25)])
    assert abs(sq.sum() / 255 - 5.5 * 6.25) < 0.1
    assert sq[4, 2] == 128  # half-covered column
    # a self-overlapping star: the centre is outside under even-odd
    pts = [(50 + 40 * np.cos(a), 50 + 40 * np.sin(a)) for a in np.arange(5) * 4 * np.pi / 5]
    star = polygon_mask(100, 100, pts)
    assert star[50, 50] == 0  # the pentagon inside a pentagram is crossed twice
    assert star[50, 85] == 255  # the tip at angle 0
    with pytest.raises(ValueError, match="at least 3"):
        polygon_mask(10, 10, [(0, 0), (1, 1)])


def test_feather_is_a_normalised_gaussian():
    m = rect_mask(120, 120, (30, 30, 60, 60))
    f = feather(m, 8)
    assert abs(f.sum() / 255 - 3600) < 10  # mass kept away from the borders
    assert f[60, 60] == 255 and 0 < f[60, 30] < 255 and f[60, 5] == 0
    assert abs((int(f[60, 29]) + int(f[60, 30])) / 2 - 127.5) <= 2  # the edge (x = 30) sits at half
    row = f[60, 10:50].astype(int)
    assert (np.diff(row) >= 0).all()  # monotonic ramp
    big = feather(m, 40)  # long kernel: FFT path
    assert abs(int(big[60, 60]) - int(big[59, 60])) <= 1 and big[60, 60] < 255
    assert feather(m, 0) is not m and (feather(m, 0) == m).all()
    with pytest.raises(ValueError, match=">= 0"):
        feather(m, -1)


def test_invert_combine_bounds():
    a = rect_mask(10, 10, (0, 0, 5, 10))
    b = rect_mask(10, 10, (3, 0, 5, 10))
    assert (invert(a)[:, 5:] == 255).all()
    assert combine(a, b, "add")[:, :8].min() == 255
    assert combine(a, b, "subtract")[:, :3].min() == 255 and combine(a, b, "subtract")[:, 3:].max() == 0
    assert combine(a, b, "intersect").sum() == 2 * 10 * 255
    assert (combine(None, b, "subtract") == invert(b)).all()
    assert bounds(b) == Rect(3, 0, 5, 10) and bounds(np.zeros((3, 3), np.uint8)).is_empty
    with pytest.raises(ValueError, match="unknown selection mode"):
        combine(a, b, "xor")


def test_color_mask():
    img = np.zeros((4, 6, 4), np.uint8)
    img[:, :2] = (200, 0, 0, 255)
    img[:, 4:] = (205, 0, 0, 255)
    m = color_mask(img, 0, 0, tolerance=10)
    assert m.dtype == np.uint8 and (m[:, :2] == 255).all() and (m[:, 4:] == 255).all() and m[:, 2:4].max() == 0
    m = color_mask(img, 0, 0, tolerance=10, contiguous=True)
    assert m[:, 4:].max() == 0
