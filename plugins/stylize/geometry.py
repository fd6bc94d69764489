"""Geometry: crop, rotate, flip and resize.

Crops take a free pixel box or an aspect preset placed at the centre, an edge, or
with the picture's subject on a rule-of-thirds point. Rotation antialiases its
own edges (the canvas is padded with transparent pixels before resampling, in
premultiplied alpha), so a rotated photo on a fill colour has smooth borders.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from core import limits
from core.errors import UserError
from core.params import Param, hex_to_rgb

from .base import blur, luminance, operation, split

ASPECTS = {"1:1": (1, 1), "4:3": (4, 3), "3:2": (3, 2), "16:9": (16, 9), "9:16": (9, 16),
           "3:4": (3, 4), "2:3": (2, 3)}
ANCHORS = ("center", "thirds", "top", "bottom", "left", "right")
RESAMPLE = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
            "bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST}
MAX_COORD = 20_000


def check_output_size(width: int, height: int, what: str) -> None:
    """Refuse a result before allocating it: the same bounds core applies afterwards."""
    longest = limits.MAX_OUTPUT_SIDE * 2
    if min(width, height) < 1:
        raise UserError(f"{what} would make the image {width}×{height} px, which has no pixels")
    if max(width, height) > longest or width * height > limits.MAX_IMAGE_PIXELS:
        raise UserError(f"{what} would make the image {width}×{height} px; the largest allowed "
                        f"side is {longest} px")


# --------------------------------------------------------------------------- crop


@operation(
    "crop", "Crop", "geometry",
    Param("aspect", "choice", "4:3", choices=("free", *ASPECTS),
          help="free uses the pixel box below; a ratio takes the largest box of that shape"),
    Param("anchor", "choice", "center", choices=ANCHORS,
          help="where an aspect crop sits; 'thirds' puts the subject on a rule-of-thirds point"),
    Param("zoom", "float", 1.0, min=0.1, max=1.0, step=0.01,
          help="size of an aspect crop, as a fraction of the largest that fits"),
    Param("left", "int", 0, min=0, max=MAX_COORD, help="free box: left edge, px"),
    Param("top", "int", 0, min=0, max=MAX_COORD, help="free box: top edge, px"),
    Param("width", "int", 256, min=0, max=MAX_COORD, help="free box: width, px"),
    Param("height", "int", 256, min=0, max=MAX_COORD, help="free box: height, px"),
)
def crop(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Cut out a free box or an aspect-ratio box."""
    width, height = image.size
    if p["aspect"] == "free":
        box = (p["left"], p["top"], p["left"] + p["width"], p["top"] + p["height"])
        if p["width"] < 1 or p["height"] < 1:
            raise UserError(f"the crop box is {p['width']}×{p['height']} px: it needs a size of at "
                            "least 1×1")
        if box[2] > width or box[3] > height:
            raise UserError(f"the crop box ({box[0]}, {box[1]})–({box[2]}, {box[3]}) reaches outside "
                            f"the {width}×{height} image")
        return image.crop(box)
    ratio_w, ratio_h = ASPECTS[p["aspect"]]
    scale = min(width / ratio_w, height / ratio_h) * p["zoom"]
    crop_w = max(1, min(width, round(ratio_w * scale)))
    crop_h = max(1, min(height, round(ratio_h * scale)))
    left, top = _place(image, crop_w, crop_h, p["anchor"])
    return image.crop((left, top, left + crop_w, top + crop_h))


