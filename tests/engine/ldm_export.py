"""Write an SD1.x diffusers pipeline as one original-layout (LDM) .safetensors checkpoint.

Test helper: it produces the kind of file users download from model sites, so the
single-file loader is tested on a real key layout rather than on its own output.
"""
from __future__ import annotations

_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def _rename_resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{_RESNET[head]}.{tail}"


def unet_to_ldm(state: dict, layers: int) -> dict:
    out = {}
    per = layers + 1
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "conv_in":
            new = "input_blocks.0.0." + ".".join(parts[1:])
        elif parts[0] == "time_embedding":
            new = {"linear_1": "time_embed.0", "linear_2": "time_embed.2"}[parts[1]] + "." + parts[2]
        elif parts[0] == "conv_norm_out":
            new = "out.0." + parts[1]
        elif parts[0] == "conv_out":
            new = "out.2." + parts[1]
        elif parts[0] == "down_blocks":
            lvl, kind = int(parts[1]), parts[2]
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"input_blocks.{1 + lvl * per + int(parts[3])}.0.{_rename_resnet(rest)}"
            elif kind == "attentions":
                new = f"input_blocks.{1 + lvl * per + int(parts[3])}.1.{rest}"
            else:  # downsamplers.0.conv.*
                new = f"input_blocks.{(lvl + 1) * per}.0.op.{parts[-1]}"
        elif parts[0] == "mid_block":
            rest = ".".join(parts[3:])
            if parts[1] == "resnets":
                new = f"middle_block.{2 * int(parts[2])}.{_rename_resnet(rest)}"
            else:
                new = f"middle_block.1.{rest}"
        elif parts[0] == "up_blocks":
            lvl, kind = int(parts[1]), parts[2]
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"output_blocks.{lvl * per + int(parts[3])}.0.{_rename_resnet(rest)}"
            elif kind == "attentions":
                new = f"output_blocks.{lvl * per + int(parts[3])}.1.{rest}"
            else:  # upsamplers.0.conv.*: after the attention when the level has one
                has_attn = any(k.startswith(f"up_blocks.{lvl}.attentions.") for k in state)
                new = f"output_blocks.{lvl * per + layers}.{2 if has_attn else 1}.conv.{parts[-1]}"
        else:
            raise KeyError(f"unexpected UNet key {key}")
        out["model.diffusion_model." + new] = value
    return out


_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}


def vae_to_ldm(state: dict, levels: int) -> dict:
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        side = parts[0]
        if side in ("quant_conv", "post_quant_conv"):
            new = key
        elif parts[1] in ("conv_in", "conv_out"):
            new = key
        elif parts[1] == "conv_norm_out":
            new = f"{side}.norm_out.{parts[2]}"
        elif parts[1] in ("down_blocks", "up_blocks"):
            i = int(parts[2])
            lvl = i if parts[1] == "down_blocks" else levels - 1 - i
            group = "down" if parts[1] == "down_blocks" else "up"
            if parts[3] == "resnets":
                name = parts[5].replace("conv_shortcut", "nin_shortcut")
                new = f"{side}.{group}.{lvl}.block.{parts[4]}.{name}.{parts[-1]}"
            else:
                sample = "downsample" if group == "down" else "upsample"
                new = f"{side}.{group}.{lvl}.{sample}.conv.{parts[-1]}"
        elif parts[1] == "mid_block":
            if parts[2] == "resnets":
                name = parts[4].replace("conv_shortcut", "nin_shortcut")
                new = f"{side}.mid.block_{int(parts[3]) + 1}.{name}.{parts[-1]}"
            else:
                new = f"{side}.mid.attn_1.{_VAE_ATTN[parts[4]]}.{parts[-1]}"
                if value.ndim == 2:  # the original stores these 1x1 projections as convolutions
                    value = value[:, :, None, None]
        else:
            raise KeyError(f"unexpected VAE key {key}")
        out["first_stage_model." + new] = value
    return out


def export_sd15_single_file(pipe, path) -> None:
    """Save pipe's UNet, VAE and text encoder as an original-layout SD1.x .safetensors file."""
    from safetensors.torch import save_file

    state = {}
    state.update(unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config.layers_per_block))
    state.update(vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels)))
    for key, value in pipe.text_encoder.state_dict().items():
        if not key.startswith("text_model."):  # checkpoints keep the level transformers 5 dropped
            key = "text_model." + key
        state["cond_stage_model.transformer." + key] = value
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
