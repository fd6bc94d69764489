"""Generate tab: prompt + backend (with its own controls) + a style + an optional
recipe -> pictures, kept in this session's history.

Every result is saved once as a PNG that carries its full settings
(``core.metadata``), so the download, "Load settings from image" and
``python -m core generate --from-png`` all see the same file. The selected
result is what the "Send to ..." buttons (wired in :mod:`core.ui.studio`) hand on.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import gradio as gr
from PIL import Image

from core import limits, pipeline
from core.errors import UserError
from core.metadata import read_settings, save_png
from core.registry import Registry
from core.style import parse_style_spec
from core.ui.files import output_folder
from core.ui.common import IMAGE_FORMAT, image_input, uploaded_files
from core.ui.controls import PluginControls, on_stop, progress_fn, stops, user_errors

EXAMPLE_PROMPTS = [
    "a red circle on a blue background",
    "a yellow square to the left of a green triangle",
    "two purple circles on a white background",
    "a sunset over the mountains",
    "green hills on a sunny day with clouds",
    "mountains at night with a full moon by the sea",
]
STYLE_KINDS = ("none", "preset", "picture", "palette")
MAX_HISTORY = 60
DISPLAY_MIN_SIDE = 256


# --------------------------------------------------------------------------- pure helpers


def style_spec(kind: str, preset: Any, picture: Any, palette: str, folder: Path) -> str:
    """The style picker's fields as a core style spec (``preset:7``, ``image:PATH``,
    ``palette:#..``); a pasted picture (bytes) is written to ``folder`` first."""
    if kind == "preset":
        if preset is None or preset == "":
            raise UserError("pick a preset for the style, or choose style: none")
        return f"preset:{int(preset)}"
    if kind == "picture":
        if not picture:
            raise UserError("upload a style picture, or choose style: none")
        if isinstance(picture, bytes):
            path = folder / f"style-{uuid.uuid4().hex[:8]}"
            path.write_bytes(picture)
            picture = str(path)
        return f"image:{picture}"
    if kind == "palette":
        text = ",".join(part.strip() for part in (palette or "").replace(";", ",").split(",") if part.strip())
        if not text:
            raise UserError("type a palette such as #e53935, #1e88e5, or choose style: none")
        return f"palette:{text}"
    return "none"


def style_fields(spec: str | None) -> tuple[str, int | None, str]:
    """The inverse of :func:`style_spec` for restoring settings: (kind, preset, palette).
    A picture style cannot be restored from another session, so it reads as none."""
    choice = parse_style_spec(spec)
    if choice.kind == "preset" and len(choice.presets) == 1:
        return "preset", choice.presets[0][0], ""
    if choice.kind == "palette":
        return "palette", None, ", ".join(choice.palette)
    return "none", None, ""


