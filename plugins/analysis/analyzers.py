"""The two built-in analyzers. Both read pixels only.

- ``colour_form``: palette, stats, texture, shape (numpy/scikit-image, no model);
- ``style``: style_vector, nearest_presets (Magenta's style-prediction network,
  shared with the transfer engine through ``core.onnx_models``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from skimage.color import rgb2lab
from skimage.feature import canny

from core import onnx_models
from core.hookspecs import Analysis

from plugins.analysis import figures
from plugins.analysis.colour_stats import colour_stats
from plugins.analysis.palette import dominant_colours, harmonies, harmony_label, lab_to_hex
from plugins.analysis.texture import shape, texture

PALETTE_SIDE = 1024     # palette pixels are sampled from at most this size (nearest: no new colours)
TEXTURE_SIDE = 384     # texture numbers describe the picture, not its resolution
SHAPE_SIDE = 256
TOP_PRESETS = 5


def _fit(image: Image.Image, side: int, resample: Image.Resampling) -> Image.Image:
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: box-reduce first, then filter: several times faster, same look
    return image.resize(size, resample, reducing_gap=None if resample == Image.Resampling.NEAREST else 2.0)


class ColourFormAnalyzer:
    name = "colour_form"
    label = "Palette, colour statistics, texture and shape"
    params = ()

    def analyze(self, image: Image.Image, params: dict[str, Any]) -> Analysis:
        image = image.convert("RGB")
        palette_pixels = np.asarray(_fit(image, PALETTE_SIDE, Image.Resampling.NEAREST))
        small = _fit(image, TEXTURE_SIDE, Image.Resampling.LANCZOS)
        small_pixels = np.asarray(small)

        found = dominant_colours(palette_pixels)
        colours = [{"hex": lab_to_hex(lab), "share": round(float(share), 4),
                    "lab": [round(float(v), 2) for v in lab]}
                   for lab, share in zip(found.lab, found.shares)]
        schemes = harmonies(found)
        stats = colour_stats(small_pixels, found.samples)
        stats["harmony"] = harmony_label(found)

        grey = np.asarray(small.convert("L"), dtype=np.float64) / 255.0
        texture_data, _ = texture(grey)
        tiny = _fit(small, SHAPE_SIDE, Image.Resampling.LANCZOS)
        tiny_lab = rgb2lab(np.asarray(tiny))
        region_map = ((tiny_lab[..., None, :] - found.lab[None, None]) ** 2).sum(-1).argmin(-1)
        tiny_grey = np.asarray(tiny.convert("L"), dtype=np.float64) / 255.0
        shape_data = shape(region_map, canny(tiny_grey, sigma=1.5))

        data = {"palette": {"colors": colours, "harmonies": schemes},
                "stats": stats, "texture": texture_data, "shape": shape_data}
        # radar axes: each figure placed on 0–1 by a range that covers ordinary pictures
        radar_values = {
            "brightness": (stats["brightness"], f"{stats['brightness']:.2f}"),
            "contrast": (stats["contrast"] / 0.4, f"{stats['contrast']:.2f}"),
            "saturation": (stats["saturation"], f"{stats['saturation']:.2f}"),
            "colourfulness": (stats["colorfulness"] / 110, f"{stats['colorfulness']:.0f}"),
            "warmth": ((stats["warmth"] + 1) / 2, f"{stats['warmth']:+.2f}"),
            "edges": (texture_data["edge_density"] / 0.2, f"{texture_data['edge_density']:.2f}"),
            "fine detail": (texture_data["high_frequency_energy"] / 0.2,
                            f"{texture_data['high_frequency_energy']:.2f}"),
        }
        return Analysis(data, {
            "palette": figures.palette_swatches(colours),
            "harmonies": figures.harmony_rows(schemes),
            "histograms": figures.histograms(small_pixels, found.samples[:, 0]),
            "statistics": figures.radar(radar_values),
        })


class StyleAnalyzer:
    name = "style"
    label = "Style vector and nearest presets"
    params = ()
    uses_models = True       # core runs it under the device lock

    def analyze(self, image: Image.Image, params: dict[str, Any]) -> Analysis:
        vector = onnx_models.style_vector(image)
        matches = onnx_models.nearest_presets(vector, top=TOP_PRESETS)
        data = {"style_vector": [round(float(v), 5) for v in vector], "nearest_presets": matches}
        thumbnails = {}
        for match in matches[:3]:
            path = onnx_models.preset_thumbnail(match["preset"])
            if path.is_file():
                with Image.open(path) as thumb:     # our own shipped asset, not user input
                    thumbnails[match["preset"]] = thumb.convert("RGB")
        return Analysis(data, {"nearest presets": figures.preset_matches(matches[:3], thumbnails)})
