"""The shipped demo model: standard diffusers layout, .safetensors only, small, offline loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from editor.engine.models import demo_model_path

MAX_WEIGHT_BYTES = 25_000_000
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
REPO = Path(__file__).resolve().parents[3]


def test_demo_folder_is_a_standard_diffusers_layout():
    folder = demo_model_path()
    assert folder == REPO / "resources" / "demo_model"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    for part in ("tokenizer", "text_encoder", "vae", "unet", "scheduler"):
        assert index[part][0] in ("diffusers", "transformers"), part
    assert (folder / "tokenizer" / "vocab.json").is_file()
    assert (folder / "tokenizer" / "merges.txt").read_text().startswith("#version: 0.2")
    weights = sorted(folder.rglob("*.safetensors"))
    assert {p.parent.name for p in weights} == {"text_encoder", "vae", "unet", "layerdiffuse"}
    # the pipeline's own parts, and its latent-transparency weights (at most 15 MB more)
    transparency = [p for p in weights if p.parent.name == "layerdiffuse"]
    assert sum(p.stat().st_size for p in weights if p not in transparency) <= MAX_WEIGHT_BYTES
    assert sum(p.stat().st_size for p in transparency) <= 15_000_000
    assert not [p for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES]


def test_demo_model_loads_without_network(tmp_path):
    # A fresh process with an empty HF cache, offline mode on and every socket connection
    # refused: loading the demo model must not need (or try) the network.
    code = r"""
import socket

def refuse(*args, **kwargs):
    raise OSError("network access attempted while loading the demo model")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from editor.engine.models import load_model

model = load_model("demo", device="cpu")
pipe = model.pipe
ids = pipe.tokenizer("a red circle on a blue background", return_tensors="pt").input_ids
emb = pipe.text_encoder(ids)[0]
print("LOADED", model.family, model.native_size, type(pipe).__name__, tuple(emb.shape), pipe.unet.dtype)
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("LOADED")][0]
    assert line.split()[1:4] == ["sd15", "256", "StableDiffusionPipeline"], line
    assert "torch.float32" in line  # the CPU path loads fp16-stored weights as fp32


def test_native_size_and_tokenizer(demo_model):
    assert demo_model.native_size == 256
    tok = demo_model.pipe.tokenizer
    # One token per caption word (plus start and end tokens).
    text = "an orange triangle on a purple and white gradient background"
    assert len(tok(text).input_ids) == len(text.split()) + 2
