"""Fixtures for the engine worker tests."""
import pytest

from editor.worker import EngineWorker


@pytest.fixture
def worker(qtbot):
    w = EngineWorker()
    yield w
    assert w.shutdown(5000), "engine thread did not stop"
