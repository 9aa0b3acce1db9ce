"""The engine side of ``layerbrush generate "PROMPT" -o OUT.png --model SOURCE [--size WxH --seed N]``."""
from __future__ import annotations

import re
from pathlib import Path

from .errors import LayerDiffuseUnavailable


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise ValueError(f"--size must look like 512x512 (width x height), got {text!r}")
    return int(m[1]), int(m[2])


def generate_command(prompt: str, output: str | Path, model: str, *, size: str = "512x512", seed: int = 0,
                     steps: int = 20, guidance: float = 7.0, negative_prompt: str = "", quality: str = "fast",
                     weights_dir: str | Path | None = None, matte_fallback: bool = False, device: str = "auto",
                     log=print) -> Path:
    """Generate a transparent PNG; returns its path.

    Without LayerDiffuse weights this raises LayerDiffuseUnavailable, unless
    ``matte_fallback`` is set: then it says so through ``log`` and uses the
    lower-quality GrabCut path.
    """
    from PIL import Image

    from ..models import load_model
    from .pipeline import generate_matte, generate_rgba

    width, height = parse_size(size)
    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"{output}: transparent output must be a .png file")
    loaded = load_model(model, device=device)
    progress = (lambda i, n: log(f"step {i}/{n}")) if log else None
    try:
        rgba = generate_rgba(loaded, prompt, width, height, seed=seed, steps=steps, guidance=guidance,
                             negative_prompt=negative_prompt, quality=quality, weights=weights_dir,
                             progress=progress)
    except LayerDiffuseUnavailable as exc:
        if not matte_fallback:
            raise
        if log:
            log(f"{exc}\nUsing the lower-quality matte fallback (generate on grey, cut out with GrabCut).")
        rgba = generate_matte(loaded, prompt, width, height, seed=seed, steps=steps, guidance=guidance,
                              negative_prompt=negative_prompt, progress=progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(output)
    return output
