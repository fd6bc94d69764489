"""The *landscapes* family: sky, terrain silhouette, optional water band (DESIGN.md).

Rules the renderer keeps, because captions and the checker rely on them:

- the sky fills at least the top quarter everywhere: terrain, trees and the sun
  behind the hills stay below row 16 (at 64x64);
- day is a light-blue sky with a yellow sun, sunset an orange-to-pink/purple sky
  with a large orange sun near the horizon, night a dark navy sky, a pale moon
  and stars;
- mountains are jagged and grey/brown, hills smooth and green, desert flat sandy
  dunes; the terrain shows at least ``MIN_TERRAIN_BAND`` rows above the water;
- water (sea or lake) is a blue band along the bottom, at least a fifth of the
  height, darker at night;
- optional elements (water, trees, clouds) appear exactly when the claim says so.

The colours below are the single source of truth: the checker classifies pixels
against the same lit palette (:func:`lit`).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.corpus.attributes import (NATIVE_SIZE, TERRAINS, TIMES, WATERS, LandscapeClaim,
                                    LandscapeScene)

SUPERSAMPLE = 4
SKY_ROWS = NATIVE_SIZE // 4       # the top quarter is always sky
MIN_WATER_ROWS = 13               # >= a fifth of 64
MAX_WATER_ROWS = 20
MIN_TERRAIN_BAND = 7              # rows of terrain guaranteed above the water / bottom

#: sky gradient stops, top to horizon
SKY: dict[str, tuple[tuple[int, int, int], ...]] = {
    "day": ((66, 135, 215), (170, 212, 245)),
    "sunset": ((88, 52, 128), (226, 104, 122), (250, 164, 72)),
    "night": ((8, 12, 34), (28, 38, 78)),
}
#: terrain colours in daylight: (back layer, front layer)
TERRAIN_COLORS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "mountains": ((128, 120, 118), (102, 92, 88)),
    "hills": ((102, 170, 80), (62, 135, 55)),
    "desert": ((232, 200, 135), (214, 174, 108)),
}
WATER_COLORS: dict[str, tuple[int, int, int]] = {"sea": (28, 86, 160), "lake": (58, 128, 186)}
TREE, TRUNK = (34, 92, 44), (90, 60, 40)
SUN = {"day": (253, 216, 53), "sunset": (251, 120, 30), "night": (235, 235, 215)}
CLOUD = {"day": (245, 246, 250), "sunset": (236, 178, 170), "night": (58, 64, 88)}
STAR = (250, 250, 235)

#: how often optional elements appear
WATER_P, TREES_P, CLOUDS_P = 0.5, 0.35, 0.35
HORIZON_RANGE = {"mountains": (30.0, 38.0), "hills": (30.0, 40.0), "desert": (36.0, 42.0)}


def lit(rgb: tuple[int, int, int], time: str) -> tuple[int, int, int]:
    """A daylight colour as it looks at ``time``: warmer and darker at sunset,
    much darker and bluer at night."""
    r, g, b = rgb
    if time == "sunset":
        r, g, b = r * 0.78 + 40, g * 0.78 + 10, b * 0.78
    elif time == "night":
        r, g, b = r * 0.42, g * 0.42 + 2, b * 0.42 + 14
    return tuple(int(min(255, max(0, round(v)))) for v in (r, g, b))  # type: ignore[return-value]


# --------------------------------------------------------------------------- sampling


def sample_landscape_claim(rng: np.random.Generator) -> LandscapeClaim:
    time = str(rng.choice(TIMES))
    terrain = str(rng.choice(TERRAINS))
    water = str(rng.choice(WATERS)) if rng.random() < WATER_P else None
    trees = terrain != "desert" and bool(rng.random() < TREES_P)
    clouds = bool(rng.random() < CLOUDS_P)
    return LandscapeClaim(time, terrain, water, trees, clouds)


def layout_landscape(claim: LandscapeClaim, rng: np.random.Generator) -> LandscapeScene:
    """A random picture of ``claim``: horizon, water line, sun/moon position."""
    water_top = (NATIVE_SIZE - int(rng.integers(MIN_WATER_ROWS, MAX_WATER_ROWS + 1))
                 if claim.water else NATIVE_SIZE)
    low, high = HORIZON_RANGE[claim.terrain]
    high = min(high, water_top - MIN_TERRAIN_BAND - 4)
    horizon = round(float(rng.uniform(low, max(low, high))), 2)
    if claim.time == "sunset":   # a large sun sitting on the horizon
        sun_x, sun_y = float(rng.uniform(12, 52)), horizon - float(rng.uniform(0, 3))
    else:
        sun_x, sun_y = float(rng.uniform(8, 56)), float(rng.uniform(6, 11))
    return LandscapeScene(claim, horizon, water_top, round(sun_x, 2), round(sun_y, 2),
                          int(rng.integers(0, 2**31 - 1)))


# --------------------------------------------------------------------------- silhouettes


def _silhouette(terrain: str, base: float, rng: np.random.Generator, xs: np.ndarray,
                amplitude_scale: float = 1.0) -> np.ndarray:
    """Terrain top (row) for every x, around ``base``."""
    if terrain == "mountains":
        # Alternate peaks and valleys at random spacing: a jagged ridge whose
        # peaks never reach into the top quarter (no flat, clipped summits).
        n_knots = 2 * int(rng.integers(3, 6)) + 1
        knots_x = np.sort(np.concatenate([[-4.0, 68.0], rng.uniform(0, 64, size=n_knots - 2)]))
        room = max(base - SKY_ROWS - 2, 4.0)
        peaks = base - rng.uniform(0.35, 1.0, size=n_knots) * room * amplitude_scale
        valleys = base + rng.uniform(0, 6, size=n_knots) * amplitude_scale
        knots_y = np.where(np.arange(n_knots) % 2 == 0, peaks, valleys)
        return np.interp(xs, knots_x, knots_y)
    waves = 3 if terrain == "hills" else 2
    top = np.full_like(xs, base, dtype=np.float64)
    for _ in range(waves):
        amplitude = (rng.uniform(2, 5) if terrain == "hills" else rng.uniform(0.6, 1.8))
        period = rng.uniform(24, 70) if terrain == "hills" else rng.uniform(18, 40)
        top += amplitude * amplitude_scale * np.sin(2 * np.pi * xs / period + rng.uniform(0, 6.3))
    return top


def _clip_terrain(top: np.ndarray, scene: LandscapeScene) -> np.ndarray:
    return np.clip(top, SKY_ROWS + 1, scene.water_top - MIN_TERRAIN_BAND)


def silhouettes(scene: LandscapeScene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, back, front)``: the top row of the two terrain layers at each x."""
    rng = np.random.default_rng([scene.detail_seed, 1])
    xs = np.linspace(-1, 65, 133)
    back = _clip_terrain(_silhouette(scene.claim.terrain, scene.horizon - 3, rng, xs), scene)
    front = _clip_terrain(_silhouette(scene.claim.terrain, scene.horizon + 3, rng, xs, 0.7), scene)
    return xs, back, front


