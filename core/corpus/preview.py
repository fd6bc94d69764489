"""Captioned image grids: the corpus preview and the training sample sheets.

``python -m core corpus-preview`` calls :func:`write_grid`; the training loop
and the evaluator use :func:`grid_image` for their sample sheets.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from core.errors import UserError

CELL = 128               # images are shown at 2x their native 64 px, pixels kept square
PAD = 6
CAPTION_LINES = 5
FONT_SIZE = 11
MAX_PREVIEW = 256


def grid_image(images: Sequence[Image.Image], captions: Sequence[str] | None = None,
               columns: int = 4, cell: int = CELL) -> Image.Image:
    """Lay ``images`` out in a grid, each enlarged to ``cell`` px (nearest
    neighbour, so what the model drew is what you see) with its caption below."""
    if not images:
        raise ValueError("grid_image needs at least one image")
    font = ImageFont.load_default(FONT_SIZE)
    line_height = FONT_SIZE + 2
    caption_height = CAPTION_LINES * line_height + PAD if captions else 0
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    width = columns * (cell + PAD) + PAD
    height = rows * (cell + caption_height + PAD) + PAD
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    chars_per_line = max(8, int(cell / (FONT_SIZE * 0.56)))
    for i, image in enumerate(images):
        x = PAD + (i % columns) * (cell + PAD)
        y = PAD + (i // columns) * (cell + caption_height + PAD)
        resample = Image.NEAREST if image.width <= cell else Image.LANCZOS
        sheet.paste(image.convert("RGB").resize((cell, cell), resample), (x, y))
        if captions:
            lines = textwrap.wrap(captions[i], chars_per_line)[:CAPTION_LINES]
            for j, line in enumerate(lines):
                draw.text((x, y + cell + 3 + j * line_height), line, fill=(30, 30, 30), font=font)
    return sheet


def write_grid(path: str | Path, family: str = "all", n: int = 16, seed: int = 0) -> str:
    """Render the first ``n`` corpus samples of ``family`` (shapes, landscapes or
    all) for ``seed`` as a captioned grid PNG at ``path``; returns the path."""
    from core.corpus.dataset import DATA_FAMILIES, make_sample

    if family not in DATA_FAMILIES:
        raise UserError(f"unknown corpus family {family!r}; use one of {', '.join(DATA_FAMILIES)}")
    if not 1 <= int(n) <= MAX_PREVIEW:
        raise UserError(f"the preview shows 1 to {MAX_PREVIEW} samples, got {n}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UserError(f"the preview is written as PNG; give a path ending in .png, got {path.name}")
    samples = [make_sample(family, int(seed), i) for i in range(int(n))]
    columns = 8 if n >= 32 else 4 if n >= 8 else int(n)
    sheet = grid_image([s.image for s in samples], [s.caption for s in samples], columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return str(path)
