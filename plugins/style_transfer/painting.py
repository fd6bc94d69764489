"""Painting a picture with a style vector: sizes, the transformer call, colours.

The high-resolution path is simply to run Magenta's transformer at the output's
own resolution (``core.onnx_models`` reopens it with free height and width).
Instance normalisation then sees the whole picture at once, so there are no tile
seams, and strokes keep their native pixel size instead of being a 384 px result
blown up. ``stroke_scale`` > 1 paints at a lower resolution on purpose (bigger
strokes) and enlarges, for people who want a bolder, flatter look.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from core import onnx_models

MIN_WORK_SIDE = 32     # the transformer's two stride-2 layers need a few pixels to work on
MULTIPLE = 4           # ... and sides divisible by 4 to come back at the same size


def output_size(size: tuple[int, int], max_size: int) -> tuple[int, int]:
    """The picture's size with its long side capped at ``max_size`` (never enlarged)."""
    width, height = size
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def work_size(size: tuple[int, int], stroke_scale: float) -> tuple[int, int]:
    """The resolution the network paints at: the output divided by ``stroke_scale``,
    but never below ``MIN_WORK_SIDE`` on the short side (nor above the output)."""
    width, height = size
    scale = 1.0 / max(stroke_scale, 1.0)
    scale = max(scale, min(1.0, MIN_WORK_SIDE / min(width, height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def paint(image: Image.Image, vector: np.ndarray) -> Image.Image:
    """Run the transformer on ``image`` at its own size with one style vector."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    height, width = pixels.shape[:2]
    pad_h, pad_w = (-height) % MULTIPLE, (-width) % MULTIPLE
    if pad_h or pad_w:
        # reflect, not zeros: a black border would be painted as an object
        mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "edge"
        pixels = np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    transformer = onnx_models.session(onnx_models.TRANSFORM, free_size=True)
    content_name, vector_name = (i.name for i in transformer.get_inputs())
    feed = {content_name: np.ascontiguousarray(pixels[None]),
            vector_name: vector.reshape(1, 1, 1, onnx_models.STYLE_VECTOR_SIZE).astype(np.float32)}
    out = transformer.run(None, feed)[0][0, :height, :width]
    return Image.fromarray((np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def keep_colors(stylized: Image.Image, original: Image.Image) -> Image.Image:
    """The stylised picture's lightness with the original's colour (YCbCr chroma),
    as in Gatys et al.'s luminance-only transfer."""
    luma, _, _ = stylized.convert("YCbCr").split()
    if original.size != stylized.size:
        original = original.resize(stylized.size, Image.Resampling.LANCZOS)
    _, blue, red = original.convert("YCbCr").split()
    return Image.merge("YCbCr", (luma, blue, red)).convert("RGB")
