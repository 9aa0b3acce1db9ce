import numpy as np
import pytest

from editor.core import Compositor, Document, RasterLayer


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def doc():
    return Document(32, 24)


def random_rgba(rng, h, w, alpha=None):
    out = rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)
    if alpha is not None:
        out[..., 3] = alpha
    return out


@pytest.fixture
def make_layer():
    def make(name="L", color=(255, 0, 0, 255), size=(32, 24), **kw):
        w, h = size
        px = np.zeros((h, w, 4), np.uint8)
        px[:] = color
        return RasterLayer(name, px, **kw)

    return make


def render(doc):
    return Compositor(doc).render()
