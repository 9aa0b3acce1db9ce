"""The layer tree: evented layer objects (no pixels of the composite live here)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
from psygnal import Signal, SignalGroup

from .blend import check_mode
from .geometry import Rect
from .params import BRUSH_STATES, BrushParams, RgbaParams

if TYPE_CHECKING:
    from .document import Document


# ----------------------------------------------------------------------- validators
def _check_rgba(value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 3 or value.shape[2] != 4 or value.dtype != np.uint8:
        desc = f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray) else repr(type(value))
        raise ValueError(f"pixels must be an HxWx4 uint8 array, got {desc}")
    return value


def _check_gray(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.dtype != np.uint8:
        desc = f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray) else repr(type(value))
        raise ValueError(f"{what} must be an HxW uint8 array, got {desc}")
    return value


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"layer name must be a string, got {value!r}")
    return value


def _check_opacity(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"opacity must be a number in 0..1, got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"opacity must be in 0..1, got {value}")
    return value


def _check_offset(value: Any) -> tuple[int, int]:
    try:
        x, y = value
        return int(x), int(y)
    except (TypeError, ValueError):
        raise ValueError(f"offset must be a pair of integers (x, y), got {value!r}") from None


def _check_state(value: Any) -> str:
    if value not in BRUSH_STATES:
        raise ValueError(f"state must be one of {BRUSH_STATES}, got {value!r}")
    return value


def _check_error(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"error must be a string or None, got {value!r}")
    return value


def _check_type(cls):
    def check(value):
        if not isinstance(value, cls):
            raise ValueError(f"expected {cls.__name__}, got {value!r}")
        return value

    return check


class _Prop:
    """An evented, validated attribute: setting it emits ``layer.events.<name>``
    and tells the document (``layer_changed`` / ``pixels_changed``)."""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.attr = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return getattr(obj, self.attr)

    def __set__(self, obj, value) -> None:
        value = self.check(value)
        obj._set_prop(self.name, value)


# ---------------------------------------------------------------------------- events
class LayerEvents(SignalGroup):
    name = Signal(object)
    visible = Signal(object)
    opacity = Signal(object)
    blend_mode = Signal(object)
    locked = Signal(object)
    offset = Signal(object)
    mask = Signal(object)
    mask_enabled = Signal(object)
    mask_inverted = Signal(object)
    clipped = Signal(object)


class RasterLayerEvents(LayerEvents):
    pixels = Signal(object)


class GroupLayerEvents(LayerEvents):
    isolated = Signal(object)
    render_together = Signal(object)
    children = Signal()


class BrushLayerEvents(RasterLayerEvents):
    params = Signal(object)
    region = Signal(object)
    state = Signal(object)
    error = Signal(object)
    error_kind = Signal(object)


class GeneratedLayerEvents(RasterLayerEvents):
    params = Signal(object)
    state = Signal(object)
    error = Signal(object)


# ---------------------------------------------------------------------------- layers
class Layer:
    """Base of every layer. Properties are evented (``layer.events.<name>``).

    The mask is an HxW uint8 array (255 = visible) or None, in layer-local
    coordinates at ``offset``; ``mask_enabled`` / ``mask_inverted`` say how it
    applies. For raster layers it has the pixels' size.

    ``clipped`` makes a clipping mask (Photoshop) / inherited alpha (Krita): the
    layer shows only where the nearest unclipped sibling below it (its base)
    has pixels, and the base's opacity and blend mode apply to the stack.
    """

    _events_class = LayerEvents
    kind = "layer"

    name = _Prop(_check_name)
    visible = _Prop(bool)
    opacity = _Prop(_check_opacity)
    blend_mode = _Prop(check_mode)
    locked = _Prop(bool)
    offset = _Prop(_check_offset)
    mask_enabled = _Prop(bool)
    mask_inverted = _Prop(bool)
    clipped = _Prop(bool)

    def __init__(
        self,
        name: str = "Layer",
        *,
        visible: bool = True,
        opacity: float = 1.0,
        blend_mode: str = "normal",
        locked: bool = False,
        offset: tuple[int, int] = (0, 0),
        mask: np.ndarray | None = None,
        mask_enabled: bool = True,
        mask_inverted: bool = False,
        clipped: bool = False,
        id: str | None = None,
    ) -> None:
        self.events = self._events_class()
        self.id = id if id is not None else uuid.uuid4().hex
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"layer id must be a non-empty string, got {id!r}")
        self.parent: GroupLayer | None = None
        self._name = _check_name(name)
        self._visible = bool(visible)
        self._opacity = _check_opacity(opacity)
        self._blend_mode = check_mode(blend_mode)
        self._locked = bool(locked)
        self._offset = _check_offset(offset)
        self._mask_enabled = bool(mask_enabled)
        self._mask_inverted = bool(mask_inverted)
        self._clipped = bool(clipped)
        self._mask = None
        if mask is not None:
            self._mask = self._check_mask(mask)

    # ------------------------------------------------------------------ mask
    @property
    def mask(self) -> np.ndarray | None:
        return self._mask

    @mask.setter
    def mask(self, value: np.ndarray | None) -> None:
        old = self._mask
        value = None if value is None else self._check_mask(value)
        self._mask = value
        self.events.mask.emit(value)
        doc = self.document
        if doc is not None:
            doc._layer_prop_changed(self, "mask", old)

    def _check_mask(self, value) -> np.ndarray:
        return _check_gray(value, f"mask of layer {self._name!r}")

    def effective_mask(self) -> np.ndarray | None:
        """The mask compositing uses (inverted if asked), or None when absent/disabled."""
        if self._mask is None or not self._mask_enabled:
            return None
        return 255 - self._mask if self._mask_inverted else self._mask

    @property
    def has_mask(self) -> bool:
        return self._mask is not None

    # ------------------------------------------------------------- geometry
    def bounds(self) -> Rect:
        """Document-space rect of this layer's content (may lie partly outside the document)."""
        if self._mask is not None:
            return Rect.of_array(self._mask, self._offset)
        return Rect(self._offset[0], self._offset[1], 0, 0)

    # ------------------------------------------------------------------ tree
    @property
    def document(self) -> "Document | None":
        node = self
        while node.parent is not None:
            node = node.parent
        return getattr(node, "_document", None)

    @property
    def path(self) -> tuple[int, ...]:
        """Indices from the root down to this layer."""
        out = []
        node = self
        while node.parent is not None:
            out.append(node.parent.children.index(node))
            node = node.parent
        return tuple(reversed(out))

    def ancestors(self) -> Iterator["GroupLayer"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def is_effectively_visible(self) -> bool:
        return self._visible and all(g._visible for g in self.ancestors())

    # ----------------------------------------------------------- internals
    def _set_prop(self, name: str, value) -> None:
        attr = "_" + name
        old = getattr(self, attr)
        if _same(old, value):
            return
        setattr(self, attr, value)
        getattr(self.events, name).emit(value)
        doc = self.document
        if doc is not None:
            doc._layer_prop_changed(self, name, old)

    def _copy_common(self) -> dict:
        return dict(
            visible=self._visible,
            opacity=self._opacity,
            blend_mode=self._blend_mode,
            locked=self._locked,
            offset=self._offset,
            mask=None if self._mask is None else self._mask.copy(),
            mask_enabled=self._mask_enabled,
            mask_inverted=self._mask_inverted,
            clipped=self._clipped,
        )

    def copy(self, name: str | None = None) -> "Layer":
        """A deep copy with a new id (and new ids for children)."""
        raise TypeError(f"{type(self).__name__} cannot be copied")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r} id={self.id[:8]}>"


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return a == b


