"""Photographic looks: grayscale, sepia, posterize, vignette, film grain, blur
and sharpen. Each is written out in numpy (Pillow only for its fast box filters
and resampling), with alpha handled by the wrappers in ``base.py``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from core.params import Param, hex_to_rgb

from .base import blur, join, linear_spatial, luminance, mix, operation, painted, per_pixel, split
from .colorspace import oklab_to_srgb, srgb_to_oklab

# Black-and-white film filters: how much each channel lights the grey (sums to 1).
# A red filter darkens blue skies and lightens skin; a blue one does the opposite.
BW_FILTERS = {"neutral": (0.2126, 0.7152, 0.0722), "red": (0.70, 0.30, 0.00),
              "orange": (0.55, 0.40, 0.05), "yellow": (0.40, 0.50, 0.10),
              "green": (0.15, 0.75, 0.10), "blue": (0.10, 0.30, 0.60)}
# Sepia as a toned print: shadow, midtone and highlight colours of an old albumen print.
SEPIA_STOPS = np.array([[0.10, 0.06, 0.03], [0.58, 0.42, 0.27], [0.97, 0.93, 0.84]], dtype=np.float32)


@operation(
    "grayscale", "Grayscale", "artistic",
    Param("filter", "choice", "neutral", choices=tuple(BW_FILTERS),
          help="a coloured lens filter, as on black-and-white film"),
    Param("amount", "float", 1.0, min=0.0, max=1.0, step=0.05),
)
def grayscale(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Black and white, optionally through a coloured lens filter."""
    weights = np.asarray(BW_FILTERS[p["filter"]], dtype=np.float32)

    def to_grey(rgb: np.ndarray) -> np.ndarray:
        grey = np.clip(rgb @ weights, 0, 1)[..., None]
        return mix(rgb, np.repeat(grey, 3, axis=-1), p["amount"])

    return per_pixel(image, to_grey)


