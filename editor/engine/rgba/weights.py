"""Where LayerDiffuse weights come from: the hub repository, local files, hash checks.

The files live in the Hugging Face repository ``LayerDiffusion/layerdiffusion-v1``.
Downloads go through ``huggingface_hub.hf_hub_download`` (which resumes partial
downloads), always at a 40-hex commit, and every file is checked before use:

* The commit: ``REVISION`` when a maintainer has set it to a 40-hex commit.
  It is "main" because the repository's commit could not be looked up offline
  while writing this module, so the first download asks the hub which commit
  "main" is (``HfApi().model_info(..., files_metadata=True)``) and records it,
  with every file's hub-declared LFS SHA-256 and size at that commit, in
  ``pin.json`` in the weights folder (written atomically). Every later download,
  of the same or of other files, uses that commit, never "main" again (until
  ``REVISION`` is changed in code: a record made for another revision is replaced).
* The expected hash of a file: ``expected_sha256=`` of the call, else
  ``KNOWN_SHA256`` (hashes checked by hand; empty for the same reason as
  ``REVISION``), else the pin record's LFS SHA-256 and size. A file the hub
  stores without LFS (none of the published ones) has no declared SHA-256: its
  git blob id (SHA-1 over git's blob header and the content) from the same
  metadata is checked instead. There is no trust-on-first-use record any more:
  every hash comes from the hub's metadata or from the code.

A file that fails its check is renamed to ``<name>.bad`` (so it is never loaded)
and the error names it, both hashes and what to do. The licence of the weights
(OpenRAIL family, see ``LICENCE_NAME``/``LICENCE_URL``) must be shown to the user
by the UI before ``download_weights`` is called.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Cancelled
from .errors import LayerDiffuseUnavailable

REPO_ID = "LayerDiffusion/layerdiffusion-v1"
#: The revision to pin. "main" until a commit hash has been checked by hand (it could not
#: be looked up offline): the first download resolves it to a commit and records it in
#: ``pin.json``. A maintainer-set 40-hex commit here takes precedence over the record.
REVISION = "main"
PIN_FILE = "pin.json"
LICENCE_NAME = "OpenRAIL-family licence (read it on the model card before downloading)"
LICENCE_URL = "https://huggingface.co/LayerDiffusion/layerdiffusion-v1"


@dataclass(frozen=True)
class WeightFile:
    filename: str
    family: str  # "sd15" or "sdxl"
    role: str  # decoder, encoder, attn, conv, joint, fg2bg, bg2fg
    size_bytes: int  # expected size without __metadata__ (from the published layout; conv: the published 3.62 GB)


FILES: dict[tuple[str, str], WeightFile] = {
    (w.family, w.role): w
    for w in (
        WeightFile("layer_sd15_vae_transparent_decoder.safetensors", "sd15", "decoder", 208_266_320),
        WeightFile("layer_sd15_vae_transparent_encoder.safetensors", "sd15", "encoder", 2_365_008),
        WeightFile("layer_sd15_transparent_attn.safetensors", "sd15", "attn", 350_266_608),
        WeightFile("layer_sd15_joint.safetensors", "sd15", "joint", 554_404_208),
        WeightFile("layer_sd15_fg2bg.safetensors", "sd15", "fg2bg", 562_982_312),
        WeightFile("layer_sd15_bg2fg.safetensors", "sd15", "bg2fg", 562_982_312),
        WeightFile("vae_transparent_decoder.safetensors", "sdxl", "decoder", 208_266_320),
        WeightFile("vae_transparent_encoder.safetensors", "sdxl", "encoder", 2_365_008),
        WeightFile("layer_xl_transparent_attn.safetensors", "sdxl", "attn", 743_352_688),
        # Its exact layer list (hence byte size) is not documented: the hub's rounded size.
        WeightFile("layer_xl_transparent_conv.safetensors", "sdxl", "conv", 3_620_000_000),
    )
}

#: filename -> sha256 hex of the published file, checked by hand; takes precedence over the
#: pin record. Empty: no hash could be confirmed offline while writing this module.
KNOWN_SHA256: dict[str, str] = {}

#: Roles each generation mode needs. "rgba_conv": SDXL transparent layers with the conv
#: patch (full weight offsets, stronger style) instead of the attention LoRA.
MODE_ROLES = {"rgba": ("attn", "decoder"), "rgba_conv": ("conv", "decoder"), "joint": ("joint", "decoder"),
              "fg2bg": ("fg2bg",), "bg2fg": ("bg2fg", "decoder")}


def weight_file(family: str, role: str) -> WeightFile:
    try:
        return FILES[(family, role)]
    except KeyError:
        have = sorted({r for f, r in FILES if f == family})
        if not have:
            raise LayerDiffuseUnavailable(
                f"no LayerDiffuse weights exist for {family!r} models (only SD1.5 and SDXL); "
                "use generate_matte for a lower-quality transparent result") from None
        raise LayerDiffuseUnavailable(
            f"LayerDiffuse has no {role!r} weights for {family!r} models (available: {', '.join(have)})") from None


def default_weights_dir() -> Path:
    env = os.environ.get("LAYERBRUSH_LAYERDIFFUSE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("layerbrush")) / "layerdiffuse"


@dataclass
class LayerWeights:
    """Weight files for one model family, by role (see ``FILES``).

    ``decoder_config`` is the shape of the decoder in the file; the published
    files use the default ``DecoderConfig()``.
    """

    family: str
    files: dict[str, Path] = field(default_factory=dict)
    decoder_config: object | None = None

    @classmethod
    def from_paths(cls, family: str, **paths) -> LayerWeights:
        """Pick local files by path, e.g. ``from_paths("sd15", attn=..., decoder=...)``."""
        files = {}
        for role, p in paths.items():
            weight_file(family, role)  # validates the role
            p = Path(p).expanduser()
            if not p.is_file():
                raise FileNotFoundError(f"{p}: no such weight file (for the {role} of {family})")
            files[role] = p
        return cls(family, files)

    @classmethod
    def from_folder(cls, family: str, folder: str | Path) -> LayerWeights:
        """The published files of ``family`` present in ``folder`` (by their published names)."""
        folder = Path(folder).expanduser()
        files = {}
        for (fam, role), wf in FILES.items():
            if fam == family and (folder / wf.filename).is_file():
                files[role] = folder / wf.filename
        return cls(family, files)

    def require(self, mode: str) -> dict[str, Path]:
        """The files a generation mode needs, or LayerDiffuseUnavailable naming what is missing."""
        roles = MODE_ROLES[mode]
        missing = [weight_file(self.family, r).filename for r in roles if r not in self.files]
        if missing:
            raise LayerDiffuseUnavailable(
                f"LayerDiffuse weights for {self.family} {mode!r} generation are not available: missing "
                f"{', '.join(missing)} (from {REPO_ID}, licence {LICENCE_NAME}). Download them through the "
                "model manager or pick the files from disk; without them, generate_matte gives a "
                "lower-quality transparent result.")
        return {r: self.files[r] for r in roles}


def find_local_weights(family: str, folder: str | Path | None = None) -> LayerWeights:
    """Files already on disk: in ``folder`` (default: the weights folder), else in the HF cache
    (at the pinned commit when the weights folder has a pin record, else at ``REVISION``)."""
    folder = Path(folder or default_weights_dir())
    found = LayerWeights.from_folder(family, folder)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return found
    revision = None
    for (fam, role), wf in FILES.items():
        if fam != family or role in found.files:
            continue
        if revision is None:  # read only when needed: a complete folder never depends on the record
            pin = read_pin(folder)
            revision = pin["revision"] if pin else REVISION
        cached = try_to_load_from_cache(REPO_ID, wf.filename, revision=revision)
        if isinstance(cached, str) and Path(cached).is_file():
            found.files[role] = Path(cached)
    return found


# ---------------------------------------------------------------------- hashes

def _is_commit(revision: str | None) -> bool:
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

def pin_path(folder: str | Path | None = None) -> Path:
    return Path(folder or default_weights_dir()) / PIN_FILE


def read_pin(folder: str | Path | None = None) -> dict | None:
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
    if not _is_commit(pin.get("revision")):
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
        if blob is not None and not _is_commit(blob):
            raise damaged(f"{name}: git_sha1 {blob!r} is not 40 hex digits")
    return pin


def pinned_revision(folder: str | Path | None = None) -> str | None:
    """The commit the next download of ``REVISION`` into ``folder`` uses, None while it is
    not known yet (before the first download, unless ``REVISION`` is a commit)."""
    if _is_commit(REVISION):
        return REVISION.lower()
    pin = read_pin(folder)
    return pin["revision"] if pin and pin.get("ref") == REVISION else None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_pin(folder: str | Path | None = None, revision: str = REVISION) -> dict:
    """The pin record for ``revision``: the recorded one when it was made for this revision
    (by name, e.g. "main", or by commit), else asked from the hub and recorded now.

    The record is written only after the hub has answered completely, so a failed
    lookup leaves no record behind."""
    folder = Path(folder or default_weights_dir())
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
    if not _is_commit(commit):
        raise LayerDiffuseUnavailable(f"the hub gave no commit for {REPO_ID}@{revision} (got {commit!r}); "
                                      "nothing was downloaded, try again later")
    files = {}
    for sib in getattr(info, "siblings", None) or []:
        lfs = getattr(sib, "lfs", None)
        files[sib.rfilename] = {
            "sha256": lfs.sha256.lower() if lfs is not None else None,
            "size": lfs.size if lfs is not None else sib.size,
            "git_sha1": sib.blob_id.lower() if lfs is None and _is_commit(getattr(sib, "blob_id", None)) else None,
        }
    if not files:
        raise LayerDiffuseUnavailable(f"the hub listed no files for {REPO_ID}@{commit}; nothing was downloaded")
    pin = {"repo": REPO_ID, "ref": revision, "revision": commit.lower(), "files": files}
    _write_atomically(pin_path(folder), json.dumps(pin, indent=1, sort_keys=True))
    return read_pin(folder)


def _expectation(wf: WeightFile, override: str | None, pin: dict | None, folder: Path) -> dict:
    """verify_file keyword arguments for ``wf``: the caller's or KNOWN_SHA256's hash, else the pin's."""
    sha = override or KNOWN_SHA256.get(wf.filename)
    if sha is not None:
        return {"expected_sha256": sha, "source": "the hash set in code" if not override else "the caller"}
    meta = pin["files"].get(wf.filename) if pin else None
    if meta is None:
        raise LayerDiffuseUnavailable(
            f"{wf.filename} is not in {REPO_ID}@{pin['revision'] if pin else REVISION} according to the hub; "
            f"the pin record {pin_path(folder)} may be for an older layout: delete it and download again")
    if meta.get("sha256") is None and meta.get("git_sha1") is None:
        raise LayerDiffuseUnavailable(
            f"the hub declares no hash for {wf.filename} in {REPO_ID}@{pin['revision']}, so it cannot be checked; "
            "not using it")
    return {"expected_sha256": meta.get("sha256"), "expected_size": meta.get("size"),
            "expected_git_sha1": meta.get("git_sha1"),
            "source": f"the hub's metadata for {REPO_ID}@{pin['revision']}"}


