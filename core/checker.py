"""The analytic prompt-faithfulness checker (no learned model).

Given an image and the claim its prompt makes (:mod:`core.corpus.attributes`),
``check(image, claim)`` returns ``{category: passed}`` for each category the
claim is scored on. How it reads a picture:

**shapes** (``read_shapes``)
  the background is the palette colour of the border; foreground pixels are
  those far from it; connected foreground regions are split by confidently
  classified palette colour, and each colour region of at least
  ``MIN_OBJECT_AREA`` px is an object. Its kind comes from its outline: an
  upright triangle holds much less area in the top half of its bounding box
  than in the bottom half; a square fills its box, a circle ~ pi/4 of it.
  Centroids give positions.

**landscapes** (``read_landscape``)
  the time of day is the nearest sky prototype to the median colour of the top
  rows; water is a band of water-coloured pixels along the bottom; the terrain
  is the majority class of the rows just above the water (or the bottom),
  against the renderer's own lit palette.

Categories (per claim): single_object (exactly one object, of the named kind),
counting (exactly N objects, all of the named kind), two_objects (exactly two,
matching both named colour+kind pairs), position (both named objects found, and
the relation holds by ``RELATION_SLACK`` px), colour (every object has a named
colour and every named colour is present), background; time_of_day, terrain,
water (present exactly when named).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from core.corpus.attributes import (COLOR_NAMES, COLORS, NATIVE_SIZE, RELATION_MARGIN, Claim,
                                    LandscapeClaim, ObjectClaim, ShapesClaim)
from core.corpus.landscapes import (SKY, TERRAIN_COLORS, TREE, TRUNK, WATER_COLORS, lit)

MIN_OBJECT_AREA = 36        # px at 64x64; the smallest corpus shape covers ~85
FOREGROUND_DISTANCE = 60    # RGB distance from the background colour
CONFIDENT_DISTANCE = 70     # RGB distance to a palette colour to trust its class
RELATION_SLACK = 4          # px a relation must hold by (the corpus guarantees 8)
TRIANGLE_TOP_RATIO = 0.6    # top-half / bottom-half area of an upright triangle ~ 0.33
SQUARE_FILL = 0.89          # area / bounding box: square ~ 1.0, circle ~ 0.785
WATER_SHARE = 0.5           # share of a row that must read as water

_PALETTE = np.array([COLORS[name] for name in COLOR_NAMES], dtype=np.float32)


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.astype(np.uint8))
    image = image.convert("RGB")
    if image.size != (NATIVE_SIZE, NATIVE_SIZE):
        image = image.resize((NATIVE_SIZE, NATIVE_SIZE),
                             Image.BOX if image.width > NATIVE_SIZE else Image.BILINEAR)
    return np.asarray(image, dtype=np.float32)


# --------------------------------------------------------------------------- shapes


@dataclass
class DetectedObject:
    color: str
    kind: str          # circle, square, triangle or "blob" (no clean outline)
    cx: float
    cy: float
    area: int
    fill: float        # area / bounding-box area
    top_ratio: float   # area in the top half of the box / area in the bottom half


@dataclass
class ShapesReading:
    background: str
    objects: list[DetectedObject] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"background": self.background, "objects": [vars(o) for o in self.objects]}


def classify_outline(mask: np.ndarray) -> tuple[str, float, float]:
    """(kind, fill, top_ratio) of a boolean object mask."""
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    height, width = bottom - top, right - left
    area = float(mask.sum())
    fill = area / (height * width)
    middle = (top + bottom) / 2.0
    # Pixel row r spans [r, r + 1]: the share of it above the box's middle line.
    upper = float(np.clip(middle - rows, 0.0, 1.0).sum())
    top_ratio = upper / max(area - upper, 1.0)
    aspect = max(height, width) / max(min(height, width), 1)
    if aspect > 1.6 or fill < 0.3:
        return "blob", fill, top_ratio
    if top_ratio < TRIANGLE_TOP_RATIO:
        return "triangle", fill, top_ratio
    return ("square" if fill >= SQUARE_FILL else "circle"), fill, top_ratio


def frame(values: np.ndarray, width: int = 2) -> np.ndarray:
    """The outer ``width`` rows and columns of an (H, W, ...) array, as one list of
    its entries (corners counted twice): where a picture's background is read."""
    tail = values.shape[2:]
    return np.concatenate([values[:width].reshape(-1, *tail), values[-width:].reshape(-1, *tail),
                           values[:, :width].reshape(-1, *tail), values[:, -width:].reshape(-1, *tail)])


