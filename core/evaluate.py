"""Prompt-faithfulness evaluation: ``python -m core eval --backend B``.

A fixed prompt set covers every checker category (shapes: single object,
colour, background, counting, two objects, position; landscapes: time of day,
terrain, water), plus hand-written paraphrases outside the caption templates.
Each prompt carries the claim it makes, so the analytic checker
(:mod:`core.checker`) scores every generated image without parsing any text.

Figures: per category, the share of images that pass it; per family,
``overall`` = the mean of its category accuracies and ``prompt_accuracy`` = the
share of images that pass every category their prompt is scored on; and
``diversity`` = the mean pairwise RMS distance (pixels in [0, 1] at 64x64)
between the images of one prompt, averaged over prompts, next to the same figure
for the corpus' own pictures of those prompts (``diversity_reference``). A
collapsed model draws the same picture for every seed: diversity near 0.

``two_object_readings`` counts why the pictures for the shapes family's
two-object and relation prompts pass or fail (:func:`core.checker.two_object_reading`:
a wrong number of objects, wrong colours, or named kinds not bound to their colours).

``--backend corpus`` scores the corpus renderer itself: the checker's ceiling.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image

from core.checker import check, read_shapes, two_object_reading
from core.corpus.attributes import (CATEGORIES, COLOR_NAMES, RELATIONS, SHAPE_KINDS, TERRAINS,
                                    TIMES, Claim, LandscapeClaim, ObjectClaim, ShapesClaim)
from core.corpus.captions import caption
from core.corpus.heldout import PARAPHRASES
from core.errors import UserError

EVAL_FAMILIES = ("shapes", "landscapes", "paraphrases", "all")
CORPUS_BACKEND = "corpus"
MAX_N = 64
TWO_OBJECT_KINDS = ("two", "relation")


@dataclass(frozen=True)
class EvalPrompt:
    prompt: str
    claim: Claim
    family: str          # shapes, landscapes or paraphrases


def _shape_prompts() -> list[EvalPrompt]:
    """36 prompts: 12 single objects, 8 counts, 8 pairs, 8 relations; most name
    a background. Built from a fixed generator so the set never drifts."""
    rng = np.random.default_rng(20240501)
    colors, kinds = list(COLOR_NAMES), list(SHAPE_KINDS)
    prompts = []

    def obj(i: int, shift: int = 0) -> ObjectClaim:
        return ObjectClaim(colors[(i * 3 + shift) % 8], kinds[(i + shift) % 3])

    def background(objects: tuple[ObjectClaim, ...], i: int, named: bool) -> str | None:
        if not named:
            return None
        free = [c for c in colors if c not in {o.color for o in objects}]
        return free[(i * 5) % len(free)]

    for i in range(12):
        objects = (obj(i),)
        prompts.append(ShapesClaim("single", objects, background(objects, i, i % 3 != 2)))
    for i in range(8):
        objects = (obj(i + 1, 1),) * (2 + i % 2)
        prompts.append(ShapesClaim("count", objects, background(objects, i, i % 4 != 3)))
    for i in range(8):
        objects = (obj(i, 2), obj(i + 1, 5))
        prompts.append(ShapesClaim("two", objects, background(objects, i, i % 4 != 3)))
    for i in range(8):
        objects = (obj(i, 4), obj(i + 2, 1))
        prompts.append(ShapesClaim("relation", objects, background(objects, i, i % 4 != 3),
                                   RELATIONS[i % 4]))
    return [EvalPrompt(caption(c, rng), c, "shapes") for c in prompts]


def _landscape_prompts() -> list[EvalPrompt]:
    """12 prompts: every time of day with every terrain, water in half of them,
    and a few with trees and clouds."""
    rng = np.random.default_rng(20240502)
    claims = []
    for i, (time_of_day, terrain) in enumerate((t, g) for t in TIMES for g in TERRAINS):
        water = (None, "sea", "lake")[i % 3] if i % 2 == 0 else None
        claims.append(LandscapeClaim(time_of_day, terrain, water))
    claims += [LandscapeClaim("day", "hills", None, trees=True, clouds=True),
               LandscapeClaim("sunset", "mountains", "lake", clouds=True),
               LandscapeClaim("night", "hills", "sea", trees=True)]
    return [EvalPrompt(caption(c, rng), c, "landscapes") for c in claims]


def eval_prompts(family: str) -> list[EvalPrompt]:
    if family == "shapes":
        return _shape_prompts()
    if family == "landscapes":
        return _landscape_prompts()
    if family == "paraphrases":
        return [EvalPrompt(text, claim, "paraphrases") for text, claim in PARAPHRASES]
    if family == "all":
        return _shape_prompts() + _landscape_prompts() + eval_prompts("paraphrases")
    raise UserError(f"--family must be one of {', '.join(EVAL_FAMILIES)}, got {family!r}")


# --------------------------------------------------------------------------- scoring


def pairwise_distance(images: list[Image.Image]) -> float:
    """Mean RMS distance between every pair of images (64x64, values in [0, 1])."""
    if len(images) < 2:
        return 0.0
    arrays = np.stack([np.asarray(im.convert("RGB").resize((64, 64), Image.BOX), dtype=np.float32)
                       .ravel() / 255.0 for im in images])
    sq = (arrays ** 2).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * arrays @ arrays.T, 0, None) / arrays.shape[1]
    upper = np.triu_indices(len(images), k=1)
    return float(np.sqrt(d2[upper]).mean())


def summarise(records: list[dict[str, Any]], family: str) -> dict[str, Any]:
    """Per-category shares of the checker results in ``records`` (each ``{"results": [...]}``),
    their mean (``overall``), and the share of images that pass every category."""
    categories: dict[str, list[bool]] = {}
    strict = []
    for record in records:
        for result in record["results"]:
            for category, ok in result.items():
                categories.setdefault(category, []).append(bool(ok))
            strict.append(all(result.values()))
    order = [c for fam in ("shapes", "landscapes") for c in CATEGORIES[fam]]
    accuracy = {c: round(float(np.mean(categories[c])), 4) for c in order if c in categories}
    return {"overall": round(float(np.mean(list(accuracy.values()))), 4) if accuracy else 0.0,
            "categories": accuracy, "prompt_accuracy": round(float(np.mean(strict)), 4),
            "prompts": len(records), "images": len(strict)}


def evaluate(backend: str, family: str = "all", n: int = 8, seed: int = 0,
             make_images: Callable[[EvalPrompt, int, int], list[Image.Image]] | None = None,
             echo: bool = False, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Generate ``n`` images per prompt with ``backend`` (and its ``params``) and score them."""
    if not 1 <= n <= MAX_N:
        raise UserError(f"--n must be between 1 and {MAX_N}, got {n}")
    prompts = eval_prompts(family)
    make_images = make_images or _image_maker(backend, params or {})
    started = time.perf_counter()
    records = []
    readings: Counter[str] = Counter()      # why two-object pictures fail
    for i, item in enumerate(prompts):
        images = make_images(item, n, seed)
        results = [check(image, item.claim) for image in images]
        if item.family == "shapes" and getattr(item.claim, "caption_kind", None) in TWO_OBJECT_KINDS:
            readings.update(two_object_reading(read_shapes(image), item.claim) for image in images)
        reference = [_corpus_images(item, n, seed + 1)] if n > 1 else []
        records.append({"prompt": item.prompt, "family": item.family, "results": results,
                        "diversity": pairwise_distance(images),
                        "diversity_reference": pairwise_distance(reference[0]) if reference else 0.0})
        if echo:
            passed = np.mean([all(r.values()) for r in results])
            print(f"[{i + 1}/{len(prompts)}] {passed:4.0%}  {item.prompt}", file=sys.stderr)
    families = {}
    for name in ("shapes", "landscapes", "paraphrases"):
        chosen = [r for r in records if r["family"] == name]
        if chosen:
            families[name] = summarise(chosen, name)
    templated = [r for r in records if r["family"] != "paraphrases"] or records
    summary = summarise(templated, family)
    return {"backend": backend, "family": family, "n": n, "seed": seed, "params": params or {},
            "overall": summary["overall"], "categories": summary["categories"],
            "prompt_accuracy": summary["prompt_accuracy"], "families": families,
            "diversity": round(float(np.mean([r["diversity"] for r in records])), 4),
            "diversity_reference": round(float(np.mean([r["diversity_reference"] for r in records])), 4),
            "two_object_readings": dict(readings.most_common()),
            "seconds": round(time.perf_counter() - started, 2),
            "per_prompt": [{"prompt": r["prompt"], "family": r["family"],
                            "passed": round(float(np.mean([all(x.values()) for x in r["results"]])), 3),
                            "diversity": round(r["diversity"], 4)} for r in records]}


