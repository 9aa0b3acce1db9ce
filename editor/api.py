"""Layerbrush scripting API (stable): build, edit, render and save layered images
without a display, and run the diffusion engine on them.

Example::

    import numpy as np
    from editor import api

    doc = api.new_document(512, 512)
    sky = np.zeros((512, 512, 4), np.uint8)
    sky[...] = (90, 150, 230, 255)
    doc.add_raster_layer("sky", sky)
    group = doc.add_group("props")
    sun = group.add_raster_layer("sun", np.full((64, 64, 4), 255, np.uint8))
    sun.offset = (400, 40)
    sun.blend_mode = "screen"          # OpenRaster name without "svg:"
    sun.opacity = 0.8
    doc.save("scene.ora")              # or .psd, .png, .jpg, .webp, .tif
    rgba = doc.render()                # HxWx4 uint8, straight alpha

    # AI layers (needs the engine: torch + diffusers)
    model = api.load_model("demo")     # a hub id, a diffusers folder or a .safetensors file
    region = np.zeros((512, 512), np.uint8)
    region[300:450, 100:300] = 255
    doc.add_brush_layer(region, "a red fox", seed=3, strength=0.8)
    api.render_layers(doc, model)      # renders every stale brush layer
    asset = api.generate_rgba(model, "a glass bottle", 512, 512, seed=1)

    same = api.open_document("scene.ora")
    print([layer.name for layer in same.layers])   # bottom -> top
    print(same.warnings)               # what opening converted or left out (PSD fills, ...)
    lost = doc.save("scene.psd")       # what the format could not keep (also UserWarning)

Layers returned here are the editor's own layer objects (``editor.core.layers``)
with ``name``, ``visible``, ``opacity`` (0..1), ``blend_mode``, ``offset`` (x, y),
``locked``, ``clipped`` (a clipping mask onto the layer below), ``pixels`` (HxWx4
uint8, raster layers) and ``mask`` (HxW uint8 or None, with ``mask_enabled`` /
``mask_inverted``); groups come wrapped as
:class:`Group`, which adds ``add_raster_layer`` / ``add_group`` /
``add_brush_layer`` and passes every other attribute to the group layer.
Setting an attribute takes effect immediately (no undo step); the ``add_*``
methods are undoable steps of ``doc.core.history``.

The AI functions import the engine (torch) only when called, so ``import
editor.api`` stays light.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from editor.core.document import Document as CoreDocument
from editor.core.layers import BrushLayer, GroupLayer, Layer, RasterLayer
from editor.core.verbs import add_above, layer_region, make_layer
from editor.io.errors import FileFormatError
from editor.io.flatten import flatten
from editor.io.project import export_layers, open_document as _open_document, save_document

__all__ = [
    "Document", "Group", "FileFormatError", "new_document", "open_document", "load_model", "render_layers",
    "generate_image", "generate_rgba", "expand_canvas",
]


def _check_rgba(rgba: Any, what: str) -> np.ndarray:
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4 or arr.dtype != np.uint8:
        raise ValueError(f"{what} must be an HxWx4 uint8 array, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


class _Container:
    """What documents and groups share: adding layers to a parent group."""

    _doc: CoreDocument
    _group: GroupLayer

    def add_raster_layer(
        self, name: str, rgba: np.ndarray, *, offset: tuple[int, int] = (0, 0), opacity: float = 1.0,
        blend_mode: str = "normal", visible: bool = True,
    ) -> RasterLayer:
        """Add a pixel layer on top (``rgba``: HxWx4 uint8, straight alpha, copied)."""
        layer = RasterLayer(name, _check_rgba(rgba, "rgba").copy(), offset=offset, opacity=opacity,
                            blend_mode=blend_mode, visible=visible)
        self._doc.add_layer(layer, parent=self._group)
        return layer

    def add_group(self, name: str, *, isolated: bool = True, opacity: float = 1.0,
                  blend_mode: str = "normal", visible: bool = True, render_together: bool = False) -> Group:
        """Add a group on top; returns it (add layers to it the same way). ``render_together``:
        its brush layers render in one pass over their common window (regions in one pass)."""
        group = GroupLayer(name, isolated=isolated, opacity=opacity, blend_mode=blend_mode, visible=visible,
                           render_together=render_together)
        self._doc.add_layer(group, parent=self._group)
        return Group(self._doc, group)

    def add_brush_layer(
        self, mask: np.ndarray, prompt: str, *, seed: int = 0, strength: float | None = None,
        steps: int | None = None, guidance: float | None = None, negative_prompt: str = "",
        name: str | None = None, model=None, loras=None,
    ) -> BrushLayer:
        """Add a diffusion brush layer that edits where ``mask`` (HxW uint8, document
        size, 255 = edit) is set. It starts stale: :func:`render_layers` renders it.
        strength / steps / guidance left out take the defaults of ``model``'s profile (the
        bundled demo model's when no model is given), as a new layer in the window does.
        loras: ((path, weight), ...) LoRA files merged into the model for this layer (default:
        the document's list, :attr:`Document.default_loras`)."""
        return self._add_region_layer("paint", mask, prompt, seed=seed, strength=strength, steps=steps,
                                      guidance=guidance, negative_prompt=negative_prompt, name=name, model=model,
                                      loras=loras)

    def add_fill_layer(self, mask: np.ndarray, prompt: str = "", **params) -> BrushLayer:
        """Generative fill: ``mask`` (e.g. the selection) is filled with what ``prompt`` says,
        or from its surroundings when the prompt is empty. Takes add_brush_layer's keywords."""
        return self._add_region_layer("fill", mask, prompt, **params)

    def add_remove_layer(self, mask: np.ndarray, *, prompt: str = "", negative_prompt: str = "",
                         **params) -> BrushLayer:
        """Remove what lies under ``mask``: it is replaced by plausible surroundings.
        ``negative_prompt`` may name the object (it is steered away from); ``prompt`` what to
        put instead (default: nothing in particular)."""
        return self._add_region_layer("remove", mask, prompt, negative_prompt=negative_prompt, **params)

    def add_vary_layer(self, strength: float | None = None, prompt: str = "", mask: np.ndarray | None = None,
                       *, layer: Layer | None = None, **params) -> BrushLayer:
        """A variation (img2img) of the picture under ``mask``, of ``layer``'s pixels (the new
        layer goes right above it), or of the whole canvas, with ``strength`` (0 keeps it, 1
        re-imagines it; default: the model profile's)."""
        if mask is None:
            mask = layer_region(self._doc, layer) if layer is not None else np.full(
                (self._doc.height, self._doc.width), 255, np.uint8)
        new = self._add_region_layer("vary", mask, prompt, strength=strength, above=layer, **params)
        return new

    def _add_region_layer(self, verb: str, mask, prompt: str, *, model=None, above: Layer | None = None,
                          **params) -> BrushLayer:
        layer = make_layer(self._doc, verb, mask, prompt, _profile(model), **params)
        return add_above(self._doc, layer, above, self._group)

    def add_base_layer(self, model, prompt: str, *, seed: int = 0, steps: int = 20, guidance: float = 7.5,
                       negative_prompt: str = "", name: str | None = None, progress=None,
                       loras=None) -> RasterLayer:
        """Generate a picture of the document's size from ``prompt`` and add it as a pixel layer
        that remembers how it was made (saved in .ora): brushes on it follow its true
        denoising trajectory, also after the file is reopened (as Generate base does).
        ``loras`` None: the document's list."""
        from editor.core.params import BaseParams
        from editor.engine.base import generate_image as _generate

        params = BaseParams(prompt=prompt, negative_prompt=negative_prompt, seed=seed, steps=steps,
                            guidance=guidance, width=self._doc.width, height=self._doc.height,
                            loras=self._doc.default_loras if loras is None else loras)
        rgba = _generate(model, prompt, params.width, params.height, seed=seed, steps=steps, guidance=guidance,
                         negative_prompt=negative_prompt, progress=progress, loras=params.loras)
        layer = RasterLayer(name or f"Base: {prompt[:24]}", rgba, generated_from=params)
        self._doc.add_layer(layer, parent=self._group)
        return layer

    @property
    def layers(self) -> list:
        """Child layers bottom -> top (groups wrapped as :class:`Group`)."""
        return [_wrap(self._doc, child) for child in self._group.children]


def _profile(model):
    from editor.core.profiles import DEMO

    return DEMO if model is None else model.profile


def _wrap(doc: CoreDocument, layer: Layer):
    return Group(doc, layer) if isinstance(layer, GroupLayer) else layer


class Group(_Container):
    """A group layer of a document; unknown attributes go to the group layer itself."""

    __slots__ = ("_doc", "_group")

    def __init__(self, doc: CoreDocument, group: GroupLayer):
        object.__setattr__(self, "_doc", doc)
        object.__setattr__(self, "_group", group)

    @property
    def layer(self) -> GroupLayer:
        """The underlying ``editor.core.layers.GroupLayer``."""
        return self._group

    def __getattr__(self, name: str):
        return getattr(self._group, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._group, name, value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Group) and other._group is self._group

    def __hash__(self) -> int:
        return hash(id(self._group))

    def __repr__(self) -> str:
        return f"<Group {self._group.name!r} with {len(self._group.children)} layers>"


class Document(_Container):
    """A layered image. ``core`` is the editor's own document (events, history)."""

    def __init__(self, width: int | None = None, height: int | None = None, *, core: CoreDocument | None = None):
        if core is None:
            if width is None or height is None:
                raise ValueError("Document needs a width and a height (or core=...)")
            core = CoreDocument(width, height)
        self.core = core
        self._doc = core
        self._group = core.root
        #: what opening the file converted or left out (see ``open_document``)
        self.warnings: list[str] = []

    @property
    def width(self) -> int:
        return self.core.width

    @property
    def height(self) -> int:
        return self.core.height

    @property
    def size(self) -> tuple[int, int]:
        return self.core.size

    @property
    def metadata(self) -> dict:
        return self.core.metadata

    @property
    def default_loras(self) -> tuple[tuple[str, float], ...]:
        """The document's LoRA list ``((path, weight), ...)``, saved in the .ora: new AI layers
        take it unless given their own. Setting it is one undo step."""
        return self.core.default_loras

    @default_loras.setter
    def default_loras(self, loras) -> None:
        self.core.set_default_loras(loras)

    def walk(self) -> list:
        """Every layer depth-first, bottom -> top (a group after its children)."""
        return [_wrap(self.core, layer) for layer in self.core.walk()]

    def find(self, layer_id: str):
        layer = self.core.find(layer_id)
        return None if layer is None else _wrap(self.core, layer)

    def remove_layer(self, layer) -> None:
        self.core.remove_layer(layer.layer if isinstance(layer, Group) else layer)

    def render(self) -> np.ndarray:
        """The flattened image, HxWx4 uint8 straight RGBA."""
        return flatten(self.core)

    def save(self, path: str | os.PathLike) -> list[str]:
        """Save atomically; the format follows the extension (.ora keeps everything,
        .psd layers, .png/.jpg/.webp/.tif the flattened image). Returns the warnings:
        what the format could not keep (also issued as Python ``UserWarning``)."""
        warnings: list[str] = []
        save_document(self.core, path, warnings)
        _warn(path, warnings)
        return warnings

    def export_layers(self, folder: str | os.PathLike) -> list:
        """Write every pixel layer as a document-size PNG into ``folder``."""
        return export_layers(self.core, folder)

    def __repr__(self) -> str:
        return f"<Document {self.width}x{self.height}, {len(self.layers)} top-level layers>"


def new_document(width: int, height: int) -> Document:
    """An empty, transparent document."""
    return Document(width, height)


def open_document(path: str | os.PathLike) -> Document:
    """Open .ora, .psd/.psb, .png, .jpg, .webp or .tif (raises FileFormatError on bad
    files). What was converted or left out (a Photoshop adjustment layer, a fill
    layer turned into pixels, ...) is in the document's ``warnings`` list and is
    issued as Python ``UserWarning``."""
    warnings: list[str] = []
    doc = Document(core=_open_document(path, warnings))
    doc.warnings = warnings
    _warn(path, warnings)
    return doc


def _warn(path, warnings: list[str]) -> None:
    import warnings as _warnings

    for message in warnings:
        _warnings.warn(f"{os.fspath(path)}: {message}", UserWarning, stacklevel=3)


# --------------------------------------------------------------------- AI (engine loaded lazily)
def load_model(source: str | os.PathLike, device: str = "auto", **kwargs):
    """Load a diffusion model: "demo", a hub id, a diffusers folder or a .safetensors file."""
    from editor.engine.models import load_model as _load

    return _load(source, device, **kwargs)


def _core(document) -> CoreDocument:
    return document.core if isinstance(document, Document) else document


def stale_brush_layers(document) -> list[BrushLayer]:
    """Brush layers that need rendering, bottom -> top."""
    return [l for l in _core(document).walk() if isinstance(l, BrushLayer) and l.state in ("stale", "error")]


def render_layers(document, model, *, progress=None, all_layers: bool = False) -> int:
    """Render every stale diffusion brush layer (every one with ``all_layers``), bottom to
    top, blocking.

    Each layer's source is the composite of the non-brush layers below it, flattened on
    white, in the layer's working window: the same request the window's worker builds
    (``editor.render_path``). Returns the number of layers rendered. A failing layer is
    marked ``state="error"`` (with ``layer.error``) and the exception propagates.
    """
    from editor.core.compositor import Compositor
    from editor.engine.brush import BrushEngine
    from editor.render_path import render_brush_layers

    doc = _core(document)
    compositor = Compositor(doc)
    try:
        layers = [l for l in doc.walk() if isinstance(l, BrushLayer)] if all_layers else stale_brush_layers(doc)
        return render_brush_layers(doc, BrushEngine(model), model.profile, compositor, layers, progress=progress)
    finally:
        compositor.close()


def expand_canvas(document, model, *, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0,
                  prompt: str = "", seed: int = 0, progress=None) -> BrushLayer | None:
    """Grow the canvas by these many pixels on each side and generate the new area from the
    surrounding picture as its own layer (an "expand" layer on top, rendered now). Returns
    the layer (None when nothing grew). Negative values crop, as Canvas Size does."""
    from editor.core.compositor import Compositor
    from editor.core.verbs import expand
    from editor.engine.brush import BrushEngine
    from editor.render_path import render_brush_layers

    doc = _core(document)
    # one step: a failed render undoes the resize too, and the document is as it was
    with doc.history.group("Expand Canvas"):
        layer = expand(doc, model.profile, left=left, top=top, right=right, bottom=bottom, prompt=prompt, seed=seed)
        if layer is None:
            return None
        compositor = Compositor(doc)
        try:
            render_brush_layers(doc, BrushEngine(model), model.profile, compositor, [layer], progress=progress)
        finally:
            compositor.close()
    return layer


def generate_image(model, prompt: str, width: int, height: int, *, seed: int = 0, steps: int = 20,
                   guidance: float = 7.5, negative_prompt: str = "", progress=None, loras=()) -> np.ndarray:
    """Generate an opaque HxWx4 uint8 picture from a prompt, with LoRAs ((path, weight), ...)."""
    from editor.engine.base import generate_image as _generate

    return _generate(model, prompt, width, height, seed=seed, steps=steps, guidance=guidance,
                     negative_prompt=negative_prompt, progress=progress, loras=tuple(loras))


def generate_rgba(model, prompt: str, width: int, height: int, *, seed: int = 0, steps: int = 20,
                  guidance: float = 7.0, negative_prompt: str = "", quality: str = "fast",
                  progress=None, **kwargs) -> np.ndarray:
    """Generate a transparent HxWx4 uint8 asset (straight alpha) from a prompt."""
    from editor.engine.rgba import generate_rgba as _generate

    return _generate(model, prompt, width, height, seed=seed, steps=steps, guidance=guidance,
                     negative_prompt=negative_prompt, quality=quality, progress=progress, **kwargs)
