"""Tone and colour: brightness, contrast, saturation, hue, temperature, gamma and
auto-contrast. (The palette recolour lives in ``palette.py``.)

Curves that act on each channel alone (brightness, gamma, contrast, levels) are
built as 256-entry tables and applied by Pillow, which is exact for 8-bit input
and fast; hue and saturation work in Oklab so lightness stays where it was.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from core.params import Param

from .base import operation, per_pixel
from .colorspace import linear_to_srgb, oklab_to_srgb, srgb_to_linear, srgb_to_oklab

_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def apply_curves(image: Image.Image, curves: list[np.ndarray]) -> Image.Image:
    """Apply one curve (values in [0, 1] for inputs 0..255) per RGB channel; alpha untouched."""
    tables: list[int] = []
    for curve in curves:
        tables.extend(np.clip(np.round(curve * 255.0), 0, 255).astype(int).tolist())
    if image.mode == "RGBA":
        tables.extend(range(256))
    return image.point(tables)


def same_curve(image: Image.Image, curve: np.ndarray) -> Image.Image:
    return apply_curves(image, [curve, curve, curve])


def mean_luminance(image: Image.Image) -> float:
    """Mean luma from the 8-bit histograms (no pixel array needed)."""
    histogram = np.asarray(image.convert("RGB").histogram(), dtype=np.float64).reshape(3, 256)
    means = (histogram * np.arange(256)).sum(axis=1) / max(histogram[0].sum(), 1) / 255.0
    return float(means @ np.array([0.2126, 0.7152, 0.0722]))


@operation(
    "brightness", "Brightness", "tone",
    Param("amount", "float", 0.15, min=-1.0, max=1.0, step=0.01,
          help="positive lifts towards white, negative sinks towards black; never clips"),
)
def brightness(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Lift the tones towards white or sink them towards black, never clipping."""
    amount = p["amount"]
    curve = _LEVELS + amount * (1.0 - _LEVELS) if amount >= 0 else _LEVELS * (1.0 + amount)
    return same_curve(image, curve)


@operation(
    "contrast", "Contrast", "tone",
    Param("amount", "float", 0.25, min=-1.0, max=1.0, step=0.01,
          help="-1 flattens to grey, 0 keeps, 1 doubles the contrast"),
    Param("smooth", "bool", True, help="an S-curve that rolls off instead of clipping highlights"),
)
def contrast(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Spread tones away from the picture's mean light (or pull them together)."""
    pivot = min(max(mean_luminance(image), 0.05), 0.95)
    factor = 1.0 + p["amount"]
    if p["smooth"] and factor > 1.0:
        # A sigmoid through the pivot with slope `factor` there, rescaled to hit 0 and 1.
        def s(x: np.ndarray) -> np.ndarray:
            return np.tanh((x - pivot) * factor * 2.0)

        low, high = s(np.array(0.0)), s(np.array(1.0))
        curve = (s(_LEVELS) - low) / (high - low)
    else:
        curve = (_LEVELS - pivot) * factor + pivot
    return same_curve(image, curve)


@operation(
    "saturation", "Saturation", "tone",
    Param("factor", "float", 1.4, min=0.0, max=3.0, step=0.05, help="0 is grey, 1 keeps"),
)
def saturation(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Scale chroma in Oklab: lightness and hue stay where they were."""
    factor = np.float32(p["factor"])

    def scale_chroma(rgb: np.ndarray) -> np.ndarray:
        lab = srgb_to_oklab(rgb)
        lab[..., 1:] *= factor
        return oklab_to_srgb(lab)

    return per_pixel(image, scale_chroma)


@operation(
    "hue_shift", "Hue shift", "tone",
    Param("degrees", "float", 30.0, min=-180.0, max=180.0, step=1.0),
)
def hue_shift(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Turn every hue round the colour wheel (in Oklab, so lightness is kept)."""
    angle = math.radians(p["degrees"])
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))

    def turn(rgb: np.ndarray) -> np.ndarray:
        lab = srgb_to_oklab(rgb)
        a, b = lab[..., 1].copy(), lab[..., 2]
        lab[..., 1] = a * cos - b * sin
        lab[..., 2] = a * sin + b * cos
        return oklab_to_srgb(lab)

    return per_pixel(image, turn)


@operation(
    "temperature", "Temperature / tint", "tone",
    Param("warmth", "float", 0.3, min=-1.0, max=1.0, step=0.01, help="+ warmer (amber), - cooler (blue)"),
    Param("tint", "float", 0.0, min=-1.0, max=1.0, step=0.01, help="+ magenta, - green"),
)
def temperature(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """White balance: channel gains in linear light, normalised to keep luminance."""
    warmth, tint = p["warmth"], p["tint"]
    gains = np.array([1.0 + 0.35 * warmth, 1.0 - 0.25 * tint, 1.0 - 0.35 * warmth]).clip(0.2, 2.0)
    gains /= gains @ np.array([0.2126, 0.7152, 0.0722])   # white stays as light as it was
    curves = [linear_to_srgb(np.clip(srgb_to_linear(_LEVELS.astype(np.float32)) * g, 0, 1))
              for g in gains.astype(np.float32)]
    return apply_curves(image, curves)


@operation(
    "gamma", "Gamma", "tone",
    Param("gamma", "float", 1.25, min=0.1, max=5.0, step=0.05,
          help="above 1 brightens the midtones, below 1 darkens them"),
)
def gamma(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Brighten or darken the midtones; black and white stay where they are."""
    return same_curve(image, _LEVELS ** (1.0 / p["gamma"]))


@operation(
    "auto_contrast", "Auto-contrast", "tone",
    Param("cutoff", "float", 0.5, min=0.0, max=20.0, step=0.1,
          help="per cent of the darkest and lightest pixels allowed to clip"),
    Param("per_channel", "bool", False, help="stretch each channel alone (also removes colour casts)"),
)
def auto_contrast(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Stretch the tones so the picture uses the full range from black to white."""
    rgb_image = image.convert("RGB")
    fraction = p["cutoff"] / 100.0
    if p["per_channel"]:
        histograms = np.asarray(rgb_image.histogram(), dtype=np.float64).reshape(3, 256)
        bounds = [_percentile_bounds(h, fraction) for h in histograms]
    else:
        grey = np.asarray(rgb_image.convert("L").histogram(), dtype=np.float64)
        bounds = [_percentile_bounds(grey, fraction)] * 3
    curves = [np.clip((_LEVELS * 255.0 - low) / max(high - low, 1.0), 0, 1) for low, high in bounds]
    return apply_curves(image, curves)


def _percentile_bounds(histogram: np.ndarray, fraction: float) -> tuple[float, float]:
    cumulative = np.cumsum(histogram) / max(histogram.sum(), 1.0)
    low = float(np.searchsorted(cumulative, fraction, side="right"))
    high = float(np.searchsorted(cumulative, 1.0 - fraction, side="left"))
    if high <= low:   # a flat picture: nothing to stretch
        return 0.0, 255.0
    return low, high


OPERATIONS = [brightness, contrast, saturation, hue_shift, temperature, gamma, auto_contrast]
