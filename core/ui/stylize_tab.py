"""Stylize tab: apply a recipe of edit operations to an image."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr

from core import pipeline
from core.registry import Registry
from core.ui.common import image_input, image_output, parse_json_field
from core.ui.controls import user_errors


def build(registry: Registry) -> None:
    with gr.Row(equal_height=False):
        with gr.Column():
            image = image_input("Image", image_mode=None)
            recipe = gr.Code(label="Recipe (JSON)", language="json",
                             value=json.dumps({"seed": 0, "ops": []}, indent=1))
            run = gr.Button("Apply recipe", variant="primary")
        with gr.Column():
            output = image_output("Result", image_mode=None)

    @user_errors
    def on_apply(path: str | None, recipe_text: str) -> Any:
        if not path:
            raise pipeline.UserError("upload an image to stylize")
        return pipeline.stylize(path, parse_json_field(recipe_text, "recipe") or {},
                                registry=registry).image

    run.click(on_apply, [image, recipe], [output], api_visibility="private")
