"""Style specifications, as typed in the CLI, the API and saved settings.

``preset:7``, ``preset:3:0.5,12:0.5`` (weighted blend), ``image:PATH`` and
``palette:#e53935,#1e88e5``; ``none`` or an empty string for no style.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.errors import UserError
from core.params import parse_hex_color

MAX_BLEND_ITEMS = 8


@dataclass
class StyleChoice:
    kind: str                                   # "none", "preset", "image" or "palette"
    presets: list[tuple[int, float]] = field(default_factory=list)
    image_path: str | None = None
    palette: list[str] = field(default_factory=list)


def check_weights(weights: list[float], what: str = "blend weights") -> list[float]:
    """Weights must be finite and positive; returns them normalised to sum 1."""
    clean = []
    for weight in weights:
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise UserError(f"{what}: {weight!r} is not a number") from None
        if not math.isfinite(value):
            raise UserError(f"{what}: {weight!r} is not a finite number")
        if value <= 0:
            raise UserError(f"{what} must be positive, got {value:g}")
        clean.append(value)
    if not clean:
        raise UserError(f"{what}: nothing to blend")
    total = sum(clean)
    return [value / total for value in clean]


def parse_presets(text: str) -> list[tuple[int, float]]:
    """``7`` -> [(7, 1.0)]; ``3:0.5,12:0.5`` -> [(3, 0.5), (12, 0.5)]."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise UserError("preset: give a preset number such as 7, or a blend such as 3:0.5,12:0.5")
    if len(items) > MAX_BLEND_ITEMS:
        raise UserError(f"preset: at most {MAX_BLEND_ITEMS} presets can be blended")
    indices, weights = [], []
    for item in items:
        index_text, _, weight_text = item.partition(":")
        try:
            index = int(index_text)
        except ValueError:
            raise UserError(f"preset: {index_text!r} is not a preset number") from None
        if index < 0:
            raise UserError(f"preset: {index} is not a preset number")
        indices.append(index)
        weights.append(weight_text if weight_text else 1.0)
    return list(zip(indices, check_weights(weights, "preset weights")))


def parse_style_spec(spec: str | None) -> StyleChoice:
    text = (spec or "").strip()
    if text.lower() in ("", "none"):
        return StyleChoice("none")
    kind, sep, value = text.partition(":")
    kind = kind.lower()
    if not sep or not value.strip():
        raise UserError(f"style {text[:60]!r}: use preset:N, preset:A:w,B:w, image:PATH or palette:#hex,#hex")
    if kind == "preset":
        return StyleChoice("preset", presets=parse_presets(value))
    if kind == "image":
        return StyleChoice("image", image_path=value.strip())
    if kind == "palette":
        colors = [parse_hex_color(c, "palette") for c in value.split(",") if c.strip()]
        if not 1 <= len(colors) <= 64:
            raise UserError("palette: give between 1 and 64 #rrggbb colours")
        return StyleChoice("palette", palette=colors)
    raise UserError(f"style kind {kind!r} is unknown; use preset, image or palette")
