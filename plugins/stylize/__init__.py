"""Built-in Stylize operations: geometry, tone and colour, artistic filters,
and elements (stickers, scatter, captions, borders, frames).

Each operation is one object following ``core.hookspecs.Filter``; the recipe
language, the Stylize tab, ``python -m core stylize`` and the ``/stylize`` API
all reach them through ``register_filters``. Modules:

- ``geometry``   crop, rotate, flip, resize
- ``tone``       brightness, contrast, saturation, hue shift, temperature, gamma, auto-contrast
- ``palette``    recolor (used by core for palette styles) and pixel art
- ``looks``      grayscale, sepia, posterize, vignette, film grain, blur, sharpen
- ``painterly``  oil paint (Kuwahara), watercolour
- ``drawing``    pencil sketch, ink / comic, halftone
- ``elements``   sticker, scatter, caption  (drawings in ``stickers``, renderer in ``vector``)
- ``frames``     border, frame
"""
from __future__ import annotations

from core.hookspecs import hookimpl

from . import drawing, elements, frames, geometry, looks, painterly, palette, tone

__version__ = "1.0.0"

OPERATIONS = [*geometry.OPERATIONS, *tone.OPERATIONS, palette.recolor, *looks.OPERATIONS,
              painterly.oil_paint, painterly.watercolor, *drawing.OPERATIONS, palette.pixel_art,
              *elements.OPERATIONS, *frames.OPERATIONS]


@hookimpl
def register_filters(register):  # type: ignore[no-untyped-def]
    for operation in OPERATIONS:
        register(operation)
