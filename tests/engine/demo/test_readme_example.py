"""The README's scripting example runs as printed and does what it says on the demo model."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from editor.engine.demo import shapes

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_scripting_example(tmp_path, monkeypatch, demo_model):
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    from editor import api

    monkeypatch.setattr(api, "load_model", lambda source, *a, **k: demo_model if source == "demo" else None)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    doc, picture, region = scope["doc"], scope["picture"], scope["region"]
    assert (tmp_path / "scene.ora").is_file()
    base = doc.layers[0]
    assert base.generated_from is not None and base.generated_from.prompt.startswith("a red circle")
    palette = np.asarray([shapes.COLORS[c] for c in shapes.COLOR_NAMES], np.float32)
    nearest = (((picture[..., None, :3].astype(np.float32) - palette) ** 2).sum(-1)).argmin(-1)
    inside = region == 255
    assert (nearest[inside] == shapes.COLOR_NAMES.index("blue")).mean() > 0.1, "the brush painted no blue"