@operation(
    "sepia", "Sepia", "artistic",
    Param("amount", "float", 1.0, min=0.0, max=1.0, step=0.05),
)
def sepia(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Grey mapped through the colours of a toned print (not the flat matrix)."""

    def tone(rgb: np.ndarray) -> np.ndarray:
        grey = np.clip(luminance(rgb), 0, 1)
        position = grey * 2.0                     # 0..1 shadow->mid, 1..2 mid->highlight
        lower = np.minimum(position.astype(np.int32), 1)
        t = (position - lower)[..., None]
        toned = SEPIA_STOPS[lower] * (1 - t) + SEPIA_STOPS[lower + 1] * t
        return mix(rgb, toned, p["amount"])

    return per_pixel(image, tone)


@operation(
    "posterize", "Posterize", "artistic",
    Param("levels", "int", 4, min=2, max=16, help="tones per channel (or of lightness)"),
    Param("mode", "choice", "tones", choices=("tones", "rgb"),
          help="tones: band the lightness, keep the colours; rgb: band each channel (classic)"),
    Param("smooth", "float", 1.0, min=0.0, max=6.0, step=0.5,
          help="blur before banding, for clean flat areas instead of speckle"),
)
def posterize(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Flat bands of tone, like a screen print."""
    levels = p["levels"] - 1

    def band(rgb: np.ndarray) -> np.ndarray:
        smooth = np.clip(blur(rgb, p["smooth"]), 0, 1) if p["smooth"] > 0 else rgb
        if p["mode"] == "rgb":
            return np.round(smooth * levels) / levels
        lab = srgb_to_oklab(smooth)
        # Band edges sit between levels, so mid-grey stays mid-grey.
        lab[..., 0] = np.round(np.clip(lab[..., 0], 0, 1) * levels) / levels
        lab[..., 1:] *= 1.15                       # flat areas read better a little richer
        return oklab_to_srgb(lab)

    return painted(image, band)


@operation(
    "vignette", "Vignette", "artistic",
    Param("amount", "float", 0.5, min=0.0, max=1.0, step=0.05),
    Param("radius", "float", 0.65, min=0.0, max=1.5, step=0.05,
          help="where the darkening starts (1 = the corners)"),
    Param("softness", "float", 0.5, min=0.05, max=1.5, step=0.05),
    Param("color", "color", "#000000", help="white gives a soft faded edge"),
)
def vignette(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Fade the edges towards a colour along an ellipse that fits the frame."""
    width, height = image.size
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height * 2 - 1)[:, None]
    xs = ((np.arange(width, dtype=np.float32) + 0.5) / width * 2 - 1)[None, :]
    distance = np.sqrt(xs * xs + ys * ys) / math.sqrt(2.0)
    t = np.clip((distance - p["radius"]) / p["softness"], 0.0, 1.0)
    weight = (t * t * (3 - 2 * t) * p["amount"])[..., None]   # smoothstep
    colour = np.asarray(hex_to_rgb(p["color"]), dtype=np.float32) / 255.0
    return per_pixel(image, lambda rgb: rgb * (1 - weight) + colour * weight)


@operation(
    "film_grain", "Film grain", "artistic",
    Param("amount", "float", 0.35, min=0.0, max=1.0, step=0.05),
    Param("size", "float", 1.5, min=0.5, max=6.0, step=0.1, help="grain size, px"),
    Param("monochrome", "bool", True, help="one grain for all channels, as in black-and-white film"),
)
def film_grain(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Gaussian grain of a chosen size, strongest in the midtones like real film."""
    width, height = image.size
    channels = 1 if p["monochrome"] else 3
    grain_w, grain_h = max(1, round(width / p["size"])), max(1, round(height / p["size"]))
    fields = []
    for _ in range(channels):
        noise = rng.standard_normal((grain_h, grain_w), dtype=np.float32)
        field = noise if (grain_w, grain_h) == (width, height) else np.asarray(
            Image.fromarray(noise, "F").resize((width, height), Image.Resampling.BICUBIC))
        fields.append(field * min(p["size"], 2.0) ** 0.5)   # upsampling smooths; keep the spread
    grain = np.stack(fields, axis=-1)

    def add(rgb: np.ndarray) -> np.ndarray:
        light = luminance(rgb)[..., None]
        midtones = 0.35 + 2.6 * light * (1 - light)
        return rgb + grain * (0.12 * p["amount"]) * midtones

    return per_pixel(image, add)


@operation(
    "blur", "Blur", "artistic",
    Param("kind", "choice", "gaussian", choices=("gaussian", "motion", "tilt_shift")),
    Param("radius", "float", 4.0, min=0.3, max=60.0, step=0.1, help="px"),
    Param("angle", "float", 0.0, min=-180.0, max=180.0, step=1.0, help="motion: direction, degrees"),
    Param("focus", "float", 0.55, min=0.0, max=1.0, step=0.01,
          help="tilt-shift: height of the sharp band (0 top, 1 bottom)"),
    Param("band", "float", 0.15, min=0.02, max=0.8, step=0.01, help="tilt-shift: sharp band height"),
)
def blur_op(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Gaussian, motion (directional) or tilt-shift (miniature) blur."""
    if p["kind"] == "motion":
        return _motion_blur(image, p["radius"], p["angle"])
    blurred = linear_spatial(image, lambda data: blur(data, p["radius"]))
    if p["kind"] == "gaussian":
        return blurred
    # Tilt-shift: sharp in a horizontal band, blurring progressively above and below it.
    height = image.height
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    t = np.clip((np.abs(ys - p["focus"]) - p["band"] / 2) / 0.25, 0, 1)
    weight = (t * t * (3 - 2 * t))[:, None, None]
    sharp, sharp_alpha = split(image)
    soft, soft_alpha = split(blurred)
    alpha = None if sharp_alpha is None else \
        soft_alpha * weight[..., 0] + sharp_alpha * (1 - weight[..., 0])
    return join(sharp * (1 - weight) + soft * weight, alpha)


def _motion_blur(image: Image.Image, length: float, angle: float) -> Image.Image:
    """Turn the picture so the motion runs along x, box-blur along x only, turn back."""
    width, height = image.size
    rgba = image.convert("RGBA").convert("RGBa")    # premultiplied: no dark streaks from transparency
    turned = rgba.rotate(-angle, Image.Resampling.BILINEAR, expand=True)
    streaked = turned.filter(ImageFilter.BoxBlur((length / 2, 0)))
    back = streaked.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    left, top = (back.width - width) // 2, (back.height - height) // 2
    result = back.crop((left, top, left + width, top + height)).convert("RGBA")
    if image.mode == "RGB":
        # The streaks pulled in the transparent margin at the edges: fill it from the picture.
        rgb, alpha = split(result)
        return join(np.clip(rgb * np.clip(alpha, 0, 1)[..., None]
                            + split(image)[0] * (1 - alpha)[..., None], 0, 1))
    return result


@operation(
    "sharpen", "Sharpen", "artistic",
    Param("amount", "float", 1.0, min=0.0, max=4.0, step=0.05),
    Param("radius", "float", 1.5, min=0.3, max=10.0, step=0.1, help="px: the size of detail to lift"),
    Param("threshold", "float", 0.01, min=0.0, max=0.3, step=0.005,
          help="leave differences smaller than this alone (keeps noise down)"),
)
def sharpen(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Unsharp mask on lightness only, so edges gain contrast without colour halos."""

    def unsharp(rgb: np.ndarray) -> np.ndarray:
        light = luminance(rgb)
        detail = light - blur(light, p["radius"])
        # A soft threshold: small differences fade out instead of switching off.
        gate = np.clip(np.abs(detail) / max(p["threshold"], 1e-6) - 1.0, 0, 1) if p["threshold"] > 0 \
            else 1.0
        return rgb + (detail * gate * p["amount"])[..., None]

    return painted(image, unsharp)


OPERATIONS = [grayscale, sepia, posterize, vignette, film_grain, blur_op, sharpen]
