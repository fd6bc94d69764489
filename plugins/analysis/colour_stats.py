"""Colour statistics of a picture, each on a documented scale.

- brightness: mean CIELAB lightness L*/100, 0 (black) to 1 (white);
- contrast: RMS contrast, the standard deviation of L*/100 (0 flat, ~0.5 max);
- saturation: mean HSV saturation, 0 (grey) to 1;
- colorfulness: Hasler & Süsstrunk (2003) M on 0–255 RGB (0 grey, ~110+ extreme),
  with their words for its ranges;
- warmth: chroma-weighted mean of cos(hue − 60°) in LCh, -1 (all blue/cyan) to
  +1 (all orange/red/yellow); greys pull it towards 0.
"""
from __future__ import annotations

import numpy as np

WARM_HUE = 60.0           # LCh hue of orange, the warmest direction
GREY_CHROMA = 5.0         # chroma that counts as "no colour" in the warmth average
# Hasler & Süsstrunk's perceptual scale gives a typical M for each word (0, 15, 33,
# 45, 59, 82, 109); a word's band ends halfway to the next one's typical value
COLORFULNESS_WORDS = ((7.5, "not colourful"), (24, "slightly colourful"),
                      (39, "moderately colourful"), (52, "averagely colourful"),
                      (70.5, "quite colourful"), (95.5, "highly colourful"))


def colour_stats(pixels: np.ndarray, lab: np.ndarray) -> dict[str, float | str]:
    """``pixels``: H×W×3 uint8 (any size); ``lab``: sampled pixels in Lab, (n, 3)."""
    lightness = lab[:, 0] / 100.0
    rgb = pixels.reshape(-1, 3).astype(np.float64)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.arctan2(lab[:, 2], lab[:, 1])
    warmth = (chroma * np.cos(hue - np.radians(WARM_HUE))).sum() / \
        (np.maximum(chroma, GREY_CHROMA).sum() + 1e-9)
    colorfulness = hasler_susstrunk(rgb)
    return {
        "brightness": round(float(lightness.mean()), 4),
        "contrast": round(float(lightness.std()), 4),
        "saturation": round(hsv_saturation(pixels), 4),
        "colorfulness": round(colorfulness, 2),
        "colorfulness_label": colorfulness_words(colorfulness),
        "warmth": round(float(warmth), 4),
    }


def hsv_saturation(pixels: np.ndarray) -> float:
    """Mean HSV saturation, (max - min) / max per pixel (0 for black)."""
    high = pixels.max(axis=-1).astype(np.float32)
    low = pixels.min(axis=-1).astype(np.float32)
    return float(np.where(high > 0, (high - low) / np.maximum(high, 1), 0).mean())


def hasler_susstrunk(rgb: np.ndarray) -> float:
    red, green, blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colorfulness_words(value: float) -> str:
    for bound, words in COLORFULNESS_WORDS:
        if value < bound:
            return words
    return "extremely colourful"
