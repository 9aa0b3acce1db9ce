"""Builders for test weight files with the published key layouts (random values)."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from editor.engine.rgba.attention_sharing import AttentionSharingPatch
from editor.engine.rgba.transparent_vae import TINY_DECODER_CONFIG, TransparentDecoderUNet
from editor.engine.rgba.weights import FILES, LayerWeights

DATA = Path(__file__).parent / "data"


def read_key_list(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, dtype) rows of a published-layout list in data/."""
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape, dtype = line.split("\t")
        rows.append((key, tuple(int(s) for s in shape.split(",")) if shape else (), dtype))
    return rows


def save_module(module: torch.nn.Module, path: Path) -> Path:
    """Write a module's state_dict as fp16 safetensors, like the published files."""
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in module.state_dict().items()}, str(path))
    return path


def tiny_decoder(seed: int = 0) -> TransparentDecoderUNet:
    torch.manual_seed(seed)
    net = TransparentDecoderUNet(TINY_DECODER_CONFIG)
    with torch.no_grad():
        torch.nn.init.normal_(net.latent_conv_in.weight, std=0.3)  # published files are not zero here
        net.conv_out.bias[0] = 0.5  # alpha mid-range so random weights give partial transparency
        net.conv_out.bias[1:] = 0.5
    return net


def sharing_patch(unet, variant: str, rank: int = 8, seed: int = 0) -> AttentionSharingPatch:
    torch.manual_seed(seed)
    patch = AttentionSharingPatch.for_variant(unet, variant, rank=rank)
    with torch.no_grad():
        for name, p in patch.named_parameters():
            if name.endswith(("up.weight", "temporal_o.weight")):
                p.normal_(std=0.02)
    return patch


def write_tiny_weights(unet, folder: Path, family: str = "sd15") -> LayerWeights:
    """Every SD1.5 role as a tiny-model file with the published names, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lw = LayerWeights(family, decoder_config=TINY_DECODER_CONFIG)
    lw.files["decoder"] = save_module(tiny_decoder(), folder / FILES[(family, "decoder")].filename)
    for role, variant in (("attn", "transparent_attn"), ("joint", "joint"), ("fg2bg", "fg2bg"), ("bg2fg", "bg2fg")):
        lw.files[role] = save_module(sharing_patch(unet, variant), folder / FILES[(family, role)].filename)
    return lw
