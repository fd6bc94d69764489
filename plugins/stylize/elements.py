"""Elements: stickers placed one at a time, stickers scattered at random (from
the recipe's seed), and text captions in the shipped font (DejaVu Sans).

Sizes are fractions of the picture's shorter side and positions fractions of
its width and height, so a recipe means the same thing on any picture size.
"""
from __future__ import annotations

import colorsys
import functools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.errors import UserError
from core.params import Param, hex_to_rgb

from .base import join, operation, split
from .stickers import STICKERS
from .vector import Canvas, Layer, Shape, composite, render, shadow_of

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"
FONTS = {"bold": "DejaVuSans-Bold.ttf", "regular": "DejaVuSans.ttf"}
MIN_STICKER_PX = 4
KINDS = tuple(STICKERS)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


def _colour(hex_colour: str) -> tuple[float, float, float]:
    r, g, b = hex_to_rgb(hex_colour)
    return r / 255.0, g / 255.0, b / 255.0


def _mirrored(shapes: list[Shape]) -> list[Shape]:
    flip = np.array([-1.0, 1.0])
    return [Shape(s.points * flip, s.fill, s.stroke, s.width, s.opacity, s.closed, s.tint) for s in shapes]


def sticker_layers(canvas_size: tuple[int, int], kind: str, centre: tuple[float, float], size: float,
                   angle: float, *, opacity: float, tint: tuple[float, float, float] | None,
                   tint_amount: float, shadow: float, mirror: bool = False) -> list[Layer]:
    """One sticker as layers to composite: its soft shadow (if any), then itself."""
    shapes = STICKERS[kind]()
    if mirror:
        shapes = _mirrored(shapes)
    margin = size * 0.12 if shadow > 0 else 0.0
    layer = render(shapes, canvas_size, centre, size, angle, tint=tint, tint_amount=tint_amount,
                   opacity=opacity, margin=margin)
    if layer is None:
        return []
    if shadow <= 0:
        return [layer]
    return [shadow_of(layer, canvas_size, (size * 0.03, size * 0.04), size * 0.025, 0.55 * shadow * opacity),
            layer]


def _check_size(pixels: float, what: str) -> None:
    if pixels < MIN_STICKER_PX:
        raise UserError(f"{what} would be {pixels:.1f} px across on this picture, too small to see; "
                        f"use a larger scale (at least {MIN_STICKER_PX} px)")


