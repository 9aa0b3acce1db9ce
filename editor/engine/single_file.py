"""Single-file checkpoints (original Stable Diffusion layout) loaded offline.

The family is recognised by its keys (SD1.x: a CLIP text model under cond_stage_model;
SD2.x: an OpenCLIP one; SDXL: two embedders under conditioner). Component architectures
are read off the tensor shapes; what shapes cannot tell (attention head counts, norm groups)
follows the family's published design. Weights are renamed with diffusers' own conversion
functions; noise schedules come from editor/engine/configs. The CLIP tokenizer, which a
checkpoint does not contain, comes from the `tokenizer` folder argument, else from the local
Hugging Face cache, else it is downloaded once (a few MB).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import ModelLoadError

UNET = "model.diffusion_model."
VAE = "first_stage_model."
SD1_TEXT = "cond_stage_model.transformer."
SD2_TEXT = "cond_stage_model.model."
XL_TEXT_1 = "conditioner.embedders.0.transformer."
XL_TEXT_2 = "conditioner.embedders.1.model."
CONFIGS = Path(__file__).with_name("configs")
# Where each family's tokenizer lives on the hub: (repo, subfolder).
TOKENIZERS = {
    "sd15": [("openai/clip-vit-large-patch14", "")],
    "sd2": [("stabilityai/stable-diffusion-2-1", "tokenizer")],
    "sdxl": [("openai/clip-vit-large-patch14", ""), ("laion/CLIP-ViT-bigG-14-laion2B-39B-b160k", "")],
}


def read_state_dict(path: Path, allow_pickle: bool) -> dict:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from exc
    if not allow_pickle:  # load_model checks first; this guards direct callers
        raise ModelLoadError(f"{path}: refusing to unpickle a checkpoint without allow_pickle=True")
    import torch

    data = torch.load(str(path), map_location="cpu", weights_only=False)
    return data.get("state_dict", data) if isinstance(data, dict) else data


def detect_family(sd: dict, path: Path | str = "checkpoint") -> str:
    """'sd15', 'sd2' or 'sdxl' from the text encoder keys; ModelLoadError for anything else."""
    keys = sd.keys()
    if not any(k.startswith(UNET) for k in keys):
        raise ModelLoadError(f"{path}: not a Stable Diffusion checkpoint (no {UNET}* weights)")
    if any(k.startswith(XL_TEXT_2) for k in keys):
        return "sdxl"
    if any(k.startswith(SD2_TEXT) for k in keys):
        return "sd2"
    if any(k.startswith(SD1_TEXT) for k in keys):
        return "sd15"
    raise ModelLoadError(f"{path}: unrecognised checkpoint: no SD1.x, SD2.x or SDXL text encoder weights")


def _indices(sd: dict, prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def unet_config(sd: dict, family: str, v_prediction: bool = False) -> dict:
    """A diffusers UNet2DConditionModel config read off an LDM UNet's shapes."""
    p = UNET
    blocks = _indices(sd, p + "input_blocks.")
    downs = [i for i in blocks if f"{p}input_blocks.{i}.0.op.weight" in sd]
    levels = len(downs) + 1
    layers = (downs[0] - 1) if downs else (len(blocks) - 1)
    channels, attn, depth = [], [], []
    for lvl in range(levels):
        first = 1 + lvl * (layers + 1)
        channels.append(int(sd[f"{p}input_blocks.{first}.0.out_layers.3.weight"].shape[0]))
        tb = _indices(sd, f"{p}input_blocks.{first}.1.transformer_blocks.")
        attn.append(bool(tb))
        depth.append(len(tb) if tb else 1)
    k_keys = [k for k in sd if k.startswith(p) and k.endswith("attn2.to_k.weight")]
    cross = int(sd[k_keys[0]].shape[1]) if k_keys else None
    proj = [k for k in sd if k.startswith(p) and k.endswith("proj_in.weight")]
    linear = bool(proj) and sd[proj[0]].ndim == 2
    heads = 8 if family == "sd15" else [max(1, c // 64) for c in channels]
    size = {"sd15": 64, "sd2": 96 if v_prediction else 64, "sdxl": 128}[family]
    config = {
        "sample_size": size,
        "in_channels": int(sd[p + "input_blocks.0.0.weight"].shape[1]),
        "out_channels": int(sd[p + "out.2.weight"].shape[0]),
        "block_out_channels": channels,
        "layers_per_block": layers,
        "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn],
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
        "cross_attention_dim": cross,
        "attention_head_dim": heads,
        "use_linear_projection": linear,
        "transformer_layers_per_block": depth if family == "sdxl" else (depth[attn.index(True)] if any(attn) else 1),
    }
    if p + "label_emb.0.0.weight" in sd:
        config.update(addition_embed_type="text_time", addition_time_embed_dim=256,
                      projection_class_embeddings_input_dim=int(sd[p + "label_emb.0.0.weight"].shape[1]))
    return config


def vae_config(sd: dict, family: str) -> dict:
    p = VAE
    base = int(sd[p + "encoder.conv_in.weight"].shape[0])
    levels = _indices(sd, p + "encoder.down.")
    channels = [int(sd[f"{p}encoder.down.{i}.block.0.conv2.weight"].shape[0]) for i in levels]
    return {
        "in_channels": int(sd[p + "encoder.conv_in.weight"].shape[1]),
        "out_channels": int(sd[p + "decoder.conv_out.weight"].shape[0]),
        "latent_channels": int(sd[p + "decoder.conv_in.weight"].shape[1]),
        "block_out_channels": channels or [base],
        "down_block_types": ["DownEncoderBlock2D"] * len(channels),
        "up_block_types": ["UpDecoderBlock2D"] * len(channels),
        "layers_per_block": len(_indices(sd, p + "encoder.down.0.block.")),
        "sample_size": 1024 if family == "sdxl" else 512,
        "scaling_factor": 0.13025 if family == "sdxl" else 0.18215,
        "force_upcast": family == "sdxl",
    }


def clip_config(sd: dict, prefix: str, openclip: bool, tokenizer, *, drop_last: bool = False):
    """A transformers CLIPTextConfig read off a CLIP (HF layout) or OpenCLIP text tower."""
    from transformers import CLIPTextConfig

    if openclip:
        emb = sd[prefix + "token_embedding.weight"]
        layers = len(_indices(sd, prefix + "transformer.resblocks."))
        inter = int(sd[prefix + "transformer.resblocks.0.mlp.c_fc.weight"].shape[0])
        positions = int(sd[prefix + "positional_embedding"].shape[0])
        proj = sd.get(prefix + "text_projection")
    else:
        tm = prefix + "text_model." if prefix + "text_model.embeddings.token_embedding.weight" in sd else prefix
        emb = sd[tm + "embeddings.token_embedding.weight"]
        layers = len(_indices(sd, tm + "encoder.layers."))
        inter = int(sd[tm + "encoder.layers.0.mlp.fc1.weight"].shape[0])
        positions = int(sd[tm + "embeddings.position_embedding.weight"].shape[0])
        proj = None
    hidden = int(emb.shape[1])
    kwargs = dict(vocab_size=int(emb.shape[0]), hidden_size=hidden, intermediate_size=inter,
                  num_hidden_layers=layers - 1 if drop_last else layers,
                  num_attention_heads=max(1, hidden // 64), max_position_embeddings=positions,
                  hidden_act="gelu" if openclip else "quick_gelu",
                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id)
    if proj is not None:
        kwargs["projection_dim"] = int(proj.shape[1])
    return CLIPTextConfig(**kwargs)


def load_single_file(path: Path, dtype, *, allow_pickle: bool = False, tokenizer=None):
    """Build a StableDiffusion(XL)Pipeline from one original-layout checkpoint, offline."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                     convert_ldm_vae_checkpoint, convert_open_clip_checkpoint)
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    sd = read_state_dict(path, allow_pickle)
    family = detect_family(sd, path)
    v_pred = family == "sd2" and "base" not in path.name.lower()
    toks = resolve_tokenizers(family, tokenizer, path)
    try:
        ucfg = unet_config(sd, family, v_pred)
        unet = UNet2DConditionModel(**ucfg)
        _load(unet, convert_ldm_unet_checkpoint(sd, ucfg), path, "unet")
        vcfg = vae_config(sd, family)
        vae = AutoencoderKL(**vcfg)
        _load(vae, convert_ldm_vae_checkpoint(sd, vcfg), path, "vae")
        if family == "sd15":
            text = CLIPTextModel(clip_config(sd, SD1_TEXT, False, toks[0]))
            _load(text, convert_ldm_clip_checkpoint(sd), path, "text encoder")
        elif family == "sd2":
            text = CLIPTextModel(clip_config(sd, SD2_TEXT, True, toks[0], drop_last=True))
            _load(text, convert_open_clip_checkpoint(text, sd, prefix=SD2_TEXT), path, "text encoder")
        else:
            text = CLIPTextModel(clip_config(sd, XL_TEXT_1, False, toks[0]))
            _load(text, convert_ldm_clip_checkpoint(sd), path, "text encoder")
            text_2 = CLIPTextModelWithProjection(clip_config(sd, XL_TEXT_2, True, toks[1]))
            _load(text_2, convert_open_clip_checkpoint(text_2, sd, prefix=XL_TEXT_2), path, "text encoder 2")
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not convert the {family} checkpoint "
                             f"({type(exc).__name__}: {exc})") from exc
    name = "scheduler_sd2_v.json" if v_pred else f"scheduler_{family}.json"
    scheduler = DDIMScheduler.from_config(json.loads((CONFIGS / name).read_text(encoding="utf-8")))
    dtype = dtype or torch.float32
    if family == "sdxl":
        from diffusers import StableDiffusionXLPipeline

        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text, text_encoder_2=text_2, tokenizer=toks[0],
                                         tokenizer_2=toks[1], unet=unet, scheduler=scheduler)
    else:
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=toks[0], unet=unet, scheduler=scheduler,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return pipe if dtype == torch.float32 else pipe.to(dtype=dtype)


def _load(module, state: dict, path: Path, what: str) -> None:
    own = module.state_dict().keys()
    # transformers 5 dropped the "text_model." level that checkpoints (and older versions) use.
    if not any(k.startswith("text_model.") for k in own):
        state = {k.removeprefix("text_model."): v for k, v in state.items()}
    elif not any(k.startswith("text_model.") for k in state):
        state = {("text_model." + k if not k.startswith(("text_projection", "logit")) else k): v
                 for k, v in state.items()}
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(f"{path}: the {what} weights do not match the shapes read from the file "
                             f"(missing {missing[:3]}, unexpected {list(unexpected)[:3]})")


#: Encoded to check that a tokenizer knows ordinary words (see usable_tokenizer).
PROBE_PROMPT = "a red apple on a wooden table"


def usable_tokenizer(tok) -> bool:
    """True if ``tok`` turns an ordinary prompt into known tokens. Offline, transformers
    can hand back a 2-token CLIP tokenizer instead of an error; with it every prompt
    becomes unknown tokens, so every picture would silently ignore its prompt."""
    try:
        ids = tok(PROBE_PROMPT, add_special_tokens=False).input_ids
    except Exception:  # noqa: BLE001 - a broken tokenizer is simply not usable
        return False
    unknown = getattr(tok, "unk_token_id", None)
    return bool(ids) and any(i != unknown for i in ids) and len(tok) > 3


def resolve_tokenizers(family: str, folder, path: Path) -> list:
    """The family's CLIP tokenizer(s): from `folder`, else the HF cache, else a small download.
    A tokenizer that does not know ordinary words is refused (ModelLoadError), never used."""
    from transformers import CLIPTokenizer

    wanted = TOKENIZERS[family]
    if folder is not None:
        folder = Path(folder)
        subs = ["tokenizer", "tokenizer_2"][: len(wanted)]
        found = []
        for i, sub in enumerate(subs):
            cand = folder / sub if (folder / sub).is_dir() else (folder if i == 0 else None)
            if cand is None or not (cand / "vocab.json").is_file():
                raise ModelLoadError(f"{folder}: no CLIP tokenizer ({sub}/vocab.json) for the {family} checkpoint")
            tok = CLIPTokenizer.from_pretrained(cand)
            if not usable_tokenizer(tok):
                raise ModelLoadError(f"{cand}: this CLIP tokenizer turns an ordinary prompt into unknown tokens "
                                     f"only ({len(tok)} tokens in its vocabulary); it cannot be used")
            found.append(tok)
        return found
    out = []
    for repo, sub in wanted:
        try:
            tok = CLIPTokenizer.from_pretrained(repo, subfolder=sub or None, local_files_only=True)
            if usable_tokenizer(tok):
                out.append(tok)
                continue
        except Exception:  # noqa: BLE001 - not in the cache: download below
            pass
        problem = None
        try:
            tok = CLIPTokenizer.from_pretrained(repo, subfolder=sub or None)
            if not usable_tokenizer(tok):
                problem = "offline, an empty placeholder came back"
        except Exception as exc:  # noqa: BLE001 - reported below
            problem = type(exc).__name__
            cause = exc
        else:
            cause = None
        if problem is not None:
            raise ModelLoadError(
                f"{path}: this {family} checkpoint needs the CLIP tokenizer from {repo}, which is not in the "
                f"local Hugging Face cache and could not be downloaded ({problem}). Without it every prompt "
                "would be ignored. Connect once, or pass tokenizer=<folder with vocab.json and merges.txt>."
            ) from cause
        out.append(tok)
    return out
