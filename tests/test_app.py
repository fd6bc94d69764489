"""The Blocks app: builds from the registry, answers its named endpoints through
gradio_client on a real loopback launch, refuses bad input with a message, and
keeps serving."""
from __future__ import annotations

import json

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.bad_images import bad_files


def test_app_builds_even_with_broken_plugins(hello_module):
    import types

    import app
    from core.registry import load_registry

    registry = load_registry()
    broken = types.ModuleType("broken")
    exec("import pluggy\nh = pluggy.HookimplMarker('impasto')\n"
         "@h\ndef register_generators(register):\n    raise RuntimeError('boom')\n", broken.__dict__)
    registry.add_plugin(broken, "broken", "1", "entrypoint")
    registry.add_plugin(hello_module, "hello", "0.2.0", "entrypoint")
    demo = app.build_app(registry)
    api_names = {dep.api_name for dep in demo.fns.values() if dep.api_name}
    assert {"generate", "analyze", "transfer", "stylize"} <= api_names


def test_named_endpoints_are_listed(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/generate", "/analyze", "/transfer", "/stylize"} <= set(endpoints)


def test_generate_endpoint_runs_a_plugin_generator(client):
    images, settings = client.predict("a flat picture", "hello_flat", 2, 7, "none", 1.0, "",
                                      json.dumps({"size": 32}), api_name="/generate")
    assert len(images) == 2 and settings["seed"] == 7 and settings["backend"] == "hello_flat"
    first = Image.open(images[0]["image"])
    assert first.size == (32, 32)


def test_stylize_endpoint_applies_a_recipe(client, tmp_path):
    source = tmp_path / "in.png"
    Image.new("RGB", (48, 40), (0, 100, 200)).save(source)
    recipe = json.dumps({"seed": 0, "ops": [{"op": "hello_invert", "params": {"amount": 1.0}}]})
    path, info = client.predict(handle_file(str(source)), recipe, api_name="/stylize")
    out = np.asarray(Image.open(path).convert("RGB"))
    assert out.shape == (40, 48, 3) and tuple(out[0, 0]) == (255, 155, 55)
    assert info["recipe"]["ops"][0]["op"] == "hello_invert"


@pytest.mark.parametrize("name", ["truncated.png", "svg_as.png", "zero_bytes.png", "bomb_side.png"])
def test_bad_images_get_a_message_and_the_app_keeps_serving(client, tmp_path, name):
    data, fragment = bad_files()[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(Exception) as info:
        client.predict(handle_file(str(path)), "{}", api_name="/stylize")
    assert fragment in str(info.value)
    assert "Traceback" not in str(info.value)
    # still serving
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 40), "white").save(good)
    out, _ = client.predict(handle_file(str(good)), "{}", api_name="/stylize")
    assert Image.open(out).size == (40, 40)


@pytest.mark.parametrize("args, fragment", [
    (("", "hello_flat", 1, 0, "none", 1.0, "", "{}"), "prompt is empty"),
    (("x" * 5000, "hello_flat", 1, 0, "none", 1.0, "", "{}"), "limit"),
    (("cat", "nope", 1, 0, "none", 1.0, "", "{}"), "unknown generator"),
    (("cat", "hello_flat", 1000, 0, "none", 1.0, "", "{}"), "number of images"),
    (("cat", "hello_flat", 1, -5, "none", 1.0, "", "{}"), "seed"),
    (("cat", "hello_flat", 1, 0, "none", 1.0, "", '{"size": 1e9}'), "at most"),
    (("cat", "hello_flat", 1, 0, "none", 1.0, "", "{oops"), "not valid JSON"),
    (("cat", "hello_flat", 1, 0, "sparkles:3", 1.0, "", "{}"), "style"),
    (("cat", "hello_flat", 1, 0, "none", 1.0, '{"ops": [{"op": "nope"}]}', "{}"), "unknown operation"),
])
def test_generate_refuses_bad_requests_clearly(client, args, fragment):
    with pytest.raises(Exception) as info:
        client.predict(*args, api_name="/generate")
    assert fragment in str(info.value)


def test_the_app_warms_the_prompt_encoder_and_the_default_generator_up_in_the_background():
    """``python app.py`` starts serving first and then, on a thread, loads MiniLM and the
    Transformer, which starts its second drawing process where it has a core for it; the
    first Generate waits for none of them. In a fresh process nothing is loaded before."""
    import subprocess
    import sys

    code = ("import sys, app, core.models; before = (len(core.models.cache.loaded()), 'torch' in sys.modules); "
            "thread = app.warm_up(); thread.join(120); "
            "from core.checkpoint import weights_dir; from plugins.transformer import drawing_pool; "
            "pool = drawing_pool.ready_pool(weights_dir('transformer')); "
            "print(*before, sorted(e['key'].split(':')[0] for e in core.models.cache.loaded()), "
            "(pool is not None) == drawing_pool.enabled())")
    out = subprocess.check_output([sys.executable, "-c", code], text=True).strip()
    assert out == "0 False ['text_encoder', 'transformer'] True"     # torch too loads off the start path
