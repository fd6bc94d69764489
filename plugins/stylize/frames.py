"""Borders and frames. Both grow the canvas around the picture (a frame never
hides part of the photo); widths are fractions of the picture's shorter side.

Moulded frames (gold, wood, gallery) are computed per pixel from the distance to
the outer edge and the side it belongs to, which gives mitred corners and a
light falling from the top left for free.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core.params import Param, hex_to_rgb

from .base import blur, join, operation, split
from .geometry import check_output_size

STYLES = ("polaroid", "gallery", "gold", "wood", "film", "rounded", "deckle")
# Light on each side of a moulding: top, left, bottom, right (light from the top left).
SIDE_LIGHT = np.array([1.18, 1.06, 0.72, 0.84], dtype=np.float32)


def _colour(hex_colour: str) -> np.ndarray:
    return np.asarray(hex_to_rgb(hex_colour), dtype=np.float32) / 255.0


def _grow(image: Image.Image, left: int, top: int, right: int, bottom: int,
          fill: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The picture on a larger canvas of a flat colour (transparent parts of an
    RGBA picture stay transparent; the new margin is opaque)."""
    width, height = image.size
    new_w, new_h = width + left + right, height + top + bottom
    check_output_size(new_w, new_h, "this frame")
    rgb, alpha = split(image)
    canvas = np.empty((new_h, new_w, 3), dtype=np.float32)
    canvas[:] = fill
    canvas[top:top + height, left:left + width] = rgb
    if alpha is None:
        return canvas, None
    new_alpha = np.ones((new_h, new_w), dtype=np.float32)
    new_alpha[top:top + height, left:left + width] = alpha
    return canvas, new_alpha


