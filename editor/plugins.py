"""The plugin API (stable, version 1): filters, exporters and brush presets.

A plugin is any installed Python distribution that declares an entry point in the
group ``layerbrush.plugins``. The entry point names a function that receives a
:class:`PluginContext` and registers what the plugin offers::

    # pyproject.toml of the plugin
    [project.entry-points."layerbrush.plugins"]
    my-filters = "my_package.layerbrush_plugin:register"

    # my_package/layerbrush_plugin.py
    import numpy as np
    from editor.plugins import Param

    def posterize(rgba, levels=4):
        step = 255 / (levels - 1)
        out = rgba.copy()
        out[..., :3] = np.round(np.round(rgba[..., :3] / step) * step).astype(np.uint8)
        return out

    def register(context):
        context.add_filter("Posterize", posterize, params=[Param("levels", 4, minimum=2, maximum=64)])

The contract, all a plugin may rely on (plugins import only ``editor.plugins`` and
``editor.api``):

- A **filter** is ``function(rgba, **params) -> rgba``: ``rgba`` is an HxWx4 uint8
  array of straight (not premultiplied) RGBA, the pixels of one layer; it is the
  filter's own copy, so editing it in place is fine. The result must have the same
  shape and dtype. The editor applies it to the active layer as one undo step,
  blended in through the selection when there is one.
  Optionally a filter declares its ``reach``: how many pixels around a pixel its
  result depends on (0 for colour changes, a function of the parameters for
  blurs); a run limited by a selection then filters only the selected area plus
  that margin, which keeps small selections on big layers fast.
- An **exporter** is ``function(document, path) -> None``: ``document`` is an
  :class:`editor.api.Document`, ``path`` a :class:`pathlib.Path` ending in the
  exporter's extension. The editor hands out a temporary path next to the target
  and moves the finished file into place, so a failing exporter never damages an
  existing file. :func:`layer_image` gives any layer as it looks on its own.
- A **brush preset** is a named set of brush settings (size, hardness, opacity).
- ``Param(name, default, ...)`` describes one filter parameter; its type follows the
  default (bool, int, float, or str with ``choices``). The editor asks the user for
  values before running the filter and validates them against the declaration.

Loading (the editor's side): :func:`load_plugins` walks the entry points, calls
each ``register`` and keeps what registered; a plugin that fails to import or
raises while registering is skipped as a whole and logged as a warning naming the
plugin and the error (``Plugins.failures``). The editor never imports a plugin by
name, its own first-party plugins (the top-level ``plugins`` package) included.
"""
from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from editor import api
from editor.core.compositor import render_layers
from editor.core.document import Document as CoreDocument
from editor.core.errors import LayerLockedError
from editor.core.geometry import Rect
from editor.core.layers import BrushLayer, GroupLayer, Layer, RasterLayer

log = logging.getLogger(__name__)

API_VERSION = 1
ENTRY_POINT_GROUP = "layerbrush.plugins"

__all__ = [
    "API_VERSION", "ENTRY_POINT_GROUP", "Param", "Filter", "Exporter", "BrushPreset", "PluginContext",
    "PluginError", "Plugins", "PluginFailure", "layer_image", "load_plugins", "installed_plugins",
    "apply_filter", "run_filter", "run_exporter",
]


class PluginError(Exception):
    """A plugin misbehaved (bad registration, a filter returning the wrong array, an
    exporter failing). The message names the plugin and what went wrong."""


