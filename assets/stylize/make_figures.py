"""Renders the Stylize figures of the README and the sticker previews.

    python assets/stylize/make_figures.py

Everything goes through ``core.pipeline.stylize`` with fixed seeds, so running
it again gives the same pictures. Photos are scikit-image's samples.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from skimage import data

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import plugins.stylize as stylize_plugin  # noqa: E402
from core import pipeline  # noqa: E402
from core.registry import Registry  # noqa: E402
from plugins.stylize import vector  # noqa: E402
from plugins.stylize.stickers import STICKERS  # noqa: E402

OUT = ROOT / "assets" / "stylize"
STICKER_DIR = ROOT / "assets" / "stickers"
FONT = ImageFont.truetype(str(ROOT / "assets" / "fonts" / "DejaVuSans.ttf"), 15)
BACKGROUND = (238, 236, 232)

STEPS = {"seed": 4, "ops": [
    {"op": "crop", "params": {"aspect": "4:3", "anchor": "thirds", "zoom": 0.9}},
    {"op": "auto_contrast"},
    {"op": "watercolor", "params": {"abstraction": 4}},
    {"op": "scatter", "params": {"kind": "butterfly", "count": 8, "region": "edges", "random_colors": True}},
    {"op": "caption", "params": {"text": "Ad astra", "position": "bottom", "size": 0.11}},
    {"op": "frame", "params": {"style": "deckle", "size": 0.04}},
]}


def registry() -> Registry:
    reg = Registry()
    reg.add_plugin(stylize_plugin, "stylize", stylize_plugin.__version__, "builtin")
    return reg


def labelled_grid(tiles: list[tuple[Image.Image, str]], columns: int, cell: tuple[int, int]) -> Image.Image:
    """Tiles fitted into equal cells, each with a caption underneath."""
    rows = -(-len(tiles) // columns)
    width, height = cell
    sheet = Image.new("RGB", (columns * width, rows * (height + 24)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (tile, caption) in enumerate(tiles):
        tile = tile.convert("RGBA")
        tile.thumbnail((width - 8, height - 8), Image.Resampling.LANCZOS)
        x0, y0 = (i % columns) * width, (i // columns) * (height + 24)
        sheet.paste(tile, (x0 + (width - tile.width) // 2, y0 + (height - tile.height) // 2), tile)
        text_w = draw.textlength(caption, font=FONT)
        draw.text((x0 + (width - text_w) / 2, y0 + height + 2), caption, fill=(40, 40, 40), font=FONT)
    return sheet


def steps_figure(reg: Registry) -> None:
    photo = Image.fromarray(data.astronaut())
    tiles = [(photo, "original")]
    for n in range(1, len(STEPS["ops"]) + 1):
        recipe = {"seed": STEPS["seed"], "ops": STEPS["ops"][:n]}
        image = pipeline.stylize(photo, recipe, registry=reg).image
        tiles.append((image, f"{n}. {STEPS['ops'][n - 1]['op']}"))
    labelled_grid(tiles, 4, (300, 260)).save(OUT / "steps.jpg", quality=88)


def filters_figure(reg: Registry) -> None:
    photo = Image.fromarray(data.coffee()).resize((300, 200), Image.Resampling.LANCZOS)
    tiles = [(photo, "original")]
    for name, op in reg.filters.items():
        if op.category in ("geometry", "tone", "artistic"):
            image = pipeline.stylize(photo, {"seed": 1, "ops": [{"op": name}]}, registry=reg).image
            tiles.append((image, name))
    labelled_grid(tiles, 6, (240, 170)).save(OUT / "filters.jpg", quality=88)


def elements_figure(reg: Registry) -> None:
    photo = Image.fromarray(data.chelsea()).resize((300, 200), Image.Resampling.LANCZOS)
    plain = Image.new("RGB", (200, 200), (250, 250, 248))
    tiles = []
    for kind in STICKERS:
        ops = [{"op": "sticker", "params": {"kind": kind, "scale": 0.8}}]
        tiles.append((pipeline.stylize(plain, {"ops": ops}, registry=reg).image, kind))
    for kind in STICKERS:
        ops = [{"op": "sticker", "params": {"kind": kind, "scale": 0.8, "rotation": 20,
                                            "tint": "#7e57c2", "tint_amount": 0.9}}]
        tiles.append((pipeline.stylize(plain, {"ops": ops}, registry=reg).image, f"{kind}, tinted"))
    for ops, caption in (
            ([{"op": "scatter", "params": {"kind": "mixed", "count": 14}}], "scatter (mixed)"),
            ([{"op": "scatter", "params": {"kind": "water_drop", "count": 18, "max_scale": 0.1}}],
             "scatter (drops)"),
            ([{"op": "caption", "params": {"text": "Caption", "size": 0.15}}], "caption"),
            ([{"op": "border", "params": {"width": 0.05, "line_width": 0.01}}], "border"),
    ) + tuple(([{"op": "frame", "params": {"style": style}}], f"frame: {style}")
              for style in ("polaroid", "gallery", "gold", "wood", "film", "rounded", "deckle")):
        tiles.append((pipeline.stylize(photo, {"seed": 2, "ops": ops}, registry=reg).image, caption))
    labelled_grid(tiles, 6, (240, 180)).save(OUT / "elements.jpg", quality=88)


def sticker_previews() -> None:
    STICKER_DIR.mkdir(parents=True, exist_ok=True)
    for kind, draw in STICKERS.items():
        canvas = vector.Canvas(*_transparent(256))
        canvas.draw(vector.render(draw(), (256, 256), (128, 128), 240))
        from plugins.stylize.base import join

        join(canvas.rgb, canvas.alpha).save(STICKER_DIR / f"{kind}.png", optimize=True)


def _transparent(size: int):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.zeros((size, size, 3), np.float32), np.zeros((size, size), np.float32)


def main() -> None:
    reg = registry()
    steps_figure(reg)
    filters_figure(reg)
    elements_figure(reg)
    sticker_previews()
    print("written:", *sorted(p.name for p in OUT.glob("*.jpg")), "and", STICKER_DIR)


if __name__ == "__main__":
    main()
