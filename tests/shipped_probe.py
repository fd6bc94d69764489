"""The regression probe the shipped-weights tests of the trained backends share:
a few prompts, 4 images each at the native 64 px, every image scored by the
analytic checker. Each test decides which of the checker's answers it holds
its model to."""
from __future__ import annotations

from typing import Any

from core.corpus.attributes import LandscapeClaim
from core.hookspecs import GenerateRequest, no_progress

LANDSCAPES = {"a sunset over the mountains": LandscapeClaim("sunset", "mountains"),
              "green hills at night by a lake": LandscapeClaim("night", "hills", "lake"),
              "sand dunes on a sunny day": LandscapeClaim("day", "desert")}


def checked_images(generator: Any, claims: dict[str, Any], n: int = 4) -> list[tuple[Any, dict[str, bool]]]:
    """(claim, checker result) for each of ``n`` images per prompt, seed 0."""
    from core.checker import check

    results = []
    for prompt, claim in claims.items():
        images = generator.generate(GenerateRequest(prompt, n=n, seed=0, params={"size": 64}), no_progress)
        results += [(claim, check(image, claim)) for image in images]
    return results
