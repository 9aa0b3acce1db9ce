"""OpenRaster ``stack.xml``: parse (safely) into plain records, and write.

Parsing goes through defusedxml with DTDs forbidden, which refuses entity
expansion bombs and external entities. The result is a tree of
:class:`StackEntry` records independent of the document model, so the reader
can be fuzzed and checked on its own. Stack ``x``/``y`` (allowed by the spec,
rarely written) are folded into the children's offsets.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import defusedxml.ElementTree as DET

from . import limits
from .errors import FileFormatError

#: Namespace for what plain OpenRaster cannot express (ids, layer kinds).
NS = "https://layerbrush.app/ns/1"
NS_PREFIX = "layerbrush"
ORA_VERSION = "0.0.6"
NORMAL_OP = "svg:src-over"
#: MyPaint's namespace; its background layer names a repeating tile there
MYPAINT_NS = "http://mypaint.org/ns/openraster"


@dataclass
class StackEntry:
    """One ``<layer>`` or ``<stack>`` element."""

    is_stack: bool
    name: str = ""
    visible: bool = True
    opacity: float = 1.0
    composite_op: str = NORMAL_OP
    x: int = 0
    y: int = 0
    src: str | None = None
    selected: bool = False
    locked: bool = False
    isolation: str = "auto"
    #: ``layerbrush:*`` attributes by local name.
    extra: dict[str, str] = field(default_factory=dict)
    #: MyPaint's background: a tile PNG that repeats over the whole canvas
    background_tile: str | None = None
    children: list[StackEntry] = field(default_factory=list)  # bottom -> top

    def walk(self):
        """Depth-first, every entry below this one."""
        for child in self.children:
            yield child
            if child.is_stack:
                yield from child.walk()


@dataclass
class StackImage:
    width: int
    height: int
    root: StackEntry
    xres: float | None = None
    yres: float | None = None


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def _int(el, attr: str, label) -> int:
    raw = el.get(attr)
    if raw is None or raw.strip() == "":
        return 0
    try:
        value = float(raw)
    except ValueError:
        raise FileFormatError(label, f"stack.xml: {attr}={raw!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > 10 * limits.MAX_SIDE:
        raise FileFormatError(label, f"stack.xml: {attr}={raw!r} is out of range")
    return int(round(value))


def _opacity(el, label) -> float:
    raw = el.get("opacity")
    if raw is None or raw.strip() == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise FileFormatError(label, f"stack.xml: opacity={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise FileFormatError(label, f"stack.xml: opacity={raw!r} is not finite")
    return min(1.0, max(0.0, value))


def _entry(el, label, depth: int, counter: list[int], dx: int, dy: int) -> StackEntry:
    counter[0] += 1
    if counter[0] > limits.MAX_LAYERS:
        raise FileFormatError(label, f"stack.xml has more than {limits.MAX_LAYERS} layers")
    if depth > limits.MAX_DEPTH:
        raise FileFormatError(label, f"stack.xml nests groups deeper than {limits.MAX_DEPTH}")
    is_stack = el.tag == "stack"
    extra = {k[len(NS) + 2 :]: v for k, v in el.attrib.items() if k.startswith("{" + NS + "}")}
    entry = StackEntry(
        is_stack=is_stack,
        name=el.get("name", ""),
        visible=el.get("visibility", "visible").strip().lower() != "hidden",
        opacity=_opacity(el, label),
        composite_op=(el.get("composite-op") or NORMAL_OP).strip(),
        x=_int(el, "x", label) + dx,
        y=_int(el, "y", label) + dy,
        selected=_bool(el.get("selected"), False),
        locked=_bool(el.get("edit-locked"), False),
        isolation=(el.get("isolation") or "auto").strip().lower(),
        extra=extra,
    )
    if is_stack:
        # Children are listed top-first in stack.xml; we keep bottom -> top.
        for child in reversed(list(el)):
            if child.tag in ("stack", "layer"):
                entry.children.append(_entry(child, label, depth + 1, counter, entry.x, entry.y))
            # <text>, <filter> and unknown elements carry no pixels we can show.
    else:
        src = el.get("src")
        if not src:
            raise FileFormatError(label, f"stack.xml: layer {entry.name!r} has no src attribute")
        entry.src = src
        tile = el.get(f"{{{MYPAINT_NS}}}background-tile") or el.get("background_tile")
        entry.background_tile = tile.strip() if tile and tile.strip() else None
    return entry


def parse_stack(data: bytes, label: str | os.PathLike) -> StackImage:
    """Parse stack.xml bytes; ``label`` names the archive in errors."""
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as e:  # ParseError, DTDForbidden, EntitiesForbidden, decoding errors
        raise FileFormatError(label, f"invalid stack.xml ({type(e).__name__}: {e})") from None
    if root.tag != "image":
        raise FileFormatError(label, f"stack.xml: root element is <{root.tag}>, expected <image>")
    width, height = _int(root, "w", label), _int(root, "h", label)
    problem = limits.size_problem(width, height)
    if problem:
        raise FileFormatError(label, f"stack.xml: canvas {problem}")
    stacks = [c for c in root if c.tag == "stack"]
    if len(stacks) != 1:
        raise FileFormatError(label, f"stack.xml: expected one root <stack>, found {len(stacks)}")
    res = []
    for attr in ("xres", "yres"):
        try:
            value = float(root.get(attr, "nan"))
            res.append(value if math.isfinite(value) and value > 0 else None)
        except ValueError:
            res.append(None)
    tree = _entry(stacks[0], label, 0, [0], 0, 0)
    return StackImage(width, height, tree, res[0], res[1])


def _fmt_float(v: float) -> str:
    # repr is the shortest text that parses back to the same float: lossless.
    return repr(float(v))


def _element(entry: StackEntry) -> ET.Element:
    el = ET.Element("stack" if entry.is_stack else "layer")
    el.set("name", entry.name)
    el.set("visibility", "visible" if entry.visible else "hidden")
    el.set("opacity", _fmt_float(entry.opacity))
    el.set("composite-op", entry.composite_op)
    el.set("x", str(int(entry.x)))
    el.set("y", str(int(entry.y)))
    if entry.is_stack:
        el.set("isolation", entry.isolation)
    else:
        el.set("src", entry.src or "")
    if entry.selected:
        el.set("selected", "true")
    if entry.locked:
        el.set("edit-locked", "true")
    for key, value in entry.extra.items():
        el.set(f"{{{NS}}}{key}", value)
    for child in reversed(entry.children):
        el.append(_element(child))
    return el


def build_stack(image: StackImage) -> bytes:
    """Serialize to stack.xml bytes (UTF-8). Root stack entries must use x=y=0."""
    ET.register_namespace(NS_PREFIX, NS)
    root = ET.Element("image")
    root.set("version", ORA_VERSION)
    root.set("w", str(image.width))
    root.set("h", str(image.height))
    if image.xres:
        root.set("xres", _fmt_float(image.xres))
    if image.yres:
        root.set("yres", _fmt_float(image.yres))
    stack = _element(image.root)
    # The root stack is always isolated and carries no offset.
    stack.attrib.pop("x", None)
    stack.attrib.pop("y", None)
    stack.set("isolation", "isolate")
    root.append(stack)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