# --------------------------------------------------------------------------- drawing


def render_landscape(scene: LandscapeScene, size: int = NATIVE_SIZE) -> Image.Image:
    """Draw ``scene`` as a ``size`` x ``size`` RGB image."""
    claim = scene.claim
    rng = np.random.default_rng(scene.detail_seed)
    big = size * SUPERSAMPLE
    k = big / NATIVE_SIZE                      # px at 64 -> px on the big canvas
    canvas = _sky(claim.time, scene.horizon, big, k)
    draw = ImageDraw.Draw(canvas)
    if claim.time == "night":
        for _ in range(int(rng.integers(10, 22))):
            x, y = rng.uniform(0, 64), rng.uniform(0, scene.horizon - 6)
            draw.rectangle((x * k, y * k, (x + 1) * k - 1, (y + 1) * k - 1), fill=STAR)
    radius = {"day": rng.uniform(4, 5.5), "sunset": rng.uniform(7, 9.5), "night": rng.uniform(3, 4.2)}
    r = radius[claim.time]
    draw.ellipse(((scene.sun_x - r) * k, (scene.sun_y - r) * k, (scene.sun_x + r) * k,
                  (scene.sun_y + r) * k), fill=SUN[claim.time])
    if claim.clouds:
        _draw_clouds(draw, rng, CLOUD[claim.time], k)

    xs, back, front = silhouettes(scene)
    back_color, front_color = (lit(c, claim.time) for c in TERRAIN_COLORS[claim.terrain])
    for top, color in ((back, back_color), (front, front_color)):
        points = [(x * k, y * k) for x, y in zip(xs, top)]
        draw.polygon(points + [(65 * k, big), (-1 * k, big)], fill=color)
    if claim.trees:
        _draw_trees(draw, rng, xs, front, scene, claim.time, k)
    if claim.water:
        _draw_water(draw, rng, claim, scene.water_top, big, k)
    return canvas.resize((size, size), Image.BOX)