def download_weights(family: str, roles, *, folder: str | Path | None = None, revision: str = REVISION,
                     expected_sha256: dict[str, str] | None = None, progress=None, cancel=None) -> LayerWeights:
    """Download (or resume) the files for ``roles`` of ``family`` into ``folder`` and verify them.

    Downloads use the pinned commit (see the module docstring; the first one asks the
    hub and records ``pin.json``, which needs a network connection). progress(done_bytes,
    total_bytes) is called about every half second and at the end; cancel() -> bool is
    polled as often and stops with Cancelled (the partial file stays and the next call
    resumes it).
    """
    from huggingface_hub import hf_hub_download

    folder = Path(folder or default_weights_dir())
    wanted = [weight_file(family, r) for r in roles]
    overrides = expected_sha256 or {}
    missing = [wf for wf in wanted if not (folder / wf.filename).is_file()]
    unhashed = [wf for wf in wanted if not (overrides.get(wf.filename) or KNOWN_SHA256.get(wf.filename))]
    pin = None
    if unhashed or (missing and not _is_commit(revision)):
        pin = resolve_pin(folder, revision)
    commit = pin["revision"] if pin else str(revision).lower()
    expect = {wf.filename: _expectation(wf, overrides.get(wf.filename), pin, folder) for wf in wanted}

    def size_of(wf: WeightFile) -> int:
        return expect[wf.filename].get("expected_size") or wf.size_bytes

    total = sum(size_of(wf) for wf in wanted)
    done_before = 0
    out = LayerWeights(family)
    folder.mkdir(parents=True, exist_ok=True)
    for wf in wanted:
        target = folder / wf.filename
        if not target.is_file():
            _download_one(hf_hub_download, wf, folder, commit, done_before, total, progress, cancel)
        verify_file(target, **expect[wf.filename])
        out.files[wf.role] = target
        done_before += size_of(wf)
        if progress is not None:
            progress(done_before, total)
    return out


