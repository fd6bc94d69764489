"""Palette operations: ``recolor`` (map a picture onto a list of colours) and
``pixel_art`` (pixelate, then quantise to a small palette).

Nearest colours are found in CIELAB, where distance follows perceived difference.
Rather than converting every pixel, each palette gets a lookup table over a
64×64×64 grid of RGB (2 bits dropped per channel, which no eye sees in a
palette mapping), computed once and cached.

``recolor`` is the op core uses for palette styles (``--style palette:#e53935,...``),
and its ``palette`` parameter takes what the Analyze tab shows: a list of hex colours.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np
from PIL import Image

from core.errors import UserError
from core.params import Param, hex_to_rgb

from .base import join, mix, operation, split
from .colorspace import oklab_to_srgb, srgb_to_cielab, srgb_to_oklab

GRID = 64                     # lookup-table cells per channel
DEFAULT_PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"]
NAMED_PALETTES = {
    "pico8": ["#000000", "#1d2b53", "#7e2553", "#008751", "#ab5236", "#5f574f", "#c2c3c7",
              "#fff1e8", "#ff004d", "#ffa300", "#ffec27", "#00e436", "#29adff", "#83769c",
              "#ff77a8", "#ffccaa"],
    "gameboy": ["#0f380f", "#306230", "#8bac0f", "#9bbc0f"],
    "grayscale": ["#000000", "#444444", "#888888", "#bbbbbb", "#ffffff"],
}
# 8×8 Bayer matrix, thresholds centred on zero: the classic ordered-dither pattern.
_BAYER = np.array([[0, 32, 8, 40, 2, 34, 10, 42], [48, 16, 56, 24, 50, 18, 58, 26],
                   [12, 44, 4, 36, 14, 46, 6, 38], [60, 28, 52, 20, 62, 30, 54, 22],
                   [3, 35, 11, 43, 1, 33, 9, 41], [51, 19, 59, 27, 49, 17, 57, 25],
                   [15, 47, 7, 39, 13, 45, 5, 37], [63, 31, 55, 23, 61, 29, 53, 21]],
                  dtype=np.float32) / 64.0 - 0.5


@functools.lru_cache(maxsize=1)
def _grid_lab() -> np.ndarray:
    centres = (np.arange(GRID, dtype=np.float32) * (256 // GRID) + (256 // GRID - 1) / 2) / 255.0
    r, g, b = np.meshgrid(centres, centres, centres, indexing="ij")
    return srgb_to_cielab(np.stack([r, g, b], axis=-1).reshape(-1, 3))


@functools.lru_cache(maxsize=32)
def _nearest_table(palette: tuple[str, ...], lightness_weight: float) -> np.ndarray:
    """For every grid cell, the index of the nearest palette colour in CIELAB."""
    grid = _grid_lab()
    targets = srgb_to_cielab(np.array([hex_to_rgb(c) for c in palette], dtype=np.float32) / 255.0)
    weights = np.array([lightness_weight, 1.0, 1.0], dtype=np.float32)
    best = np.full(len(grid), np.inf, dtype=np.float32)
    index = np.zeros(len(grid), dtype=np.uint8)
    for i, target in enumerate(targets):   # one colour at a time keeps memory flat
        distance = (((grid - target) ** 2) * weights).sum(axis=1)
        closer = distance < best
        best[closer], index[closer] = distance[closer], i
    return index


def palette_rgb(palette: Sequence[str]) -> np.ndarray:
    return np.array([hex_to_rgb(c) for c in palette], dtype=np.uint8)


def map_to_palette(rgb8: np.ndarray, palette: Sequence[str], *, dither: str = "none",
                   lightness_weight: float = 1.0) -> np.ndarray:
    """uint8 H×W×3 -> palette indices H×W (nearest in CIELAB, optional ordered dither)."""
    table = _nearest_table(tuple(palette), lightness_weight)
    values = rgb8.astype(np.int32)
    if dither == "ordered" and len(palette) > 1:
        height, width = rgb8.shape[:2]
        threshold = np.tile(_BAYER, (height // 8 + 1, width // 8 + 1))[:height, :width]
        values = values + (threshold * _dither_spread(palette))[..., None].astype(np.int32)
    cells = np.clip(values, 0, 255) >> 2
    return table[(cells[..., 0] << 12) | (cells[..., 1] << 6) | cells[..., 2]]


def _dither_spread(palette: Sequence[str]) -> float:
    """How far apart neighbouring palette colours are (RGB units): the dither
    amplitude that lets a pixel between two colours flicker between them."""
    colours = palette_rgb(palette).astype(np.float32)
    gaps = np.sqrt(((colours[:, None] - colours[None]) ** 2).sum(-1))
    gaps[gaps == 0] = np.inf
    nearest = gaps.min(axis=1)
    return float(np.median(nearest[np.isfinite(nearest)])) if np.isfinite(nearest).any() else 0.0


def _floyd_steinberg(image: Image.Image, palette: Sequence[str]) -> np.ndarray:
    """Error diffusion by Pillow's quantizer (RGB distance): returns uint8 H×W×3."""
    colours = palette_rgb(palette)
    flat = colours.reshape(-1).tolist()
    flat += colours[0].tolist() * (256 - len(colours))   # pad with a real entry, never black
    holder = Image.new("P", (1, 1))
    holder.putpalette(flat)
    quantised = image.convert("RGB").quantize(palette=holder, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(quantised.convert("RGB"))


@operation(
    "recolor", "Recolour to palette", "tone",
    Param("palette", "colors", DEFAULT_PALETTE,
          help="hex colours, comma-separated: paste a palette from the Analyze tab"),
    Param("strength", "float", 1.0, min=0.0, max=1.0, step=0.05),
    Param("dither", "choice", "none", choices=("none", "ordered", "floyd-steinberg")),
    Param("keep_lightness", "bool", False,
          help="take hue and chroma from the palette but keep each pixel's lightness"),
)
def recolor(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Map every pixel onto the nearest palette colour (perceptually, in CIELAB)."""
    palette = p["palette"]
    if not palette:
        raise UserError("the palette is empty: give at least one #rrggbb colour")
    rgb8 = np.asarray(image.convert("RGB"))
    if p["dither"] == "floyd-steinberg":
        mapped8 = _floyd_steinberg(image, palette)
    else:
        weight = 0.3 if p["keep_lightness"] else 1.0
        mapped8 = palette_rgb(palette)[map_to_palette(rgb8, palette, dither=p["dither"],
                                                      lightness_weight=weight)]
    original, alpha = split(image)
    mapped = mapped8.astype(np.float32) / 255.0
    if p["keep_lightness"]:
        lab = srgb_to_oklab(mapped)
        lab[..., 0] = srgb_to_oklab(original)[..., 0]
        mapped = oklab_to_srgb(lab)
    return join(mix(original, mapped, p["strength"]), alpha)


@operation(
    "pixel_art", "Pixel art", "artistic",
    Param("blocks", "int", 64, min=8, max=256, help="pixels across the long side"),
    Param("palette", "choice", "adaptive", choices=("adaptive", *NAMED_PALETTES)),
    Param("colors", "int", 16, min=2, max=64, help="palette size for 'adaptive'"),
    Param("dither", "choice", "none", choices=("none", "ordered")),
)
def pixel_art(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Big square pixels in a small palette, with hard (on/off) transparency."""
    width, height = image.size
    block = max(1, round(max(width, height) / p["blocks"]))
    small_w, small_h = -(-width // block), -(-height // block)
    # Pad by repeating the edge so the last row/column of blocks is as big as the rest.
    array = np.asarray(image)
    pad = ((0, small_h * block - height), (0, small_w * block - width), (0, 0))
    padded = Image.fromarray(np.pad(array, pad, mode="edge"), image.mode)
    small = padded.resize((small_w, small_h), Image.Resampling.BOX)   # premultiplied for RGBA
    colours = NAMED_PALETTES.get(p["palette"]) or _adaptive_palette(small, p["colors"])
    rgb8 = np.asarray(small.convert("RGB"))
    indices = map_to_palette(rgb8, colours, dither=p["dither"])
    pixels = palette_rgb(colours)[indices]
    if small.mode == "RGBA":
        hard_alpha = np.where(np.asarray(small)[..., 3] >= 128, 255, 0).astype(np.uint8)
        pixels = np.concatenate([pixels, hard_alpha[..., None]], axis=-1)
    result = Image.fromarray(pixels, "RGBA" if small.mode == "RGBA" else "RGB")
    result = result.resize((small_w * block, small_h * block), Image.Resampling.NEAREST)
    return result.crop((0, 0, width, height))


def _adaptive_palette(small: Image.Image, count: int) -> list[str]:
    """The picture's own palette: median cut refined by k-means (Pillow, deterministic)."""
    quantised = small.convert("RGB").quantize(count, method=Image.Quantize.MEDIANCUT, kmeans=3)
    used = sorted({index for _, index in quantised.getcolors(256) or []})
    flat = quantised.getpalette() or []
    return ["#%02x%02x%02x" % tuple(flat[3 * i:3 * i + 3]) for i in used] or ["#000000"]


OPERATIONS = [recolor, pixel_art]
