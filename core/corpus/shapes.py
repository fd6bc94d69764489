"""The *shapes* family: 1-3 flat shapes on a flat background (DESIGN.md).

``sample_shapes_claim`` draws what a caption will say, ``layout_shapes`` places
that claim on the canvas (sizes 14-24 px, fully inside, never overlapping, the
relation true by at least 8 px between centroids) and ``render_shapes`` draws
it, supersampled 4x and box-filtered so edges are anti-aliased like a real
picture rather than stair-stepped.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.corpus.attributes import (COLOR_NAMES, COLORS, MAX_SHAPE_SIZE, MIN_SHAPE_SIZE,
                                    NATIVE_SIZE, RELATION_MARGIN, RELATIONS, SHAPE_KINDS,
                                    ObjectClaim, PlacedShape, ShapesClaim, ShapesScene)

MARGIN = 2            # px between a shape and the canvas edge
GAP = 3               # px between the bounding boxes of two shapes
JITTER = 6            # +- per channel: "small jitter allowed"
SUPERSAMPLE = 4
TRIANGLE_HEIGHT = 0.87  # an upright equilateral triangle: height = 0.87 x width

#: how often each caption template is drawn, and how often a background is named
CAPTION_KIND_WEIGHTS = {"single": 0.3, "count": 0.2, "two": 0.25, "relation": 0.25}
NAMED_BACKGROUND_P = 0.75


def sample_shapes_claim(rng: np.random.Generator) -> ShapesClaim:
    kinds = list(CAPTION_KIND_WEIGHTS)
    caption_kind = kinds[rng.choice(len(kinds), p=list(CAPTION_KIND_WEIGHTS.values()))]

    def one_object() -> ObjectClaim:
        return ObjectClaim(str(rng.choice(COLOR_NAMES)), str(rng.choice(SHAPE_KINDS)))

    first = one_object()
    relation = None
    if caption_kind == "single":
        objects: tuple[ObjectClaim, ...] = (first,)
    elif caption_kind == "count":
        objects = (first,) * int(rng.integers(2, 4))
    else:
        second = one_object()
        while second == first:
            second = one_object()
        objects = (first, second)
        if caption_kind == "relation":
            relation = str(rng.choice(RELATIONS))
    background = None
    if rng.random() < NAMED_BACKGROUND_P:
        background = _background_for(objects, rng)
    return ShapesClaim(caption_kind, objects, background, relation)


def _background_for(objects: tuple[ObjectClaim, ...], rng: np.random.Generator) -> str:
    used = {o.color for o in objects}
    return str(rng.choice([c for c in COLOR_NAMES if c not in used]))


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    shifted = np.clip(np.array(rgb) + rng.integers(-JITTER, JITTER + 1, size=3), 0, 255)
    return tuple(int(v) for v in shifted)  # type: ignore[return-value]


def _extent(kind: str, size: float) -> tuple[float, float]:
    """Width and height of a shape's bounding box."""
    return size, size * TRIANGLE_HEIGHT if kind == "triangle" else size


def _centroid_offset(kind: str, size: float) -> tuple[float, float]:
    """Area centroid relative to the bounding box's top-left corner."""
    width, height = _extent(kind, size)
    return width / 2, (2 * height / 3 if kind == "triangle" else height / 2)


def _relation_holds(relation: str, a: tuple[float, float], b: tuple[float, float],
                    margin: float) -> bool:
    """``a`` stands ``relation`` ``b``, by ``margin`` px along the named axis, and
    that axis dominates (so a caption's "left of" is what a person would say)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if relation == "left of":
        return dx >= margin and abs(dx) > abs(dy)
    if relation == "right of":
        return -dx >= margin and abs(dx) > abs(dy)
    if relation == "above":
        return dy >= margin and abs(dy) > abs(dx)
    return -dy >= margin and abs(dy) > abs(dx)  # below


def layout_shapes(claim: ShapesClaim, rng: np.random.Generator) -> ShapesScene:
    """Place ``claim`` on a 64x64 canvas (coordinates in px at 64x64)."""
    background = claim.background or _background_for(claim.objects, rng)
    for attempt in range(200):
        # Shrink the size range a little after many failures (three big shapes).
        top = MAX_SHAPE_SIZE - min(attempt // 40, 4) * 2
        sizes = [float(rng.integers(MIN_SHAPE_SIZE, top + 1)) for _ in claim.objects]
        boxes: list[tuple[float, float, float, float]] = []
        for obj, size in zip(claim.objects, sizes):
            width, height = _extent(obj.kind, size)
            for _ in range(60):
                x0 = rng.uniform(MARGIN, NATIVE_SIZE - MARGIN - width)
                y0 = rng.uniform(MARGIN, NATIVE_SIZE - MARGIN - height)
                box = (x0, y0, x0 + width, y0 + height)
                if all(_apart(box, other) for other in boxes):
                    boxes.append(box)
                    break
            else:
                break
        if len(boxes) != len(claim.objects):
            continue
        centroids = [(box[0] + _centroid_offset(o.kind, s)[0], box[1] + _centroid_offset(o.kind, s)[1])
                     for box, o, s in zip(boxes, claim.objects, sizes)]
        if claim.relation and not _relation_holds(claim.relation, centroids[0], centroids[1],
                                                  RELATION_MARGIN):
            continue
        shapes = tuple(PlacedShape(o.color, o.kind, round(c[0], 2), round(c[1], 2), s,
                                   _jitter(COLORS[o.color], rng))
                       for o, c, s in zip(claim.objects, centroids, sizes))
        return ShapesScene(claim, background, _jitter(COLORS[background], rng), shapes)
    raise RuntimeError(f"could not lay out {claim}")  # pragma: no cover - 200 tries always suffice


def _apart(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return (a[2] + GAP <= b[0] or b[2] + GAP <= a[0] or
            a[3] + GAP <= b[1] or b[3] + GAP <= a[1])


def render_shapes(scene: ShapesScene, size: int = NATIVE_SIZE) -> Image.Image:
    """Draw ``scene`` as a ``size`` x ``size`` RGB image."""
    big = size * SUPERSAMPLE
    scale = big / NATIVE_SIZE
    canvas = Image.new("RGB", (big, big), scene.background_rgb)
    draw = ImageDraw.Draw(canvas)
    for shape in scene.shapes:
        dx, dy = _centroid_offset(shape.kind, shape.size)
        width, height = _extent(shape.kind, shape.size)
        x0, y0 = (shape.cx - dx) * scale, (shape.cy - dy) * scale
        x1, y1 = x0 + width * scale, y0 + height * scale
        if shape.kind == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=shape.rgb)
        elif shape.kind == "square":
            draw.rectangle((x0, y0, x1, y1), fill=shape.rgb)
        else:
            draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) / 2, y0)], fill=shape.rgb)
    return canvas.resize((size, size), Image.BOX)

