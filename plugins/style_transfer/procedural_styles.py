"""Three style pictures painted procedurally (seeded), for the contact sheet and
the Transfer tab's examples: no artwork is downloaded or copied."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def swirls(side: int, seed: int = 1) -> Image.Image:
    """Short curved strokes along a swirling flow field, blues and yellows."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (side, side), (20, 40, 90))
    draw = ImageDraw.Draw(image)
    palette = [(28, 62, 140), (50, 100, 180), (110, 160, 215), (235, 205, 70), (250, 240, 190),
               (16, 30, 70)]
    centres = rng.uniform(0, side, size=(4, 2))

    def angle(x: float, y: float) -> float:
        total = 0.0
        for cx, cy in centres:
            total += math.atan2(y - cy, x - cx) + math.pi / 2
        return total / len(centres) + 0.6 * math.sin(x / side * 6) * math.cos(y / side * 5)

    for _ in range(side * 9):
        x, y = rng.uniform(0, side, 2)
        points = [(x, y)]
        for _ in range(int(rng.integers(6, 16))):
            theta = angle(x, y)
            x, y = x + 3 * math.cos(theta), y + 3 * math.sin(theta)
            points.append((x, y))
        colour = palette[int(rng.choice(len(palette), p=[.25, .25, .2, .12, .08, .1]))]
        draw.line(points, fill=colour, width=int(rng.integers(2, 5)), joint="curve")
    for cx, cy in rng.uniform(0, side, size=(5, 2)):
        for radius, colour in ((side * .05, (250, 235, 150)), (side * .03, (255, 250, 220))):
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=colour, width=3)
    return image


def stained_glass(side: int, seed: int = 2) -> Image.Image:
    """Voronoi cells of saturated glass colours with dark lead lines."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, side, size=(70, 2))
    yy, xx = np.mgrid[0:side, 0:side]
    distance = (xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2
    labels = distance.argmin(axis=2)
    palette = np.array([(190, 30, 45), (30, 80, 170), (240, 180, 30), (40, 140, 80),
                        (120, 40, 140), (230, 110, 30), (60, 170, 200)], dtype=np.float64)
    colours = palette[rng.integers(0, len(palette), len(points))]
    pixels = colours[labels] * rng.uniform(0.8, 1.15, size=(side, side, 1))
    edges = np.zeros((side, side), dtype=bool)
    edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edges[1:, :] |= labels[1:, :] != labels[:-1, :]
    lead = Image.fromarray(edges.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))
    pixels[np.asarray(lead) > 0] = (25, 22, 20)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def cubist(side: int, seed: int = 3) -> Image.Image:
    """Overlapping angular planes in ochres, browns and grey-blues, outlined."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (side, side), (200, 170, 120))
    palette = [(170, 120, 60), (120, 80, 45), (210, 180, 110), (90, 100, 110), (150, 160, 165),
               (60, 50, 40), (230, 215, 170)]
    for _ in range(60):
        cx, cy = rng.uniform(0, side, 2)
        radius = rng.uniform(side * .06, side * .22)
        corners = int(rng.integers(3, 6))
        start = rng.uniform(0, 2 * math.pi)
        polygon = [(cx + radius * math.cos(start + 2 * math.pi * i / corners + rng.uniform(-.3, .3)),
                    cy + radius * math.sin(start + 2 * math.pi * i / corners + rng.uniform(-.3, .3)))
                   for i in range(corners)]
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        ImageDraw.Draw(layer).polygon(polygon, fill=palette[int(rng.integers(len(palette)))] + (200,),
                                      outline=(40, 30, 25, 255), width=3)
        image = Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
    return image


def all_styles(side: int) -> dict[str, Image.Image]:
    return {"swirls": swirls(side), "stained_glass": stained_glass(side), "cubist": cubist(side)}
