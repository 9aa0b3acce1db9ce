"""LoRAs: low-rank weight offsets merged into a loaded model for the jobs that ask for them.

    apply_loras(model, (("/loras/ink.safetensors", 0.8), ("/loras/paper.safetensors", 0.5)))
    apply_loras(model, ())          # back to the model's own weights, bit for bit

A request carries its LoRA set as ``((path, weight), ...)``; the engine calls apply_loras
before each job, which does nothing when the set is the one already merged.

Why merging and not diffusers' ``load_lora_weights``/``set_adapters``: those need ``peft`` (a
further dependency) and wrap every targeted layer in adapter modules that change the code path
(and so the CUDA graphs and compile caches). Merging adds ``weight * alpha / rank * up @ down``
into the existing weights; the original tensors are kept (on the CPU) and copied back before a
different set is merged, so switching sets per job restores exactly the model's own numbers
(an unmerge by subtraction would not, in fp16).

Formats read (``.safetensors``; pickle files only with allow_pickle, since unpickling runs code):
- diffusers / PEFT: ``unet.<module>.lora_A.weight`` (down) and ``.lora_B.weight`` (up), also
  ``.lora.down.weight``/``.lora.up.weight`` and ``text_encoder.`` / ``text_encoder_2.`` prefixes;
- kohya: ``lora_unet_<module with _>.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha``,
  with diffusers module names (SD1.5 files) or the original LDM names
  (``lora_unet_input_blocks_4_1_...``, SDXL files), and ``lora_te_`` / ``lora_te1_`` /
  ``lora_te2_`` for the text encoders.
A file that does not fit the model is refused naming the first key or shape that does not.
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import BadRequest, PickleRefused

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
#: pipeline parts a LoRA may change, and the prefixes naming them in each format
COMPONENTS = ("unet", "text_encoder", "text_encoder_2")
_KOHYA_PREFIX = {"lora_unet_": "unet", "lora_te_": "text_encoder", "lora_te1_": "text_encoder",
                 "lora_te2_": "text_encoder_2"}
_PAIR = re.compile(r"^(?P<module>.+?)\.(?:(?P<peft>lora_[AB])(?:\.default)?\.weight|lora[._](?P<old>down|up)\.weight"
                   r"|(?P<alpha>alpha))$")


class LoraError(BadRequest):
    """A LoRA file that cannot be used with this model (the message names the file and why)."""


@dataclass(frozen=True)
class LoraDelta:
    """One targeted weight: ``scale * up @ down`` is added to ``component``'s ``module``.weight."""

    component: str
    module: str
    up: torch.Tensor
    down: torch.Tensor
    scale: float  # alpha / rank (1 when the file has no alpha)
    key: str  # the file's key of the down matrix, for messages


def normalise_set(loras) -> tuple[tuple[str, float], ...]:
    """``((path, weight), ...)`` from any sequence of pairs (or dicts with path/weight); weight 0
    entries are dropped, as they change nothing."""
    out = []
    for item in loras or ():
        if isinstance(item, dict):
            path, weight = item.get("path"), item.get("weight", 1.0)
        else:
            path, weight = item
        if not isinstance(path, str) or not path:
            raise LoraError(f"a LoRA needs a file path, got {path!r}")
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise LoraError(f"{path}: LoRA weight must be a number, got {weight!r}") from None
        if weight != weight or abs(weight) > 100:
            raise LoraError(f"{path}: LoRA weight must be a number from -100 to 100, got {weight}")
        if weight != 0.0:
            out.append((path, weight))
    return tuple(out)


