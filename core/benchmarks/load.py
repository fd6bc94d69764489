"""Load: ``python app.py`` on loopback under 16 concurrent gradio_client visitors.

    python -m core bench --only load

Starts the real app in a subprocess (built-in VAE, analysis, style transfer and
stylize plugins only; the VAE ships weights in assets/vae), then 16 clients, each
its own session, send 208 requests spread evenly over /generate (VAE, one 64 px
picture), /analyze, /transfer and /stylize (256 px photos). Reported: p50/p95
latency per endpoint, failed requests (explicit "Busy" answers counted apart),
peak resident memory of the app and its children, and the size of the app's
temp folders before, right after, and once the cache-cleanup interval has passed.

The app gets a fresh ``GRADIO_TEMP_DIR`` and ``IMPASTO_CACHE_TTL`` = 20 s, so
Gradio's ``delete_cache`` (and core.ui.files' pruning) runs within the benchmark.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 16
REQUESTS_PER_CLIENT = 13            # 16 x 13 = 208 requests
CACHE_TTL_S = 20
PLUGINS = "vae,analysis,style_transfer,stylize"
RECIPE = json.dumps({"seed": 1, "ops": [{"op": "rotate", "params": {"angle": 10}},
                                        {"op": "vignette"}, {"op": "film_grain"}]})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_ready(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"app.py did not answer within {timeout} s")


def folder_bytes(folders: list[Path]) -> tuple[int, int]:
    """(bytes, files) under the given folders; files vanishing mid-walk are skipped."""
    total = count = 0
    for folder in folders:
        for dirpath, _, filenames in os.walk(folder):
            for name in filenames:
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_size
                    count += 1
                except OSError:
                    pass
    return total, count


class PeakMemory(threading.Thread):
    """Samples the resident memory of a process and all its children."""

    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.every_s = every_s
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            self.stop.wait(self.every_s)


def _inputs(folder: Path) -> dict[str, Path]:
    from PIL import Image
    from skimage import data

    photos = {"content": data.astronaut(), "other": data.coffee()}
    paths = {}
    for name, pixels in photos.items():
        path = folder / f"{name}.png"
        Image.fromarray(pixels).resize((256, 256)).save(path)
        paths[name] = path
    return paths


def _requests(inputs: dict[str, Path]) -> dict[str, Callable[[Any, int], Any]]:
    """One call per endpoint, as a visitor makes it (fresh upload each time)."""
    from gradio_client import handle_file

    def generate(client: Any, i: int) -> Any:
        return client.predict(f"a red circle on a blue background {i}", "vae", 1, i, "none", 1.0,
                              "", '{"size": 64}', api_name="/generate")

    def analyze(client: Any, i: int) -> Any:
        return client.predict(handle_file(str(inputs["other"])), api_name="/analyze")

    def transfer(client: Any, i: int) -> Any:
        return client.predict(handle_file(str(inputs["content"])), None, str(i % 26), 1.0, False,
                              256, api_name="/transfer")

    def stylize(client: Any, i: int) -> Any:
        return client.predict(handle_file(str(inputs["content"])), RECIPE, api_name="/stylize")

    return {"/generate": generate, "/analyze": analyze, "/transfer": transfer, "/stylize": stylize}


def _visitor(url: str, number: int, calls: dict[str, Callable], downloads: Path,
             results: list[tuple[str, float, str]], lock: threading.Lock) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=str(downloads / str(number)))
    endpoints = list(calls)
    for i in range(REQUESTS_PER_CLIENT):
        endpoint = endpoints[(number + i) % len(endpoints)]   # every endpoint busy at once
        start = time.perf_counter()
        try:
            calls[endpoint](client, number * 100 + i)
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
            outcome = f"{type(exc).__name__}: {str(exc)[:160]}"
        with lock:
            results.append((endpoint, time.perf_counter() - start, outcome))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_load() -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    gradio_tmp = work / "gradio"        # the app's GRADIO_TEMP_DIR, fresh
    gradio_tmp.mkdir()
    downloads = work / "client-downloads"
    # the app's own temp folder, and <tempdir>/impasto* (shared with any other
    # Impasto on this machine, so reported apart)
    shared = lambda: sorted(Path(tempfile.gettempdir()).glob("impasto*"))  # noqa: E731
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(gradio_tmp),
               IMPASTO_PLUGINS=PLUGINS, IMPASTO_CACHE_TTL=str(CACHE_TTL_S), OMP_NUM_THREADS="1")
    log = open(work / "app.log", "wb")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    rows: list[dict[str, Any]] = []
    try:
        ready_s = _wait_until_ready(url, proc)
        memory = PeakMemory(proc.pid)
        memory.start()
        before_bytes, before_files = folder_bytes([gradio_tmp])
        shared_before = folder_bytes(shared())[0]
        calls = _requests(_inputs(work))
        results: list[tuple[str, float, str]] = []
        lock = threading.Lock()
        started = time.perf_counter()
        visitors = [threading.Thread(target=_visitor, args=(url, n, calls, downloads, results, lock))
                    for n in range(CLIENTS)]
        for visitor in visitors:
            visitor.start()
        for visitor in visitors:
            visitor.join()
        wall = time.perf_counter() - started
        after_bytes, after_files = folder_bytes([gradio_tmp])
        shared_after = folder_bytes(shared())[0]
        # Gradio checks every TTL seconds for files older than TTL: at most 2 x TTL.
        deadline = time.perf_counter() + 3 * CACHE_TTL_S + 10
        cleaned_bytes, cleaned_files = after_bytes, after_files
        while time.perf_counter() < deadline and cleaned_bytes > before_bytes:
            time.sleep(2)
            cleaned_bytes, cleaned_files = folder_bytes([gradio_tmp])
        shared_cleaned = folder_bytes(shared())[0]
        cleaned_after_s = time.perf_counter() - started - wall
        memory.stop.set()
        memory.join()

        by_endpoint: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for endpoint, seconds, outcome in results:
            by_endpoint[endpoint].append((seconds, outcome))
        for endpoint, items in sorted(by_endpoint.items()):
            ok = [s for s, o in items if o == "ok"]
            busy = [o for _, o in items if o != "ok" and "Busy" in o]
            failed = [o for _, o in items if o != "ok" and "Busy" not in o]
            rows.append({"job": f"load {endpoint}", "requests": len(items), "ok": len(ok),
                         "busy": len(busy), "failed": len(failed),
                         "p50_s": round(median(ok), 3) if ok else None,
                         "p95_s": round(_percentile(ok, 0.95), 3) if ok else None,
                         "first_failure": failed[0] if failed else None})
        rows.append({
            "job": f"load: {CLIENTS} clients, {len(results)} requests",
            "wall_s": round(wall, 1), "requests_per_s": round(len(results) / wall, 2),
            "failed": sum(r["failed"] for r in rows), "busy": sum(r["busy"] for r in rows),
            "app_ready_s": round(ready_s, 1),
            "peak_rss_mb": round(memory.peak / 2**20, 1),
            "temp_before_kb": round(before_bytes / 1024, 1), "temp_before_files": before_files,
            "temp_after_kb": round(after_bytes / 1024, 1), "temp_after_files": after_files,
            "temp_cleaned_kb": round(cleaned_bytes / 1024, 1), "temp_cleaned_files": cleaned_files,
            "cleaned_within_s": round(cleaned_after_s, 1), "cache_ttl_s": CACHE_TTL_S,
            "shared_tmp_impasto_kb": [round(b / 1024, 1) for b in (shared_before, shared_after,
                                                                   shared_cleaned)],
        })
        if rows[-1]["failed"]:
            log.flush()
            rows[-1]["app_log_tail"] = (work / "app.log").read_text(errors="replace")[-2000:]
        return rows
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)