def read_shapes(image: Image.Image | np.ndarray) -> ShapesReading:
    pixels = _as_array(image)
    distances = np.linalg.norm(pixels[:, :, None, :] - _PALETTE[None, None], axis=-1)
    nearest = distances.argmin(-1)
    border = frame(nearest)
    background = int(np.bincount(border, minlength=len(COLOR_NAMES)).argmax())
    background_rgb = np.median(frame(pixels)[border == background], axis=0)
    foreground = np.linalg.norm(pixels - background_rgb, axis=-1) > FOREGROUND_DISTANCE
    confident = (distances.min(-1) < CONFIDENT_DISTANCE) & (nearest != background) & foreground
    regions, count = ndimage.label(foreground)
    reading = ShapesReading(COLOR_NAMES[background])
    for region in range(1, count + 1):
        inside = regions == region
        for color_index in np.unique(nearest[inside & confident]):
            mask = inside & confident & (nearest == color_index)
            area = int(mask.sum())
            # Thin rings of blended edge pixels (orange on white reads as yellow)
            # vanish under one erosion; a real shape keeps its core.
            if area < MIN_OBJECT_AREA or ndimage.binary_erosion(mask).sum() < area * 0.25:
                continue
            kind, fill, top_ratio = classify_outline(mask)
            rows, cols = np.nonzero(mask)
            reading.objects.append(DetectedObject(COLOR_NAMES[int(color_index)], kind,
                                                  float(cols.mean() + 0.5), float(rows.mean() + 0.5),
                                                  area, round(fill, 3), round(top_ratio, 3)))
    return reading


def _relation_holds(relation: str, a: DetectedObject, b: DetectedObject) -> bool:
    dx, dy = b.cx - a.cx, b.cy - a.cy
    return {"left of": dx, "right of": -dx, "above": dy, "below": -dy}[relation] >= RELATION_SLACK


def check_shapes(reading: ShapesReading, claim: ShapesClaim) -> dict[str, bool]:
    objects = reading.objects
    named = [(o.color, o.kind) for o in claim.objects]
    found = [(o.color, o.kind) for o in objects]
    named_colors = {o.color for o in claim.objects}
    result: dict[str, bool] = {
        "colour": bool(objects) and {o.color for o in objects} == named_colors,
    }
    if claim.background is not None:
        result["background"] = reading.background == claim.background
    kind = claim.caption_kind
    if kind == "single":
        result["single_object"] = len(objects) == 1 and objects[0].kind == claim.objects[0].kind
    elif kind == "count":
        result["counting"] = len(objects) == len(claim.objects) and \
            all(o.kind == claim.objects[0].kind for o in objects)
    elif kind == "two":
        result["two_objects"] = len(objects) == 2 and sorted(found) == sorted(named)
    else:
        first = [o for o in objects if (o.color, o.kind) == named[0]]
        second = [o for o in objects if (o.color, o.kind) == named[1]]
        result["position"] = len(first) == 1 and len(second) == 1 and \
            _relation_holds(claim.relation or "", first[0], second[0])
    return result


def two_object_reading(reading: ShapesReading, claim: ShapesClaim) -> str:
    """Why a picture for a two-object or relation claim passes or fails, in the
    order the checker needs things right: the number of objects, their colours,
    then the kind read for each named colour (claims that name one colour twice
    are set apart, as their kinds cannot be told by colour)."""
    first, second = claim.objects
    objects = reading.objects
    if len(objects) != 2:
        return {0: "no object", 1: "one object"}.get(len(objects), "three or more")
    if sorted(o.color for o in objects) != sorted([first.color, second.color]):
        return "wrong colours"
    if first.color == second.color:
        return "one colour named twice"
    kind = {o.color: o.kind for o in objects}
    if kind == {first.color: first.kind, second.color: second.kind}:
        return "right kinds" if all(check_shapes(reading, claim).values()) else "right kinds, wrong place"
    if kind[first.color] == kind[second.color]:
        return "both one kind"
    if (kind[first.color], kind[second.color]) == (second.kind, first.kind):
        return "kinds swapped"
    return "a wrong kind"


