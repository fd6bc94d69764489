"""The pure helpers behind the Analyze and Transfer tabs, on real analyses."""
from __future__ import annotations


import pytest
from PIL import Image
from skimage import data

from core import pipeline
from core.errors import UserError
from core.recipe import apply_recipe, parse_recipe
from core.ui.analyze_tab import recolor_recipe, summary
from core.ui.transfer_tab import style_weights, toggle_preset


def test_toggle_preset_adds_then_removes():
    spec = toggle_preset("", 7)
    assert spec == "7:1"
    spec = toggle_preset(spec + ",3:0.5", 12)
    assert spec == "7:1,3:0.5,12:1"
    assert toggle_preset(spec, 3) == "7:1,12:1"


def test_style_weights_need_one_per_picture():
    assert style_weights("", 2) == [1.0, 1.0]
    assert style_weights("2; 1", 2) == ["2", "1"]
    with pytest.raises(UserError, match="one weight per style image"):
        style_weights("1", 2)


def test_summary_and_recolor_recipe_come_from_the_pixels(registry):
    picture = Image.fromarray(data.coffee())
    result = pipeline.analyze(picture, registry=registry)
    text = summary(result.data, {})
    for colour in result.data["palette"]["colors"]:
        assert colour["hex"] in text
    scheme = result.data["palette"]["harmonies"]["triadic"]
    recipe = parse_recipe(recolor_recipe(scheme), registry.filters)
    recoloured = apply_recipe(picture, recipe, registry.filters)
    assert recoloured.size == picture.size and recoloured.tobytes() != picture.tobytes()
