"""Low-memory modes: which parts of a model live on the GPU, and VAE tiling for large pictures.

    plan = choose_memory_plan(free, total, "sdxl", dtype_bytes=2)   # pure: tested without a GPU
    apply_memory_plan(pipe, plan, "cuda")                           # at model load

Modes:
- ``full``: every part on the device (fastest).
- ``model_offload``: parts wait on the CPU; the one that runs (text encoders, UNet, VAE) is
  moved to the GPU, evicting the previous one. Peak GPU memory is the largest part (the UNet)
  plus its work: SDXL in fp16 needs about 7.0 GB instead of about 8.8 GB.
- ``sequential_offload``: each block of each part is moved in for its own call and out
  after: the least GPU memory, and much slower (every step streams the weights).
VAE tiling decodes (and encodes) pictures larger than the model's working size in overlapping
tiles of that size, so a large window or picture does not need memory for the whole decode.
Brush windows are at the working size and are never tiled.

The offloading is a small forward hook here rather than diffusers' enable_model_cpu_offload:
its accelerate hooks leave outputs on the GPU while our samplers keep latents on the device of
the UNet's parameters (the CPU when offloaded), and its sequential mode moves the weights to
the "meta" device, where LoRAs cannot be merged. Ours keeps every weight a real CPU tensor and
returns each output to the device its input came from.
"""
from __future__ import annotations

from dataclasses import dataclass

MODES = ("full", "model_offload", "sequential_offload")
CHOICES = ("auto",) + MODES
LABELS = {"full": "all on the device", "model_offload": "model offload to the CPU",
          "sequential_offload": "sequential offload to the CPU (slow)", "auto": "automatic"}

#: parameters (millions) of each part, by family: what has to fit in memory
PARAMS_M = {
    "sd15": {"unet": 860, "text_encoder": 123, "vae": 84},
    "sd2": {"unet": 866, "text_encoder": 340, "vae": 84},
    "sdxl": {"unet": 2567, "text_encoder": 123, "text_encoder_2": 695, "vae": 84},
}
#: working memory (GB at 2 bytes per value) of a guided UNet step at the native size
WORK_GB = {"sd15": 0.8, "sd2": 1.0, "sdxl": 1.5}
MARGIN_GB = 0.4  # CUDA context, allocator slack
GB = 1e9


@dataclass(frozen=True)
class MemoryPlan:
    mode: str
    vae_tiling: bool
    reason: str

    @property
    def label(self) -> str:
        return LABELS[self.mode] + (", VAE tiling" if self.vae_tiling else "")


def needed_bytes(family: str, dtype_bytes: int) -> dict:
    """(full, largest part) bytes a model needs on the GPU, working memory included."""
    parts = PARAMS_M.get(family, PARAMS_M["sd15"])
    work = WORK_GB.get(family, 1.0) * GB * dtype_bytes / 2
    weights = {k: v * 1e6 * dtype_bytes for k, v in parts.items()}
    return {"full": sum(weights.values()) + work + MARGIN_GB * GB,
            "largest": max(weights.values()) + work + MARGIN_GB * GB}


def choose_memory_plan(free_bytes: int | None, total_bytes: int | None, family: str, dtype_bytes: int = 2, *,
                       device: str = "cuda", forced: str = "auto") -> MemoryPlan:
    """The memory mode for a model of ``family`` with ``dtype_bytes`` per weight, given the GPU's
    free and total memory (None off CUDA). ``forced`` (one of CHOICES) overrides the choice."""
    if forced not in CHOICES:
        raise ValueError(f"memory mode must be one of {', '.join(CHOICES)}, got {forced!r}")
    if not str(device).startswith("cuda"):
        # CPU/MPS: nothing to offload to; tiling keeps large decodes within RAM
        why = "no CUDA GPU: the model runs where it is" + (f" (the {forced} setting needs one)"
                                                           if forced not in ("auto", "full") else "")
        return MemoryPlan("full", True, why)
    need = needed_bytes(family, dtype_bytes)
    if forced != "auto":
        return MemoryPlan(forced, forced != "full" or (free_bytes or 0) < need["full"] + 2 * GB,
                          f"set in the preferences ({LABELS[forced]})")
    free = float(free_bytes or 0)
    gb = f"{free / GB:.1f} GB free of {float(total_bytes or 0) / GB:.1f} GB"
    if free >= need["full"]:
        # tile large decodes unless there is plenty of room beyond the model
        return MemoryPlan("full", free < need["full"] + 2 * GB,
                          f"{gb}; the model needs about {need['full'] / GB:.1f} GB")
    if free >= need["largest"]:
        return MemoryPlan("model_offload", True,
                          f"{gb}; the whole model needs about {need['full'] / GB:.1f} GB, its largest part "
                          f"{need['largest'] / GB:.1f} GB")
    return MemoryPlan("sequential_offload", True,
                      f"{gb}; even the model's largest part needs about {need['largest'] / GB:.1f} GB")