class RasterLayer(Layer):
    """A layer of straight-RGBA pixels, ``pixels`` HxWx4 uint8 in layer-local size."""

    _events_class = RasterLayerEvents
    kind = "raster"

    def __init__(self, name: str = "Layer", pixels: np.ndarray | None = None, *, generated_from=None,
                 **kwargs) -> None:
        self._pixels = np.zeros((0, 0, 4), np.uint8) if pixels is None else _check_rgba(pixels)
        #: BaseParams of the generation that made these pixels (None: painted or imported);
        #: brushes use it to rebuild the picture's true trajectory after reopening
        self.generated_from = generated_from
        super().__init__(name, **kwargs)

    @classmethod
    def blank(cls, width: int, height: int, name: str = "Layer", **kwargs) -> "RasterLayer":
        return cls(name, np.zeros((int(height), int(width), 4), np.uint8), **kwargs)

    @property
    def pixels(self) -> np.ndarray:
        return self._pixels

    @pixels.setter
    def pixels(self, value: np.ndarray) -> None:
        value = _check_rgba(value)
        if self._mask is not None and self._mask.shape != value.shape[:2]:
            raise ValueError(
                f"new pixels of layer {self._name!r} are {value.shape[1]}x{value.shape[0]} but its mask is "
                f"{self._mask.shape[1]}x{self._mask.shape[0]}; remove or resize the mask first"
            )
        old = self._pixels
        self._pixels = value
        self.events.pixels.emit(value)
        doc = self.document
        if doc is not None:
            rect = Rect.of_array(old, self._offset).union(Rect.of_array(value, self._offset))
            doc._pixels_changed(self, rect)

    @property
    def width(self) -> int:
        return int(self._pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self._pixels.shape[0])

    def bounds(self) -> Rect:
        return Rect.of_array(self._pixels, self._offset)

    def _check_mask(self, value) -> np.ndarray:
        value = super()._check_mask(value)
        if value.shape != self._pixels.shape[:2]:
            raise ValueError(
                f"mask of layer {self._name!r} must be {self._pixels.shape[1]}x{self._pixels.shape[0]} "
                f"(the pixels' size), got {value.shape[1]}x{value.shape[0]}"
            )
        return value

    def copy(self, name: str | None = None) -> "RasterLayer":
        return RasterLayer(self._name if name is None else name, self._pixels.copy(),
                           generated_from=self.generated_from, **self._copy_common())


