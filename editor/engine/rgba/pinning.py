"""Which LayerDiffuse files we trust: the hub revision pinned to a commit, and every file
checked against a hash before use.

Precedence: a hash passed by the caller, then ``KNOWN_SHA256`` and a 40-hex ``REVISION``
set in code (both empty/"main": nothing could be confirmed offline while writing this),
then the pin record ``pin.json`` in the weights folder. The record is made by the first
download: the hub resolves ``REVISION`` to a commit and declares each file's LFS SHA-256
and size (or, for a non-LFS file, its git blob id); later downloads use that commit only.
A file that fails its check is renamed to ``<name>.bad`` so nothing loads it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ...io.atomic import write_file
from .errors import LayerDiffuseUnavailable

REPO_ID = "LayerDiffusion/layerdiffusion-v1"
#: The revision to pin. "main" until a commit hash has been checked by hand (it could not
#: be looked up offline): the first download resolves it to a commit and records it in
#: ``pin.json``. A maintainer-set 40-hex commit here takes precedence over the record.
REVISION = "main"
PIN_FILE = "pin.json"
#: filename -> sha256 hex of the published file, checked by hand; takes precedence over the
#: pin record. Empty: no hash could be confirmed offline while writing this module.
KNOWN_SHA256: dict[str, str] = {}


# ---------------------------------------------------------------------- hashes

def is_commit(revision: str | None) -> bool:
    return isinstance(revision, str) and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision.lower())


def _is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower())


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def git_blob_sha1(path: str | Path, chunk: int = 1 << 22) -> str:
    """Git's object id of a file (what the hub reports as ``blob_id`` for non-LFS files)."""
    path = Path(path)
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _quarantine(path: Path) -> str:
    """Move a refused file out of the way so nothing loads it; says where it went."""
    bad = path.with_name(path.name + ".bad")
    try:
        os.replace(path, bad)
        return f"it was renamed to {bad} (delete that file once inspected)"
    except OSError:
        try:
            path.unlink()
            return "it was deleted"
        except OSError as exc:
            return f"it could not be moved away ({exc}): delete it by hand"


def verify_file(path: str | Path, expected_sha256: str | None = None, *, expected_size: int | None = None,
                expected_git_sha1: str | None = None, source: str = "the expected value") -> str:
    """Check a weight file's size and SHA-256 (or, where no SHA-256 is declared, its git blob
    id); returns its SHA-256. A file that fails is renamed to ``<name>.bad`` so it is never
    loaded, and LayerDiffuseUnavailable names the file, the expected and actual values,
    ``source`` (where the expected values came from) and what to do."""
    path = Path(path)
    size, digest = path.stat().st_size, sha256_file(path)
    problems = []
    if expected_size is not None and size != expected_size:
        problems.append(f"size {size} bytes, expected {expected_size}")
    if expected_sha256 is not None and digest != expected_sha256.lower():
        problems.append(f"SHA-256 {digest}, expected {expected_sha256.lower()}")
    elif expected_sha256 is None and expected_git_sha1 is not None:
        blob = git_blob_sha1(path)
        if blob != expected_git_sha1.lower():
            problems.append(f"git blob id {blob}, expected {expected_git_sha1.lower()}")
    if problems:
        where = _quarantine(path)
        raise LayerDiffuseUnavailable(
            f"{path}: {'; '.join(problems)} (expected values from {source}). The file is corrupt, incomplete or "
            f"not the published one, so {where}. Download it again (the model manager or download_weights "
            f"fetches a fresh copy from {REPO_ID}); if this keeps happening, the download is being altered "
            "on the way.")
    return digest


# ---------------------------------------------------------------------- the pin record

def pin_path(folder: str | Path) -> Path:
    return Path(folder) / PIN_FILE