def _place(image: Image.Image, crop_w: int, crop_h: int, anchor: str) -> tuple[int, int]:
    width, height = image.size
    free_x, free_y = width - crop_w, height - crop_h
    if anchor == "thirds":
        return _thirds_position(image, crop_w, crop_h)
    x = {"left": 0, "right": free_x}.get(anchor, free_x // 2)
    y = {"top": 0, "bottom": free_y}.get(anchor, free_y // 2)
    return x, y


def subject_point(image: Image.Image) -> tuple[float, float]:
    """Where the picture's subject is, in pixels: the centroid of a frequency-tuned
    saliency map (distance of each pixel's smoothed colour from the mean colour)."""
    small = image.convert("RGB")
    small.thumbnail((128, 128), Image.Resampling.BOX)
    rgb, _ = split(small)
    smooth = blur(rgb, 1.5)
    saliency = np.sqrt(((smooth - rgb.mean(axis=(0, 1))) ** 2).sum(axis=-1))
    # Edges matter too: a plain bright sky is far from the mean but is not a subject.
    grey = luminance(smooth)
    edges = np.hypot(*np.gradient(grey))
    weight = (saliency / (saliency.max() + 1e-6)) * (0.3 + edges / (edges.max() + 1e-6))
    weight = weight ** 2
    total = float(weight.sum())
    if total <= 1e-9:
        return image.width / 2, image.height / 2
    ys, xs = np.mgrid[0:small.height, 0:small.width]
    cx = float((weight * (xs + 0.5)).sum() / total) * image.width / small.width
    cy = float((weight * (ys + 0.5)).sum() / total) * image.height / small.height
    return cx, cy


def _thirds_position(image: Image.Image, crop_w: int, crop_h: int) -> tuple[int, int]:
    sx, sy = subject_point(image)
    best: tuple[float, int, int] | None = None
    for fx in (1 / 3, 2 / 3):
        for fy in (1 / 3, 2 / 3):
            left = int(round(min(max(sx - fx * crop_w, 0), image.width - crop_w)))
            top = int(round(min(max(sy - fy * crop_h, 0), image.height - crop_h)))
            miss = math.hypot(left + fx * crop_w - sx, top + fy * crop_h - sy)
            if best is None or miss < best[0] - 1e-6:
                best = (miss, left, top)
    assert best is not None
    return best[1], best[2]


# --------------------------------------------------------------------------- rotate


@operation(
    "rotate", "Rotate", "geometry",
    Param("angle", "float", 15.0, min=-360, max=360, step=0.5, help="degrees, counter-clockwise"),
    Param("mode", "choice", "expand", choices=("expand", "crop", "keep"),
          help="expand: grow the canvas; crop: cut to the largest clean box; keep: same size"),
    Param("fill", "color", "#ffffff", help="colour of the uncovered corners"),
    Param("transparent", "bool", False, help="leave the corners transparent instead"),
)
def rotate(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Rotate by any angle with antialiased edges."""
    angle = p["angle"] % 360.0
    if angle == 0.0:
        return image.copy()
    width, height = image.size
    theta = math.radians(angle)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    new_w, new_h = math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos)
    check_output_size(new_w, new_h, "this rotation")
    pad = 2  # transparent margin: resampling blends into it, which antialiases the edge
    padded = Image.new("RGBA", (width + 2 * pad, height + 2 * pad), (0, 0, 0, 0))
    padded.paste(image.convert("RGBA"), (pad, pad))
    turned = padded.convert("RGBa").rotate(angle, Image.Resampling.BICUBIC, expand=True)
    cover = Image.new("L", padded.size, 0)
    cover.paste(255, (pad, pad, pad + width, pad + height))
    coverage = cover.rotate(angle, Image.Resampling.BICUBIC, expand=True)

    box = _rotation_box(turned.size, width, height, cos, sin, p["mode"])
    turned, coverage = turned.crop(box), coverage.crop(box)
    if p["transparent"]:
        return turned.convert("RGBA")
    return _fill_uncovered(turned, coverage, hex_to_rgb(p["fill"]), image.mode)


def _rotation_box(size: tuple[int, int], width: int, height: int, cos: float, sin: float,
                  mode: str) -> tuple[int, int, int, int]:
    out_w, out_h = size
    if mode == "keep":
        keep_w, keep_h = width, height
    elif mode == "crop":
        # The largest box of the original's shape that the rotated picture covers.
        scale = min(width / (width * cos + height * sin), height / (width * sin + height * cos))
        keep_w, keep_h = max(1, int(width * scale) - 2), max(1, int(height * scale) - 2)
    else:
        keep_w, keep_h = min(out_w, math.ceil(width * cos + height * sin)), \
            min(out_h, math.ceil(width * sin + height * cos))
    left, top = (out_w - keep_w) // 2, (out_h - keep_h) // 2
    return left, top, left + keep_w, top + keep_h


def _fill_uncovered(turned: Image.Image, coverage: Image.Image, fill: tuple[int, int, int],
                    original_mode: str) -> Image.Image:
    """Premultiplied 'over': the rotated picture over the fill colour, where the fill
    shows only outside the rotated rectangle (transparent parts of an RGBA input
    stay transparent)."""
    premult = np.asarray(turned, dtype=np.float32) / 255.0     # RGBa: already premultiplied
    uncovered = 1.0 - np.asarray(coverage, dtype=np.float32) / 255.0
    colour = premult[..., :3] + np.asarray(fill, dtype=np.float32)[None, None] / 255.0 * uncovered[..., None]
    alpha = np.clip(premult[..., 3] + uncovered, 0.0, 1.0)
    if original_mode != "RGBA":
        return Image.fromarray(np.clip(colour * 255 + 0.5, 0, 255).astype(np.uint8), "RGB")
    straight = np.where(alpha[..., None] > 1e-6, colour / np.maximum(alpha, 1e-6)[..., None], 0.0)
    data = np.concatenate([straight, alpha[..., None]], axis=-1)
    return Image.fromarray(np.clip(data * 255 + 0.5, 0, 255).astype(np.uint8), "RGBA")


# --------------------------------------------------------------------------- flip, resize


@operation(
    "flip", "Flip", "geometry",
    Param("direction", "choice", "horizontal", choices=("horizontal", "vertical", "both")),
)
def flip(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Mirror left-right, top-bottom, or both."""
    if p["direction"] == "horizontal":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if p["direction"] == "vertical":
        return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image.transpose(Image.Transpose.ROTATE_180)


@operation(
    "resize", "Resize / scale", "geometry",
    Param("mode", "choice", "scale", choices=("scale", "long_side", "width", "height"),
          help="scale by a factor, or set the long side, the width or the height in px"),
    Param("factor", "float", 0.5, min=0.01, max=8.0, step=0.01, help="for mode 'scale'"),
    Param("pixels", "int", 512, min=1, max=8192, help="for the other modes"),
    Param("resample", "choice", "lanczos", choices=tuple(RESAMPLE),
          help="nearest keeps hard pixels (pixel art)"),
)
def resize(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Scale the picture, keeping its proportions."""
    width, height = image.size
    if p["mode"] == "scale":
        scale = p["factor"]
    else:
        reference = {"long_side": max(width, height), "width": width, "height": height}[p["mode"]]
        scale = p["pixels"] / reference
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    check_output_size(new_w, new_h, "this resize")
    if (new_w, new_h) == image.size:
        return image.copy()
    # Pillow resizes RGBA in premultiplied alpha, so edges do not darken.
    return image.resize((new_w, new_h), RESAMPLE[p["resample"]])


OPERATIONS = [crop, rotate, flip, resize]
