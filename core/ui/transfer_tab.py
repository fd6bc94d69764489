"""Transfer tab: paint one or more content pictures in a style.

The style is a blend: presets picked from a thumbnail gallery (a click adds a
preset to the blend, a second click takes it out; the weights are edited in the
text box as ``3:0.5,12:0.5``) and/or uploaded style pictures with their own
weights. Strength, colour preservation, output size and the engine's own
parameters come next; the first result is shown as a before/after slider and
every result in a gallery. All work goes through ``core.pipeline``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from core import limits, pipeline
from core.errors import UserError
from core.images import load_image
from core.registry import Registry
from core.style import parse_presets
from core.ui.common import EXAMPLE_DIRS, IMAGE_FORMAT, image_input, uploaded_files
from core.ui.controls import PluginControls, on_stop, progress_fn, stops, user_errors

EXAMPLE_STYLES = ("swirls", "stained_glass", "cubist")


# --------------------------------------------------------------------------- pure helpers


def toggle_preset(spec: str, index: int) -> str:
    """Add preset ``index`` (weight 1) to a blend spec, or take it out if present."""
    items = [item.strip() for item in (spec or "").split(",") if item.strip()]
    kept = [item for item in items if item.partition(":")[0].strip() != str(index)]
    if len(kept) == len(items):
        kept.append(f"{index}:1")
    return ",".join(kept)


def style_weights(text: str, count: int) -> list[float | str]:
    """One weight per style picture, in upload order; empty text means equal
    weights. Checking the numbers is core's job (``pipeline.make_blend``)."""
    parts = [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]
    if not parts:
        return [1.0] * count
    if len(parts) != count:
        raise UserError(f"give one weight per style image: {count} image(s), {len(parts)} weight(s)")
    return parts


def preset_gallery(engine: Any) -> list[tuple[str, str]]:
    return [(p.thumbnail, p.label) for p in engine.presets if p.thumbnail]


# --------------------------------------------------------------------------- the tab


@dataclass
class TransferTab:
    content: gr.Image
    styles: gr.File


def build(registry: Registry) -> TransferTab | None:
    if not registry.style_transfers:
        gr.Markdown("No style-transfer engine is installed. See the **Plugins** tab.")
        return None
    engines = sorted(registry.style_transfers)
    default = pipeline.default_engine(registry)
    with gr.Row(equal_height=False):
        with gr.Column():
            content = image_input("Content")
            batch = gr.File(label="More content pictures (optional batch, same style)",
                            file_count="multiple", file_types=["image"], height=120)
        with gr.Column():
            slider = gr.ImageSlider(label="Before / after", type="pil", format=IMAGE_FORMAT,
                                    max_height=640)
    gallery = gr.Gallery(preset_gallery(registry.style_transfers[default]),
                         label="Presets: click to add to the blend, click again to remove",
                         columns=9, height=440, allow_preview=False, object_fit="cover")
    with gr.Row():
        presets = gr.Textbox(label="Preset blend", placeholder="7  or  3:0.5,12:0.5", scale=5,
                             info="preset:weight, comma-separated; weights are relative")
        clear = gr.Button("Clear presets", size="sm", scale=1)
    with gr.Row(equal_height=False):
        with gr.Column():
            styles = gr.File(label="Style pictures (any painting or photo)", file_count="multiple",
                             file_types=["image"], height=140)
            _examples(styles)
            weights = gr.Textbox(label="Style picture weights", placeholder="1, 1",
                                 info="one per style picture, in order; empty means equal")
        with gr.Column():
            engine = gr.Dropdown([(registry.style_transfers[e].label, e) for e in engines],
                                 value=default, label="Engine", visible=len(engines) > 1)
            strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength",
                                 info="0 paints the content in its own style, 1 fully in the chosen one")
            preserve = gr.Checkbox(label="Preserve the content's colours")
            max_size = gr.Slider(128, limits.MAX_OUTPUT_SIDE, value=1024, step=64,
                                 label="Output size (long side, px)")
            panels = PluginControls({e: registry.style_transfers[e] for e in engines}, default)
            with gr.Row():
                run = gr.Button("Transfer", variant="primary", scale=4)
                stop = gr.Button("■ Stop", variant="stop", scale=1)
    results = gr.Gallery(label="Results", format=IMAGE_FORMAT, columns=4, height="auto", preview=False,
                         object_fit="contain", buttons=["download", "download_all", "fullscreen"])
    info = gr.JSON(label="Settings", open=False)

    def on_select(spec: str, engine_name: str, evt: gr.SelectData) -> str:
        shown = [p for p in registry.style_transfers[engine_name].presets if p.thumbnail]
        return toggle_preset(spec, shown[evt.index].index)

    gallery.select(on_select, [presets, engine], [presets], api_visibility="private")
    clear.click(lambda: "", None, [presets], api_visibility="private")
    engine.change(lambda e: panels.show(e) + [gr.update(value=preset_gallery(registry.style_transfers[e]))],
                  [engine], [*panels.groups, gallery], api_visibility="private")

    @user_errors
    def on_transfer(content_path: Any, batch_files: Any, engine_name: str, preset_text: str,
                    style_files: Any, weight_text: str, strength_value: float, preserve_color: bool,
                    size: float, *values: Any, request: gr.Request = None,
                    progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        contents = ([content_path] if content_path else []) + uploaded_files(batch_files, "content pictures")
        if not contents:
            raise UserError("upload a content picture")
        if len(contents) > limits.MAX_IMAGES_PER_REQUEST:
            raise UserError(f"at most {limits.MAX_IMAGES_PER_REQUEST} content pictures at once")
        chosen = parse_presets(preset_text) if preset_text and preset_text.strip() else []
        style_paths = uploaded_files(style_files, "style pictures")
        blend = pipeline.make_blend(chosen, list(zip(style_paths, style_weights(weight_text,
                                                                                len(style_paths)))))
        params = panels.params(engine_name, values)
        report = progress_fn(progress, stops.start(request))
        outputs, seconds = [], 0.0
        for i, source in enumerate(contents):
            def step(fraction: float, message: str = "", i: int = i) -> None:
                report((i + fraction) / len(contents), f"picture {i + 1}/{len(contents)}: {message}")
            result = pipeline.transfer(source, blend, engine=engine_name, strength=strength_value,
                                       preserve_color=preserve_color, max_size=size, params=params,
                                       registry=registry, progress=step)
            outputs.append(result.image)
            seconds += result.seconds
        before = load_image(contents[0], what="content image").resize(outputs[0].size,
                                                                      Image.Resampling.LANCZOS)
        settings = {"engine": engine_name, "presets": chosen, "style_images": len(style_paths),
                    "weights": [round(w, 4) for _, w in blend.presets + blend.images],
                    "strength": strength_value, "preserve_color": preserve_color,
                    "max_size": int(size), "params": params, "pictures": len(outputs),
                    "seconds": round(seconds, 3)}
        return (before, outputs[0]), outputs, settings

    transferring = run.click(on_transfer,
              [content, batch, engine, presets, styles, weights, strength, preserve, max_size,
               *panels.all],
              [slider, results, info], api_visibility="private", concurrency_id="models")
    stop.click(on_stop, None, None, cancels=[transferring], api_visibility="private", queue=False)
    return TransferTab(content, styles)


def _examples(styles: gr.File) -> None:
    """The shipped procedural style pictures, one click away."""
    folder = EXAMPLE_DIRS[0]
    found = [[[str(folder / f"{name}.jpg")]] for name in EXAMPLE_STYLES if (folder / f"{name}.jpg").is_file()]
    if found:
        gr.Examples(found, inputs=[styles], label="Example style pictures")
