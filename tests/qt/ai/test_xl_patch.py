"""The SDXL patch choice (attention LoRA or conv offsets) in the Generate Layer panel, on a tiny SDXL model."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ai_helpers import RENDER_TIMEOUT

from editor.core.layers import GeneratedLayer
from editor.engine.rgba.weights import FILES
from editor.engine.testing import tiny_folder
from editor.io.ora import load_ora, save_ora
from editor.ui.ai.weights_ui import licence_question


def _rgba_helpers():
    """tests/engine/rgba/helpers.py, under its own name (other folders have a helpers module)."""
    path = Path(__file__).parents[2] / "engine" / "rgba" / "helpers.py"
    spec = importlib.util.spec_from_file_location("rgba_weight_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory):
    return tiny_folder(tmp_path_factory, "sdxl")


def _xl_weights(unet, folder: Path) -> None:
    """Tiny SDXL attention LoRA and decoder with the published names (no conv file yet)."""
    import torch
    from safetensors.torch import save_file

    from editor.engine.rgba.xl_lora import expected_layout

    h = _rgba_helpers()
    folder.mkdir()
    gen = torch.Generator().manual_seed(1)
    save_file({k: (torch.randn(s, generator=gen) * 0.05).to(torch.float16)
               for k, s in expected_layout(unet, rank=4).items()}, str(folder / FILES[("sdxl", "attn")].filename))
    h.save_module(h.tiny_decoder(), folder / FILES[("sdxl", "decoder")].filename)


def _generate(qtbot, panel):
    panel.generate_button.click()
    qtbot.waitUntil(lambda: panel.request is None, timeout=RENDER_TIMEOUT)


def test_sdxl_patch_option_is_shown_for_sdxl_and_passed_through(qtbot, ai_window, tiny_sdxl_dir, tmp_path,
                                                                 monkeypatch):
    from editor.engine.rgba import pipeline, transparent_vae

    win = ai_window
    panel = win.ai.show_generate_panel()
    assert not panel.form.isRowVisible(panel.xl_patch)  # the tiny SD1.5 model
    with qtbot.waitSignal(win.ai.controller.model_loaded, timeout=RENDER_TIMEOUT):
        win.ai.controller.set_model(str(tiny_sdxl_dir), "cpu")
    assert panel.form.isRowVisible(panel.xl_patch) and panel.xl_patch.isVisible()
    assert panel.xl_patch.currentData() == "attn"

    unet = win.ai.controller.engine.model.pipe.unet
    folder = tmp_path / "xl"
    _xl_weights(unet, folder)
    win.ai.config.layerdiffuse_dirs["sdxl"] = str(folder)
    # a folder's decoder is read with the published decoder shape; these files hold the tiny one
    monkeypatch.setattr(pipeline, "DecoderConfig", lambda: transparent_vae.TINY_DECODER_CONFIG)

    panel.prompt.setText("a glass bottle")
    panel.steps.setValue(1)
    panel.guidance.setValue(0.0)
    panel.set_box(None)
    panel.xl_patch.setCurrentIndex(panel.xl_patch.findData("conv"))
    _generate(qtbot, panel)
    # attention LoRA and decoder are there, the conv file is not: the engine was asked for "conv"
    conv = FILES[("sdxl", "conv")]
    assert panel.fallback_frame.isVisible() and conv.filename in panel.fallback_text.text()
    qtbot.waitUntil(lambda: panel.weights.info is not None, timeout=RENDER_TIMEOUT)
    assert panel.weights.info["missing"] == [("conv", conv.filename, conv.size_bytes)]
    assert f"{conv.filename} (3.62 GB)" in licence_question(panel.weights.info)
    assert panel.download_weights_button.isVisible()

    _rgba_helpers().write_xl_conv(unet, folder / conv.filename)
    _generate(qtbot, panel)
    layer = win.document.active_layer
    assert isinstance(layer, GeneratedLayer) and layer.params.xl_patch == "conv" and layer.params.mode == "rgba"
    assert layer.pixels.shape == (128, 128, 4) and not panel.fallback_frame.isVisible()
    path = tmp_path / "doc.ora"
    save_ora(win.document, path)
    reopened = [l for l in load_ora(path).walk() if isinstance(l, GeneratedLayer)]
    assert [l.params.xl_patch for l in reopened] == ["conv"]

    panel.xl_patch.setCurrentIndex(panel.xl_patch.findData("attn"))
    _generate(qtbot, panel)
    top = win.document.active_layer
    assert top is not layer and isinstance(top, GeneratedLayer) and top.params.xl_patch == "attn"

    # "Use local weight files" checks a folder in the engine thread: the conv file by its header
    from safetensors.torch import load_file, save_file

    from editor.worker.diffusion import EngineState, weights_validate

    state = EngineState()
    state.model = win.ai.controller.engine.model
    assert weights_validate(state, str(folder)) == {"family": "sdxl", "roles": ["attn", "conv", "decoder"]}
    bad = tmp_path / "bad"
    bad.mkdir()
    tensors = load_file(str(folder / conv.filename))
    tensors["diffusion_model.input_blocks.99.0.op.weight::diff::0"] = next(iter(tensors.values())).clone()
    save_file(tensors, str(bad / conv.filename))
    with pytest.raises(ValueError, match=rf"{conv.filename}: key 'diffusion_model\.input_blocks\.99\.0\.op"):
        weights_validate(state, str(bad))
