"""Shapes of the demo model's parts and writing them as a standard diffusers folder.

Sizes are chosen so that the whole model, stored in fp16 .safetensors, stays under 25 MB:
UNet about 6.7 M parameters and VAE 3.9 M (fp16), text encoder 0.4 M (fp32).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from . import tokenizer as tok

NATIVE_SIZE = 256
LATENT_SIZE = NATIVE_SIZE // 8
TEXT_DIM = 128


def text_encoder_config():
    from transformers import CLIPTextConfig

    ids = tok.special_ids()
    return CLIPTextConfig(
        vocab_size=ids["size"],
        hidden_size=TEXT_DIM,
        intermediate_size=2 * TEXT_DIM,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=tok.MAX_LENGTH,
        projection_dim=TEXT_DIM,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["eos"],
    )


def build_text_encoder():
    from transformers import CLIPTextModel

    return CLIPTextModel(text_encoder_config())


def build_vae(scaling_factor: float = 1.0):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 64, 128, 128),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=NATIVE_SIZE,
        scaling_factor=scaling_factor,
    )


def build_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=4,
        out_channels=4,
        # Cross-attention at 16x16 and 8x8 only: attention over the 32x32 grid nearly tripled
        # the CPU time of a step, and colour and shape are decided at the coarse levels.
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(64, 128, 128),
        layers_per_block=1,
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=32,
    )


# Stable Diffusion's noise schedule, so that any SD-aware sampler or brush treats the demo model
# like a real SD 1.x model.
SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
}


def build_train_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULE, clip_sample=False)


def build_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        **SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading"
    )


def write_pipeline(folder: str | Path, text_encoder, vae, unet, dtype=torch.float16) -> Path:
    """Save the parts as a StableDiffusionPipeline folder with .safetensors weights in ``dtype``.

    The models passed in are not modified (copies are converted), so training can go on.
    """
    import copy

    import diffusers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The text encoder stays fp32: transformers 5 loads weights in their stored dtype, diffusers
    # upcasts to fp32, and a fp16 text encoder next to a fp32 UNet breaks default fp32 loading.
    parts = (("text_encoder", text_encoder, torch.float32), ("vae", vae, dtype), ("unet", unet, dtype))
    for name, model, part_dtype in parts:
        part = copy.deepcopy(model).to(device="cpu", dtype=part_dtype)
        part.save_pretrained(folder / name, safe_serialization=True)
    build_scheduler().save_pretrained(folder / "scheduler")
    tok.write_tokenizer(folder / "tokenizer")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": diffusers.__version__,
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return folder


def weights_size(folder: str | Path) -> int:
    """Total bytes of the .safetensors files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*.safetensors"))


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
