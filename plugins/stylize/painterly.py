"""Painterly effects: oil paint (a smooth Kuwahara filter with impasto relief)
and watercolour (abstraction, wet-edge bleeding, pigment pooling, paper grain).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from core.params import Param, hex_to_rgb

from .base import blur, luminance, operation, painted


def kuwahara(rgb: np.ndarray, radius: int, sharpness: float = 8.0) -> np.ndarray:
    """Smooth Kuwahara filter (after Papari et al., 2007), vectorised.

    Each pixel looks at eight square sub-windows around it (four diagonal, four
    along the axes), each of half the kernel's size. Flat sub-windows (low
    variance of lightness) get the weight: a pixel near an edge takes the mean of
    the side it belongs to, which flattens texture into strokes while keeping
    edges crisp. All window statistics come from box filters computed once, so
    the cost does not grow with the radius.
    """
    radius = max(1, int(radius))
    size = radius + 1
    light = luminance(rgb)
    # Planar (C, H, W) copies: box filters run much faster on contiguous planes.
    planes = np.ascontiguousarray(np.concatenate([rgb.transpose(2, 0, 1), light[None], (light * light)[None]]))
    stats = ndimage.uniform_filter(planes, (1, size, size), mode="reflect")
    means, light_mean = stats[:3], stats[3]
    variance = np.maximum(stats[4] - light_mean * light_mean, 0.0)
    half = radius / 2.0
    offsets = [(-half, -half), (-half, half), (half, -half), (half, half),
               (-radius * 0.7, 0), (radius * 0.7, 0), (0, -radius * 0.7), (0, radius * 0.7)]
    pad = radius + 1
    padded_var = np.pad(variance, pad, mode="edge")
    padded_means = np.pad(means, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    height, width = light.shape
    total_weight = np.zeros_like(light)
    total = np.zeros((3, height, width), dtype=np.float32)
    # Normalising by the typical variance makes the weights independent of contrast.
    scale = np.float32(1.0 / (float(np.median(variance)) + 1e-5))
    power = np.float32(sharpness / 2)
    for dy, dx in offsets:
        top, left = pad + int(round(dy)), pad + int(round(dx))
        window = (slice(top, top + height), slice(left, left + width))
        weight = 1.0 / (1.0 + np.power(padded_var[window] * scale, power))
        total_weight += weight
        total += padded_means[(slice(None), *window)] * weight
    return (total / total_weight).transpose(1, 2, 0)


def stroke_texture(rgb: np.ndarray, brush: float, rng: np.random.Generator) -> np.ndarray:
    """Bristle marks that follow the picture's shapes (a line-integral convolution).

    Noise is smeared along the local edge direction, found from the structure
    tensor of the lightness: strokes run along contours, as a painter's would.
    """
    height, width = rgb.shape[:2]
    gy, gx = np.gradient(blur(luminance(rgb), 1.0))
    sigma = max(brush * 1.5, 2.0)
    jxx, jxy, jyy = blur(gx * gx, sigma), blur(gx * gy, sigma), blur(gy * gy, sigma)
    gradient_angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    tx, ty = -np.sin(gradient_angle), np.cos(gradient_angle)      # along the edges
    noise = blur(rng.standard_normal((height, width), dtype=np.float32), max(brush * 0.2, 0.6))
    flat = noise.reshape(-1)
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    total = noise.copy()
    steps = int(min(max(brush * 1.5, 3), 14))
    for k in range(1, steps + 1):
        for sign in (1.0, -1.0):
            ix = np.clip(cols + sign * k * tx + 0.5, 0, width - 1).astype(np.int32)
            iy = np.clip(rows + sign * k * ty + 0.5, 0, height - 1).astype(np.int32)
            total += flat[iy * width + ix]
    total /= total.std() + 1e-6
    return total


def relief(rgb: np.ndarray, height_map: np.ndarray, strength: float) -> np.ndarray:
    """Light the picture as if ``height_map`` were the thickness of the paint
    (light from the top left), so strokes and ridges catch the light."""
    gy, gx = np.gradient(height_map)
    shade = -(gx + gy)
    return rgb * (1.0 + strength * np.clip(shade, -0.6, 0.6))[..., None]


@operation(
    "oil_paint", "Oil paint", "artistic",
    Param("brush", "int", 5, min=2, max=16, help="brush size, px (Kuwahara radius)"),
    Param("sharpness", "float", 8.0, min=1.0, max=16.0, step=0.5,
          help="how strictly a pixel keeps to the flattest side of an edge"),
    Param("relief", "float", 0.6, min=0.0, max=1.5, step=0.05,
          help="impasto: light catching the ridges of thick strokes"),
    Param("texture", "float", 0.5, min=0.0, max=1.0, step=0.05, help="visible bristle marks"),
)
def oil_paint(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Kuwahara-flattened colour, brush strokes along the contours, lit relief."""

    def paint(rgb: np.ndarray) -> np.ndarray:
        out = kuwahara(rgb, p["brush"], p["sharpness"])
        if p["relief"] <= 0 or min(out.shape[:2]) < 3:   # no relief to light on a sliver
            return out
        thickness = blur(luminance(out), 1.0) * 3.0
        if p["texture"] > 0:
            thickness = thickness + stroke_texture(out, p["brush"], rng) * (0.08 * p["texture"])
        return relief(out, thickness, p["relief"] * 6.0 / 3.0)

    return painted(image, paint)


