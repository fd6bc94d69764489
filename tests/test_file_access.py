"""File access of a running app: it serves the outputs it handed to a visitor
and nothing else.

- Gradio's file routes refuse absolute paths, ``../`` traversal (raw, URL-encoded,
  double-encoded, from inside the cache folder), the app's own source files and
  files under ``<tempdir>/impasto*``;
- an image argument of the API that names a server path is refused;
- a result is served to whoever holds its URL (its name is an unguessable hash),
  and a second visitor finds no trace of the first one's results in the API
  listing, the config, or by guessing paths outside Gradio's cache.

Three holes this suite found are fixed and guarded here: an image argument
``{"path": ...}`` without Gradio's ``meta`` (which skips Gradio's own check),
``/generate``'s ``image:PATH`` style naming a server file, and the shipped
example pictures vanishing from Gradio's cache at the cleanup interval (they
are static paths now).
"""
from __future__ import annotations

import http.client
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.conftest import ROOT, free_port


def upload_folder() -> Path:
    from gradio import utils

    return Path(utils.get_upload_folder())


@pytest.fixture(scope="module")
def secrets_on_disk():
    """A picture and a text file the app never produced: one under <tempdir>/impasto
    (the app's own output root) and one beside it, each with an unguessable name."""
    tag = secrets.token_hex(8)
    picture = Image.fromarray(np.full((40, 40, 3), (12, 34, 56), np.uint8))
    made = []
    for folder in (Path(tempfile.gettempdir()) / "impasto" / "results" / tag,
                   Path(tempfile.gettempdir()) / f"impasto-secret-{tag}"):
        folder.mkdir(parents=True, exist_ok=True)
        picture.save(folder / "secret.png")
        (folder / "secret.txt").write_text(f"top secret {tag}\n")
        made.append(folder)
    yield {"image": made[0] / "secret.png", "text": made[0] / "secret.txt",
           "image2": made[1] / "secret.png", "text2": made[1] / "secret.txt", "tag": tag}
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def raw_get(app_url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (httpx and browsers would resolve '../')."""
    parts = urllib.parse.urlsplit(app_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _looks_leaked(body: bytes) -> bool:
    """Content of the files asked for (a refusal only echoes the path)."""
    return any(marker in body for marker in (b"root:", b"import ", b"def ", b"[core]",
                                             b"top secret", b"\x89PNG"))


def traversal_paths(secret: dict) -> list[str]:
    cache = str(upload_folder())
    up = "../" * 12
    targets = ["/etc/passwd", str(ROOT / "app.py"), "app.py", "core/limits.py", ".git/config",
               "/proc/self/environ", str(secret["image"]), str(secret["text"]), str(secret["image2"]),
               str(secret["text2"]), str(ROOT / "assets" / ".." / "app.py")]
    paths = []
    for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
        paths += [prefix + t for t in targets]
    paths += [
        "/gradio_api/file=" + up + "etc/passwd",
        "/gradio_api/file=" + urllib.parse.quote(up + "etc/passwd", safe=""),
        "/gradio_api/file=" + urllib.parse.quote(urllib.parse.quote("/etc/passwd", safe=""), safe=""),
        "/gradio_api/file=" + "%2e%2e%2f" * 12 + "etc%2fpasswd",
        "/gradio_api/file=" + "..%5c" * 12 + "etc%5cpasswd",
        "/gradio_api/file=" + "..%c0%af" * 12 + "etc/passwd",            # overlong UTF-8 '/'
        "/gradio_api/file=" + cache + "/" + up + "etc/passwd",            # out of the cache
        "/gradio_api/file=" + cache + "/" + urllib.parse.quote(up, safe="") + "etc/passwd",
        "/gradio_api/file=" + cache + "/../impasto/results/" + secret["tag"] + "/secret.png",
        "/gradio_api/file=" + cache,                                       # listing of the cache
        "/gradio_api/file=" + str(Path(tempfile.gettempdir()) / "impasto"),
        "/gradio_api/file=file:///etc/passwd",
        "/gradio_api/file=//etc/passwd",
        "/gradio_api/proxy=file:///etc/passwd",
        "/gradio_api/stream/" + up + "etc/passwd",
        "/static/" + up + "app.py",
        "/assets/" + up + "app.py",
        "/" + up + "etc/passwd",
    ]
    return paths


def test_gradio_file_routes_refuse_everything_outside_the_cache(app_url, secrets_on_disk):
    served = []
    for path in traversal_paths(secrets_on_disk):
        status, body = raw_get(app_url, path)
        if status < 400 or _looks_leaked(body):
            served.append((path, status, body[:80]))
    assert not served, served


# ------------------------------------------------------------------ the API


def call_raw(app_url: str, api: str, data: list) -> tuple[str, object]:
    """One call of a named endpoint with hand-made JSON, as a hostile client sends it."""
    base = app_url.rstrip("/") + "/gradio_api/call" + api
    event_id = httpx.post(base, json={"data": data}, timeout=30).json()["event_id"]
    event = payload = None
    for line in httpx.get(f"{base}/{event_id}", timeout=120).text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            payload = json.loads(line.split(":", 1)[1])
    return event, payload


def _server_paths(secret: dict) -> dict[str, str]:
    return {"etc_passwd": "/etc/passwd", "app_py": str(ROOT / "app.py"), "relative_app_py": "app.py",
            "secret_image": str(secret["image"]), "secret_image_beside": str(secret["image2"]),
            "traversal": str(upload_folder() / ".." / ".." / "etc" / "passwd")}


@pytest.mark.parametrize("name", ["etc_passwd", "app_py", "relative_app_py", "secret_image",
                                  "secret_image_beside", "traversal"])
def test_a_server_path_as_an_uploaded_file_is_refused(app_url, secrets_on_disk, name):
    path = _server_paths(secrets_on_disk)[name]
    as_file = {"path": path, "meta": {"_type": "gradio.FileData"}}
    for api, data in (("/stylize", [as_file, "{}"]), ("/analyze", [as_file]),
                      ("/transfer", [as_file, None, "7", 1.0, False, 64])):
        event, payload = call_raw(app_url, api, data)
        assert event == "error", (api, payload)


@pytest.mark.parametrize("name", ["etc_passwd", "secret_image", "secret_image_beside"])
def test_a_server_path_as_a_string_or_url_is_refused(app_url, secrets_on_disk, name):
    path = _server_paths(secrets_on_disk)[name]
    file_url = app_url.rstrip("/") + "/gradio_api/file=" + path
    for value in (path, "file://" + path, file_url,
                  {"url": "file://" + path, "path": None, "meta": {"_type": "gradio.FileData"}},
                  {"url": file_url, "path": None, "meta": {"_type": "gradio.FileData"}}):
        event, payload = call_raw(app_url, "/stylize", [value, "{}"])
        assert event == "error", (value, payload)
        # "not an image" would mean the server opened the path and looked inside
        assert "not an image" not in str((payload or {}).get("error")), (value, payload)


@pytest.mark.parametrize("name", ["secret_image", "secret_image_beside"])
def test_a_server_path_without_gradio_meta_is_refused(app_url, secrets_on_disk, name):
    path = _server_paths(secrets_on_disk)[name]
    event, payload = call_raw(app_url, "/stylize", [{"path": path}, "{}"])
    assert event == "error", payload
    assert "server paths are not accepted" in payload["error"]


def test_a_style_image_path_on_the_server_is_refused(client, secrets_on_disk):
    for path in (secrets_on_disk["image"], secrets_on_disk["image2"], "/etc/passwd", "/nonexistent"):
        with pytest.raises(Exception) as info:
            client.predict("a flat picture", "hello_flat", 1, 0, f"image:{path}", 1.0, "",
                           '{"size": 16}', api_name="/generate")
        # the same answer whether the file exists or not: no oracle
        assert 'style "image" needs the style_image argument' in str(info.value)


# ------------------------------------------------------------------ outputs


def _unique_picture(tmp_path: Path) -> Path:
    path = tmp_path / "mine.png"
    noise = np.random.default_rng(secrets.randbits(32)).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    return path


def test_outputs_are_served_to_whoever_got_them(app_url, tmp_path):
    client = Client(app_url, verbose=False, download_files=False)
    images, _ = client.predict("a flat picture", "hello_flat", 1, 5, "none", 1.0, "",
                               '{"size": 16}', api_name="/generate")
    styled, _ = client.predict(handle_file(str(_unique_picture(tmp_path))),
                               '{"ops": [{"op": "hello_invert"}]}', api_name="/stylize")
    for result in (images[0]["image"], styled):
        answer = httpx.get(result["url"], timeout=30)
        assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
        # the name carries a 256-bit content hash: a URL is found only by being given it
        assert re.search(r"/[0-9a-f]{64}/", result["url"]), result["url"]
    picture = Image.open(io.BytesIO(httpx.get(styled["url"], timeout=30).content))
    assert picture.size == (64, 48)


def test_a_second_client_cannot_reach_the_first_clients_results(app_url, tmp_path, secrets_on_disk):
    first = Client(app_url, verbose=False, download_files=False)
    styled, _ = first.predict(handle_file(str(_unique_picture(tmp_path))),
                              '{"ops": [{"op": "hello_invert"}]}', api_name="/stylize")
    folder = re.search(r"/([0-9a-f]{64})/", styled["url"]).group(1)

    second = Client(app_url, verbose=False, download_files=False)
    listing = json.dumps(second.view_api(print_info=False, return_format="dict"))
    config = httpx.get(app_url.rstrip("/") + "/config", timeout=30).text
    info = httpx.get(app_url.rstrip("/") + "/gradio_api/info", timeout=30).text
    for text in (listing, config, info):
        assert folder not in text

    # guessing: the cache folder itself, a wrong hash, the app's output root
    cache = str(upload_folder())
    # a near miss: the real hash with its last digit changed (never to itself)
    near_miss = folder[:-1] + ("1" if folder[-1] == "0" else "0")
    guesses = [cache, f"{cache}/{folder}", f"{cache}/{'0' * 64}/image.png",
               f"{cache}/{near_miss}/image.png",
               str(Path(tempfile.gettempdir()) / "impasto"),
               str(Path(tempfile.gettempdir()) / "impasto" / "results"),
               str(secrets_on_disk["image"])]
    for guess in guesses:
        status, body = raw_get(app_url, "/gradio_api/file=" + urllib.parse.quote(guess))
        assert status in (403, 404), (guess, status)
        assert b"\x89PNG" not in body        # (a refusal echoes the path asked for)




def _style_examples_url(app_url: str) -> str:
    """What a click on the first example style picture gives the browser."""
    config = httpx.get(app_url + "config", timeout=30).json()
    kinds = {c["id"]: c.get("type") for c in config["components"]}
    index = next(i for i, d in enumerate(config["dependencies"])
                 if [kinds[c] for c in d["inputs"]] == ["dataset"]
                 and [kinds[c] for c in d["outputs"]] == ["file"])
    answer = httpx.post(app_url + "gradio_api/run/predict", timeout=30,
                        json={"fn_index": index, "data": [0], "session_hash": secrets.token_hex(8)})
    return answer.json()["data"][0]["value"][0]["url"]


def test_shipped_examples_are_still_served_after_the_cache_cleanup(tmp_path):
    # its own app.py and temp folder: a 2 s cleanup must not touch the shared app's files
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(tmp_path),
               IMPASTO_PLUGINS="style_transfer", IMPASTO_CACHE_TTL="2", OMP_NUM_THREADS="1")
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                assert time.time() < deadline, "app.py did not start"
                time.sleep(0.3)
        assert httpx.get(_style_examples_url(url), timeout=30).status_code == 200
        time.sleep(5)         # the cleanup runs every 2 s for files older than 2 s
        assert httpx.get(_style_examples_url(url), timeout=30).status_code == 200
    finally:
        app.terminate()
        app.wait(timeout=30)
