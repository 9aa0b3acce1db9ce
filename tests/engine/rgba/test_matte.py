"""The weight-free GrabCut fallback."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from types import SimpleNamespace

from editor.engine.models import demo_model_path, read_settings
from editor.engine.rgba import MatteFailed, generate_matte
from editor.engine.rgba.matte import MATTE_PROMPT_SUFFIX, check_cutout, matte_image, matte_settings


def _subject_on_grey(size=192, seed=0):
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 128, np.uint8)
    cv2.circle(img, (size // 2, size // 2), size // 4, (210, 50, 40), -1)
    cv2.rectangle(img, (size // 2 - 8, size // 4 - 30), (size // 2 + 8, size // 4), (40, 90, 200), -1)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def test_matte_cuts_the_subject_with_a_soft_edge():
    img = _subject_on_grey()
    out = matte_image(img)
    a = out[..., 3]
    assert out.shape == (192, 192, 4) and out.dtype == np.uint8
    assert a[0, 0] == 0 and a[96, 96] == 255 and a[40, 96] == 255  # background, disc, the bar on top
    edge = (a > 0) & (a < 255)
    assert edge.any() and edge.sum() < 0.1 * a.size  # feathered, but only along the outline
    assert abs(int(out[96, 96, 0]) - 210) < 12  # colours kept
    # Unmixing keeps edge colours from turning grey: a half-covered edge pixel stays reddish.
    ys, xs = np.nonzero((a > 60) & (a < 200) & (np.abs(np.arange(192)[:, None] - 96) < 10))
    assert len(ys) and (out[ys, xs, 0].astype(int) - out[ys, xs, 2].astype(int)).mean() > 80


def test_matte_of_a_blank_image_is_transparent():
    out = matte_image(np.full((64, 64, 3), 128, np.uint8))
    assert (out[..., 3] == 0).all()


def test_matte_rejects_bad_input():
    with pytest.raises(ValueError, match="HxWx3"):
        matte_image(np.zeros((8, 8), np.uint8))


def test_generate_matte_never_hands_over_an_empty_cutout(tiny_model):
    # The tiny model has random weights: it paints noise, and GrabCut keeps nothing of it.
    # That used to come back as a layer with alpha 0 everywhere; now it is refused, clearly.
    with pytest.raises(MatteFailed, match=r"kept almost nothing .*Nothing was added"):
        generate_matte(tiny_model, "a cat", 100, 60, steps=2)


def test_check_cutout_refuses_empty_and_full_results():
    out = np.zeros((100, 100, 4), np.uint8)
    with pytest.raises(MatteFailed, match="almost nothing"):
        check_cutout(out)
    out[40:60, 40:60, 3] = 255  # 4% visible: a subject
    assert check_cutout(out) == pytest.approx(0.04)
    out[..., 3] = 255
    with pytest.raises(MatteFailed, match="whole picture"):
        check_cutout(out)


def test_matte_settings_come_from_the_model_folder():
    generic = matte_settings(SimpleNamespace(settings={}))
    assert generic.suffix_for("a cat") == MATTE_PROMPT_SUFFIX and not generic.at_native_size
    demo = matte_settings(SimpleNamespace(settings=read_settings(demo_model_path())))
    # plain words of the demo captions; a white subject goes on black
    assert demo.suffix_for("a red star") == " on a white background"
    assert demo.suffix_for("a white circle") == " on a black background"
    assert demo.at_native_size and demo.negative == ""
    with pytest.raises(ValueError, match="matte"):
        matte_settings(SimpleNamespace(settings={"matte": {"backgrounds": 3}}))
