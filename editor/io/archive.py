"""Safe reading of ZIP archives (OpenRaster files).

Every entry name is checked before anything is read: no absolute paths, no
``..`` components, no backslashes or drive letters, no duplicates. Entry count,
total declared size and per-entry compression ratio are bounded, and reads
stream with a hard byte cap, so a lying header (a zip bomb) cannot make us
allocate more than the cap.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from pathlib import Path

from . import limits
from .errors import FileFormatError

_DRIVE = re.compile(r"^[A-Za-z]:")


def name_problem(name: str) -> str | None:
    """Why an archive entry name is unsafe, or None."""
    if not name:
        return "empty entry name"
    if "\\" in name:
        return f"entry name {name!r} contains a backslash"
    if "\x00" in name:
        return f"entry name {name!r} contains a NUL byte"
    if name.startswith("/") or _DRIVE.match(name):
        return f"entry name {name!r} is an absolute path"
    parts = name.rstrip("/").split("/")
    if any(p in ("..", ".") for p in parts):
        return f"entry name {name!r} escapes the archive (path traversal)"
    if any(p == "" for p in parts):
        return f"entry name {name!r} has an empty path component"
    return None


class SafeArchive:
    """A validated, read-only ZIP archive. Use as a context manager."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path, "r")
        except FileNotFoundError:
            raise FileFormatError(self.path, "file not found") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
            raise FileFormatError(self.path, f"not a valid ZIP archive ({e})") from None
        except OSError as e:
            raise FileFormatError(self.path, f"cannot read archive ({e.strerror or e})") from None
        except Exception as e:  # zipfile raises assorted errors on corrupt directories
            raise FileFormatError(self.path, f"corrupt ZIP archive ({type(e).__name__}: {e})") from None
        try:
            self.infos = self._validate()
        except BaseException:
            self._zip.close()
            raise

    def _validate(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > limits.MAX_ARCHIVE_ENTRIES:
            raise FileFormatError(
                self.path, f"archive has {len(infos)} entries (limit {limits.MAX_ARCHIVE_ENTRIES})"
            )
        out: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            problem = name_problem(info.filename)
            if problem:
                raise FileFormatError(self.path, problem)
            if info.filename in out:
                raise FileFormatError(self.path, f"duplicate archive entry {info.filename!r}")
            if info.flag_bits & 0x1:
                raise FileFormatError(self.path, f"entry {info.filename!r} is encrypted")
            total += info.file_size
            if total > limits.MAX_ARCHIVE_TOTAL_BYTES:
                raise FileFormatError(
                    self.path,
                    f"archive expands to more than {limits.MAX_ARCHIVE_TOTAL_BYTES >> 20} MiB "
                    "(zip bomb?)",
                )
            if (
                info.file_size > limits.RATIO_FREE_BYTES
                and info.file_size > limits.MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise FileFormatError(
                    self.path,
                    f"entry {info.filename!r} has a compression ratio above "
                    f"{limits.MAX_COMPRESSION_RATIO}:1 (zip bomb?)",
                )
            out[info.filename] = info
        return out

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def names(self) -> list[str]:
        return list(self.infos)

    def first_name(self) -> str | None:
        return next(iter(self.infos), None)

    def has(self, name: str) -> bool:
        return name in self.infos

    def compress_type(self, name: str) -> int:
        return self.infos[name].compress_type

    def read_head(self, name: str, n: int) -> bytes:
        """The first ``n`` bytes of an entry (a header), without decompressing the rest."""
        info = self.infos.get(name)
        if info is None:
            raise FileFormatError(self.path, f"missing archive entry {name!r}")
        try:
            with self._zip.open(info) as f:
                return f.read(n)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise FileFormatError(self.path, f"corrupt archive entry {name!r} ({e})") from None
        except NotImplementedError as e:
            raise FileFormatError(self.path, f"entry {name!r}: {e}") from None

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """Read one entry, never more than ``max_bytes`` (default: the archive total limit)."""
        info = self.infos.get(name)
        if info is None:
            raise FileFormatError(self.path, f"missing archive entry {name!r}")
        cap = limits.MAX_ARCHIVE_TOTAL_BYTES if max_bytes is None else max_bytes
        if info.file_size > cap:
            raise FileFormatError(
                self.path, f"entry {name!r} is {info.file_size} bytes (limit {cap})"
            )
        chunks = []
        got = 0
        try:
            with self._zip.open(info) as f:
                while True:
                    # Read past the declared size by one chunk so a lying header is caught.
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > cap or got > info.file_size:
                        raise FileFormatError(
                            self.path, f"entry {name!r} is larger than its header says (zip bomb?)"
                        )
                    chunks.append(chunk)
        except FileFormatError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise FileFormatError(self.path, f"corrupt archive entry {name!r} ({e})") from None
        except NotImplementedError as e:
            raise FileFormatError(self.path, f"entry {name!r}: {e}") from None
        except Exception as e:  # decompressors raise assorted errors on damaged data
            raise FileFormatError(
                self.path, f"corrupt archive entry {name!r} ({type(e).__name__}: {e})"
            ) from None
        return b"".join(chunks)
