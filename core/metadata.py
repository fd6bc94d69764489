"""Settings carried inside PNG files, so a picture can be reproduced from itself.

The settings go into one ``impasto`` text chunk as JSON (prompt, backend and
model version, seed, style, recipe, Impasto version). Reading them back is the
one place Impasto looks at a file's metadata; analysis never does.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from core import __version__
from core.errors import UserError

CHUNK = "impasto"
MAX_CHUNK_BYTES = 64 * 1024


def save_png(image: Image.Image, path: str | Path, settings: dict[str, Any]) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text(CHUNK, json.dumps(dict(settings, impasto_version=__version__), default=str))
    image.save(path, format="PNG", pnginfo=info)


def read_settings(path: str | Path) -> dict[str, Any]:
    """The settings stored by :func:`save_png`; a UserError if there are none."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with Image.open(path, formats=("PNG",)) as image:
            text = image.text.get(CHUNK) if hasattr(image, "text") else None
    except Exception:  # noqa: BLE001 - any unreadable file is the same user error
        raise UserError(f"{path.name} is not a PNG saved by Impasto") from None
    if not text:
        raise UserError(f"{path.name} carries no Impasto settings")
    if len(text) > MAX_CHUNK_BYTES:
        raise UserError(f"{path.name}: the stored settings are too large")
    try:
        settings = json.loads(text)
    except json.JSONDecodeError:
        raise UserError(f"{path.name}: the stored settings are damaged") from None
    if not isinstance(settings, dict) or "prompt" not in settings or "backend" not in settings:
        raise UserError(f"{path.name}: the stored settings are incomplete")
    return settings