def gpu_memory(device: str) -> tuple[int | None, int | None]:
    """(free, total) bytes of a CUDA device; (None, None) elsewhere."""
    import torch

    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return None, None
    free, total = torch.cuda.mem_get_info(torch.device(device))
    return int(free), int(total)


# ----------------------------------------------------------------------------- applying
PARTS = ("text_encoder", "text_encoder_2", "unet", "vae")


def apply_memory_plan(pipe, plan: MemoryPlan, device: str) -> None:
    """Place ``pipe`` (its weights on the CPU or the device) as ``plan`` says."""
    import torch

    pipe.layerbrush_memory_mode = plan.mode
    configure_vae_tiling(pipe, plan.vae_tiling)
    if plan.mode == "full":
        pipe.to(device)
        return
    pipe.to("cpu")
    pipe.layerbrush_cuda_graphs = False  # graphs would capture the hooks' weight moves
    state = {"resident": None}  # the unit whose weights are on the GPU now
    pipe._layerbrush_offload_state = state
    execution = torch.device(device)
    for name in PARTS:
        part = getattr(pipe, name, None)
        if part is None:
            continue
        if plan.mode == "model_offload":
            # the VAE is called through encode/decode, not forward: hook the modules those call
            for unit in (part.children() if name == "vae" else (part,)):
                _hook(unit, part, execution, state, release_after=False)
        else:
            for block in call_blocks(part):
                _hook(block, block, execution, state, release_after=True)


def call_blocks(module):
    """The modules a part's forward calls directly, with their weights: its children, and the
    members of child ModuleLists (a ModuleList itself is never called)."""
    import torch

    for child in module.children():
        if isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)):
            yield from child.children()
        elif next(child.parameters(), None) is not None:
            yield child


def configure_vae_tiling(pipe, on: bool) -> None:
    """Tile VAE decodes/encodes larger than the model's working size (tiles of that size)."""
    vae = pipe.vae
    if not hasattr(vae, "use_tiling"):
        return
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    native = int(pipe.unet.config.sample_size) * f
    vae.tile_sample_min_size = native
    vae.tile_latent_min_size = native // f
    vae.tile_overlap_factor = 0.25
    vae.use_tiling = bool(on)


def _first_device(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.device
    if isinstance(obj, (list, tuple)):
        for item in obj:
            d = _first_device(item)
            if d is not None:
                return d
    if isinstance(obj, dict):
        return _first_device(list(obj.values()))
    return None


def _to(obj, device):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(v, device) for v in obj)
    if isinstance(obj, dict):
        return type(obj)({k: _to(v, device) for k, v in obj.items()})
    if hasattr(obj, "to_tuple") and hasattr(obj, "keys"):  # transformers/diffusers ModelOutput
        for k in list(obj.keys()):
            obj[k] = _to(obj[k], device)
        return obj
    return obj


def _move(module, device) -> None:
    import torch

    # outside inference mode, so the weights stay ordinary tensors (LoRAs merge into them in place)
    with torch.inference_mode(False), torch.no_grad():
        module.to(device)


def _hook(call_module, load_unit, execution, state, *, release_after: bool) -> None:
    """Before ``call_module`` runs: ``load_unit`` onto the GPU (the previous unit off) and the inputs
    with it; after: the outputs back to the inputs' device (and the unit off, if release_after)."""
    import torch

    def pre(module, args, kwargs):
        if state["resident"] is not load_unit:
            if state["resident"] is not None:
                _move(state["resident"], "cpu")
            _move(load_unit, execution)
            state["resident"] = load_unit
        module._layerbrush_io_device = _first_device((args, kwargs))
        return _to(args, execution), _to(kwargs, execution)

    def post(module, args, kwargs, output):
        back = getattr(module, "_layerbrush_io_device", None) or torch.device("cpu")
        if release_after:
            _move(load_unit, "cpu")
            state["resident"] = None
        return _to(output, back)

    call_module.register_forward_pre_hook(pre, with_kwargs=True)
    call_module.register_forward_hook(post, with_kwargs=True)


__all__ = ["MemoryPlan", "choose_memory_plan", "apply_memory_plan", "configure_vae_tiling", "gpu_memory",
           "MODES", "CHOICES", "LABELS"]
