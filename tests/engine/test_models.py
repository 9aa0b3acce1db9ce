"""Model loading: diffusers folders, single safetensors files, pickles refused, hub cache offline."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from editor.engine.base import generate_image
from editor.engine.errors import ModelLoadError, PickleRefused
from editor.engine.models import demo_model_path, detect_turbo, load_model
from editor.engine.single_file import detect_family
from editor.engine.tiny import build_tiny_pipeline

sys.path.insert(0, str(Path(__file__).parent))
from ldm_export import export_sd15_single_file  # noqa: E402


def test_load_diffusers_folder(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu")
    assert model.family == "sd15" and model.device == "cpu" and str(model.dtype) == "torch.float32"
    assert model.native_size == 512 and not model.is_turbo
    assert model.source == str(tiny_model_dir)
    assert model.pipe.unet.device.type == "cpu"


def test_sdxl_folder_is_recognised(tiny_sdxl_dir):
    assert load_model(tiny_sdxl_dir, device="cpu").family == "sdxl"


def test_single_safetensors_file_loads_offline_and_matches_the_folder(tmp_path):
    folder = build_tiny_pipeline(tmp_path / "ldm_tiny", ldm_compatible=True)
    reference = load_model(folder, device="cpu")
    ckpt = tmp_path / "tiny-sd15.safetensors"
    export_sd15_single_file(reference.pipe, ckpt)
    model = load_model(ckpt, device="cpu", tokenizer=folder / "tokenizer")
    assert model.family == "sd15" and model.source == str(ckpt)
    a = generate_image(reference, "a cat", 64, 64, steps=2)
    b = generate_image(model, "a cat", 64, 64, steps=2)
    assert np.array_equal(a, b)


def test_family_detection_by_keys():
    unet = {"model.diffusion_model.input_blocks.0.0.weight": 0}
    assert detect_family({**unet, "cond_stage_model.transformer.text_model.x": 0}) == "sd15"
    assert detect_family({**unet, "cond_stage_model.model.transformer.resblocks.0.x": 0}) == "sd2"
    assert detect_family({**unet, "conditioner.embedders.0.transformer.x": 0,
                          "conditioner.embedders.1.model.x": 0}) == "sdxl"
    with pytest.raises(ModelLoadError, match="not a Stable Diffusion checkpoint"):
        detect_family({"foo": 0}, "x.safetensors")


@pytest.mark.parametrize("suffix", [".ckpt", ".bin", ".pt", ".pth"])
def test_pickle_checkpoints_are_refused_by_name(tmp_path, suffix):
    bad = tmp_path / f"model{suffix}"
    bad.write_bytes(b"not read")
    with pytest.raises(PickleRefused) as info:
        load_model(bad, device="cpu")
    assert str(bad) in str(info.value) and "allow_pickle" in str(info.value)


def test_folder_with_only_pickle_weights_is_refused(tmp_path, tiny_model_dir):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    weights = next((folder / "unet").glob("*.safetensors"))
    weights.rename(folder / "unet" / "diffusion_pytorch_model.bin")
    with pytest.raises(PickleRefused, match="unet"):
        load_model(folder, device="cpu")


def test_bad_sources_name_the_problem(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(tmp_path / "missing-folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="model_index.json"):
        load_model(tmp_path / "empty")
    other = tmp_path / "weights.onnx"
    other.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="unsupported model file type"):
        load_model(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="junk.safetensors"):
        load_model(junk)


def test_demo_source():
    if (demo_model_path() / "model_index.json").is_file():
        assert load_model("demo", device="cpu").source == "demo"
    else:
        with pytest.raises(ModelLoadError, match="demo model is missing"):
            load_model("demo")


def test_turbo_detection(tiny_model):
    assert detect_turbo("stabilityai/sd-turbo", tiny_model.pipe)
    assert detect_turbo("/models/dreamshaper-lcm", tiny_model.pipe)
    assert not detect_turbo("runwayml/stable-diffusion-v1-5", tiny_model.pipe)


def _fake_hub_cache(home: Path, repo: str, folder: Path) -> None:
    """Lay out folder as huggingface_hub's cache stores a downloaded snapshot."""
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    root = home / "hub" / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    shutil.copytree(folder, root / "snapshots" / commit)