def read_lora_file(path, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise LoraError(f"{path}: no such LoRA file")
    if suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise PickleRefused(f"{path}: refusing to load a pickle LoRA ({suffix}); loading it could run code "
                                "from the file. Use a .safetensors version, or allow pickle files if you trust it.")
        data = torch.load(str(path), map_location="cpu", weights_only=False)
        data = data.get("state_dict", data) if isinstance(data, dict) else data
        if not isinstance(data, dict):
            raise LoraError(f"{path}: not a LoRA (the pickle holds a {type(data).__name__}, not named tensors)")
        return {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if suffix != ".safetensors":
        raise LoraError(f"{path}: unsupported LoRA file type {suffix or '(none)'}; expected .safetensors")
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise LoraError(f"{path}: not a readable safetensors file ({exc})") from exc


# ----------------------------------------------------------------------------- names
def ldm_unet_names(unet) -> dict[str, str]:
    """Original (LDM) module paths of a diffusers UNet's transformer and resnet parts, mapped to
    the diffusers names: kohya's SDXL files use these. ``layers_per_block`` decides how the LDM
    input/output block numbers map (SD and SDXL: 2, so input_blocks.4 is down_blocks.1's first)."""
    per = int(unet.config.layers_per_block if isinstance(unet.config.layers_per_block, int)
              else unet.config.layers_per_block[0])
    resnet_parts = {"in_layers.2": "conv1", "out_layers.3": "conv2", "emb_layers.1": "time_emb_proj",
                    "skip_connection": "conv_shortcut"}
    out: dict[str, str] = {}
    names = [n for n, _ in unet.named_modules()]
    for name in names:
        m = re.match(r"^(down|up)_blocks\.(\d+)\.(attentions|resnets)\.(\d+)(?:\.(.+))?$", name)
        if m:
            level, idx = int(m[2]), int(m[4])
            rest = m[5]
            if m[1] == "down":
                block = f"input_blocks.{level * (per + 1) + idx + 1}"
            else:
                block = f"output_blocks.{level * (per + 1) + idx}"
            part = "1" if m[3] == "attentions" else "0"
            ldm = _ldm_rest(f"{block}.{part}", rest, m[3] == "resnets", resnet_parts)
            if ldm:
                out[ldm] = name
            continue
        m = re.match(r"^mid_block\.(attentions|resnets)\.(\d+)(?:\.(.+))?$", name)
        if m:
            part = "1" if m[1] == "attentions" else str(2 * int(m[2]))
            ldm = _ldm_rest(f"middle_block.{part}", m[3], m[1] == "resnets", resnet_parts)
            if ldm:
                out[ldm] = name
    return out


def _ldm_rest(head: str, rest: str | None, resnet: bool, parts: dict) -> str | None:
    if rest is None:
        return head
    if resnet:
        for ldm, diffusers_name in parts.items():
            if rest == diffusers_name:
                return f"{head}.{ldm}"
        return None
    return f"{head}.{rest}"


def module_table(pipe, component: str) -> dict[str, tuple[str, torch.nn.Module]]:
    """Every module with a weight, under every name a LoRA file may use for it: the diffusers
    name, with ``_`` for ``.`` (kohya), the LDM name (kohya SDXL), with and without the
    ``text_model.`` level that transformers 5 dropped. Values: (the module's own name, module)."""
    part = getattr(pipe, component, None)
    if part is None:
        return {}
    table: dict[str, tuple[str, torch.nn.Module]] = {}
    own = dict(part.named_modules())
    aliases = dict.fromkeys(own, None)
    for name in own:
        aliases[name] = [name]
        if component != "unet":
            aliases[name].append(name[len("text_model."):] if name.startswith("text_model.") else "text_model." + name)
    if component == "unet":
        for ldm, name in ldm_unet_names(part).items():
            if name in aliases:
                aliases[name].append(ldm)
    for name, module in own.items():
        if not isinstance(getattr(module, "weight", None), torch.Tensor):
            continue
        for alias in aliases[name]:
            table[alias] = (name, module)
            table[alias.replace(".", "_")] = (name, module)
    return table


# ----------------------------------------------------------------------------- parsing
def parse_lora(sd: dict[str, torch.Tensor], pipe, source: str = "LoRA") -> list[LoraDelta]:
    """The deltas of a LoRA state dict for ``pipe``; raises LoraError naming the first key or
    shape that does not fit."""
    groups: dict[tuple[str, str], dict[str, tuple[str, torch.Tensor]]] = {}
    for key in sorted(sd):
        component, rest = _split_component(key)
        if component is None:
            raise LoraError(f"{source}: key {key!r} is not a LoRA key this editor reads (expected "
                            "lora_unet_/lora_te_ (kohya) or unet./text_encoder. (diffusers/PEFT) names)")
        m = _PAIR.match(rest)
        if m is None:
            if rest.endswith((".dora_scale", "lora_mid.weight", ".hada_w1_a", ".lokr_w1")):
                raise LoraError(f"{source}: key {key!r} belongs to a LoRA variant (DoRA/LoCon-mid/LoHa/LoKr) "
                                "that this editor does not read")
            raise LoraError(f"{source}: key {key!r} is not a LoRA up/down/alpha tensor")
        kind = "alpha" if m["alpha"] else ("down" if (m["peft"] == "lora_A" or m["old"] == "down") else "up")
        groups.setdefault((component, m["module"]), {})[kind] = (key, sd[key])
    if not groups:
        raise LoraError(f"{source}: holds no LoRA tensors")
    tables: dict[str, dict] = {}
    deltas = []
    for (component, module_name), parts in groups.items():
        if "down" not in parts or "up" not in parts:
            have = next(iter(parts.values()))[0]
            raise LoraError(f"{source}: key {have!r} has no matching {'up' if 'up' not in parts else 'down'} matrix")
        table = tables.get(component)
        if table is None:
            table = tables[component] = module_table(pipe, component)
        if not table:
            raise LoraError(f"{source}: key {parts['down'][0]!r} is for {component}, which this model does not have "
                            f"(a LoRA for {'SDXL' if component == 'text_encoder_2' else 'another model'}?)")
        found = table.get(_clean_module(module_name))
        if found is None:
            raise LoraError(f"{source}: key {parts['down'][0]!r} names a layer this model does not have "
                            f"({component} has no {module_name!r}); the LoRA is for another model")
        own_name, module = found
        down_key, down = parts["down"]
        up_key, up = parts["up"]
        rank = down.shape[0]
        if up.ndim < 2 or up.shape[1] != rank:
            raise LoraError(f"{source}: {up_key!r} has shape {tuple(up.shape)}, which does not pair with "
                            f"{down_key!r} of shape {tuple(down.shape)} (rank {rank})")
        weight = module.weight
        shape = _delta_shape(up, down)
        if shape != tuple(weight.shape) and _numel(shape) != weight.numel():
            raise LoraError(f"{source}: {down_key!r} and {up_key!r} make an offset of shape {shape}, but the "
                            f"model's {component}.{own_name}.weight is {tuple(weight.shape)}; "
                            "the LoRA is for another model")
        if shape != tuple(weight.shape) and not (weight.ndim == 4 and weight.shape[2:] == (1, 1)
                                                 or len(shape) == 4 and shape[2:] == (1, 1)):
            raise LoraError(f"{source}: {down_key!r} makes an offset of shape {shape} for the model's weight of "
                            f"shape {tuple(weight.shape)}")
        scale = 1.0
        if "alpha" in parts:
            scale = float(parts["alpha"][1].float().reshape(-1)[0]) / rank
        deltas.append(LoraDelta(component, own_name, up, down, scale, down_key))
    return deltas


def _split_component(key: str) -> tuple[str | None, str]:
    for prefix, component in _KOHYA_PREFIX.items():
        if key.startswith(prefix):
            return component, key[len(prefix):]
    for component in COMPONENTS:
        if key.startswith(component + "."):
            return component, key[len(component) + 1:]
    return None, key


def _clean_module(name: str) -> str:
    """Old diffusers attention-processor names: ``attn1.processor.to_q_lora`` -> ``attn1.to_q``."""
    name = name.replace(".processor.", ".")
    return re.sub(r"(to_[qkv]|to_out(?:\.0)?)_lora$", lambda m: m[1] if m[1] != "to_out" else "to_out.0", name)


def _delta_shape(up: torch.Tensor, down: torch.Tensor) -> tuple[int, ...]:
    if down.ndim == 4:
        return (up.shape[0], down.shape[1], down.shape[2], down.shape[3])
    return (up.shape[0], down.shape[1])


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def delta_tensor(d: LoraDelta, like: torch.Tensor) -> torch.Tensor:
    """``scale * up @ down`` in float32, in the shape of the weight ``like`` (on its device)."""
    up = d.up.to(like.device, torch.float32).flatten(1)
    down = d.down.to(like.device, torch.float32).flatten(1)
    return (d.scale * (up @ down)).reshape(like.shape)


# ----------------------------------------------------------------------------- applying
_file_cache: OrderedDict[tuple, list[LoraDelta]] = OrderedDict()
_FILE_CACHE_SIZE = 8


def load_lora(pipe, path, *, allow_pickle: bool = False) -> list[LoraDelta]:
    """The parsed (and checked) deltas of one file for ``pipe``, cached by path, size and mtime."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise LoraError(f"{path}: no such LoRA file") from None
    key = (id(pipe), str(path.resolve()), st.st_size, st.st_mtime_ns)
    hit = _file_cache.get(key)
    if hit is not None:
        _file_cache.move_to_end(key)
        return hit
    deltas = parse_lora(read_lora_file(path, allow_pickle=allow_pickle), pipe, str(path))
    _file_cache[key] = deltas
    while len(_file_cache) > _FILE_CACHE_SIZE:
        _file_cache.popitem(last=False)
    return deltas


def set_identity(loras) -> tuple:
    """What decides the merged weights: each file's path, size and mtime and its weight."""
    out = []
    for path, weight in normalise_set(loras):
        try:
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = None
        out.append((os.path.abspath(path), stamp, weight))
    return tuple(out)


def active_loras(model) -> tuple:
    """The normalised set currently merged into ``model`` (() when none)."""
    state = getattr(model.pipe, "_layerbrush_lora", None)
    return state["set"] if state else ()


def apply_loras(model, loras, *, allow_pickle: bool = False) -> bool:
    """Merge exactly the LoRA set ``loras`` ((path, weight) pairs) into ``model``; returns whether
    the weights changed. A file that does not fit raises LoraError and leaves the model with its
    own weights."""
    pipe = model.pipe
    wanted = normalise_set(loras)
    identity = set_identity(wanted)
    state = getattr(pipe, "_layerbrush_lora", None)
    if state is None:
        state = {"identity": (), "set": (), "originals": {}}
        pipe._layerbrush_lora = state
    if state["identity"] == identity:
        return False
    # read and check every file before touching a weight
    parsed = [(load_lora(pipe, path, allow_pickle=allow_pickle), weight) for path, weight in wanted]
    if _sequential_offload(pipe) and parsed:
        raise LoraError("LoRAs cannot be merged while the model runs in sequential offload mode (its weights "
                        "are streamed in per layer); choose the model offload or GPU memory mode")
    text_changed = _restore(pipe, state)
    with torch.no_grad():
        sums: dict[tuple[str, str], torch.Tensor] = {}
        modules: dict[tuple[str, str], torch.nn.Module] = {}
        for deltas, weight in parsed:
            for d in deltas:
                k = (d.component, d.module)
                if k not in modules:
                    modules[k] = getattr(pipe, d.component).get_submodule(d.module)
                add = weight * delta_tensor(d, modules[k].weight)
                sums[k] = add if k not in sums else sums[k] + add
        for k, total in sums.items():
            w = modules[k].weight
            state["originals"][k] = (modules[k], w.detach().to("cpu", copy=True))
            w.copy_((w.float() + total).to(w.dtype))
            text_changed |= k[0] != "unet"
    state["identity"], state["set"] = identity, wanted
    if text_changed:
        _forget_prompts(pipe)
    return True


def run_with_loras(model, loras, func: str, *args, **kwargs):
    """``editor.engine.<module>.<function>(model, *args, **kwargs)`` with the LoRA set ``loras``
    merged (for engine functions that take no LoRA list themselves, e.g. the RGBA generators)."""
    import importlib

    module, _, name = func.rpartition(".")
    fn = getattr(importlib.import_module(f"editor.engine.{module}"), name)
    apply_loras(model, loras)
    return fn(model, *args, **kwargs)


def _restore(pipe, state) -> bool:
    """Copy the kept original weights back; returns whether a text encoder was among them."""
    text = False
    with torch.no_grad():
        for (component, _name), (module, original) in state["originals"].items():
            module.weight.copy_(original.to(module.weight.device))
            text |= component != "unet"
    state["originals"].clear()
    state["identity"], state["set"] = (), ()
    return text


def _forget_prompts(pipe) -> None:
    """Prompt encodings made with other text-encoder weights are stale."""
    from . import sampling

    sampling._prompt_caches.pop(pipe, None)


def _sequential_offload(pipe) -> bool:
    return getattr(pipe, "layerbrush_memory_mode", None) == "sequential_offload"


__all__ = ["apply_loras", "run_with_loras", "active_loras", "load_lora", "parse_lora", "normalise_set", "LoraError", "LoraDelta"]