def _sky(time: str, horizon: float, big: int, k: float) -> Image.Image:
    """The sky gradient, top to the horizon, as the starting canvas."""
    stops = np.array(SKY[time], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(stops))
    t = np.minimum(np.arange(big) / max(horizon * k, 1.0), 1.0)
    rows = np.stack([np.interp(t, positions, stops[:, c]) for c in range(3)], axis=1)
    rows = np.round(rows).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (big, big, 3))))


def _draw_clouds(draw: ImageDraw.ImageDraw, rng: np.random.Generator,
                 color: tuple[int, int, int], k: float) -> None:
    for _ in range(int(rng.integers(1, 3))):
        cx, cy = rng.uniform(6, 58), rng.uniform(5, 12)
        width = rng.uniform(10, 16)
        for _ in range(int(rng.integers(3, 5))):
            x = cx + rng.uniform(-width / 2, width / 2)
            y = cy + rng.uniform(-1.5, 1.5)
            w, h = rng.uniform(3, 6), rng.uniform(1.8, 3.2)
            draw.ellipse(((x - w) * k, (y - h) * k, (x + w) * k, (y + h) * k), fill=color)


def _draw_trees(draw: ImageDraw.ImageDraw, rng: np.random.Generator, xs: np.ndarray,
                front: np.ndarray, scene: LandscapeScene, time: str, k: float) -> None:
    tree, trunk = lit(TREE, time), lit(TRUNK, time)
    for _ in range(int(rng.integers(3, 7))):
        x = rng.uniform(3, 61)
        ground = float(np.interp(x, xs, front)) + rng.uniform(1.5, 4)
        ground = min(ground, scene.water_top - 1.0)
        height = min(rng.uniform(6, 10), ground - SKY_ROWS - 1)
        half = height * 0.33
        draw.rectangle(((x - 0.5) * k, (ground - 1.5) * k, (x + 0.5) * k, ground * k), fill=trunk)
        draw.polygon([((x - half) * k, (ground - 1.2) * k), ((x + half) * k, (ground - 1.2) * k),
                      (x * k, (ground - height) * k)], fill=tree)


def _draw_water(draw: ImageDraw.ImageDraw, rng: np.random.Generator, claim: LandscapeClaim,
                water_top: int, big: int, k: float) -> None:
    water = lit(WATER_COLORS[claim.water or "sea"], claim.time)
    draw.rectangle((0, water_top * k, big, big), fill=water)
    ripple = tuple(min(255, int(c * 1.25) + 12) for c in water)
    for _ in range(int(rng.integers(3, 7))):
        x, y = rng.uniform(0, 58), rng.uniform(water_top + 2, 62)
        draw.line((x * k, y * k, (x + rng.uniform(3, 7)) * k, y * k), fill=ripple, width=max(1, int(k / 2)))