@operation(
    "watercolor", "Watercolour", "artistic",
    Param("abstraction", "int", 6, min=1, max=16, help="how much detail washes out, px"),
    Param("bleed", "float", 0.5, min=0.0, max=1.0, step=0.05, help="wobble of the wet edges"),
    Param("pooling", "float", 0.6, min=0.0, max=1.0, step=0.05,
          help="darker pigment gathered along the edges of each wash"),
    Param("granulation", "float", 0.5, min=0.0, max=1.0, step=0.05, help="paper and pigment grain"),
    Param("paper", "color", "#fbf7ee"),
)
def watercolor(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Transparent washes on textured paper."""
    paper = np.asarray(hex_to_rgb(p["paper"]), dtype=np.float32) / 255.0

    def wash(rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        reach = max(height, width) / 1024.0      # effects keep their look at any size
        # 1. Abstraction: flatten detail into areas of colour, keeping their edges.
        flat = kuwahara(rgb, max(1, round(p["abstraction"] * max(reach, 0.5))), 6.0)
        # 2. Bleeding: displace the wash by smooth random offsets, so edges wander.
        if p["bleed"] > 0:
            flat = _wobble(flat, rng, amplitude=p["bleed"] * 5.0 * reach)
        # 3. Pigment as absorbance: watercolour darkens the paper, it never covers
        #    it, and a wash is thinner (lighter) than the colour it stands for.
        density = np.clip(1.0 - flat / np.maximum(paper, 1e-3), 0.0, 1.0) ** 1.2 * 0.8
        # Uneven washes: pigment never spreads perfectly evenly.
        blotches = _smooth_noise(rng, height, width, max(height, width) / 10.0)
        density = density * (1.0 + 0.22 * np.clip(blotches, -2, 2))[..., None]
        # 4. Pooling: pigment collects where one wash meets another.
        edge = np.abs(flat - blur(flat, 2.5 * max(reach, 0.5))).sum(axis=-1)
        edge = np.clip(edge / (np.percentile(edge, 98) + 1e-6), 0, 1)
        density = density * (1.0 + p["pooling"] * 1.1 * edge[..., None])
        # 5. Granulation: paper tooth; pigment settles in the hollows.
        grain = _paper_texture(rng, height, width)[..., None]
        density = density * (1.0 + p["granulation"] * 0.5 * grain)
        shaded_paper = paper * (1.0 + 0.025 * p["granulation"] * grain)
        return shaded_paper * (1.0 - np.clip(density, 0.0, 1.0))

    return painted(image, wash)


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., c]), "F")
                           .resize((width, height), Image.Resampling.BILINEAR)) for c in range(3)]
    return np.stack(channels, axis=-1)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Value noise: random values on a coarse grid, upsampled bicubically (−1..1-ish)."""
    grid_h, grid_w = max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)
    coarse = rng.standard_normal((grid_h, grid_w), dtype=np.float32)
    return np.array(Image.fromarray(coarse, "F").resize((width, height), Image.Resampling.BICUBIC))


def _wobble(rgb: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    cell = max(height, width) / 24.0
    dy = _smooth_noise(rng, height, width, cell) * amplitude
    dx = _smooth_noise(rng, height, width, cell) * amplitude
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    coords = np.stack([ys + dy, xs + dx])
    return np.stack([ndimage.map_coordinates(rgb[..., c], coords, order=1, mode="nearest")
                     for c in range(3)], axis=-1)


def _paper_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    fine = blur(rng.standard_normal((height, width), dtype=np.float32), 0.8)
    coarse = _smooth_noise(rng, height, width, 6.0)
    texture = fine * 1.4 + coarse * 0.6
    return np.clip(texture, -2.5, 2.5) / 2.5


OPERATIONS = [oil_paint, watercolor]
