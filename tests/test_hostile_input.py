"""Hostile input through the API of a running app: every bad image, polyglot
files, one-pixel-thin pictures, 16-bit PNGs, endless and invisible prompts,
NaN/inf/negative numbers, unknown backends and malformed JSON are each answered
with a clear message (the text is asserted), and the app keeps serving.

The app is the real Blocks app on loopback (the ``client`` fixture) with the
built-in plugins and the example ``hello`` plugin; the generator that runs is
``hello_flat``, so no trained weights are needed.

Some cases can only be sent over raw HTTP: gradio_client refuses to encode NaN
and infinity, but a hostile client sends ``NaN``/``Infinity`` tokens (which
Python's JSON parser on the server accepts) or ``1e999`` (valid JSON, parsed as
infinity). ``call_raw`` speaks Gradio's ``/gradio_api/call`` protocol directly.

The damaged files the fuzzer (tests/fuzz_image_input.py) found are replayed here
too, so a decoder error that escapes core.images shows up in CI.
"""
from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image, PngImagePlugin

from tests.bad_images import bad_files
from tests.fuzz_image_input import known_crashers

GENERIC = ("Something went wrong", "upstream Gradio app", "verbose error reporting")
GOOD_GENERATE = dict(prompt="a flat picture", backend="hello_flat", n=1, seed=3, style="none",
                     style_strength=1.0, recipe="", params='{"size": 16}')


# ------------------------------------------------------------------ helpers


def refusal(client, api: str, *args, **kwargs) -> str:
    """The message of the error the app answers with (the call must fail)."""
    with pytest.raises(Exception) as info:
        client.predict(*args, api_name=api, **kwargs)
    return str(info.value)


def assert_clear(message: str, *fragments: str) -> None:
    """A clear message: one line, no traceback, not the generic fallback, and it
    names what was wrong."""
    assert message and message != "None", "the error reached the client without a message"
    assert "Traceback" not in message and "\n" not in message.strip(), message
    assert not any(g in message for g in GENERIC), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def call_raw(client, app_url: str, api: str, **values) -> tuple[str, object]:
    """Call a named endpoint with hand-written JSON (NaN and Infinity allowed).

    Values not given take the endpoint's defaults; returns (event, payload) where
    event is "complete" or "error" and payload the data or the error message."""
    info = _endpoints(client)[api]
    data = []
    for param in info["parameters"]:
        name = param["parameter_name"]
        data.append(values.pop(name) if name in values else param.get("parameter_default"))
    assert not values, f"unknown parameters {values}"
    body = json.dumps({"data": data}, allow_nan=True)    # NaN, Infinity, -Infinity tokens
    base = app_url.rstrip("/") + "/gradio_api/call" + api
    event_id = httpx.post(base, content=body, headers={"content-type": "application/json"},
                          timeout=30).json()["event_id"]
    stream = httpx.get(f"{base}/{event_id}", timeout=120).text
    event = data_line = None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data_line = line.split(":", 1)[1].strip()
    payload = json.loads(data_line) if data_line else None
    if event == "error":
        return event, (payload or {}).get("error")
    return event, payload


_ENDPOINTS: dict[int, dict] = {}


def _endpoints(client) -> dict:
    if id(client) not in _ENDPOINTS:
        _ENDPOINTS[id(client)] = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    return _ENDPOINTS[id(client)]


def assert_still_serving(client, tmp_path) -> None:
    """A good request of each kind is answered after the hostile ones."""
    images, settings = client.predict(**GOOD_GENERATE, api_name="/generate")
    assert len(images) == 1 and settings["backend"] == "hello_flat"
    picture = write(tmp_path, "good.png", png(Image.new("RGB", (48, 40), (0, 100, 200))))
    out, _ = client.predict(picture, '{"ops": [{"op": "hello_invert"}]}', api_name="/stylize")
    assert np.asarray(Image.open(out).convert("RGB"))[0, 0].tolist() == [255, 155, 55]


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return handle_file(str(path))


