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


#: A handful of the tiny SDXL UNet's parameters (conv, resnet, linear, norm, bias, down- and
#: upsampler), LDM name -> diffusers name, written out by hand from the LDM layout
#: (layers_per_block=1: input_blocks 1 resnet, 2 downsampler, 3 resnet+attention;
#: output_blocks 0-1 resnet+attention with the upsampler at 1.2, 2-3 resnets).
TINY_XL_CONV_PAIRS = {
    "input_blocks.0.0.weight": "conv_in.weight",
    "input_blocks.1.0.in_layers.2.weight": "down_blocks.0.resnets.0.conv1.weight",
    "input_blocks.2.0.op.weight": "down_blocks.0.downsamplers.0.conv.weight",
    "input_blocks.3.0.skip_connection.weight": "down_blocks.1.resnets.0.conv_shortcut.weight",
    "input_blocks.3.1.transformer_blocks.0.ff.net.2.weight":
        "down_blocks.1.attentions.0.transformer_blocks.0.ff.net.2.weight",
    "middle_block.2.emb_layers.1.weight": "mid_block.resnets.1.time_emb_proj.weight",
    "output_blocks.1.2.conv.bias": "up_blocks.0.upsamplers.0.conv.bias",
    "output_blocks.3.0.out_layers.0.weight": "up_blocks.1.resnets.1.norm2.weight",
    "label_emb.0.0.weight": "add_embedding.linear_1.weight",
    "out.2.weight": "conv_out.weight",
}


def conv_key(ldm_name: str) -> str:
    """The published key of a conv-patch offset for an LDM parameter name."""
    return f"diffusion_model.{ldm_name}::diff::0"


def write_xl_conv(unet, path: Path, pairs: dict[str, str] | None = None, seed: int = 0,
                  scale: float = 0.05) -> dict[str, torch.Tensor]:
    """An fp16 conv-patch file with random offsets for ``pairs`` (LDM -> diffusers name);
    returns the offsets by diffusers name."""
    params = dict(unet.named_parameters())
    gen = torch.Generator().manual_seed(seed)
    diffs = {d: (torch.randn(params[d].shape, generator=gen) * scale).to(torch.float16)
             for d in (pairs or TINY_XL_CONV_PAIRS).values()}
    save_file({conv_key(ldm): diffs[d] for ldm, d in (pairs or TINY_XL_CONV_PAIRS).items()}, str(path))
    return diffs
