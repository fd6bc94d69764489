"""Analyze tab: an image in, its style described (numbers and pictures)."""
from __future__ import annotations

from typing import Any

import gradio as gr

from core import pipeline
from core.registry import Registry
from core.ui.common import image_input
from core.ui.controls import user_errors


def build(registry: Registry) -> None:
    with gr.Row(equal_height=False):
        with gr.Column():
            image = image_input("Image to analyse")
            run = gr.Button("Analyze", variant="primary")
        with gr.Column():
            figures = gr.Gallery(label="Figures", columns=2, height="auto", object_fit="contain")
            data = gr.JSON(label="Analysis")

    @user_errors
    def on_analyze(path: str | None) -> tuple[Any, Any]:
        if not path:
            raise pipeline.UserError("upload an image to analyse")
        result = pipeline.analyze(path, registry=registry)
        return [(im, name) for name, im in result.figures.items()], result.data

    run.click(on_analyze, [image], [figures, data], api_visibility="private")
