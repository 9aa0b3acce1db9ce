"""Tiny random-weight Stable-Diffusion-shaped pipelines, built offline for tests and benchmarks.

The shapes follow the real models (a CLIP text encoder, a UNet with cross attention, a
4-block VAE so 512 px maps to a 64x64 latent) but every width is tiny, so a folder is a
few MB and a 512x512 edit runs in about a second on a CPU. The tokenizer is built from a
hand-written byte-level BPE vocabulary, so nothing is downloaded.
"""
from __future__ import annotations

import json
from pathlib import Path

TINY_VOCAB_SIZE = 1000
_MERGES = [
    "t h", "th e</w>", "a n", "an d</w>", "i n", "o n", "e r", "o r", "a t", "e n",
    "c a", "ca t</w>", "d o", "do g</w>", "h a", "ha t</w>", "s k", "sk y</w>", "r e",
]


def _byte_alphabet() -> list[str]:
    """The 256 printable characters byte-level BPE uses to stand for raw bytes."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def write_tiny_tokenizer(folder: Path) -> dict:
    """Write a CLIP tokenizer (vocab.json, merges.txt, configs); returns its special ids."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet]
    tokens += ["".join(m.split()) for m in _MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(_MERGES) + "\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "do_lower_case": True,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    special = {"bos_token": config["bos_token"], "eos_token": config["eos_token"],
               "unk_token": config["unk_token"], "pad_token": config["pad_token"]}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=1), encoding="utf-8")
    return {"bos": vocab["<|startoftext|>"], "eos": vocab["<|endoftext|>"]}


def _text_config(ids: dict, hidden: int = 32, projection: int | None = None, heads: int = 4):
    from transformers import CLIPTextConfig

    kwargs = dict(
        vocab_size=TINY_VOCAB_SIZE, hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=2, num_attention_heads=heads, max_position_embeddings=77,
        bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=ids["eos"],
        hidden_act="quick_gelu",
    )
    if projection:
        kwargs["projection_dim"] = projection
    return CLIPTextConfig(**kwargs)


def _tiny_vae(ldm: bool = False):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=64,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32,) * 4 if ldm else (8, 8, 16, 16), layers_per_block=1,
        norm_num_groups=32 if ldm else 4,
    )


def _tiny_unet(cross_dim: int, sdxl: bool, in_channels: int = 4, ldm: bool = False):
    from diffusers import UNet2DConditionModel

    kwargs = dict(
        sample_size=64, in_channels=in_channels, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=cross_dim,
        attention_head_dim=8, norm_num_groups=32 if ldm else 8,
    )
    if sdxl:
        kwargs.update(addition_embed_type="text_time", addition_time_embed_dim=8,
                      projection_class_embeddings_input_dim=6 * 8 + 32, use_linear_projection=True)
    return UNet2DConditionModel(**kwargs)


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading",
    )


def build_tiny_pipeline(folder, seed: int = 0, family: str = "sd15", inpaint: bool = False,
                        ldm_compatible: bool = False):
    """Write a tiny random-weight diffusers folder (family "sd15" or "sdxl"); return its Path.

    inpaint=True makes a 9-input-channel UNet (an inpainting-shaped "sd15" model), used by the
    benchmark's baseline. ldm_compatible=True (sd15 only) uses the norm group count (32) and
    attention head size (64) of the real models, so that a single-file checkpoint of it can be
    read back from its shapes alone (a wider VAE: slower, use small images).
    """
    import torch
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    if family not in ("sd15", "sdxl"):
        raise ValueError(f"tiny pipeline family must be 'sd15' or 'sdxl', not {family!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    ids = write_tiny_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    ldm = ldm_compatible and family == "sd15"
    text_encoder = CLIPTextModel(_text_config(ids, hidden=64, heads=1) if ldm else _text_config(ids))
    vae = _tiny_vae(ldm)
    if family == "sd15":
        from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

        unet = _tiny_unet(64 if ldm else 32, sdxl=False, in_channels=9 if inpaint else 4, ldm=ldm)
        cls = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
        pipe = cls(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                   scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
                   requires_safety_checker=False)
    else:
        from diffusers import StableDiffusionXLPipeline

        write_tiny_tokenizer(folder / "tokenizer_2")
        tokenizer_2 = CLIPTokenizer.from_pretrained(folder / "tokenizer_2")
        text_encoder_2 = CLIPTextModelWithProjection(_text_config(ids, projection=32))
        pipe = StableDiffusionXLPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
            tokenizer_2=tokenizer_2, unet=_tiny_unet(64, sdxl=True), scheduler=_scheduler(),
        )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
