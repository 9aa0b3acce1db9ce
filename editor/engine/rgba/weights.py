"""Where LayerDiffuse weights come from: the hub repository or local files.

The files live in the Hugging Face repository ``LayerDiffusion/layerdiffusion-v1``.
Downloads go through ``huggingface_hub.hf_hub_download`` (which resumes partial
downloads), always at the pinned 40-hex commit, and every file is checked against its
expected hash and size before use (``pinning.py`` says where those come from).

The licence of the weights (OpenRAIL family, see ``LICENCE_NAME``/``LICENCE_URL``) must
be shown to the user by the UI before ``download_weights`` is called.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Cancelled
from . import pinning
from .errors import LayerDiffuseUnavailable
from .pinning import KNOWN_SHA256, REPO_ID, REVISION, pin_path, read_pin, resolve_pin, verify_file

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
        if self.family == "demo" and any(r not in self.files for r in roles):
            raise LayerDiffuseUnavailable(
                f"the demo model's own transparency weights cover transparent layers only, not {mode!r} "
                "generation; that needs an SD1.5 model with the LayerDiffuse weights, or the matte fallback")
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


def pinned_revision(folder: str | Path | None = None) -> str | None:
    """The commit the next download into ``folder`` (default: the weights folder) uses;
    None before the first download, unless ``REVISION`` is a commit."""
    return pinning.pinned_revision(folder or default_weights_dir())


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
    if unhashed or (missing and not pinning.is_commit(revision)):
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
