"""Immutable parameter records of AI layers (saved with the document)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

BRUSH_STATES = ("stale", "rendering", "done", "error")
RGBA_QUALITIES = ("fast", "quality")
RGBA_MODES = ("rgba", "fg2bg", "bg2fg", "joint", "matte")
RGBA_XL_PATCHES = ("attn", "conv")  # SDXL LayerDiffuse: attention LoRA or conv weight offsets
#: what an AI layer on a region does: paint the prompt; fill (a selection: from context when the
#: prompt is empty); remove what is there; vary what is there (img2img); expand into new canvas
BRUSH_VERBS = ("paint", "fill", "remove", "vary", "expand")


@dataclass(frozen=True)
class BrushParams:
    """What a diffusion brush layer renders from (its region lives on the layer)."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    strength: float = 1.0
    steps: int = 5
    guidance: float = 7.5
    seed_locked: bool = False
    verb: str = "paint"
    #: LoRA files merged into the model for this layer: ((path, weight), ...)
    loras: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.verb not in BRUSH_VERBS:
            raise ValueError(f"BrushParams.verb must be one of {', '.join(BRUSH_VERBS)}, got {self.verb!r}")
        _check_str(self, "prompt")
        _check_str(self, "negative_prompt")
        _check_int(self, "seed", 0, 2**32 - 1)
        _check_float(self, "strength", 0.0, 1.0)
        _check_int(self, "steps", 1, 1000)
        _check_float(self, "guidance", 0.0, 100.0)
        object.__setattr__(self, "seed_locked", bool(self.seed_locked))
        object.__setattr__(self, "loras", check_loras(self.loras, type(self).__name__))

    def replace(self, **changes) -> "BrushParams":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "BrushParams":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class BaseParams:
    """How a picture was generated from a prompt (generate_image), so that its denoising
    trajectory can be rebuilt exactly after the file is reopened."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 20
    guidance: float = 7.5
    width: int = 512
    height: int = 512
    #: the LoRA set it was generated with: ((path, weight), ...)
    loras: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_str(self, "prompt")
        _check_str(self, "negative_prompt")
        _check_int(self, "seed", 0, 2**32 - 1)
        _check_int(self, "steps", 1, 1000)
        _check_float(self, "guidance", 0.0, 100.0)
        _check_int(self, "width", 8, 1 << 16)
        _check_int(self, "height", 8, 1 << 16)
        object.__setattr__(self, "loras", check_loras(self.loras, type(self).__name__))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "BaseParams":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class RgbaParams:
    """What a transparent generated layer was made from."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 20
    guidance: float = 7.0
    quality: str = "fast"
    mode: str = "rgba"
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    xl_patch: str = "attn"
    #: LoRA files merged into the model for this layer: ((path, weight), ...)
    loras: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_str(self, "prompt")
        _check_str(self, "negative_prompt")
        _check_int(self, "seed", 0, 2**32 - 1)
        _check_int(self, "steps", 1, 1000)
        _check_float(self, "guidance", 0.0, 100.0)
        if self.quality not in RGBA_QUALITIES:
            raise ValueError(f"RgbaParams.quality must be one of {RGBA_QUALITIES}, got {self.quality!r}")
        if self.mode not in RGBA_MODES:
            raise ValueError(f"RgbaParams.mode must be one of {RGBA_MODES}, got {self.mode!r}")
        if self.xl_patch not in RGBA_XL_PATCHES:
            raise ValueError(f"RgbaParams.xl_patch must be one of {RGBA_XL_PATCHES}, got {self.xl_patch!r}")
        try:
            box = tuple(int(v) for v in self.box)
        except (TypeError, ValueError):
            raise ValueError(f"RgbaParams.box must be 4 integers (x, y, w, h), got {self.box!r}") from None
        if len(box) != 4:
            raise ValueError(f"RgbaParams.box must be 4 integers (x, y, w, h), got {self.box!r}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "loras", check_loras(self.loras, type(self).__name__))

    def replace(self, **changes) -> "RgbaParams":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["box"] = list(self.box)
        d["loras"] = [list(item) for item in self.loras]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "RgbaParams":
        return _from_dict(cls, data)


def check_loras(value, owner: str = "params") -> tuple[tuple[str, float], ...]:
    """A LoRA list as immutable ((path, weight), ...) pairs (from tuples, JSON lists or dicts)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{owner}.loras must be a list of (path, weight) pairs, got {value!r}")
    out = []
    for item in value:
        if isinstance(item, dict):
            item = (item.get("path"), item.get("weight", 1.0))
        try:
            path, weight = item
        except (TypeError, ValueError):
            raise ValueError(f"{owner}.loras: each entry must be (path, weight), got {item!r}") from None
        if not isinstance(path, str) or not path:
            raise ValueError(f"{owner}.loras: a LoRA path must be a non-empty string, got {path!r}")
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise ValueError(f"{owner}.loras: the weight of {path} must be a number, got {weight!r}") from None
        if not -100.0 <= weight <= 100.0:
            raise ValueError(f"{owner}.loras: the weight of {path} must be in [-100, 100], got {weight}")
        out.append((path, weight))
    return tuple(out)


def _from_dict(cls, data: dict):
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}")
    return cls(**data)


def _check_str(obj, name: str) -> None:
    if not isinstance(getattr(obj, name), str):
        raise ValueError(f"{type(obj).__name__}.{name} must be a string, got {getattr(obj, name)!r}")


def _check_int(obj, name: str, lo: int, hi: int) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise ValueError(f"{type(obj).__name__}.{name} must be an integer, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{type(obj).__name__}.{name} must be in [{lo}, {hi}], got {value}")
    object.__setattr__(obj, name, value)


def _check_float(obj, name: str, lo: float, hi: float) -> None:
    value = getattr(obj, name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{type(obj).__name__}.{name} must be a number, got {value!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{type(obj).__name__}.{name} must be in [{lo}, {hi}], got {value}")
    object.__setattr__(obj, name, value)
