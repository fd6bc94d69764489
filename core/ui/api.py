"""The named API endpoints ``/generate``, ``/analyze``, ``/transfer`` and ``/stylize``.

They are plain, stable signatures for ``gradio_client`` users, independent of how
the tabs lay out their controls, and they call the same ``core.pipeline`` jobs as
the tabs and the CLI. Their components are never shown.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from core import pipeline
from core.registry import Registry
from core.ui.common import IMAGE_FORMAT, image_input, parse_json_field
from core.ui.controls import progress_fn, user_errors


def build(registry: Registry) -> None:
    with gr.Column(visible=False):
        _generate_endpoint(registry)
        _analyze_endpoint(registry)
        _transfer_endpoint(registry)
        _stylize_endpoint(registry)


def _generate_endpoint(registry: Registry) -> None:
    inputs = [gr.Textbox(label="prompt"), gr.Textbox(label="backend", value=pipeline.DEFAULT_BACKEND),
              # no precision=0: Gradio would round NaN/inf before core could name the problem
              gr.Number(label="n", value=1), gr.Number(label="seed", value=0),
              gr.Textbox(label="style", value="none"), gr.Number(label="style_strength", value=1.0),
              gr.Textbox(label="recipe", value=""), gr.Textbox(label="params", value="{}"),
              image_input("init_image"),     # optional: a starting picture (VAE, diffusers img2img)
              image_input("style_image")]    # the picture for style "image"
    outputs = [gr.Gallery(label="images", format=IMAGE_FORMAT), gr.JSON(label="settings")]

    @user_errors
    def generate(prompt: str, backend: str, n: float, seed: float, style: str,
                 style_strength: float, recipe: str, params: str, init_image: Any = None,
                 style_image: Any = None, progress: gr.Progress = gr.Progress()) -> tuple[list[Any], dict[str, Any]]:
        result = pipeline.generate(
            prompt, backend=backend or pipeline.DEFAULT_BACKEND, n=n, seed=seed,
            params=parse_json_field(params, "params"), style=_style(style, style_image),
            style_strength=style_strength, recipe=recipe or None,   # core parses it, within its size limit
            init_image=init_image or None, registry=registry, progress=progress_fn(progress))
        settings = dict(result.settings, seconds=round(result.seconds, 3))
        return result.images, settings

    gr.Button(visible=False).click(generate, inputs, outputs, api_name="generate",
                                   concurrency_id="models")


def _style(spec: str | None, picture: Any) -> str | None:
    """Style "image" takes the uploaded ``style_image``: over the network a style
    picture is an upload, never a path on the server."""
    text = (spec or "").strip()
    if text.lower().split(":", 1)[0] != "image":
        return spec
    if not picture:
        raise pipeline.UserError('style "image" needs the style_image argument (an uploaded picture)')
    if isinstance(picture, bytes):
        raise pipeline.UserError("send style_image as a file, not as a data URL")
    return f"image:{picture}"


def _analyze_endpoint(registry: Registry) -> None:
    @user_errors
    def analyze(image: str | None) -> dict[str, Any]:
        if not image:
            raise pipeline.UserError("upload an image to analyse")
        return pipeline.analyze(image, registry=registry).data

    gr.Button(visible=False).click(analyze, [image_input("image")], [gr.JSON()],
                                   api_name="analyze", concurrency_limit=2)


def _transfer_endpoint(registry: Registry) -> None:
    inputs = [image_input("content"), image_input("style_image"),
              gr.Textbox(label="preset", value=""), gr.Number(label="strength", value=1.0),
              gr.Checkbox(label="preserve_color", value=False),
              gr.Number(label="max_size", value=1024)]
    outputs = [gr.Image(type="pil", format=IMAGE_FORMAT), gr.JSON()]

    @user_errors
    def transfer(content: str | None, style_image: str | None, preset: str, strength: float,
                 preserve_color: bool, max_size: float,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, dict[str, Any]]:
        if not content:
            raise pipeline.UserError("upload a content image")
        presets = pipeline.parse_presets(preset) if preset and preset.strip() else []
        images = [(style_image, 1.0)] if style_image else []
        blend = pipeline.make_blend(presets, images)
        result = pipeline.transfer(content, blend, strength=strength, preserve_color=preserve_color,
                                   max_size=max_size, registry=registry,
                                   progress=progress_fn(progress))
        return result.image, {"engine": result.engine, "seconds": round(result.seconds, 3)}

    gr.Button(visible=False).click(transfer, inputs, outputs, api_name="transfer",
                                   concurrency_id="models")


def _stylize_endpoint(registry: Registry) -> None:
    @user_errors
    def stylize(image: str | None, recipe: str) -> tuple[Any, dict[str, Any]]:
        if not image:
            raise pipeline.UserError("upload an image to stylize")
        result = pipeline.stylize(image, recipe or {}, registry=registry)   # core parses it, within its size limit
        return result.image, {"recipe": result.recipe.to_json(), "seconds": round(result.seconds, 3)}

    gr.Button(visible=False).click(
        stylize, [image_input("image"), gr.Textbox(label="recipe")],
        [gr.Image(type="pil", format=IMAGE_FORMAT, image_mode=None), gr.JSON()],
        api_name="stylize", concurrency_limit=2)
