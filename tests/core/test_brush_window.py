"""The working window: the model sees about its native size, whatever the canvas."""
import numpy as np
import pytest

from editor.core.brush_window import choose_window, clip_to_canvas, crop_mirrored, region_bounds
from editor.core.geometry import Rect


@pytest.mark.parametrize("canvas", [512, 2048, 8192])
def test_small_region_gets_the_same_window_on_any_canvas(canvas):
    win = choose_window(Rect(canvas // 2, canvas // 2, 64, 64), canvas, canvas, native=256, grid=32)
    assert (win.rect.w, win.rect.h) == (128, 128)  # native / max upscale
    assert (win.work_w, win.work_h) == (256, 256)


def test_large_region_is_shrunk_to_the_native_size_and_stays_on_the_grid():
    win = choose_window(Rect(0, 0, 3000, 2000), 3000, 2000, native=512, grid=64)
    assert win.rect == Rect(0, 0, 3000, 2000)
    assert win.work_w % 64 == 0 and win.work_h % 64 == 0
    assert abs(win.work_w * win.work_h - 512 * 512) < 0.3 * 512 * 512
    assert abs(win.work_w / win.work_h - 1.5) < 0.2


def test_elongated_region_gets_context_on_its_short_side():
    win = choose_window(Rect(100, 1000, 1000, 50), 4096, 4096, native=512, grid=64)
    assert win.rect.w <= 2 * win.rect.h  # at most 2:1
    assert win.rect.x <= 100 and win.rect.x1 >= 1100


def test_window_is_centred_and_may_reach_past_the_edge():
    win = choose_window(Rect(0, 0, 40, 40), 1000, 1000, native=256, grid=32)
    assert win.rect.x < 0 and win.rect.y < 0
    assert win.rect.x + win.rect.w // 2 == pytest.approx(20, abs=1)


def test_empty_region_is_refused():
    with pytest.raises(ValueError, match="empty"):
        choose_window(Rect(0, 0, 0, 0), 100, 100, native=256, grid=32)


def test_crop_mirrored_and_clip_to_canvas():
    img = np.arange(30, dtype=np.uint8).reshape(5, 6)
    out = crop_mirrored(img, Rect(-2, -1, 10, 7))
    assert out.shape == (7, 10)
    assert np.array_equal(out[1:6, 2:8], img)  # the inside is the image itself
    assert out[0, 2] == img[1, 0] and out[1, 0] == img[0, 2]  # mirrored, not repeated
    rgba = np.ones((7, 10, 4), np.uint8)
    part, offset = clip_to_canvas(rgba, (-2, -1), 6, 5)
    assert part.shape == (5, 6, 4) and offset == (0, 0)
    assert region_bounds(np.pad(np.ones((3, 4), np.uint8), ((2, 1), (5, 0)))) == Rect(5, 2, 4, 3)


def test_a_long_region_gets_more_work_area_in_the_same_window():
    strip = Rect(0, 0, 4096, 512)  # a new strip along the top of a 4096 px canvas
    one = choose_window(strip, 4096, 4608, native=512, grid=64)
    tiled = choose_window(strip, 4096, 4608, native=512, grid=64, max_tiles=4)
    assert tiled.rect == one.rect  # the model sees the same picture around it
    assert abs(one.work_w * one.work_h - 512 * 512) < 0.3 * 512 * 512
    assert tiled.work_w * tiled.work_h > 3.5 * 512 * 512  # 8:1 region: four native areas
    assert tiled.scale == pytest.approx(2 * one.scale, rel=0.1)
    # a region that is not long is not affected
    square = Rect(1000, 1000, 600, 500)
    assert choose_window(square, 4096, 4096, native=512, grid=64, max_tiles=4) == \
        choose_window(square, 4096, 4096, native=512, grid=64)
