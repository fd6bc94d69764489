"""The Stylize plugin and tab: every operation on real photos, determinism,
alpha correctness, bad input, and the recipe history of the tab."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data

import plugins.stylize as stylize_plugin
from core import pipeline
from core.errors import UserError
from core.params import Param
from core.recipe import parse_recipe
from core.registry import Registry, load_registry
from core.style import parse_style_spec
from core.ui import stylize_tab
from plugins.stylize import vector
from plugins.stylize.colorspace import srgb_to_cielab
from plugins.stylize.elements import FONT_DIR
from plugins.stylize.geometry import find_face, subject_point
from plugins.stylize.palette import map_to_palette
from plugins.stylize.stickers import STICKERS

REQUIRED = {
    "geometry": {"crop", "rotate", "flip", "resize"},
    "tone": {"brightness", "contrast", "saturation", "hue_shift", "temperature", "gamma",
             "auto_contrast", "recolor"},
    "artistic": {"grayscale", "sepia", "posterize", "pencil_sketch", "ink", "oil_paint", "watercolor",
                 "pixel_art", "halftone", "vignette", "film_grain", "blur", "sharpen"},
    "elements": {"sticker", "scatter", "caption", "border", "frame"},
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry()
    record = registry.add_plugin(stylize_plugin, "stylize", stylize_plugin.__version__, "builtin")
    assert record.status == "ok", record.error
    return registry


@pytest.fixture(scope="module")
def cat() -> Image.Image:
    return Image.fromarray(data.chelsea()).resize((150, 100), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def cutout() -> Image.Image:
    """An RGBA photo: the astronaut inside a soft-edged disc, transparent (and
    black underneath) outside it."""
    rgb = np.asarray(Image.fromarray(data.astronaut()).resize((96, 96), Image.Resampling.LANCZOS))
    ys, xs = np.mgrid[0:96, 0:96]
    alpha = np.clip(40 - np.hypot(xs - 48, ys - 48), 0, 1) * 255
    rgb = np.where(alpha[..., None] > 0, rgb, 0)
    return Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA")


def run(registry: Registry, image: Image.Image, ops: list, seed: int = 0) -> Image.Image:
    return pipeline.stylize(image, {"seed": seed, "ops": ops}, registry=registry).image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


# --------------------------------------------------------------------------- contract


def test_every_required_operation_is_registered_with_its_category(registry: Registry) -> None:
    for category, names in REQUIRED.items():
        for name in names:
            assert name in registry.filters, name
            assert registry.filters[name].category == category, name
    for op in registry.filters.values():
        assert op.label and all(isinstance(p, Param) for p in op.params)
        numeric = [p for p in op.params if p.type in ("int", "float")]
        assert all(p.min is not None and p.max is not None for p in numeric), op.name


def test_recolor_takes_a_colors_palette(registry: Registry) -> None:
    palette = {p.name: p for p in registry.filters["recolor"].params}["palette"]
    assert palette.type == "colors"


def test_the_plugin_loads_through_builtin_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_PLUGINS", "stylize")
    loaded = load_registry()
    record = next(r for r in loaded.plugins if r.name == "stylize")
    assert record.status == "ok" and "recolor" in record.provides["filters"]


@pytest.mark.parametrize("name", sorted(set().union(*REQUIRED.values())))
def test_each_operation_runs_on_rgb_and_rgba_and_is_deterministic(
        registry: Registry, cat: Image.Image, cutout: Image.Image, name: str) -> None:
    for image in (cat, cutout):
        first = run(registry, image, [{"op": name}], seed=5)
        again = run(registry, image, [{"op": name}], seed=5)
        assert first.mode in ("RGB", "RGBA") and min(first.size) >= 1
        assert first.tobytes() == again.tobytes(), f"{name} is not deterministic"


def test_operations_change_the_picture(registry: Registry, cat: Image.Image) -> None:
    unchanged_by_default = {"crop", "resize", "rotate", "border", "frame"}   # size changes instead
    before = pixels(cat.convert("RGBA"))
    for name in set().union(*REQUIRED.values()) - unchanged_by_default:
        after = pixels(run(registry, cat, [{"op": name}]))
        assert after.shape == before.shape, name
        assert np.abs(after - before).mean() > 0.5, f"{name} did nothing visible"


def test_random_ops_follow_the_seed(registry: Registry, cat: Image.Image) -> None:
    recipe = [{"op": "film_grain"}, {"op": "scatter", "params": {"count": 5}}, {"op": "frame",
              "params": {"style": "deckle"}}]
    same = [run(registry, cat, recipe, seed=1).tobytes() for _ in range(2)]
    other = run(registry, cat, recipe, seed=2).tobytes()
    assert same[0] == same[1] and same[0] != other


# --------------------------------------------------------------------------- geometry


def test_crop_presets_and_free_box(registry: Registry, cat: Image.Image) -> None:
    for aspect, ratio in (("1:1", 1.0), ("4:3", 4 / 3), ("3:2", 1.5), ("16:9", 16 / 9), ("9:16", 9 / 16)):
        out = run(registry, cat, [{"op": "crop", "params": {"aspect": aspect}}])
        assert abs(out.width / out.height - ratio) < 0.03, aspect
        assert out.width == cat.width or out.height == cat.height   # the largest that fits
    box = run(registry, cat, [{"op": "crop", "params": {"aspect": "free", "left": 0.1, "top": 0.2,
                                                         "width": 0.4, "height": 0.3}}])
    assert box.size == (60, 30)                 # fractions of 150×100
    assert np.array_equal(np.asarray(box)[..., :3], np.asarray(cat)[20:50, 15:75])


def test_thirds_crop_puts_the_subject_on_a_third_point(registry: Registry) -> None:
    canvas = np.full((300, 400, 3), 235, np.uint8)
    ys, xs = np.mgrid[0:300, 0:400]
    canvas[np.hypot(xs - 250, ys - 140) < 22] = (200, 30, 30)
    image = Image.fromarray(canvas)
    sx, sy = subject_point(image)
    assert abs(sx - 250) < 8 and abs(sy - 140) < 8
    params = {"aspect": "1:1", "anchor": "thirds", "zoom": 0.6}
    out = np.asarray(run(registry, image, [{"op": "crop", "params": params}]))
    red = np.argwhere((out[..., 0] > 150) & (out[..., 1] < 80))
    cy, cx = red.mean(axis=0) / out.shape[0]
    assert min(abs(cx - 1 / 3), abs(cx - 2 / 3)) < 0.05 and min(abs(cy - 1 / 3), abs(cy - 2 / 3)) < 0.05


def test_thirds_crop_keeps_a_face_with_the_eyes_on_the_upper_third(registry: Registry) -> None:
    portrait = Image.fromarray(data.astronaut())
    params = {"aspect": "16:9", "anchor": "thirds", "zoom": 0.8}
    out = run(registry, portrait, [{"op": "crop", "params": params}])
    face = find_face(out.convert("RGB"))
    assert face is not None, "the crop cut the face off"
    assert abs(face[1] / out.height - 1 / 3) < 0.08


def test_rotate_modes(registry: Registry, cat: Image.Image) -> None:
    quarter = run(registry, cat, [{"op": "rotate", "params": {"angle": 90}}])
    assert abs(quarter.width - cat.height) <= 1 and abs(quarter.height - cat.width) <= 1
    red = {"angle": 20, "mode": "keep", "fill": "#ff0000"}
    kept = np.asarray(run(registry, cat, [{"op": "rotate", "params": red}]))
    assert kept.shape[:2] == (cat.height, cat.width)
    assert tuple(kept[0, 0, :3]) == (255, 0, 0)                        # corners get the fill
    cropped = np.asarray(run(registry, cat, [{"op": "rotate", "params": dict(red, mode="crop")}]))
    corners = cropped[[0, 0, -1, -1], [0, -1, 0, -1], :3].astype(int)
    assert (np.abs(corners - [255, 0, 0]).sum(axis=1) > 60).all()     # no fill left in a crop
    clear = run(registry, cat, [{"op": "rotate", "params": {"angle": 30, "transparent": True}}])
    assert clear.mode == "RGBA" and clear.getpixel((0, 0))[3] == 0


def test_flip_and_resize(registry: Registry, cat: Image.Image) -> None:
    twice = run(registry, cat, [{"op": "flip"}, {"op": "flip"}])
    assert np.array_equal(np.asarray(twice)[..., :3], np.asarray(cat))
    mirrored = np.asarray(run(registry, cat, [{"op": "flip", "params": {"direction": "horizontal"}}]))
    assert np.array_equal(mirrored[:, ::-1, :3], np.asarray(cat))
    long_side = run(registry, cat, [{"op": "resize", "params": {"mode": "long_side", "pixels": 300}}])
    assert long_side.size == (300, 200)


# --------------------------------------------------------------------------- tone and palette


def test_tone_operations_move_tones_the_right_way(registry: Registry, cat: Image.Image) -> None:
    base = pixels(cat.convert("RGBA"))[..., :3]

    def after(op: str, **params: object) -> np.ndarray:
        return pixels(run(registry, cat, [{"op": op, "params": params}]))[..., :3]

    assert after("brightness", amount=0.3).mean() > base.mean() + 10
    assert after("brightness", amount=-0.3).mean() < base.mean() - 10
    assert after("contrast", amount=0.5).std() > base.std() * 1.1
    grey = after("saturation", factor=0.0)
    assert np.abs(grey - grey.mean(axis=-1, keepdims=True)).max() <= 2
    warm, cool = after("temperature", warmth=0.6), after("temperature", warmth=-0.6)
    assert (warm[..., 0] - warm[..., 2]).mean() > (cool[..., 0] - cool[..., 2]).mean() + 20
    assert np.abs(after("gamma", gamma=1.0) - base).max() == 0
    stretched = after("auto_contrast", cutoff=0.0)
    assert stretched.min() == 0 and stretched.max() == 255
    turned = after("hue_shift", degrees=120)
    assert np.abs(turned.mean(axis=-1) - base.mean(axis=-1)).mean() < 12   # lightness kept
    assert np.abs(turned - base).mean() > 10


def test_recolor_maps_onto_the_palette_perceptually(registry: Registry, cat: Image.Image) -> None:
    palette = ["#e53935", "#1e88e5", "#fdd835", "#212121", "#fafafa"]
    out = np.asarray(run(registry, cat, [{"op": "recolor", "params": {"palette": ",".join(palette)}}]))
    used = {tuple(c) for c in out[..., :3].reshape(-1, 3)}
    allowed = {tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in palette}
    assert used <= allowed and len(used) >= 3
    # The lookup table agrees with an exact nearest-in-CIELAB search.
    colours = np.random.default_rng(0).integers(0, 256, (3000, 1, 3)).astype(np.uint8)
    fast = map_to_palette(colours, palette)[:, 0]
    lab = srgb_to_cielab(colours.reshape(-1, 3) / 255.0)
    targets = srgb_to_cielab(np.array(sorted(allowed, key=lambda c: [
        tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in palette].index(c))) / 255.0)
    exact = ((lab[:, None] - targets[None]) ** 2).sum(-1).argmin(axis=1)
    assert (fast == exact).mean() > 0.97


def test_recolor_dithering_and_lightness(registry: Registry, cat: Image.Image) -> None:
    palette = "#000000,#ffffff,#e53935"
    allowed = {(0, 0, 0), (255, 255, 255), (0xe5, 0x39, 0x35)}
    for dither in ("ordered", "floyd-steinberg"):
        out = np.asarray(run(registry, cat, [{"op": "recolor", "params": {"palette": palette,
                                                                          "dither": dither}}]))
        assert {tuple(c) for c in out[..., :3].reshape(-1, 3)} <= allowed, dither
    kept = pixels(run(registry, cat, [{"op": "recolor", "params": {"palette": "#1e88e5,#e53935",
                                                                   "keep_lightness": True}}]))[..., :3]
    base = pixels(cat)
    assert np.abs(kept.mean(axis=-1) - base.mean(axis=-1)).mean() < 25       # lightness follows the photo
    assert (kept[..., 2] - kept[..., 1]).mean() > 10                          # hue from the palette


def test_palette_styles_in_generation_use_recolor(registry: Registry, cat: Image.Image) -> None:
    choice = parse_style_spec("palette:#e53935,#1e88e5")
    styled = pipeline.apply_style(cat, choice, 1.0, registry)
    colours = {tuple(c) for c in np.asarray(styled.convert("RGB")).reshape(-1, 3)}
    assert colours <= {(0xe5, 0x39, 0x35), (0x1e, 0x88, 0xe5)}


def test_pixel_art_has_square_blocks_and_few_colours(registry: Registry, cat: Image.Image) -> None:
    params = {"blocks": 15, "colors": 6}
    out = np.asarray(run(registry, cat, [{"op": "pixel_art", "params": params}]))[..., :3]
    block = 10   # 150 px / 15 blocks
    tiles = out[:100, :150].reshape(10, block, 15, block, 3)
    assert (tiles == tiles[:, :1, :, :1]).all()
    assert len({tuple(c) for c in out.reshape(-1, 3)}) <= 6


# --------------------------------------------------------------------------- alpha


def test_spatial_ops_leave_no_dark_fringe_around_transparency(registry: Registry) -> None:
    """White opaque square on fully transparent *black*: filtering must never
    pull the hidden black into the visible edge."""
    square = np.zeros((80, 80, 4), np.uint8)
    square[20:60, 20:60] = 255
    image = Image.fromarray(square, "RGBA")
    for op in ({"op": "blur", "params": {"radius": 4}},
               {"op": "blur", "params": {"kind": "motion", "radius": 10, "angle": 30}},
               {"op": "rotate", "params": {"angle": 33, "transparent": True}},
               {"op": "resize", "params": {"factor": 0.37}},
               {"op": "resize", "params": {"factor": 2.5, "resample": "bicubic"}},
               {"op": "sharpen", "params": {"amount": 2}},
               {"op": "oil_paint", "params": {"relief": 0}},
               {"op": "posterize"}):
        out = np.asarray(run(registry, image, [op]), dtype=np.float64)
        visible = out[..., 3] > 10
        assert visible.any()
        darkest = out[visible][:, :3].min()
        assert darkest >= 240, f"{op['op']}: a dark fringe ({darkest:.0f}) at the transparent edge"


def test_sticker_edges_are_premultiplied_correctly() -> None:
    white = [vector.Shape(vector.circle(0, 0, 0.9), fill=(1.0, 1.0, 1.0))]
    layer = vector.render(white, (64, 64), (32, 32), 50)
    assert layer is not None
    alpha = layer.pixels[..., 3]
    edge = (alpha > 0.02) & (alpha < 0.98)
    assert edge.sum() > 20                                   # antialiased, not jagged
    straight = layer.pixels[..., :3][edge] / alpha[edge][:, None]
    assert np.allclose(straight, 1.0, atol=1e-4)             # colour is exactly white at the edge
    canvas = vector.Canvas(np.ones((64, 64, 3), np.float32), np.zeros((64, 64), np.float32))
    canvas.draw(layer)
    assert canvas.rgb[canvas.alpha > 0.01].min() > 0.999     # no fringe on a transparent canvas
    opaque = vector.Canvas(np.ones((64, 64, 3), np.float32), None)
    opaque.draw(layer)
    assert opaque.rgb.min() > 0.999                          # white on white stays white


def test_stickers_are_crisp_at_any_size() -> None:
    for name, draw in STICKERS.items():
        for size in (16, 900):
            layer = vector.render(draw(), (1000, 1000), (500, 500), size)
            assert layer is not None, name
            alpha = layer.pixels[..., 3]
            assert alpha.max() > 0.95, name
            if size == 900:
                # The ramp from clear to covered around the silhouette is about one
                # pixel wide everywhere (a scaled-up bitmap would ramp over many).
                inside = alpha > 0.3
                ramp = ((alpha > 0.02) & ~inside).sum()
                outline = (inside & ~ndimage.binary_erosion(inside)).sum()
                assert ramp < 1.5 * outline, f"{name} has soft edges at {size} px"


def test_sticker_tint_recolours_the_body_only(registry: Registry) -> None:
    blank = Image.new("RGB", (200, 200), (255, 255, 255))
    base = {"kind": "heart", "scale": 0.9, "shadow": 0}
    natural = np.asarray(run(registry, blank, [{"op": "sticker", "params": base}]))
    tinted = np.asarray(run(registry, blank, [{"op": "sticker", "params": dict(
        base, tint="#1e88e5", tint_amount=1.0)}]))
    centre_natural, centre_tinted = natural[110, 100, :3].astype(int), tinted[110, 100, :3].astype(int)
    assert centre_natural[0] > centre_natural[2] + 100          # red heart
    assert centre_tinted[2] > centre_tinted[0] + 60             # blue heart
    assert np.array_equal(natural[:5, :5], tinted[:5, :5])      # background untouched


def test_scatter_places_the_requested_number(registry: Registry) -> None:
    blank = Image.new("RGB", (400, 400), (255, 255, 255))
    params = {"kind": "star", "count": 6, "min_scale": 0.1, "max_scale": 0.1, "spin": 0, "shadow": 0}
    out = np.asarray(run(registry, blank, [{"op": "scatter", "params": params}], seed=4))
    _, blobs = ndimage.label((np.abs(out[..., :3].astype(int) - 255).sum(-1) > 30))
    assert 3 <= blobs <= 6        # touching stars merge into one blob; never more than six


def test_caption_uses_the_shipped_font_and_fits(registry: Registry, cat: Image.Image) -> None:
    assert (FONT_DIR / "DejaVuSans-Bold.ttf").is_file() and (FONT_DIR / "LICENSE-DejaVu.txt").is_file()
    long_text = "a caption far too long to fit in one line at this size"
    params = {"text": long_text, "size": 0.4, "color": "#ff0000", "outline_width": 0}
    out = np.asarray(run(registry, cat, [{"op": "caption", "params": params}]))
    red = (out[..., 0] > 200) & (out[..., 1] < 60) & (out[..., 2] < 60)
    columns = np.flatnonzero(red.any(axis=0))
    assert columns.size and columns.min() > 0 and columns.max() < cat.width - 1


def test_frames_grow_the_canvas(registry: Registry, cat: Image.Image) -> None:
    bordered = run(registry, cat, [{"op": "border", "params": {"width": 0.1}}])
    assert bordered.size == (cat.width + 20, cat.height + 20)
    rounded = run(registry, cat, [{"op": "frame", "params": {"style": "rounded"}}])
    assert rounded.getpixel((0, 0))[3] == 0 and rounded.getpixel((75, 50))[3] == 255
    for style in ("polaroid", "gallery", "gold", "wood", "film", "deckle"):
        framed = run(registry, cat, [{"op": "frame", "params": {"style": style}}])
        assert framed.width > cat.width and framed.height > cat.height, style


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("recipe, message", [
    ({"ops": [{"op": "crop", "params": {"aspect": "free", "left": 0.7, "width": 0.5}}]}, "outside"),
    ({"ops": [{"op": "crop", "params": {"aspect": "free", "left": 1.5}}]}, "at most 1"),
    ({"ops": [{"op": "crop", "params": {"aspect": "free", "width": 0}}]}, "size"),
    ({"ops": [{"op": "crop", "params": {"aspect": "free", "height": 0.004}}]}, "size"),
    ('{"ops": [{"op": "rotate", "params": {"angle": NaN}}]}', "finite"),
    ('{"ops": [{"op": "rotate", "params": {"angle": Infinity}}]}', "finite"),
    ({"ops": [{"op": "rotate", "params": {"angle": "-inf"}}]}, "finite"),
    ({"ops": [{"op": "sparkle"}]}, "unknown operation"),
    ('{"ops": [{"op": "blur",', "not valid JSON"),
    ({"ops": [{"op": "flip"}] * 10_000}, "limit"),
    ({"ops": [{"op": "sticker", "params": {"scale": 0}}]}, "scale"),
    ({"ops": [{"op": "sticker", "params": {"scale": 100}}]}, "scale"),
    ({"ops": [{"op": "sticker", "params": {"scale": 0.02}}]}, "too small"),
    ({"ops": [{"op": "scatter", "params": {"min_scale": 0.5, "max_scale": 0.1}}]}, "larger than"),
    ({"ops": [{"op": "resize", "params": {"factor": 8}}, {"op": "resize", "params": {"factor": 8}}]},
     "largest allowed"),
    ({"ops": [{"op": "caption", "params": {"text": " \n "}}]}, "empty"),
    ({"ops": [{"op": "recolor", "params": {"palette": "#12345z"}}]}, "colour"),
])
def test_bad_input_is_a_clear_user_error(registry: Registry, cat: Image.Image, recipe: object,
                                         message: str) -> None:
    with pytest.raises(UserError) as caught:
        pipeline.stylize(cat, recipe, registry=registry)
    text = str(caught.value)
    assert message.lower() in text.lower() and "\n" not in text and len(text) < 600


# --------------------------------------------------------------------------- the tab


def test_tab_history_undo_redo_and_errors_keep_state(registry: Registry, tmp_path) -> None:
    photo = tmp_path / "cat.png"
    Image.fromarray(data.chelsea()).resize((120, 80)).save(photo)
    history = stylize_tab.new_history()
    code, history, pair, result, download, seed, _, committed = stylize_tab.commit(
        str(photo), history, stylize_tab.with_op(stylize_tab.current(history), "sepia", {}), registry)
    assert json.loads(code)["ops"][0]["op"] == "sepia" and result.size == (120, 80)
    assert committed is result                                  # what the PNG download saves
    assert json.loads(open(download).read()) == json.loads(code)
    before_bad = json.loads(json.dumps(history))
    bad = stylize_tab.with_op(stylize_tab.current(history), "crop", {"aspect": "free", "left": 0.9})
    with pytest.raises(UserError):
        stylize_tab.commit(str(photo), history, bad, registry)
    assert history == before_bad                                # nothing stored
    _, history, *_ = stylize_tab.commit(str(photo), history, stylize_tab.with_op(
        stylize_tab.current(history), "flip", {}), registry)
    assert [o["op"] for o in stylize_tab.current(history)["ops"]] == ["sepia", "flip"]
    undone = stylize_tab.step(history, -1)
    assert [o["op"] for o in stylize_tab.current(undone)["ops"]] == ["sepia"]
    assert stylize_tab.current(stylize_tab.step(undone, +1)) == stylize_tab.current(history)
    shown = stylize_tab.show(str(photo), undone, registry)
    direct = pipeline.stylize(str(photo), stylize_tab.current(undone), registry=registry).image
    assert shown[3].tobytes() == direct.tobytes()               # the tab shows the pipeline's pixels
    branched = stylize_tab.push(undone, {"seed": 0, "ops": []})
    assert len(branched["recipes"]) == 3 and branched["index"] == 2   # redo tail dropped


def test_tab_groups_operations_by_category(registry: Registry) -> None:
    labels = [label for label, _ in stylize_tab.operation_choices(registry)]
    categories = [label.split(" › ")[0].lower() for label in labels]
    assert categories == sorted(categories, key=["geometry", "tone", "artistic", "elements"].index)


class Invert:
    """A third party's operation: it only has to follow core.hookspecs.Filter."""

    name, label, category = "invert_colours", "Invert colours", "extras"
    params = (Param("amount", "float", 1.0, min=0.0, max=1.0),)

    def apply(self, image: Image.Image, params: dict, rng: np.random.Generator) -> Image.Image:
        array = np.asarray(image).copy()
        array[..., :3] = 255 - array[..., :3]
        return Image.fromarray(array, image.mode)