def png(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def png16(values: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit-per-channel PNG written by hand (Pillow cannot write RGB48)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    height, width = values.shape[:2]
    rows = b"".join(b"\0" + values[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


# ------------------------------------------------------------------ images


# Every image input of the API, as (endpoint, how to call it with the file, prefix
# the message starts with).
IMAGE_INPUTS = {
    "analyze": ("/analyze", lambda f, ok: (f,), "image to analyse"),
    "stylize": ("/stylize", lambda f, ok: (f, "{}"), "image to stylize"),
    "transfer content": ("/transfer", lambda f, ok: (f, None, "7", 1.0, False, 64), "content image"),
    "transfer style": ("/transfer", lambda f, ok: (ok, f, "", 1.0, False, 64), "style image 1"),
}


@pytest.mark.parametrize("name", sorted(bad_files()))
def test_every_bad_image_is_refused_on_every_image_input(client, tmp_path, name):
    data, fragment = bad_files()[name]
    bad = write(tmp_path, name, data)
    good = write(tmp_path, "content.png", png(Image.new("RGB", (64, 64), "teal")))
    for label, (api, args, prefix) in IMAGE_INPUTS.items():
        message = refusal(client, api, *args(bad, good))
        assert_clear(message, prefix, fragment)


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


GREEN = Image.new("RGB", (48, 40), (10, 200, 30))
SCRIPT = b"<script>alert('polyglot')</script>"
# A picture followed by another format: the picture is read, the rest ignored.
TRAILING_POLYGLOTS = {
    "png_then_zip.png": png(GREEN) + _zip("evil.html", SCRIPT.decode()),
    "png_then_html.png": png(GREEN) + b"<html>" + SCRIPT + b"</html>",
    "jpeg_then_script.jpg": jpeg(GREEN) + SCRIPT,
}
# Another format first: not a picture at all.
LEADING_POLYGLOTS = {
    "html_then_png.png": b"<html>" + SCRIPT + b"</html>" + png(GREEN),
    "zip_then_png.png": _zip("evil.html", SCRIPT.decode()) + png(GREEN),
    "pdf_then_png.png": b"%PDF-1.4\n" + png(GREEN),
    "gif_javascript.gif": b"GIF89a/*\x00\x00\x00\x00\x00\x00*/=alert(1);//" + b"\x00" * 32,
}


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")     # Pillow, on the damaged TIFF
@pytest.mark.parametrize("name", sorted(known_crashers()))
def test_damaged_files_found_by_the_fuzzer_get_a_clear_message(client, tmp_path, name):
    upload = write(tmp_path, name, known_crashers()[name])
    assert_clear(refusal(client, "/stylize", upload, "{}"), "image to stylize")


@pytest.mark.parametrize("name", sorted(TRAILING_POLYGLOTS))
def test_polyglot_payload_after_a_picture_is_dropped(client, tmp_path, name):
    upload = write(tmp_path, name, TRAILING_POLYGLOTS[name])
    out, _ = client.predict(upload, "{}", api_name="/stylize")
    served = open(out, "rb").read()
    assert served.startswith(b"\x89PNG") and b"script" not in served and b"PK\x03\x04" not in served
    pixel = np.asarray(Image.open(out).convert("RGB"))[20, 20].astype(int)
    assert np.abs(pixel - [10, 200, 30]).max() <= 4          # only the pixels came through
    palette = client.predict(upload, api_name="/analyze")["palette"]["colors"]
    assert len(palette) == 1 and palette[0]["share"] == 1.0


@pytest.mark.parametrize("name", sorted(LEADING_POLYGLOTS))
def test_polyglot_that_is_another_format_first_is_not_an_image(client, tmp_path, name):
    upload = write(tmp_path, name, LEADING_POLYGLOTS[name])
    assert_clear(refusal(client, "/stylize", upload, "{}"), "image to stylize", "not an image")
    assert_clear(refusal(client, "/analyze", upload), "image to analyse", "not an image")


def test_metadata_holding_script_is_not_passed_on(client, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SCRIPT.decode())
    upload = write(tmp_path, "text_chunk.png", png(GREEN, pnginfo=info))
    out, _ = client.predict(upload, "{}", api_name="/stylize")
    assert b"script" not in open(out, "rb").read()


@pytest.mark.parametrize("size", [(100_000, 1), (1, 100_000)])
def test_one_pixel_thin_pictures_are_refused_by_their_side(client, tmp_path, size):
    # a real, fully decodable 100,000-pixel picture (a few hundred bytes as PNG)
    upload = write(tmp_path, "thin.png", png(Image.new("RGB", size, "red")))
    good = write(tmp_path, "content.png", png(Image.new("RGB", (64, 64), "teal")))
    side = f"{size[0]}×{size[1]} px is too large; the limit is 12000 px on each side"
    for label, (api, args, prefix) in IMAGE_INPUTS.items():
        assert_clear(refusal(client, api, *args(upload, good)), prefix, side)


SIXTEEN_BIT = {   # name -> (PNG bytes, the 8-bit RGB every pixel must become)
    "rgb48": (png16(np.broadcast_to(np.array([65535, 32896, 0], np.uint16), (40, 48, 3)), 2),
              [255, 128, 0]),
    "rgba64": (png16(np.broadcast_to(np.array([0, 0, 65535, 65535], np.uint16), (40, 48, 4)), 6),
               [0, 0, 255]),
    "grey_alpha32": (png16(np.broadcast_to(np.array([32896, 65535], np.uint16), (40, 48, 2)), 4),
                     [128, 128, 128]),
    "grey16": (png16(np.full((40, 48), 65535, np.uint16), 0), [255, 255, 255]),
}


@pytest.mark.parametrize("name", sorted(SIXTEEN_BIT))
def test_sixteen_bit_pngs_are_read_at_their_true_colour(client, tmp_path, name):
    data, rgb = SIXTEEN_BIT[name]
    upload = write(tmp_path, f"{name}.png", data)
    out, _ = client.predict(upload, "{}", api_name="/stylize")
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape == (40, 48, 3) and (pixels == rgb).all()
    palette = client.predict(upload, api_name="/analyze")["palette"]["colors"]
    assert palette[0]["hex"] == "#{:02x}{:02x}{:02x}".format(*rgb)


# ------------------------------------------------------------------ text


def test_prompts_endless_invisible_and_dirty(client, tmp_path):
    message = refusal(client, "/generate", **dict(GOOD_GENERATE, prompt="a" * 100_000))
    assert_clear(message, "prompt is 100000 characters; the limit is 500")
    controls = "".join(map(chr, range(32))) + "\x7f\x85\u200b\u200e\u202e\u2028\ufeff"
    assert_clear(refusal(client, "/generate", **dict(GOOD_GENERATE, prompt=controls)),
                 "prompt is empty")
    # control characters inside a real prompt are removed, not passed to the model
    _, settings = client.predict(**dict(GOOD_GENERATE, prompt="a\x00 red\x1b[31m\u202e circle\n"),
                                 api_name="/generate")
    assert settings["prompt"] == "a red [31m circle"
    assert_still_serving(client, tmp_path)


@pytest.mark.parametrize("backend", ["nope", "../../etc/passwd", "hello_flat\x00",
                                     "__import__('os').system('id')"])
def test_unknown_backends_are_named_with_the_ones_available(client, backend):
    message = refusal(client, "/generate", **dict(GOOD_GENERATE, backend=backend))
    assert_clear(message, "unknown generator", "available:", "hello_flat")


@pytest.mark.parametrize("preset, fragment", [
    ("999", "preset 999 does not exist; magenta has presets 0–25"),
    ("abc", "preset: 'abc' is not a preset number"),
    ("3:nan,4:1", "preset weights: 'nan' is not a finite number"),
    ("3:-1,4:1", "preset weights must be positive, got -1"),
    ("", "choose a style: a preset or a style image"),
])
def test_transfer_presets_that_do_not_exist(client, tmp_path, preset, fragment):
    content = write(tmp_path, "content.png", png(Image.new("RGB", (64, 64), "teal")))
    assert_clear(refusal(client, "/transfer", content, None, preset, 1.0, False, 64), fragment)


# ------------------------------------------------------------------ numbers


# (endpoint, field, value, what the message must say); values that JSON can carry.
NEGATIVE_AND_OUT_OF_RANGE = [
    ("/generate", "n", -1, "number of images must be between 1 and 16, got -1"),
    ("/generate", "n", 0, "number of images must be between 1 and 16, got 0"),
    ("/generate", "seed", -1, "seed must be between 0 and 4294967295, got -1"),
    ("/generate", "style_strength", -0.5, "style strength must be between 0 and 1"),
    ("/generate", "params", '{"size": -64}', "parameter 'size' must be at least 8, got -64"),
    ("/generate", "params", '{"size": 1e9}', "parameter 'size' must be at most 512"),
    ("/transfer", "strength", -1, "strength must be between 0 and 1, got -1"),
    ("/transfer", "max_size", -64, "max size must be between 32 and 2048, got -64"),
    ("/stylize", "recipe", '{"seed": -1}', "recipe seed must be a whole number from 0 to 4294967295"),
    ("/stylize", "recipe", '{"ops": [{"op": "hello_invert", "params": {"amount": -1}}]}',
     "parameter 'amount' must be at least 0, got -1"),
    ("/stylize", "recipe", '{"ops": [{"op": "rotate", "params": {"angle": -1e300}}]}',
     "parameter 'angle' must be at least"),
]


def _call_args(api: str, field: str, value, tmp_path) -> dict:
    picture = write(tmp_path, "content.png", png(Image.new("RGB", (64, 64), "teal")))
    base = {"/generate": dict(GOOD_GENERATE),
            "/transfer": dict(content=picture, style_image=None, preset="7", strength=1.0,
                              preserve_color=False, max_size=64),
            "/stylize": dict(image=picture, recipe="{}")}[api]
    return dict(base, **{field: value})


@pytest.mark.parametrize("api, field, value, fragment", NEGATIVE_AND_OUT_OF_RANGE)
def test_negative_and_out_of_range_numbers(client, tmp_path, api, field, value, fragment):
    assert_clear(refusal(client, api, **_call_args(api, field, value, tmp_path)), fragment)


def _not_finite(api, field, fragment):
    return [pytest.param(api, field, value, fragment, id=f"{api}-{field}-{value}")
            for value in (float("nan"), float("inf"), float("-inf"))]


NOT_FINITE = [
    *_not_finite("/generate", "n", "number of images must be a whole number"),
    *_not_finite("/generate", "seed", "seed must be a whole number"),
    *_not_finite("/generate", "style_strength", "style strength must be between 0 and 1"),
    *_not_finite("/transfer", "strength", "strength must be between 0 and 1"),
    *_not_finite("/transfer", "max_size", "max size must be a whole number"),
]


@pytest.mark.parametrize("api, field, value, fragment", NOT_FINITE)
def test_nan_and_infinity_in_every_numeric_field(client, app_url, tmp_path, api, field, value,
                                                 fragment):
    args = _call_args(api, field, value, tmp_path)
    for key, item in args.items():              # raw HTTP: upload the file first
        if isinstance(item, dict) and "path" in item:
            args[key] = {"path": _upload(app_url, item["path"]), "meta": {"_type": "gradio.FileData"}}
    event, message = call_raw(client, app_url, api, **args)
    assert event == "error"
    assert_clear(str(message), fragment)


def _upload(app_url: str, path: str) -> str:
    with open(path, "rb") as handle:
        answer = httpx.post(app_url.rstrip("/") + "/gradio_api/upload", files={"files": handle},
                            timeout=30)
    return answer.json()[0]


# NaN and infinity inside JSON text fields (params, recipe): gradio_client sends
# these as strings, and Python's JSON parser accepts NaN, Infinity and 1e999.
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_inside_json_fields(client, tmp_path, token):
    message = refusal(client, "/generate", **dict(GOOD_GENERATE, params=f'{{"size": {token}}}'))
    assert_clear(message, "parameter 'size' must be a finite number")
    recipe = f'{{"ops": [{{"op": "rotate", "params": {{"angle": {token}}}}}]}}'
    message = refusal(client, "/stylize", **_call_args("/stylize", "recipe", recipe, tmp_path))
    assert_clear(message, "recipe op 1 (rotate): parameter 'angle' must be a finite number")
    message = refusal(client, "/stylize", **_call_args("/stylize", "recipe",
                                                       f'{{"seed": {token}}}', tmp_path))
    assert_clear(message, "recipe seed must be a whole number")


# ------------------------------------------------------------------ JSON


def _deep(depth: int = 50_000) -> str:
    return "[" * depth + "]" * depth


MALFORMED_JSON = [
    ("/generate", "params", "{oops", "params is not valid JSON"),
    ("/generate", "params", '{"sizee": 16}', "hello_flat: unknown parameter(s) sizee; known: size"),
    ("/generate", "params", '{"size": [16]}', "parameter 'size' must be a number"),
    ("/generate", "recipe", "{oops", "recipe is not valid JSON"),
    ("/generate", "recipe", '{"ops": [{"op": "nope"}]}', "unknown operation 'nope'"),
    ("/stylize", "recipe", "{oops", "recipe is not valid JSON"),
    ("/stylize", "recipe", "42", "recipe must be a JSON object"),
    ("/stylize", "recipe", '{"ops": "rotate"}', "recipe 'ops' must be a list"),
    ("/stylize", "recipe", '{"opz": []}', "recipe has unknown key(s): opz"),
    ("/stylize", "recipe", '{"ops": [{"op": "rotate", "params": [1]}]}',
     "recipe op 1 (rotate): params must be an object"),
    ("/stylize", "recipe", json.dumps({"ops": [{"op": "flip"}] * 101}),
     "recipe has 101 operations; the limit is 100"),
    ("/stylize", "recipe", json.dumps({"ops": [{"op": "caption", "params": {"text": "x" * 300_000}}]}),
     "recipe is 300052 bytes; the limit is"),   # the whole text is refused before parsing
    pytest.param("/generate", "params", _deep(), "params", id="params-deeply-nested"),
    pytest.param("/stylize", "recipe", _deep(), "recipe", id="recipe-deeply-nested"),
    pytest.param("/generate", "params", "[1, 2]", "params", id="params-a-list"),
    pytest.param("/generate", "params", '"size"', "params", id="params-a-string"),
    pytest.param("/stylize", "recipe", '{"ops": [{"op": "caption", "params": {"text": "\\ud800"}}]}',
                 "caption", id="recipe-lone-surrogate"),
]


@pytest.mark.parametrize("api, field, text, fragment", MALFORMED_JSON)
def test_malformed_json_fields(client, tmp_path, api, field, text, fragment):
    assert_clear(refusal(client, api, **_call_args(api, field, text, tmp_path)), fragment)


def test_an_oversized_recipe_is_refused_through_the_api(client, tmp_path):
    """The recipe size limit holds for the API too: core parses the raw text."""
    from core import limits

    picture = write(tmp_path, "small.png", png(Image.new("RGB", (32, 32), "teal")))
    huge = json.dumps({"ops": [], "impasto": "x" * (limits.MAX_RECIPE_BYTES + 10)})
    assert_clear(refusal(client, "/stylize", picture, huge), "the limit is")


def test_the_app_still_serves_every_endpoint_afterwards(client, tmp_path):
    assert_still_serving(client, tmp_path)
    picture = write(tmp_path, "content.png", png(Image.new("RGB", (64, 64), "teal")))
    assert "palette" in client.predict(picture, api_name="/analyze")
    styled, info = client.predict(picture, None, "7", 1.0, False, 64, api_name="/transfer")
    assert Image.open(styled).size == (64, 64) and info["engine"] == "magenta"
