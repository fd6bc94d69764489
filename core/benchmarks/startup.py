"""How fast Impasto is ready: importing core, building the registry and the app,
and a cold ``python app.py`` until its port answers."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start_seconds(timeout: float = 60.0) -> float:
    """Seconds from launching ``python app.py`` to its first HTTP answer."""
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                    return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"app.py did not answer within {timeout} s")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def bench_cold_start() -> list[dict[str, Any]]:
    times = [cold_start_seconds() for _ in range(3)]
    return [{"job": "python app.py ready to serve (cold)", "median_s": round(median(times), 2),
             "min_s": round(min(times), 2), "max_s": round(max(times), 2), "runs": len(times)}]


def bench_import_core() -> list[dict[str, Any]]:
    code = "import time; t=time.perf_counter(); import core.pipeline; print(time.perf_counter()-t)"
    times = [float(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT)) for _ in range(3)]
    return [{"job": "import core.pipeline", "median_s": round(median(times), 3), "runs": 3}]