def _corpus_images(item: EvalPrompt, n: int, seed: int) -> list[Image.Image]:
    from core.corpus.dataset import render_claim

    return [render_claim(item.claim, seed=seed * 100_003 + k) for k in range(n)]


def _image_maker(backend: str, params: dict[str, Any]) -> Callable[[EvalPrompt, int, int], list[Image.Image]]:
    if backend == CORPUS_BACKEND:
        return _corpus_images
    from core import limits, pipeline
    from core.registry import get_registry

    registry = get_registry()
    registry.get("generators", backend)          # UnavailableError names what exists

    def make(item: EvalPrompt, n: int, seed: int) -> list[Image.Image]:
        images: list[Image.Image] = []
        while len(images) < n:                   # requests are capped at MAX_IMAGES_PER_REQUEST
            count = min(n - len(images), limits.MAX_IMAGES_PER_REQUEST)
            result = pipeline.generate(item.prompt, backend=backend, n=count,
                                       seed=seed + len(images), params=params, registry=registry)
            images += result.images
        return images

    return make


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The figures of :func:`evaluate`'s result, as lines for a person to read."""
    lines = [f"{result['backend']}  {result['family']}  n={result['n']} seed={result['seed']}"
             + (f"  params={result['params']}" if result["params"] else "")]
    for name, family in result["families"].items():
        categories = ", ".join(f"{c} {v:.2f}" for c, v in family["categories"].items())
        lines.append(f"  {name:11s} overall {family['overall']:.3f}  ({categories})")
    lines.append(f"  diversity   {result['diversity']:.3f} (corpus {result['diversity_reference']:.3f})")
    if result["two_object_readings"]:
        readings = ", ".join(f"{k} {v}" for k, v in result["two_object_readings"].items())
        lines.append(f"  two-object pictures: {readings}")
    lines.append(f"  {result['seconds']:.1f} s")
    return lines


def eval_from_cli(args: Any) -> dict[str, Any]:
    """``python -m core eval``: argparse Namespace -> results dict."""
    n = getattr(args, "n", None)
    seed = getattr(args, "seed", None)
    as_json = getattr(args, "json", False)
    result = evaluate(args.backend, getattr(args, "family", None) or "all",
                      8 if n is None else int(n), 0 if seed is None else int(seed),
                      echo=not as_json, params=getattr(args, "params", None))
    if not as_json:
        print("\n".join(summary_lines(result)))
    return result
