"""Regenerate the style assets (run once; the results are committed):

    python -m plugins.style_transfer.build_assets [--only vectors|thumbnails|sheets]

- ``assets/styles/preset_vectors.json``: each of the 26 presets as a style vector.
  Preset k is the 26-style network's style k; its vector is the mean of the
  style-prediction network's vectors of that network's paintings of twelve
  calibration pictures from scikit-image. The calibration pictures are kept apart
  from the photos the recognition test uses (astronaut, cat, coffee, rocket,
  motorcycle), so that test measures generalisation, not memory.
- ``assets/styles/thumbnails/preset_NN.jpg``: each preset painted by the engine
  on scikit-image's cat photo (what the Transfer tab's gallery shows).
- ``assets/styles/style_images/*.jpg``: three procedurally painted style pictures.
- ``assets/styles/presets_sheet.jpg`` and ``style_images_sheet.jpg``: contact sheets.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core import onnx_models
from plugins.style_transfer import procedural_styles
from plugins.style_transfer.presets import THUMBNAIL_DIR, thumbnail_path

ASSETS = onnx_models.PRESET_VECTORS_PATH.parent
CALIBRATION = ("hubble_deep_field", "immunohistochemistry", "retina", "brick", "grass", "gravel",
               "camera", "coins", "page", "moon", "cell", "clock")
CALIBRATION_SIDE = 512      # the 26-style network looks right at 500-1000 px
# Magenta's transformer paints a vector more timidly than the 26-style network
# paints its own style, so each preset is pushed this far further away from the
# average unpainted photo's vector (judged by eye on held-out photos: 0.5 brings
# the bold presets 1, 7 and 17 close to their originals; 1.0 starts to add noise).
INTENSITY = 0.5
THUMB_SIDE = 160
SHEET_PHOTO = "astronaut"
STYLE_SHEET_PHOTO = "coffee"


def skimage_photo(name: str) -> Image.Image:
    from skimage import data

    pixels = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return Image.fromarray(pixels).convert("RGB")


def fit(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def multistyle(image: Image.Image, index: int) -> Image.Image:
    """The 26-style network's painting of ``image`` in style ``index``."""
    network = onnx_models.session(onnx_models.MULTISTYLE)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    height, width = pixels.shape[:2]
    pixels = np.pad(pixels, ((0, (-height) % 4), (0, (-width) % 4), (0, 0)), mode="reflect")
    weights = np.zeros(onnx_models.NUM_PRESETS, dtype=np.float32)
    weights[index] = 1.0
    out = network.run(None, {"image": np.ascontiguousarray(pixels.transpose(2, 0, 1)[None]),
                             "style_weights": weights})[0][0]
    out = out.transpose(1, 2, 0)[:height, :width]
    return Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))


def build_vectors() -> None:
    started = time.perf_counter()
    photos = [fit(skimage_photo(name), CALIBRATION_SIDE) for name in CALIBRATION]
    vectors = np.array([[onnx_models.style_vector(multistyle(photo, k)) for photo in photos]
                        for k in range(onnx_models.NUM_PRESETS)])
    photo_baseline = np.mean([onnx_models.style_vector(photo) for photo in photos], axis=0)
    presets = vectors.mean(1)
    presets = presets + INTENSITY * (presets - photo_baseline)
    spread = np.linalg.norm(vectors - vectors.mean(1, keepdims=True), axis=2).mean()
    document = {
        "about": "Impasto's 26 presets as Magenta style vectors: mean style-prediction vector of "
                 "the 26-style network's paintings of the calibration photos, pushed "
                 "`intensity` further from the photos' own mean vector "
                 "(plugins/style_transfer/build_assets.py).",
        "calibration": list(CALIBRATION), "calibration_side": CALIBRATION_SIDE,
        "intensity": INTENSITY,
        "mean_within_preset_spread": round(float(spread), 4),
        "vectors": [[round(float(x), 5) for x in row] for row in presets],
    }
    onnx_models.PRESET_VECTORS_PATH.write_text(json.dumps(document, indent=0))
    onnx_models.preset_vectors.cache_clear()
    print(f"preset vectors from {len(photos)} photos in {time.perf_counter() - started:.0f} s")


