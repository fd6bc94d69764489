"""Diffusers pipelines as Impasto generators.

:class:`DiffusersGenerator` is one configured model. :class:`AnyModelGenerator`
is the opt-in "type a model" field (local use only, see ``config``). Both run
the same :func:`run_job`: check the request, get the model from core's cache,
pick text-to-image or image-to-image, then make the images one at a time, each
from its own ``torch.Generator`` seeded ``seed + i`` (so image ``i`` of a request
is the same whatever ``n`` is), reporting every denoising step to core.
"""
from __future__ import annotations

import inspect
from typing import Any

from PIL import Image, ImageOps

from core import limits
from core.errors import UserError
from core.hookspecs import GenerateRequest, ProgressFn
from core.params import Param

from plugins.diffusers_backend import schedulers
from plugins.diffusers_backend.config import ModelSpec, distilled, preferred_size, spec_for
from plugins.diffusers_backend.loading import LoadedModel, get_model, is_loaded

SIZE_HELP = "pixels, a multiple of 8; 0 uses the model's native size"


def model_params(source: str = "") -> tuple[Param, ...]:
    """The controls of a diffusers generator; few-step models get fitting defaults."""
    few_steps, size = distilled(source), preferred_size(source)
    return (
        Param("steps", "int", 4 if few_steps else 30, label="Steps", min=1, max=100, step=1,
              help="denoising steps (Turbo/Lightning models: 1–4)"),
        Param("guidance", "float", 0.0 if few_steps else 7.0, label="Guidance", min=0.0, max=20.0,
              step=0.5, help="classifier-free guidance; 0 turns it off (Turbo models)"),
        Param("width", "int", size, label="Width", min=0, max=limits.MAX_OUTPUT_SIDE, step=8,
              help=SIZE_HELP),
        Param("height", "int", size, label="Height", min=0, max=limits.MAX_OUTPUT_SIDE, step=8,
              help=SIZE_HELP),
        Param("scheduler", "choice", schedulers.DEFAULT, label="Scheduler",
              choices=schedulers.CHOICES, help="'default' keeps the model's own"),
        Param("negative_prompt", "str", "", label="Negative prompt", max_length=limits.MAX_PROMPT_CHARS,
              help="what the picture should not show"),
        Param("strength", "float", 0.6, label="Strength (with a starting image)", min=0.05, max=1.0,
              step=0.05, help="how far to move away from the starting image; 1 ignores it"),
    )