# --------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Param:
    """One filter parameter. The kind follows ``default``: bool (a checkbox), int or
    float (a number between ``minimum`` and ``maximum``), str (one of ``choices``)."""

    name: str
    default: bool | int | float | str
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    step: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"parameter name must be a Python identifier, got {self.name!r}")
        object.__setattr__(self, "choices", tuple(self.choices))
        if not isinstance(self.default, (bool, int, float, str)):
            raise ValueError(f"parameter {self.name!r}: default must be bool, int, float or str, "
                             f"got {type(self.default).__name__}")
        if isinstance(self.default, str) and self.default not in self.choices:
            raise ValueError(f"parameter {self.name!r}: a text parameter needs choices that include its "
                             f"default {self.default!r}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"parameter {self.name!r}: minimum {self.minimum} is above maximum {self.maximum}")
        self.check(self.default)

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def check(self, value: Any) -> bool | int | float | str:
        """``value`` converted to this parameter's kind; ValueError naming the problem."""
        kind = self.kind
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"parameter {self.name!r} must be true or false, got {value!r}")
            return bool(value)
        if kind is str:
            if value not in self.choices:
                raise ValueError(f"parameter {self.name!r} must be one of {list(self.choices)}, got {value!r}")
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"parameter {self.name!r} must be a number, got {value!r}")
        if kind is int:
            if float(value) != int(value):
                raise ValueError(f"parameter {self.name!r} must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"parameter {self.name!r} must be finite, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"parameter {self.name!r} must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"parameter {self.name!r} must be at most {self.maximum}, got {value}")
        return value


@dataclass(frozen=True)
class Filter:
    """A registered filter; ``id`` is ``"<plugin>:<name slug>"``."""

    id: str
    name: str
    function: Callable[..., np.ndarray]
    params: tuple[Param, ...] = ()
    description: str = ""
    plugin: str = ""
    reach: int | Callable[..., int] | None = None

    def reach_for(self, values: Mapping[str, Any]) -> int | None:
        """How far (pixels) an output pixel depends on its neighbours for these
        resolved parameter values; None: on the whole layer."""
        if self.reach is None:
            return None
        try:
            reach = self.reach(**values) if callable(self.reach) else self.reach
        except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
            raise PluginError(f"filter {self.name!r} (plugin {self.plugin!r}): reach failed: "
                              f"{type(exc).__name__}: {exc}") from exc
        if isinstance(reach, bool) or not isinstance(reach, (int, np.integer)) or reach < 0:
            raise PluginError(f"filter {self.name!r} (plugin {self.plugin!r}) gave a bad reach {reach!r}")
        return int(reach)

    def resolve(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``values``, each checked; unknown names are an error."""
        values = dict(values or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"filter {self.name!r} has no parameter {unknown[0]!r} (it has {sorted(known)})")
        return {p.name: p.check(values.get(p.name, p.default)) for p in self.params}


@dataclass(frozen=True)
class Exporter:
    """A registered exporter; ``extension`` includes the dot (".zip")."""

    id: str
    name: str
    function: Callable[[api.Document, Path], None]
    extension: str
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class BrushPreset:
    """Brush settings by name: size in pixels, hardness and opacity in 0..1."""

    id: str
    name: str
    size: float
    hardness: float = 0.8
    opacity: float = 1.0
    plugin: str = ""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped: its entry point and the error, as one line."""

    plugin: str
    target: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.target}) skipped: {self.error}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "item"


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


