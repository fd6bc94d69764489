"""Generate tab: prompt + backend (with that backend's own controls) -> images."""
from __future__ import annotations

import random
from typing import Any

import gradio as gr

from core import pipeline
from core.registry import Registry
from core.ui.common import IMAGE_FORMAT
from core.ui.controls import build_controls, progress_fn, user_errors, values_to_params

EXAMPLE_PROMPTS = [
    "a red circle on a blue background",
    "a yellow square to the left of a green triangle",
    "two purple circles on a white background",
    "a sunset over the mountains",
    "green hills on a sunny day with clouds",
    "mountains at night with a full moon by the sea",
]


def build(registry: Registry) -> None:
    backends = sorted(registry.generators)
    if not backends:
        gr.Markdown("No generator is installed. See the **Plugins** tab for what failed to load.")
        return
    default = pipeline.DEFAULT_BACKEND if pipeline.DEFAULT_BACKEND in backends else backends[0]
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            prompt = gr.Textbox(label="Prompt", lines=2, max_length=2000,
                                placeholder="a red circle on a blue background")
            gr.Examples(EXAMPLE_PROMPTS, inputs=[prompt], label="Example prompts")
            backend = gr.Dropdown([(registry.generators[b].label, b) for b in backends],
                                  value=default, label="Backend")
            with gr.Row():
                n = gr.Slider(1, 16, value=4, step=1, label="Number of images")
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
                dice = gr.Button("🎲 Random seed", size="sm")
            groups, controls = [], {}
            for name in backends:
                with gr.Group(visible=name == default) as group:
                    controls[name] = build_controls(registry.generators[name].params)
                groups.append(group)
            run = gr.Button("Generate", variant="primary")
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Images", format=IMAGE_FORMAT, columns=4, height="auto",
                                 object_fit="contain")
            settings = gr.JSON(label="Settings", open=False)

    backend.change(lambda b: [gr.update(visible=b == name) for name in backends], backend, groups,
                   api_visibility="private")
    dice.click(lambda: random.randint(0, 2**31 - 1), None, seed, api_visibility="private")
    all_controls = [c for name in backends for c in controls[name]]

    @user_errors
    def on_generate(prompt_text: str, backend_name: str, count: float, seed_value: float,
                    *values: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any]:
        offset = 0
        for name in backends:
            size = len(controls[name])
            if name == backend_name:
                params = values_to_params(registry.generators[name].params, values[offset:offset + size])
            offset += size
        result = pipeline.generate(prompt_text, backend=backend_name, n=count, seed=seed_value,
                                   params=params, registry=registry, progress=progress_fn(progress))
        shown = [pipeline_display(im) for im in result.images]
        return shown, dict(result.settings, seconds=round(result.seconds, 3))

    gr.on([run.click, prompt.submit], on_generate, [prompt, backend, n, seed, *all_controls],
          [gallery, settings], api_visibility="private", concurrency_id="models")


def pipeline_display(image: Any, minimum: int = 256) -> Any:
    """Small native outputs enlarged with nearest-neighbour steps (crisp, no blur)."""
    from PIL import Image

    factor = max(1, minimum // max(image.size))
    if factor > 1:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    return image
