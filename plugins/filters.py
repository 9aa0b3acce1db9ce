"""Filters: Gaussian blur, sharpen, invert colours, desaturate, pixelate.

Every filter takes and returns HxWx4 uint8 straight RGBA. Spatial filters work on
premultiplied colour so transparent pixels do not bleed dark fringes into their
neighbours, and clamp at the layer's edges (an opaque layer stays opaque).
"""
from __future__ import annotations

import math

import numpy as np

from editor.plugins import Param, PluginContext

# Above this sigma three box blurs replace the exact kernel: as close to the eye and
# their cost does not grow with the radius.
EXACT_SIGMA_LIMIT = 8.0


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    f = rgba.astype(np.float32)
    f[..., :3] *= f[..., 3:] / 255.0
    return f


def _unpremultiply(f: np.ndarray) -> np.ndarray:
    alpha = f[..., 3:]
    rgb = np.divide(f[..., :3] * 255.0, alpha, out=np.zeros_like(f[..., :3]), where=alpha > 1e-3)
    out = np.empty(f.shape, np.uint8)
    out[..., :3] = np.clip(np.rint(rgb), 0, 255)
    out[..., 3:] = np.clip(np.rint(alpha), 0, 255)
    return out


def _along(axis: int, start: int, stop: int) -> tuple:
    return (slice(None),) * axis + (slice(start, stop),)


def _convolve_axis(f: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    half = len(kernel) // 2
    pad = [(0, 0)] * f.ndim
    pad[axis] = (half, half)
    padded = np.pad(f, pad, mode="edge")
    n = f.shape[axis]
    out = padded[_along(axis, 0, n)] * kernel[0]
    for i in range(1, len(kernel)):
        out += padded[_along(axis, i, i + n)] * kernel[i]
    return out


def _box_axis(f: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Mean over a window of odd ``width`` centred on each pixel (edges clamped)."""
    half = width // 2
    pad = [(0, 0)] * f.ndim
    pad[axis] = (half + 1, half)
    c = np.cumsum(np.pad(f, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = f.shape[axis]
    out = c[_along(axis, width, width + n)] - c[_along(axis, 0, n)]
    out *= np.float32(1.0 / width)
    return out


def _box_widths(sigma: float, passes: int = 3) -> list[int]:
    """Odd box widths whose repeated application has (nearly) variance sigma**2."""
    ideal = math.sqrt(12.0 * sigma * sigma / passes + 1.0)
    low = int(ideal)
    low -= 1 - low % 2  # make it odd
    high = low + 2
    # how many passes take the smaller width so that the variances add up to sigma^2
    m = round((12.0 * sigma * sigma - passes * low * low - 4 * passes * low - 3 * passes) / (-4 * low - 4))
    return [low if i < m else high for i in range(passes)]


def blur_premultiplied(f: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float HxWxC array, separable, edges clamped."""
    if sigma <= EXACT_SIGMA_LIMIT:
        half = max(1, math.ceil(3.0 * sigma))
        x = np.arange(-half, half + 1, dtype=np.float64)
        kernel = np.exp(-(x * x) / (2.0 * sigma * sigma))
        kernel = (kernel / kernel.sum()).astype(np.float32)
        return _convolve_axis(_convolve_axis(f, kernel, 0), kernel, 1)
    for width in _box_widths(sigma):
        f = _box_axis(_box_axis(f, width, 0), width, 1)
    return f


def gaussian_blur(rgba: np.ndarray, radius: float = 4.0) -> np.ndarray:
    """Blur with a Gaussian of standard deviation radius / 2 (as the selection feather)."""
    sigma = radius / 2.0
    if sigma < 0.05 or rgba.size == 0:
        return rgba
    return _unpremultiply(blur_premultiplied(_premultiply(rgba), sigma))


def sharpen(rgba: np.ndarray, radius: float = 2.0, amount: float = 1.0) -> np.ndarray:
    """Unsharp mask: add ``amount`` times the difference from a blurred copy (alpha kept)."""
    if amount == 0 or rgba.size == 0:
        return rgba
    blurred = _unpremultiply(blur_premultiplied(_premultiply(rgba), max(radius / 2.0, 0.05)))
    rgb = rgba[..., :3].astype(np.float32)
    out = rgba.copy()
    out[..., :3] = np.clip(np.rint(rgb + amount * (rgb - blurred[..., :3])), 0, 255)
    return out


def invert_colours(rgba: np.ndarray) -> np.ndarray:
    """Each colour channel becomes 255 minus itself; alpha is kept."""
    out = rgba.copy()
    out[..., :3] = 255 - rgba[..., :3]
    return out


LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709


def desaturate(rgba: np.ndarray, mode: str = "luma") -> np.ndarray:
    """Grey from the colour: "luma" (Rec. 709 weights), "average" or "lightness"
    ((max + min) / 2, as GIMP's Lightness). Alpha is kept."""
    rgb = rgba[..., :3].astype(np.float32)
    if mode == "luma":
        grey = rgb @ LUMA_WEIGHTS
    elif mode == "average":
        grey = rgb.mean(axis=2)
    elif mode == "lightness":
        grey = (rgb.max(axis=2) + rgb.min(axis=2)) / 2.0
    else:
        raise ValueError(f"unknown desaturate mode {mode!r}")
    out = rgba.copy()
    out[..., :3] = np.clip(np.rint(grey), 0, 255)[..., None]
    return out


def pixelate(rgba: np.ndarray, block: int = 8) -> np.ndarray:
    """Average the colour over ``block`` x ``block`` squares aligned to the layer's corner."""
    h, w = rgba.shape[:2]
    if block <= 1 or h == 0 or w == 0:
        return rgba
    bh, bw = -(-h // block), -(-w // block)
    f = np.pad(_premultiply(rgba), ((0, bh * block - h), (0, bw * block - w), (0, 0)), mode="edge")
    means = f.reshape(bh, block, bw, block, 4).mean(axis=(1, 3))
    return _unpremultiply(np.repeat(np.repeat(means, block, axis=0), block, axis=1)[:h, :w])


def blur_reach(radius: float = 4.0) -> int:
    """Pixels a blurred pixel depends on: 3 sigma for the exact kernel, and a margin
    for the rounding of the three box widths."""
    return math.ceil(1.5 * radius) + 3


def sharpen_reach(radius: float = 2.0, amount: float = 1.0) -> int:
    return blur_reach(max(radius, 0.1))


def register(context: PluginContext) -> None:
    context.add_filter("Gaussian blur", gaussian_blur, description="Soften the layer", reach=blur_reach,
                       params=[Param("radius", 4.0, label="Radius (px)", minimum=0.0, maximum=200.0, step=0.5)])
    context.add_filter("Sharpen", sharpen, description="Unsharp mask", reach=sharpen_reach,
                       params=[Param("radius", 2.0, label="Radius (px)", minimum=0.1, maximum=50.0, step=0.5),
                               Param("amount", 1.0, minimum=0.0, maximum=5.0, step=0.1)])
    context.add_filter("Invert colours", invert_colours, description="Negative of the colours, alpha kept", reach=0)
    context.add_filter("Desaturate", desaturate, description="Grey from the colour", reach=0,
                       params=[Param("mode", "luma", choices=("luma", "average", "lightness"))])
    # Pixelate declares no reach: its blocks are aligned to the layer's corner.
    context.add_filter("Pixelate", pixelate, description="Large square pixels",
                       params=[Param("block", 8, label="Block size (px)", minimum=1, maximum=512)])
