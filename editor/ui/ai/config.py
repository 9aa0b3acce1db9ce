"""The AI settings remembered between runs: which model, on which device, hints shown,
which local LayerDiffuse weight folders were picked.

Stored as JSON in ``platformdirs.user_config_dir("layerbrush")/ai.json``; the folder can
be overridden with ``LAYERBRUSH_CONFIG_DIR`` (tests) or the ``folder`` argument.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_SOURCE = "demo"


@dataclass
class AiConfig:
    model: str = ""  # "" = nothing configured: the demo model is used
    device: str = "auto"
    first_run_hint_shown: bool = False
    #: torch.compile the model on NVIDIA GPUs (faster renders, a slow first render per size)
    compile: bool = False
    #: model family ("sd15", "sdxl") -> a folder of LayerDiffuse weight files picked by the user
    layerdiffuse_dirs: dict = field(default_factory=dict)

    @property
    def effective_model(self) -> str:
        return self.model or DEMO_SOURCE


def config_folder(folder: str | Path | None = None) -> Path:
    if folder is not None:
        return Path(folder)
    env = os.environ.get("LAYERBRUSH_CONFIG_DIR")
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("layerbrush", appauthor=False))


def config_path(folder: str | Path | None = None) -> Path:
    return config_folder(folder) / "ai.json"


def load_config(folder: str | Path | None = None) -> AiConfig:
    """The saved settings; defaults when the file is missing. A damaged file is reported
    in the log (naming it) and replaced by defaults, never fatal."""
    path = config_path(folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AiConfig()
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read AI settings (%s); using defaults", path, exc)
        return AiConfig()
    if not isinstance(data, dict):
        log.warning("%s: AI settings must be a JSON object; using defaults", path)
        return AiConfig()
    known = {f.name for f in fields(AiConfig)}
    cfg = AiConfig(**{k: v for k, v in data.items() if k in known})
    if not isinstance(cfg.model, str) or not isinstance(cfg.device, str):
        log.warning("%s: 'model' and 'device' must be strings; using defaults", path)
        return AiConfig()
    cfg.first_run_hint_shown = bool(cfg.first_run_hint_shown)
    cfg.compile = bool(cfg.compile)
    dirs = cfg.layerdiffuse_dirs
    if not isinstance(dirs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in dirs.items()):
        log.warning("%s: 'layerdiffuse_dirs' must map model families to folders; ignoring it", path)
        cfg.layerdiffuse_dirs = {}
    return cfg


def save_config(cfg: AiConfig, folder: str | Path | None = None) -> Path:
    path = config_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(cfg), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
