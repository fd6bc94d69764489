"""The sticker drawings: butterfly, water drop, cat, bird, fish, star, heart,
leaf and flower, drawn by this project as vector shapes (see ``vector.py``).

Each function returns a list of shapes in a box from −1 to 1 (y down), painted
back to front. Parts marked ``tint=True`` take a colour tint; outlines, eyes and
highlights keep theirs so a tinted sticker still reads.
"""
from __future__ import annotations

import numpy as np

from .vector import Shape, circle, cubic, ellipse, mirror_x, path, rgb, star_points

INK = rgb("#2b1d14")
WHITE = rgb("#ffffff")


def butterfly() -> list[Shape]:
    upper = path(cubic((0.05, -0.05), (0.25, -0.95), (1.0, -1.0), (0.93, -0.38)),
                 cubic((0.93, -0.38), (0.88, -0.05), (0.4, 0.02), (0.05, 0.02)))
    lower = path(cubic((0.05, 0.02), (0.55, 0.0), (0.9, 0.45), (0.62, 0.78)),
                 cubic((0.62, 0.78), (0.42, 0.98), (0.12, 0.55), (0.04, 0.14)))
    shapes: list[Shape] = []
    for side in (1.0, -1.0):
        flip = np.array([side, 1.0])
        shapes += [
            Shape(upper * flip, fill=rgb("#f57c00"), stroke=INK, width=0.06, tint=True),
            Shape(lower * flip, fill=rgb("#ef6c00"), stroke=INK, width=0.06, tint=True),
            Shape(ellipse(0.45 * side, -0.4, 0.2, 0.12, -35 * side), fill=rgb("#ffb74d"), tint=True),
            Shape(ellipse(0.38 * side, 0.38, 0.13, 0.09, 50 * side), fill=rgb("#ffb74d"), tint=True),
            Shape(circle(0.74 * side, -0.62, 0.075), fill=WHITE),
            Shape(circle(0.86 * side, -0.44, 0.05), fill=WHITE),
            Shape(circle(0.55 * side, 0.62, 0.05), fill=WHITE),
        ]
        antenna = cubic((0.02 * side, -0.42), (0.08 * side, -0.7), (0.2 * side, -0.85), (0.32 * side, -0.92), 16)
        shapes += [Shape(antenna, stroke=INK, width=0.035, closed=False),
                   Shape(circle(0.32 * side, -0.92, 0.05), fill=INK)]
    shapes += [Shape(ellipse(0, 0.08, 0.075, 0.48), fill=INK),
               Shape(circle(0, -0.4, 0.1), fill=INK)]
    return shapes


def water_drop() -> list[Shape]:
    right = path(cubic((0, -0.95), (0.15, -0.6), (0.72, -0.1), (0.72, 0.3)),
                 cubic((0.72, 0.3), (0.72, 0.72), (0.4, 0.95), (0, 0.95)))
    outline = path(right, mirror_x(right))
    return [
        Shape(outline, fill=rgb("#4fc3f7"), opacity=0.78, tint=True),
        Shape(ellipse(0.08, 0.48, 0.5, 0.36), fill=rgb("#0288d1"), opacity=0.35, tint=True),
        Shape(outline, stroke=rgb("#0277bd"), width=0.04, opacity=0.9, tint=True),
        Shape(ellipse(-0.32, 0.25, 0.12, 0.24, 15), fill=WHITE, opacity=0.85),
        Shape(circle(-0.18, -0.22, 0.055), fill=WHITE, opacity=0.8),
    ]


