"""Blend modes (W3C Compositing and Blending Level 1 / OpenRaster, plus the
Photoshop modes outside it) on float32 arrays.

The Photoshop-only modes use their published formulas (as documented by Adobe
and implemented by Krita): divide, subtract, linear burn, vivid/linear/pin
light, hard mix, darker/lighter colour and dissolve. In OpenRaster files they
are written with Krita's names (``krita:divide``, ...) so Krita reads them.

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
        # Photoshop modes outside the OpenRaster set, under Krita's composite-op ids
        ("divide", "krita:divide"),
        ("subtract", "krita:subtract"),
        ("linear-burn", "krita:linear_burn"),
        ("vivid-light", "krita:vivid_light"),
        ("linear-light", "krita:linear light"),
        ("pin-light", "krita:pin_light"),
        ("hard-mix", "krita:hard_mix_photoshop"),
        ("darker-color", "krita:darker color"),
        ("lighter-color", "krita:lighter color"),
        ("dissolve", "krita:dissolve"),
    ]
)

#: OpenRaster op -> short name.
MODE_FROM_OP: dict[str, str] = {op: name for name, op in BLEND_MODES.items()}

#: other names Krita writes for modes we have (its ids for the OpenRaster ones)
_KRITA_ALIASES = {
    "krita:linear_dodge": "addition",
}

NON_SEPARABLE = frozenset({"hue", "saturation", "color", "luminosity", "darker-color", "lighter-color"})


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known short name, else raise a clear ValueError."""
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r}; expected one of {', '.join(BLEND_MODES)}")
    return mode


def mode_from_op(op: str) -> str:
    """Short name for an OpenRaster composite-op (``svg:multiply`` -> ``multiply``)."""
    if op in MODE_FROM_OP:
        return MODE_FROM_OP[op]
    if op in _KRITA_ALIASES:
        return _KRITA_ALIASES[op]
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


def _divide(cb, cs):
    # cb / cs clamped; dividing by black gives white, except black / black = black
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.minimum(1.0, cb / cs)
    q = np.where(cs <= 0.0, np.where(cb <= 0.0, 0.0, 1.0), q)
    return q.astype(np.float32, copy=False)


def _subtract(cb, cs):
    return np.maximum(0.0, cb - cs)


def _linear_burn(cb, cs):
    return np.maximum(0.0, cb + cs - 1.0)


def _vivid_light(cb, cs):
    # colour burn with 2 cs below the middle, colour dodge with 2 cs - 1 above
    two = cs * 2.0
    return np.where(cs <= 0.5, _color_burn(cb, two), _color_dodge(cb, two - 1.0)).astype(np.float32, copy=False)


def _linear_light(cb, cs):
    return np.clip(cb + 2.0 * cs - 1.0, 0.0, 1.0)


def _pin_light(cb, cs):
    two = cs * 2.0
    return np.where(cs <= 0.5, np.minimum(cb, two), np.maximum(cb, two - 1.0))


def _hard_mix(cb, cs):
    # Photoshop: 1 where cb + cs > 1, else 0 (a tolerance of well under one 8-bit
    # step keeps sums of exactly 255/255 at 0 despite float rounding)
    return np.where(cb + cs > 1.0 + 1e-4, 1.0, 0.0).astype(np.float32)


# ------------------------------------------------------------- non-separable (W3C)
# Colours are channel-first: c[0], c[1], c[2] are the R, G, B planes.
def _lum(c):
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]


def _clip_color(c):
    lum = _lum(c)
    n = c.min(axis=0)
    x = c.max(axis=0)
    # For a grey colour n == x == lum, and the factors would be 0/0: use 0 there
    # (c - lum is 0 anyway), never NaN.
    low_f = np.zeros_like(lum)
    np.divide(lum, lum - n, out=low_f, where=lum - n > 0.0)
    high_f = np.zeros_like(lum)
    np.divide(1.0 - lum, x - lum, out=high_f, where=x - lum > 0.0)
    low = lum + (c - lum) * low_f
    high = lum + (c - lum) * high_f
    c = np.where(n < 0.0, low, c)
    c = np.where(x > 1.0, high, c)
    return np.clip(c, 0.0, 1.0)


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


def _darker_color(cb, cs):
    # the whole colour with the lower luminosity (the backdrop on a tie)
    return np.where(_lum(cs) < _lum(cb), cs, cb)


def _lighter_color(cb, cs):
    return np.where(_lum(cs) > _lum(cb), cs, cb)


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
    "divide": _divide,
    "subtract": _subtract,
    "linear-burn": _linear_burn,
    "vivid-light": _vivid_light,
    "linear-light": _linear_light,
    "pin-light": _pin_light,
    "hard-mix": _hard_mix,
    "darker-color": _darker_color,
    "lighter-color": _lighter_color,
    # dissolve's colour is the source's; its alpha is made all-or-nothing by
    # ``dissolve_alpha`` before blending
    "dissolve": lambda cb, cs: cs,
}


def dissolve_alpha(a: np.ndarray, x0: int = 0, y0: int = 0) -> np.ndarray:
    """Photoshop's dissolve: each pixel is fully opaque with probability ``a`` and
    transparent otherwise. The noise is a fixed hash of the document position
    (``x0``, ``y0`` = position of ``a[0, 0]``), so tiles and re-renders agree."""
    h, w = a.shape
    y, x = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.uint32)
    n = x * np.uint32(0x9E3779B1) ^ (y * np.uint32(0x85EBCA77) + np.uint32(0x165667B1))
    n ^= n >> np.uint32(15)
    n *= np.uint32(0x2C1B3C6D)
    n ^= n >> np.uint32(12)
    threshold = (n >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))
    return (threshold < a).astype(np.float32)


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
    if mode == "dissolve":
        cs = np.zeros_like(src[:3])
        np.divide(src[:3], a_s, out=cs, where=a_s > 0.0)
        src = np.concatenate([cs * dissolve_alpha(a_s), dissolve_alpha(a_s)[None]])
        mode = "normal"
    if mode == "normal":
        dst *= 1.0 - a_s
        dst += src
        return
    cs = np.zeros_like(src[:3])
    np.divide(src[:3], a_s, out=cs, where=a_s > 0.0)
    np.clip(cs, 0.0, 1.0, out=cs)
    blend_into(dst, cs, a_s, mode, opaque=False)
