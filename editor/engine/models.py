"""Model loading: the demo model, a diffusers folder, a hub id, or a single checkpoint file.

    model = load_model("demo")                       # resources/demo_model
    model = load_model("/models/my-sd15")            # diffusers folder
    model = load_model("stabilityai/sd-turbo")       # hub id (cache first, then download)
    model = load_model("/models/dreamshaper.safetensors")

Weights are read from .safetensors only; pickle checkpoints (.ckpt, .bin, .pt, .pth) are
refused unless allow_pickle=True, because unpickling runs code from the file.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelLoadError, PickleRefused

PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")
TURBO_MARKERS = ("turbo", "lcm", "lightning", "hyper-sd", "hypersd", "hyper_sd")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class DiffusionModel:
    """A loaded pipeline and what the engine needs to know about it."""

    pipe: Any
    family: str  # "sd15", "sd2" or "sdxl"
    device: str
    dtype: Any
    source: str
    is_turbo: bool
    native_size: int
    #: Settings the model folder carries for Layerbrush (``layerbrush.json``), e.g. the words
    #: the matte fallback uses for a background this model can paint (see rgba.matte).
    settings: dict = field(default_factory=dict)
    #: where the weights live (editor.engine.memory.MemoryPlan: full, model or sequential offload)
    memory: Any = None

    @property
    def memory_label(self) -> str:
        """The active memory mode in words, e.g. "model offload to the CPU, VAE tiling"."""
        return self.memory.label if self.memory is not None else "all on the device"

    @property
    def default_steps(self) -> int:
        return 4 if self.is_turbo else 20

    @property
    def default_guidance(self) -> float:
        return 0.0 if self.is_turbo else 7.5

    @property
    def profile(self):
        """The model's ``editor.core.profiles.ModelProfile`` (working size and layer defaults)."""
        from editor.core.profiles import profile_for

        f = 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)
        grid = f * 2 ** (len(self.pipe.unet.config.block_out_channels) - 1)
        return profile_for(self.family, self.native_size, grid=grid, is_turbo=self.is_turbo,
                           is_demo=str(self.source) == "demo")

    @property
    def compiled(self) -> bool:
        return bool(getattr(self.pipe, "layerbrush_compile", False))

    def set_compiled(self, on: bool) -> bool:
        """Compile the graphed UNet/VAE calls (CUDA only); returns whether it is now on."""
        self.pipe.layerbrush_compile = bool(on) and str(self.device).startswith("cuda")
        return self.compiled


def demo_model_path() -> Path:
    from ..resources import resource_path

    return resource_path("demo_model")


def accelerator_info(progress=None, cancel=None) -> dict:
    """What this machine can run on: ``{"cuda": bool, "cuda_name": str | None, "mps": bool}``
    (the model picker offers torch.compile only where CUDA is)."""
    import torch

    cuda = bool(torch.cuda.is_available())
    mps = getattr(torch.backends, "mps", None)
    return {"cuda": cuda, "cuda_name": torch.cuda.get_device_name(0) if cuda else None,
            "mps": bool(mps is not None and mps.is_available())}


def pick_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def load_model(source, device: str = "auto", *, allow_pickle: bool = False, progress=None, cancel=None,
               tokenizer=None, compile: bool = False, memory_mode: str = "auto") -> DiffusionModel:
    """Load a Stable Diffusion 1.x/2.x or SDXL class model; see the module docstring.

    compile: on CUDA, compile the UNet and VAE decoder with torch.compile under the CUDA graphs
    (about 1.6x faster brush edits; the first render at each latent size then takes about a
    minute). Ignored on other devices.

    memory_mode: "auto" (chosen from the GPU's free memory, see editor.engine.memory), "full",
    "model_offload" or "sequential_offload".

    progress(done_bytes, total_bytes) and cancel() -> bool apply to hub downloads.
    tokenizer: for single checkpoint files only, a folder holding the CLIP tokenizer(s)
    (tokenizer/, tokenizer_2/ or the files themselves) when it is not in the local HF cache.
    """
    import torch

    from .memory import CHOICES

    if memory_mode not in CHOICES:
        raise ModelLoadError(f"memory mode must be one of {', '.join(CHOICES)}, got {memory_mode!r}")
    model = _load(source, device, allow_pickle, progress, cancel, tokenizer, memory_mode)
    model.set_compiled(compile and model.memory.mode == "full")
    return model