def read_pin(folder: str | Path) -> dict | None:
    """The weights folder's pin record ({"repo", "ref", "revision", "files"}), None if there is
    none; LayerDiffuseUnavailable naming the file when it is damaged."""
    path = pin_path(folder)
    if not path.is_file():
        return None

    def damaged(why: str) -> LayerDiffuseUnavailable:
        return LayerDiffuseUnavailable(
            f"{path}: damaged LayerDiffuse pin record ({why}). Delete it; the next download asks the hub "
            f"for the commit and file hashes of {REPO_ID} again (needs a network connection).")

    try:
        pin = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise damaged(f"unreadable: {exc}") from exc
    if not isinstance(pin, dict):
        raise damaged("not a JSON object")
    if pin.get("repo") != REPO_ID:
        raise damaged(f"it is for repository {pin.get('repo')!r}, not {REPO_ID}")
    if not is_commit(pin.get("revision")):
        raise damaged(f"revision {pin.get('revision')!r} is not a 40-hex commit")
    files = pin.get("files")
    if not isinstance(files, dict) or not files:
        raise damaged("no file list")
    for name, meta in files.items():
        if not isinstance(meta, dict):
            raise damaged(f"entry {name!r} is not an object")
        sha, size, blob = meta.get("sha256"), meta.get("size"), meta.get("git_sha1")
        if sha is not None and not _is_sha256(sha):
            raise damaged(f"{name}: sha256 {sha!r} is not 64 hex digits")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise damaged(f"{name}: size {size!r} is not a byte count")
        if blob is not None and not is_commit(blob):
            raise damaged(f"{name}: git_sha1 {blob!r} is not 40 hex digits")
    return pin


def pinned_revision(folder: str | Path) -> str | None:
    """The commit the next download of ``REVISION`` into ``folder`` uses, None while it is
    not known yet (before the first download, unless ``REVISION`` is a commit)."""
    if is_commit(REVISION):
        return REVISION.lower()
    pin = read_pin(folder)
    return pin["revision"] if pin and pin.get("ref") == REVISION else None


def resolve_pin(folder: str | Path, revision: str = REVISION) -> dict:
    """The pin record for ``revision``: the recorded one when it was made for this revision
    (by name, e.g. "main", or by commit), else asked from the hub and recorded now.

    The record is written only after the hub has answered completely, so a failed
    lookup leaves no record behind."""
    folder = Path(folder)
    pin = read_pin(folder)
    if pin is not None and (pin.get("ref") == revision or pin["revision"] == str(revision).lower()):
        return pin
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(REPO_ID, revision=revision, files_metadata=True)
    except Exception as exc:  # no network, offline mode, unknown revision, hub error: all end here
        raise LayerDiffuseUnavailable(
            f"could not look up {REPO_ID}@{revision} on the Hugging Face hub ({type(exc).__name__}: {exc}). "
            "A network connection is needed for the first download of the LayerDiffuse weights: it pins the "
            "repository's commit and the files' SHA-256 hashes. Nothing was downloaded.") from exc
    commit = getattr(info, "sha", None)
    if not is_commit(commit):
        raise LayerDiffuseUnavailable(f"the hub gave no commit for {REPO_ID}@{revision} (got {commit!r}); "
                                      "nothing was downloaded, try again later")
    files = {}
    for sib in getattr(info, "siblings", None) or []:
        lfs = getattr(sib, "lfs", None)
        files[sib.rfilename] = {
            "sha256": lfs.sha256.lower() if lfs is not None else None,
            "size": lfs.size if lfs is not None else sib.size,
            "git_sha1": sib.blob_id.lower() if lfs is None and is_commit(getattr(sib, "blob_id", None)) else None,
        }
    if not files:
        raise LayerDiffuseUnavailable(f"the hub listed no files for {REPO_ID}@{commit}; nothing was downloaded")
    pin = {"repo": REPO_ID, "ref": revision, "revision": commit.lower(), "files": files}
    folder.mkdir(parents=True, exist_ok=True)
    write_file(pin_path(folder), json.dumps(pin, indent=1, sort_keys=True).encode("utf-8"))
    return read_pin(folder)