def display_copy(image: Image.Image, minimum: int = DISPLAY_MIN_SIDE) -> Image.Image:
    """Small native outputs enlarged by a whole factor with nearest neighbour: crisp
    pixels, no blur, and what the model drew is what you see."""
    factor = max(1, minimum // max(image.size))
    if factor > 1:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    return image


def session_folder(request: gr.Request | None) -> Path:
    """One folder per browser session, so one visitor's files never mix with another's."""
    return output_folder("results", str(getattr(request, "session_hash", None) or "local"))


def save_results(images: Sequence[Image.Image], settings: Mapping[str, Any], folder: Path) -> list[dict]:
    """Each picture as a PNG with its settings (+ a display copy when small)."""
    batch = uuid.uuid4().hex[:10]
    entries = []
    for index, image in enumerate(images):
        stem = f"{settings['backend']}-{settings['seed']}-{batch}-{index}"
        path = folder / f"{stem}.png"
        item = dict(settings, index=index)
        save_png(image, path, item)
        shown = display_copy(image)
        display = path
        if shown is not image:
            display = folder / f"{stem}-view.png"
            shown.save(display)
        caption = f"{settings['prompt'][:60]} · {settings['backend']} · seed {settings['seed']} #{index}"
        entries.append({"path": str(path), "display": str(display), "settings": item, "caption": caption})
    return entries


def gallery_items(entries: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(e["display"], e["caption"]) for e in entries]


# --------------------------------------------------------------------------- the tab


@dataclass
class GenerateTab:
    """What other tabs and the studio wiring need from this tab."""

    selected: gr.State             # {"path", "settings"} of the picked result, or None
    style_kind: gr.Radio
    style_picture: gr.Image
    palette: gr.Textbox
    send_analyze: gr.Button
    send_transfer: gr.Button
    send_stylize: gr.Button
    use_as_style: gr.Button


def build(registry: Registry) -> GenerateTab | None:
    backends = sorted(registry.generators)
    if not backends:
        gr.Markdown("No generator is installed. See the **Plugins** tab for what failed to load.")
        return None
    default = pipeline.DEFAULT_BACKEND if pipeline.DEFAULT_BACKEND in backends else backends[0]
    presets = _preset_choices(registry)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            prompt = gr.Textbox(label="Prompt", lines=2, max_length=limits.MAX_PROMPT_CHARS,
                                placeholder="a red circle on a blue background")
            gr.Examples(EXAMPLE_PROMPTS, inputs=[prompt], label="Example prompts")
            backend = gr.Dropdown([(registry.generators[b].label, b) for b in backends],
                                  value=default, label="Backend")
            with gr.Row():
                n = gr.Slider(1, limits.MAX_IMAGES_PER_REQUEST, value=4, step=1, label="Number of images")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1, label="Seed")
                dice = gr.Button("Random seed", size="sm")
            panels = PluginControls({b: registry.generators[b] for b in backends}, default)
            with gr.Accordion("Style", open=True):
                style_kind = gr.Radio(list(STYLE_KINDS), value="none", label="Style",
                                      info="applied after generation: a preset or a picture through "
                                           "the transfer engine, a palette by recolouring")
                preset = gr.Dropdown(presets, value=presets[0][1] if presets else None,
                                     label="Preset", visible=False)
                style_picture = image_input("Style picture", visible=False)
                palette = gr.Textbox(label="Palette", placeholder="#e53935, #1e88e5, #fdd835",
                                     visible=False, info="or take one from the Analyze tab")
                strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Style strength")
            with gr.Accordion("Starting picture and recipe (optional)", open=False):
                init = image_input("Starting picture (backends that vary a picture: VAE, diffusers)")
                recipe = gr.Code(label="Stylize recipe applied to every result (JSON)",
                                 language="json", lines=4, interactive=True)
            with gr.Row():
                run = gr.Button("Generate", variant="primary", scale=4)
                stop = gr.Button("■ Stop", variant="stop", scale=1)
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Results (click one to pick it)", format=IMAGE_FORMAT,
                                 columns=4, height="auto", object_fit="contain", allow_preview=True)
            with gr.Row():
                send_analyze = gr.Button("Send to Analyze", size="sm")
                send_transfer = gr.Button("Send to Transfer", size="sm")
                send_stylize = gr.Button("Send to Stylize", size="sm")
                use_as_style = gr.Button("Use as style", size="sm")
            with gr.Row():
                download = gr.DownloadButton("⬇ PNG with settings", size="sm", visible=False)
                load = gr.UploadButton("⬆ Load settings from image", file_types=[".png"], size="sm")
            picked = gr.Markdown("")
            history_gallery = gr.Gallery(label="History (this session)", format=IMAGE_FORMAT,
                                         columns=8, height=220, object_fit="contain",
                                         allow_preview=False)
            settings_view = gr.JSON(label="Settings", open=False)
            with gr.Accordion("Interpolate between two prompts or seeds (GIF)",
                              open=False, visible=_can_interpolate(registry, default)) as walk_box:
                with gr.Row():
                    prompt_b = gr.Textbox(label="Second prompt (empty: the same prompt)", scale=3)
                    seed_b = gr.Number(value=1, precision=0, minimum=0, label="Second seed", scale=1)
                    frames = gr.Slider(2, pipeline.MAX_FRAMES, value=16, step=1, label="Frames", scale=1)
                walk = gr.Button("Interpolate")
                animation = gr.Image(label="Latent walk", type="filepath", format="gif",
                                     interactive=False)
    selected = gr.State(None)
    history = gr.State([])
    batch = gr.State([])
    all_controls = panels.all

    def pick(entry: Mapping[str, Any] | None) -> tuple[Any, ...]:
        if not entry:
            return None, gr.update(visible=False), "", None
        note = f"Picked: **{entry['caption']}**"
        return (dict(entry), gr.update(value=entry["path"], visible=True), note, entry["settings"])

    @user_errors
    def on_generate(prompt_text: str, backend_name: str, count: float, seed_value: float,
                    kind: str, preset_index: Any, picture: Any, palette_text: str, strength_value: float,
                    start: Any, recipe_text: str, past: list, *values: Any,
                    request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        folder = session_folder(request)
        spec = style_spec(kind, preset_index, picture, palette_text, folder)
        result = pipeline.generate(prompt_text, backend=backend_name, n=count, seed=seed_value,
                                   params=panels.params(backend_name, values), style=spec,
                                   style_strength=strength_value,
                                   recipe=recipe_text or None,
                                   init_image=start or None, registry=registry,
                                   progress=progress_fn(progress, stops.start(request)))
        entries = save_results(result.images, dict(result.settings, seconds=round(result.seconds, 3)), folder)
        kept = (entries + list(past))[:MAX_HISTORY]
        return (gallery_items(entries), entries, kept, gallery_items(kept), *pick(entries[0]))

    outputs = [gallery, batch, history, history_gallery, selected, download, picked, settings_view]
    generating = gr.on([run.click, prompt.submit], on_generate,
          [prompt, backend, n, seed, style_kind, preset, style_picture, palette, strength, init, recipe,
           history, *all_controls], outputs, api_visibility="private", concurrency_id="models")

    def on_select(entries: list, evt: gr.SelectData) -> tuple[Any, ...]:
        return pick(entries[evt.index] if 0 <= evt.index < len(entries) else None)

    pick_outputs = [selected, download, picked, settings_view]
    gallery.select(on_select, [batch], pick_outputs, api_visibility="private", queue=False)
    history_gallery.select(on_select, [history], pick_outputs, api_visibility="private", queue=False)

    @user_errors
    def on_load(file: Any) -> list[Any]:
        if not file:
            raise UserError("choose a PNG saved by Impasto")
        settings = read_settings(uploaded_files(file, "pictures")[0])
        name = settings.get("backend")
        if name not in registry.generators:
            raise UserError(f"this picture was made with the {name!r} backend, which is not installed")
        kind, preset_index, palette_text = style_fields(settings.get("style"))
        saved = settings.get("params") or {}
        updates = [gr.update(value=saved[p.name]) if b == name and p.name in saved else gr.update()
                   for b in backends for p in registry.generators[b].params]
        recipe_value = settings.get("recipe")
        return [settings.get("prompt", ""), name, settings.get("n", 1), settings.get("seed", 0), kind,
                gr.update(value=preset_index) if preset_index is not None else gr.update(),
                palette_text, settings.get("style_strength", 1.0),
                json.dumps(recipe_value, indent=1) if recipe_value else "", *updates]

    load.upload(on_load, [load], [prompt, backend, n, seed, style_kind, preset, palette, strength, recipe,
                                  *all_controls], api_visibility="private")

    backend.change(lambda b: panels.show(b) + [gr.update(visible=_can_interpolate(registry, b))],
                   backend, [*panels.groups, walk_box], api_visibility="private")
    style_kind.change(lambda k: [gr.update(visible=k == "preset"), gr.update(visible=k == "picture"),
                                 gr.update(visible=k == "palette")],
                      style_kind, [preset, style_picture, palette], api_visibility="private", queue=False)
    dice.click(lambda: random.randint(0, 2**31 - 1), None, seed, api_visibility="private", queue=False)

    @user_errors
    def on_walk(prompt_text: str, backend_name: str, seed_value: float, second: str, second_seed: float,
                count: float, request: gr.Request = None,
                progress: gr.Progress = gr.Progress()) -> str:
        images = pipeline.interpolate(prompt_text, second, backend=backend_name, seed_a=seed_value,
                                      seed_b=second_seed, frames=count, registry=registry,
                                      progress=progress_fn(progress, stops.start(request)))
        shown = [display_copy(im) for im in images]
        path = session_folder(request) / f"walk-{uuid.uuid4().hex[:10]}.gif"
        # there and back again, so the loop has no jump
        loop = shown + shown[-2:0:-1]
        loop[0].save(path, save_all=True, append_images=loop[1:], duration=80, loop=0)
        return str(path)

    walking = walk.click(on_walk, [prompt, backend, seed, prompt_b, seed_b, frames], [animation],
                         api_visibility="private", concurrency_id="models")
    stop.click(on_stop, None, None, cancels=[generating, walking], api_visibility="private", queue=False)
    return GenerateTab(selected, style_kind, style_picture, palette, send_analyze, send_transfer,
                       send_stylize, use_as_style)


def _can_interpolate(registry: Registry, backend: str) -> bool:
    return callable(getattr(registry.generators.get(backend), "interpolate", None))


def _preset_choices(registry: Registry) -> list[tuple[str, int]]:
    if not registry.style_transfers:
        return []
    engine = registry.style_transfers[pipeline.default_engine(registry)]
    return [(p.label, p.index) for p in engine.presets]
