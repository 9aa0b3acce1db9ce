"""SDXL LayerDiffuse conv patch (``layer_xl_transparent_conv.safetensors``): full weight offsets.

Keys are ``diffusion_model.<LDM parameter name>::diff::0`` and the patch is
``W + strength * diff`` (strength 1 in the reference). The file covers the UNet layers
other than the attention projections, but exactly which ones is not documented, so a
file is checked in general: every key must name an existing parameter of the diffusers
UNet, by the standard LDM -> diffusers naming, with the same shape. The whole file is
checked (from its header) before any weight changes; the offsets are then streamed from
the file into the weights and the touched originals kept on the CPU, so leaving
:func:`applied` gives back the exact original UNet (the pattern of ``xl_lora.merged``).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from .errors import WeightsMismatch
from .loader import require_safetensors

PREFIX = "diffusion_model."
SUFFIX = "::diff::0"
WHAT = "LayerDiffuse SDXL conv patch"
_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}

# diffusers ResnetBlock2D child -> LDM ResBlock child
_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
# modules outside the blocks
_TOP = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
        "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}


def _block_prefixes(unet: nn.Module) -> dict[str, str]:
    """diffusers module path -> LDM module path, for every module that holds parameters.

    LDM numbers the UNet's levels flatly: input_blocks.0 is conv_in, then one entry per
    (resnet [+ attention]) and one per downsampler; output_blocks likewise, with the
    upsampler inside the level's last entry (at .1, or .2 after an attention);
    middle_block alternates resnets and attentions. Transformer internals keep their names.
    """
    out = dict(_TOP)

    def resnet(diffusers: str, ldm: str) -> None:
        for d, l in _RESNET.items():
            out[f"{diffusers}.{d}"] = f"{ldm}.{l}"

    n = 1
    for b, block in enumerate(unet.down_blocks):
        attentions = getattr(block, "attentions", None) or []
        for j in range(len(block.resnets)):
            resnet(f"down_blocks.{b}.resnets.{j}", f"input_blocks.{n}.0")
            if j < len(attentions):
                out[f"down_blocks.{b}.attentions.{j}"] = f"input_blocks.{n}.1"
            n += 1
        if getattr(block, "downsamplers", None):
            out[f"down_blocks.{b}.downsamplers.0.conv"] = f"input_blocks.{n}.0.op"
            n += 1
    mid = unet.mid_block
    if mid is not None:
        for j in range(len(mid.resnets)):
            resnet(f"mid_block.resnets.{j}", f"middle_block.{2 * j}")
        for j in range(len(getattr(mid, "attentions", None) or [])):
            out[f"mid_block.attentions.{j}"] = f"middle_block.{2 * j + 1}"
    n = 0
    for b, block in enumerate(unet.up_blocks):
        attentions = getattr(block, "attentions", None) or []
        for j in range(len(block.resnets)):
            resnet(f"up_blocks.{b}.resnets.{j}", f"output_blocks.{n}.0")
            if j < len(attentions):
                out[f"up_blocks.{b}.attentions.{j}"] = f"output_blocks.{n}.1"
            n += 1
        if getattr(block, "upsamplers", None):
            out[f"up_blocks.{b}.upsamplers.0.conv"] = f"output_blocks.{n - 1}.{2 if attentions else 1}.conv"
    return out


def ldm_parameter_names(unet: nn.Module, *, cross_check: bool = True) -> dict[str, str]:
    """LDM parameter name (without ``diffusion_model.``) -> diffusers parameter name, for
    every parameter of ``unet``.

    With ``cross_check`` the table is confirmed by running diffusers' own single-file
    converter on it (a dict of names), so a UNet layout we map differently is refused.
    """
    prefixes = _block_prefixes(unet)
    table: dict[str, str] = {}
    for name, _ in unet.named_parameters():
        head, rest = name, ""
        while head not in prefixes:
            if "." not in head:
                raise WeightsMismatch(f"the UNet parameter {name!r} has no LDM name: unsupported UNet layout")
            head, tail = head.rsplit(".", 1)
            rest = f"{tail}.{rest}" if rest else tail
        table[f"{prefixes[head]}.{rest}"] = name
    if cross_check:
        _check_against_diffusers(unet, table)
    return table


def _check_against_diffusers(unet: nn.Module, table: dict[str, str]) -> None:
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    checkpoint = {f"model.{PREFIX}{ldm}": ldm for ldm in table}
    converted = convert_ldm_unet_checkpoint(checkpoint, dict(unet.config))
    expected = {d: ldm for ldm, d in table.items()}
    for d in sorted(set(expected) | set(converted)):
        if converted.get(d) != expected.get(d):
            raise WeightsMismatch(
                f"LDM naming of this UNet disagrees with diffusers' converter at {d!r} "
                f"(ours {expected.get(d)!r}, diffusers {converted.get(d)!r}): unsupported UNet layout")


def read_header(path: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Key -> (shape, safetensors dtype name), without reading tensor data."""
    path = Path(path)
    require_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            out = {}
            for k in f.keys():
                s = f.get_slice(k)
                out[k] = (tuple(s.get_shape()), str(s.get_dtype()))
            return out
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise WeightsMismatch(f"{path}: not a readable safetensors file ({exc})") from exc


