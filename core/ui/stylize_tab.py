"""Stylize tab: build an edit recipe one operation at a time, watching it live.

The recipe (JSON, the same language as ``python -m core stylize`` and the
``/stylize`` endpoint) is the state. Every change goes through :func:`commit`,
which validates the new recipe and renders it with ``core.pipeline.stylize``
before anything is stored: a bad operation raises a ``gr.Error`` and leaves the
picture, the recipe and the undo history exactly as they were.

The controls of each operation are built from its parameter schema, so an
operation added by a third-party plugin appears here with no change to this file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import gradio as gr
from PIL import Image, ImageOps

from core import pipeline
from core.errors import UserError
from core.images import load_image
from core.metadata import save_png
from core.recipe import Recipe, load_recipe_file, parse_recipe
from core.registry import Registry
from core.ui.files import output_folder
from core.ui.common import image_input, image_output, uploaded_files
from core.ui.controls import PluginControls, user_errors

CATEGORY_ORDER = ("geometry", "tone", "artistic", "elements")
MAX_HISTORY = 100
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "stylize"
EXAMPLES = [("astronaut.jpg", "postcard.json"), ("chelsea.jpg", "comic.json"),
            ("coffee.jpg", "oil.json"), ("chelsea.jpg", "pixel.json"),
            ("astronaut.jpg", "spring.json"), ("coffee.jpg", "sketch.json")]


# --------------------------------------------------------------------------- history (pure)


def new_history(recipe: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"recipes": [dict(recipe or {"seed": 0, "ops": []})], "index": 0}


def current(history: Mapping[str, Any]) -> dict[str, Any]:
    return history["recipes"][history["index"]]


def push(history: Mapping[str, Any], recipe: Mapping[str, Any]) -> dict[str, Any]:
    """A new history with ``recipe`` as the current step; the redo tail is dropped.
    Pushing the recipe that is already current changes nothing."""
    recipe = json.loads(json.dumps(recipe))          # a plain, detached copy
    if recipe == current(history):
        return dict(history)
    recipes = list(history["recipes"][:history["index"] + 1]) + [recipe]
    recipes = recipes[-MAX_HISTORY:]
    return {"recipes": recipes, "index": len(recipes) - 1}


def step(history: Mapping[str, Any], delta: int) -> dict[str, Any]:
    """Undo (delta −1) or redo (+1); stays put at either end."""
    index = min(max(history["index"] + delta, 0), len(history["recipes"]) - 1)
    return {"recipes": list(history["recipes"]), "index": index}


def recipe_text(recipe: Mapping[str, Any]) -> str:
    return json.dumps(recipe, indent=1)


def with_op(recipe: Mapping[str, Any], op: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"seed": recipe.get("seed", 0), "ops": list(recipe.get("ops", [])) + [{"op": op, "params": dict(params)}]}


# --------------------------------------------------------------------------- rendering


def render(path: str | None, recipe: Recipe, registry: Registry) -> tuple[Any, Any]:
    """(before/after pair, result) for the slider and the result image; both
    None without a picture. The result is exactly what the CLI and API give."""
    if not path:
        return None, None
    after = pipeline.stylize(path, recipe, registry=registry).image
    before = load_image(path, keep_alpha=True, what="image to stylize")
    if before.size != after.size:   # crops, frames...: fit the original into the same box
        before = ImageOps.pad(before, after.size, color=(0, 0, 0, 0))
    return (before, after), after


def save_download(recipe: Mapping[str, Any]) -> str:
    """The recipe as a .json file for the download button (named by its content)."""
    text = recipe_text(recipe)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = output_folder("recipes") / f"recipe-{digest}.json"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def commit(path: str | None, history: Mapping[str, Any], proposed: Any,
           registry: Registry) -> tuple[Any, ...]:
    """Validate and render ``proposed``; only then make it the current recipe."""
    parsed = parse_recipe(proposed, registry.filters)
    pair, result = render(path, parsed, registry)
    new = push(history, parsed.to_json())
    return _outputs(new, pair, result, _summary(current(new), result))


def show(path: str | None, history: Mapping[str, Any], registry: Registry) -> tuple[Any, ...]:
    """Re-render the current recipe of ``history`` (after undo, redo, a new picture)."""
    recipe = current(history)
    pair, result = render(path, parse_recipe(recipe, registry.filters), registry)
    return _outputs(dict(history), pair, result, _summary(recipe, result))


def _outputs(history: dict[str, Any], pair: Any, result: Any, status: str) -> tuple[Any, ...]:
    recipe = current(history)
    return (recipe_text(recipe), history, pair, result, save_download(recipe),
            recipe.get("seed", 0), status, result)


def _summary(recipe: Mapping[str, Any], result: Image.Image | None) -> str:
    ops = " → ".join(op["op"] for op in recipe.get("ops", [])) or "no operations yet"
    size = f" · {result.width}×{result.height} px" if result is not None else " · upload a picture to see it"
    return f"**Recipe:** {ops}{size}"


def operation_choices(registry: Registry) -> list[tuple[str, str]]:
    """(shown label, op name), grouped by category in a fixed order."""

    def order(name: str) -> tuple[int, str, str]:
        category = getattr(registry.filters[name], "category", "other")
        rank = CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)
        return rank, category, registry.filters[name].label

    names = sorted(registry.filters, key=order)
    return [(f"{getattr(registry.filters[n], 'category', 'other').capitalize()} › "
             f"{registry.filters[n].label}", n) for n in names]


def _examples() -> list[list[str]]:
    rows = []
    for image_name, recipe_name in EXAMPLES:
        image_path, recipe_path = ASSETS / "examples" / image_name, ASSETS / "recipes" / recipe_name
        if image_path.is_file() and recipe_path.is_file():
            rows.append([str(image_path), recipe_path.read_text(encoding="utf-8")])
    return rows


# --------------------------------------------------------------------------- layout


def settings_png(image: Image.Image | None, lineage: Mapping[str, Any] | None,
                 recipe: Mapping[str, Any], folder: Path) -> str | None:
    """The committed result as a PNG carrying its settings. A picture that came
    from the Generate tab carries that generation's settings plus this recipe
    under ``then``, so ``python -m core generate --from-png`` rebuilds it."""
    if image is None:
        return None
    if lineage:
        settings = dict(lineage, then=list(lineage.get("then") or []) + [dict(recipe)])
    else:
        settings = {"source": "uploaded picture", "recipe": dict(recipe)}
    text = json.dumps(settings, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode() + image.tobytes()).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"stylized-{digest}.png"
    if not path.exists():
        save_png(image, path, settings)
    return str(path)


@dataclass
class StylizeTab:
    image: gr.Image
    lineage: gr.State          # settings of the generation the picture came from, or None
    show_picture: Callable[[Any], Any]   # follow an event that set ``image`` with a render


def build(registry: Registry) -> StylizeTab | None:
    if not registry.filters:
        gr.Markdown("No Stylize operation is installed. See the **Plugins** tab for what failed to load.")
        return None
    choices = operation_choices(registry)
    names = [name for _, name in choices]
    first = names[0]
    history = gr.State(new_history())
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            image = image_input("Picture", image_mode=None)
            operation = gr.Dropdown(choices, value=first, label="Operation",
                                    info="grouped by category: geometry, tone, artistic, elements")
            op_help = gr.Markdown(getattr(registry.filters[first], "help", "") or "")
            panels = PluginControls({name: registry.filters[name] for name in names}, first)
            with gr.Row():
                add = gr.Button("Add to recipe", variant="primary")
                live = gr.Checkbox(value=True, label="Live preview", info="show the operation before adding it")
            with gr.Row():
                undo = gr.Button("↶ Undo", size="sm")
                redo = gr.Button("↷ Redo", size="sm")
                reset = gr.Button("⟲ Reset", size="sm")
            seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1, label="Seed",
                             info="fixes every random choice (grain, scatter, paper...)")
            code = gr.Code(recipe_text(current(new_history())), language="json", label="Recipe (JSON)",
                           interactive=True, lines=8, max_lines=24)
            with gr.Row():
                apply_code = gr.Button("Apply edited JSON", size="sm")
                upload = gr.UploadButton("⬆ Upload recipe", file_types=[".json"], size="sm")
                download = gr.DownloadButton("⬇ Download recipe", value=save_download(current(new_history())),
                                             size="sm")
        with gr.Column(scale=3):
            slider = gr.ImageSlider(label="Before / after", type="pil", image_mode=None, max_height=640,
                                    interactive=False)
            status = gr.Markdown(_summary(current(new_history()), None))
            result = image_output("Result (download)", image_mode=None)
            png = gr.DownloadButton("⬇ PNG with settings", size="sm", visible=False)
    if _examples():
        examples = gr.Examples(_examples(), inputs=[image, code], label="Examples: a picture and a recipe")

    all_controls = panels.all
    committed = gr.State()      # the last committed result (never a live preview)
    lineage = gr.State()
    outputs = [code, history, slider, result, download, seed, status, committed]

    def pending(op_name: str, values: tuple[Any, ...]) -> dict[str, Any]:
        return panels.params(op_name, values)

    @user_errors
    def on_add(path: str | None, hist: dict[str, Any], op_name: str, *values: Any) -> tuple[Any, ...]:
        return commit(path, hist, with_op(current(hist), op_name, pending(op_name, values)), registry)

    @user_errors
    def on_step(path: str | None, hist: dict[str, Any], delta: int) -> tuple[Any, ...]:
        return show(path, step(hist, delta), registry)

    @user_errors
    def on_reset(path: str | None, hist: dict[str, Any]) -> tuple[Any, ...]:
        return commit(path, hist, {"seed": current(hist).get("seed", 0), "ops": []}, registry)

    @user_errors
    def on_code(path: str | None, hist: dict[str, Any], text: str) -> tuple[Any, ...]:
        return commit(path, hist, text, registry)

    @user_errors
    def on_upload(path: str | None, hist: dict[str, Any], file: str | None) -> tuple[Any, ...]:
        if not file:
            raise UserError("choose a .json recipe file to upload")
        return commit(path, hist, load_recipe_file(uploaded_files(file, "recipes")[0]), registry)

    @user_errors
    def on_seed(path: str | None, hist: dict[str, Any], value: float | None) -> tuple[Any, ...]:
        seed_value = pipeline.check_int(value if value is not None else 0, "seed", 0, 2**32 - 1)
        return commit(path, hist, dict(current(hist), seed=seed_value), registry)

    @user_errors
    def on_image(path: str | None, hist: dict[str, Any]) -> tuple[Any, ...]:
        return show(path, hist, registry)

    def on_live(path: str | None, hist: dict[str, Any], enabled: bool, op_name: str,
                *values: Any) -> tuple[Any, ...]:
        """Preview the recipe plus the operation being set up, without adding it.
        A bad value here only shows a note: the last good preview stays."""
        if not enabled or not path:
            return gr.update(), gr.update(), gr.update()
        try:
            proposed = parse_recipe(with_op(current(hist), op_name, pending(op_name, values)), registry.filters)
            pair, image_out = render(path, proposed, registry)
        except (UserError, pipeline.JobError) as exc:
            return gr.update(), gr.update(), f"⚠️ {exc}"
        return pair, image_out, f"**Preview** of {op_name} (not yet added) · {image_out.width}×{image_out.height} px"

    def on_pick(op_name: str) -> list[Any]:
        help_text = getattr(registry.filters[op_name], "help", "") or ""
        return panels.show(op_name) + [help_text]

    # One queue for the tab's jobs, so a live preview never lands after a newer commit.
    private: dict[str, Any] = dict(api_visibility="private", concurrency_id="stylize")
    # Jobs write into an invisible staging State and are published only on success:
    # a failing job marks just that State, so the picture, the before/after view
    # and the recipe on screen stay exactly as they were (no error overlay on them).
    staged = gr.State()

    def on_committed(image_value: Any, source: Any, hist: dict[str, Any]) -> Any:
        path = settings_png(image_value, source, current(hist), output_folder("stylized"))
        return gr.update(value=path, visible=path is not None)

    def wire(triggers: Any, fn: Any, inputs: list[Any]) -> Any:
        def staged_fn(*args: Any) -> dict[str, Any]:
            return {"outputs": fn(*args)}

        if isinstance(triggers, list):
            event = gr.on(triggers, staged_fn, inputs, [staged], **private)
        else:   # a previous event to follow (an upload, the examples' loading, a hand-off)
            event = triggers.then(staged_fn, inputs, [staged], **private)
        published = event.success(lambda box: tuple(box["outputs"]), staged, outputs,
                                  api_visibility="private", queue=False)
        published.then(on_committed, [committed, lineage, history], [png], api_visibility="private")
        return event

    wire([add.click], on_add, [image, history, operation, *all_controls])
    wire([undo.click], lambda p, h: on_step(p, h, -1), [image, history])
    wire([redo.click], lambda p, h: on_step(p, h, +1), [image, history])
    wire([reset.click], on_reset, [image, history])
    wire([apply_code.click], on_code, [image, history, code])
    wire([upload.upload], on_upload, [image, history, upload])
    wire([seed.submit, seed.blur], on_seed, [image, history, seed])
    # .input, not .change: only a person's upload re-renders here; an example
    # sets the picture programmatically and renders through its own chain below.
    # a person's own picture has no generation settings: forget them first
    wire(image.input(lambda: None, None, [lineage], api_visibility="private", queue=False),
         on_image, [image, history])
    operation.change(on_pick, operation, [*panels.groups, op_help], api_visibility="private", queue=False)

    live_inputs = [image, history, live, operation, *all_controls]
    triggers = [operation.input]
    for control in all_controls:
        triggers.append(control.release if isinstance(control, gr.Slider) else control.input)
    gr.on(triggers, on_live, live_inputs, [slider, result, status], trigger_mode="always_last",
          show_progress="minimal", **private)
    if _examples():
        wire(examples.load_input_event.then(lambda: None, None, [lineage], api_visibility="private",
                                            queue=False),
             on_code, [image, history, code])

    return StylizeTab(image, lineage, lambda event: wire(event, on_image, [image, history]))
