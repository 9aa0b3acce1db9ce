"""The demo model's own latent-transparency weights (trained by ``engine.demo.train_transparency``).

They ship in ``resources/demo_model/layerdiffuse/`` and play the roles of the published
LayerDiffuse files at the demo's scale:

| file | role | layout |
| --- | --- | --- |
| demo_transparent_attn.safetensors | attn | LoRA on every attention projection, keys of the SDXL attention LoRA (``diffusion_model.<LDM path>.weight::lora::0`` up, ``::1`` down) |
| demo_vae_transparent_decoder.safetensors | decoder | ``TransparentDecoderUNet`` with the narrower ``DecoderConfig`` in layer_config.json |
| demo_vae_transparent_encoder.safetensors | encoder | ``LatentTransparencyEncoder`` with the widths in layer_config.json |

Every file is loaded with the same strict checks as the published ones (exact keys and shapes).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import LayerDiffuseUnavailable, WeightsMismatch
from .transparent_vae import DecoderConfig, LatentTransparencyEncoder, TransparentDecoderUNet

FAMILY = "demo"
FOLDER = "layerdiffuse"
ATTN_FILE = "demo_transparent_attn.safetensors"
DECODER_FILE = "demo_vae_transparent_decoder.safetensors"
ENCODER_FILE = "demo_vae_transparent_encoder.safetensors"
CONFIG_FILE = "layer_config.json"


@dataclass(frozen=True)
class DemoLayerConfig:
    """Shapes of the demo transparency networks (the published files' layouts, narrower)."""

    decoder_channels: tuple[int, ...] = (16, 16, 32, 32, 64, 64, 64)
    encoder_widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    lora_rank: int = 32
    #: The flat colour (0..1) the VAE sees behind transparent pixels: 0.5 grey in LayerDiffuse,
    #: black for the demo model, whose VAE cannot paint grey. Needed to encode an RGBA layer.
    backdrop: float = 0.0

    def decoder_config(self) -> DecoderConfig:
        return DecoderConfig(block_out_channels=tuple(self.decoder_channels))

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / CONFIG_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: str | Path) -> DemoLayerConfig:
        path = Path(folder) / CONFIG_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(decoder_channels=tuple(int(c) for c in data["decoder_channels"]),
                       encoder_widths=tuple(int(c) for c in data["encoder_widths"]),
                       lora_rank=int(data["lora_rank"]), backdrop=float(data["backdrop"]))
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise WeightsMismatch(f"{path}: not a demo transparency config ({exc})") from exc


def build_decoder(config: DemoLayerConfig) -> TransparentDecoderUNet:
    return TransparentDecoderUNet(config.decoder_config())


def build_encoder(config: DemoLayerConfig) -> LatentTransparencyEncoder:
    return LatentTransparencyEncoder(tuple(config.encoder_widths))


def is_demo(model) -> bool:
    return str(getattr(model, "source", "")) == "demo"


def demo_layer_weights(folder: str | Path | None = None):
    """The demo weights as a ``LayerWeights`` (family "demo"), or LayerDiffuseUnavailable."""
    from ..models import demo_model_path
    from .weights import LayerWeights

    folder = Path(folder) if folder is not None else demo_model_path() / FOLDER
    files = {role: folder / name for role, name in
             (("attn", ATTN_FILE), ("decoder", DECODER_FILE), ("encoder", ENCODER_FILE))}
    present = {r: p for r, p in files.items() if p.is_file()}
    if "attn" not in present or "decoder" not in present or not (folder / CONFIG_FILE).is_file():
        raise LayerDiffuseUnavailable(
            f"the demo model's transparency weights are missing from {folder} (expected {ATTN_FILE}, "
            f"{DECODER_FILE} and {CONFIG_FILE}); reinstall Layerbrush or train them with "
            "python -m editor.engine.demo.train_transparency")
    config = DemoLayerConfig.read(folder)
    return LayerWeights(FAMILY, present, decoder_config=config.decoder_config())
