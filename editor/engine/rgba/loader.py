"""Strict loading of LayerDiffuse weight files (safetensors only).

A file must hold exactly the keys of the module it is loaded into, with the same
shapes; anything else is refused with an error naming the file and the first
offending key (in sorted order, so the message is stable).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from .errors import WeightsMismatch


def require_safetensors(path: Path) -> None:
    if path.suffix.lower() != ".safetensors":
        raise WeightsMismatch(f"{path}: LayerDiffuse weights are read from .safetensors files only")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weight file")


def read_layout(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a safetensors file, without reading the tensor data."""
    path = Path(path)
    require_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise WeightsMismatch(f"{path}: not a readable safetensors file ({exc})") from exc


def check_layout(path: str | Path, found: Mapping[str, tuple[int, ...]],
                 expected: Mapping[str, tuple[int, ...]], what: str) -> None:
    """Raise WeightsMismatch naming the first missing/unexpected key or wrong shape."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing:
        raise WeightsMismatch(f"{path}: not a {what} file: key {missing[0]!r} is missing"
                              + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if extra:
        raise WeightsMismatch(f"{path}: not a {what} file: unexpected key {extra[0]!r}"
                              + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    for key in sorted(expected):
        if tuple(found[key]) != tuple(expected[key]):
            raise WeightsMismatch(f"{path}: key {key!r} has shape {list(found[key])}, "
                                  f"the {what} needs {list(expected[key])}")


def read_tensors(path: str | Path, device="cpu", dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    path = Path(path)
    require_safetensors(path)
    out = {}
    with safe_open(str(path), framework="pt", device="cpu") as f:
        for k in f.keys():
            t = f.get_tensor(k)
            out[k] = t.to(device=device, dtype=dtype or t.dtype)
    return out


def load_module_strict(module: nn.Module, path: str | Path, what: str) -> nn.Module:
    """Fill ``module`` from ``path``; keys and shapes must match its state_dict exactly."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_layout(path, read_layout(path), expected, what)
    p = next(iter(module.state_dict().values()))
    sd = read_tensors(path, device=p.device, dtype=p.dtype)
    module.load_state_dict(sd, strict=True)
    return module
