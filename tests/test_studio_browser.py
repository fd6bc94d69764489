"""The studio flow in a real browser (Debian's Chromium through Playwright):
type a prompt, pick a preset, generate, send the result to Stylize, add a
butterfly, download the PNG — and the PNG's own settings regenerate the same
pixels through the CLI. The result is then handed to Analyze and Transfer. It also takes the README's screenshots of every tab:
set IMPASTO_SCREENSHOT_DIR=assets/screenshots to refresh them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from core.checkpoint import has_checkpoint, weights_dir
from core.metadata import read_settings
from core.pipeline import DEFAULT_BACKEND
from tests.conftest import ROOT, free_port, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(.ci/run installs it: apt-get install chromium)")
PROMPT = "a sunset over the mountains"


def shipped_backend() -> str:
    """The default backend when its weights ship, else the first that has them."""
    for name in (DEFAULT_BACKEND, "gan", "vae"):
        if has_checkpoint(weights_dir(name)):
            return name
    pytest.skip("no generator weights in assets/")


@pytest.fixture(scope="module")
def studio():
    """``python app.py`` as a person starts it, on a free loopback port."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    import urllib.request

    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"app.py did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("IMPASTO_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True, type="jpeg", quality=70)


def panel(page):
    """The visible tab's panel (hidden tabs stay in the page)."""
    return page.locator("[role=tabpanel]:visible")


def wait_idle(page, timeout_s: float = 120) -> None:
    """Until no progress indicator is left on the page."""
    page.wait_for_timeout(500)
    page.locator(".progress-text, .eta-bar").first.wait_for(state="detached", timeout=timeout_s * 1000)


def test_prompt_preset_generate_stylize_download_reproduce(studio, tmp_path):
    backend = shipped_backend()
    shots = screenshot_dir(tmp_path)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1360, "height": 900}, accept_downloads=True)
        page.goto(studio)
        page.get_by_role("tab", name="Generate").wait_for()

        # Generate: prompt, backend, one picture, a preset style
        page.get_by_label("Prompt").fill(PROMPT)
        page.get_by_label("Backend").click()
        page.get_by_role("option", name=_backend_label(backend)).click()
        count = page.get_by_label("number input for Number of images")
        count.fill("2")
        count.press("Enter")
        panel(page).get_by_label("preset").check()
        strength = page.get_by_label("number input for Style strength")
        strength.fill("0.5")          # half way: the generated picture still shows through
        strength.press("Enter")
        page.get_by_role("button", name="Generate", exact=True).click()
        page.get_by_text("Picked:").wait_for(timeout=180_000)
        wait_idle(page)
        shoot(page, shots / "generate.jpg")

        # Send to Stylize, add a butterfly
        page.get_by_role("button", name="Send to Stylize").click()
        page.get_by_role("tab", name="Stylize", selected=True).wait_for()
        page.get_by_label("Operation").click()
        page.get_by_role("option", name="Elements › Sticker", exact=True).click()
        page.get_by_role("button", name="Add to recipe").click()
        page.get_by_text("sticker", exact=False).first.wait_for()
        download_button = page.get_by_role("button", name="PNG with settings")
        download_button.wait_for(timeout=60_000)
        wait_idle(page)
        shoot(page, shots / "stylize.jpg")
        with page.expect_download() as info:
            download_button.click()
        saved = tmp_path / "stylized.png"
        info.value.save_as(saved)

        # the same result handed to Analyze and to Transfer (and the README's screenshots)
        page.get_by_role("tab", name="Generate").click()
        page.get_by_role("button", name="Send to Analyze").click()
        page.get_by_role("tab", name="Analyze", selected=True).wait_for()
        page.get_by_role("button", name="Analyze", exact=True).click()
        page.get_by_text("Looks most like preset").wait_for(timeout=120_000)
        wait_idle(page)
        shoot(page, shots / "analyze.jpg")
        page.get_by_role("tab", name="Generate").click()
        page.get_by_role("button", name="Send to Transfer").click()
        page.get_by_role("tab", name="Transfer", selected=True).wait_for()
        panel(page).locator(".thumbnail-item").nth(19).click()
        page.get_by_role("button", name="Transfer", exact=True).click()
        page.get_by_text('"pictures": 1').wait_for(timeout=120_000)
        wait_idle(page)
        shoot(page, shots / "transfer.jpg")
        page.get_by_role("tab", name="Plugins").click()
        page.wait_for_timeout(800)
        shoot(page, shots / "plugins.jpg")
        browser.close()

    settings = read_settings(saved)
    assert settings["prompt"] == PROMPT and settings["backend"] == backend
    assert settings["style"].startswith("preset:") and settings["style_strength"] == 0.5
    assert [op["op"] for op in settings["then"][0]["ops"]] == ["sticker"]
    out = tmp_path / "again"
    done = run_cli("generate", "--from-png", str(saved), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    regenerated = sorted(out.glob("*.png"))[settings["index"]]
    downloaded = Image.open(saved)
    again = Image.open(regenerated)
    assert downloaded.size == again.size and downloaded.mode == again.mode
    assert downloaded.tobytes() == again.tobytes()


def _backend_label(name: str) -> str:
    from core.registry import load_registry

    return load_registry().generators[name].label
