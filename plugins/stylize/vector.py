"""A tiny vector renderer for stickers: shapes in a unit box, drawn crisp at
any size and angle, composited with premultiplied alpha.

A drawing is a list of :class:`Shape` in coordinates from −1 to 1 (y down). It
is placed by transforming the points (scale, turn, move) *before* rasterising,
so a sticker is as sharp at 2,000 px as at 20 and turning it never resamples
pixels. Each shape is filled at 4× resolution and box-reduced, which gives exact
antialiased coverage; layers are stacked with the premultiplied "over" operator,
which is what keeps edges free of dark or light fringes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Shape:
    """A filled polygon (``fill``) and/or a line along its points (``stroke``).
    ``closed`` shapes join the last point to the first. ``tint`` marks the parts
    a colour tint recolours (outlines and eyes keep their colours)."""

    points: np.ndarray
    fill: Colour | None = None
    stroke: Colour | None = None
    width: float = 0.0            # stroke width, unit coordinates
    opacity: float = 1.0
    closed: bool = True
    tint: bool = False


def rgb(hex_colour: str) -> Colour:
    value = hex_colour.lstrip("#")
    return (int(value[0:2], 16) / 255.0, int(value[2:4], 16) / 255.0, int(value[4:6], 16) / 255.0)


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 72) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    a = math.radians(angle)
    return np.stack([cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)], -1)


def circle(cx: float, cy: float, r: float) -> np.ndarray:
    return ellipse(cx, cy, r, r)


def cubic(p0: Sequence[float], p1: Sequence[float], p2: Sequence[float], p3: Sequence[float],
          n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    p = [np.asarray(q, dtype=np.float64) for q in (p0, p1, p2, p3)]
    return (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] + t ** 3 * p[3]


def path(*pieces: Iterable[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Join curves and point lists into one outline."""
    return np.concatenate([np.asarray(list(piece) if not isinstance(piece, np.ndarray) else piece,
                                      dtype=np.float64).reshape(-1, 2) for piece in pieces])


def mirror_x(points: np.ndarray) -> np.ndarray:
    """The left half of a symmetric outline from its right half (reversed, so the
    two halves join into one polygon)."""
    return (points * np.array([-1.0, 1.0]))[::-1]


def star_points(n: int, outer: float, inner: float, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    angles = -np.pi / 2 + np.arange(2 * n) * np.pi / n
    radii = np.where(np.arange(2 * n) % 2 == 0, outer, inner)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], -1)


# --------------------------------------------------------------------------- tint


def colourise(colour: Colour, tint: Colour, amount: float) -> Colour:
    """Give ``colour`` the tint's hue while keeping its own lightness (luma ratio)."""
    if amount <= 0:
        return colour
    luma = np.array([0.2126, 0.7152, 0.0722])
    own, theirs = float(np.dot(colour, luma)), float(np.dot(tint, luma))
    target = np.clip(np.asarray(tint) * (own / max(theirs, 1e-3)), 0, 1)
    if theirs < 1e-3:      # a black tint darkens
        target = np.asarray(tint)
    mixed = np.asarray(colour) + (target - np.asarray(colour)) * amount
    return tuple(float(v) for v in mixed)  # type: ignore[return-value]


# --------------------------------------------------------------------------- render


@dataclass
class Layer:
    """A premultiplied RGBA float layer placed at (left, top) on a canvas."""

    pixels: np.ndarray   # H×W×4, colour already multiplied by alpha
    left: int
    top: int


def render(shapes: Sequence[Shape], canvas: tuple[int, int], centre: tuple[float, float],
           size: float, angle: float = 0.0, *, tint: Colour | None = None,
           tint_amount: float = 0.0, opacity: float = 1.0, margin: float = 0.0) -> Layer | None:
    """Rasterise a drawing ``size`` px across, turned ``angle`` degrees
    counter-clockwise, centred at ``centre``; only the part on the canvas.
    ``margin`` (px) widens the region, e.g. room for a shadow."""
    a = math.radians(angle)
    rotation = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    scale = size / 2.0
    placed = [(shape, shape.points @ rotation.T * scale + np.asarray(centre)) for shape in shapes]
    reach = max((s.width * scale / 2 for s in shapes), default=0.0) + 2 + margin
    xs = np.concatenate([p[:, 0] for _, p in placed])
    ys = np.concatenate([p[:, 1] for _, p in placed])
    left, top = max(int(math.floor(xs.min() - reach)), 0), max(int(math.floor(ys.min() - reach)), 0)
    right = min(int(math.ceil(xs.max() + reach)), canvas[0])
    bottom = min(int(math.ceil(ys.max() + reach)), canvas[1])
    if right <= left or bottom <= top:
        return None
    width, height = right - left, bottom - top
    # 4× is exact enough for any edge; big stickers need less to look the same.
    supersample = 4 if max(width, height) <= 300 else 3 if max(width, height) <= 900 else 2
    colour = np.zeros((height, width, 3), dtype=np.float32)
    alpha = np.zeros((height, width), dtype=np.float32)
    offset = np.array([left, top], dtype=np.float64)
    for shape, points in placed:
        local = points - offset
        # Rasterise each shape only inside its own box (an eye is tiny next to a wing).
        grow = shape.width * scale / 2 + 2
        x0, y0 = max(int(math.floor(local[:, 0].min() - grow)), 0), max(int(math.floor(local[:, 1].min() - grow)), 0)
        x1, y1 = min(int(math.ceil(local[:, 0].max() + grow)), width), min(int(math.ceil(local[:, 1].max() + grow)), height)
        if x1 <= x0 or y1 <= y0:
            continue
        box = (slice(y0, y1), slice(x0, x1))
        pts = [tuple(pt) for pt in (local - [x0, y0]) * supersample]
        size_box = (x1 - x0, y1 - y0)
        if shape.fill is not None:
            fill = colourise(shape.fill, tint, tint_amount) if shape.tint and tint else shape.fill
            _over(colour[box], alpha[box], _coverage(pts, None, size_box, supersample), fill, shape.opacity)
        if shape.stroke is not None and shape.width > 0:
            line_px = shape.width * scale * supersample
            stroke = colourise(shape.stroke, tint, tint_amount) if shape.tint and tint else shape.stroke
            cover = _coverage(pts, (line_px, shape.closed), size_box, supersample)
            _over(colour[box], alpha[box], cover, stroke, shape.opacity)
    if opacity < 1.0:
        colour *= opacity
        alpha *= opacity
    return Layer(np.concatenate([colour, alpha[..., None]], axis=-1), left, top)


