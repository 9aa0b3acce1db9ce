"""Weight registry, hash checks (trust on first use), the download flow (hub call faked), the CLI helper."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from editor.engine.rgba import LayerDiffuseUnavailable, weights
from editor.engine.rgba.cli import generate_command, parse_size
from editor.engine.rgba.weights import LayerWeights, download_weights, verify_file


def test_registry_names_the_published_files():
    assert weights.REPO_ID == "LayerDiffusion/layerdiffusion-v1"
    assert weights.FILES[("sd15", "decoder")].filename == "layer_sd15_vae_transparent_decoder.safetensors"
    assert weights.FILES[("sdxl", "attn")].filename == "layer_xl_transparent_attn.safetensors"
    assert weights.LICENCE_URL.startswith("https://") and "OpenRAIL" in weights.LICENCE_NAME
    with pytest.raises(LayerDiffuseUnavailable, match="only SD1.5 and SDXL"):
        weights.weight_file("sd2", "attn")
    with pytest.raises(LayerDiffuseUnavailable, match="no 'joint' weights for 'sdxl'"):
        weights.weight_file("sdxl", "joint")


def test_trust_on_first_use(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"abc")
    digest = verify_file(f, record_folder=tmp_path)
    assert json.loads((tmp_path / "hashes.json").read_text()) == {"w.safetensors": digest}
    assert verify_file(f, record_folder=tmp_path) == digest
    f.write_bytes(b"abd")
    with pytest.raises(LayerDiffuseUnavailable, match="does not match"):
        verify_file(f, record_folder=tmp_path)
    with pytest.raises(LayerDiffuseUnavailable, match="does not match"):
        verify_file(f, expected_sha256="0" * 64)


def test_local_files_by_path(tmp_path):
    f = tmp_path / "my_decoder.safetensors"
    f.write_bytes(b"x")
    lw = LayerWeights.from_paths("sd15", decoder=f)
    assert lw.files == {"decoder": f}
    with pytest.raises(LayerDiffuseUnavailable, match="layer_sd15_transparent_attn.safetensors"):
        lw.require("rgba")
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        LayerWeights.from_paths("sd15", attn=tmp_path / "nope.safetensors")


def test_download_flow_verifies_and_records(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, *, revision, local_dir):
        calls.append((repo_id, filename, revision))
        path = local_dir / filename
        path.write_bytes(filename.encode())
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    seen = []
    lw = download_weights("sd15", ["decoder"], folder=tmp_path, revision="abc123",
                          progress=lambda done, total: seen.append((done, total)))
    assert calls == [("LayerDiffusion/layerdiffusion-v1", "layer_sd15_vae_transparent_decoder.safetensors", "abc123")]
    assert lw.files["decoder"].read_bytes() == b"layer_sd15_vae_transparent_decoder.safetensors"
    assert "layer_sd15_vae_transparent_decoder.safetensors" in json.loads((tmp_path / "hashes.json").read_text())
    assert seen[-1][0] == seen[-1][1]
    lw.files["decoder"].write_bytes(b"tampered")  # present file: no download, but the hash check fails
    with pytest.raises(LayerDiffuseUnavailable, match="does not match"):
        download_weights("sd15", ["decoder"], folder=tmp_path)
    assert len(calls) == 1


def test_cli_helper(tiny_model_dir, tmp_path):
    assert parse_size("640x320") == (640, 320)
    with pytest.raises(ValueError, match="--size"):
        parse_size("640")
    with pytest.raises(LayerDiffuseUnavailable, match="generate_matte"):
        generate_command("a cat", tmp_path / "o.png", str(tiny_model_dir), size="64x64", steps=1,
                         weights_dir=tmp_path, device="cpu", log=None)
    lines = []
    out = generate_command("a cat", tmp_path / "o.png", str(tiny_model_dir), size="96x64", steps=1,
                           weights_dir=tmp_path, device="cpu", matte_fallback=True, log=lines.append)
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 96, 4)
    assert any("matte fallback" in line for line in lines)
