"""Blend modes (W3C Compositing and Blending Level 1 / OpenRaster) on float32 arrays.

Buffers are premultiplied RGBA float32 in [0, 1]. ``composite_over`` implements
source-over with a blend function: with premultiplied colours cs, cb and alphas
as, ab::

    co = cs * (1 - ab) + cb * (1 - as) + as * ab * B(Cb, Cs)
    ao = as + ab * (1 - as)

where Cb, Cs are the straight (un-premultiplied) colours.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

#: short name -> OpenRaster composite-op, in the order menus show them.
BLEND_MODES: "OrderedDict[str, str]" = OrderedDict(
    [
        ("normal", "svg:src-over"),
        ("multiply", "svg:multiply"),
        ("screen", "svg:screen"),
        ("overlay", "svg:overlay"),
        ("darken", "svg:darken"),
        ("lighten", "svg:lighten"),
        ("color-dodge", "svg:color-dodge"),
        ("color-burn", "svg:color-burn"),
        ("hard-light", "svg:hard-light"),
        ("soft-light", "svg:soft-light"),
        ("difference", "svg:difference"),
        ("exclusion", "svg:exclusion"),
        ("addition", "svg:plus"),
        ("hue", "svg:hue"),
        ("saturation", "svg:saturation"),
        ("color", "svg:color"),
        ("luminosity", "svg:luminosity"),
    ]
)

#: OpenRaster op -> short name.
MODE_FROM_OP: dict[str, str] = {op: name for name, op in BLEND_MODES.items()}

NON_SEPARABLE = frozenset({"hue", "saturation", "color", "luminosity"})


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known short name, else raise a clear ValueError."""
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r}; expected one of {', '.join(BLEND_MODES)}")
    return mode


def mode_from_op(op: str) -> str:
    """Short name for an OpenRaster composite-op (``svg:multiply`` -> ``multiply``)."""
    if op in MODE_FROM_OP:
        return MODE_FROM_OP[op]
    if op in BLEND_MODES:
        return op
    raise ValueError(f"unknown composite-op {op!r}")


# ----------------------------------------------------------------- separable B(Cb, Cs)
def _multiply(cb, cs):
    return cb * cs


def _screen(cb, cs):
    return cb + cs - cb * cs


def _hard_light(cb, cs):
    # cs <= 0.5: multiply(cb, 2cs) = 2 cb cs; else screen(cb, 2cs - 1) = 2 (cb + cs - cb cs) - 1
    p = cb * cs
    high = cb + cs
    high -= p
    high *= 2.0
    high -= 1.0
    p *= 2.0
    np.copyto(high, p, where=cs <= 0.5)
    return high


def _overlay(cb, cs):
    return _hard_light(cs, cb)


def _darken(cb, cs):
    return np.minimum(cb, cs)


def _lighten(cb, cs):
    return np.maximum(cb, cs)


def _color_dodge(cb, cs):
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.minimum(1.0, cb / (1.0 - cs))
    out = np.where(cs >= 1.0, 1.0, q)
    return np.where(cb <= 0.0, 0.0, out).astype(np.float32, copy=False)


def _color_burn(cb, cs):
    with np.errstate(divide="ignore", invalid="ignore"):
        q = 1.0 - np.minimum(1.0, (1.0 - cb) / cs)
    out = np.where(cs <= 0.0, 0.0, q)
    return np.where(cb >= 1.0, 1.0, out).astype(np.float32, copy=False)


def _soft_light(cb, cs):
    # W3C: cs <= 0.5: cb - (1 - 2cs) cb (1 - cb); else cb + (2cs - 1)(D(cb) - cb).
    # Both are cb + (2cs - 1) * E with E = cb (1 - cb) or D(cb) - cb.
    e = np.sqrt(cb)
    dark = cb <= 0.25
    if dark.any():
        poly = cb * 16.0
        poly -= 12.0
        poly *= cb
        poly += 4.0
        poly *= cb
        np.copyto(e, poly, where=dark)
    e -= cb
    low = 1.0 - cb
    low *= cb
    np.copyto(e, low, where=cs <= 0.5)
    k = cs * 2.0
    k -= 1.0
    e *= k
    e += cb
    return e


def _difference(cb, cs):
    return np.abs(cb - cs)


def _exclusion(cb, cs):
    return cb + cs - 2.0 * cb * cs


def _addition(cb, cs):
    # svg:plus as a separable blend (Krita "Addition", Photoshop "Linear Dodge").
    return np.minimum(1.0, cb + cs)


