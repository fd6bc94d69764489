"""Auxiliary attribute targets for training on the procedural corpus: what a
corpus picture shows, or what its caption claims, as classification targets.

The VAE can read them from its text conditioning vector (``attribute_weight``),
so the prompt's colours and kinds are in that vector early: a direct signal for
which colour goes where, which the image losses alone convey slowly. The scene
view (what a picture shows) served an AC-GAN head (Odena et al. 2017) of the
earlier pixel GAN and stays for heads that read pictures.

Training only: generation never sees attributes, only the prompt's text. For
pictures without attributes (a user's folder) the heads are simply not trained.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from core.corpus.attributes import COLOR_NAMES, SHAPE_KINDS, TERRAINS, TIMES

WATER_CLASSES = (None, "sea", "lake")
# name -> (size, kind): "class" is one of size, "multi" is a set (several may be on)
HEADS: dict[str, tuple[int, str]] = {
    "background": (len(COLOR_NAMES), "class"),
    "colours": (len(COLOR_NAMES), "multi"),
    "kinds": (len(SHAPE_KINDS), "multi"),
    "count": (3, "class"),
    "time": (len(TIMES), "class"),
    "terrain": (len(TERRAINS), "class"),
    "water": (len(WATER_CLASSES), "class"),
}
ATTRIBUTE_DIM = sum(size for size, _ in HEADS.values())
IGNORE = -100


def targets(attributes: list[dict[str, Any]], from_claim: bool) -> dict[str, torch.Tensor]:
    """Targets per head for a batch of corpus ``attributes`` (scene dicts):
    what the picture shows (``from_claim=False``) or what its caption claims."""
    rows: dict[str, list] = {name: [] for name in HEADS}
    for scene in attributes:
        claim = scene["claim"]
        shapes = claim["family"] == "shapes"
        objects = scene["shapes"] if shapes and not from_claim else claim.get("objects", [])
        background = (claim["background"] if from_claim else scene["background"]) if shapes else None
        rows["background"].append(COLOR_NAMES.index(background) if background else IGNORE)
        rows["colours"].append([float(any(o["color"] == c for o in objects)) if shapes else -1.0
                                for c in COLOR_NAMES])
        rows["kinds"].append([float(any(o["kind"] == k for o in objects)) if shapes else -1.0
                              for k in SHAPE_KINDS])
        rows["count"].append(len(objects) - 1 if shapes else IGNORE)
        rows["time"].append(IGNORE if shapes else TIMES.index(claim["time"]))
        rows["terrain"].append(IGNORE if shapes else TERRAINS.index(claim["terrain"]))
        rows["water"].append(IGNORE if shapes else WATER_CLASSES.index(claim.get("water")))
    return {name: torch.tensor(values, dtype=torch.float32 if HEADS[name][1] == "multi" else torch.long)
            for name, values in rows.items()}


def attribute_loss(logits: torch.Tensor, target: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over heads of cross-entropy (one class) or binary cross-entropy (sets);
    rows a head does not apply to (-100 / -1 targets) are left out."""
    total = logits.new_zeros(())
    start = 0
    for name, (size, kind) in HEADS.items():
        part, wanted = logits[:, start:start + size], target[name].to(logits.device)
        start += size
        if kind == "class":
            if (wanted != IGNORE).any():
                total = total + F.cross_entropy(part, wanted, ignore_index=IGNORE)
        else:
            rows = wanted[:, 0] >= 0
            if rows.any():
                total = total + F.binary_cross_entropy_with_logits(part[rows], wanted[rows])
    return total
