"""Fetching a diffusers model from the Hugging Face hub: cache first, then a checked download.

A model already in the local HF cache loads with no network access at all. Otherwise only
the files the diffusers pipeline needs are fetched (safetensors weights, the fp16 variant
on GPUs when the repo has one; no root-level single-file checkpoints), after checking they
fit on the disk. Interrupted downloads resume (huggingface_hub keeps .incomplete files).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import Cancelled, ModelLoadError, NotEnoughDiskSpace
from .models import PICKLE_SUFFIXES

_CONFIG_DIRS = ("scheduler", "tokenizer", "tokenizer_2", "feature_extractor")
_SKIP_COMPONENTS = ("safety_checker",)
_DISK_MARGIN = 512 * 1024 * 1024


def fetch(repo_id: str, *, prefer_fp16: bool, allow_pickle: bool = False, progress=None, cancel=None) -> Path:
    """Return the local snapshot folder of `repo_id`, downloading what is missing."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
        if (folder / "model_index.json").is_file():
            return folder
    except Exception:  # not cached (the hub raises several kinds); try the network below
        pass
    if _offline():
        raise ModelLoadError(f"{repo_id}: not in the local Hugging Face cache, and HF_HUB_OFFLINE is set")
    files = _pick_files(repo_id, prefer_fp16, allow_pickle)
    _check_space(repo_id, files)
    if cancel is not None and cancel():
        raise Cancelled(f"download of {repo_id} cancelled")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=files, tqdm_class=_progress_class(progress, cancel)))
    except Cancelled:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{repo_id}: download failed ({type(exc).__name__}: {exc})") from exc


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _pick_files(repo_id: str, prefer_fp16: bool, allow_pickle: bool) -> list[str]:
    from huggingface_hub import HfApi

    try:
        names = HfApi().list_repo_files(repo_id)
    except Exception as exc:
        raise ModelLoadError(f"{repo_id}: could not list the model's files on the hub "
                             f"({type(exc).__name__}: {exc})") from exc
    if "model_index.json" not in names:
        raise ModelLoadError(f"{repo_id}: not a diffusers model (no model_index.json); for a single checkpoint "
                             "file, download it and open the .safetensors file")
    return select_files(names, prefer_fp16, allow_pickle)


def select_files(names: list[str], prefer_fp16: bool, allow_pickle: bool) -> list[str]:
    """The files a diffusers pipeline needs out of a repo's file list (one weight set per component)."""
    chosen = ["model_index.json"]
    by_dir: dict[str, list[str]] = {}
    for name in names:
        if "/" in name and name.count("/") == 1:
            by_dir.setdefault(name.split("/")[0], []).append(name)
    for comp, files in sorted(by_dir.items()):
        if comp in _SKIP_COMPONENTS:
            continue
        chosen += [f for f in files if f.endswith((".json", ".txt", ".model"))]
        if comp in _CONFIG_DIRS:
            continue
        safes = [f for f in files if f.endswith(".safetensors")]
        fp16 = [f for f in safes if ".fp16." in f]
        plain = [f for f in safes if ".fp16." not in f and not _other_variant(f)]
        weights = (fp16 if prefer_fp16 and fp16 else plain) or fp16
        if not weights and allow_pickle:
            weights = [f for f in files if f.endswith(PICKLE_SUFFIXES) and ".fp16." not in f]
        chosen += weights
    return chosen


def _other_variant(name: str) -> bool:
    parts = Path(name).name.split(".")
    return len(parts) > 2 and parts[-2] not in ("index",) and not parts[-2].startswith("safetensors")


def _check_space(repo_id: str, files: list[str]) -> None:
    from huggingface_hub import constants, snapshot_download

    try:
        plan = snapshot_download(repo_id, allow_patterns=files, dry_run=True)
    except Exception:
        return  # the estimate is best effort; the download itself reports real failures
    needed = sum((p.file_size or 0) for p in plan if p.will_download)
    cache = Path(constants.HF_HUB_CACHE)
    probe = cache
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + _DISK_MARGIN > free:
        raise NotEnoughDiskSpace(f"{repo_id}: the download needs {needed / 2**30:.1f} GiB but only "
                                 f"{free / 2**30:.1f} GiB is free at {cache}")


def _progress_class(progress, cancel):
    """A tqdm class reporting downloaded bytes to progress(done, total) and honouring cancel()."""
    from tqdm.auto import tqdm

    class _Progress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._bytes = kwargs.get("unit") == "B" and "transfer" not in str(kwargs.get("name", ""))
            self._done = kwargs.get("initial", 0) or 0

        def update(self, n=1):
            if cancel is not None and cancel():
                raise Cancelled("download cancelled")
            if self._bytes:
                self._done += n or 0
                if progress is not None:
                    progress(int(self._done), int(self.total or 0))
            return super().update(n)

    return _Progress
