"""Every class of bad input gives FileFormatError naming the file and the problem."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from io_samples import gradient
from PIL import Image

from editor.io import limits
from editor.io.archive import SafeArchive
from editor.io.errors import FileFormatError
from editor.io.ora import load_ora, save_ora
from editor.io.project import open_document
from editor.io.raster import load_image

STACK = '<image w="4" h="4"><stack><layer src="data/a.png" name="a"/></stack></image>'


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size; no pixel data (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_ora(path: Path, entries: dict[str, bytes], *, mimetype: bytes | None = b"image/openraster") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        if mimetype is not None:
            z.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def valid_entries() -> dict[str, bytes]:
    return {"stack.xml": STACK.encode(), "data/a.png": png_bytes(gradient(4, 4))}


def check(path: Path, *words: str, opener=open_document) -> FileFormatError:
    with pytest.raises(FileFormatError) as info:
        opener(path)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    return info.value


def test_valid_helper_file_loads(tmp_path):
    doc = open_document(make_ora(tmp_path / "ok.ora", valid_entries()))
    assert np.array_equal(doc.layers[0].pixels, gradient(4, 4))


# ------------------------------------------------------------------ truncated / corrupt
def test_truncated_ora(tmp_path, doc):
    save_ora(doc, tmp_path / "a.ora")
    data = (tmp_path / "a.ora").read_bytes()
    for cut in (10, len(data) // 3, len(data) - 30):
        p = tmp_path / f"cut{cut}.ora"
        p.write_bytes(data[:cut])
        check(p)


def test_corrupt_entry_data(tmp_path):
    p = make_ora(tmp_path / "c.ora", valid_entries())
    data = bytearray(p.read_bytes())
    i = data.find(b"data/a.png") + 40  # inside the entry's compressed bytes
    data[i : i + 20] = b"\xff" * 20
    p.write_bytes(bytes(data))
    check(p)


def test_garbage_and_empty_files(tmp_path):
    for name, content in {"g.ora": b"PK\x03\x04garbage", "e.png": b"", "t.png": b"hello",
                          "j.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 50}.items():
        p = tmp_path / name
        p.write_bytes(content)
        check(p)


def test_truncated_png(tmp_path):
    data = png_bytes(gradient(64, 64))
    p = tmp_path / "t.png"
    p.write_bytes(data[: len(data) // 2])
    check(p, "truncated")


def test_missing_file_and_folder(tmp_path):
    check(tmp_path / "nope.ora", "not found")
    check(tmp_path, "folder")
    with pytest.raises(FileFormatError, match="not found"):
        load_image(tmp_path / "nope.png")


# ------------------------------------------------------------------ hostile archives
@pytest.mark.parametrize(
    "name, word",
    [("../evil.png", "traversal"), ("data/../../evil.png", "traversal"), ("/etc/evil.png", "absolute"),
     ("C:/evil.png", "absolute"), ("data\\..\\evil.png", "backslash"), ("data//a.png", "empty")],
)
def test_path_traversal_names(tmp_path, name, word):
    entries = valid_entries()
    entries[name] = b"x"
    check(make_ora(tmp_path / "t.ora", entries), word)


def test_stack_referring_outside_archive(tmp_path):
    entries = valid_entries()
    entries["stack.xml"] = STACK.replace("data/a.png", "../../etc/passwd").encode()
    check(make_ora(tmp_path / "t.ora", entries), "missing")


def test_zip_bomb_ratio(tmp_path):
    entries = valid_entries()
    entries["data/bomb.bin"] = b"\x00" * (8 * 1024 * 1024)  # deflates ~1000:1
    check(make_ora(tmp_path / "b.ora", entries), "compression ratio")


def test_zip_bomb_total_size(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARCHIVE_TOTAL_BYTES", 1000)
    entries = valid_entries()
    entries["data/big.bin"] = np.random.default_rng(0).bytes(2000)
    check(make_ora(tmp_path / "b.ora", entries), "expands")


def test_too_many_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARCHIVE_ENTRIES", 10)
    entries = valid_entries()
    entries.update({f"data/x{i}.bin": b"" for i in range(20)})
    check(make_ora(tmp_path / "m.ora", entries), "entries")


def test_entry_larger_than_its_header_says(tmp_path):
    """A lying size field: the reader stops at the declared size instead of trusting it."""
    p = make_ora(tmp_path / "l.ora", valid_entries())
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("stack.xml")
    # patch the uncompressed size in both headers (local: offset+22, central: find by name)
    struct.pack_into("<I", raw, info.header_offset + 22, 10)
    central = raw.rfind(b"stack.xml") - 46
    struct.pack_into("<I", raw, central + 24, 10)
    p.write_bytes(bytes(raw))
    check(p)


def test_duplicate_entries(tmp_path):
    p = tmp_path / "d.ora"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("stack.xml", STACK)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr("stack.xml", STACK)
    check(p, "duplicate")


def test_safe_archive_read_cap(tmp_path):
    p = make_ora(tmp_path / "a.ora", valid_entries())
    with SafeArchive(p) as a, pytest.raises(FileFormatError, match="limit"):
        a.read("stack.xml", max_bytes=5)


# ------------------------------------------------------------------ decompression bombs
def test_png_bomb_header_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_header_only(50_000, 50_000))
    check(p, "exceeds")
    p.write_bytes(png_header_only(20_000, 20_000))  # within the side limit, over the pixel limit
    check(p, "Mpx")


def test_png_bomb_inside_ora(tmp_path):
    entries = valid_entries()
    entries["data/a.png"] = png_header_only(40_000, 100)
    check(make_ora(tmp_path / "b.ora", entries), "data/a.png", "exceeds")


def test_absurd_canvas_size(tmp_path):
    for w, h in ((100_000, 10), (0, 10), (-5, 10), (20_000, 20_000)):
        entries = valid_entries()
        entries["stack.xml"] = STACK.replace('w="4" h="4"', f'w="{w}" h="{h}"').encode()
        check(make_ora(tmp_path / "s.ora", entries), "canvas")


def test_total_layer_pixel_budget(tmp_path, monkeypatch):
    import editor.io.ora as ora

    monkeypatch.setattr(ora, "MAX_TOTAL_PIXELS", 20)
    entries = valid_entries()
    entries["stack.xml"] = STACK.replace("<stack>", '<stack><layer src="data/a.png"/>').encode()
    check(make_ora(tmp_path / "p.ora", entries), "budget")


def test_pixel_budget_is_counted_from_headers_before_decoding(tmp_path, monkeypatch):
    """One 16384 px square PNG (within the limits) named by six layers: refused from the
    headers alone, before a single layer is decoded (it used to decode four, 6 GB)."""
    import editor.io.raster as raster

    decoded = []
    real = raster.decode
    monkeypatch.setattr(raster, "decode", lambda *a, **k: (decoded.append(a[1:2]), real(*a, **k))[1])
    layers = "".join(f'<layer src="data/big.png" name="l{i}"/>' for i in range(6))
    entries = {"stack.xml": f'<image w="16384" h="16384"><stack>{layers}</stack></image>'.encode(),
               "data/big.png": png_header_only(16384, 16384)}
    error = check(make_ora(tmp_path / "six.ora", entries), "budget", "1,611 Mpx", "nothing was decoded")
    assert decoded == [] and "1,074 Mpx" in str(error)


# ------------------------------------------------------------------ hostile XML
def test_entity_bomb_in_stack_xml(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            '<image w="4" h="4"><stack><layer name="&lol3;" src="data/a.png"/></stack></image>')
    entries = valid_entries()
    entries["stack.xml"] = bomb.encode()
    check(make_ora(tmp_path / "x.ora", entries), "stack.xml")


def test_external_entity_in_stack_xml(tmp_path):
    xxe = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           '<image w="4" h="4"><stack><layer name="&e;" src="data/a.png"/></stack></image>')
    entries = valid_entries()
    entries["stack.xml"] = xxe.encode()
    check(make_ora(tmp_path / "x.ora", entries), "stack.xml")


@pytest.mark.parametrize(
    "xml, word",
    [("<image", "stack.xml"), ('<notimage w="4" h="4"/>', "root element"),
     ('<image w="4" h="4"></image>', "root <stack>"),
     ('<image w="4" h="4"><stack><layer name="x"/></stack></image>', "no src"),
     ('<image w="4" h="4"><stack><layer src="data/a.png" opacity="nan"/></stack></image>', "opacity"),
     ('<image w="4" h="4"><stack><layer src="data/a.png" x="1e99"/></stack></image>', "range"),
     ('<image w="four" h="4"><stack/></image>', "not a number")],
)
def test_malformed_stack_xml(tmp_path, xml, word):
    entries = valid_entries()
    entries["stack.xml"] = xml.encode()
    check(make_ora(tmp_path / "x.ora", entries), word)


def test_deeply_nested_stacks(tmp_path):
    depth = limits.MAX_DEPTH + 5
    xml = '<image w="4" h="4">' + "<stack>" * depth + "</stack>" * depth + "</image>"
    entries = valid_entries()
    entries["stack.xml"] = xml.encode()
    check(make_ora(tmp_path / "n.ora", entries), "deeper")


# ------------------------------------------------------------------ inconsistent content
def test_missing_referenced_file(tmp_path):
    entries = valid_entries()
    del entries["data/a.png"]
    check(make_ora(tmp_path / "m.ora", entries), "data/a.png", "missing")


def test_wrong_mimetype_and_missing_stack(tmp_path):
    check(make_ora(tmp_path / "w.ora", valid_entries(), mimetype=b"application/zip"), "mimetype")
    entries = valid_entries()
    del entries["stack.xml"]
    check(make_ora(tmp_path / "s.ora", entries), "stack.xml")


def test_layer_png_that_is_not_a_png(tmp_path):
    entries = valid_entries()
    entries["data/a.png"] = b"JFIF not really"
    check(make_ora(tmp_path / "p.ora", entries), "data/a.png")


@pytest.mark.parametrize(
    "sidecar, word",
    [(b"{not json", "layers.json"), (b"[]", "not a Layerbrush"),
     (b'{"format": "layerbrush", "version": 99, "layers": {}}', "newer"),
     (b'{"format": "layerbrush", "version": 1, "layers": {"L": {"kind": "brush", "params": {"steps": -3}}}}',
      "bad data"),
     (b'{"format": "layerbrush", "version": 1, "layers": {"L": {"mask": {"src": "nothere.png"}}}}', "missing"),
     (b'{"format": "layerbrush", "version": 1, "layers": {"L": {"kind": "brush", "params": {"bogus": 1}}}}',
      "bogus"),
     (b'{"format": "layerbrush", "layers": {}}', "no valid version number (found None"),
     (b'{"format": "layerbrush", "version": "1", "layers": {}}', "no valid version number"),
     (b'{"format": "layerbrush", "version": 1, "layers": {"L": {"kind": "generated", '
      b'"params": {"box": [0, 0, Infinity, 4]}}}}', "Infinity is not a finite number"),
     (b'{"format": "layerbrush", "version": 1, "layers": {"L": {"kind": "generated", '
      b'"params": {"box": [0, 0, 1e400, 4]}}}}', "too large"),
     (b'{"format": "layerbrush", "version": 1, "layers": {"L": {"kind": "generated", '
      b'"params": {"box": [0, 0, NaN, 4]}}}}', "NaN")],
)
def test_bad_layerbrush_sidecar(tmp_path, sidecar, word):
    entries = valid_entries()
    entries["stack.xml"] = STACK.replace(
        "<image ", '<image xmlns:layerbrush="https://layerbrush.app/ns/1" ').replace(
        'name="a"', 'name="a" layerbrush:id="L"').encode()
    entries["layerbrush/layers.json"] = sidecar
    check(make_ora(tmp_path / "j.ora", entries), word)


def test_infinite_group_offset_is_a_clear_error(tmp_path):
    """Infinity in a group's offset (or a huge integer) gives a message, never an OverflowError."""
    group_stack = STACK.replace("<image ", '<image xmlns:layerbrush="https://layerbrush.app/ns/1" ').replace(
        "<stack>", '<stack><stack name="g" layerbrush:id="G">', 1).replace("</stack>", "</stack></stack>", 1)
    for offset, word in ((b"[Infinity, 0]", "Infinity"), (b"[1" + b"0" * 400 + b", 0]", "bad data")):
        entries = valid_entries()
        entries["stack.xml"] = group_stack.encode()
        entries["layerbrush/layers.json"] = (b'{"format": "layerbrush", "version": 1, "layers": {"G": {"kind": '
                                             b'"group", "offset": ' + offset + b'}}}')
        check(make_ora(tmp_path / "g.ora", entries), word)