def test_a_third_party_operation_appears_in_the_tab_and_recipes(cat: Image.Image) -> None:
    import gradio as gr

    from core.hookspecs import hookimpl

    class ExtraPlugin:
        @hookimpl
        def register_filters(self, register):  # type: ignore[no-untyped-def]
            register(Invert())

    registry = Registry()
    registry.add_plugin(stylize_plugin, "stylize", "1", "builtin")
    assert registry.add_plugin(ExtraPlugin(), "extras", "0.1", "entrypoint").status == "ok"
    choices = stylize_tab.operation_choices(registry)
    assert choices[-1] == ("Extras › Invert colours", "invert_colours")
    with gr.Blocks():
        stylize_tab.build(registry)                     # controls built from its schema
    out = run(registry, cat, [{"op": "invert_colours"}])
    assert np.array_equal(np.asarray(out)[..., :3], 255 - np.asarray(cat))


def test_example_recipes_are_valid(registry: Registry) -> None:
    rows = stylize_tab._examples()
    assert len(rows) == len(stylize_tab.EXAMPLES)
    for image_path, text in rows:
        parse_recipe(text, registry.filters)


def test_ui_cli_and_gradio_client_give_bit_identical_pixels(registry: Registry, tmp_path) -> None:
    """One recipe with seeded randomness through the tab's render function, the
    CLI (a subprocess) and gradio_client against a running app: the same bytes."""
    gradio_client = pytest.importorskip("gradio_client")
    import app
    from tests.conftest import run_cli

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).resize((128, 128)).save(photo)
    recipe = json.dumps({"seed": 11, "ops": [{"op": "film_grain"}, {"op": "scatter", "params": {"count": 4}},
                                              {"op": "caption", "params": {"text": "hi"}}]})
    demo = app.build_app(registry)
    demo.launch(server_name="127.0.0.1", server_port=7872, prevent_thread_lock=True, show_error=False)
    try:
        client = gradio_client.Client("http://127.0.0.1:7872/", verbose=False)
        path, info = client.predict(gradio_client.handle_file(str(photo)), recipe, api_name="/stylize")
        remote = Image.open(path)
        local = pipeline.stylize(str(photo), recipe, registry=registry).image
        assert remote.mode == local.mode and remote.tobytes() == local.tobytes()
        _, shown = stylize_tab.render(str(photo), parse_recipe(recipe, registry.filters), registry)
        assert shown.tobytes() == local.tobytes()
        (tmp_path / "recipe.json").write_text(recipe)
        done = run_cli("stylize", str(photo), "--recipe", str(tmp_path / "recipe.json"),
                       "--out", str(tmp_path / "cli.png"))
        assert done.returncode == 0, done.stderr
        cli = Image.open(tmp_path / "cli.png")
        assert cli.mode == local.mode and cli.tobytes() == local.tobytes()
        assert info["recipe"]["seed"] == 11 and not math.isnan(info["seconds"])
    finally:
        demo.close()