class GroupLayer(Layer):
    """A group of layers (``children`` bottom -> top). Isolated groups composite their
    children into a transparent buffer first; pass-through groups (``isolated=False``)
    blend the children straight onto what lies below. A group's mask sits at the
    group's offset; outside the mask's extent the group is hidden. ``render_together``:
    its brush layers share one denoising pass over their common window (regions in one
    pass, editor/engine/joint_brush.py); each stays its own layer."""

    _events_class = GroupLayerEvents
    kind = "group"

    isolated = _Prop(bool)
    render_together = _Prop(bool)

    def __init__(self, name: str = "Group", children=None, *, isolated: bool = True, render_together: bool = False,
                 **kwargs) -> None:
        self._isolated = bool(isolated)
        self._render_together = bool(render_together)
        self.children: list[Layer] = []
        super().__init__(name, **kwargs)
        for child in children or ():
            self._insert(len(self.children), child)

    # Low level tree edits (no history). Document methods wrap these in commands.
    def _insert(self, index: int, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"can only add layers to a group, got {layer!r}")
        if layer.parent is not None:
            raise ValueError(f"{layer!r} already belongs to group {layer.parent.name!r}")
        if layer is self or (isinstance(layer, GroupLayer) and self in _descendants(layer)):
            raise ValueError(f"cannot put group {layer.name!r} inside itself")
        self.children.insert(index, layer)
        layer.parent = self
        self.events.children.emit()

    def _remove(self, layer: Layer) -> int:
        index = self.children.index(layer)
        del self.children[index]
        layer.parent = None
        self.events.children.emit()
        return index

    def walk(self) -> Iterator[Layer]:
        """Every descendant depth-first, bottom -> top (a group after its children)."""
        for child in self.children:
            if isinstance(child, GroupLayer):
                yield from child.walk()
            yield child

    def bounds(self) -> Rect:
        out = Rect.empty()
        for child in self.children:
            out = out.union(child.bounds())
        return out

    def copy(self, name: str | None = None) -> "GroupLayer":
        return GroupLayer(
            self._name if name is None else name,
            [c.copy() for c in self.children],
            isolated=self._isolated,
            render_together=self._render_together,
            **self._copy_common(),
        )


