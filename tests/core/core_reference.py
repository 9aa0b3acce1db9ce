"""Plain-Python per-pixel reference formulas (W3C Compositing and Blending Level 1)."""

from __future__ import annotations

import math


def _sep(fn):
    def blend(cb, cs):
        return tuple(fn(b, s) for b, s in zip(cb, cs))

    return blend


def _hard_light(b, s):
    return b * 2 * s if s <= 0.5 else b + (2 * s - 1) - b * (2 * s - 1)


def _soft_light(b, s):
    if s <= 0.5:
        return b - (1 - 2 * s) * b * (1 - b)
    d = ((16 * b - 12) * b + 4) * b if b <= 0.25 else math.sqrt(b)
    return b + (2 * s - 1) * (d - b)


def _dodge(b, s):
    if b == 0:
        return 0.0
    if s >= 1:
        return 1.0
    return min(1.0, b / (1 - s))


def _burn(b, s):
    if b >= 1:
        return 1.0
    if s <= 0:
        return 0.0
    return 1 - min(1.0, (1 - b) / s)


def lum(c):
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]


def clip_color(c):
    l = lum(c)
    n, x = min(c), max(c)
    if n < 0:
        c = tuple(l + (v - l) * l / (l - n) for v in c)
    if x > 1:
        c = tuple(l + (v - l) * (1 - l) / (x - l) for v in c)
    return c


def set_lum(c, l):
    d = l - lum(c)
    return clip_color(tuple(v + d for v in c))


def sat(c):
    return max(c) - min(c)


def set_sat(c, s):
    order = sorted(range(3), key=lambda i: c[i])
    lo, mid, hi = order
    out = [0.0, 0.0, 0.0]
    if c[hi] > c[lo]:
        out[mid] = (c[mid] - c[lo]) * s / (c[hi] - c[lo])
        out[hi] = s
    return tuple(out)


def _divide(b, s):
    if s <= 0:
        return 0.0 if b <= 0 else 1.0
    return min(1.0, b / s)


def _vivid(b, s):
    return _burn(b, 2 * s) if s <= 0.5 else _dodge(b, 2 * s - 1)


def _pin(b, s):
    return min(b, 2 * s) if s <= 0.5 else max(b, 2 * s - 1)


def _hard_mix(b, s):
    # Photoshop: white where the channels add up past white; checked on 8-bit values
    return 1.0 if round(b * 255) + round(s * 255) > 255 else 0.0


SEPARABLE = {
    "normal": _sep(lambda b, s: s),
    "multiply": _sep(lambda b, s: b * s),
    "screen": _sep(lambda b, s: b + s - b * s),
    "overlay": _sep(lambda b, s: _hard_light(s, b)),
    "darken": _sep(min),
    "lighten": _sep(max),
    "color-dodge": _sep(_dodge),
    "color-burn": _sep(_burn),
    "hard-light": _sep(_hard_light),
    "soft-light": _sep(_soft_light),
    "difference": _sep(lambda b, s: abs(b - s)),
    "exclusion": _sep(lambda b, s: b + s - 2 * b * s),
    "addition": _sep(lambda b, s: min(1.0, b + s)),
    "divide": _sep(_divide),
    "subtract": _sep(lambda b, s: max(0.0, b - s)),
    "linear-burn": _sep(lambda b, s: max(0.0, b + s - 1)),
    "vivid-light": _sep(_vivid),
    "linear-light": _sep(lambda b, s: min(1.0, max(0.0, b + 2 * s - 1))),
    "pin-light": _sep(_pin),
    "hard-mix": _sep(_hard_mix),
}

NON_SEPARABLE = {
    "hue": lambda cb, cs: set_lum(set_sat(cs, sat(cb)), lum(cb)),
    "saturation": lambda cb, cs: set_lum(set_sat(cb, sat(cs)), lum(cb)),
    "color": lambda cb, cs: set_lum(cs, lum(cb)),
    "luminosity": lambda cb, cs: set_lum(cb, lum(cs)),
    "darker-color": lambda cb, cs: cs if lum(cs) < lum(cb) else cb,
    "lighter-color": lambda cb, cs: cs if lum(cs) > lum(cb) else cb,
}

ALL = {**SEPARABLE, **NON_SEPARABLE}


def composite_pixel(mode, backdrop, source):
    """Straight RGBA floats in 0..1 -> straight RGBA floats (source-over with blend)."""
    cb, ab = backdrop[:3], backdrop[3]
    cs, a_s = source[:3], source[3]
    b = ALL[mode](cb, cs)
    ao = a_s + ab * (1 - a_s)
    if ao == 0:
        return (0.0, 0.0, 0.0, 0.0)
    co = [a_s * (1 - ab) * s + a_s * ab * bb + (1 - a_s) * ab * c for s, bb, c in zip(cs, b, cb)]
    return tuple(v / ao for v in co) + (ao,)


def u8(pixel):
    return tuple(int(v) for v in pixel)


def to_unit(pixel):
    return tuple(v / 255.0 for v in pixel)