class PluginContext:
    """What a plugin's ``register(context)`` receives: it registers through this.
    Nothing registered reaches the editor unless ``register`` returns normally."""

    api_version = API_VERSION

    def __init__(self, plugin_name: str) -> None:
        self.plugin_name = plugin_name
        self.filters: list[Filter] = []
        self.exporters: list[Exporter] = []
        self.brush_presets: list[BrushPreset] = []

    def _new_id(self, name: str, taken: Iterable) -> str:
        item_id = f"{self.plugin_name}:{_slug(name)}"
        if item_id in {t.id for t in taken}:
            raise ValueError(f"plugin {self.plugin_name!r} registers {name!r} twice")
        return item_id

    def add_filter(self, name: str, function: Callable[..., np.ndarray], *, params: Iterable[Param] = (),
                   description: str = "", reach: int | Callable[..., int] | None = None) -> Filter:
        """Register ``function(rgba, **params) -> rgba`` under the menu name ``name``.
        ``reach`` (optional) says how many pixels around a pixel its result depends
        on (0: each pixel alone; a function of the parameters, e.g. ``lambda
        radius: ...``); with it, a selection-limited run filters only the selected
        area plus that margin instead of the whole layer."""
        name = _check_text(name, "filter name")
        if not callable(function):
            raise ValueError(f"filter {name!r}: function must be callable, got {function!r}")
        params = tuple(params)
        for p in params:
            if not isinstance(p, Param):
                raise ValueError(f"filter {name!r}: params must be Param objects, got {p!r}")
        if len({p.name for p in params}) != len(params):
            raise ValueError(f"filter {name!r}: two parameters share a name")
        if not (reach is None or callable(reach) or (isinstance(reach, int) and not isinstance(reach, bool) and reach >= 0)):
            raise ValueError(f"filter {name!r}: reach must be None, a pixel count or a function, got {reach!r}")
        filt = Filter(self._new_id(name, self.filters), name, function, params, description, self.plugin_name, reach)
        self.filters.append(filt)
        return filt

    def add_exporter(self, name: str, function: Callable[[api.Document, Path], None], *, extension: str,
                     description: str = "") -> Exporter:
        """Register ``function(document, path)`` writing one file ending in ``extension``."""
        name = _check_text(name, "exporter name")
        if not callable(function):
            raise ValueError(f"exporter {name!r}: function must be callable, got {function!r}")
        ext = _check_text(extension, f"exporter {name!r}: extension").lower()
        ext = ext if ext.startswith(".") else f".{ext}"
        if not re.fullmatch(r"\.[a-z0-9][a-z0-9._-]*", ext):
            raise ValueError(f"exporter {name!r}: bad file extension {extension!r}")
        exporter = Exporter(self._new_id(name, self.exporters), name, function, ext, description, self.plugin_name)
        self.exporters.append(exporter)
        return exporter

    def add_brush_preset(self, name: str, *, size: float, hardness: float = 0.8, opacity: float = 1.0) -> BrushPreset:
        """Register brush settings: ``size`` in pixels (1..1000), hardness/opacity in 0..1."""
        name = _check_text(name, "brush preset name")
        for what, value, lo, hi in (("size", size, 1, 1000), ("hardness", hardness, 0, 1), ("opacity", opacity, 0, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ValueError(f"brush preset {name!r}: {what} must be a number in {lo}..{hi}, got {value!r}")
        preset = BrushPreset(self._new_id(name, self.brush_presets), name, float(size), float(hardness),
                             float(opacity), self.plugin_name)
        self.brush_presets.append(preset)
        return preset


# --------------------------------------------------------------------- loading
@dataclass
class Plugins:
    """Everything the loaded plugins registered, in load order, plus the failures."""

    filters: dict[str, Filter] = field(default_factory=dict)
    exporters: dict[str, Exporter] = field(default_factory=dict)
    brush_presets: dict[str, BrushPreset] = field(default_factory=dict)
    loaded: list[str] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def filter(self, key: str) -> Filter:
        """A filter by id ("plugin:slug") or by its menu name."""
        return self._find(self.filters, key, "filter")

    def exporter(self, key: str) -> Exporter:
        return self._find(self.exporters, key, "exporter")

    @staticmethod
    def _find(table: dict, key: str, what: str):
        if key in table:
            return table[key]
        for item in table.values():
            if item.name == key:
                return item
        raise KeyError(f"no {what} named {key!r} (installed: {[i.name for i in table.values()]})")

    def add(self, context: PluginContext) -> None:
        for table, items in ((self.filters, context.filters), (self.exporters, context.exporters),
                             (self.brush_presets, context.brush_presets)):
            for item in items:
                table[item.id] = item
        self.loaded.append(context.plugin_name)


def _discover() -> list[metadata.EntryPoint]:
    seen, out = set(), []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (ep.name, ep.value) not in seen:  # editable installs may list a distribution twice
            seen.add((ep.name, ep.value))
            out.append(ep)
    return sorted(out, key=lambda ep: ep.name)


def load_plugins(entry_points: Iterable | None = None) -> Plugins:
    """Load every plugin (``entry_points``: the installed ones by default; any objects
    with ``name``, ``value`` and ``load()``). Broken plugins are skipped and logged."""
    plugins = Plugins()
    for ep in _discover() if entry_points is None else entry_points:
        name = str(getattr(ep, "name", ep))
        target = str(getattr(ep, "value", "?"))
        if name in plugins.loaded:
            _fail(plugins, name, target, "another plugin already uses this name")
            continue
        try:
            register = ep.load()
            if not callable(register):
                raise PluginError(f"{target} is not a function taking the plugin context")
            context = PluginContext(name)
            register(context)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any plugin bug must leave the editor running
            _fail(plugins, name, target, f"{type(exc).__name__}: {exc}")
            continue
        plugins.add(context)
    return plugins


def _fail(plugins: Plugins, name: str, target: str, error: str) -> None:
    failure = PluginFailure(name, target, error)
    plugins.failures.append(failure)
    log.warning("Layerbrush %s", failure)


@lru_cache(maxsize=1)
def installed_plugins() -> Plugins:
    """The installed plugins, loaded once per process (``installed_plugins.cache_clear()``
    forgets them)."""
    return load_plugins()


# --------------------------------------------------------------------- running
def _core(document) -> CoreDocument:
    return document.core if isinstance(document, api.Document) else document


def _layer(layer) -> Layer:
    return layer.layer if isinstance(layer, api.Group) else layer


def layer_image(document, layer) -> np.ndarray:
    """``layer`` as it looks on its own (mask and opacity applied, even when hidden; a
    group composited), document-size HxWx4 uint8 straight RGBA."""
    doc, layer = _core(document), _layer(layer)
    probe = layer.copy()
    probe.visible = True
    probe.blend_mode = "normal"  # alone on transparency a blend mode means nothing
    return render_layers([probe], doc.rect)


def run_filter(filt: Filter, rgba: np.ndarray, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """Run ``filt`` on a copy of ``rgba``; checks the parameters and the result."""
    values = filt.resolve(params)
    try:
        out = filt.function(np.array(rgba, dtype=np.uint8, copy=True), **values)
    except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
        raise PluginError(f"filter {filt.name!r} (plugin {filt.plugin!r}) failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(out, np.ndarray) or out.shape != rgba.shape or out.dtype != np.uint8:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise PluginError(f"filter {filt.name!r} (plugin {filt.plugin!r}) returned {got}, "
                          f"expected uint8 {rgba.shape}")
    return out


def apply_filter(document, layer, filt: Filter, params: Mapping[str, Any] | None = None, *,
                 target: str = "pixels") -> Rect:
    """Filter the pixels (``target="pixels"``) or the mask (``"mask"``: the filter sees
    it as an opaque grey image) of ``layer`` as one undo step, limited to and blended
    in through the document selection when there is one. Returns the changed rect
    (layer-local; empty when nothing changed)."""
    doc, layer = _core(document), _layer(layer)
    if target not in ("pixels", "mask"):
        raise ValueError(f"target must be 'pixels' or 'mask', got {target!r}")
    if target == "pixels" and (not isinstance(layer, RasterLayer) or isinstance(layer, BrushLayer)):
        kind = "a group" if isinstance(layer, GroupLayer) else f"a {layer.kind} layer"
        raise ValueError(f"filters work on pixel layers; {layer.name!r} is {kind}")
    if target == "mask" and layer.mask is None:
        raise ValueError(f"layer {layer.name!r} has no mask to filter")
    if layer.locked:
        raise LayerLockedError(layer)
    array = layer.pixels if target == "pixels" else layer.mask
    ox, oy = layer.offset
    region = Rect(0, 0, array.shape[1], array.shape[0])
    sel = doc.selection
    if sel is not None:
        region = region.translate(ox, oy).intersect(doc.rect).translate(-ox, -oy)
        if not region.is_empty:
            ys, xs = np.nonzero(sel[region.translate(ox, oy).slices])
            if len(ys) == 0:
                return Rect.empty()
            tight = Rect.from_bounds(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            region = tight.translate(region.x, region.y)
    if region.is_empty:
        return Rect.empty()
    # The filter sees the whole layer (blurs need the pixels around the selection) unless
    # it declared how far it reaches: then the selected area plus that margin is enough.
    source = Rect(0, 0, array.shape[1], array.shape[0])
    reach = filt.reach_for(filt.resolve(params)) if sel is not None else None
    if reach is not None:
        source = region.inflate(reach).intersect(source)
    inner = region.translate(-source.x, -source.y).slices
    if target == "pixels":
        out = run_filter(filt, array[source.slices], params)[inner]
    else:
        grey = np.empty((source.h, source.w, 4), np.uint8)
        grey[..., :3] = array[source.slices][..., None]
        grey[..., 3] = 255
        filtered = run_filter(filt, grey, params)[inner]
        out = np.rint(filtered[..., :3].mean(axis=2)).astype(np.uint8)
    if sel is not None:
        w = sel[region.translate(ox, oy).slices].astype(np.uint32)
        if out.ndim == 3:
            w = w[..., None]
        before = array[region.slices].astype(np.uint32)
        out = ((out.astype(np.uint32) * w + before * (255 - w) + 127) // 255).astype(np.uint8)
    label = filt.name if target == "pixels" else f"{filt.name} (mask)"
    return doc.set_pixels(layer, region, np.ascontiguousarray(out), label=label, target=target)


def run_exporter(exporter: Exporter, document, path: str | os.PathLike) -> Path:
    """Write ``document`` with ``exporter`` to ``path`` (the extension is added when
    missing). The plugin writes a temporary file that replaces ``path`` only when it
    succeeded. Returns the final path; PluginError when the exporter fails."""
    path = Path(path)
    if path.suffix.lower() != exporter.extension:
        path = path.with_name(path.name + exporter.extension)
    doc = document if isinstance(document, api.Document) else api.Document(core=document)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=exporter.extension, dir=path.parent)
    except OSError as exc:
        raise OSError(f"cannot write into {path.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        exporter.function(doc, tmp)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise PluginError(f"exporter {exporter.name!r} (plugin {exporter.plugin!r}) wrote nothing")
        os.replace(tmp, path)
    except PluginError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
        raise PluginError(f"exporter {exporter.name!r} (plugin {exporter.plugin!r}) could not write {path}: "
                          f"{type(exc).__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path