def test_hub_id_loads_from_the_local_cache_without_network(tmp_path, tiny_model_dir):
    home = tmp_path / "hf_home"
    _fake_hub_cache(home, "someone/tiny-sd", tiny_model_dir)
    script = textwrap.dedent("""
        import socket
        def no_network(*a, **k):
            raise OSError("network access attempted")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        from editor.engine.models import load_model
        m = load_model("someone/tiny-sd", device="cpu")
        print("LOADED", m.family, m.source)
        try:
            load_model("someone/not-cached", device="cpu")
        except Exception as exc:
            print("MISSING", type(exc).__name__, exc)
    """)
    env = dict(os.environ, HF_HOME=str(home), HF_HUB_OFFLINE="1")
    env.pop("HF_HUB_CACHE", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert "LOADED sd15 someone/tiny-sd" in out.stdout, out.stderr[-2000:]
    assert "MISSING ModelLoadError someone/not-cached" in out.stdout


def test_hub_file_selection_prefers_safetensors_and_variant():
    from editor.engine.hub import select_files

    names = ["model_index.json", "v1-5-pruned.ckpt", "v1-5-pruned.safetensors", "unet/config.json",
             "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.safetensors",
             "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.non_ema.safetensors",
             "safety_checker/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
             "scheduler/scheduler_config.json"]
    assert sorted(select_files(names, prefer_fp16=False, allow_pickle=False)) == sorted(
        ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "tokenizer/vocab.json",
         "tokenizer/merges.txt", "scheduler/scheduler_config.json"])
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in select_files(names, prefer_fp16=True, allow_pickle=False)


def test_single_file_without_a_cached_tokenizer_is_refused_not_silently_promptless(tmp_path, monkeypatch):
    """Offline with an empty cache, transformers hands back a 2-token CLIP tokenizer
    (every prompt becomes unknown tokens). The load must refuse, naming the tokenizer."""
    from transformers import CLIPTokenizer

    from editor.engine.single_file import resolve_tokenizers, usable_tokenizer

    import socket

    from editor.engine.single_file import TOKENIZERS

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise OSError("tests never reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    original = CLIPTokenizer.from_pretrained.__func__

    def offline(cls, name, *args, **kwargs):  # never the network: as if offline
        kwargs["local_files_only"] = True
        return original(cls, name, *args, **kwargs)

    monkeypatch.setattr(CLIPTokenizer, "from_pretrained", classmethod(offline))
    repo = TOKENIZERS["sd15"][0][0]  # resolved from the (empty) local cache only
    placeholder = CLIPTokenizer.from_pretrained(repo, cache_dir=str(tmp_path / "c"))
    assert not usable_tokenizer(placeholder)  # the silent failure this guards against
    with pytest.raises(ModelLoadError) as info:
        resolve_tokenizers("sd15", None, Path("model.safetensors"))
    text = str(info.value)
    assert "model.safetensors" in text and repo in text and "ignored" in text
    assert "tokenizer=" in text


def test_a_tokenizer_folder_that_knows_no_words_is_refused(tmp_path):
    import json

    from editor.engine.single_file import resolve_tokenizers

    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(ModelLoadError, match="unknown tokens"):
        resolve_tokenizers("sd15", folder, Path("model.safetensors"))


def test_a_folder_with_missing_parts_names_them(tmp_path):
    import json
    import shutil

    def broken(edit):
        folder = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
        shutil.copytree(demo_model_path(), folder)
        index = json.loads((folder / "model_index.json").read_text())
        edit(folder, index)
        (folder / "model_index.json").write_text(json.dumps(index))
        with pytest.raises(ModelLoadError) as info:
            load_model(folder, device="cpu")
        return str(info.value)

    text = broken(lambda f, i: [i.pop(k) for k in list(i) if k not in ("unet", "vae")])
    assert "lists no scheduler, text_encoder, tokenizer" in text and "KeyError" not in text
    assert "model_index.json" in text
    text = broken(lambda f, i: shutil.rmtree(f / "text_encoder"))
    assert "lists text_encoder but there is no text_encoder folder" in text
    text = broken(lambda f, i: (f / "vae" / "config.json").unlink())
    assert "vae" in text and "no config.json" in text
    assert "_class_name" in broken(lambda f, i: i.pop("_class_name"))
