"""Hand-written prompts outside the caption templates, held out from training.

The evaluator scores backends on these to see whether free-form wording lands
near the right place: other synonyms ("ruby", "pitch black", "summits"), other
structures ("dusk above the peaks", "a pair of golden balls on a dark
background"). Each carries the claim it makes; no corpus caption is identical
to any of them (asserted by the tests).
"""
from __future__ import annotations

from core.corpus.attributes import Claim, LandscapeClaim, ObjectClaim, ShapesClaim


def _one(color: str, kind: str, background: str | None = None) -> ShapesClaim:
    return ShapesClaim("single", (ObjectClaim(color, kind),), background)


def _count(n: int, color: str, kind: str, background: str | None = None) -> ShapesClaim:
    return ShapesClaim("count", (ObjectClaim(color, kind),) * n, background)


def _two(a: tuple[str, str], b: tuple[str, str], background: str | None = None) -> ShapesClaim:
    return ShapesClaim("two", (ObjectClaim(*a), ObjectClaim(*b)), background)


def _rel(a: tuple[str, str], relation: str, b: tuple[str, str], background: str | None = None) -> ShapesClaim:
    return ShapesClaim("relation", (ObjectClaim(*a), ObjectClaim(*b)), background, relation)


PARAPHRASES: list[tuple[str, Claim]] = [
    ("crimson ball on a navy backdrop", _one("red", "circle", "blue")),
    ("a lone emerald block sitting on a snow-white canvas", _one("green", "square", "white")),
    ("golden pyramid against pitch black", _one("yellow", "triangle", "black")),
    ("one violet disc, orange background", _one("purple", "circle", "orange")),
    ("a tangerine tile floating on purple", _one("orange", "square", "purple")),
    ("draw a scarlet triangle on a lemon-yellow backdrop", _one("red", "triangle", "yellow")),
    ("an azure circle in the middle of a red field", _one("blue", "circle", "red")),
    ("a small white square resting on green", _one("white", "square", "green")),
    ("jet black ball on white paper", _one("black", "circle", "white")),
    ("a lime-green triangle on an orange canvas", _one("green", "triangle", "orange")),
    ("just one cobalt triangle", _one("blue", "triangle")),
    ("a single ruby-red square", _one("red", "square")),
    ("a pair of golden balls on a dark background", _count(2, "yellow", "circle", "black")),
    ("three little blue boxes on a white backdrop", _count(3, "blue", "square", "white")),
    ("two violet pyramids", _count(2, "purple", "triangle")),
    ("trio of crimson squares on yellow", _count(3, "red", "square", "yellow")),
    ("a scarlet ball together with an azure box on white", _two(("red", "circle"), ("blue", "square"), "white")),
    ("an emerald pyramid beside a golden disc", _two(("green", "triangle"), ("yellow", "circle"))),
    ("one black square plus one orange circle, purple backdrop",
     _two(("black", "square"), ("orange", "circle"), "purple")),
    ("a crimson ball sitting left of a navy box", _rel(("red", "circle"), "left of", ("blue", "square"))),
    ("an orange pyramid on the right side of a white circle, black background",
     _rel(("orange", "triangle"), "right of", ("white", "circle"), "black")),
    ("green block placed higher than a purple ball", _rel(("green", "square"), "above", ("purple", "circle"))),
    ("a yellow disc underneath a red triangle on blue",
     _rel(("yellow", "circle"), "below", ("red", "triangle"), "blue")),
    ("dusk above the peaks", LandscapeClaim("sunset", "mountains")),
    ("rocky summits beneath the noon sun", LandscapeClaim("day", "mountains")),
    ("moonlight over rolling green meadows", LandscapeClaim("night", "hills")),
    ("sand dunes glowing in the evening twilight", LandscapeClaim("sunset", "desert")),
    ("a quiet ocean shore below dark hills at midnight", LandscapeClaim("night", "hills", "sea")),
    ("bright noon over a desert, ocean in front", LandscapeClaim("day", "desert", "sea")),
    ("a lake at the foot of the mountains at sundown", LandscapeClaim("sunset", "mountains", "lake")),
    ("starry sky above barren dunes", LandscapeClaim("night", "desert")),
    ("daylight on grassy slopes with a pond below", LandscapeClaim("day", "hills", "lake")),
    ("pine-covered hills in the setting sun", LandscapeClaim("sunset", "hills", trees=True)),
    ("clouds drifting over the peaks on a bright morning", LandscapeClaim("day", "mountains", clouds=True)),
    ("the sea beneath a desert moon", LandscapeClaim("night", "desert", "sea")),
]
