"""Fixtures for the file format tests."""

from __future__ import annotations

import pytest
from io_samples import rich_document

from editor.core.document import Document


@pytest.fixture
def doc() -> Document:
    return rich_document()
