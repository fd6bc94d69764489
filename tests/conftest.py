"""Shared fixtures: the repo on sys.path, the example third-party plugin, a
registry holding it, and a running app on loopback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELLO_SRC = ROOT / "tests" / "plugins" / "impasto-hello"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Compiling the Transformer's drawing takes a minute or more per process (it is what
# the app and the benchmark do once warm); tests draw eagerly unless they say otherwise
# (tests/test_compiled_steps.py compiles it once and compares).
os.environ.setdefault("IMPASTO_COMPILE", "0")
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m core ARGS`` in a subprocess, as a user runs it."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def hello_module():
    """The example plugin package, imported from its source folder."""
    sys.path.insert(0, str(HELLO_SRC))
    import impasto_hello

    return impasto_hello


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory):
    """The example plugin really pip-installed into a throwaway folder; put it on
    PYTHONPATH (``hello_env``) and Impasto finds it through its entry point."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(site), str(HELLO_SRC)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return site


@pytest.fixture(scope="session")
def hello_env(hello_site):
    return {"PYTHONPATH": f"{hello_site}:{ROOT}"}


@pytest.fixture(scope="session")
def registry():
    """The real registry: built-ins from plugins/ plus installed entry points."""
    from core.registry import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def hello_registry(hello_module):
    """A registry holding the built-ins and the example plugin."""
    from core.registry import load_registry

    reg = load_registry()
    reg.add_plugin(hello_module, "hello", hello_module.__version__, "entrypoint")
    return reg


@pytest.fixture(scope="session")
def app_url(hello_registry):
    """The real Blocks app, launched on loopback for gradio_client tests."""
    import app

    demo = app.build_app(hello_registry)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, show_error=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)
