"""SD1.5 LayerDiffuse "attention sharing": per-frame LoRA + attention across frames.

One module tree (``AttentionSharingPatch``) holds, for each of the UNet's 32
attention units, a rank-256 LoRA per frame on q/k/v/out and a small attention
across the frames of one sample; with ``use_control`` a conv encoder turns a
condition image into features added inside every unit. The state_dict layout
matches the published ``layer_sd15_*.safetensors`` files; the code is our own.

Batch layout is ``(b f)``: sample b, frame f is at index ``b * frames + f``.
The public pipelines build that batch themselves, so callers can't get it wrong.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import cuda_graphs


@dataclass(frozen=True)
class SharingVariant:
    frames: int
    use_control: bool


#: Published SD1.5 files and how to build their module trees.
VARIANTS: dict[str, SharingVariant] = {
    "transparent_attn": SharingVariant(frames=1, use_control=False),
    "joint": SharingVariant(frames=3, use_control=False),
    "fg2bg": SharingVariant(frames=2, use_control=True),
    "bg2fg": SharingVariant(frames=2, use_control=True),
}


def attention_units(unet: nn.Module) -> list[tuple[str, nn.Module]]:
    """The UNet's transformer attentions in LayerDiffuse unit order.

    Order: down blocks, then up blocks, then the mid block; within a transformer
    block attn1 (self) before attn2 (cross). On SD1.5 this is the 32-unit
    ``module_mapping_sd15`` order (the middle block comes last on purpose).
    """
    units: list[tuple[str, nn.Module]] = []

    def visit(prefix: str, block: nn.Module) -> None:
        for a, transformer in enumerate(getattr(block, "attentions", None) or []):
            for t, tb in enumerate(getattr(transformer, "transformer_blocks", [])):
                for name in ("attn1", "attn2"):
                    attn = getattr(tb, name, None)
                    if attn is not None:
                        units.append((f"{prefix}.attentions.{a}.transformer_blocks.{t}.{name}", attn))

    for i, block in enumerate(unet.down_blocks):
        visit(f"down_blocks.{i}", block)
    for i, block in enumerate(unet.up_blocks):
        visit(f"up_blocks.{i}", block)
    if getattr(unet, "mid_block", None) is not None:
        visit("mid_block", unet.mid_block)
    return units


class LoRALinear(nn.Module):
    """Low-rank weight offset: W' = W + up @ down (no alpha, no scale)."""

    def __init__(self, in_features: int, out_features: int, rank: int):
        super().__init__()
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=False)
        nn.init.zeros_(self.up.weight)  # a fresh patch is the identity

    def apply_to(self, base: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        w = base.weight.to(x.dtype) + (self.up.weight @ self.down.weight).to(x.dtype)
        b = base.bias.to(x.dtype) if base.bias is not None else None
        return F.linear(x, w, b)


def _heads_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, c = q.shape
    split = lambda t: t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(b, n, c)


class AttentionSharingUnit(nn.Module):
    """Replaces one attention's computation while its parameters stay in the UNet."""

    def __init__(self, query_dim: int, context_dim: int, heads: int, frames: int, use_control: bool,
                 rank: int = 256):
        super().__init__()
        self.frames = frames
        self.heads = heads
        d, c = query_dim, context_dim
        self.to_q_lora = nn.ModuleList(LoRALinear(d, d, rank) for _ in range(frames))
        self.to_k_lora = nn.ModuleList(LoRALinear(c, d, rank) for _ in range(frames))
        self.to_v_lora = nn.ModuleList(LoRALinear(c, d, rank) for _ in range(frames))
        self.to_out_lora = nn.ModuleList(LoRALinear(d, d, rank) for _ in range(frames))
        self.temporal_i = nn.Linear(d, d)
        self.temporal_n = nn.LayerNorm(d, eps=1e-6)
        self.temporal_q = nn.Linear(d, d)
        self.temporal_k = nn.Linear(d, d)
        self.temporal_v = nn.Linear(d, d)
        self.temporal_o = nn.Linear(d, d)
        nn.init.zeros_(self.temporal_o.weight)
        nn.init.zeros_(self.temporal_o.bias)
        self.control_convs = (
            nn.ModuleList(
                nn.Sequential(nn.Conv2d(256, 256, 3, padding=1), nn.SiLU(), nn.Conv2d(256, d, 1))
                for _ in range(frames)
            )
            if use_control
            else None
        )
        # Set per generation by AttentionSharingPatch.set_control; keyed by h*w.
        self.control_signals: dict[int, torch.Tensor] | None = None

    def forward(self, attn: nn.Module, h: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """``h`` is the normalised hidden state the attention received; the return
        value is what the transformer block adds to its residual stream."""
        nf = self.frames
        total, n, d = h.shape
        if total % nf:
            raise ValueError(f"batch {total} is not a multiple of the {nf} frames of this patch")
        b = total // nf
        x = h.reshape(b, nf, n, d).transpose(0, 1)  # f b n d

        if self.control_convs is not None:
            if not self.control_signals or n not in self.control_signals:
                raise RuntimeError(f"no control features for {n} tokens: call set_control with a matching image")
            signal = self.control_signals[n].to(dtype=x.dtype, device=x.device)
            ctrl = torch.stack([conv(signal).flatten(2).transpose(1, 2) for conv in self.control_convs])
            x = x + ctrl  # ctrl batch is 1 (broadcast) or b

        ctx = x if context is None else context.reshape(b, nf, *context.shape[1:]).transpose(0, 1)
        outs = []
        for f in range(nf):
            q = self.to_q_lora[f].apply_to(attn.to_q, x[f])
            k = self.to_k_lora[f].apply_to(attn.to_k, ctx[f])
            v = self.to_v_lora[f].apply_to(attn.to_v, ctx[f])
            o = _heads_attention(q, k, v, self.heads)
            o = self.to_out_lora[f].apply_to(attn.to_out[0], o)
            outs.append(attn.to_out[1](o))
        x = (x + torch.stack(outs)).transpose(0, 1).reshape(total, n, d)

        # Attention across the frames of a sample, independently at every token.
        t = self.temporal_i(self.temporal_n(x))
        t = t.reshape(b, nf, n, d).transpose(1, 2).reshape(b * n, nf, d)
        t = _heads_attention(self.temporal_q(t), self.temporal_k(t), self.temporal_v(t), self.heads)
        t = self.temporal_o(t).reshape(b, n, nf, d).transpose(1, 2).reshape(total, n, d)
        return x + t - h


class HookerLayers(nn.Module):
    def __init__(self, units: list[AttentionSharingUnit]):
        super().__init__()
        self.layers = nn.ModuleList(units)


def _conv_stack(channels: list[int], strides: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c_in, c_out, s in zip(channels[:-1], channels[1:], strides):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, stride=s), nn.SiLU()]
    return nn.Sequential(*layers)


class ControlEncoder(nn.Module):
    """Condition image ([-1, 1], Bx3xHxW) -> 256-channel maps at 1/8, 1/16, 1/32, 1/64."""

    def __init__(self):
        super().__init__()
        self.blocks_0 = _conv_stack([3, 32, 32, 64, 64, 128, 128, 256, 256], [1, 1, 2, 1, 2, 1, 2, 1])
        self.blocks_1 = _conv_stack([256, 256, 256], [2, 1])
        self.blocks_2 = _conv_stack([256, 256, 256], [2, 1])
        self.blocks_3 = _conv_stack([256, 256, 256], [2, 1])

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        out = {}
        for block in (self.blocks_0, self.blocks_1, self.blocks_2, self.blocks_3):
            x = block(x)
            out[x.shape[2] * x.shape[3]] = x
        return out


class _UnitProcessor:
    """diffusers attention processor delegating to a unit (not an nn.Module on
    purpose: it must not add keys to the UNet's state_dict)."""

    def __init__(self, unit: AttentionSharingUnit):
        self.unit = unit

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        return self.unit(attn, hidden_states, encoder_hidden_states)


class AttentionSharingPatch(nn.Module):
    """The saved module tree: ``hookers.layers.{i}`` (+ ``kwargs_encoder`` with control)."""

    def __init__(self, unit_dims: list[tuple[int, int, int]], frames: int, use_control: bool, rank: int = 256):
        super().__init__()
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames = frames
        self.hookers = HookerLayers(
            [AttentionSharingUnit(d, c, heads, frames, use_control, rank) for d, c, heads in unit_dims]
        )
        self.kwargs_encoder = ControlEncoder() if use_control else None

    @classmethod
    def for_unet(cls, unet: nn.Module, frames: int, use_control: bool, rank: int = 256) -> AttentionSharingPatch:
        dims = [(a.to_q.in_features, a.to_k.in_features, a.heads) for _, a in attention_units(unet)]
        return cls(dims, frames, use_control, rank)

    @classmethod
    def for_variant(cls, unet: nn.Module, variant: str, rank: int = 256) -> AttentionSharingPatch:
        if variant not in VARIANTS:
            raise ValueError(f"unknown attention-sharing variant {variant!r}; known: {sorted(VARIANTS)}")
        v = VARIANTS[variant]
        return cls.for_unet(unet, v.frames, v.use_control, rank)

    @property
    def use_control(self) -> bool:
        return self.kwargs_encoder is not None

    @torch.no_grad()
    def set_control(self, image: torch.Tensor | None) -> None:
        """Condition image Bx3xHxW in [0, 1] (H, W = 8x the latent size); None clears it."""
        if image is None:
            signals = None
        else:
            if self.kwargs_encoder is None:
                raise RuntimeError("this attention-sharing patch has no control encoder")
            p = next(self.kwargs_encoder.parameters())
            signals = self.kwargs_encoder(image.to(device=p.device, dtype=p.dtype) * 2.0 - 1.0)
        for unit in self.hookers.layers:
            unit.control_signals = signals

    @contextlib.contextmanager
    def applied(self, unet: nn.Module) -> Iterator[None]:
        """Route the UNet's attentions through this patch for the duration of the block."""
        units = attention_units(unet)
        if len(units) != len(self.hookers.layers):
            raise ValueError(
                f"this patch has {len(self.hookers.layers)} attention units, the UNet has {len(units)}"
            )
        saved = []
        try:
            for (_, attn), unit in zip(units, self.hookers.layers):
                saved.append((attn, attn.processor))
                attn.set_processor(_UnitProcessor(unit))
            with cuda_graphs.suspended(unet):
                yield
        finally:
            for attn, proc in saved:
                attn.set_processor(proc)
            self.set_control(None)