def _load(source, device, allow_pickle, progress, cancel, tokenizer, memory_mode="auto") -> DiffusionModel:
    import torch

    text = str(source)
    dev = pick_device(device)
    dtype = torch.float16 if dev in ("cuda", "mps") else torch.float32
    if text == "demo":
        folder = demo_model_path()
        if not (folder / "model_index.json").is_file():
            raise ModelLoadError(f"the bundled demo model is missing: expected a diffusers folder at {folder}")
        return _finish(memory_mode, _load_folder(folder, dtype, allow_pickle), "demo", dev, dtype, read_settings(folder))
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(f"{path}: not a diffusers model folder (no model_index.json)")
        return _finish(memory_mode, _load_folder(path, dtype, allow_pickle), text, dev, dtype, read_settings(path))
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in PICKLE_SUFFIXES and not allow_pickle:
            raise PickleRefused(
                f"{path}: refusing to load a pickle checkpoint ({suffix}); loading it could run code "
                "from the file. Use a .safetensors version, or pass allow_pickle=True if you trust it.")
        if suffix != ".safetensors" and suffix not in PICKLE_SUFFIXES:
            raise ModelLoadError(f"{path}: unsupported model file type {suffix or '(none)'}; "
                                 "expected a .safetensors checkpoint or a diffusers folder")
        from .single_file import load_single_file

        pipe = load_single_file(path, dtype, allow_pickle=allow_pickle, tokenizer=tokenizer)
        return _finish(memory_mode, pipe, text, dev, dtype)
    if _HUB_ID.match(text) and not text.startswith((".", "/", "~")):
        from .hub import fetch

        folder = fetch(text, prefer_fp16=dtype == torch.float16, allow_pickle=allow_pickle,
                       progress=progress, cancel=cancel)
        return _finish(memory_mode, _load_folder(folder, dtype, allow_pickle), text, dev, dtype)
    raise ModelLoadError(f"{text}: no such file or folder, and not a hub id of the form owner/name")


