"""Pytest fixtures for tests that need a tiny diffusion model (import them into a conftest.py).

    from editor.engine.testing import tiny_model_dir, tiny_model  # noqa: F401

Folders are built once per test session under pytest's base temp dir and shared by every
conftest that imports these fixtures.
"""
from __future__ import annotations

import pytest

from .tiny import build_tiny_pipeline


def tiny_folder(tmp_path_factory, family: str = "sd15"):
    """Build (or reuse within this session) the tiny pipeline folder of a family."""
    folder = tmp_path_factory.getbasetemp() / f"tiny_{family}_model"
    if not (folder / "model_index.json").is_file():
        build_tiny_pipeline(folder, seed=0, family=family)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Path of a tiny random-weight SD1.5-shaped diffusers folder."""
    return tiny_folder(tmp_path_factory, "sd15")


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory):
    """Path of a tiny random-weight SDXL-shaped diffusers folder (two text encoders)."""
    return tiny_folder(tmp_path_factory, "sdxl")


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    """The tiny SD1.5-shaped model loaded on the CPU (shared: do not modify it)."""
    from .models import load_model

    return load_model(tiny_model_dir, device="cpu")
