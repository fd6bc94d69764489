"""Captions: a claim in words, from the templates of DESIGN.md or paraphrased.

``caption(claim, rng)`` writes the canonical template; ``paraphrase(claim, rng)``
the same facts with synonyms ("crimson" for red, "ball" for circle, "backdrop"),
other word orders and other counting words, so that free-form prompts land near
the right place in the text encoder's space. Both are total functions of the
claim and the rng: the facts never change, only the words.
"""
from __future__ import annotations

import numpy as np

from core.corpus.attributes import LandscapeClaim, ObjectClaim, ShapesClaim

# --------------------------------------------------------------------------- words

COLOR_SYNONYMS: dict[str, tuple[str, ...]] = {
    "red": ("crimson", "scarlet", "cherry red"),
    "orange": ("tangerine", "amber", "bright orange"),
    "yellow": ("golden", "lemon", "sunny yellow"),
    "green": ("emerald", "grass green", "leafy green"),
    "blue": ("azure", "cobalt", "navy"),
    "purple": ("violet", "plum", "lilac"),
    "white": ("snowy", "ivory", "pale white"),
    "black": ("jet black", "charcoal", "dark"),
}
SHAPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("ball", "disc", "dot", "round shape"),
    "square": ("box", "block", "tile", "square shape"),
    "triangle": ("pyramid", "wedge", "triangular shape", "upright triangle"),
}
_PLURALS = {"box": "boxes", "round shape": "round shapes"}
BACKGROUND_WORDS = ("backdrop", "canvas", "field", "ground")
RELATION_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "left of": ("on the left of", "left of", "just left of"),
    "right of": ("on the right of", "right of", "just right of"),
    "above": ("over", "on top of", "higher than"),
    "below": ("under", "beneath", "lower than"),
}
COUNT_WORDS = {2: ("two",), 3: ("three",)}
COUNT_PARAPHRASES = {2: ("2", "a pair of", "a couple of"), 3: ("3", "a trio of", "a group of three")}

TIME_PHRASES: dict[str, tuple[str, ...]] = {
    "day": ("on a sunny day", "in the daytime", "on a clear day", "under a blue sky"),
    "sunset": ("at sunset", "at sundown", "in the evening"),
    "night": ("at night", "at night with a full moon", "under the stars", "by moonlight"),
}
TIME_OVER: dict[str, tuple[str, ...]] = {   # "a sunset over the mountains"
    "day": ("a sunny day over", "a bright day over"),
    "sunset": ("a sunset over",),
    "night": ("a starry night over", "a night sky over"),
}
TERRAIN_WORDS: dict[str, tuple[str, ...]] = {
    "mountains": ("mountains", "the mountains"),
    "hills": ("green hills", "hills", "rolling hills"),
    "desert": ("a desert", "the desert", "sand dunes"),
}
WATER_PHRASES = {"sea": ("by the sea",), "lake": ("by a lake", "with a lake")}

# paraphrase vocabulary for landscapes
TIME_ADJECTIVES = {"day": ("sunlit", "sunny", "bright"), "sunset": ("dusky", "twilight", "golden-hour"),
                   "night": ("moonlit", "starlit", "nighttime")}
SKY_PHRASES = {"day": ("under a bright blue sky", "in broad daylight"),
               "sunset": ("under an orange evening sky", "at dusk", "as the sun goes down"),
               "night": ("under a dark starry sky", "in the dead of night")}
TERRAIN_PARAPHRASES = {"mountains": ("peaks", "rocky peaks", "a mountain range"),
                       "hills": ("grassy hills", "green slopes", "a hilly meadow"),
                       "desert": ("dunes", "desert sands", "a sandy desert")}
TERRAIN_NOUNS = {"mountains": ("peaks", "mountains", "cliffs"), "hills": ("hills", "slopes", "meadows"),
                 "desert": ("dunes", "desert", "sands")}
WATER_PARAPHRASES = {"sea": ("beside the ocean", "by the ocean", "at the seaside"),
                     "lake": ("beside a lake", "next to a lake", "by a pond")}
TREES_PARAPHRASES = ("a few trees", "some pine trees", "scattered trees")
CLOUDS_PARAPHRASES = ("some clouds", "drifting clouds", "a few clouds")


def article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def plural(noun: str) -> str:
    return _PLURALS.get(noun, noun + "s")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return str(options[int(rng.integers(len(options)))])


# --------------------------------------------------------------------------- dispatch


def caption(claim: ShapesClaim | LandscapeClaim, rng: np.random.Generator) -> str:
    """The canonical template caption of ``claim``."""
    if isinstance(claim, ShapesClaim):
        return _shapes_caption(claim, rng)
    return _landscape_caption(claim, rng)