def _load_folder(folder: Path, dtype, allow_pickle: bool):
    """Load a diffusers folder offline, as the SD or SDXL text-to-image pipeline."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{folder / 'model_index.json'}: unreadable ({exc})") from exc
    if not isinstance(index, dict) or "unet" not in index or "vae" not in index:
        raise ModelLoadError(f"{folder}: not a Stable Diffusion model (model_index.json lists no unet and vae)")
    _require_parts(folder, index)
    if not allow_pickle:
        _require_safetensors(folder, index)
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    cls = StableDiffusionXLPipeline if "text_encoder_2" in index else StableDiffusionPipeline
    kwargs = {} if cls is StableDiffusionXLPipeline else {"safety_checker": None, "feature_extractor": None,
                                                          "requires_safety_checker": False}
    variant = None
    if dtype is not None and str(dtype) == "torch.float16" and any(folder.glob("unet/*.fp16.safetensors")):
        variant = "fp16"
    try:
        with warnings.catch_warnings():  # newer diffusers renamed torch_dtype; older ones lack the new name
            warnings.simplefilter("ignore", FutureWarning)
            return cls.from_pretrained(folder, torch_dtype=dtype, local_files_only=True, variant=variant,
                                       use_safetensors=None if allow_pickle else True, **kwargs)
    except Exception as exc:  # diffusers raises many kinds; the user needs the folder and the reason
        raise ModelLoadError(f"{folder}: could not load the model ({type(exc).__name__}: {exc})") from exc


#: The parts a Stable Diffusion folder needs, and the file that shows each one is there.
SD_PARTS = {"scheduler": "scheduler_config.json", "text_encoder": "config.json", "tokenizer": None,
            "unet": "config.json", "vae": "config.json"}
SDXL_PARTS = {**SD_PARTS, "text_encoder_2": "config.json", "tokenizer_2": None}


def _require_parts(folder: Path, index: dict) -> None:
    """Name what is missing before diffusers trips over it (its errors read like
    "KeyError: '_class_name'")."""
    index_file = folder / "model_index.json"
    parts = SDXL_PARTS if "text_encoder_2" in index else SD_PARTS
    listed = {name for name, spec in index.items() if isinstance(spec, list) and len(spec) == 2 and spec[0]}
    unlisted = [name for name in parts if name not in listed]
    if unlisted:
        raise ModelLoadError(f"{index_file}: lists no {', '.join(unlisted)}; a Stable Diffusion model needs "
                             f"{', '.join(parts)}")
    if not isinstance(index.get("_class_name"), str):
        raise ModelLoadError(f"{index_file}: has no _class_name (which pipeline the folder holds)")
    for name, marker in parts.items():
        sub = folder / name
        if not sub.is_dir():
            raise ModelLoadError(f"{folder}: model_index.json lists {name} but there is no {name} folder")
        if marker is not None and not (sub / marker).is_file():
            raise ModelLoadError(f"{sub}: no {marker}, so the model's {name} cannot be loaded")


def _require_safetensors(folder: Path, index: dict) -> None:
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        sub = folder / name
        if not sub.is_dir() or name in ("tokenizer", "tokenizer_2", "scheduler", "feature_extractor"):
            continue
        if any(sub.glob("*.safetensors")):
            continue
        pickles = [p.name for p in sub.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise PickleRefused(f"{sub / pickles[0]}: the model's {name} has only pickle weights; refusing to "
                                "load them (pass allow_pickle=True if you trust the model)")


def from_pipeline(pipe, source: str = "memory", device: str = "auto", *, memory_mode: str = "auto") -> DiffusionModel:
    """Wrap an already-built StableDiffusion(XL)Pipeline (its dtype is kept)."""
    return _finish(memory_mode, pipe, source, pick_device(device), pipe.unet.dtype)


PROFILE_FILE = "layerbrush.json"


def read_settings(folder: Path) -> dict:
    """The model folder's ``layerbrush.json`` settings ({} when there is none)."""
    path = Path(folder) / PROFILE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: unreadable model settings ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: model settings must be a JSON object, got {type(data).__name__}")
    return data


def _finish(memory_mode: str, pipe, source: str, device: str, dtype, settings: dict | None = None) -> DiffusionModel:
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0

    from .memory import apply_memory_plan, choose_memory_plan, gpu_memory

    family = detect_family(pipe)
    free, total = gpu_memory(device)
    plan = choose_memory_plan(free, total, family, torch.tensor([], dtype=pipe.unet.dtype).element_size(),
                              device=device, forced=memory_mode)
    apply_memory_plan(pipe, plan, device)
    pipe.set_progress_bar_config(disable=True)
    if hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        pipe.unet.set_attn_processor(AttnProcessor2_0())
    f = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    native = int(pipe.unet.config.sample_size) * f
    return DiffusionModel(pipe, family, device, dtype, source, detect_turbo(source, pipe), native, settings or {},
                          plan)


def detect_family(pipe) -> str:
    if getattr(pipe, "text_encoder_2", None) is not None:
        return "sdxl"
    cross = pipe.unet.config.cross_attention_dim
    return "sd2" if cross == 1024 else "sd15"


def detect_turbo(source: str, pipe) -> bool:
    """Few-step distilled models: by name, or by an LCM/TCD scheduler in the model's config."""
    name = os.path.basename(str(source).rstrip("/\\")).lower() + " " + str(source).lower()
    if any(m in name for m in TURBO_MARKERS):
        return True
    sched = type(pipe.scheduler).__name__
    if sched in ("LCMScheduler", "TCDScheduler"):
        return True
    return False
