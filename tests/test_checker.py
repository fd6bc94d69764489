"""The analytic checker: >= 98 % on the corpus' own pictures in every category,
and it fails pictures that break the prompt (swapped colours, wrong counts,
mirrored positions, wrong time / terrain / water)."""
from __future__ import annotations

import collections
import dataclasses

import numpy as np
from PIL import Image, ImageOps

from core.checker import (check, check_shapes, read_landscape, read_shapes, shown_claim,
                          two_object_reading)
from core.corpus.attributes import (LANDSCAPE_CATEGORIES, SHAPE_CATEGORIES,
                                    LandscapeClaim, ObjectClaim, ShapesClaim)
from core.corpus.dataset import make_sample, render_claim


def accuracy(family: str, n: int) -> dict[str, float]:
    total, passed = collections.Counter(), collections.Counter()
    for i in range(n):
        sample = make_sample(family, 11, i)
        for category, ok in check(sample.image, sample.scene.claim).items():
            total[category] += 1
            passed[category] += ok
    return {c: passed[c] / total[c] for c in total}


def test_checker_passes_the_corpus_in_every_category():
    shapes = accuracy("shapes", 400)
    landscapes = accuracy("landscapes", 150)
    assert set(shapes) == set(SHAPE_CATEGORIES)
    assert set(landscapes) == set(LANDSCAPE_CATEGORIES)
    for category, value in {**shapes, **landscapes}.items():
        assert value >= 0.98, (category, value)


def test_checker_reads_objects_and_their_positions():
    claim = ShapesClaim("relation", (ObjectClaim("red", "circle"), ObjectClaim("blue", "triangle")),
                        "white", "left of")
    reading = read_shapes(render_claim(claim, seed=3))
    assert reading.background == "white"
    found = {(o.color, o.kind): o for o in reading.objects}
    assert set(found) == {("red", "circle"), ("blue", "triangle")}
    assert found["red", "circle"].cx + 8 <= found["blue", "triangle"].cx


def _claims(kind: str, n: int, seed: int = 0) -> list[ShapesClaim]:
    out = []
    i = 0
    while len(out) < n:
        sample = make_sample("shapes", seed, i)
        i += 1
        if sample.scene.claim.caption_kind == kind:
            out.append(sample.scene.claim)
    return out


def test_swapped_colours_fail_colour_and_background():
    for i, claim in enumerate(_claims("single", 30)):
        obj = claim.objects[0]
        background = claim.background or ("white" if obj.color != "white" else "black")
        claim = dataclasses.replace(claim, background=background)
        swapped = ShapesClaim("single", (ObjectClaim(background, obj.kind),), obj.color)
        result = check(render_claim(swapped, seed=i), claim)
        assert not result["colour"] and not result["background"], claim


def test_wrong_counts_fail_counting():
    for i, claim in enumerate(_claims("count", 30)):
        wrong_n = 2 if len(claim.objects) == 3 else 3
        wrong = dataclasses.replace(claim, objects=claim.objects[:1] * wrong_n)
        assert not check(render_claim(wrong, seed=i), claim)["counting"], claim
        single = ShapesClaim("single", claim.objects[:1], claim.background)
        assert not check(render_claim(single, seed=i), claim)["counting"], claim


def test_mirrored_positions_fail_position():
    flips = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
    for i, claim in enumerate(_claims("relation", 40)):
        if claim.relation in ("left of", "right of"):
            image = ImageOps.mirror(render_claim(claim, seed=i))     # a true mirror image
        else:
            image = render_claim(dataclasses.replace(claim, relation=flips[claim.relation]), seed=i)
        assert check(render_claim(claim, seed=i), claim)["position"]
        assert not check(image, claim)["position"], claim


def test_wrong_objects_fail_two_objects():
    for i, claim in enumerate(_claims("two", 30)):
        first, second = claim.objects
        other_kind = next(k for k in ("circle", "square", "triangle")
                          if k != second.kind and ObjectClaim(second.color, k) != first)
        wrong = dataclasses.replace(claim, objects=(first, ObjectClaim(second.color, other_kind)))
        assert not check(render_claim(wrong, seed=i), claim)["two_objects"], claim


