"""Transfer tab: paint a content image in a preset's or a picture's style."""
from __future__ import annotations

from typing import Any

import gradio as gr

from core import pipeline
from core.registry import Registry
from core.ui.common import image_input, image_output
from core.ui.controls import progress_fn, user_errors


def build(registry: Registry) -> None:
    if not registry.style_transfers:
        gr.Markdown("No style-transfer engine is installed. See the **Plugins** tab.")
        return
    with gr.Row(equal_height=False):
        with gr.Column():
            content = image_input("Content")
            style_image = image_input("Style image (optional)")
            preset = gr.Textbox(label="Preset(s)", placeholder="7  or  3:0.5,12:0.5")
            strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength")
            preserve = gr.Checkbox(label="Preserve the content's colours")
            max_size = gr.Slider(128, 2048, value=1024, step=64, label="Output size (long side, px)")
            run = gr.Button("Transfer", variant="primary")
        with gr.Column():
            output = image_output("Result")

    @user_errors
    def on_transfer(content_path: str | None, style_path: str | None, preset_text: str,
                    strength_value: float, preserve_color: bool, size: float,
                    progress: gr.Progress = gr.Progress()) -> Any:
        if not content_path:
            raise pipeline.UserError("upload a content image")
        presets = pipeline.parse_presets(preset_text) if preset_text.strip() else []
        blend = pipeline.make_blend(presets, [(style_path, 1.0)] if style_path else [])
        return pipeline.transfer(content_path, blend, strength=strength_value,
                                 preserve_color=preserve_color, max_size=size, registry=registry,
                                 progress=progress_fn(progress)).image

    run.click(on_transfer, [content, style_image, preset, strength, preserve, max_size], [output],
              api_visibility="private", concurrency_id="models")
