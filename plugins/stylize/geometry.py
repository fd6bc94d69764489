"""Geometry: crop, rotate, flip and resize.

Crops take a free box (edges as fractions of the picture) or an aspect preset placed at the centre, an edge, or
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
          help="free uses the box below; a ratio takes the largest box of that shape"),
    Param("anchor", "choice", "center", choices=ANCHORS,
          help="where an aspect crop sits; 'thirds' puts the subject on a rule-of-thirds point"),
    Param("zoom", "float", 1.0, min=0.1, max=1.0, step=0.01,
          help="size of an aspect crop, as a fraction of the largest that fits"),
    Param("left", "float", 0.1, min=0.0, max=1.0, step=0.005, help="free box: left edge, fraction of the width"),
    Param("top", "float", 0.1, min=0.0, max=1.0, step=0.005, help="free box: top edge, fraction of the height"),
    Param("width", "float", 0.8, min=0.0, max=1.0, step=0.005, help="free box: width, fraction of the width"),
    Param("height", "float", 0.8, min=0.0, max=1.0, step=0.005, help="free box: height, fraction of the height"),
)
def crop(image: Image.Image, p: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """Cut out a free box or an aspect-ratio box."""
    width, height = image.size
    if p["aspect"] == "free":
        return image.crop(_free_box(p, width, height))
    ratio_w, ratio_h = ASPECTS[p["aspect"]]
    scale = min(width / ratio_w, height / ratio_h) * p["zoom"]
    crop_w = max(1, min(width, round(ratio_w * scale)))
    crop_h = max(1, min(height, round(ratio_h * scale)))
    left, top = _place(image, crop_w, crop_h, p["anchor"])
    return image.crop((left, top, left + crop_w, top + crop_h))


def _free_box(p: dict[str, Any], width: int, height: int) -> tuple[int, int, int, int]:
    """The free box in pixels. Its edges are fractions of the picture, so a recipe
    crops the same part of a picture at any resolution."""
    right, bottom = p["left"] + p["width"], p["top"] + p["height"]
    if right > 1.0 + 1e-9 or bottom > 1.0 + 1e-9:
        raise UserError(f"the crop box reaches outside the picture: left {p['left']:g} + width "
                        f"{p['width']:g} and top {p['top']:g} + height {p['height']:g} must each be "
                        "at most 1")
    box = (round(p["left"] * width), round(p["top"] * height), round(right * width), round(bottom * height))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise UserError(f"the crop box is {box[2] - box[0]}×{box[3] - box[1]} px on this "
                        f"{width}×{height} picture: it needs a size of at least 1×1")
    return box


def _place(image: Image.Image, crop_w: int, crop_h: int, anchor: str) -> tuple[int, int]:
    width, height = image.size
    free_x, free_y = width - crop_w, height - crop_h
    if anchor == "thirds":
        return _thirds_position(image, crop_w, crop_h)
    x = {"left": 0, "right": free_x}.get(anchor, free_x // 2)
    y = {"top": 0, "bottom": free_y}.get(anchor, free_y // 2)
    return x, y


def saliency(image: Image.Image) -> np.ndarray:
    """A small frequency-tuned saliency map (Achanta et al., 2009): how far each
    pixel's smoothed colour is from the picture's mean colour, favouring places
    with edges (a plain bright sky is far from the mean but is not a subject)."""
    small = image.convert("RGB")
    small.thumbnail((128, 128), Image.Resampling.BOX)
    rgb, _ = split(small)
    if min(rgb.shape[:2]) < 3:          # too small to have a subject anywhere in particular
        return np.ones(rgb.shape[:2], dtype=np.float32)
    smooth = blur(rgb, 1.5)
    distance = np.sqrt(((smooth - rgb.mean(axis=(0, 1))) ** 2).sum(axis=-1))
    edges = np.hypot(*np.gradient(luminance(smooth)))
    weight = (distance / (distance.max() + 1e-6)) * (0.3 + edges / (edges.max() + 1e-6))
    return weight ** 2


def find_face(image: Image.Image) -> tuple[float, float, float] | None:
    """The largest frontal face as (centre x, eye-line y, size) in pixels, or None.

    Uses the LBP cascade that ships inside scikit-image (no download), on a
    256 px copy. Portraits are the one subject a saliency map gets wrong: a face
    is less 'salient' than a bright suit, yet it is what a crop must keep."""
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    small = image.convert("RGB")
    small.thumbnail((256, 256), Image.Resampling.BOX)
    if min(small.size) < 32:
        return None
    detector = Cascade(lbp_frontal_face_cascade_filename())
    found = detector.detect_multi_scale(img=np.asarray(small), scale_factor=1.2, step_ratio=1,
                                        min_size=(24, 24), max_size=small.size)
    if not found:
        return None
    face = max(found, key=lambda f: f["width"] * f["height"])
    scale = image.width / small.width
    return ((face["c"] + face["width"] / 2) * scale, (face["r"] + face["height"] * 0.42) * scale,
            face["width"] * scale)


def subject_point(image: Image.Image) -> tuple[float, float]:
    """Where the picture's subject is, in pixels: the centroid of its saliency."""
    weight = saliency(image)
    total = float(weight.sum())
    if total <= 1e-9:
        return image.width / 2, image.height / 2
    ys, xs = np.mgrid[0:weight.shape[0], 0:weight.shape[1]]
    cx = float((weight * (xs + 0.5)).sum() / total) * image.width / weight.shape[1]
    cy = float((weight * (ys + 0.5)).sum() / total) * image.height / weight.shape[0]
    return cx, cy


