"""A complete, minimal third-party Impasto plugin (the README's example).

It needs nothing from Impasto at import time but the Param class; the entry point
in pyproject.toml (group ``impasto``) is what makes Impasto find it.
"""
import numpy as np
import pluggy
from PIL import Image

from core.params import Param

__version__ = "0.2.0"
hookimpl = pluggy.HookimplMarker("impasto")


class Invert:
    """Stylize operation: blend each pixel towards its negative."""

    name = "hello_invert"
    label = "Invert (hello plugin)"
    category = "tone"
    params = (Param("amount", "float", 1.0, min=0.0, max=1.0, help="0 keeps the image, 1 inverts it"),)

    def apply(self, image, params, rng):
        pixels = np.asarray(image).astype(np.float32)
        colour = pixels[..., :3]
        pixels[..., :3] = colour + (255.0 - 2.0 * colour) * params["amount"]
        return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), image.mode)


class FlatColour:
    """Generator: a flat image in a colour drawn from the seed (a toy backend)."""

    name = "hello_flat"
    label = "Flat colour (hello plugin)"
    params = (Param("size", "int", 64, min=8, max=512),)

    def generate(self, request, progress):
        rng = np.random.default_rng(request.seed)
        images = []
        for index in range(request.n):
            progress(index / request.n, f"image {index + 1}")
            colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
            images.append(Image.new("RGB", (request.params["size"],) * 2, colour))
        return images


@hookimpl
def register_filters(register):
    register(Invert())


@hookimpl
def register_generators(register):
    register(FlatColour())