def test_an_empty_or_noisy_canvas_passes_nothing():
    claim = ShapesClaim("single", (ObjectClaim("red", "circle"),), "blue")
    plain = Image.new("RGB", (64, 64), (30, 136, 229))
    assert check(plain, claim) == {"single_object": False, "colour": False, "background": True}
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    result = check(noise, claim)
    assert not result["single_object"]


def test_landscape_checker_fails_wrong_time_terrain_and_water():
    times, terrains = ("day", "sunset", "night"), ("mountains", "hills", "desert")
    for i in range(24):
        claim = LandscapeClaim(times[i % 3], terrains[(i // 3) % 3], "sea" if i % 2 else None,
                               clouds=bool(i % 4 == 1))
        right = check(render_claim(claim, seed=i), claim)
        assert all(right.values()), (claim, right)
        wrong_time = dataclasses.replace(claim, time=times[(i + 1) % 3])
        assert not check(render_claim(wrong_time, seed=i), claim)["time_of_day"]
        wrong_terrain = dataclasses.replace(claim, terrain=terrains[(i // 3 + 1) % 3])
        assert not check(render_claim(wrong_terrain, seed=i), claim)["terrain"]
        toggled = dataclasses.replace(claim, water=None if claim.water else "lake")
        assert not check(render_claim(toggled, seed=i), claim)["water"]


def test_checker_accepts_any_image_size():
    claim = LandscapeClaim("night", "mountains", "lake")
    big = render_claim(claim, seed=2, size=256)
    assert read_landscape(big).time == "night"
    assert all(check(big, claim).values())


def test_two_object_readings_say_what_a_picture_got_wrong():
    red_circle, blue_triangle = ObjectClaim("red", "circle"), ObjectClaim("blue", "triangle")
    claim = ShapesClaim("relation", (red_circle, blue_triangle), "white", "left of")
    reading = read_shapes(render_claim(claim, seed=3))
    assert two_object_reading(reading, claim) == "right kinds"
    assert two_object_reading(reading, dataclasses.replace(claim, relation="right of")) == "right kinds, wrong place"
    swapped = (ObjectClaim("red", "triangle"), ObjectClaim("blue", "circle"))
    assert two_object_reading(reading, dataclasses.replace(claim, objects=swapped)) == "kinds swapped"
    both_circles = (red_circle, ObjectClaim("blue", "circle"))
    assert two_object_reading(reading, dataclasses.replace(claim, objects=both_circles)) == "a wrong kind"
    drawn_alike = ShapesClaim("two", (red_circle, ObjectClaim("blue", "circle")), "white")
    assert two_object_reading(read_shapes(render_claim(drawn_alike, seed=3)), claim) == "both one kind"
    green = (ObjectClaim("green", "circle"), blue_triangle)
    assert two_object_reading(reading, dataclasses.replace(claim, objects=green)) == "wrong colours"
    single = ShapesClaim("single", (red_circle,), "white")
    assert two_object_reading(read_shapes(render_claim(single, seed=3)), claim) == "one object"
    assert two_object_reading(read_shapes(Image.new("RGB", (64, 64), "white")), claim) == "no object"


def test_shown_claim_says_what_a_picture_holds():
    """What the judge's hindsight pairs are captioned with: a faithful corpus picture shows
    what was asked; a mirrored or miscounted one shows the mirror or the count it holds."""
    same, total = 0, 0
    for kind in ("single", "count", "two", "relation"):
        for i, claim in enumerate(_claims(kind, 25, seed=5)):
            reading = read_shapes(render_claim(claim, seed=i))
            shown = shown_claim(reading, claim)
            assert shown is not None and all(check_shapes(reading, shown).values()), (claim, shown)
            assert (shown.background is None) == (claim.background is None)
            same += shown == claim
            total += 1
    assert same / total >= 0.95, same / total
    red_circle, blue_square = ObjectClaim("red", "circle"), ObjectClaim("blue", "square")
    asked = ShapesClaim("relation", (red_circle, blue_square), "white", "left of")
    mirrored = ImageOps.mirror(render_claim(asked, seed=1))
    assert shown_claim(read_shapes(mirrored), asked) == dataclasses.replace(asked, relation="right of")
    three = ShapesClaim("count", (red_circle,) * 3, None)
    assert shown_claim(read_shapes(render_claim(three, seed=2)), ShapesClaim("single", (red_circle,))) == three
    assert shown_claim(read_shapes(Image.new("RGB", (64, 64), "white")), asked) is None
