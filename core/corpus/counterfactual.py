"""Counterfactual captions for training: a corpus claim with one stated fact
changed ("a red circle" -> "two red circles", "a red square", "a green
circle"), written with the caption templates.

Trainers use them as negatives, so that a model learns what each word changes
in a picture rather than only to tell captions that differ everywhere apart.
Training only: generation never sees a claim.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from core.corpus.attributes import (COLOR_NAMES, SHAPE_KINDS, TERRAINS, TIMES, LandscapeClaim,
                                    ObjectClaim, ShapesClaim)
from core.corpus.captions import caption

OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _other(options: tuple[str, ...], current: str, rng: np.random.Generator) -> str:
    return str(rng.choice([o for o in options if o != current]))


Edit = Callable[[], "ShapesClaim | LandscapeClaim"]


def _shapes_edits(claim: ShapesClaim, rng: np.random.Generator) -> list[Edit]:
    """Candidate edits, each changing one fact; building one raises ValueError
    where the change breaks the corpus's rules (a shape in the background's colour)."""
    objs, kind = claim.objects, claim.caption_kind
    first = objs[0]
    recoloured = ObjectClaim(_other(COLOR_NAMES, first.color, rng), first.kind)
    reshaped = ObjectClaim(first.color, _other(SHAPE_KINDS, first.kind, rng))
    if kind == "single":
        count = int(rng.integers(2, 4))
        return [lambda: replace(claim, caption_kind="count", objects=(first,) * count),
                lambda: replace(claim, objects=(reshaped,)), lambda: replace(claim, objects=(recoloured,))]
    if kind == "count":
        return [lambda: replace(claim, caption_kind="single", objects=(first,)),
                lambda: replace(claim, objects=(first,) * (5 - len(objs))),      # 2 <-> 3
                lambda: replace(claim, objects=(reshaped,) * len(objs))]
    second = objs[1]
    edits = [lambda: replace(claim, objects=(reshaped, second)),
             lambda: replace(claim, objects=(recoloured, second))]
    if kind == "relation":
        edits.append(lambda: relation_swapped(claim))
    swapped = colours_swapped(claim)
    if swapped is not None:
        edits.append(lambda: swapped)
    return edits


def relation_swapped(claim: ShapesClaim) -> ShapesClaim:
    """A relation claim with its relation the other way round."""
    return replace(claim, relation=OPPOSITE[str(claim.relation)])


def colours_swapped(claim: ShapesClaim) -> ShapesClaim | None:
    """A claim of two objects with their colours exchanged, or None where that states
    the same thing: one colour for both, or two objects of one kind side by side (a red
    and a blue square swapped are the same two squares, unless placed)."""
    first, second = claim.objects
    if first.color == second.color or (claim.caption_kind != "relation" and first.kind == second.kind):
        return None
    return replace(claim, objects=(ObjectClaim(second.color, first.kind), ObjectClaim(first.color, second.kind)))


def _landscape_edits(claim: LandscapeClaim, rng: np.random.Generator) -> list[Edit]:
    water = None if claim.water else str(rng.choice(("sea", "lake")))
    return [lambda: replace(claim, time=_other(TIMES, claim.time, rng)),
            lambda: replace(claim, terrain=_other(TERRAINS, claim.terrain, rng)),
            lambda: replace(claim, water=water)]


def counterfactual(claim: ShapesClaim | LandscapeClaim,
                   rng: np.random.Generator) -> ShapesClaim | LandscapeClaim | None:
    """``claim`` with one stated fact changed at random (None in the rare case
    where every edit drawn breaks the corpus's rules)."""
    edit = _shapes_edits if isinstance(claim, ShapesClaim) else _landscape_edits
    candidates = edit(claim, rng)
    for index in rng.permutation(len(candidates)):
        try:
            return candidates[index]()
        except ValueError:      # e.g. the new colour is the background's, trees in a desert
            continue
    return None


def counterfactual_caption(claim: ShapesClaim | LandscapeClaim, rng: np.random.Generator) -> str | None:
    """The template caption of :func:`counterfactual` (None where it is None)."""
    changed = counterfactual(claim, rng)
    return None if changed is None else caption(changed, rng)
