"""The analysis as pictures, drawn with Pillow (a few milliseconds each, where a
plotting library would cost more than the whole analysis)."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (40, 40, 48)
GRID = (215, 215, 222)
BACKGROUND = "white"


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``rgb``."""
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (20, 20, 20) if luma > 140 else (250, 250, 250)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def palette_swatches(colours: Sequence[dict], width: int = 640) -> Image.Image:
    """A bar in proportion to each colour's share, then one labelled swatch each."""
    bar_h, swatch_h, pad = 56, 84, 10
    image = Image.new("RGB", (width, bar_h + swatch_h + 3 * pad), BACKGROUND)
    draw = ImageDraw.Draw(image)
    x = float(pad)
    inner = width - 2 * pad
    for colour in colours:
        step = colour["share"] * inner
        draw.rectangle((round(x), pad, round(x + step), pad + bar_h), fill=_rgb(colour["hex"]))
        x += step
    cell = inner / max(len(colours), 1)
    top = bar_h + 2 * pad
    for i, colour in enumerate(colours):
        rgb = _rgb(colour["hex"])
        box = (round(pad + i * cell) + 2, top, round(pad + (i + 1) * cell) - 2, top + swatch_h)
        draw.rectangle(box, fill=rgb, outline=GRID)
        ink = _text_on(rgb)
        draw.text((box[0] + 6, box[1] + 8), colour["hex"], fill=ink, font=font(14))
        draw.text((box[0] + 6, box[1] + 30), f"{colour['share'] * 100:.1f} %", fill=ink, font=font(14))
    return image


def harmony_rows(harmonies: dict[str, list[str]], width: int = 640) -> Image.Image:
    row_h, label_w, pad = 44, 130, 8
    image = Image.new("RGB", (width, len(harmonies) * (row_h + pad) + pad), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for r, (name, hexes) in enumerate(harmonies.items()):
        y = pad + r * (row_h + pad)
        draw.text((pad, y + 12), name, fill=INK, font=font(15))
        cell = (width - label_w - pad) / max(len(hexes), 1)
        for i, hex_colour in enumerate(hexes):
            x0 = label_w + round(i * cell)
            draw.rectangle((x0, y, label_w + round((i + 1) * cell) - 3, y + row_h), fill=_rgb(hex_colour))
    return image


def histograms(pixels: np.ndarray, lightness: np.ndarray, width: int = 640) -> Image.Image:
    """Red, green and blue histograms overlaid, and the CIELAB lightness one below."""
    plot_h, pad, label = 120, 10, 18
    image = Image.new("RGB", (width, 2 * (plot_h + label + pad) + pad), BACKGROUND)
    draw = ImageDraw.Draw(image, "RGBA")
    inner = width - 2 * pad
    flat = pixels.reshape(-1, 3)
    channel_hists = [np.bincount(flat[:, c], minlength=256) for c in range(3)]
    light_hist = np.histogram(lightness, bins=100, range=(0, 100))[0]
    panels = [("RGB", [(h, colour) for h, colour in
                       zip(channel_hists, ((220, 40, 40, 90), (40, 170, 60, 90), (40, 80, 220, 90)))]),
              ("lightness L*", [(light_hist, (60, 60, 70, 140))])]
    for p, (title, series) in enumerate(panels):
        top = pad + p * (plot_h + label + pad)
        draw.text((pad, top), title, fill=INK, font=font(13))
        base = top + label + plot_h
        draw.line((pad, base, pad + inner, base), fill=GRID)
        peak = max(float(np.percentile(h, 99.5)) for h, _ in series) or 1.0
        for hist, colour in series:
            xs = np.linspace(pad, pad + inner, len(hist))
            ys = base - np.minimum(hist / peak, 1.0) * plot_h
            draw.polygon([(pad, base), *zip(xs.tolist(), ys.tolist()), (pad + inner, base)], fill=colour)
    return image


def radar(values: dict[str, tuple[float, str]], size: int = 420) -> Image.Image:
    """A radar chart: each axis gets (position 0–1 on the axis, text shown by its name)."""
    image = Image.new("RGB", (size + 160, size), BACKGROUND)
    draw = ImageDraw.Draw(image, "RGBA")
    cx, cy, radius = (size + 160) / 2, size / 2, size / 2 - 50
    names = list(values)
    angles = [-math.pi / 2 + 2 * math.pi * i / len(names) for i in range(len(names))]
    for ring in (0.25, 0.5, 0.75, 1.0):
        draw.polygon([(cx + ring * radius * math.cos(a), cy + ring * radius * math.sin(a))
                      for a in angles], outline=GRID)
    points = []
    for name, angle in zip(names, angles):
        end = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
        draw.line(((cx, cy), end), fill=GRID)
        value = min(max(values[name][0], 0.0), 1.0)
        points.append((cx + value * radius * math.cos(angle), cy + value * radius * math.sin(angle)))
        tx, ty = cx + (radius + 16) * math.cos(angle), cy + (radius + 16) * math.sin(angle)
        text = f"{name} {values[name][1]}"
        box = draw.textbbox((0, 0), text, font=font(13))
        draw.text((tx - (box[2] - box[0]) * (1 - math.cos(angle)) / 2, ty - 8), text, fill=INK,
                  font=font(13))
    draw.polygon(points, fill=(70, 110, 220, 90), outline=(50, 80, 190, 255))
    return image


def preset_matches(matches: Sequence[dict], thumbnails: dict[int, Image.Image],
                   tile: int = 150) -> Image.Image:
    """The nearest presets' thumbnails with their cosine similarity."""
    pad, label = 8, 22
    image = Image.new("RGB", (len(matches) * (tile + pad) + pad, tile + label + 2 * pad), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for i, match in enumerate(matches):
        x = pad + i * (tile + pad)
        draw.text((x, pad), f"preset {match['preset']}  {match['score']:.3f}", fill=INK, font=font(13))
        thumb = thumbnails.get(match["preset"])
        if thumb is not None:
            image.paste(thumb.resize((tile, tile)), (x, pad + label))
        else:
            draw.rectangle((x, pad + label, x + tile, pad + label + tile), outline=GRID)
    return image