def cat() -> list[Shape]:
    fur, dark, pink = rgb("#f4a259"), rgb("#c8692a"), rgb("#f48fb1")
    outline = rgb("#4e342e")
    shapes: list[Shape] = []
    for side in (1.0, -1.0):
        ear = np.array([[0.82 * side, -0.1], [0.7 * side, -0.95], [0.22 * side, -0.58]])
        inner = np.array([[0.68 * side, -0.2], [0.64 * side, -0.74], [0.35 * side, -0.52]])
        shapes += [Shape(ear, fill=fur, stroke=outline, width=0.05, tint=True), Shape(inner, fill=pink)]
    head = ellipse(0, 0.1, 0.88, 0.74)
    shapes.append(Shape(head, fill=fur, stroke=outline, width=0.05, tint=True))
    for x, top in ((-0.16, -0.55), (0.0, -0.6), (0.16, -0.55)):   # forehead stripes
        shapes.append(Shape(np.array([[x - 0.06, top], [x + 0.06, top], [x, top + 0.28]]), fill=dark, tint=True))
    shapes.append(Shape(ellipse(0, 0.45, 0.4, 0.27), fill=rgb("#fff3e0")))
    for side in (1.0, -1.0):
        shapes += [
            Shape(ellipse(0.33 * side, 0.02, 0.15, 0.18), fill=rgb("#9ccc65"), stroke=outline, width=0.03),
            Shape(ellipse(0.33 * side, 0.03, 0.05, 0.14), fill=rgb("#1b1b1b")),
            Shape(circle(0.37 * side, -0.05, 0.035), fill=WHITE),
        ]
        for y0, y1 in ((0.42, 0.32), (0.48, 0.52)):
            shapes.append(Shape(np.array([[0.32 * side, y0], [0.97 * side, y1]]), stroke=outline,
                                width=0.022, closed=False))
        mouth = cubic((0, 0.42), (0, 0.5), (0.08 * side, 0.54), (0.15 * side, 0.49), 12)
        shapes.append(Shape(mouth, stroke=outline, width=0.03, closed=False))
    shapes.append(Shape(np.array([[-0.09, 0.3], [0.09, 0.3], [0, 0.41]]), fill=pink, stroke=outline, width=0.02))
    return shapes


def bird() -> list[Shape]:
    blue, deep, outline = rgb("#42a5f5"), rgb("#1e88e5"), rgb("#0d3c78")
    legs = rgb("#ff9800")
    wing = path(cubic((-0.45, 0.02), (-0.1, -0.15), (0.3, 0.0), (0.25, 0.2)),
                cubic((0.25, 0.2), (0.05, 0.45), (-0.4, 0.4), (-0.45, 0.02)))
    shapes = [
        Shape(np.array([[0.0, 0.58], [-0.06, 0.88]]), stroke=legs, width=0.045, closed=False),
        Shape(np.array([[0.2, 0.58], [0.22, 0.88]]), stroke=legs, width=0.045, closed=False),
        Shape(np.array([[-0.16, 0.88], [0.04, 0.88]]), stroke=legs, width=0.04, closed=False),
        Shape(np.array([[0.12, 0.88], [0.32, 0.88]]), stroke=legs, width=0.04, closed=False),
        Shape(np.array([[-0.5, 0.05], [-0.98, -0.12], [-0.92, 0.3], [-0.45, 0.32]]), fill=deep,
              stroke=outline, width=0.035, tint=True),
        Shape(ellipse(-0.02, 0.18, 0.62, 0.44, -8), fill=blue, stroke=outline, width=0.035, tint=True),
        Shape(ellipse(0.1, 0.33, 0.4, 0.22, -8), fill=rgb("#fff3e0")),
        Shape(circle(0.45, -0.28, 0.34), fill=blue, stroke=outline, width=0.035, tint=True),
        Shape(np.array([[0.74, -0.36], [0.99, -0.24], [0.74, -0.14]]), fill=rgb("#ffa000"),
              stroke=outline, width=0.025),
        Shape(wing, fill=deep, stroke=outline, width=0.03, tint=True),
        Shape(circle(0.56, -0.33, 0.085), fill=WHITE),
        Shape(circle(0.59, -0.33, 0.048), fill=rgb("#111111")),
        Shape(circle(0.605, -0.35, 0.016), fill=WHITE),
    ]
    return shapes


