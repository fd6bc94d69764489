"""The vocabulary and the structured attributes of the procedural corpus.

Two layers, kept apart on purpose:

- a *claim* (:class:`ShapesClaim`, :class:`LandscapeClaim`) is what a caption
  promises: colours, kinds, counts, a relation, a time of day ... It is all the
  analytic checker needs to score an image, and all a caption is written from;
- a *scene* (:class:`ShapesScene`, :class:`LandscapeScene`) is one concrete
  picture of a claim: positions, sizes, colour jitter, the seed of the details.
  The renderers draw scenes; every corpus sample carries its scene.

Everything here is plain data: frozen dataclasses with ``to_dict`` /
``from_dict`` so attributes travel through JSON, DataLoader workers and tests.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Union

# --------------------------------------------------------------------------- vocabulary

#: the eight colours of DESIGN.md (sRGB), used for shapes and backgrounds
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (0xE5, 0x39, 0x35),
    "orange": (0xFB, 0x8C, 0x00),
    "yellow": (0xFD, 0xD8, 0x35),
    "green": (0x43, 0xA0, 0x47),
    "blue": (0x1E, 0x88, 0xE5),
    "purple": (0x8E, 0x24, 0xAA),
    "white": (0xFA, 0xFA, 0xFA),
    "black": (0x21, 0x21, 0x21),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
SHAPE_KINDS: tuple[str, ...] = ("circle", "square", "triangle")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
#: what the caption of a shapes scene is about (one template each)
SHAPE_CAPTION_KINDS: tuple[str, ...] = ("single", "count", "two", "relation")

MIN_SHAPE_SIZE, MAX_SHAPE_SIZE = 14, 24     # px across, at 64x64
RELATION_MARGIN = 8                         # px between centroids along the named axis

TIMES: tuple[str, ...] = ("day", "sunset", "night")
TERRAINS: tuple[str, ...] = ("mountains", "hills", "desert")
WATERS: tuple[str, ...] = ("sea", "lake")

FAMILIES: tuple[str, ...] = ("shapes", "landscapes")
NATIVE_SIZE = 64                            # the corpus is rendered natively at 64x64

#: checker categories per family, in report order
SHAPE_CATEGORIES: tuple[str, ...] = ("single_object", "colour", "background", "counting",
                                     "two_objects", "position")
LANDSCAPE_CATEGORIES: tuple[str, ...] = ("time_of_day", "terrain", "water")
CATEGORIES: dict[str, tuple[str, ...]] = {"shapes": SHAPE_CATEGORIES,
                                          "landscapes": LANDSCAPE_CATEGORIES}


# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class ObjectClaim:
    """One shape a caption names."""

    color: str
    kind: str

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise ValueError(f"unknown colour {self.color!r}")
        if self.kind not in SHAPE_KINDS:
            raise ValueError(f"unknown shape {self.kind!r}")


@dataclass(frozen=True)
class ShapesClaim:
    """What a shapes caption promises.

    ``caption_kind`` picks the template: ``single`` (one object), ``count`` (2 or 3
    copies of one object), ``two`` (two different objects), ``relation`` (objects[0]
    stands ``relation`` objects[1]). ``background`` is None when the caption does not
    name one (any background is then right).
    """

    caption_kind: str
    objects: tuple[ObjectClaim, ...]
    background: str | None = None
    relation: str | None = None

    family = "shapes"

    def __post_init__(self) -> None:
        n = len(self.objects)
        kind = self.caption_kind
        if kind not in SHAPE_CAPTION_KINDS:
            raise ValueError(f"unknown caption kind {kind!r}")
        if kind == "single" and n != 1:
            raise ValueError("a single-object claim names one object")
        if kind == "count" and (n not in (2, 3) or len(set(self.objects)) != 1):
            raise ValueError("a count claim names 2 or 3 copies of one object")
        if kind in ("two", "relation") and (n != 2 or self.objects[0] == self.objects[1]):
            raise ValueError("a two-object claim names two different objects")
        if (kind == "relation") != (self.relation is not None):
            raise ValueError("a relation is given exactly for relation claims")
        if self.relation is not None and self.relation not in RELATIONS:
            raise ValueError(f"unknown relation {self.relation!r}")
        if self.background is not None:
            if self.background not in COLORS:
                raise ValueError(f"unknown background {self.background!r}")
            if any(o.color == self.background for o in self.objects):
                raise ValueError("a shape never has the background's colour")

    @property
    def categories(self) -> tuple[str, ...]:
        """The checker categories this claim is scored on."""
        main = {"single": "single_object", "count": "counting", "two": "two_objects",
                "relation": "position"}[self.caption_kind]
        extra = ("background",) if self.background is not None else ()
        return (main, "colour") + extra

    def to_dict(self) -> dict[str, Any]:
        return {"family": "shapes", "caption_kind": self.caption_kind,
                "objects": [asdict(o) for o in self.objects],
                "background": self.background, "relation": self.relation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapesClaim":
        return cls(data["caption_kind"], tuple(ObjectClaim(**o) for o in data["objects"]),
                   data.get("background"), data.get("relation"))


@dataclass(frozen=True)
class PlacedShape:
    """One drawn shape: ``cx, cy`` is the area centroid and ``size`` the width in
    px at 64x64; ``rgb`` the jittered colour actually drawn."""

    color: str
    kind: str
    cx: float
    cy: float
    size: float
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class ShapesScene:
    claim: ShapesClaim
    background: str                      # always set, named or not
    background_rgb: tuple[int, int, int]
    shapes: tuple[PlacedShape, ...]

    family = "shapes"

    def to_dict(self) -> dict[str, Any]:
        return {"family": "shapes", "claim": self.claim.to_dict(), "background": self.background,
                "background_rgb": list(self.background_rgb),
                "shapes": [asdict(s) for s in self.shapes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapesScene":
        shapes = tuple(PlacedShape(**{**s, "rgb": tuple(s["rgb"])}) for s in data["shapes"])
        return cls(ShapesClaim.from_dict(data["claim"]), data["background"],
                   tuple(data["background_rgb"]), shapes)


# --------------------------------------------------------------------------- landscapes


@dataclass(frozen=True)
class LandscapeClaim:
    """What a landscape caption promises. Optional elements not named are absent."""

    time: str
    terrain: str
    water: str | None = None             # "sea", "lake" or None
    trees: bool = False
    clouds: bool = False

    family = "landscapes"

    def __post_init__(self) -> None:
        if self.time not in TIMES:
            raise ValueError(f"unknown time of day {self.time!r}")
        if self.terrain not in TERRAINS:
            raise ValueError(f"unknown terrain {self.terrain!r}")
        if self.water is not None and self.water not in WATERS:
            raise ValueError(f"unknown water {self.water!r}")
        if self.trees and self.terrain == "desert":
            raise ValueError("the corpus grows no trees in the desert")

    @property
    def categories(self) -> tuple[str, ...]:
        return LANDSCAPE_CATEGORIES

    def to_dict(self) -> dict[str, Any]:
        return {"family": "landscapes", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LandscapeClaim":
        return cls(data["time"], data["terrain"], data.get("water"), bool(data.get("trees")),
                   bool(data.get("clouds")))


@dataclass(frozen=True)
class LandscapeScene:
    """One landscape: the claim plus the layout the renderer draws.

    Heights are rows at 64x64: ``horizon`` is the mean height of the terrain's
    silhouette, ``water_top`` the first row of the water band (64 without water).
    ``detail_seed`` fixes the silhouette, stars, clouds and trees.
    """

    claim: LandscapeClaim
    horizon: float
    water_top: int
    sun_x: float
    sun_y: float
    detail_seed: int
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    family = "landscapes"

    def to_dict(self) -> dict[str, Any]:
        return {"family": "landscapes", "claim": self.claim.to_dict(), "horizon": self.horizon,
                "water_top": self.water_top, "sun_x": self.sun_x, "sun_y": self.sun_y,
                "detail_seed": self.detail_seed, "extras": dict(self.extras)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LandscapeScene":
        return cls(LandscapeClaim.from_dict(data["claim"]), data["horizon"], data["water_top"],
                   data["sun_x"], data["sun_y"], data["detail_seed"], data.get("extras", {}))


Claim = Union[ShapesClaim, LandscapeClaim]
Scene = Union[ShapesScene, LandscapeScene]


def claim_from_dict(data: dict[str, Any]) -> Claim:
    return ShapesClaim.from_dict(data) if data["family"] == "shapes" else LandscapeClaim.from_dict(data)


def scene_from_dict(data: dict[str, Any]) -> Scene:
    return ShapesScene.from_dict(data) if data["family"] == "shapes" else LandscapeScene.from_dict(data)
