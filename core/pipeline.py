"""The four jobs of Impasto, shared by the app, the CLI and the API.

Each function takes plain values, checks them (raising UserError with a clear
message), finds the plugin in the registry, runs it under the device lock, and
returns plain results. The app and the CLI only translate to and from these.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TypeVar

from PIL import Image

from core import limits
from core.errors import JobError, UnavailableError, UserError
from core.hookspecs import (GenerateRequest, ProgressFn, StyleBlend, TransferRequest,
                            no_progress)
from core.images import ImageSource, load_image
from core.models import cache
from core.params import check_unicode, validate_params
from core.recipe import Recipe, apply_recipe, parse_recipe
from core.registry import Registry, get_registry
from core.style import StyleChoice, check_weights, parse_presets, parse_style_spec  # noqa: F401

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_STYLE_SIDE = 32          # smaller pictures carry no usable style or content
DEFAULT_BACKEND = "transformer"
DEFAULT_ENGINE = "magenta"
PALETTE_FILTER = "recolor"   # the Stylize operation that maps an image onto a palette
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


class JobTimeout(JobError):
    """A plugin ran past the job time limit."""


class _Abandoned(Exception):
    """Raised inside an abandoned plugin call at its next progress report."""


def run_plugin(what: str, call: Callable[[ProgressFn], T], progress: ProgressFn = no_progress,
               *, device: bool = True, timeout: float | None = None) -> T:
    """Run one plugin call with the safety every job gets:

    - under the device lock when it uses models (released whatever happens);
    - within ``timeout`` seconds (``IMPASTO_JOB_TIMEOUT``, default 300): a plugin
      that hangs fails the job, and its next progress report stops it;
    - any unexpected exception becomes a one-line JobError naming the plugin.
    """
    timeout = timeout if timeout is not None else limits.JOB_TIMEOUT_S
    abandoned = threading.Event()

    def guarded_progress(fraction: float, message: str = "") -> None:
        if abandoned.is_set():
            raise _Abandoned()
        progress(fraction, message)

    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = call(guarded_progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            outcome["error"] = exc

    def run() -> T:
        worker = threading.Thread(target=work, name=f"job: {what}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            abandoned.set()
            log.error("%s did not finish within %s s; abandoned", what, timeout)
            raise JobTimeout(f"{what} did not finish within {timeout:g} s and was stopped")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    try:
        if device:
            with cache.job():
                return run()
        return run()
    except (UserError, JobError):
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin bug fails this job only
        log.error("%s failed", what, exc_info=exc)
        raise JobError(f"{what} failed: {type(exc).__name__}: {str(exc)[:300]}") from exc


def clean_prompt(prompt: Any) -> str:
    """Strip control characters and squeeze whitespace; refuse empty or endless prompts."""
    if not isinstance(prompt, str):
        raise UserError("prompt must be text")
    check_unicode(prompt, "prompt")
    if len(prompt) > limits.MAX_PROMPT_CHARS * 4:
        raise UserError(f"prompt is {len(prompt)} characters; the limit is {limits.MAX_PROMPT_CHARS}")
    text = " ".join(_CONTROL.sub(" ", prompt).split())
    if not text:
        raise UserError("prompt is empty: describe the picture you want")
    if len(text) > limits.MAX_PROMPT_CHARS:
        raise UserError(f"prompt is {len(text)} characters; the limit is {limits.MAX_PROMPT_CHARS}")
    return text


def check_int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise UserError(f"{name} must be a whole number, got {value!r}")
    if not low <= number <= high:
        raise UserError(f"{name} must be between {low} and {high}, got {int(number)}")
    return int(number)


def check_fraction(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number between 0 and 1, got {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise UserError(f"{name} must be between 0 and 1, got {value!r}")
    return number


# ------------------------------------------------------------------------ generate


@dataclass
class GenerateResult:
    images: list[Image.Image]
    backend: str
    seed: int
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


def generate(prompt: str, *, backend: str = DEFAULT_BACKEND, n: int = 1, seed: int = 0,
             params: Mapping[str, Any] | None = None, style: str | None = None,
             style_strength: float = 1.0, recipe: Any = None,
             init_image: ImageSource | None = None, registry: Registry | None = None,
             progress: ProgressFn = no_progress) -> GenerateResult:
    """Text (+ optional style and recipe) to images."""
    registry = registry or get_registry()
    started = time.perf_counter()
    generator = registry.get("generators", backend)
    prompt = clean_prompt(prompt)
    n = check_int(n, "number of images", 1, limits.MAX_IMAGES_PER_REQUEST)
    seed = check_int(seed, "seed", 0, 2**32 - 1)
    checked = validate_params(generator.params, params, owner=backend)
    style_choice = parse_style_spec(style)
    style_strength = check_fraction(style_strength, "style strength")
    parsed_recipe = parse_recipe(recipe, registry.filters)
    init = load_image(init_image, what="starting image") if init_image is not None else None

    request = GenerateRequest(prompt=prompt, n=n, seed=seed, params=checked, init_image=init)
    images = run_plugin(f"generator {backend!r}", lambda p: generator.generate(request, p), progress)
    if not isinstance(images, list) or len(images) != n or \
            not all(isinstance(im, Image.Image) for im in images):
        raise JobError(f"generator {backend!r} did not return {n} image(s)")
    images = [im.convert("RGB") for im in images]
    if style_choice.kind != "none":
        images = [apply_style(im, style_choice, style_strength, registry, progress) for im in images]
    if parsed_recipe.ops:
        images = [stylize(im, parsed_recipe, registry=registry).image for im in images]
    settings = {"prompt": prompt, "backend": backend, "n": n, "seed": seed, "params": checked,
                "style": style or "none", "style_strength": style_strength,
                "recipe": parsed_recipe.to_json() if parsed_recipe.ops else None,
                "model_version": getattr(generator, "version", None)}
    return GenerateResult(images, backend, seed, time.perf_counter() - started, settings)


MAX_THEN_RECIPES = 8
MAX_FRAMES = 64


def interpolate(prompt_a: str, prompt_b: str | None = None, *, backend: str, seed_a: int = 0,
                seed_b: int = 1, frames: int = 16, registry: Registry | None = None,
                progress: ProgressFn = no_progress) -> list[Image.Image]:
    """Frames of a latent walk from (prompt_a, seed_a) to (prompt_b, seed_b), for
    backends with an ``interpolate`` method (the GAN and the VAE)."""
    registry = registry or get_registry()
    generator = registry.get("generators", backend)
    walk = getattr(generator, "interpolate", None)
    if not callable(walk):
        raise UserError(f"the {backend!r} backend cannot interpolate; try the GAN or the VAE")
    a = clean_prompt(prompt_a)
    b = clean_prompt(prompt_b) if prompt_b and str(prompt_b).strip() else a
    seed_a, seed_b = (check_int(v, "seed", 0, 2**32 - 1) for v in (seed_a, seed_b))
    frames = check_int(frames, "number of frames", 2, MAX_FRAMES)
    images = run_plugin(f"generator {backend!r}", lambda p: walk(a, b, seed_a, seed_b, frames), progress)
    if not isinstance(images, list) or len(images) != frames or \
            not all(isinstance(im, Image.Image) for im in images):
        raise JobError(f"generator {backend!r} did not return {frames} frame(s)")
    return [im.convert("RGB") for im in images]


def replay(settings: Mapping[str, Any], *, registry: Registry | None = None,
           progress: ProgressFn = no_progress) -> GenerateResult:
    """Regenerate the pictures a saved picture's settings describe (``core.metadata``):
    the generation itself, then each recipe applied to it afterwards in the Stylize
    tab (``settings["then"]``, in order, each with its own seed)."""
    if not isinstance(settings, Mapping) or not settings.get("prompt") or not settings.get("backend"):
        raise UserError("these settings name no prompt and backend to generate from")
    then = settings.get("then") or []
    if not isinstance(then, list) or len(then) > MAX_THEN_RECIPES:
        raise UserError(f"'then' must be a list of at most {MAX_THEN_RECIPES} recipes")
    registry = registry or get_registry()
    result = generate(settings["prompt"], backend=settings["backend"], n=settings.get("n", 1),
                      seed=settings.get("seed", 0), params=settings.get("params") or {},
                      style=settings.get("style"), style_strength=settings.get("style_strength", 1.0),
                      recipe=settings.get("recipe"), registry=registry, progress=progress)
    for recipe in then:
        result.images = [stylize(im, recipe, registry=registry).image for im in result.images]
    if then:
        result.settings["then"] = [parse_recipe(r, registry.filters).to_json() for r in then]
    return result


def apply_style(image: Image.Image, choice: StyleChoice, strength: float,
                registry: Registry, progress: ProgressFn = no_progress) -> Image.Image:
    """The style step of generation: a transfer for presets/images, a recolour for palettes."""
    if choice.kind == "palette":
        if PALETTE_FILTER not in registry.filters:
            raise UnavailableError("palette styles need the 'recolor' operation of the stylize plugin")
        recipe = parse_recipe({"ops": [{"op": PALETTE_FILTER, "params": {"palette": choice.palette}}]},
                              registry.filters)
        styled = stylize(image, recipe, registry=registry).image
        return Image.blend(image, styled.convert("RGB"), strength) if strength < 1 else styled
    blend = StyleBlend(presets=choice.presets)
    if choice.kind == "image":
        blend.images = [(load_image(choice.image_path or "", min_side=MIN_STYLE_SIDE,
                                    what="style image"), 1.0)]
    return transfer(image, blend, strength=strength, max_size=max(image.size),
                    registry=registry, progress=progress).image


# ------------------------------------------------------------------------ transfer


@dataclass
class TransferResult:
    image: Image.Image
    engine: str
    seconds: float


def default_engine(registry: Registry) -> str:
    if DEFAULT_ENGINE in registry.style_transfers:
        return DEFAULT_ENGINE
    if registry.style_transfers:
        return sorted(registry.style_transfers)[0]
    raise UnavailableError("no style-transfer engine is installed")


def make_blend(presets: Sequence[tuple[int, float]] = (),
               images: Sequence[tuple[ImageSource, float]] = ()) -> StyleBlend:
    """Check and normalise a blend of presets and style images."""
    if not presets and not images:
        raise UserError("choose a style: a preset or a style image")
    items = list(presets) + list(images)
    if len(items) > 8:
        raise UserError("at most 8 styles can be blended")
    weights = check_weights([w for _, w in items], "style weights")
    loaded = [(load_image(src, min_side=MIN_STYLE_SIDE, what=f"style image {i + 1}"), 1.0)
              for i, (src, _) in enumerate(images)]
    preset_part = [(int(p), w) for (p, _), w in zip(presets, weights)]
    image_part = [(im, w) for (im, _), w in zip(loaded, weights[len(presets):])]
    return StyleBlend(presets=preset_part, images=image_part)


def transfer(content: ImageSource, style: StyleBlend, *, engine: str | None = None,
             strength: float = 1.0, preserve_color: bool = False, max_size: int = 1024,
             params: Mapping[str, Any] | None = None, registry: Registry | None = None,
             progress: ProgressFn = no_progress) -> TransferResult:
    registry = registry or get_registry()
    started = time.perf_counter()
    name = engine or default_engine(registry)
    plugin = registry.get("style_transfers", name)
    image = load_image(content, min_side=MIN_STYLE_SIDE, what="content image")
    for index, _ in style.presets:
        if plugin.presets and not 0 <= index < len(plugin.presets):
            raise UserError(f"preset {index} does not exist; {name} has presets 0–{len(plugin.presets) - 1}")
    request = TransferRequest(
        content=image, style=style, strength=check_fraction(strength, "strength"),
        preserve_color=bool(preserve_color),
        max_size=check_int(max_size, "max size", MIN_STYLE_SIDE, limits.MAX_OUTPUT_SIDE),
        params=validate_params(plugin.params, params, owner=name))
    result = run_plugin(f"style transfer {name!r}", lambda p: plugin.transfer(request, p), progress)
    if not isinstance(result, Image.Image):
        raise JobError(f"style transfer {name!r} returned no image")
    return TransferResult(result.convert("RGB"), name, time.perf_counter() - started)


# ------------------------------------------------------------------------ analyze


@dataclass
class AnalyzeResult:
    data: dict[str, Any]
    figures: dict[str, Image.Image]
    seconds: float


def analyze(image_source: ImageSource, *, registry: Registry | None = None,
            params: Mapping[str, Mapping[str, Any]] | None = None) -> AnalyzeResult:
    """Run every analyzer and merge their data (pixels only, never metadata)."""
    registry = registry or get_registry()
    if not registry.analyzers:
        raise UnavailableError("no analyzer is installed")
    started = time.perf_counter()
    image = load_image(image_source, min_side=8, what="image to analyse")
    data: dict[str, Any] = {}
    figures: dict[str, Image.Image] = {}
    for name in sorted(registry.analyzers):
        analyzer = registry.analyzers[name]
        checked = validate_params(analyzer.params, (params or {}).get(name), owner=name)
        uses_models = bool(getattr(analyzer, "uses_models", False))
        result = run_plugin(f"analyzer {name!r}", lambda _p, a=analyzer, c=checked: a.analyze(image, c),
                            device=uses_models)
        data.update(result.data)
        figures.update(result.figures)
    return AnalyzeResult(data, figures, time.perf_counter() - started)


# ------------------------------------------------------------------------ stylize


@dataclass
class StylizeResult:
    image: Image.Image
    recipe: Recipe
    seconds: float


def stylize(image_source: ImageSource, recipe: Any, *, registry: Registry | None = None,
            keep_alpha: bool = True, progress: ProgressFn = no_progress) -> StylizeResult:
    registry = registry or get_registry()
    started = time.perf_counter()
    parsed = recipe if isinstance(recipe, Recipe) else parse_recipe(recipe, registry.filters)
    image = load_image(image_source, keep_alpha=keep_alpha, what="image to stylize")
    result = apply_recipe(image, parsed, registry.filters, progress)
    return StylizeResult(result, parsed, time.perf_counter() - started)