def shown_claim(reading: ShapesReading, asked: ShapesClaim) -> ShapesClaim | None:
    """The claim a picture drawn for ``asked`` shows, in the words ``asked`` uses (its
    background named only if ``asked`` names one, a relation only if it asks for one),
    or None where no claim says it: no object, a blob, or more than two different ones.
    Training time only: it teaches the Transformer's judge what its failures show."""
    objects = reading.objects
    if not objects or len(objects) > 3 or any(o.kind == "blob" for o in objects):
        return None
    background = reading.background if asked.background is not None else None
    named = [ObjectClaim(o.color, o.kind) for o in objects]
    try:
        if len(set(named)) == 1:
            return ShapesClaim("single" if len(named) == 1 else "count", tuple(named), background)
        if len(named) != 2:
            return None
        a, b = objects
        if named[1] == asked.objects[0]:        # in the order asked, so a faithful picture shows its claim
            named, a, b = named[::-1], b, a
        dx, dy = b.cx - a.cx, b.cy - a.cy
        # a relation is read back only where it holds as clearly as the corpus draws one
        if asked.caption_kind == "relation" and max(abs(dx), abs(dy)) >= RELATION_MARGIN:
            relation = ("left of" if dx > 0 else "right of") if abs(dx) >= abs(dy) else \
                ("above" if dy > 0 else "below")
            return ShapesClaim("relation", tuple(named), background, relation)
        return ShapesClaim("two", tuple(named), background)
    except ValueError:          # an object read in the background's colour
        return None


# --------------------------------------------------------------------------- landscapes


@dataclass
class LandscapeReading:
    time: str
    terrain: str | None
    water: bool
    water_top: int

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def _sky_prototypes() -> tuple[np.ndarray, list[str]]:
    colors, labels = [], []
    for time, stops in SKY.items():
        stops_array = np.array(stops, dtype=np.float32)
        positions = np.linspace(0.0, 1.0, len(stops))
        for t in np.linspace(0.0, 0.45, 6):   # the top rows span t = 0 .. ~0.4 of the gradient
            colors.append([np.interp(t, positions, stops_array[:, c]) for c in range(3)])
            labels.append(time)
    return np.array(colors, dtype=np.float32), labels


def _ground_prototypes() -> tuple[np.ndarray, list[str]]:
    """Lit colours of every terrain layer, water (and its ripples) and trees."""
    colors, labels = [], []
    for time in SKY:
        for terrain, layers in TERRAIN_COLORS.items():
            for layer in layers:
                colors.append(lit(layer, time))
                labels.append(terrain)
        for water in WATER_COLORS.values():
            base = lit(water, time)
            colors += [base, tuple(min(255, int(c * 1.25) + 12) for c in base)]
            labels += ["water", "water"]
        colors += [lit(TREE, time), lit(TRUNK, time)]
        labels += ["tree", "tree"]
    return np.array(colors, dtype=np.float32), labels


_SKY_COLORS, _SKY_LABELS = _sky_prototypes()
_GROUND_COLORS, _GROUND_LABELS = _ground_prototypes()
_GROUND_INDEX = {label: np.array([l == label for l in _GROUND_LABELS]) for label in set(_GROUND_LABELS)}


def read_landscape(image: Image.Image | np.ndarray) -> LandscapeReading:
    pixels = _as_array(image)
    sky = np.median(pixels[:12].reshape(-1, 3), axis=0)
    time = _SKY_LABELS[int(np.linalg.norm(_SKY_COLORS - sky, axis=-1).argmin())]
    ground = np.linalg.norm(pixels[:, :, None, :] - _GROUND_COLORS[None, None], axis=-1).argmin(-1)
    is_water = _GROUND_INDEX["water"][ground]
    water_top = NATIVE_SIZE
    while water_top > NATIVE_SIZE // 2 and is_water[water_top - 1].mean() >= WATER_SHARE:
        water_top -= 1
    water = NATIVE_SIZE - water_top >= 4          # a band, not a stray row
    if not water:
        water_top = NATIVE_SIZE
    band = ground[max(0, water_top - 6):water_top].ravel()
    votes = {t: int(_GROUND_INDEX[t][band].sum()) for t in TERRAIN_COLORS}
    terrain = max(votes, key=votes.get) if max(votes.values()) > 0 else None
    return LandscapeReading(time, terrain, water, water_top)


def check_landscape(reading: LandscapeReading, claim: LandscapeClaim) -> dict[str, bool]:
    return {"time_of_day": reading.time == claim.time,
            "terrain": reading.terrain == claim.terrain,
            "water": reading.water == (claim.water is not None)}


# --------------------------------------------------------------------------- entry point


def read(image: Image.Image | np.ndarray, family: str) -> ShapesReading | LandscapeReading:
    return read_shapes(image) if family == "shapes" else read_landscape(image)


def check(image: Image.Image | np.ndarray, claim: Claim) -> dict[str, bool]:
    """``{category: passed}`` for every category ``claim`` is scored on."""
    if isinstance(claim, ShapesClaim):
        return check_shapes(read_shapes(image), claim)
    return check_landscape(read_landscape(image), claim)


def passed_share(results: dict[str, bool]) -> float:
    """The share of a :func:`check`'s categories that pass: how a teacher grades a picture."""
    return float(np.mean(list(results.values())))
