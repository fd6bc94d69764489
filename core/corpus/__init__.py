"""The procedural, captioned training corpus of the built-in generators.

Two families (DESIGN.md, "Training domain"): **shapes** and **landscapes**,
rendered natively at 64x64, deterministic by ``(seed, index)``, every sample
carrying its structured attributes.

- :mod:`core.corpus.attributes`  vocabulary, claims (what a caption says) and scenes
- :mod:`core.corpus.shapes`, :mod:`core.corpus.landscapes`  samplers and renderers
- :mod:`core.corpus.captions`  template captions and paraphrases
- :mod:`core.corpus.dataset`  ``make_sample``, ``render_claim``, ``CorpusDataset`` (torch)
- :mod:`core.corpus.preview`  ``write_grid(path, family, n, seed)``

Importing this package does not import torch; ``CorpusDataset`` and ``collate``
are imported from :mod:`core.corpus.dataset` on first use.
"""
from __future__ import annotations

from typing import Any

from core.corpus.attributes import (CATEGORIES, COLOR_NAMES, COLORS, FAMILIES, NATIVE_SIZE,
                                    RELATIONS, SHAPE_KINDS, TERRAINS, TIMES, WATERS, Claim,
                                    LandscapeClaim, LandscapeScene, ObjectClaim, PlacedShape,
                                    Scene, ShapesClaim, ShapesScene, claim_from_dict,
                                    scene_from_dict)
from core.corpus.captions import caption, paraphrase

__all__ = [
    "CATEGORIES", "COLOR_NAMES", "COLORS", "FAMILIES", "NATIVE_SIZE", "RELATIONS", "SHAPE_KINDS",
    "TERRAINS", "TIMES", "WATERS", "Claim", "LandscapeClaim", "LandscapeScene", "ObjectClaim",
    "PlacedShape", "Scene", "ShapesClaim", "ShapesScene", "claim_from_dict", "scene_from_dict",
    "caption", "paraphrase", "make_sample", "render", "render_claim", "random_claim", "scene_for",
    "Sample", "CorpusDataset", "collate", "image_to_tensor", "DATA_FAMILIES",
]

_DATASET_NAMES = {"make_sample", "render", "render_claim", "random_claim", "scene_for", "Sample",
                  "CorpusDataset", "collate", "image_to_tensor", "DATA_FAMILIES", "claim_of"}


def __getattr__(name: str) -> Any:
    if name in _DATASET_NAMES:   # imports torch: only when asked for
        from core.corpus import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'core.corpus' has no attribute {name!r}")