def paraphrase(claim: ShapesClaim | LandscapeClaim, rng: np.random.Generator) -> str:
    """The same facts in other words."""
    if isinstance(claim, ShapesClaim):
        return _shapes_paraphrase(claim, rng)
    return _landscape_paraphrase(claim, rng)


# --------------------------------------------------------------------------- shapes


def _shapes_caption(claim: ShapesClaim, rng: np.random.Generator) -> str:
    objs = claim.objects
    if claim.caption_kind == "single":
        text = article(f"{objs[0].color} {objs[0].kind}")
    elif claim.caption_kind == "count":
        text = f"{COUNT_WORDS[len(objs)][0]} {objs[0].color} {plural(objs[0].kind)}"
    elif claim.caption_kind == "two":
        text = f"{article(_obj(objs[0]))} and {article(_obj(objs[1]))}"
    else:
        text = f"{article(_obj(objs[0]))} {_relation_words(claim.relation)} {article(_obj(objs[1]))}"
    if claim.background:
        text += f" on {article(claim.background)} background"
    return text


def _obj(obj: ObjectClaim) -> str:
    return f"{obj.color} {obj.kind}"


def _relation_words(relation: str | None) -> str:
    return {"left of": "to the left of", "right of": "to the right of"}.get(relation or "", relation or "")


def _shapes_paraphrase(claim: ShapesClaim, rng: np.random.Generator) -> str:
    def color(name: str) -> str:
        return _pick(rng, (name,) + COLOR_SYNONYMS[name])

    def shape(kind: str) -> str:
        return _pick(rng, (kind,) + SHAPE_SYNONYMS[kind])

    def obj(o: ObjectClaim) -> str:
        return article(f"{color(o.color)} {shape(o.kind)}")

    objs = claim.objects
    if claim.caption_kind == "single":
        body = obj(objs[0]) if rng.random() < 0.6 else \
            f"one {color(objs[0].color)} {shape(objs[0].kind)}"
    elif claim.caption_kind == "count":
        body = f"{_pick(rng, COUNT_PARAPHRASES[len(objs)])} {color(objs[0].color)} {plural(shape(objs[0].kind))}"
    elif claim.caption_kind == "two":
        first, second = obj(objs[0]), obj(objs[1])
        body = f"{first} and {second}" if rng.random() < 0.5 else f"{first} next to {second}"
    else:
        body = f"{obj(objs[0])} {_pick(rng, RELATION_PARAPHRASES[claim.relation or ''])} {obj(objs[1])}"
    if not claim.background:
        return body
    ground = f"{color(claim.background)} {_pick(rng, ('background',) + BACKGROUND_WORDS)}"
    form = int(rng.integers(3))
    if form == 0:
        return f"{body} on {article(ground)}"
    if form == 1:
        return f"{body} against {article(ground)}"
    return f"on {article(ground)}, {body}"


# --------------------------------------------------------------------------- landscapes


def _extras(claim: LandscapeClaim, rng: np.random.Generator, trees: tuple[str, ...],
            clouds: tuple[str, ...]) -> list[str]:
    items = []
    if claim.trees:
        items.append(_pick(rng, trees))
    if claim.clouds:
        items.append(_pick(rng, clouds))
    rng.shuffle(items)
    return items


def _landscape_caption(claim: LandscapeClaim, rng: np.random.Generator) -> str:
    terrain = _pick(rng, TERRAIN_WORDS[claim.terrain])
    if rng.random() < 0.5:
        time_phrase = _pick(rng, TIME_PHRASES[claim.time])
        text = f"{terrain} {time_phrase}"
    else:
        time_phrase = ""
        text = f"{_pick(rng, TIME_OVER[claim.time])} {terrain}"
    extras = _extras(claim, rng, ("trees",), ("clouds",))
    if extras:
        joiner = " and " if " with " in time_phrase else " with "
        text += joiner + " and ".join(extras)
    if claim.water:
        text += " " + _pick(rng, WATER_PHRASES[claim.water])
    return text


def _landscape_paraphrase(claim: LandscapeClaim, rng: np.random.Generator) -> str:
    terrain = _pick(rng, TERRAIN_PARAPHRASES[claim.terrain])
    form = int(rng.integers(3))
    if form == 0:
        text = f"{_pick(rng, TIME_ADJECTIVES[claim.time])} {_pick(rng, TERRAIN_NOUNS[claim.terrain])}"
    elif form == 1:
        text = f"{terrain} {_pick(rng, SKY_PHRASES[claim.time])}"
    else:
        text = f"a view of {terrain} {_pick(rng, TIME_PHRASES[claim.time] + SKY_PHRASES[claim.time])}"
    extras = _extras(claim, rng, TREES_PARAPHRASES, CLOUDS_PARAPHRASES)
    if extras:
        text += ", with " + " and ".join(extras)
    if claim.water:
        text += " " + _pick(rng, WATER_PARAPHRASES[claim.water])
    return text