@dataclass(frozen=True)
class ConvPatch:
    """A checked conv patch file: which file key goes into which UNet parameter."""

    path: Path
    targets: dict[str, str]  # file key -> diffusers parameter name


def check_file(unet: nn.Module, path: str | Path) -> ConvPatch:
    """Check every key of ``path`` against ``unet``; WeightsMismatch names the file and key."""
    path = Path(path)
    header = read_header(path)
    if not header:
        raise WeightsMismatch(f"{path}: not a {WHAT} file: it holds no tensors")
    names = ldm_parameter_names(unet)
    params = dict(unet.named_parameters())
    targets: dict[str, str] = {}
    for key in sorted(header):
        if not key.startswith(PREFIX):
            raise WeightsMismatch(f"{path}: not a {WHAT} file: key {key!r} does not start with {PREFIX!r}")
        if not key.endswith(SUFFIX):
            raise WeightsMismatch(f"{path}: not a {WHAT} file: key {key!r} does not end with {SUFFIX!r} "
                                  "(a full weight offset)")
        ldm = key[len(PREFIX):-len(SUFFIX)]
        name = names.get(ldm)
        if name is None:
            raise WeightsMismatch(f"{path}: key {key!r} names no parameter of this SDXL UNet")
        shape, dtype = header[key]
        if shape != tuple(params[name].shape):
            raise WeightsMismatch(f"{path}: key {key!r} has shape {list(shape)}, the UNet parameter {name} "
                                  f"is {list(params[name].shape)}")
        if dtype not in _FLOAT_DTYPES:
            raise WeightsMismatch(f"{path}: key {key!r} holds {dtype} values, a weight offset must be floating point")
        targets[key] = name
    return ConvPatch(path, targets)


@contextlib.contextmanager
def applied(unet: nn.Module, patch: ConvPatch, strength: float = 1.0) -> Iterator[None]:
    """Add ``strength * diff`` to each target (in float32, stored in the UNet's dtype);
    restore the exact original weights on exit, also after an error."""
    params = dict(unet.named_parameters())
    missing = sorted(set(patch.targets.values()) - set(params))
    if missing:
        raise WeightsMismatch(f"{patch.path}: the conv patch targets {missing[0]!r}, which this UNet lacks")
    saved: dict[str, torch.Tensor] = {}
    try:
        with torch.no_grad(), safe_open(str(patch.path), framework="pt", device="cpu") as f:
            for key, name in patch.targets.items():
                p = params[name]
                diff = f.get_tensor(key)
                if diff.shape != p.shape:  # the file changed since it was checked
                    raise WeightsMismatch(f"{patch.path}: key {key!r} has shape {list(diff.shape)}, "
                                          f"the UNet parameter {name} is {list(p.shape)}")
                saved[name] = p.detach().to("cpu", copy=True)
                p.copy_((p.float() + strength * diff.to(p.device, torch.float32)).to(p.dtype))
        yield
    finally:
        with torch.no_grad():
            for name, original in saved.items():
                params[name].copy_(original.to(params[name].device))
