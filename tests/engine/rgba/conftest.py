"""Fixtures for transparent-layer tests: tiny LayerDiffuse-layout weight files for the tiny models."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))

from helpers import save_module, tiny_decoder, write_tiny_weights, write_xl_conv  # noqa: E402

from editor.engine.rgba.transparent_vae import TINY_DECODER_CONFIG  # noqa: E402
from editor.engine.rgba.weights import FILES, LayerWeights  # noqa: E402
from editor.engine.rgba.xl_lora import expected_layout  # noqa: E402


@pytest.fixture(scope="session")
def tiny_weights(tiny_model, tmp_path_factory) -> LayerWeights:
    """Every SD1.5 LayerDiffuse role, shaped for the tiny SD1.5 model (random values)."""
    return write_tiny_weights(tiny_model.pipe.unet, tmp_path_factory.mktemp("ld_sd15"))


@pytest.fixture(scope="session")
def tiny_sdxl_model(tiny_sdxl_dir):
    from editor.engine.models import load_model

    return load_model(tiny_sdxl_dir, device="cpu")


@pytest.fixture(scope="session")
def tiny_xl_weights(tiny_sdxl_model, tmp_path_factory) -> LayerWeights:
    """An SDXL attention LoRA with the published key scheme (rank 4) plus a tiny decoder."""
    folder = tmp_path_factory.mktemp("ld_sdxl")
    gen = torch.Generator().manual_seed(1)
    layout = expected_layout(tiny_sdxl_model.pipe.unet, rank=4)
    tensors = {k: (torch.randn(shape, generator=gen) * 0.05).to(torch.float16) for k, shape in layout.items()}
    attn = folder / FILES[("sdxl", "attn")].filename
    save_file(tensors, str(attn))
    dec = save_module(tiny_decoder(), folder / FILES[("sdxl", "decoder")].filename)
    return LayerWeights("sdxl", {"attn": attn, "decoder": dec}, decoder_config=TINY_DECODER_CONFIG)


@pytest.fixture(scope="session")
def tiny_xl_conv_weights(tiny_sdxl_model, tiny_xl_weights, tmp_path_factory) -> LayerWeights:
    """An SDXL conv patch (published key scheme, a handful of layers) plus the tiny decoder."""
    folder = tmp_path_factory.mktemp("ld_sdxl_conv")
    conv = folder / FILES[("sdxl", "conv")].filename
    write_xl_conv(tiny_sdxl_model.pipe.unet, conv, scale=0.2)
    return LayerWeights("sdxl", {"conv": conv, "decoder": tiny_xl_weights.files["decoder"]},
                        decoder_config=TINY_DECODER_CONFIG)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on the shared 2-core CI machine, two threads spin-wait on each
    other and tiny-model tests burn up to 50x more CPU. Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
