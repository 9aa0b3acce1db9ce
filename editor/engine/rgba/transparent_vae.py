"""LayerDiffuse transparent VAE: the RGBA decoder and the latent-offset encoder.

The module trees reproduce the state_dict layout of the published
``*vae_transparent_decoder.safetensors`` / ``*vae_transparent_encoder.safetensors``
files (see docs in shared/design/rgba-layers.md); the code is our own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.unets.unet_2d_blocks import UNetMidBlock2D, get_down_block, get_up_block
from torch import nn

#: Width and height of a transparent decode must be multiples of this (6 downsamplings).
SIZE_MULTIPLE = 64


@dataclass(frozen=True)
class DecoderConfig:
    """Shape of the decoder UNet. The default is the published one (104,104,804 params)."""

    block_out_channels: tuple[int, ...] = (32, 32, 64, 128, 256, 512, 512)
    layers_per_block: int = 2
    norm_groups: int = 4
    attention_head_dim: int = 8
    plain_down_blocks: int = 4  # then attention blocks; mirrored on the way up
    latent_channels: int = 4
    latent_level: int = 3  # the latent joins before this down block (1/8 resolution)


#: A reduced decoder with the same key names, for tests and quick checks.
TINY_DECODER_CONFIG = DecoderConfig(block_out_channels=(4, 4, 8, 16, 24, 32, 32))


def _zeroed(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class TransparentDecoderUNet(nn.Module):
    """UNet (no time embedding) mapping VAE pixels + raw latent to [alpha, R, G, B].

    Inputs: ``pixels`` Bx3xHxW in [0, 1] (the ordinary VAE decode) and ``latent``
    Bx4x(H/8)x(W/8) (the latent the VAE decoder received). H and W must be
    multiples of 64. Output is unclipped; callers clip to [0, 1].
    """

    def __init__(self, config: DecoderConfig = DecoderConfig()):
        super().__init__()
        self.config = config
        ch = config.block_out_channels
        n = len(ch)
        eps = 1e-5
        self.conv_in = nn.Conv2d(3, ch[0], kernel_size=3, padding=1)
        self.latent_conv_in = _zeroed(nn.Conv2d(config.latent_channels, ch[config.latent_level - 1], 1))

        self.down_blocks = nn.ModuleList()
        out_c = ch[0]
        for i in range(n):
            in_c, out_c = out_c, ch[i]
            kind = "DownBlock2D" if i < config.plain_down_blocks else "AttnDownBlock2D"
            self.down_blocks.append(
                get_down_block(
                    kind, num_layers=config.layers_per_block, in_channels=in_c, out_channels=out_c,
                    temb_channels=None, add_downsample=i < n - 1, resnet_eps=eps, resnet_act_fn="silu",
                    resnet_groups=config.norm_groups, attention_head_dim=config.attention_head_dim,
                    downsample_padding=1, downsample_type="conv", dropout=0.0,
                )
            )

        # Registered after the up blocks so state_dict order matches the published files.
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(ch))
        out_c = rev[0]
        for i in range(n):
            prev_c, out_c = out_c, rev[i]
            in_c = rev[min(i + 1, n - 1)]
            kind = "AttnUpBlock2D" if i < n - config.plain_down_blocks else "UpBlock2D"
            self.up_blocks.append(
                get_up_block(
                    kind, num_layers=config.layers_per_block + 1, in_channels=in_c, out_channels=out_c,
                    prev_output_channel=prev_c, temb_channels=None, add_upsample=i < n - 1,
                    resnet_eps=eps, resnet_act_fn="silu", resnet_groups=config.norm_groups,
                    attention_head_dim=config.attention_head_dim, upsample_type="conv", dropout=0.0,
                    resolution_idx=i,
                )
            )
        self.mid_block = UNetMidBlock2D(
            in_channels=ch[-1], temb_channels=None, dropout=0.0, resnet_eps=eps, resnet_act_fn="silu",
            output_scale_factor=1.0, resnet_time_scale_shift="default",
            attention_head_dim=config.attention_head_dim, resnet_groups=config.norm_groups,
            attn_groups=None, add_attention=True,
        )
        self.conv_norm_out = nn.GroupNorm(config.norm_groups, ch[0], eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], 4, kernel_size=3, padding=1)

    def forward(self, pixels: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        h, w = pixels.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
            raise ValueError(f"transparent decoder needs sizes that are multiples of {SIZE_MULTIPLE}, got {w}x{h}")
        latent_features = self.latent_conv_in(latent)
        x = self.conv_in(pixels)
        skips: tuple[torch.Tensor, ...] = (x,)
        for i, block in enumerate(self.down_blocks):
            if i == self.config.latent_level:
                x = x + latent_features
            x, res = block(hidden_states=x, temb=None)
            skips += res
        x = self.mid_block(x, None)
        for block in self.up_blocks:
            k = len(block.resnets)
            res, skips = skips[-k:], skips[:-k]
            x = block(x, res, None)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


# The 8 test-time augmentations: (horizontal flip, quarter turns).
AUGMENTATIONS: tuple[tuple[bool, int], ...] = tuple((f, k) for f in (False, True) for k in range(4))


def _forward_transform(t: torch.Tensor, flip: bool, k: int) -> torch.Tensor:
    if flip:
        t = torch.flip(t, dims=(3,))
    return torch.rot90(t, k=k, dims=(2, 3)).contiguous()


def _inverse_transform(t: torch.Tensor, flip: bool, k: int) -> torch.Tensor:
    t = torch.rot90(t, k=-k, dims=(2, 3))
    if flip:
        t = torch.flip(t, dims=(3,))
    return t


@torch.no_grad()
def decoder_passes(net: TransparentDecoderUNet, pixels: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """All 8 augmented passes, each undone and clipped: 8xBx4xHxW."""
    outs = []
    for flip, k in AUGMENTATIONS:
        y = net(_forward_transform(pixels, flip, k), _forward_transform(latent, flip, k))
        outs.append(_inverse_transform(y, flip, k).clamp(0, 1))
    return torch.stack(outs, dim=0)


@torch.no_grad()
def decode_rgba(
    net: TransparentDecoderUNet, pixels: torch.Tensor, latent: torch.Tensor, quality: str = "fast"
) -> torch.Tensor:
    """Decode to Bx4xHxW float RGBA (straight alpha, [0, 1]).

    ``quality="fast"`` runs one pass; ``"quality"`` takes the per-pixel median of
    the 8 flip/rotation passes, which removes most seam and fringe artefacts.
    """
    if quality not in ("fast", "quality"):
        raise ValueError(f"quality must be 'fast' or 'quality', got {quality!r}")
    p = next(net.parameters())
    pixels = pixels.to(device=p.device, dtype=p.dtype)
    latent = latent.to(device=p.device, dtype=p.dtype)
    if quality == "fast":
        y = net(pixels, latent).clamp(0, 1)
    else:
        y = torch.median(decoder_passes(net, pixels, latent), dim=0).values
    # Network output is [alpha, R, G, B]; callers want RGBA.
    return torch.cat([y[:, 1:4], y[:, 0:1]], dim=1)


class LatentTransparencyEncoder(nn.Module):
    """Conv stack turning [alpha, padded RGB] (full size) into a 4-channel latent offset at 1/8."""

    def __init__(self, widths: tuple[int, int, int, int] = (32, 64, 128, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        c_prev = 4
        for level, c in enumerate(widths):
            stride = 1 if level == 0 else 2
            layers += [nn.Conv2d(c_prev, c, 3, padding=1, stride=stride), nn.SiLU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.SiLU()]
            c_prev = c
        layers.append(_zeroed(nn.Conv2d(c_prev, 4, 3, padding=1)))
        self.blocks = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)
