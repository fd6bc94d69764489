"""What every Stylize operation shares: the op object, pixel conversions and
alpha-correct helpers.

Pixels are handled as float32 arrays in [0, 1]: ``rgb`` is H×W×3 (straight, not
premultiplied) and ``alpha`` is H×W or ``None`` for opaque images. Three wrappers
decide how alpha travels through an op, so that no op has to think about it:

- :func:`per_pixel` — colour ops that look at one pixel at a time: alpha is kept.
- :func:`linear_spatial` — blurs and other linear filters: run on premultiplied
  colour and alpha together, so transparent pixels (whose colour is meaningless)
  never bleed dark fringes into the visible ones.
- :func:`painted` — non-linear spatial effects (Kuwahara, edges, halftone): the
  colour under transparent pixels is first filled from the nearest visible
  colour, the effect runs on opaque colour, and the original alpha is put back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageFilter

from core.params import Param

ApplyFn = Callable[[Image.Image, dict[str, Any], np.random.Generator], Image.Image]
RgbFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Operation:
    """One registered Stylize operation (follows ``core.hookspecs.Filter``)."""

    name: str
    label: str
    category: str
    params: tuple[Param, ...]
    run: ApplyFn
    help: str = ""

    def apply(self, image: Image.Image, params: dict[str, Any],
              rng: np.random.Generator) -> Image.Image:
        return self.run(image, params, rng)


def operation(name: str, label: str, category: str, *params: Param,
              help: str = "") -> Callable[[ApplyFn], Operation]:
    """Decorator: turn ``fn(image, params, rng) -> image`` into an Operation."""

    def wrap(fn: ApplyFn) -> Operation:
        return Operation(name, label, category, tuple(params), fn, help or " ".join((fn.__doc__ or "").split()))

    return wrap


# --------------------------------------------------------------------------- conversions

_TO_FLOAT = (np.arange(256, dtype=np.float32) / 255.0)


def split(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Image -> (rgb float32 H×W×3, alpha float32 H×W or None)."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    data = _TO_FLOAT[np.asarray(image)]   # a table lookup is faster than astype + divide
    if image.mode == "RGBA":
        return data[..., :3], data[..., 3]
    return data, None


def join(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """(rgb, alpha) floats in [0, 1] -> an RGB or RGBA image (rounded, clipped)."""
    if alpha is not None:
        rgb = np.concatenate([rgb, alpha[..., None]], axis=-1)
    data = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(data, "RGBA" if alpha is not None else "RGB")


def has_alpha(image: Image.Image) -> bool:
    return image.mode == "RGBA"


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of gamma-encoded RGB (what a viewer reads as light and dark)."""
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def short_side(image: Image.Image) -> int:
    return min(image.size)


# --------------------------------------------------------------------------- blurs


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian-like blur of a float H×W or H×W×C array, fast at any sigma.

    Large sigmas are blurred on a downsampled copy (a blur of sigma s loses
    nothing that a grid of s/2 px keeps) and upsampled bilinearly, so the cost
    stays near constant. Done per channel in Pillow's float mode.
    """
    if sigma <= 0:
        return array
    if array.ndim == 3:
        return np.stack([blur(array[..., c], sigma) for c in range(array.shape[2])], axis=-1)
    from scipy import ndimage

    height, width = array.shape
    factor = int(sigma // 2)
    if factor < 2 or min(height, width) // factor < 4:
        return ndimage.gaussian_filter(array, sigma, mode="nearest")
    small_size = (max(width // factor, 1), max(height // factor, 1))
    small = np.asarray(Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), "F")
                       .resize(small_size, Image.Resampling.BOX))
    small = ndimage.gaussian_filter(small, sigma / factor, mode="nearest")
    return np.array(Image.fromarray(small, "F").resize((width, height), Image.Resampling.BILINEAR))


def blur_image(image: Image.Image, radius: float) -> Image.Image:
    """Pillow's Gaussian blur, premultiplied for RGBA so transparent colour never leaks in."""
    if radius <= 0:
        return image
    if image.mode == "RGBA":
        return image.convert("RGBa").filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
    return image.filter(ImageFilter.GaussianBlur(radius))


# --------------------------------------------------------------------------- alpha-aware wrappers


def per_pixel(image: Image.Image, fn: RgbFn) -> Image.Image:
    rgb, alpha = split(image)
    return join(fn(rgb), alpha)


def is_opaque(alpha: np.ndarray) -> bool:
    """An RGBA picture with no transparent pixel can take the fast opaque path."""
    return bool(alpha.min() >= 1.0)


def premultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return rgb * alpha[..., None]


def unpremultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    safe = np.where(alpha > 1e-6, alpha, 1.0)[..., None]
    return np.where(alpha[..., None] > 1e-6, rgb / safe, 0.0)


def linear_spatial(image: Image.Image, fn: RgbFn) -> Image.Image:
    """Apply a linear filter ``fn`` (H×W×C -> H×W×C) with premultiplied alpha."""
    rgb, alpha = split(image)
    if alpha is None or is_opaque(alpha):
        return join(fn(rgb), alpha)
    stacked = fn(np.concatenate([premultiply(rgb, alpha), alpha[..., None]], axis=-1))
    new_alpha = np.clip(stacked[..., 3], 0, 1)
    return join(np.clip(unpremultiply(stacked[..., :3], new_alpha), 0, 1), new_alpha)


def fill_transparent(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Give fully and nearly transparent pixels the colour of their visible
    neighbourhood (normalised convolution at two scales, then the mean colour)."""
    weight = np.clip(alpha * 4.0, 0.0, 1.0)
    filled = rgb
    fallback = (rgb * weight[..., None]).sum(axis=(0, 1)) / max(float(weight.sum()), 1e-6)
    spread = np.broadcast_to(fallback.astype(np.float32), rgb.shape)
    for sigma in (24.0, 4.0):   # coarse first, fine on top where there is support
        support = blur(weight, sigma)
        mixed = blur(rgb * weight[..., None], sigma) / np.maximum(support, 1e-6)[..., None]
        trust = np.clip(support * 8.0, 0.0, 1.0)[..., None]
        spread = mixed * trust + spread * (1.0 - trust)
    filled = rgb * weight[..., None] + spread * (1.0 - weight[..., None])
    return filled.astype(np.float32)


def painted(image: Image.Image, fn: RgbFn) -> Image.Image:
    """Apply a non-linear spatial effect on opaque colour; keep the alpha."""
    rgb, alpha = split(image)
    if alpha is None or is_opaque(alpha):
        return join(fn(rgb), alpha)
    return join(fn(fill_transparent(rgb, alpha)), alpha)


def mix(original: np.ndarray, effect: np.ndarray, amount: float) -> np.ndarray:
    """Blend an effect back towards the original (amount 1 = the full effect)."""
    if amount >= 1.0:
        return effect
    return original + (effect - original) * np.float32(amount)
