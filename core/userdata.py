"""A person's own captioned images as training data (``--data PATH``).

Two conventions are read, as Hugging Face's ImageFolder does:

- ``metadata.jsonl`` (one ``{"file_name": ..., "text": ...}`` per line) or
  ``metadata.csv`` (columns ``file_name`` and ``text``) in the folder;
- otherwise a sidecar caption per image: ``cat.png`` + ``cat.txt``.

Every image goes through :func:`core.images.load_image`. A file that cannot be
used (damaged, not an image, no caption, listed but missing) is skipped and
reported with its reason; training goes on with the rest. Images are centre-
cropped to a square and resized to the training resolution once, up front.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.corpus.dataset import BlockStream, image_to_tensor
from core.errors import ImageInputError, UserError
from core.images import load_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
MAX_IMAGES = 50_000
MAX_CAPTION_CHARS = 500
METADATA_FILES = ("metadata.jsonl", "metadata.csv")


@dataclass
class ImageFolder:
    """The usable images of a folder (at the training resolution) and what was skipped."""

    root: Path
    images: list[Image.Image] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def skip(self, file: str, reason: str) -> None:
        self.skipped.append({"file": file, "reason": reason})


def read_image_folder(path: str | Path, resolution: int = 64) -> ImageFolder:
    """Read every captioned image under ``path``; raise UserError if none is usable."""
    root = Path(path)
    if not root.is_dir():
        raise UserError(f"--data {path}: not a folder (use a folder of images, or "
                        "procedural:shapes / procedural:landscapes / procedural:all)")
    folder = ImageFolder(root.resolve())
    captions = _read_captions(folder)
    images = sorted(p for p in folder.root.rglob("*")
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for image_path in images[:MAX_IMAGES]:
        name = image_path.relative_to(folder.root).as_posix()
        text = captions.pop(name, None) if captions is not None else _sidecar(image_path)
        if text is None:
            folder.skip(name, "no caption" + (" (not listed in the metadata file)"
                                              if captions is not None else f" ({image_path.stem}.txt is missing)"))
            continue
        text = " ".join(text.split())[:MAX_CAPTION_CHARS]
        if not text:
            folder.skip(name, "empty caption")
            continue
        try:
            image = load_image(image_path, what=name)
        except ImageInputError as exc:
            folder.skip(name, str(exc).removeprefix(f"{name}: "))
            continue
        folder.images.append(square(image, resolution))
        folder.captions.append(text)
        folder.files.append(name)
    if len(images) > MAX_IMAGES:
        folder.skip(f"({len(images) - MAX_IMAGES} more)", f"only the first {MAX_IMAGES} images are used")
    for name in sorted(captions or {}):
        folder.skip(name, "listed in the metadata file but not found")
    if not folder.images:
        reasons = "; ".join(f"{s['file']}: {s['reason']}" for s in folder.skipped[:5])
        raise UserError(f"--data {path}: no usable captioned image found"
                        + (f" ({len(folder.skipped)} skipped: {reasons})" if folder.skipped else
                           " (the folder holds no PNG/JPEG/GIF/WEBP/BMP/TIFF images)"))
    return folder


def square(image: Image.Image, resolution: int) -> Image.Image:
    """Centre-crop to a square and resize to ``resolution`` px."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((resolution, resolution),
                                                                   Image.LANCZOS)


def _sidecar(image_path: Path) -> str | None:
    text_path = image_path.with_suffix(".txt")
    if not text_path.is_file():
        return None
    try:
        return text_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_captions(folder: ImageFolder) -> dict[str, str] | None:
    """file_name -> text from the metadata file, or None when the folder has none."""
    jsonl, table = (folder.root / name for name in METADATA_FILES)
    if jsonl.is_file():
        rows = []
        for number, line in enumerate(jsonl.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
                rows.append(row)
            except ValueError as exc:
                folder.skip(f"metadata.jsonl line {number}", f"not valid JSON ({str(exc)[:80]})")
        return _rows_to_captions(folder, rows, "metadata.jsonl")
    if table.is_file():
        with table.open(encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "file_name" not in reader.fieldnames or "text" not in reader.fieldnames:
                raise UserError(f"{table}: needs the columns file_name and text")
            return _rows_to_captions(folder, list(reader), "metadata.csv")
    return None


def _rows_to_captions(folder: ImageFolder, rows: list[dict[str, Any]], source: str) -> dict[str, str]:
    captions: dict[str, str] = {}
    for number, row in enumerate(rows, 1):
        name, text = row.get("file_name"), row.get("text")
        if not isinstance(name, str) or not name.strip():
            folder.skip(f"{source} row {number}", "no file_name")
            continue
        target = (folder.root / name).resolve()
        if folder.root not in target.parents:
            folder.skip(name, "file_name points outside the data folder")
            continue
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        captions[target.relative_to(folder.root).as_posix()] = text
    return captions


class UserImageDataset(BlockStream):
    """An endless stream over an :class:`ImageFolder`: each epoch is a fresh
    permutation fixed by ``(seed, epoch)``, dealt out in blocks like the corpus."""

    def __init__(self, folder: ImageFolder, seed: int = 0, block_size: int = 1,
                 start_block: int = 0, shard: int = 0, num_shards: int = 1) -> None:
        super().__init__(block_size, start_block, shard, num_shards)
        self.folder, self.seed = folder, seed
        self._order: tuple[int, np.ndarray] | None = None

    def item(self, index: int) -> dict[str, Any]:
        count = len(self.folder)
        epoch, position = divmod(index, count)
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(count))
        chosen = int(self._order[1][position])
        return {"image": image_to_tensor(self.folder.images[chosen]),
                "caption": self.folder.captions[chosen], "attributes": None, "index": index}