def engine_paint(image: Image.Image, presets=(), images=(), size: int = 512, strength: float = 1.0,
                 preserve_color: bool = False, stroke_scale: float = 1.0) -> Image.Image:
    from core import pipeline
    from core.registry import get_registry

    blend = pipeline.make_blend(list(presets), list(images))
    return pipeline.transfer(image, blend, max_size=size, strength=strength,
                             preserve_color=preserve_color, params={"stroke_scale": stroke_scale},
                             registry=get_registry()).image


def build_thumbnails() -> None:
    THUMBNAIL_DIR.mkdir(parents=True, exist_ok=True)
    cat = skimage_photo("chelsea")
    side = min(cat.size)
    left = (cat.width - side) // 2
    for k in range(onnx_models.NUM_PRESETS):
        painted = engine_paint(cat, presets=[(k, 1.0)], size=max(cat.size))
        square = painted.crop((left, 0, left + side, side)).resize((THUMB_SIDE, THUMB_SIDE),
                                                                    Image.Resampling.LANCZOS)
        square.save(thumbnail_path(k), quality=86, optimize=True)
    print(f"thumbnails in {THUMBNAIL_DIR}")


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _sheet(tiles: list[tuple[str, Image.Image]], columns: int, tile: int) -> Image.Image:
    """Tiles fitted into ``tile``×``tile`` boxes; each row as tall as its tallest tile."""
    pad, label = 6, 22
    shown = [(caption, fit(image, tile)) for caption, image in tiles]
    rows = [shown[i:i + columns] for i in range(0, len(shown), columns)]
    heights = [max(im.height for _, im in row) + label + pad for row in rows]
    sheet = Image.new("RGB", (columns * (tile + pad) + pad, sum(heights) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    y = pad
    for row, height in zip(rows, heights):
        for col, (caption, image) in enumerate(row):
            x = pad + col * (tile + pad)
            sheet.paste(image, (x + (tile - image.width) // 2, y + label))
            draw.text((x + 2, y + 3), caption, fill="black", font=_font(15))
        y += height
    return sheet


def build_sheets() -> None:
    photo = fit(skimage_photo(SHEET_PHOTO), 512)
    tiles = [("original", photo)] + [(f"preset {k}", engine_paint(photo, presets=[(k, 1.0)]))
                                     for k in range(onnx_models.NUM_PRESETS)]
    tiles.append(("blend 3:0.5,19:0.5", engine_paint(photo, presets=[(3, 0.5), (19, 0.5)])))
    _sheet(tiles, columns=7, tile=220).save(ASSETS / "presets_sheet.jpg", quality=82, optimize=True)

    style_dir = ASSETS / "style_images"
    style_dir.mkdir(parents=True, exist_ok=True)
    content = skimage_photo(STYLE_SHEET_PHOTO)
    styles = procedural_styles.all_styles(384)
    tiles = [("content: scikit-image coffee", content)]
    for name, style in styles.items():
        style.save(style_dir / f"{name}.jpg", quality=88, optimize=True)
        tiles.append((f"style image: {name}", style))
    for name, style in styles.items():
        tiles.append((f"-> {name}", engine_paint(content, images=[(style, 1.0)], size=600)))
    swirls, glass, cubist = styles["swirls"], styles["stained_glass"], styles["cubist"]
    tiles.append(("-> swirls 0.5 + preset 19 0.5",
                  engine_paint(content, presets=[(19, 0.5)], images=[(swirls, 0.5)], size=600)))
    tiles.append(("-> stained_glass, strength 0.5",
                  engine_paint(content, images=[(glass, 1.0)], size=600, strength=0.5)))
    tiles.append(("-> stained_glass, preserve colours",
                  engine_paint(content, images=[(glass, 1.0)], size=600, preserve_color=True)))
    tiles.append(("-> cubist, stroke size 2",
                  engine_paint(content, images=[(cubist, 1.0)], size=600, stroke_scale=2.0)))
    tiles.append(("-> stained_glass 0.5 + cubist 0.5",
                  engine_paint(content, images=[(glass, 0.5), (cubist, 0.5)], size=600)))
    _sheet(tiles, columns=4, tile=300).save(ASSETS / "style_images_sheet.jpg", quality=82, optimize=True)
    print(f"contact sheets in {ASSETS}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("vectors", "thumbnails", "sheets"))
    args = parser.parse_args(argv)
    ASSETS.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "vectors"):
        build_vectors()
    if args.only in (None, "thumbnails"):
        build_thumbnails()
    if args.only in (None, "sheets"):
        build_sheets()


if __name__ == "__main__":
    main()