@operation(
    "sticker", "Sticker", "elements",
    Param("kind", "choice", "butterfly", choices=KINDS),
    Param("x", "float", 0.5, min=0.0, max=1.0, step=0.01, help="centre, fraction of the width"),
    Param("y", "float", 0.5, min=0.0, max=1.0, step=0.01, help="centre, fraction of the height"),
    Param("scale", "float", 0.3, min=0.01, max=3.0, step=0.01,
          help="size as a fraction of the picture's shorter side"),
    Param("rotation", "float", 0.0, min=-360.0, max=360.0, step=1.0, help="degrees, counter-clockwise"),
    Param("opacity", "float", 1.0, min=0.0, max=1.0, step=0.05),
    Param("tint", "color", "#7e57c2"),
    Param("tint_amount", "float", 0.0, min=0.0, max=1.0, step=0.05, help="0 keeps the natural colours"),
    Param("shadow", "float", 0.4, min=0.0, max=1.0, step=0.05, help="soft drop shadow"),
    Param("mirror", "bool", False, help="face the other way"),
)
def sticker(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """One vector sticker, drawn crisp at any size and angle."""
    size = p["scale"] * min(image.size)
    _check_size(size, f"a {p['kind']} at scale {p['scale']:g}")
    layers = sticker_layers(image.size, p["kind"], (p["x"] * image.width, p["y"] * image.height), size,
                            p["rotation"], opacity=p["opacity"], tint=_colour(p["tint"]),
                            tint_amount=p["tint_amount"], shadow=p["shadow"], mirror=p["mirror"])
    return composite(image, layers)


@operation(
    "scatter", "Scatter stickers", "elements",
    Param("kind", "choice", "butterfly", choices=("mixed", *KINDS),
          help="'mixed' draws a different sticker each time"),
    Param("count", "int", 12, min=1, max=200),
    Param("min_scale", "float", 0.06, min=0.01, max=1.0, step=0.01),
    Param("max_scale", "float", 0.14, min=0.01, max=1.0, step=0.01),
    Param("spin", "float", 30.0, min=0.0, max=180.0, step=1.0, help="random turn, up to ± degrees"),
    Param("region", "choice", "everywhere", choices=("everywhere", "edges", "top", "bottom")),
    Param("opacity", "float", 1.0, min=0.0, max=1.0, step=0.05),
    Param("tint", "color", "#7e57c2"),
    Param("tint_amount", "float", 0.0, min=0.0, max=1.0, step=0.05),
    Param("random_colors", "bool", False, help="a random hue for every sticker"),
    Param("shadow", "float", 0.3, min=0.0, max=1.0, step=0.05),
)
def scatter(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """N stickers at random places, sizes and angles; the seed fixes the arrangement."""
    if p["min_scale"] > p["max_scale"]:
        raise UserError(f"min_scale ({p['min_scale']:g}) is larger than max_scale ({p['max_scale']:g})")
    short = min(image.size)
    _check_size(p["max_scale"] * short, f"the largest {p['kind']} (max_scale {p['max_scale']:g})")
    canvas = Canvas(*split(image))
    placed: list[tuple[float, float, float]] = []
    for _ in range(p["count"]):
        size = float(rng.uniform(p["min_scale"], p["max_scale"])) * short
        x, y = _free_spot(rng, image.size, size, placed, p["region"])
        placed.append((x, y, size))
        kind = KINDS[int(rng.integers(len(KINDS)))] if p["kind"] == "mixed" else p["kind"]
        angle = float(rng.uniform(-p["spin"], p["spin"]))
        mirror = bool(rng.integers(2))
        tint, amount = _colour(p["tint"]), p["tint_amount"]
        hue = float(rng.random())           # drawn every time, so switching it on moves nothing
        if p["random_colors"]:
            tint, amount = colorsys.hsv_to_rgb(hue, 0.65, 0.95), max(amount, 0.85)
        if size * 0.5 < 1.0:                # invisible specks are skipped, not drawn
            continue
        for layer in sticker_layers(image.size, kind, (x, y), size, angle, opacity=p["opacity"], tint=tint,
                                    tint_amount=amount, shadow=p["shadow"], mirror=mirror):
            canvas.draw(layer)
    return join(canvas.rgb, canvas.alpha)


def _free_spot(rng: np.random.Generator, canvas: tuple[int, int], size: float,
               placed: list[tuple[float, float, float]], region: str) -> tuple[float, float]:
    """A random centre in the region, trying a few times for one that does not
    overlap earlier stickers (best of 24 tries; overlaps are allowed when crowded)."""
    width, height = canvas
    best, best_gap = (width / 2, height / 2), -math.inf
    for _ in range(24):
        x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        if region == "top":
            y *= 0.35
        elif region == "bottom":
            y = height - y * 0.35
        elif region == "edges":
            # Push the point out of the central oval so the subject stays clear.
            dx, dy = (x - width / 2) / (width / 2), (y - height / 2) / (height / 2)
            reach = math.hypot(dx, dy)
            if reach < 0.7:
                stretch = 0.7 / max(reach, 1e-3) + float(rng.uniform(0, 0.3))
                x, y = width / 2 + dx * stretch * width / 2, height / 2 + dy * stretch * height / 2
                x, y = min(max(x, 0), width), min(max(y, 0), height)
        gap = min((math.hypot(x - px, y - py) - 0.45 * (size + ps) for px, py, ps in placed), default=math.inf)
        if gap > best_gap:
            best, best_gap = (x, y), gap
        if gap >= 0:
            break
    return best


# --------------------------------------------------------------------------- caption

POSITIONS = ("bottom", "top", "center", "top-left", "top-right", "bottom-left", "bottom-right")


@functools.lru_cache(maxsize=64)
def _font(weight: str, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONTS[weight]), pixels)


@operation(
    "caption", "Text caption", "elements",
    Param("text", "str", "Hello!", max_length=200, help="line breaks are kept"),
    Param("position", "choice", "bottom", choices=POSITIONS),
    Param("size", "float", 0.09, min=0.02, max=0.5, step=0.005, help="letter height, fraction of the picture"),
    Param("color", "color", "#ffffff"),
    Param("outline", "color", "#1b1b1b"),
    Param("outline_width", "float", 0.08, min=0.0, max=0.3, step=0.01, help="fraction of the letter size"),
    Param("weight", "choice", "bold", choices=tuple(FONTS)),
    Param("opacity", "float", 1.0, min=0.0, max=1.0, step=0.05),
    Param("band", "bool", False, help="a translucent band behind the text"),
)
def caption(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Text in DejaVu Sans with an outline, shrunk to fit the width if needed."""
    text = _CONTROL.sub("", p["text"]).strip("\n").rstrip()
    if not text.strip():
        raise UserError("the caption text is empty")
    width, height = image.size
    margin = 0.04 * min(width, height)
    pixels = max(6, int(round(p["size"] * min(width, height) * 1.35)))
    font, stroke = _fit(text, p["weight"], pixels, p["outline_width"], width - 2 * margin)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, stroke_width=stroke,
                                                        align="center")
    text_w, text_h = right - left, bottom - top
    x = {"left": margin, "right": width - margin - text_w}.get(p["position"].split("-")[-1],
                                                               (width - text_w) / 2)
    y = {"top": margin, "bottom": height - margin - text_h}.get(p["position"].split("-")[0],
                                                                (height - text_h) / 2)
    layers: list[Layer | None] = []
    if p["band"]:
        pad = text_h * 0.25
        band_top, band_bottom = max(int(y - pad), 0), min(int(y + text_h + pad), height)
        band = np.zeros((band_bottom - band_top, width, 4), dtype=np.float32)
        band[..., :3], band[..., 3] = np.asarray(_colour(p["outline"])) * 0.45 * p["opacity"], 0.45 * p["opacity"]
        layers.append(Layer(band, 0, band_top))
    origin = (int(round(x - left)), int(round(y - top)))
    layers.append(_text_layer(text, font, stroke, origin, image.size, _colour(p["color"]),
                              _colour(p["outline"]), p["opacity"]))
    return composite(image, layers)


def _fit(text: str, weight: str, pixels: int, outline: float, room: float) -> tuple[Any, int]:
    """The font at the asked size, or smaller until the text fits the width."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    for _ in range(12):
        font = _font(weight, pixels)
        stroke = int(round(outline * pixels * 0.5))
        left, _, right, _ = probe.multiline_textbbox((0, 0), text, font=font, stroke_width=stroke,
                                                     align="center")
        if right - left <= room or pixels <= 6:
            return font, stroke
        pixels = max(6, int(pixels * room / (right - left) * 0.98))
    return font, stroke


def _text_layer(text: str, font: Any, stroke: int, origin: tuple[int, int], size: tuple[int, int],
                fill: tuple[float, float, float], outline: tuple[float, float, float],
                opacity: float) -> Layer | None:
    """Outline coverage first, then the letters over it, premultiplied; only the
    text's own box is rasterised."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = probe.multiline_textbbox(origin, text, font=font, stroke_width=stroke, align="center")
    left, top = max(int(box[0]) - 1, 0), max(int(box[1]) - 1, 0)
    right, bottom = min(int(box[2]) + 2, size[0]), min(int(box[3]) + 2, size[1])
    if right <= left or bottom <= top:
        return None
    local = (origin[0] - left, origin[1] - top)
    masks = []
    for width in ((stroke, 0) if stroke > 0 else (0,)):
        mask = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(mask).multiline_text(local, text, font=font, fill=255, stroke_width=width,
                                            stroke_fill=255, align="center")
        masks.append(np.asarray(mask, dtype=np.float32) / 255.0)
    pixels = np.zeros((bottom - top, right - left, 4), dtype=np.float32)
    for coverage, colour in zip(masks, (outline, fill) if stroke > 0 else (fill,)):
        a = coverage[..., None] * opacity
        pixels[..., :3] = pixels[..., :3] * (1 - a) + np.asarray(colour, dtype=np.float32) * a
        pixels[..., 3:] = pixels[..., 3:] * (1 - a) + a
    return Layer(pixels, left, top)


OPERATIONS = [sticker, scatter, caption]