def test_mask_of_wrong_size(tmp_path):
    entries = valid_entries()
    entries["stack.xml"] = STACK.replace(
        "<image ", '<image xmlns:layerbrush="https://layerbrush.app/ns/1" ').replace(
        'name="a"', 'name="a" layerbrush:id="L"').encode()
    entries["layerbrush/layers.json"] = (
        b'{"format": "layerbrush", "version": 1, "layers": {"L": {"mask": {"src": "layerbrush/m.png"}}}}')
    entries["layerbrush/m.png"] = png_bytes(np.zeros((3, 3), np.uint8))
    check(make_ora(tmp_path / "m.ora", entries), "mask", "3x3")


def test_failed_open_leaves_open_document_alone(tmp_path, doc):
    """Readers build a new document; the caller's document is never touched."""
    before = [(l.id, l.name, l.opacity) for l in doc.walk()]
    history = len(doc.history.labels)
    p = tmp_path / "bad.ora"
    p.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(FileFormatError):
        open_document(p)
    assert [(l.id, l.name, l.opacity) for l in doc.walk()] == before
    assert len(doc.history.labels) == history


def test_bad_psd(tmp_path):
    p = tmp_path / "b.psd"
    p.write_bytes(b"8BPS" + b"\x00\x01" + b"\x00" * 6 + b"\xff" * 30)
    check(p, "PSD")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.timeout(20)
def test_a_named_pipe_is_refused_at_once(tmp_path):
    from editor.io.errors import FileFormatError
    from editor.io.project import open_document

    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    with pytest.raises(FileFormatError, match="named pipe, not a regular file") as info:
        open_document(pipe)  # without the check this blocks until something writes to the pipe
    assert str(pipe) in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="device files")
@pytest.mark.timeout(20)
def test_a_device_is_refused(tmp_path):
    from editor.io.errors import FileFormatError
    from editor.io.project import open_document

    with pytest.raises(FileFormatError, match="character device"):
        open_document("/dev/zero")
