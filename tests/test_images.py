"""core.images: every hostile file refused with a clear message, every odd mode
normalised; the same through the CLI (exit 2, one line)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageInputError
from core.images import load_image
from tests.bad_images import bad_files, odd_images
from tests.conftest import run_cli

BAD = bad_files()
ODD = odd_images()


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_refused_with_a_clear_message(name, tmp_path):
    data, fragment = BAD[name]
    path = tmp_path / name
    path.write_bytes(data)
    for source in (path, data):
        with pytest.raises(ImageInputError) as info:
            load_image(source)
        message = str(info.value)
        assert fragment in message
        assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_mode_is_normalised_to_rgb(name):
    data, size = ODD[name]
    image = load_image(data)
    assert image.mode == "RGB"
    assert image.size == size


def test_transparent_pixels_are_composited_on_white_or_kept():
    data, _ = ODD["rgba_transparent.png"]
    assert np.asarray(load_image(data)).min() == 255
    kept = load_image(data, keep_alpha=True)
    assert kept.mode == "RGBA" and np.asarray(kept)[..., 3].max() == 0


def test_animated_gif_gives_its_first_frame():
    frame = np.asarray(load_image(ODD["animated.gif"][0]))
    assert tuple(frame[10, 10]) == (255, 0, 0)


def test_sixteen_bit_keeps_its_full_range():
    grey = np.asarray(load_image(ODD["i16.png"][0]))[..., 0]
    assert grey.min() == 0 and grey.max() == 255


def test_result_is_detached_and_carries_no_metadata(tmp_path):
    path = tmp_path / "meta.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "secret")
    Image.new("RGB", (40, 40), "red").save(path, pnginfo=info)
    image = load_image(path)
    assert image.info == {}
    path.unlink()  # no open file handle keeps it alive
    assert image.getpixel((0, 0)) == (255, 0, 0)


def test_limits_on_bytes_and_minimum_side(tmp_path, monkeypatch):
    from core import limits

    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300), "blue").save(path)
    monkeypatch.setattr(limits, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(ImageInputError, match="limit is"):
        load_image(path)
    monkeypatch.undo()
    with pytest.raises(ImageInputError, match="too small"):
        load_image(Image.new("RGB", (10, 300)), min_side=32)


def test_arrays_are_accepted_and_nan_refused():
    assert load_image(np.zeros((8, 8, 3), dtype=np.float32)).size == (8, 8)
    with pytest.raises(ImageInputError, match="NaN"):
        load_image(np.full((8, 8), np.nan))
    with pytest.raises(ImageInputError, match="array"):
        load_image(np.zeros((2, 2, 2, 2)))


def test_missing_file():
    with pytest.raises(ImageInputError, match="no such file"):
        load_image("/nonexistent/picture.png")


def test_cli_refuses_every_bad_file_with_exit_2_and_one_line(tmp_path):
    recipe = tmp_path / "empty.json"
    recipe.write_text(json.dumps({"seed": 0, "ops": []}))
    for name, (data, fragment) in BAD.items():
        path = tmp_path / name
        path.write_bytes(data)
        done = run_cli("stylize", str(path), "--recipe", str(recipe), "--out", str(tmp_path / "o.png"))
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (name, done.stderr)