def fish() -> list[Shape]:
    body_colour, fin, outline = rgb("#ff9800"), rgb("#f57c00"), rgb("#6d3100")
    body = path(cubic((0.92, 0.02), (0.62, -0.62), (-0.25, -0.6), (-0.58, 0.0)),
                cubic((-0.58, 0.0), (-0.25, 0.6), (0.62, 0.62), (0.92, 0.02)))
    tail = np.array([[-0.45, 0.0], [-0.97, -0.5], [-0.82, 0.0], [-0.97, 0.5]])
    dorsal = path(cubic((0.25, -0.42), (0.1, -0.85), (-0.2, -0.8), (-0.32, -0.32)))
    return [
        Shape(tail, fill=fin, stroke=outline, width=0.04, tint=True),
        Shape(dorsal, fill=fin, stroke=outline, width=0.04, tint=True),
        Shape(body, fill=body_colour, tint=True),
        Shape(ellipse(0.32, 0.0, 0.08, 0.44), fill=WHITE, opacity=0.95),
        Shape(ellipse(-0.18, 0.0, 0.07, 0.36), fill=WHITE, opacity=0.95),
        Shape(body, stroke=outline, width=0.04),
        Shape(ellipse(0.08, 0.2, 0.17, 0.08, 25), fill=fin, stroke=outline, width=0.03, tint=True),
        Shape(circle(0.6, -0.12, 0.1), fill=WHITE, stroke=outline, width=0.02),
        Shape(circle(0.62, -0.12, 0.05), fill=rgb("#111111")),
        Shape(cubic((0.88, 0.1), (0.82, 0.16), (0.76, 0.16), (0.72, 0.12), 8), stroke=outline,
              width=0.03, closed=False),
    ]


def star() -> list[Shape]:
    return [
        Shape(star_points(5, 0.98, 0.42, 0, 0.06), fill=rgb("#ffd54f"), stroke=rgb("#f9a825"),
              width=0.06, tint=True),
        Shape(star_points(5, 0.34, 0.15, -0.12, -0.08), fill=rgb("#fff9c4"), opacity=0.85),
    ]


def heart() -> list[Shape]:
    right = path(cubic((0, -0.5), (0.22, -1.0), (1.05, -0.82), (0.95, -0.2)),
                 cubic((0.95, -0.2), (0.88, 0.3), (0.3, 0.6), (0, 0.92)))
    outline = path(right, mirror_x(right))
    return [
        Shape(outline, fill=rgb("#e53935"), stroke=rgb("#9e1b1b"), width=0.06, tint=True),
        Shape(ellipse(-0.48, -0.42, 0.17, 0.09, -40), fill=WHITE, opacity=0.7),
    ]


def leaf() -> list[Shape]:
    right = cubic((0, -0.95), (0.62, -0.55), (0.62, 0.32), (0, 0.72))
    outline = path(right, mirror_x(right))
    vein = rgb("#2e6b30")
    shapes = [
        Shape(outline, fill=rgb("#66bb6a"), tint=True),
        Shape(path(mirror_x(right), [[0, -0.95]]), fill=rgb("#43a047"), opacity=0.6, tint=True),
        Shape(outline, stroke=vein, width=0.04, tint=True),
        Shape(np.array([[0, 0.98], [0, -0.82]]), stroke=vein, width=0.045, closed=False, tint=True),
    ]
    for y in (0.35, 0.0, -0.35):
        for side in (1.0, -1.0):
            shapes.append(Shape(np.array([[0, y], [0.28 * side, y - 0.24]]), stroke=vein, width=0.025,
                                closed=False, tint=True))
    return shapes


def flower() -> list[Shape]:
    petal_fill, petal_line = rgb("#f48fb1"), rgb("#c2185b")
    shapes = []
    for i in range(6):
        angle = 90 + i * 60
        cx, cy = 0.5 * np.cos(np.radians(angle)), -0.5 * np.sin(np.radians(angle))
        shapes.append(Shape(ellipse(cx, cy, 0.45, 0.24, angle), fill=petal_fill, stroke=petal_line,
                            width=0.035, tint=True))
    shapes.append(Shape(circle(0, 0, 0.3), fill=rgb("#fdd835"), stroke=rgb("#f9a825"), width=0.04))
    for i in range(7):
        a = i * 2 * np.pi / 7
        shapes.append(Shape(circle(0.15 * np.cos(a), 0.15 * np.sin(a), 0.035), fill=rgb("#8d6e63")))
    return shapes


STICKERS = {"butterfly": butterfly, "water_drop": water_drop, "cat": cat, "bird": bird,
            "fish": fish, "star": star, "heart": heart, "leaf": leaf, "flower": flower}