def _coverage(points: list[tuple[float, float]], line: tuple[float, bool] | None,
              size: tuple[int, int], supersample: int) -> np.ndarray:
    mask = Image.new("L", (size[0] * supersample, size[1] * supersample), 0)
    draw = ImageDraw.Draw(mask)
    if line is None:
        if len(points) >= 3:
            draw.polygon(points, fill=255)
    else:
        width, closed = line
        route = points + [points[0]] if closed else points
        draw.line(route, fill=255, width=max(1, int(round(width))), joint="curve")
        if not closed:   # round caps
            r = width / 2
            for x, y in (points[0], points[-1]):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(mask.reduce(supersample), dtype=np.float32) / 255.0


def _over(colour: np.ndarray, alpha: np.ndarray, coverage: np.ndarray, fill: Colour,
          opacity: float) -> None:
    """Premultiplied 'over' of a flat colour with this coverage, in place."""
    a = coverage * opacity
    keep = 1.0 - a
    colour *= keep[..., None]
    colour += a[..., None] * np.asarray(fill, dtype=np.float32)
    alpha *= keep
    alpha += a


def shadow_of(layer: Layer, canvas: tuple[int, int], offset: tuple[float, float], sigma: float,
              strength: float) -> Layer:
    """A soft drop shadow: the layer's alpha, blurred, shifted and darkened."""
    from scipy import ndimage

    shifted = ndimage.shift(layer.pixels[..., 3], (offset[1], offset[0]), order=1, mode="constant")
    soft = ndimage.gaussian_filter(shifted, max(sigma, 0.1)) * strength
    pixels = np.zeros_like(layer.pixels)
    pixels[..., 3] = soft          # black: premultiplied colour stays 0
    return Layer(pixels, layer.left, layer.top)


def composite(image: Image.Image, layers: Sequence[Layer | None]) -> Image.Image:
    """Composite layers onto a copy of ``image``, converting only the region they
    touch to floats (a small sticker on a big photo costs what the sticker costs)."""
    from .base import join, split

    present = [layer for layer in layers if layer is not None]
    if not present:
        return image.copy()
    left = min(layer.left for layer in present)
    top = min(layer.top for layer in present)
    right = max(layer.left + layer.pixels.shape[1] for layer in present)
    bottom = max(layer.top + layer.pixels.shape[0] for layer in present)
    canvas = Canvas(*split(image.crop((left, top, right, bottom))))
    for layer in present:
        canvas.draw(Layer(layer.pixels, layer.left - left, layer.top - top))
    result = image.copy()
    result.paste(join(canvas.rgb, canvas.alpha), (left, top))
    return result


class Canvas:
    """An image as straight float colour + alpha, onto which layers are composited."""

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray | None) -> None:
        self.rgb = rgb.copy()
        self.alpha = None if alpha is None else alpha.copy()

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def draw(self, layer: Layer | None) -> None:
        if layer is None:
            return
        h, w = layer.pixels.shape[:2]
        region = (slice(layer.top, layer.top + h), slice(layer.left, layer.left + w))
        src_colour, src_alpha = layer.pixels[..., :3], layer.pixels[..., 3]
        keep = (1.0 - src_alpha)[..., None]
        if self.alpha is None:
            self.rgb[region] = src_colour + self.rgb[region] * keep
            return
        base_alpha = self.alpha[region]
        colour = src_colour + self.rgb[region] * base_alpha[..., None] * keep
        new_alpha = src_alpha + base_alpha * keep[..., 0]
        safe = np.where(new_alpha > 1e-6, new_alpha, 1.0)[..., None]
        self.rgb[region] = np.where(new_alpha[..., None] > 1e-6, colour / safe, 0.0)
        self.alpha[region] = new_alpha