class DiffusersGenerator:
    """One model from IMPASTO_DIFFUSERS_MODELS."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.label = spec.label
        self.params = model_params(spec.source)
        self.version = spec.source

    def generate(self, request: GenerateRequest, progress: ProgressFn) -> list[Image.Image]:
        return run_job(self.spec, request, progress)


class AnyModelGenerator:
    """A free "model" field: any hub id or folder, chosen per request. Offered only
    when the person starting the app set IMPASTO_ALLOW_MODEL_FIELD=1."""

    name = "diffusers_any"
    label = "Diffusers: any model (hub id or folder, local use only)"
    version = None

    def __init__(self) -> None:
        self.params = (Param("model", "str", "", label="Model", max_length=300,
                             help="a hub id like stabilityai/sd-turbo or a local pipeline folder"),
                       *model_params())

    def generate(self, request: GenerateRequest, progress: ProgressFn) -> list[Image.Image]:
        params = dict(request.params)
        source = str(params.pop("model", "")).strip()
        if not source:
            raise UserError("type a model: a hub id such as stabilityai/sd-turbo or a pipeline folder")
        request = GenerateRequest(request.prompt, request.n, request.seed, params, request.init_image)
        return run_job(spec_for(source), request, progress)


def run_job(spec: ModelSpec, request: GenerateRequest, progress: ProgressFn) -> list[Image.Image]:
    params = request.params
    width, height = _requested_size(params)          # cheap checks before any loading
    if not is_loaded(spec):
        progress(0.0, f"loading {spec.source}")
    model = get_model(spec)
    width, height = _checked_size(model, width, height)
    image_to_image = request.init_image is not None
    pipe = model.pipeline(image_to_image)
    pipe.scheduler = schedulers.fresh_scheduler(model.default_scheduler, params["scheduler"], spec.source)
    kwargs = _call_arguments(pipe, model, params, width, height, request)
    steps = _effective_steps(params, image_to_image)

    import torch

    images = []
    for index in range(request.n):
        generator = torch.Generator(device=_generator_device(model)).manual_seed(request.seed + index)
        callback = _step_reporter(progress, index, request.n, steps)
        try:
            output = pipe(prompt=request.prompt, generator=generator, callback_on_step_end=callback,
                          **kwargs)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise UserError(f"{spec.source} ran out of GPU memory at {width}×{height}; try a smaller "
                            "size, or start with IMPASTO_DIFFUSERS_OFFLOAD=on") from None
        images.append(output.images[0].convert("RGB"))
    progress(1.0, "done")
    return images


def _requested_size(params: dict[str, Any]) -> tuple[int, int]:
    for side in ("width", "height"):
        if params[side] % 8:
            raise UserError(f"{side} {params[side]} is not a multiple of 8; diffusers models need "
                            f"sides such as {params[side] // 8 * 8} or {params[side] // 8 * 8 + 8}")
    return params["width"], params["height"]


def _checked_size(model: LoadedModel, width: int, height: int) -> tuple[int, int]:
    """0 means native; otherwise between a quarter and twice the native side (beyond
    that the models repeat their subject or dissolve into noise, and memory grows)."""
    native, multiple = model.native_size(), model.size_multiple()
    low = max(multiple, native // 4 // multiple * multiple)
    high = min(native * 2, limits.MAX_OUTPUT_SIDE)
    sides = []
    for side, value in (("width", width), ("height", height)):
        value = value or native
        if value % multiple:
            raise UserError(f"{side} {value} must be a multiple of {multiple} for {model.spec.source}")
        if not low <= value <= high:
            raise UserError(f"{side} {value} is outside {low}–{high} px for {model.spec.source} "
                            f"(native size {native} px)")
        sides.append(value)
    return sides[0], sides[1]


def _call_arguments(pipe: Any, model: LoadedModel, params: dict[str, Any], width: int, height: int,
                    request: GenerateRequest) -> dict[str, Any]:
    """The keyword arguments this pipeline's ``__call__`` accepts, from the request."""
    accepted = inspect.signature(pipe.__call__).parameters
    kwargs: dict[str, Any] = {"num_inference_steps": params["steps"],
                              "guidance_scale": params["guidance"], "width": width, "height": height,
                              "num_images_per_prompt": 1, "output_type": "pil"}
    if params["negative_prompt"]:
        if "negative_prompt" not in accepted:
            raise UserError(f"{model.spec.source} ({model.pipeline_class}) takes no negative prompt")
        kwargs["negative_prompt"] = params["negative_prompt"]
    if request.init_image is not None:
        # image-to-image pipelines take their size from the starting image
        kwargs["image"] = ImageOps.fit(request.init_image.convert("RGB"), (width, height),
                                       Image.Resampling.LANCZOS)
        kwargs["strength"] = params["strength"]
    return {key: value for key, value in kwargs.items() if key in accepted}


def _effective_steps(params: dict[str, Any], image_to_image: bool) -> int:
    if not image_to_image:
        return params["steps"]
    steps = int(params["steps"] * params["strength"])
    if steps < 1:
        raise UserError(f"steps × strength is {params['steps'] * params['strength']:.2f}: with a "
                        "starting image at least one step must run; raise steps or strength")
    return steps


def _generator_device(model: LoadedModel) -> Any:
    # With offload the weights sit on the CPU between steps, but the noise is drawn
    # on the execution device; without it, on the device the weights live on.
    return model.placement.device if model.placement.device.type != "mps" else "cpu"


def _step_reporter(progress: ProgressFn, index: int, count: int, steps: int) -> Any:
    """``callback_on_step_end`` -> core's progress. Whatever progress raises (a
    cancel) propagates out of the pipeline, between two steps."""

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        total = int(getattr(pipe, "num_timesteps", 0) or steps)
        done = min(step + 1, total)
        progress((index + done / total) / count, f"image {index + 1}/{count}, step {done}/{total}")
        return callback_kwargs

    return on_step_end
