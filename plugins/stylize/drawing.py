"""Drawn and printed looks: pencil sketch, ink / comic and halftone."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from core.params import Param, hex_to_rgb

from .base import blur, luminance, operation, painted
from .painterly import kuwahara
from .palette import map_to_palette


def _streaks(rng: np.random.Generator, height: int, width: int, angle: float, length: float) -> np.ndarray:
    """Random pencil strokes: noise smeared along one direction (values about −1..1)."""
    side = int(math.ceil(math.hypot(height, width))) + 2
    noise = rng.standard_normal((side, side), dtype=np.float32)
    grey = Image.fromarray(np.clip(noise * 40 + 128, 0, 255).astype(np.uint8), "L")
    smeared = grey.filter(ImageFilter.BoxBlur((length, 0))).rotate(angle, Image.Resampling.BILINEAR)
    top, left = (side - height) // 2, (side - width) // 2
    data = np.asarray(smeared, dtype=np.float32)[top:top + height, left:left + width]
    data = data - data.mean()
    return data / (data.std() + 1e-6)


@operation(
    "pencil_sketch", "Pencil sketch", "artistic",
    Param("line", "float", 2.0, min=0.5, max=10.0, step=0.1, help="line width, px"),
    Param("darkness", "float", 1.0, min=0.2, max=3.0, step=0.05),
    Param("shading", "float", 0.6, min=0.0, max=1.0, step=0.05, help="hatching in the dark areas"),
    Param("color", "float", 0.0, min=0.0, max=1.0, step=0.05, help="0 graphite, 1 coloured pencils"),
)
def pencil_sketch(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Colour-dodge line drawing with hatching where the picture is dark."""

    def draw(rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        grey = luminance(rgb)
        # Colour dodge of the grey by its own blurred negative: flat areas go white,
        # the dark side of every edge stays as a line.
        lines = np.clip(grey / np.maximum(blur(grey, p["line"] * 2.0), 1e-3), 0, 1) ** (4.0 * p["darkness"])
        tone = blur(grey, max(height, width) / 200.0)
        shade_need = np.clip((0.65 - tone) / 0.65, 0, 1)
        hatch = _streaks(rng, height, width, 45.0, max(height, width) / 60.0)
        cross = _streaks(rng, height, width, -45.0, max(height, width) / 60.0)
        strokes = np.clip(0.5 + 0.5 * hatch, 0, 1) * shade_need
        strokes += np.clip(0.5 + 0.5 * cross, 0, 1) * np.clip(shade_need * 2 - 1, 0, 1)
        sketch = lines * (1.0 - p["shading"] * 0.55 * np.clip(strokes, 0, 1))
        sketch = sketch * 0.96 + 0.02                   # graphite is never pure black
        paper = np.array([0.98, 0.975, 0.96], dtype=np.float32)
        graphite = sketch[..., None] * paper
        if p["color"] <= 0:
            return graphite
        tinted = sketch[..., None] * (1.0 - 0.6 * (1.0 - rgb))   # light coloured-pencil wash
        return graphite + (tinted - graphite) * p["color"]

    return painted(image, draw)


@operation(
    "ink", "Ink / comic", "artistic",
    Param("colors", "int", 6, min=2, max=16, help="flat colours"),
    Param("line", "float", 1.5, min=0.5, max=6.0, step=0.1, help="line width, px"),
    Param("line_amount", "float", 1.0, min=0.0, max=1.0, step=0.05, help="0 hides the ink lines"),
    Param("line_color", "color", "#151515"),
)
def ink(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Comic-book look: flat colour areas with ink lines along the edges (XDoG)."""
    line_colour = np.asarray(hex_to_rgb(p["line_color"]), dtype=np.float32) / 255.0

    def draw(rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        # Flat colours: edge-preserving smoothing, then the picture's own small palette.
        smooth = kuwahara(rgb, max(2, round(max(height, width) / 300)), 10.0)
        smooth8 = np.clip(smooth * 255 + 0.5, 0, 255).astype(np.uint8)
        sample = Image.fromarray(smooth8)
        sample.thumbnail((256, 256), Image.Resampling.BOX)
        quantised = sample.quantize(p["colors"], method=Image.Quantize.MEDIANCUT, kmeans=3)
        flat_palette = quantised.getpalette() or [0, 0, 0]
        used = sorted({i for _, i in quantised.getcolors(256) or [(0, 0)]})
        palette = ["#%02x%02x%02x" % tuple(flat_palette[3 * i:3 * i + 3]) for i in used]
        colours = np.array([[int(c[k:k + 2], 16) for k in (1, 3, 5)] for c in palette],
                           dtype=np.float32) / 255.0
        flat = colours[map_to_palette(smooth8, palette)]
        # Ink: extended difference of Gaussians, thresholded softly (Winnemöller 2012).
        # Measured against its own spread, so a soft photo gets as many lines as a crisp one.
        grey = luminance(smooth)
        sigma = p["line"] * 0.6
        difference = blur(grey, sigma) - 0.985 * blur(grey, sigma * 1.6)
        difference /= max(float(difference.std()), 0.002)
        ink_amount = np.clip(-np.tanh(3.0 * (difference + 1.0)), 0, 1) * p["line_amount"]
        return flat * (1 - ink_amount[..., None]) + line_colour * ink_amount[..., None]

    return painted(image, draw)


# Process inks as printed (approximate sRGB), with their screen angles.
CMYK_SCREENS = (("cyan", (0.0, 0.68, 0.94), 15.0), ("magenta", (0.93, 0.0, 0.55), 75.0),
                ("yellow", (1.0, 0.94, 0.0), 0.0), ("black", (0.12, 0.12, 0.12), 45.0))


def _screen(coverage: np.ndarray, cell: float, angle: float) -> np.ndarray:
    """One halftone screen: round dots on a grid turned by ``angle``, each dot's
    area proportional to the ink coverage at its centre; antialiased by 1 px."""
    height, width = coverage.shape
    theta = math.radians(angle)
    cos, sin = np.float32(math.cos(theta)), np.float32(math.sin(theta))
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    u = xs * cos + ys * sin
    v = -xs * sin + ys * cos
    cu = (np.floor(u / cell) + 0.5) * cell
    cv = (np.floor(v / cell) + 0.5) * cell
    cx = np.clip((cu * cos - cv * sin).astype(np.int32), 0, width - 1)
    cy = np.clip((cu * sin + cv * cos).astype(np.int32), 0, height - 1)
    radius = cell * np.sqrt(np.clip(coverage[cy, cx], 0, 1) / math.pi) * 1.05
    distance = np.sqrt((u - cu) ** 2 + (v - cv) ** 2)
    return np.clip(radius - distance + 0.5, 0.0, 1.0)


@operation(
    "halftone", "Halftone", "artistic",
    Param("cell", "float", 8.0, min=3.0, max=48.0, step=0.5, help="dot spacing, px"),
    Param("mode", "choice", "cmyk", choices=("cmyk", "mono")),
    Param("angle", "float", 45.0, min=-90.0, max=90.0, step=1.0, help="mono: screen angle"),
    Param("paper", "color", "#fbf8f0"),
)
def halftone(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Print dots: one black screen, or four CMYK screens at their classic angles."""
    paper = np.asarray(hex_to_rgb(p["paper"]), dtype=np.float32) / 255.0
    cell = p["cell"]

    def print_dots(rgb: np.ndarray) -> np.ndarray:
        averaged = blur(rgb, cell / 3.0)          # what one cell of ink has to stand for
        if p["mode"] == "mono":
            dots = _screen(1.0 - luminance(averaged), cell, p["angle"])
            return paper * (1.0 - 0.9 * dots[..., None])
        cmy = 1.0 - averaged
        black = cmy.min(axis=-1)
        coverages = [(cmy[..., i] - black) / np.maximum(1.0 - black, 1e-3) for i in range(3)]
        coverages.append(black)
        out = np.broadcast_to(paper, rgb.shape).copy()
        for (_, ink_rgb, angle), coverage in zip(CMYK_SCREENS, coverages):
            dots = _screen(coverage, cell, angle)[..., None]
            out *= 1.0 - dots * (1.0 - np.asarray(ink_rgb, dtype=np.float32))   # inks multiply
        return out

    return painted(image, print_dots)


OPERATIONS = [pencil_sketch, ink, halftone]