def _thirds_position(image: Image.Image, crop_w: int, crop_h: int) -> tuple[int, int]:
    """Put the subject on a rule-of-thirds point. With a face, its eyes go on the
    upper third line (the portrait rule); otherwise, of the four placements, the
    one that misses least and keeps the most of the salient picture inside."""
    weight = saliency(image)
    total = float(weight.sum()) or 1.0
    scale_x, scale_y = weight.shape[1] / image.width, weight.shape[0] / image.height
    face = find_face(image)
    sx, sy = (face[0], face[1]) if face else subject_point(image)
    rows = (1 / 3,) if face else (1 / 3, 2 / 3)
    diagonal = math.hypot(crop_w, crop_h)
    best: tuple[float, int, int] | None = None
    for fx in (1 / 3, 2 / 3):
        for fy in rows:
            left = int(round(min(max(sx - fx * crop_w, 0), image.width - crop_w)))
            top = int(round(min(max(sy - fy * crop_h, 0), image.height - crop_h)))
            miss = math.hypot(left + fx * crop_w - sx, top + fy * crop_h - sy) / diagonal
            inside = weight[int(top * scale_y):int(math.ceil((top + crop_h) * scale_y)),
                            int(left * scale_x):int(math.ceil((left + crop_w) * scale_x))].sum() / total
            score = miss - float(inside)
            if best is None or score < best[0] - 1e-9:
                best = (score, left, top)
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
    box = _rotation_box(turned.size, width, height, cos, sin, p["mode"])
    turned = turned.crop(box)
    if p["transparent"]:
        return turned.convert("RGBA")
    fill = hex_to_rgb(p["fill"])
    if image.mode == "RGB" or image.getextrema()[3][0] == 255:
        # No transparency of its own: what the rotation left uncovered is exactly
        # where alpha dropped, so a plain 'over' onto the fill colour is right.
        background = Image.new("RGBA", turned.size, (*fill, 255))
        return Image.alpha_composite(background, turned.convert("RGBA")).convert(image.mode)
    cover = Image.new("L", padded.size, 0)
    cover.paste(255, (pad, pad, pad + width, pad + height))
    coverage = cover.rotate(angle, Image.Resampling.BICUBIC, expand=True).crop(box)
    return _fill_uncovered(turned, coverage, fill, image.mode)


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
