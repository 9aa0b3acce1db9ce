"""SDXL LayerDiffuse attention LoRA (``layer_xl_transparent_attn.safetensors``).

Keys are ``diffusion_model.<LDM module>.weight::lora::0`` (up, [out, rank]) and
``::lora::1`` (down, [rank, in]); the offset is ``up @ down`` at scale 1. We
rename LDM module paths to diffusers ``UNet2DConditionModel`` names and merge the
offsets into the weights for the duration of a generation.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping

import torch
from torch import nn

_PREFIX = "diffusion_model."
_SUFFIX = re.compile(r"^(?P<module>.+)\.weight::lora::(?P<index>[01])$")
_CONTAINER = re.compile(r"^(?P<kind>input_blocks|output_blocks|middle_block)\.(?:(?P<n>\d+)\.)?1\.(?P<rest>.+)$")


def ldm_to_diffusers(ldm_module: str) -> str:
    """Map an LDM UNet module path (without ``diffusion_model.``) to its diffusers name.

    ``input_blocks.N.1`` -> ``down_blocks[(N-1)//3].attentions[(N-1)%3]`` (so 7.1 is
    down_blocks.2.attentions.0 and 8.1 is down_blocks.2.attentions.1),
    ``middle_block.1`` -> ``mid_block.attentions.0``,
    ``output_blocks.N.1`` -> ``up_blocks[N//3].attentions[N%3]``; the rest of the path is kept.
    """
    m = _CONTAINER.match(ldm_module)
    if m is None:
        raise ValueError(f"not a transformer path of an LDM UNet: {ldm_module!r}")
    kind, n, rest = m["kind"], m["n"], m["rest"]
    if kind == "middle_block":
        if n is not None:
            raise ValueError(f"not a transformer path of an LDM UNet: {ldm_module!r}")
        return f"mid_block.attentions.0.{rest}"
    if n is None:
        raise ValueError(f"not a transformer path of an LDM UNet: {ldm_module!r}")
    n_i = int(n)
    if kind == "input_blocks":
        if n_i < 1:
            raise ValueError(f"input_blocks.0 holds no transformer: {ldm_module!r}")
        return f"down_blocks.{(n_i - 1) // 3}.attentions.{(n_i - 1) % 3}.{rest}"
    return f"up_blocks.{n_i // 3}.attentions.{n_i % 3}.{rest}"


def diffusers_to_ldm(name: str) -> str:
    """Inverse of :func:`ldm_to_diffusers`."""
    m = re.match(r"^(down_blocks|up_blocks)\.(\d+)\.attentions\.(\d+)\.(.+)$", name)
    if m:
        b, a = int(m[2]), int(m[3])
        n = 3 * b + a + 1 if m[1] == "down_blocks" else 3 * b + a
        return f"{'input_blocks' if m[1] == 'down_blocks' else 'output_blocks'}.{n}.1.{m[4]}"
    m = re.match(r"^mid_block\.attentions\.0\.(.+)$", name)
    if m:
        return f"middle_block.1.{m[1]}"
    raise ValueError(f"not a transformer attention path of a diffusers UNet: {name!r}")


def lora_projections(unet: nn.Module) -> dict[str, nn.Linear]:
    """Every to_q/to_k/to_v/to_out.0 of every transformer attention, by diffusers name."""
    out: dict[str, nn.Linear] = {}
    for name, module in unet.named_modules():
        if re.search(r"\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$", name):
            out[name] = module
    return out


def expected_layout(unet: nn.Module, rank: int) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a LayerDiffuse SDXL attention LoRA file for this UNet."""
    layout: dict[str, tuple[int, ...]] = {}
    for name, lin in lora_projections(unet).items():
        key = f"{_PREFIX}{diffusers_to_ldm(name)}.weight::lora::"
        layout[key + "0"] = (lin.out_features, rank)
        layout[key + "1"] = (rank, lin.in_features)
    return layout


def rename_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """File tensors -> {diffusers module name: (up, down)}."""
    pairs: dict[str, dict[int, torch.Tensor]] = {}
    for key, tensor in sd.items():
        if not key.startswith(_PREFIX):
            raise ValueError(f"unexpected key {key!r}: SDXL attention LoRA keys start with {_PREFIX!r}")
        m = _SUFFIX.match(key[len(_PREFIX):])
        if m is None:
            raise ValueError(f"unexpected key {key!r}: expected '<module>.weight::lora::0|1'")
        pairs.setdefault(ldm_to_diffusers(m["module"]), {})[int(m["index"])] = tensor
    out = {}
    for name, p in pairs.items():
        if set(p) != {0, 1}:
            raise ValueError(f"LoRA for {name} lacks its {'up' if 0 not in p else 'down'} matrix")
        out[name] = (p[0], p[1])
    return out


@contextlib.contextmanager
def merged(unet: nn.Module, lora: Mapping[str, tuple[torch.Tensor, torch.Tensor]], scale: float = 1.0) -> Iterator[None]:
    """Add ``scale * up @ down`` to each named projection; restore the exact weights on exit."""
    modules = lora_projections(unet)
    missing = sorted(set(lora) - set(modules))
    if missing:
        raise ValueError(f"LoRA targets a module the UNet lacks: {missing[0]}")
    saved: dict[str, torch.Tensor] = {}
    try:
        with torch.no_grad():
            for name, (up, down) in lora.items():
                w = modules[name].weight
                delta = up.to(w.device, torch.float32) @ down.to(w.device, torch.float32)
                if delta.shape != w.shape:
                    raise ValueError(f"LoRA for {name} has shape {tuple(delta.shape)}, weight is {tuple(w.shape)}")
                saved[name] = w.detach().to("cpu", copy=True)
                w.copy_((w.float() + scale * delta).to(w.dtype))
        yield
    finally:
        with torch.no_grad():
            for name, original in saved.items():
                modules[name].weight.copy_(original.to(modules[name].weight.device))