def clip_base(layer: Layer) -> Layer | None:
    """The layer ``layer`` is clipped to: the nearest unclipped sibling below it. None
    when it is not clipped or has nothing below (clipping then does nothing)."""
    if not layer.clipped or layer.parent is None:
        return None
    siblings = layer.parent.children
    for below in reversed(siblings[: siblings.index(layer)]):
        if not below.clipped:
            return below
    return None


def _descendants(group: GroupLayer) -> Iterator[Layer]:
    return group.walk()


class BrushLayer(RasterLayer):
    """A diffusion brush edit: ``region`` (document-size HxW uint8) is where the user
    painted; ``pixels`` is the rendered edit (alpha = dilated feathered region)."""

    _events_class = BrushLayerEvents
    kind = "brush"

    params = _Prop(_check_type(BrushParams))
    state = _Prop(_check_state)
    error = _Prop(_check_error)
    #: what kind of failure ``error`` is (an engine ErrorKind value such as "out_of_memory"),
    #: for the UI to switch on; None without an error
    error_kind = _Prop(_check_error)

    def __init__(
        self,
        name: str = "Brush",
        pixels: np.ndarray | None = None,
        *,
        params: BrushParams | None = None,
        region: np.ndarray | None = None,
        state: str = "stale",
        error: str | None = None,
        **kwargs,
    ) -> None:
        self._params = _check_type(BrushParams)(params if params is not None else BrushParams())
        self._region = None if region is None else _check_gray(region, "brush region")
        self._state = _check_state(state)
        self._error = _check_error(error)
        self._error_kind = None
        super().__init__(name, pixels, **kwargs)

    @property
    def region(self) -> np.ndarray | None:
        return self._region

    @region.setter
    def region(self, value: np.ndarray | None) -> None:
        if value is not None:
            _check_gray(value, "brush region")
        self._set_prop("region", value)

    def copy(self, name: str | None = None) -> "BrushLayer":
        return BrushLayer(
            self._name if name is None else name,
            self._pixels.copy(),
            params=self._params,
            region=None if self._region is None else self._region.copy(),
            state=self._state,
            error=self._error,
            **self._copy_common(),
        )


class GeneratedLayer(RasterLayer):
    """A transparent asset generated from ``params`` (placed at ``params.box``)."""

    _events_class = GeneratedLayerEvents
    kind = "generated"

    params = _Prop(_check_type(RgbaParams))
    state = _Prop(_check_state)
    error = _Prop(_check_error)

    def __init__(
        self,
        name: str = "Generated",
        pixels: np.ndarray | None = None,
        *,
        params: RgbaParams | None = None,
        state: str = "stale",
        error: str | None = None,
        **kwargs,
    ) -> None:
        self._params = _check_type(RgbaParams)(params if params is not None else RgbaParams())
        self._state = _check_state(state)
        self._error = _check_error(error)
        super().__init__(name, pixels, **kwargs)

    def copy(self, name: str | None = None) -> "GeneratedLayer":
        return GeneratedLayer(
            self._name if name is None else name,
            self._pixels.copy(),
            params=self._params,
            state=self._state,
            error=self._error,
            **self._copy_common(),
        )


#: names that ``Document.set_layer_property`` accepts per class (others are read-only there)
def settable_properties(layer: Layer) -> tuple[str, ...]:
    names = ["name", "visible", "opacity", "blend_mode", "locked", "offset", "mask", "mask_enabled", "mask_inverted", "clipped"]
    if isinstance(layer, RasterLayer):
        names.append("pixels")
    if isinstance(layer, GroupLayer):
        names += ["isolated", "render_together"]
    if isinstance(layer, (BrushLayer, GeneratedLayer)):
        names += ["params", "state", "error"]
    if isinstance(layer, BrushLayer):
        names.append("region")
    return tuple(names)