@operation(
    "border", "Border", "elements",
    Param("width", "float", 0.04, min=0.002, max=0.5, step=0.002, help="fraction of the shorter side"),
    Param("color", "color", "#ffffff"),
    Param("line_width", "float", 0.0, min=0.0, max=0.05, step=0.001,
          help="a thin inner line around the picture (0 for none)"),
    Param("line_color", "color", "#222222"),
)
def border(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """A flat border, optionally with a thin line inside it (a double border)."""
    short = min(image.size)
    pad = max(1, round(p["width"] * short))
    rgb, alpha = _grow(image, pad, pad, pad, pad, _colour(p["color"]))
    line = round(p["line_width"] * short)
    if line > 0:
        gap = max(1, pad // 3)
        outer = max(pad - gap - line, 0)
        inner_w, inner_h = rgb.shape[1] - 2 * outer, rgb.shape[0] - 2 * outer
        ring = np.zeros(rgb.shape[:2], dtype=bool)
        ring[outer:outer + inner_h, outer:outer + inner_w] = True
        ring[outer + line:outer + inner_h - line, outer + line:outer + inner_w - line] = False
        rgb[ring] = _colour(p["line_color"])
    return join(rgb, alpha)


@operation(
    "frame", "Frame", "elements",
    Param("style", "choice", "polaroid", choices=STYLES),
    Param("size", "float", 0.06, min=0.01, max=0.3, step=0.005, help="fraction of the shorter side"),
    Param("color", "color", "#fdfdf8", help="paper or mat colour (polaroid, gallery, deckle)"),
)
def frame(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Polaroid, gallery mat, gold or wood moulding, film strip, rounded corners,
    or torn (deckle-edged) paper."""
    short = min(image.size)
    size = max(2, round(p["size"] * short))
    style = p["style"]
    colour = _colour(p["color"])
    if style == "polaroid":
        rgb, alpha = _grow(image, size, size, size, round(size * 3.2), colour)
        return join(_inner_shadow(rgb, size, size, image.size), alpha)
    if style == "gallery":
        mat = round(size * 1.6)
        rgb, alpha = _grow(image, mat, mat, mat, mat, colour)
        rgb = _inner_shadow(rgb, mat, mat, image.size)
        pad = max(2, round(size * 0.7))
        grown = join(rgb, alpha)
        rgb, alpha = _grow(grown, pad, pad, pad, pad, np.zeros(3, np.float32))
        return join(_moulding(rgb, pad, "black", rng), alpha)
    if style in ("gold", "wood"):
        rgb, alpha = _grow(image, size, size, size, size, np.zeros(3, np.float32))
        return join(_moulding(rgb, size, style, rng), alpha)
    if style == "film":
        return _film(image, size)
    if style == "rounded":
        return _rounded(image, size)
    return _deckle(image, size, colour, rng)


def _inner_shadow(rgb: np.ndarray, left: int, top: int, inner: tuple[int, int]) -> np.ndarray:
    """A faint shadow inside the opening, as if the picture sat under the mat."""
    mask = np.ones(rgb.shape[:2], dtype=np.float32)
    mask[top:top + inner[1], left:left + inner[0]] = 0.0
    shade = blur(mask, max(1.0, min(inner) / 250))
    shade[mask > 0] = 0.0
    return rgb * (1.0 - 0.35 * shade[..., None])


def _moulding(rgb: np.ndarray, size: int, style: str, rng: np.random.Generator) -> np.ndarray:
    """Fill the outer ``size`` px of the canvas with a lit, mitred moulding."""
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distances = np.stack([ys, xs, height - 1 - ys, width - 1 - xs])   # top, left, bottom, right
    side = distances.argmin(axis=0)
    depth = distances.min(axis=0) / size                              # 0 outside edge .. 1 inner edge
    inside = depth < 1.0
    light = SIDE_LIGHT[side]
    if style == "gold":
        base = np.array([0.83, 0.66, 0.27], dtype=np.float32)
        # A moulding profile: bead, hollow, ridge, then a fine inner lip.
        profile = 0.78 + 0.28 * np.sin(depth * math.pi * 2.5) ** 2 - 0.18 * (depth > 0.86)
        colour = base * (profile * light)[..., None]
        colour += 0.25 * np.clip(profile * light - 1.05, 0, None)[..., None]   # specular glints
    elif style == "wood":
        along = np.where(side % 2 == 0, xs, ys)                       # grain runs along each side
        wobble = _grain_noise(rng, height, width)
        grain = 0.5 + 0.5 * np.sin(along * 0.02 + depth * 9.0 + wobble * 6.0)
        base = np.array([0.47, 0.29, 0.15], dtype=np.float32)
        profile = 0.85 + 0.2 * np.cos(depth * math.pi)
        colour = base * ((0.75 + 0.35 * grain) * profile * light)[..., None]
    else:   # black gallery frame with a gentle bevel
        profile = 0.16 + 0.1 * np.sin(depth * math.pi)
        colour = np.repeat((profile * light)[..., None], 3, axis=-1)
    # Mitre lines: a hairline of shadow where two sides meet.
    sorted_d = np.sort(distances, axis=0)
    mitre = np.clip(1.0 - (sorted_d[1] - sorted_d[0]), 0, 1) * 0.35
    colour = colour * (1.0 - mitre[..., None])
    return np.where(inside[..., None], np.clip(colour, 0, 1), rgb)


def _grain_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    coarse = rng.standard_normal((max(2, height // 24), max(2, width // 24)), dtype=np.float32)
    return np.asarray(Image.fromarray(coarse, "F").resize((width, height), Image.Resampling.BICUBIC))


def _film(image: Image.Image, size: int) -> Image.Image:
    band = max(round(size * 1.6), 8)
    rgb, alpha = _grow(image, size // 3, band, size // 3, band, np.array([0.06, 0.06, 0.06], np.float32))
    height, width = rgb.shape[:2]
    hole_w, hole_h = max(3, round(band * 0.45)), max(3, round(band * 0.5))
    step = hole_w * 2.2
    mask = Image.new("L", (width * 4, height * 4), 0)
    draw = ImageDraw.Draw(mask)
    for y0 in ((band - hole_h) / 2, height - band + (band - hole_h) / 2):
        x = step / 2
        while x + hole_w < width:
            draw.rounded_rectangle((x * 4, y0 * 4, (x + hole_w) * 4, (y0 + hole_h) * 4),
                                   radius=hole_w * 0.8, fill=255)
            x += step
    holes = np.asarray(mask.reduce(4), dtype=np.float32)[..., None] / 255.0
    rgb = rgb * (1 - holes) + np.array([0.93, 0.92, 0.88], np.float32) * holes
    return join(rgb, alpha)


def _rounded(image: Image.Image, size: int) -> Image.Image:
    """Round the corners: outside the curve becomes transparent (RGBA out)."""
    width, height = image.size
    radius = min(size * 2, min(width, height) // 2)
    mask = Image.new("L", (width * 4, height * 4), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width * 4 - 1, height * 4 - 1), radius=radius * 4, fill=255)
    corner = np.asarray(mask.reduce(4), dtype=np.float32) / 255.0
    rgb, alpha = split(image)
    return join(rgb, corner if alpha is None else alpha * corner)


def _deckle(image: Image.Image, size: int, paper: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Paper with a torn edge: the outer boundary wanders randomly (from the seed)."""
    rgb, alpha = _grow(image, size * 2, size * 2, size * 2, size * 2, paper)
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.minimum(np.minimum(ys, xs), np.minimum(height - 1 - ys, width - 1 - xs))
    coarse = blur(rng.standard_normal((height, width), dtype=np.float32), size * 0.6)
    fine = blur(rng.standard_normal((height, width), dtype=np.float32), 1.2)
    coarse /= coarse.std() + 1e-6
    fine /= fine.std() + 1e-6
    edge = size * (0.9 + 0.35 * coarse + 0.12 * fine)
    coverage = np.clip(distance - edge + 0.5, 0, 1)
    fibres = np.clip(distance - edge, 0, size * 0.4) / (size * 0.4)   # the torn rim is a little darker
    rgb = rgb * (0.93 + 0.07 * fibres)[..., None]
    base_alpha = np.ones((height, width), np.float32) if alpha is None else alpha
    return join(rgb, base_alpha * coverage)


OPERATIONS = [border, frame]
