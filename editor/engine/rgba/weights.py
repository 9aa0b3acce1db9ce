"""Where LayerDiffuse weights come from: the hub repository, local files, hash checks.

The files live in the Hugging Face repository ``LayerDiffusion/layerdiffusion-v1``.
Downloads go through ``huggingface_hub.hf_hub_download`` (which resumes partial
downloads) at an explicit revision, and every file is checked against a SHA-256:

* ``KNOWN_SHA256`` holds hashes we have verified ourselves; it is empty because
  no hash could be confirmed offline while writing this module.
* Otherwise the first successful download's hash is recorded in
  ``hashes.json`` in the weights folder (trust on first use) and every later use
  of that file must match it. ``expected_sha256=`` overrides both.

The licence of the weights (OpenRAIL family, see ``LICENCE_NAME``/``LICENCE_URL``)
must be shown to the user by the UI before ``download_weights`` is called.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Cancelled
from .errors import LayerDiffuseUnavailable

REPO_ID = "LayerDiffusion/layerdiffusion-v1"
#: The revision downloads use. "main" until a commit hash has been checked by hand:
#: we could not look the repository's commit up offline. Set to a 40-hex commit to pin.
REVISION = "main"
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

#: filename -> sha256 hex of the published file, where verified. See module docstring.
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
    """Files already on disk: in ``folder`` (default: the weights folder), else in the HF cache."""
    found = LayerWeights.from_folder(family, folder or default_weights_dir())
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return found
    for (fam, role), wf in FILES.items():
        if fam != family or role in found.files:
            continue
        cached = try_to_load_from_cache(REPO_ID, wf.filename, revision=REVISION)
        if isinstance(cached, str) and Path(cached).is_file():
            found.files[role] = Path(cached)
    return found


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _hash_record(folder: Path) -> Path:
    return folder / "hashes.json"


def verify_file(path: str | Path, expected_sha256: str | None = None, record_folder: str | Path | None = None) -> str:
    """Check a weight file's SHA-256; returns it.

    Expected value: ``expected_sha256``, else ``KNOWN_SHA256``, else the hash
    recorded on first use in ``record_folder/hashes.json`` (recorded now if absent).
    """
    path = Path(path)
    digest = sha256_file(path)
    expected = expected_sha256 or KNOWN_SHA256.get(path.name)
    record = _hash_record(Path(record_folder)) if record_folder else None
    recorded: dict[str, str] = {}
    if record is not None and record.is_file():
        try:
            recorded = json.loads(record.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise LayerDiffuseUnavailable(f"{record}: unreadable hash record ({exc})") from exc
    expected = expected or recorded.get(path.name)
    if expected is not None and digest != expected.lower():
        raise LayerDiffuseUnavailable(
            f"{path}: SHA-256 {digest} does not match the expected {expected}; the file is corrupt or "
            "not the published one. Delete it and download again.")
    if record is not None and path.name not in recorded:
        recorded[path.name] = digest  # trust on first use
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(recorded, indent=1, sort_keys=True), encoding="utf-8")
    return digest


def download_weights(family: str, roles, *, folder: str | Path | None = None, revision: str = REVISION,
                     expected_sha256: dict[str, str] | None = None, progress=None, cancel=None) -> LayerWeights:
    """Download (or resume) the files for ``roles`` of ``family`` into ``folder`` and verify them.

    progress(done_bytes, total_bytes) is called about every half second and at the
    end; cancel() -> bool is polled as often and stops with Cancelled (the partial
    file stays and the next call resumes it).
    """
    from huggingface_hub import hf_hub_download

    folder = Path(folder or default_weights_dir())
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [weight_file(family, r) for r in roles]
    total = sum(w.size_bytes for w in wanted)
    done_before = 0
    out = LayerWeights(family)
    for wf in wanted:
        target = folder / wf.filename
        if not target.is_file():
            _download_one(hf_hub_download, wf, folder, revision, done_before, total, progress, cancel)
        verify_file(target, (expected_sha256 or {}).get(wf.filename), record_folder=folder)
        out.files[wf.role] = target
        done_before += wf.size_bytes
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