# ------------------------------------------------------------- non-separable (W3C)
# Colours are channel-first: c[0], c[1], c[2] are the R, G, B planes.
def _lum(c):
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]


def _clip_color(c):
    lum = _lum(c)
    n = c.min(axis=0)
    x = c.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = lum + (c - lum) * (lum / (lum - n))
        high = lum + (c - lum) * ((1.0 - lum) / (x - lum))
    c = np.where(n < 0.0, low, c)
    return np.where(x > 1.0, high, c)


def _set_lum(c, lum):
    return _clip_color(c + (lum - _lum(c)))


def _sat(c):
    return c.max(axis=0) - c.min(axis=0)


def _set_sat(c, s):
    cmax = c.max(axis=0)
    cmin = c.min(axis=0)
    rng = cmax - cmin
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = (c - cmin) * (s / rng)
    # max -> s, min -> 0, the middle one scaled; all 0 for a grey colour
    out = np.where(c >= cmax, s, mid)
    out = np.where(c <= cmin, 0.0, out)
    return np.where(rng > 0.0, out, 0.0)


def _hue(cb, cs):
    return _set_lum(_set_sat(cs, _sat(cb)), _lum(cb))


def _saturation(cb, cs):
    return _set_lum(_set_sat(cb, _sat(cs)), _lum(cb))


def _color(cb, cs):
    return _set_lum(cs, _lum(cb))


def _luminosity(cb, cs):
    return _set_lum(cb, _lum(cs))


BLEND_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "multiply": _multiply,
    "screen": _screen,
    "overlay": _overlay,
    "darken": _darken,
    "lighten": _lighten,
    "color-dodge": _color_dodge,
    "color-burn": _color_burn,
    "hard-light": _hard_light,
    "soft-light": _soft_light,
    "difference": _difference,
    "exclusion": _exclusion,
    "addition": _addition,
    "hue": _hue,
    "saturation": _saturation,
    "color": _color,
    "luminosity": _luminosity,
}


def blend_colors(mode: str, cb: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """B(Cb, Cs) for straight colours in [0, 1], channel-first (3, ...) arrays."""
    if mode == "normal":
        return cs
    return BLEND_FUNCTIONS[check_mode(mode)](cb, cs)


def blend_into(dst: np.ndarray, cs: np.ndarray, a: np.ndarray, mode: str, opaque: bool) -> None:
    """Source-over of a straight-colour source onto a premultiplied buffer, in place.

    ``dst``: (4, h, w) float32 premultiplied; ``cs``: (3, h, w) float32 straight colour
    in [0, 1] (overwritten); ``a``: (h, w) float32 source alpha in [0, 1] (opacity and
    mask already applied). ``opaque``: the caller knows every ``dst`` alpha is 1, which
    allows the cheaper form ``co = cb + as * (B - cb)``.
    """
    d3 = dst[:3]
    if mode == "normal":
        one_minus = 1.0 - a
        cs *= a
        d3 *= one_minus
        d3 += cs
        if not opaque:
            dst[3] *= one_minus
            dst[3] += a
        return
    fn = BLEND_FUNCTIONS[mode]
    if opaque:
        b = fn(d3, cs)
        b -= d3
        b *= a
        d3 += b
        return
    ab = dst[3]
    cb = np.zeros_like(d3)
    np.divide(d3, ab, out=cb, where=ab > 0.0)
    np.clip(cb, 0.0, 1.0, out=cb)
    b = fn(cb, cs)
    # co = as * (Cs + ab * (B - Cs)) + (1 - as) * cb_premultiplied
    b -= cs
    b *= ab
    b += cs
    b *= a
    one_minus = 1.0 - a
    d3 *= one_minus
    d3 += b
    ab *= one_minus
    ab += a


def composite_over(dst: np.ndarray, src: np.ndarray, mode: str = "normal") -> None:
    """Blend premultiplied ``src`` onto premultiplied ``dst`` in place; both (4, h, w) float32."""
    check_mode(mode)
    a_s = src[3]
    if mode == "normal":
        dst *= 1.0 - a_s
        dst += src
        return
    cs = np.zeros_like(src[:3])
    np.divide(src[:3], a_s, out=cs, where=a_s > 0.0)
    np.clip(cs, 0.0, 1.0, out=cs)
    blend_into(dst, cs, a_s, mode, opaque=False)