def _download_one(hf_hub_download, wf: WeightFile, folder: Path, revision: str, done_before: int, total: int,
                  progress, cancel) -> None:
    stop = threading.Event()
    result: dict[str, object] = {}

    def work():
        try:
            result["path"] = hf_hub_download(REPO_ID, wf.filename, revision=revision, local_dir=folder)
        except BaseException as exc:  # handed to the caller's thread below
            result["error"] = exc
        finally:
            stop.set()

    thread = threading.Thread(target=work, name=f"download {wf.filename}", daemon=True)
    thread.start()
    while not stop.wait(0.5):
        if cancel is not None and cancel():
            # hf_hub_download has no cancel hook: leave the thread to finish into the
            # cache (it resumes later) and return control to the caller now.
            raise Cancelled(f"download of {wf.filename} cancelled")
        if progress is not None:
            progress(done_before + _partial_bytes(folder, wf.filename), total)
    if "error" in result:
        exc = result["error"]
        raise LayerDiffuseUnavailable(f"could not download {wf.filename} from {REPO_ID}@{revision}: {exc}") from exc


def _partial_bytes(folder: Path, filename: str) -> int:
    """Bytes of the in-progress download (hf_hub_download writes ``*.incomplete`` under .cache)."""
    best = 0
    cache = folder / ".cache" / "huggingface" / "download"
    if cache.is_dir():
        for p in cache.glob(f"{filename}*.incomplete"):
            try:
                best = max(best, p.stat().st_size)
            except OSError:
                pass
    return best
