"""Bounded fuzzing of the readers: mutated files load or raise FileFormatError, nothing else."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_samples import blob, gradient, rich_document
from PIL import Image

from editor.io.errors import FileFormatError
from editor.io.ora import ora_bytes
from editor.io.project import open_document
from editor.io.psd import psd_bytes
from editor.io.stack_xml import parse_stack

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _small_doc():
    from editor.core.document import Document
    from editor.core.layers import GroupLayer, RasterLayer

    d = Document(24, 16)
    d.add_layer(RasterLayer("a", gradient(16, 24)))
    g = GroupLayer("g", isolated=False)
    d.add_layer(g)
    layer = RasterLayer("b", blob(8, 8, (255, 0, 0)), offset=(3, 4), blend_mode="multiply")
    d.add_layer(layer, parent=g)
    layer.mask = np.full((8, 8), 128, np.uint8)
    return d


ORA = ora_bytes(_small_doc())
PSD = psd_bytes(_small_doc())
_buf = io.BytesIO()
Image.fromarray(blob(12, 12, (10, 200, 30))).save(_buf, "PNG")
PNG = _buf.getvalue()
_buf = io.BytesIO()
Image.fromarray(gradient(12, 12)).convert("RGB").save(_buf, "JPEG")
JPEG = _buf.getvalue()


def mutations(seed: bytes):
    """Byte flips, overwrites, truncation and splices of a valid file."""
    edit = st.tuples(st.integers(0, len(seed) - 1), st.binary(min_size=1, max_size=8))
    return st.tuples(st.lists(edit, min_size=1, max_size=6), st.integers(1, len(seed))).map(
        lambda t: _apply(seed, *t))


def _apply(seed: bytes, edits, keep: int) -> bytes:
    data = bytearray(seed)
    for pos, chunk in edits:
        data[pos : pos + len(chunk)] = chunk
    return bytes(data[: max(keep, len(data) // 2)] if keep < len(data) // 4 else data)


def _open(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"fuzz{suffix}"
        p.write_bytes(data)
        try:
            doc = open_document(p)
        except FileFormatError as e:
            assert str(p) in str(e)
            return
        assert doc.width > 0 and doc.height > 0


@FUZZ
@given(mutations(ORA))
def test_fuzz_ora(data):
    _open(data, ".ora")


@FUZZ
@given(mutations(PNG))
def test_fuzz_png(data):
    _open(data, ".png")


@FUZZ
@given(mutations(JPEG))
def test_fuzz_jpeg(data):
    _open(data, ".jpg")


@FUZZ
@given(mutations(PSD))
def test_fuzz_psd(data):
    _open(data, ".psd")


def _stack_xml() -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(ORA)) as z:
        return z.read("stack.xml")


STACK = _stack_xml()


@FUZZ
@given(mutations(STACK))
def test_fuzz_stack_xml(data):
    try:
        parse_stack(data, "fuzz.ora")
    except FileFormatError as e:
        assert "fuzz.ora" in str(e)


def _entries(data: bytes) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


RICH_ORA = ora_bytes(rich_document())
RICH_ENTRIES = _entries(RICH_ORA)
MUTABLE = ["stack.xml", "layerbrush/layers.json"] + [n for n in RICH_ENTRIES if n.endswith(".png")][:6]


@FUZZ
@given(st.sampled_from(MUTABLE), st.data())
def test_fuzz_ora_members_in_a_valid_archive(name, data):
    """Mutate one member and re-zip it (valid CRCs), so the XML, JSON and PNG
    readers behind the archive layer get the damaged bytes."""
    import zipfile

    mutated = data.draw(mutations(RICH_ENTRIES[name]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for entry, content in RICH_ENTRIES.items():
            z.writestr(entry, mutated if entry == name else content)
    _open(buf.getvalue(), ".ora")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_random_bytes(data):
    for suffix in (".ora", ".png", ".psd"):
        _open(data, suffix)
